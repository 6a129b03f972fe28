package cli

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"
)

// maxPoll bounds how long a --watch waits between looks for a file that
// does not exist yet, so that a long INTERVAL does not delay the first
// sample of a file being created.
const maxPoll = 100 * time.Millisecond

// runWatch samples every r.watch on a fixed schedule from the first
// sample, for r.count samples, for r.forDur, or until ctx ends. Missing
// operands are waited for first. The status is 1 if any sample had a file
// that could not be measured.
func (r *runner) runWatch(ctx context.Context) int {
	start := r.now()
	deadline := time.Time{}
	if r.forDur > 0 {
		deadline = start.Add(r.forDur)
	}
	if err := r.waitForFiles(ctx, deadline); err != nil {
		io.WriteString(r.stderr, "cachestats: "+err.Error()+"\n")
		return 1
	}
	status := 0
	first := r.now()
	for i := 1; ; i++ {
		status = max(status, r.sample(true))
		if r.count > 0 && i >= r.count {
			return status
		}
		next := first.Add(time.Duration(i) * r.watch)
		if !deadline.IsZero() && next.After(deadline) {
			return status
		}
		if r.sleep(ctx, next.Sub(r.now())) != nil {
			return status
		}
	}
}

// waitForFiles returns once every operand exists, saying once on stderr
// which ones it waits for. It gives up at deadline (if set) or when ctx
// ends.
func (r *runner) waitForFiles(ctx context.Context, deadline time.Time) error {
	told := map[string]bool{}
	for {
		missing := ""
		for _, p := range r.paths {
			if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
				missing = p
				if !told[p] {
					io.WriteString(r.stderr, "cachestats: "+quoteName(p)+": waiting for it to appear\n")
					told[p] = true
				}
				break
			}
		}
		if missing == "" {
			return nil
		}
		if !deadline.IsZero() && !r.now().Before(deadline) {
			return errors.New(quoteName(missing) + ": did not appear within " + r.forDur.String())
		}
		if err := r.sleep(ctx, min(r.watch, maxPoll)); err != nil {
			return errors.New(quoteName(missing) + ": " + err.Error() + " while waiting for it to appear")
		}
	}
}
