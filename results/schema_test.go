package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// schemaNode is the subset of JSON Schema that schema/sweep.schema.json
// uses.
type schemaNode struct {
	Type       any                    `json:"type"` // a name or a list of names
	Properties map[string]*schemaNode `json:"properties"`
	Required   []string               `json:"required"`
	Items      *schemaNode            `json:"items"`
	Enum       []any                  `json:"enum"`
	Minimum    *float64               `json:"minimum"`
	MinItems   *int                   `json:"minItems"`
	// AdditionalProperties is the schema of a map's values.
	AdditionalProperties *schemaNode `json:"additionalProperties"`
}

func loadSchema(t *testing.T) *schemaNode {
	t.Helper()
	b, err := os.ReadFile("schema/sweep.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var n schemaNode
	if err := json.Unmarshal(b, &n); err != nil {
		t.Fatal(err)
	}
	return &n
}

// validate checks v (decoded JSON) against n and returns every violation.
// strict also reports object keys the schema does not describe, so that a
// field added to the Go types without documenting it fails the test.
func validate(n *schemaNode, v any, path string, strict bool) []string {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, a...)) }
	var types []string
	switch t := n.Type.(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			types = append(types, x.(string))
		}
	}
	if len(types) > 0 && !slices.ContainsFunc(types, func(t string) bool { return hasType(v, t) }) {
		bad("%T is not %v", v, types)
		return errs
	}
	if len(n.Enum) > 0 && !slices.Contains(n.Enum, v) {
		bad("%v not in %v", v, n.Enum)
	}
	if f, ok := v.(float64); ok && n.Minimum != nil && f < *n.Minimum {
		bad("%v below the minimum %v", f, *n.Minimum)
	}
	switch v := v.(type) {
	case map[string]any:
		for _, k := range n.Required {
			if _, ok := v[k]; !ok {
				bad("lacks %q", k)
			}
		}
		for k, x := range v {
			switch p := n.Properties[k]; {
			case p != nil:
				errs = append(errs, validate(p, x, path+"."+k, strict)...)
			case n.AdditionalProperties != nil:
				errs = append(errs, validate(n.AdditionalProperties, x, path+"."+k, strict)...)
			case strict:
				bad("%q is not in the schema", k)
			}
		}
	case []any:
		if n.MinItems != nil && len(v) < *n.MinItems {
			bad("%d items, want at least %d", len(v), *n.MinItems)
		}
		if n.Items != nil {
			for i, x := range v {
				errs = append(errs, validate(n.Items, x, fmt.Sprintf("%s[%d]", path, i), strict)...)
			}
		}
	}
	return errs
}

func hasType(v any, t string) bool {
	switch v := v.(type) {
	case nil:
		return t == "null"
	case bool:
		return t == "boolean"
	case string:
		return t == "string"
	case float64:
		return t == "number" || t == "integer" && v == math.Trunc(v)
	case []any:
		return t == "array"
	case map[string]any:
		return t == "object"
	}
	return false
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSchemaValidatesSweepJSON validates a freshly written sweep.json, with
// every field the Go types have set, against schema/sweep.schema.json
// strictly (no undocumented field), then the lines of samples.jsonl, then
// the sweeps stored under runs/ (written before the schema).
func TestSchemaValidatesSweepJSON(t *testing.T) {
	schema := loadSchema(t)
	s := fixtureSweep()
	s.Warnings = []string{"a warning"}
	s.Settings.InFlight, s.Settings.Pattern, s.Settings.ImageSHA256, s.Settings.Generated = 16, "random", "ab12", true
	s.Settings.WorkDir, s.Settings.IntervalSec, s.Settings.FailFast = "/var/tmp/wbench", 0.05, true
	s.Settings.CountAuto, s.Settings.MaxCount, s.Settings.Stopped = true, 20, "converged"
	s.Env.Disk.Model = "disk"
	s.Samples[0].LatP50, s.Samples[0].LatP99, s.Samples[0].LatMax = 0.001, 0.002, 0.003
	s.Samples = append(s.Samples, Sample{Config: s.Configs[0].Name, Rep: 6, Seq: 99, Error: "nbdcopy: exit status 1"})
	dir := t.TempDir()
	if err := Save(dir, s); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	doc := decode(t, b)
	if v := doc.(map[string]any)["schema_version"]; v != float64(SchemaVersion) {
		t.Errorf("schema_version %v, want %d", v, SchemaVersion)
	}
	for _, e := range validate(schema, doc, "sweep", true) {
		t.Error(e)
	}

	// The partial form: the head, then samples.jsonl line by line.
	part := filepath.Join(t.TempDir(), "part")
	st, err := CreateStore(part, &Sweep{Version: FormatVersion, Env: s.Env, Settings: s.Settings, Configs: s.Configs})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range s.Samples[:3] {
		if err := st.Append(x); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	if b, err = os.ReadFile(filepath.Join(part, JSONFile)); err != nil {
		t.Fatal(err)
	}
	for _, e := range validate(schema, decode(t, b), "partial", true) {
		t.Error(e)
	}
	f, err := os.Open(filepath.Join(part, SamplesFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for i := 0; sc.Scan(); i++ {
		for _, e := range validate(schema.Properties["samples"].Items, decode(t, sc.Bytes()), fmt.Sprintf("line %d", i+1), true) {
			t.Error(e)
		}
	}

	stored, _ := filepath.Glob("../runs/*/" + JSONFile)
	for _, p := range stored {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range validate(schema, decode(t, b), p, false) {
			t.Error(e)
		}
	}
}

// TestSchemaValidatorRejects: the validator sees wrong types, missing
// fields, values out of their enum and undocumented fields.
func TestSchemaValidatorRejects(t *testing.T) {
	schema := loadSchema(t)
	var b bytes.Buffer
	s := fixtureSweep()
	if err := json.NewEncoder(&b).Encode(s); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(map[string]any){
		"type":         func(m map[string]any) { m["version"] = "1" },
		"required":     func(m map[string]any) { delete(m, "configs") },
		"enum":         func(m map[string]any) { m["settings"].(map[string]any)["client"] = "curl" },
		"minimum":      func(m map[string]any) { m["samples"].([]any)[0].(map[string]any)["rep"] = -1.0 },
		"undocumented": func(m map[string]any) { m["env"].(map[string]any)["gpu"] = "x" },
	} {
		doc := decode(t, b.Bytes()).(map[string]any)
		edit(doc)
		if errs := validate(schema, doc, "sweep", true); len(errs) == 0 {
			t.Errorf("%s: no violation found", name)
		}
	}
}
