package results

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Kinds of a Difference between two sweeps.
const (
	// KindWorkload differences make the numbers incomparable: what was
	// copied, how, into which servers. compare refuses them unless forced.
	KindWorkload = "workload"
	// KindMachine differences are what a comparison across machines is
	// for; they are listed, never refused.
	KindMachine = "machine"
)

// Difference is one setting or property of the machine in which two
// sweeps differ.
type Difference struct {
	Kind     string `json:"kind"`
	Field    string `json:"field"` // the JSON path in sweep.json, e.g. settings.image_bytes
	Old, New string // "(not recorded)" when one sweep predates the field
}

// notRecorded stands for a field one sweep does not have.
const notRecorded = "(not recorded)"

// Refused reports whether d makes a comparison meaningless: a workload
// field both sweeps recorded, with different values.
func (d Difference) Refused() bool {
	return d.Kind == KindWorkload && d.Old != notRecorded && d.New != notRecorded
}

// Settings that describe how a sweep was run rather than what it measured
// (which window counts, how often, where): they may differ freely.
var procedural = map[string]bool{
	"args": true, "windows": true, "count": true, "servers": true, "policies": true,
	"image": true, "tolerance": true, "work_dir": true, "interval_sec": true,
	"fail_fast": true, "count_auto": true, "max_count": true, "stopped": true,
	"generated": true,
	// The regime restates the image size against thresholds read from the
	// machine (available memory moves): the size itself is compared.
	"regime": true,
}

// Machine properties that identify a run rather than the machine.
var incidental = map[string]bool{"disk.dir": true, "commit": true, "go_version": true, "tools.go": true}

// Differences lists every workload and machine difference between two
// sweeps, workload first, each sorted by field. Every setting that is not
// procedural counts as workload, so settings added later (a device
// profile, a memory budget) are checked without being named here; so do
// the versions of the servers and the client a sweep ran.
func Differences(old, new *Sweep) []Difference {
	var out []Difference
	a, b := sweepFields(old), sweepFields(new)
	for _, k := range union(a, b) {
		kind, ok := fieldKind(k)
		if !ok {
			continue
		}
		va, oka := a[k]
		vb, okb := b[k]
		if !oka {
			va = notRecorded
		}
		if !okb {
			vb = notRecorded
		}
		if va != vb {
			out = append(out, Difference{Kind: kind, Field: k, Old: va, New: vb})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Kind > out[j].Kind }) // workload before machine
	return out
}

// sweepFields flattens a sweep's settings and environment to dotted JSON
// paths ("settings.image_bytes", "env.disk.model"), keeping of the tools
// only those the sweep ran: its servers and its client.
func sweepFields(s *Sweep) map[string]string {
	out := prefix(flatten(s.Settings), "settings.")
	ran := map[string]bool{s.Settings.Client: true}
	for _, srv := range s.Settings.Servers {
		ran[srv] = true
	}
	ran["qemu-nbd"] = ran[string(Qemu)] // the tool's name
	if s.Scenario != "" {
		out["settings.scenario"] = s.Scenario // the device and filesystem: workload
	}
	for k, v := range flatten(s.Env) {
		if tool, ok := strings.CutPrefix(k, "tools."); ok && !ran[tool] {
			continue
		}
		out["env."+k] = v
	}
	return out
}

// fieldKind classifies a field of sweepFields; false for fields that may
// differ freely.
func fieldKind(k string) (string, bool) {
	if rest, ok := strings.CutPrefix(k, "settings."); ok {
		return KindWorkload, !procedural[strings.SplitN(rest, ".", 2)[0]]
	}
	rest := strings.TrimPrefix(k, "env.")
	switch {
	case incidental[rest]:
		return "", false
	case strings.HasPrefix(rest, "tools."):
		return KindWorkload, true
	}
	return KindMachine, true
}

// flatten maps every leaf of v's JSON form to its dotted path.
func flatten(v any) map[string]string {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		return nil
	}
	out := map[string]string{}
	var walk func(path string, t any)
	walk = func(path string, t any) {
		switch t := t.(type) {
		case map[string]any:
			for k, v := range t {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, v)
			}
		case nil:
		default:
			b, _ := json.Marshal(t)
			out[path] = strings.Trim(string(b), `"`)
		}
	}
	walk("", tree)
	return out
}

func prefix(m map[string]string, p string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[p+k] = v
	}
	return out
}

func union(a, b map[string]string) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range []map[string]string{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// WorkloadError is returned by CheckWorkload when two sweeps did not
// measure the same workload.
type WorkloadError struct{ Diffs []Difference }

func (e *WorkloadError) Error() string {
	var parts []string
	for _, d := range e.Diffs {
		parts = append(parts, fmt.Sprintf("%s %s vs %s", d.Field, d.Old, d.New))
	}
	return "the sweeps measured different workloads: " + strings.Join(parts, "; ")
}

// CheckWorkload returns a *WorkloadError naming every refused difference
// of diffs, or nil.
func CheckWorkload(diffs []Difference) error {
	var bad []Difference
	for _, d := range diffs {
		if d.Refused() {
			bad = append(bad, d)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &WorkloadError{Diffs: bad}
}
