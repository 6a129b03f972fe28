package nbdserve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// Config is how a Server presents its one export.
type Config struct {
	// ExportName is the export's canonical name. Clients may ask for it or
	// for "" (the default export); other names are refused unless
	// AnyExportName.
	ExportName string
	// AnyExportName serves the export whatever name a client asks for,
	// as nbdkit's file plugin does.
	AnyExportName bool
	// Description is sent to clients that ask (NBD_INFO_DESCRIPTION, LIST).
	Description string
	// ReadOnly advertises NBD_FLAG_READ_ONLY and refuses writes with EPERM
	// even when the backend could write.
	ReadOnly bool
	// MaxPayload is the largest READ or WRITE accepted (advertised as the
	// maximum block size). 0 means DefaultMaxPayload.
	MaxPayload uint32
	// Workers is the number of requests served at once per connection.
	// 0 means DefaultWorkers.
	Workers int
	// MaxInFlight caps the bytes of READ and WRITE payloads held at once
	// per connection; the receiver stops reading requests while it is
	// reached. 0 means DefaultMaxInFlight; it is raised to MaxPayload if
	// smaller.
	MaxInFlight int64
	// MaxPayloadMemory caps the bytes of READ and WRITE payloads held at
	// once by the whole server, across connections (counted in the
	// power-of-two buffer sizes that hold them). A receiver stops reading
	// requests while it is reached, so clients that do not read their
	// replies are slowed down, not the server's memory blown up. 0 means
	// DefaultMaxPayloadMemory(); it is raised to MaxPayload's buffer size
	// if smaller.
	MaxPayloadMemory int64
	// MaxConnections caps the connections served at once; one more is
	// accepted and closed at once, so its client gets a prompt end of
	// file rather than a hang. 0 means DefaultMaxConnections().
	MaxConnections int
	// Logger receives connection events and errors; nil discards them.
	Logger *slog.Logger
	// ConnState, if set, is called when a connection is accepted
	// (StateNew) and after it has ended (StateClosed), once every
	// goroutine serving it but the caller has returned and its Session
	// is closed.
	ConnState func(c net.Conn, state ConnState)
}

// ConnState is a connection's life event reported to Config.ConnState.
type ConnState int

const (
	StateNew ConnState = iota
	StateClosed
)

// Defaults for Config's zero values. Eight workers per connection (32 for
// nbdcopy's four connections) measured faster and cheaper in CPU than 16
// for a cache=none copy on a 2-CPU machine: every worker blocked in
// pwrite or sync_file_range holds an OS thread.
const (
	DefaultWorkers     = 8
	DefaultMaxInFlight = 64 << 20
)

// DefaultMaxPayloadMemory is the server-wide payload budget when
// Config.MaxPayloadMemory is 0: a sixteenth of the memory this process
// may use (physical memory or its memory cgroup's limit, whichever is
// less), at most 1 GiB and at least 64 MiB.
func DefaultMaxPayloadMemory() int64 { return payloadBudgetFor(memoryLimit()) }

// payloadBudgetFor is the default payload budget for a process that may
// use mem bytes.
func payloadBudgetFor(mem int64) int64 { return min(max(mem/16, 64<<20), 1<<30) }

// DefaultMaxConnections is the connection bound when
// Config.MaxConnections is 0: the open-file limit (RLIMIT_NOFILE) less an
// eighth of it (at least 16) kept for the server's own files, and at most
// 1024, since every connection holds 128 KiB of socket buffers in the
// server even when idle. 1024 when the limit is unknown.
func DefaultMaxConnections() int {
	const most = 1024
	n := maxOpenFiles()
	if n <= 0 {
		return most
	}
	return int(min(max(n-max(n/8, 16), 1), most))
}

// Server serves one Backend as one NBD export to any number of
// connections. See the package comment for the pipeline.
type Server struct {
	b   Backend
	cfg Config
	log *slog.Logger

	payload *budget  // server-wide payload bytes
	pool    *bufPool // payload buffers

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	shutdown  bool
	stopping  chan struct{}  // closed by Shutdown
	forced    chan struct{}  // closed when Shutdown closes connections
	shutErrs  []error        // final flush and session close failures
	wg        sync.WaitGroup // one per connection
}

// NewServer returns a server for b.
func NewServer(b Backend, c Config) *Server {
	if c.MaxPayload == 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.MaxPayloadMemory <= 0 {
		c.MaxPayloadMemory = DefaultMaxPayloadMemory()
	}
	c.MaxInFlight = max(c.MaxInFlight, classSize(int(c.MaxPayload)))
	c.MaxPayloadMemory = max(c.MaxPayloadMemory, classSize(int(c.MaxPayload)))
	if c.MaxConnections <= 0 {
		c.MaxConnections = DefaultMaxConnections()
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Server{
		b:         b,
		cfg:       c,
		log:       log,
		payload:   newBudget(c.MaxPayloadMemory),
		pool:      newBufPool(c.MaxPayloadMemory),
		listeners: map[net.Listener]struct{}{},
		conns:     map[net.Conn]struct{}{},
		stopping:  make(chan struct{}),
		forced:    make(chan struct{}),
	}
}

// PayloadStats reports the server-wide payload bytes held now and the
// most ever held at once (both in buffer sizes, bounded by
// Config.MaxPayloadMemory), and the payload memory mapped now (in use or
// kept for reuse; it returns to 0 about a second after the last payload
// is freed).
func (s *Server) PayloadStats() (inFlight, peak, mapped int64) {
	inFlight, peak = s.payload.stats()
	return inFlight, peak, s.pool.mappedBytes()
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("nbdserve: server closed")

// Serve accepts connections on l and serves each in its own goroutines
// until l fails or Shutdown is called; then it returns ErrServerClosed
// (after Shutdown) or the accept error. Connections still being served
// when Serve returns go on until they end or Shutdown closes them.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var delay time.Duration // backoff after a temporary accept error
	refusing := false       // logged the current burst of refusals
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.shuttingDown() {
				return ErrServerClosed
			}
			if !temporary(err) {
				return fmt.Errorf("nbdserve: accept: %w", err)
			}
			// Out of file descriptors or buffers: wait for some to come
			// back (a connection ending), then try again.
			if delay == 0 {
				delay = 5 * time.Millisecond
				s.log.Warn("accept failing, retrying with backoff", "err", err)
			} else {
				delay = min(2*delay, time.Second)
			}
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.stopping:
				t.Stop()
				return ErrServerClosed
			}
			continue
		}
		if delay != 0 {
			s.log.Warn("accepting again")
			delay = 0
		}
		ok, full := s.track(nc)
		if !ok {
			nc.Close()
			return ErrServerClosed
		}
		if full {
			// Refuse: the client reads end of file instead of the
			// server's greeting.
			nc.Close()
			if !refusing {
				s.log.Warn("refusing connections: the maximum is being served", "max-connections", s.cfg.MaxConnections)
				refusing = true
			}
			continue
		}
		refusing = false
		go s.serveConn(nc)
	}
}

// temporary reports accept errors that go away by themselves: no file
// descriptors or buffers left, or a connection aborted before accept.
func temporary(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// track registers a new connection: ok is false once shutting down, full
// true (and nothing registered) when MaxConnections are being served.
func (s *Server) track(nc net.Conn) (ok, full bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return false, false
	}
	if len(s.conns) >= s.cfg.MaxConnections {
		return true, true
	}
	s.conns[nc] = struct{}{}
	s.wg.Add(1)
	return true, false
}

// Shutdown stops accepting (closing every listener given to Serve), ends
// option haggling on connections still negotiating, stops reading new
// requests, lets requests in flight finish and be answered, flushes each
// connection's session, and waits for all connections to end. If ctx ends
// first, the remaining connections are closed hard (their sessions are
// still flushed and closed) and ctx's error is returned. Errors of those
// final flushes and closes, which mean writes may be lost, are returned
// too.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.shutdown {
		close(s.stopping)
	}
	s.shutdown = true
	for l := range s.listeners {
		l.Close()
	}
	for nc := range s.conns {
		// Unblock the receiver: its next read fails and the connection
		// drains. Replies can still be written.
		nc.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		select {
		case <-s.forced:
		default:
			close(s.forced)
		}
		for nc := range s.conns {
			nc.Close()
		}
		s.mu.Unlock()
		<-done
		err = ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err = errors.Join(append([]error{err}, s.shutErrs...)...)
	s.shutErrs = nil // each reported once
	return err
}

// shutdownError records a connection's failure to flush or close its
// session during Shutdown.
func (s *Server) shutdownError(err error) {
	s.mu.Lock()
	s.shutErrs = append(s.shutErrs, err)
	s.mu.Unlock()
}

func (s *Server) shuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

// serveConn runs one connection from handshake to close.
func (s *Server) serveConn(nc net.Conn) {
	defer s.wg.Done()
	if s.cfg.ConnState != nil {
		s.cfg.ConnState(nc, StateNew)
	}
	log := s.log.With("remote", nc.RemoteAddr().String())
	log.Debug("connection accepted")
	c := &conn{srv: s, nc: nc, log: log}
	err := c.run()
	nc.Close()
	s.mu.Lock()
	delete(s.conns, nc)
	s.mu.Unlock()
	switch {
	case err == nil:
		log.Debug("connection closed")
	case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
		log.Debug("connection ended", "err", err)
	default:
		log.Info("connection ended", "err", err)
	}
	if s.cfg.ConnState != nil {
		s.cfg.ConnState(nc, StateClosed)
	}
}

// transmissionFlags derives the advertised flags from the backend's
// answers and what the client negotiated.
func (s *Server) transmissionFlags(structured bool) uint16 {
	b := s.b
	f := NBD_FLAG_HAS_FLAGS
	writable := b.CanWrite() && !s.cfg.ReadOnly
	if !writable {
		f |= NBD_FLAG_READ_ONLY
	}
	if b.CanFlush() {
		f |= NBD_FLAG_SEND_FLUSH
	}
	if writable && b.CanFUA() {
		f |= NBD_FLAG_SEND_FUA
	}
	if writable && b.CanTrim() {
		f |= NBD_FLAG_SEND_TRIM
	}
	if writable && b.CanZero() {
		f |= NBD_FLAG_SEND_WRITE_ZEROES
		if b.CanFastZero() {
			f |= NBD_FLAG_SEND_FAST_ZERO
		}
	}
	if structured {
		// Every READ is answered with one content chunk, so DF costs nothing.
		f |= NBD_FLAG_SEND_DF
	}
	if b.CanMultiConn() {
		f |= NBD_FLAG_CAN_MULTI_CONN
	}
	if b.CanCache() {
		f |= NBD_FLAG_SEND_CACHE
	}
	return f
}
