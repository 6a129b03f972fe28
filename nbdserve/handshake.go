package nbdserve

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
)

// conn is one client connection.
type conn struct {
	srv *Server
	nc  net.Conn  // the client's connection; after STARTTLS, tls
	tls *tls.Conn // nil until STARTTLS
	log *slog.Logger
	rl  readLimiter // nc, as bufio reads it
	br  *bufio.Reader
	bw  *bufio.Writer

	noZeroes   bool
	structured bool
	meta       bool // base:allocation selected by the last SET_META_CONTEXT
}

// errAbort ends a handshake the client aborted; not a failure.
var errAbort = errors.New("client sent NBD_OPT_ABORT")

// errClientFlags reports client flags this server does not know.
var errClientFlags = errors.New("nbd: unknown client flags")

// errHandshakeRefused ends a handshake the server cannot continue
// (unknown export on NBD_OPT_EXPORT_NAME, oversized option).
var errHandshakeRefused = errors.New("nbd: handshake refused")

// run performs the handshake and, if it ends in transmission, serves the
// connection until it ends.
func (c *conn) run() error {
	c.rl.r = c.nc
	c.br = bufio.NewReaderSize(&c.rl, 64<<10)
	c.bw = bufio.NewWriterSize(c.nc, 64<<10)
	ok, err := c.handshake()
	if errors.Is(err, errAbort) {
		err = nil
	} else if err != nil {
		err = fmt.Errorf("handshake: %w", err)
	}
	if ok && err == nil {
		err = c.transmit()
	}
	if c.tls != nil {
		// The spec: close down the TLS session, then the connection.
		c.tls.Close()
	}
	return err
}

// handshake runs fixed newstyle negotiation. It returns true when the
// client entered transmission.
func (c *conn) handshake() (bool, error) {
	var hello []byte
	hello = be.AppendUint64(hello, NBDMAGIC)
	hello = be.AppendUint64(hello, IHAVEOPT)
	hello = be.AppendUint16(hello, NBD_FLAG_FIXED_NEWSTYLE|NBD_FLAG_NO_ZEROES)
	if _, err := c.nc.Write(hello); err != nil {
		return false, err
	}
	var cf [4]byte
	if _, err := io.ReadFull(c.br, cf[:]); err != nil {
		return false, fmt.Errorf("client flags: %w", err)
	}
	flags := be.Uint32(cf[:])
	if flags&^(NBD_FLAG_C_FIXED_NEWSTYLE|NBD_FLAG_C_NO_ZEROES) != 0 {
		// The spec: the server MUST drop the connection.
		return false, fmt.Errorf("client flags %#x: %w", flags, errClientFlags)
	}
	c.noZeroes = flags&NBD_FLAG_C_NO_ZEROES != 0

	for {
		h, data, err := readOption(c.br)
		if errors.Is(err, errOptionTooBig) {
			// The data stays unread, so the stream cannot continue: say
			// why, then hang up.
			c.optReply(h.code, NBD_REP_ERR_TOO_BIG, []byte("option data over 64 KiB"))
			c.bw.Flush()
			return false, fmt.Errorf("%w: %w", errHandshakeRefused, err)
		}
		if err != nil {
			return false, err
		}
		done, err := c.option(h.code, data)
		if ferr := c.bw.Flush(); err == nil && ferr != nil {
			err = ferr
		}
		if err != nil || done {
			return done, err
		}
	}
}

// optReply queues one option reply.
func (c *conn) optReply(option, typ uint32, data []byte) {
	c.bw.Write(appendOptionReply(nil, option, typ, data))
}

// optError queues an error reply with a message for people.
func (c *conn) optError(option, typ uint32, format string, args ...any) {
	c.optReply(option, typ, []byte(fmt.Sprintf(format, args...)))
}

// knownExport reports whether name selects this server's export.
func (c *conn) knownExport(name string) bool {
	return name == "" || name == c.srv.cfg.ExportName || c.srv.cfg.AnyExportName
}

// requestOK reports whether an option request, parsed with error err and
// naming export name, can be answered; when it cannot, it has sent the
// error reply.
func (c *conn) requestOK(code uint32, err error, name string) bool {
	if err != nil {
		c.optError(code, NBD_REP_ERR_INVALID, "%v", err)
		return false
	}
	if !c.knownExport(name) {
		c.optError(code, NBD_REP_ERR_UNKNOWN, "no export named %q", name)
		return false
	}
	return true
}

// option answers one option; done reports that transmission begins.
func (c *conn) option(code uint32, data []byte) (done bool, err error) {
	if c.srv.shuttingDown() && code != NBD_OPT_ABORT {
		c.optError(code, NBD_REP_ERR_SHUTDOWN, "server is shutting down")
		return false, nil
	}
	if refused, err := c.tlsRefusal(code); refused {
		return false, err
	}
	switch code {
	case NBD_OPT_STARTTLS:
		return false, c.startTLS(data)

	case NBD_OPT_EXPORT_NAME:
		if !validString(data) || !c.knownExport(string(data)) {
			// No way to send an error: the spec requires a hard disconnect.
			return false, fmt.Errorf("%w: unknown export %q", errHandshakeRefused, data)
		}
		var b []byte
		b = be.AppendUint64(b, uint64(c.srv.b.Size()))
		b = be.AppendUint16(b, c.srv.transmissionFlags(c.structured))
		if !c.noZeroes {
			b = append(b, make([]byte, 124)...)
		}
		c.bw.Write(b)
		return true, nil

	case NBD_OPT_ABORT:
		c.optReply(code, NBD_REP_ACK, nil)
		c.bw.Flush()
		return false, errAbort

	case NBD_OPT_LIST:
		if len(data) != 0 {
			c.optError(code, NBD_REP_ERR_INVALID, "NBD_OPT_LIST takes no data")
			return false, nil
		}
		name := c.srv.cfg.ExportName
		var b []byte
		b = be.AppendUint32(b, uint32(len(name)))
		b = append(b, name...)
		b = append(b, c.srv.cfg.Description...)
		c.optReply(code, NBD_REP_SERVER, b)
		c.optReply(code, NBD_REP_ACK, nil)
		return false, nil

	case NBD_OPT_INFO, NBD_OPT_GO:
		req, err := parseInfoRequest(data)
		if !c.requestOK(code, err, req.name) {
			return false, nil
		}
		c.sendInfo(code, req.infos)
		c.optReply(code, NBD_REP_ACK, nil)
		return code == NBD_OPT_GO, nil

	case NBD_OPT_STRUCTURED_REPLY:
		if len(data) != 0 {
			c.optError(code, NBD_REP_ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data")
			return false, nil
		}
		c.structured = true
		c.optReply(code, NBD_REP_ACK, nil)
		return false, nil

	case NBD_OPT_LIST_META_CONTEXT, NBD_OPT_SET_META_CONTEXT:
		set := code == NBD_OPT_SET_META_CONTEXT
		if set {
			c.meta = false // replaced even when the request fails
		}
		if !c.structured {
			c.optError(code, NBD_REP_ERR_INVALID, "negotiate NBD_OPT_STRUCTURED_REPLY first")
			return false, nil
		}
		req, err := parseMetaRequest(data)
		if !c.requestOK(code, err, req.name) {
			return false, nil
		}
		if matchBaseAllocation(req.queries, !set) && c.srv.b.CanExtents() {
			var b []byte
			id := metaIDBaseAllocation
			if !set {
				id = 0 // reserved in LIST replies
			}
			b = be.AppendUint32(b, id)
			b = append(b, metaBaseAllocation...)
			c.optReply(code, NBD_REP_META_CONTEXT, b)
			c.meta = set
		}
		c.optReply(code, NBD_REP_ACK, nil)
		return false, nil
	}
	// EXTENDED_HEADERS and anything unknown.
	c.optError(code, NBD_REP_ERR_UNSUP, "option %d is not supported by this server", code)
	return false, nil
}

// matchBaseAllocation reports whether the queries select base:allocation.
// For LIST, no query and the "base:" wildcard list it too.
func matchBaseAllocation(queries []string, list bool) bool {
	if list && len(queries) == 0 {
		return true
	}
	for _, q := range queries {
		if q == metaBaseAllocation || (list && q == "base:") {
			return true
		}
	}
	return false
}

// sendInfo queues NBD_INFO_EXPORT and the requested optional items.
func (c *conn) sendInfo(code uint32, infos []uint16) {
	var b []byte
	b = be.AppendUint16(b, NBD_INFO_EXPORT)
	b = be.AppendUint64(b, uint64(c.srv.b.Size()))
	b = be.AppendUint16(b, c.srv.transmissionFlags(c.structured))
	c.optReply(code, NBD_REP_INFO, b)
	for _, info := range infos {
		b = b[:0]
		switch info {
		case NBD_INFO_NAME:
			b = be.AppendUint16(b, NBD_INFO_NAME)
			b = append(b, c.srv.cfg.ExportName...)
		case NBD_INFO_DESCRIPTION:
			if c.srv.cfg.Description == "" {
				continue
			}
			b = be.AppendUint16(b, NBD_INFO_DESCRIPTION)
			b = append(b, c.srv.cfg.Description...)
		case NBD_INFO_BLOCK_SIZE:
			b = be.AppendUint16(b, NBD_INFO_BLOCK_SIZE)
			b = be.AppendUint32(b, minimumBlockSize)
			b = be.AppendUint32(b, preferredBlockSize)
			b = be.AppendUint32(b, c.srv.cfg.MaxPayload)
		default:
			continue // the spec: ignore requests not understood
		}
		c.optReply(code, NBD_REP_INFO, b)
	}
}
