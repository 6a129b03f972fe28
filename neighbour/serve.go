package neighbour

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/aclements/go-moremath/stats"
	"golang.org/x/sys/unix"

	"github.com/pagecache-suite/wcache/pagecache"
)

// Command returns the command that runs a neighbour in a child process:
// "exe neighbour SPEC FILE". The program exe must hand the arguments after
// "neighbour" to Main.
func Command(ctx context.Context, exe string, spec Spec, file string) *exec.Cmd {
	return exec.CommandContext(ctx, exe, "neighbour", spec.String(), file)
}

// Main is the child's entry point: args are SPEC and FILE, control lines
// come from in and messages go to out.
func Main(ctx context.Context, args []string, in io.Reader, out io.Writer) error {
	if len(args) != 2 {
		return fmt.Errorf("neighbour: want SPEC FILE, got %q", args)
	}
	spec, err := ParseSpec(args[0])
	if err != nil {
		return err
	}
	return Serve(ctx, spec, args[1], in, out)
}

// Serve runs the neighbour in this process: it reads file (which must hold
// at least spec.Size bytes) whole, reports a WarmUp, then obeys the
// commands of in: "start NAME" starts a phase of reads, "stop" ends it and
// reports its Phase. At the end of in (or when ctx is done) it ends a
// running phase, reports Final and returns. Any error is also reported as
// a Message before Serve returns it.
func Serve(ctx context.Context, spec Spec, file string, in io.Reader, out io.Writer) error {
	enc := json.NewEncoder(out)
	err := serve(ctx, spec, file, in, enc)
	if err != nil {
		enc.Encode(Message{Error: err.Error()})
	}
	return err
}

type command struct {
	verb, arg string
	eof       bool
}

func serve(ctx context.Context, spec Spec, file string, in io.Reader, enc *json.Encoder) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("neighbour: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return fmt.Errorf("neighbour: %w", err)
	} else if fi.Size() < spec.Size {
		return fmt.Errorf("neighbour: %s holds %d bytes, spec %s wants %d", file, fi.Size(), spec, spec.Size)
	}
	w, err := warm(f, spec.Size)
	if err != nil {
		return err
	}
	if err := enc.Encode(Message{Warm: &w}); err != nil {
		return err
	}

	cmds := make(chan command)
	go readCommands(in, cmds)
	r := &reader{fd: int(f.Fd()), blocks: spec.Size / BlockSize, spec: spec}
	var next command // the command that ended a phase, when it was the end of input
	for {
		c := next
		if !c.eof {
			select {
			case c = <-cmds:
			case <-ctx.Done():
				c.eof = true
			}
		}
		switch {
		case c.eof:
			st, err := pagecache.StatFile(f, pagecache.Range{Length: spec.Size})
			if err != nil {
				return fmt.Errorf("neighbour: %w", err)
			}
			return enc.Encode(Message{Final: &Final{Cached: st}})
		case c.verb == "start" && c.arg != "":
			var p Phase
			if p, next, err = r.phase(ctx, c.arg, cmds); err != nil {
				return err
			}
			if err := enc.Encode(Message{Phase: &p}); err != nil {
				return err
			}
		default:
			return fmt.Errorf("neighbour: unexpected command %q", strings.TrimSpace(c.verb+" "+c.arg))
		}
	}
}

// readCommands sends each line of in as a command, then one with eof set.
func readCommands(in io.Reader, cmds chan<- command) {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		verb, arg, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		cmds <- command{verb: verb, arg: arg}
	}
	cmds <- command{eof: true}
}

// warm reads the first size bytes of f whole, in order.
func warm(f *os.File, size int64) (WarmUp, error) {
	buf := make([]byte, 1<<20)
	t0 := time.Now()
	var off int64
	for off < size {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		off += int64(n)
		if err != nil {
			return WarmUp{}, fmt.Errorf("neighbour: warm-up read of %s: %w", f.Name(), err)
		}
	}
	el := time.Since(t0)
	st, err := pagecache.StatFile(f, pagecache.Range{Length: size})
	if err != nil {
		return WarmUp{}, fmt.Errorf("neighbour: %w", err)
	}
	return WarmUp{Bytes: off, Elapsed: el, Cached: st}, nil
}

// MaxSamples bounds the latencies a phase keeps (see the package comment).
const MaxSamples = 1 << 18

type reader struct {
	fd     int
	blocks int64
	spec   Spec
	buf    [BlockSize]byte
	rec    recorder
}

// phase reads until a command arrives on cmds (which must be "stop" or the
// end of input) or ctx is done, and returns the phase's report and that
// command.
func (r *reader) phase(ctx context.Context, name string, cmds <-chan command) (Phase, command, error) {
	r.rec.reset()
	var ru0, ru1 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru0)
	t0 := time.Now()
	var c command
	var err error
	if r.spec.Kind == Hot {
		c, err = r.hot(ctx, cmds)
	} else {
		c, err = r.paced(ctx, t0, cmds)
	}
	el := time.Since(t0)
	unix.Getrusage(unix.RUSAGE_SELF, &ru1)
	if err != nil {
		return Phase{}, c, err
	}
	if !c.eof && c.verb != "stop" {
		return Phase{}, c, fmt.Errorf("neighbour: command %q during phase %s, want stop", c.verb, name)
	}
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	p := r.rec.summary()
	p.Name, p.Elapsed, p.CPU = name, el, cpu
	p.Rate = float64(p.Reads) / el.Seconds()
	p.Overhead = (cpu - p.Read).Seconds() / el.Seconds()
	return p, c, nil
}

func (r *reader) read() error {
	off := rand.Int64N(r.blocks) * BlockSize
	t := time.Now()
	_, err := unix.Pread(r.fd, r.buf[:], off)
	d := time.Since(t)
	if err != nil {
		return fmt.Errorf("neighbour: pread at %d: %w", off, err)
	}
	r.rec.add(d)
	return nil
}

func (r *reader) hot(ctx context.Context, cmds <-chan command) (command, error) {
	for {
		select {
		case c := <-cmds:
			return c, nil
		case <-ctx.Done():
			return command{eof: true}, nil
		default:
		}
		if err := r.read(); err != nil {
			return command{}, err
		}
	}
}

// paced makes read k at t0 + k*period.
func (r *reader) paced(ctx context.Context, t0 time.Time, cmds <-chan command) (command, error) {
	period := time.Second / time.Duration(r.spec.Rate)
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for k := int64(0); ; k++ {
		due := t0.Add(time.Duration(k) * period)
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case c := <-cmds:
				return c, nil
			case <-ctx.Done():
				return command{eof: true}, nil
			}
		} else {
			select {
			case c := <-cmds:
				return c, nil
			case <-ctx.Done():
				return command{eof: true}, nil
			default:
			}
			if late := -wait; late > period {
				skip := int64(late / period)
				r.rec.missed += skip
				k += skip
			}
		}
		if err := r.read(); err != nil {
			return command{}, err
		}
	}
}

// recorder keeps a phase's latencies: all of them up to MaxSamples, a
// uniform reservoir beyond; count, sum and max exactly.
type recorder struct {
	xs     []float64 // nanoseconds
	n      int64
	sum    time.Duration
	max    time.Duration
	missed int64
}

func (r *recorder) reset() {
	*r = recorder{xs: r.xs[:0]}
}

func (r *recorder) add(d time.Duration) {
	r.n++
	r.sum += d
	r.max = max(r.max, d)
	if len(r.xs) < MaxSamples {
		r.xs = append(r.xs, float64(d))
	} else if i := rand.Int64N(r.n); i < MaxSamples {
		r.xs[i] = float64(d)
	}
}

func (r *recorder) summary() Phase {
	p := Phase{Reads: r.n, Missed: r.missed, Read: r.sum, Max: r.max}
	if r.n == 0 {
		return p
	}
	s := (&stats.Sample{Xs: r.xs}).Sort()
	p.P50 = time.Duration(s.Quantile(0.5))
	p.P99 = time.Duration(s.Quantile(0.99))
	p.Mean = r.sum / time.Duration(r.n)
	return p
}
