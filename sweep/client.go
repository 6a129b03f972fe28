package sweep

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pagecache-suite/wcache/libnbd"
)

// Clients.
const (
	ClientNbdcopy = "nbdcopy"
	ClientLibnbd  = "libnbd"
)

// copyResult is what one client run measured.
type copyResult struct {
	durable time.Duration // start to flush returned
	bytes   int64         // data bytes written, when the client knows; else 0
	latP50  time.Duration
	latP99  time.Duration
	latMax  time.Duration
}

// runNbdcopy copies src into the server with `nbdcopy --flush`, timed from
// start to exit: nbdcopy exits after the server answered the FLUSH, so the
// time includes making the data durable.
func runNbdcopy(ctx context.Context, o *Options, src, uri string) (copyResult, error) {
	args := []string{"--flush"}
	if o.RequestSize > 0 {
		args = append(args, "--request-size="+strconv.Itoa(o.RequestSize))
	}
	if o.InFlight > 0 {
		args = append(args, "--requests="+strconv.Itoa(o.InFlight))
	}
	args = append(args, src, uri)
	cmd := exec.CommandContext(ctx, "nbdcopy", args...)
	var errs strings.Builder
	cmd.Stderr = &errs
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	if err != nil && ctx.Err() != nil {
		return copyResult{}, fmt.Errorf("nbdcopy stopped: %w", ctx.Err())
	}
	if err != nil {
		return copyResult{}, fmt.Errorf("nbdcopy %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errs.String()))
	}
	return copyResult{durable: d}, nil
}

// runLibnbd writes src into the server through the cgo libnbd binding with
// o.InFlight requests of o.RequestSize in flight, sequential or random,
// sending all-zero requests as WRITE_ZEROES like nbdcopy, then flushes.
// It records every request's latency.
func runLibnbd(o *Options, src, uri string) (copyResult, error) {
	f, err := os.Open(src)
	if err != nil {
		return copyResult{}, fmt.Errorf("libnbd client: %w", err)
	}
	defer f.Close()
	h, err := libnbd.Create()
	if err != nil {
		return copyResult{}, fmt.Errorf("libnbd client: %w", err)
	}
	defer h.Close()
	if err := h.ConnectUri(uri); err != nil {
		return copyResult{}, fmt.Errorf("libnbd client: connect %s: %w", uri, err)
	}
	res, err := libnbd.WriteStream(h, f, libnbd.StreamConfig{
		RequestSize:  uint(o.RequestSize),
		InFlight:     uint(o.InFlight),
		Random:       o.Pattern == PatternRandom,
		Seed:         1,
		ZeroRequests: true,
	})
	if err != nil {
		return copyResult{}, fmt.Errorf("libnbd client: %w", err)
	}
	h.Shutdown(nil)
	r := copyResult{durable: res.Elapsed, bytes: int64(res.Bytes)}
	lat := slices.Clone(res.Latencies)
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		r.latP50 = lat[n/2]
		r.latP99 = lat[min(n-1, n*99/100)]
		r.latMax = lat[n-1]
	}
	return r, nil
}
