package nbdserve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Config is how a Server presents its one export.
type Config struct {
	// ExportName is the export's canonical name. Clients may ask for it or
	// for "" (the default export); other names are refused.
	ExportName string
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

// Server serves one Backend as one NBD export to any number of
// connections. See the package comment for the pipeline.
type Server struct {
	b   Backend
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	shutdown  bool
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
	if c.MaxInFlight < int64(c.MaxPayload) {
		c.MaxInFlight = int64(c.MaxPayload)
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Server{
		b:         b,
		cfg:       c,
		log:       log,
		listeners: map[net.Listener]struct{}{},
		conns:     map[net.Conn]struct{}{},
	}
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
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.shutdown
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			return fmt.Errorf("nbdserve: accept: %w", err)
		}
		if !s.track(nc) {
			nc.Close()
			return ErrServerClosed
		}
		go s.serveConn(nc)
	}
}

// track registers a new connection; false once shutting down.
func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return false
	}
	s.conns[nc] = struct{}{}
	s.wg.Add(1)
	return true
}

// Shutdown stops accepting (closing every listener given to Serve), ends
// option haggling on connections still negotiating, stops reading new
// requests, lets requests in flight finish and be answered, flushes each
// connection's session, and waits for all connections to end. If ctx ends
// first, the remaining connections are closed hard and ctx's error is
// returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
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
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for nc := range s.conns {
			nc.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
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
