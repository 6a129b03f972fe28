package sweep

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pagecache-suite/wcache/cgroup"
	"github.com/pagecache-suite/wcache/neighbour"
	"github.com/pagecache-suite/wcache/results"
)

// NeighbourCommand is the hidden subcommand of Options.Exe (wbench) that
// runs a neighbour: it hands its arguments to neighbour.Main.
const NeighbourCommand = "neighbour"

// Bounds of a neighbour's idle stretch, which is as long as the copy is
// expected to take (see budget.idleFor).
const (
	minIdle     = 1 * time.Second
	maxIdle     = 30 * time.Second
	defaultIdle = 3 * time.Second
)

// budget is one run's memory cgroup and the neighbour in it.
type budget struct {
	group *cgroup.Group
	nb    *neighbour.Client
	cmd   *exec.Cmd
	errs  *strings.Builder
	spec  neighbour.Spec
	idle  neighbour.Phase
	file  string
}

// startBudget makes the run's memory cgroup and, with a neighbour, starts
// it inside, waits until it has read its file whole and times its reads
// over an idle stretch of length idle. Close removes it all.
func startBudget(ctx context.Context, o *Options, file string, idle time.Duration) (*budget, error) {
	g, err := cgroup.New(o.MemoryLimit)
	if err != nil {
		return nil, fmt.Errorf("memory budget: %w", err)
	}
	b := &budget{group: g, file: file}
	if o.neighbour == nil {
		return b, nil
	}
	b.spec = *o.neighbour
	b.cmd = neighbour.Command(ctx, o.Exe, b.spec, file)
	b.errs = &strings.Builder{}
	b.cmd.Stderr = b.errs
	b.cmd.SysProcAttr = childAttr()
	if b.nb, err = neighbour.NewClient(b.cmd); err != nil {
		return nil, errors.Join(fmt.Errorf("neighbour: %w", err), g.Remove())
	}
	if err := g.Start(b.cmd); err != nil {
		return nil, errors.Join(fmt.Errorf("neighbour: %w", err), g.Remove())
	}
	fail := func(err error) (*budget, error) {
		return nil, errors.Join(fmt.Errorf("neighbour: %w: %s", err, strings.TrimSpace(b.errs.String())), b.Close())
	}
	if _, err := b.nb.Warm(); err != nil {
		return fail(err)
	}
	if err := b.nb.Start("idle"); err != nil {
		return fail(err)
	}
	select {
	case <-time.After(idle):
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	if b.idle, err = b.nb.Stop(); err != nil {
		return fail(err)
	}
	return b, nil
}

// start starts a server command inside the group.
func (b *budget) start(cmd *exec.Cmd) error { return b.group.Start(cmd) }

// copyStarts starts the neighbour's phase of reads during the copy.
func (b *budget) copyStarts() error {
	if b.nb == nil {
		return nil
	}
	return b.nb.Start("copy")
}

// finish ends the copy phase and the neighbour, once the copy is durable
// and the server has exited, and reads the group's counters.
func (b *budget) finish() (*results.Budget, error) {
	r := &results.Budget{}
	if b.nb != nil {
		cp, err := b.nb.Stop()
		if err != nil {
			return nil, fmt.Errorf("neighbour: %w: %s", err, strings.TrimSpace(b.errs.String()))
		}
		fin, err := b.nb.Close()
		b.nb = nil
		if err != nil {
			return nil, fmt.Errorf("neighbour: %w: %s", err, strings.TrimSpace(b.errs.String()))
		}
		n := &results.Neighbour{Spec: b.spec.String(), Idle: phase(b.idle), Copy: phase(cp), Overhead: cp.Overhead}
		if fin.Cached.Pages > 0 {
			n.Cached = float64(fin.Cached.Resident) / float64(fin.Cached.Pages)
		}
		r.Neighbour = n
	}
	st, err := b.group.Stats()
	if err != nil {
		return nil, fmt.Errorf("memory budget: %w", err)
	}
	r.Limit, r.LimitHits = st.Limit, st.LimitHits
	if st.Peak != nil {
		r.Peak = *st.Peak
	}
	if st.OOMKills != nil {
		r.OOMKills = *st.OOMKills
	}
	r.Scanned, r.Stolen, r.Refaults = st.PgScan, st.PgSteal, st.WorkingsetRefaultFile
	return r, nil
}

// Close ends the neighbour if it still runs and removes the group (which
// kills whatever is left in it).
func (b *budget) Close() error {
	var err error
	if b.nb != nil {
		_, err = b.nb.Close()
		b.nb = nil
	}
	return errors.Join(err, b.group.Remove())
}

func phase(p neighbour.Phase) results.NeighbourPhase {
	return results.NeighbourPhase{
		Sec: p.Elapsed.Seconds(), Reads: p.Reads, Rate: p.Rate, Missed: p.Missed,
		P50: p.P50.Seconds(), P99: p.P99.Seconds(), Max: p.Max.Seconds(),
	}
}

// prepareNeighbour writes the neighbour's file in dir once per scenario.
func prepareNeighbour(dir string, spec neighbour.Spec) (string, error) {
	path := filepath.Join(dir, "neighbour.dat")
	if _, err := neighbour.Prepare(path, spec.Size); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("neighbour file: %w", err)
	}
	return path, nil
}
