package nbdserve

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// maxDescriptors bounds the extents of one BLOCK_STATUS reply.
const maxDescriptors = 1024

// job is one request on its way from the receiver through a worker to the
// transmitter, which answers it.
type job struct {
	req     request
	errno   uint32 // NBD error of the reply; set before or by the worker
	msg     string // why, for structured error chunks
	data    []byte // WRITE payload, then READ result (pooled)
	extents []Extent
	held    int64 // bytes of the in-flight budget this job holds
}

// errPayloadTooBig ends a connection whose client sent a WRITE larger than
// the advertised maximum: its payload cannot be read into memory.
var errPayloadTooBig = errors.New("nbd: write payload over the maximum block size")

// transmit serves the transmission phase: this goroutine receives, a pool
// of workers calls the storage, one transmitter writes replies.
func (c *conn) transmit() error {
	cfg := &c.srv.cfg
	sess, err := c.srv.b.Connect()
	if err != nil {
		return fmt.Errorf("opening a session: %w", err)
	}
	st := exportState{
		size:       uint64(c.srv.b.Size()),
		flags:      c.srv.transmissionFlags(c.structured),
		structured: c.structured,
		meta:       c.meta,
		maxPayload: cfg.MaxPayload,
	}
	jobs := make(chan *job, cfg.Workers)
	replies := make(chan *job, cfg.Workers)
	pay := &payload{
		conn:   newBudget(cfg.MaxInFlight),
		srv:    c.srv.payload,
		pool:   c.srv.pool,
		gone:   make(chan struct{}),
		forced: c.srv.forced,
	}

	var writes chan *job // the write lane, if ordered
	var workers sync.WaitGroup
	work := func(q <-chan *job) {
		defer workers.Done()
		for j := range q {
			c.serve(sess, pay, j)
			replies <- j
		}
	}
	for range cfg.Workers {
		workers.Add(1)
		go work(jobs)
	}
	if cfg.OrderedWrites {
		writes = make(chan *job, cfg.Workers)
		workers.Add(1)
		go work(writes)
	}
	txDone := make(chan error, 1)
	go func() { txDone <- c.transmitter(replies, pay) }()

	rerr := c.receive(st, jobs, writes, pay)
	close(jobs)
	if writes != nil {
		close(writes)
	}
	workers.Wait()
	var ferr error
	if c.srv.shuttingDown() && st.flags&NBD_FLAG_READ_ONLY == 0 {
		if ferr = sess.Flush(); ferr != nil {
			ferr = fmt.Errorf("flush at shutdown: %w", ferr)
		}
	}
	close(replies)
	terr := <-txDone
	cerr := sess.Close()
	if cerr != nil {
		cerr = fmt.Errorf("closing session: %w", cerr)
	}
	if c.srv.shuttingDown() {
		if err := errors.Join(ferr, cerr); err != nil {
			c.srv.shutdownError(err)
		}
	}
	return errors.Join(rerr, terr, ferr, cerr)
}

// receive reads requests until DISC, a broken stream or Shutdown, and
// hands them to the workers. It returns nil after DISC.
func (c *conn) receive(st exportState, jobs, writes chan<- *job, pay *payload) error {
	var hdr [requestSize]byte
	for {
		if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
			if c.srv.shuttingDown() {
				return nil
			}
			return fmt.Errorf("reading request: %w", err)
		}
		req, err := decodeRequest(hdr[:])
		if err != nil {
			return err // bad magic: cannot resynchronise
		}
		if req.typ == NBD_CMD_DISC {
			return nil
		}
		j := &job{req: req, errno: st.check(req)}
		// A payload bufio cannot hold is read straight into its buffer;
		// then the next fill stops at the next header, so that the next
		// such payload is not copied out of bufio's buffer either.
		direct := req.typ == NBD_CMD_WRITE && j.errno == 0 && int(req.length) >= c.br.Size()
		if !direct {
			c.rl.max = 0
		}
		if j.errno != 0 {
			j.msg = fmt.Sprintf("%s of %d bytes at %d: %s", cmdName(req.typ), req.length, req.offset, errnoName(j.errno))
		}
		if req.typ == NBD_CMD_WRITE {
			if req.length > max(st.maxPayload, DefaultMaxPayload) {
				// Answer, then hang up without reading the payload. (Up
				// to 32 MiB the spec asks servers not to treat a payload
				// as an attack: those are read and dropped below.)
				jobs <- j
				return fmt.Errorf("%w: %d bytes (maximum %d)", errPayloadTooBig, req.length, st.maxPayload)
			}
			if j.errno != 0 {
				if _, err := io.CopyN(io.Discard, c.br, int64(req.length)); err != nil {
					return fmt.Errorf("discarding refused write payload: %w", err)
				}
			} else if req.length > 0 {
				if !pay.acquire(j) {
					return errConnGone
				}
				j.data = pay.pool.get(int(req.length))
				if err := c.readPayload(j.data, direct); err != nil {
					pay.free(j)
					return fmt.Errorf("reading write payload: %w", err)
				}
			}
		} else if req.typ == NBD_CMD_READ && j.errno == 0 && req.length > 0 {
			if !pay.acquire(j) {
				return errConnGone
			}
		}
		if writes != nil && req.typ == NBD_CMD_WRITE && j.errno == 0 && req.flags&NBD_CMD_FLAG_FUA == 0 {
			writes <- j
			continue
		}
		jobs <- j
	}
}

// readPayload fills p from the connection: through bufio, or with direct
// what bufio holds and then straight from the connection.
func (c *conn) readPayload(p []byte, direct bool) error {
	if !direct {
		_, err := io.ReadFull(c.br, p)
		return err
	}
	n, err := c.br.Read(p[:min(len(p), c.br.Buffered())])
	if err == nil {
		_, err = io.ReadFull(c.rl.r, p[n:])
	}
	c.rl.max = requestSize
	return err
}

// readLimiter is what bufio reads the connection through: max, when not
// 0, caps each read, so that a fill can stop at a request header.
type readLimiter struct {
	r   io.Reader
	max int
}

func (l *readLimiter) Read(p []byte) (int, error) {
	if l.max > 0 && len(p) > l.max {
		p = p[:l.max]
	}
	return l.r.Read(p)
}

// serve performs one request's storage call.
func (c *conn) serve(sess Session, pay *payload, j *job) {
	if j.errno != 0 {
		return
	}
	r := j.req
	off, n := int64(r.offset), int64(r.length)
	fua := r.flags&NBD_CMD_FLAG_FUA != 0
	var err error
	switch r.typ {
	case NBD_CMD_READ:
		if n > 0 {
			j.data = pay.pool.get(int(n))
			err = sess.ReadAt(j.data, off)
		}
	case NBD_CMD_WRITE:
		if n > 0 {
			err = sess.WriteAt(j.data, off, fua)
			pay.free(j)
		}
	case NBD_CMD_FLUSH:
		err = sess.Flush()
	case NBD_CMD_TRIM:
		if n > 0 {
			err = sess.Trim(off, n, fua)
		}
	case NBD_CMD_WRITE_ZEROES:
		if n > 0 {
			err = sess.Zero(off, n, r.flags&NBD_CMD_FLAG_NO_HOLE == 0, r.flags&NBD_CMD_FLAG_FAST_ZERO != 0, fua)
		}
	case NBD_CMD_CACHE:
		if n > 0 {
			err = sess.Cache(off, n)
		}
	case NBD_CMD_BLOCK_STATUS:
		max := maxDescriptors
		if r.flags&NBD_CMD_FLAG_REQ_ONE != 0 {
			max = 1
		}
		j.extents, err = sess.Extents(off, n, max)
		if err == nil {
			j.extents, err = clipExtents(j.extents, n, max)
		}
	}
	if err != nil {
		j.errno = ErrnoOf(err)
		j.msg = fmt.Sprintf("%s of %d bytes at %d: %v", cmdName(r.typ), r.length, r.offset, err)
		if !errors.Is(err, ErrSlowZero) {
			c.log.Warn("request failed", "cmd", cmdName(r.typ), "offset", r.offset, "length", r.length, "err", err)
		}
	}
}

// clipExtents merges neighbours with equal flags and keeps the extents
// within the request's length and the descriptor limit.
func clipExtents(in []Extent, length int64, max int) ([]Extent, error) {
	out := in[:0]
	var sum int64
	for _, e := range in {
		if sum >= length {
			break
		}
		if e.Length <= 0 {
			return nil, fmt.Errorf("backend returned an extent of %d bytes: %w", e.Length, errBackendExtents)
		}
		if sum+e.Length > length {
			e.Length = length - sum
		}
		sum += e.Length
		if k := len(out); k > 0 && out[k-1].Hole == e.Hole && out[k-1].Zero == e.Zero {
			out[k-1].Length += e.Length
			continue
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("backend returned no extents: %w", errBackendExtents)
	}
	if len(out) > max {
		out = out[:max]
	}
	return out, nil
}

var errBackendExtents = errors.New("invalid extents from backend")

// transmitter writes replies in completion order. After a write error it
// keeps draining (releasing buffers) so workers never block.
func (c *conn) transmitter(replies <-chan *job, pay *payload) error {
	var werr error
	var hdr []byte
	for j := range replies {
		if werr == nil {
			hdr, werr = c.writeReply(hdr[:0], j)
			if werr == nil && len(replies) == 0 {
				werr = c.bw.Flush()
			}
			if werr != nil {
				werr = fmt.Errorf("writing reply: %w", werr)
				c.nc.Close()    // wake the receiver too,
				close(pay.gone) // also where it waits for the budgets
			}
		}
		pay.free(j)
	}
	if werr == nil {
		werr = c.bw.Flush()
	}
	return werr
}

// writeReply writes the answer to j, using hdr as scratch.
func (c *conn) writeReply(hdr []byte, j *job) ([]byte, error) {
	r := j.req
	switch {
	case j.errno != 0 && c.structured:
		hdr = appendErrorChunk(hdr, r.cookie, j.errno, j.msg)
	case r.typ == NBD_CMD_READ && c.structured:
		if r.length == 0 {
			hdr = appendChunkHeader(hdr, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, r.cookie, 0)
			break
		}
		// One content chunk covering the whole request; DONE because the
		// data is in memory and no error can follow.
		hdr = appendChunkHeader(hdr, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, r.cookie, 8+r.length)
		hdr = be.AppendUint64(hdr, r.offset)
		if _, err := c.bw.Write(hdr); err != nil {
			return hdr, err
		}
		_, err := c.bw.Write(j.data)
		return hdr, err
	case r.typ == NBD_CMD_BLOCK_STATUS && j.errno == 0:
		hdr = appendChunkHeader(hdr, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS, r.cookie, uint32(4+8*len(j.extents)))
		hdr = be.AppendUint32(hdr, metaIDBaseAllocation)
		for _, e := range j.extents {
			var flags uint32
			if e.Hole {
				flags |= NBD_STATE_HOLE
			}
			if e.Zero {
				flags |= NBD_STATE_ZERO
			}
			hdr = be.AppendUint32(hdr, uint32(e.Length))
			hdr = be.AppendUint32(hdr, flags)
		}
	default:
		hdr = appendSimpleReply(hdr, j.errno, r.cookie)
		if r.typ == NBD_CMD_READ && j.errno == 0 {
			if _, err := c.bw.Write(hdr); err != nil {
				return hdr, err
			}
			_, err := c.bw.Write(j.data)
			return hdr, err
		}
	}
	_, err := c.bw.Write(hdr)
	return hdr, err
}

// payload is a connection's access to the payload budgets and buffers.
type payload struct {
	conn, srv *budget
	pool      *bufPool
	gone      chan struct{} // closed when the connection is broken
	forced    chan struct{} // closed when Shutdown closes connections
}

// errConnGone ends a receiver that waited for the budgets while its
// connection was closed.
var errConnGone = errors.New("connection closed while waiting for payload memory")

// acquire takes j's payload bytes from both budgets, waiting while either
// is used up; false if the connection ended first.
func (p *payload) acquire(j *job) bool {
	n := classSize(int(j.req.length))
	if !p.conn.acquire(n, p.gone, p.forced) {
		return false
	}
	if !p.srv.acquire(n, p.gone, p.forced) {
		p.conn.release(n)
		return false
	}
	j.held = n
	return true
}

// free returns j's buffer to the pool and its bytes to the budgets.
func (p *payload) free(j *job) {
	if j.data != nil {
		p.pool.put(j.data)
		j.data = nil
	}
	p.srv.release(j.held)
	p.conn.release(j.held)
	j.held = 0
}

func cmdName(typ uint16) string {
	switch typ {
	case NBD_CMD_READ:
		return "NBD_CMD_READ"
	case NBD_CMD_WRITE:
		return "NBD_CMD_WRITE"
	case NBD_CMD_DISC:
		return "NBD_CMD_DISC"
	case NBD_CMD_FLUSH:
		return "NBD_CMD_FLUSH"
	case NBD_CMD_TRIM:
		return "NBD_CMD_TRIM"
	case NBD_CMD_CACHE:
		return "NBD_CMD_CACHE"
	case NBD_CMD_WRITE_ZEROES:
		return "NBD_CMD_WRITE_ZEROES"
	case NBD_CMD_BLOCK_STATUS:
		return "NBD_CMD_BLOCK_STATUS"
	}
	return fmt.Sprintf("command %d", typ)
}

func errnoName(e uint32) string {
	switch e {
	case NBD_EPERM:
		return "NBD_EPERM (export is read-only)"
	case NBD_EINVAL:
		return "NBD_EINVAL (invalid request: unknown command or flag, out of range or too long)"
	case NBD_ENOSPC:
		return "NBD_ENOSPC (beyond the end of the export)"
	}
	return fmt.Sprintf("error %d", e)
}
