package nbdserve

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Decoding and encoding of handshake and transmission messages. Everything
// here works on byte slices and io.Readers so that it can be fuzzed without
// a socket.

var be = binary.BigEndian

// errBadMagic reports a message that does not start with the magic number
// the protocol requires there; the stream cannot be resynchronised.
var errBadMagic = errors.New("nbd: bad magic number")

// errOptionTooBig reports option data over maxOptionData.
var errOptionTooBig = errors.New("nbd: option data too large")

// errInvalidOption reports option data that does not parse.
var errInvalidOption = errors.New("nbd: malformed option data")

// optionHeader is the fixed part of a client option request.
type optionHeader struct {
	code   uint32
	length uint32
}

// readOptionHeader reads IHAVEOPT, the option and its data length.
func readOptionHeader(r io.Reader) (optionHeader, error) {
	var b [optionHeaderSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return optionHeader{}, err
	}
	if be.Uint64(b[0:8]) != IHAVEOPT {
		return optionHeader{}, fmt.Errorf("option request: %w", errBadMagic)
	}
	return optionHeader{code: be.Uint32(b[8:12]), length: be.Uint32(b[12:16])}, nil
}

// readOption reads one option request; its data is bounded by
// maxOptionData. An oversized option returns its header with
// errOptionTooBig and leaves its data unread.
func readOption(r io.Reader) (optionHeader, []byte, error) {
	h, err := readOptionHeader(r)
	if err != nil {
		return h, nil, err
	}
	if h.length > maxOptionData {
		return h, nil, fmt.Errorf("option %d with %d bytes (limit %d): %w", h.code, h.length, maxOptionData, errOptionTooBig)
	}
	data := make([]byte, h.length)
	if _, err := io.ReadFull(r, data); err != nil {
		return h, nil, fmt.Errorf("option %d data: %w", h.code, err)
	}
	return h, data, nil
}

// validString reports whether s is a protocol string: UTF-8, no NUL, at
// most maxStringLen bytes.
func validString(s []byte) bool {
	if len(s) > maxStringLen || !utf8.Valid(s) {
		return false
	}
	for _, c := range s {
		if c == 0 {
			return false
		}
	}
	return true
}

// infoRequest is the data of NBD_OPT_INFO and NBD_OPT_GO.
type infoRequest struct {
	name  string
	infos []uint16
}

// parseInfoRequest decodes: u32 name length, name, u16 count, count u16s.
func parseInfoRequest(data []byte) (infoRequest, error) {
	if len(data) < 6 {
		return infoRequest{}, fmt.Errorf("info request of %d bytes: %w", len(data), errInvalidOption)
	}
	n := be.Uint32(data[0:4])
	if uint64(n) > uint64(len(data))-6 {
		return infoRequest{}, fmt.Errorf("info request name length %d in %d bytes: %w", n, len(data), errInvalidOption)
	}
	name := data[4 : 4+n]
	if !validString(name) {
		return infoRequest{}, fmt.Errorf("info request: export name is not a valid string: %w", errInvalidOption)
	}
	rest := data[4+n:]
	count := int(be.Uint16(rest[0:2]))
	rest = rest[2:]
	if len(rest) != 2*count {
		return infoRequest{}, fmt.Errorf("info request: %d information requests in %d bytes: %w", count, len(rest), errInvalidOption)
	}
	req := infoRequest{name: string(name), infos: make([]uint16, count)}
	for i := range req.infos {
		req.infos[i] = be.Uint16(rest[2*i:])
	}
	return req, nil
}

// metaRequest is the data of NBD_OPT_LIST_META_CONTEXT and
// NBD_OPT_SET_META_CONTEXT.
type metaRequest struct {
	name    string
	queries []string
}

// parseMetaRequest decodes: u32 name length, name, u32 query count, then
// for each query u32 length and the query string.
func parseMetaRequest(data []byte) (metaRequest, error) {
	take := func(what string) ([]byte, error) {
		if len(data) < 4 {
			return nil, fmt.Errorf("meta context request: no room for %s length: %w", what, errInvalidOption)
		}
		n := be.Uint32(data[0:4])
		if uint64(n) > uint64(len(data))-4 {
			return nil, fmt.Errorf("meta context request: %s length %d overruns the option: %w", what, n, errInvalidOption)
		}
		s := data[4 : 4+n]
		if !validString(s) {
			return nil, fmt.Errorf("meta context request: %s is not a valid string: %w", what, errInvalidOption)
		}
		data = data[4+n:]
		return s, nil
	}
	name, err := take("export name")
	if err != nil {
		return metaRequest{}, err
	}
	if len(data) < 4 {
		return metaRequest{}, fmt.Errorf("meta context request: no query count: %w", errInvalidOption)
	}
	count := be.Uint32(data[0:4])
	data = data[4:]
	// Each query needs at least its 4-byte length: bound the count by
	// what is left before allocating.
	if uint64(count) > uint64(len(data))/4 {
		return metaRequest{}, fmt.Errorf("meta context request: %d queries in %d bytes: %w", count, len(data), errInvalidOption)
	}
	req := metaRequest{name: string(name), queries: make([]string, 0, count)}
	for i := uint32(0); i < count; i++ {
		q, err := take("query")
		if err != nil {
			return metaRequest{}, err
		}
		req.queries = append(req.queries, string(q))
	}
	if len(data) != 0 {
		return metaRequest{}, fmt.Errorf("meta context request: %d trailing bytes: %w", len(data), errInvalidOption)
	}
	return req, nil
}

// appendOptionReply appends one option reply to b.
func appendOptionReply(b []byte, option, typ uint32, data []byte) []byte {
	b = be.AppendUint64(b, NBD_REP_MAGIC)
	b = be.AppendUint32(b, option)
	b = be.AppendUint32(b, typ)
	b = be.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

// request is one decoded transmission request header.
type request struct {
	flags  uint16
	typ    uint16
	cookie uint64
	offset uint64
	length uint32
}

// decodeRequest decodes a 28-byte request header.
func decodeRequest(b []byte) (request, error) {
	if len(b) < requestSize {
		return request{}, fmt.Errorf("request header of %d bytes: %w", len(b), io.ErrUnexpectedEOF)
	}
	if m := be.Uint32(b[0:4]); m != NBD_REQUEST_MAGIC {
		return request{}, fmt.Errorf("request magic %#x: %w", m, errBadMagic)
	}
	return request{
		flags:  be.Uint16(b[4:6]),
		typ:    be.Uint16(b[6:8]),
		cookie: be.Uint64(b[8:16]),
		offset: be.Uint64(b[16:24]),
		length: be.Uint32(b[24:28]),
	}, nil
}

// exportState is what the transmission phase needs to judge a request:
// the export's size and what was negotiated.
type exportState struct {
	size       uint64
	flags      uint16 // transmission flags sent to the client
	structured bool   // NBD_OPT_STRUCTURED_REPLY negotiated
	meta       bool   // base:allocation selected
	maxPayload uint32
}

// commandFlags lists the flags each command accepts (FUA is accepted on
// every command when NBD_FLAG_SEND_FUA was advertised, as the spec says).
func (e exportState) commandFlags(typ uint16) uint16 {
	var ok uint16
	if e.flags&NBD_FLAG_SEND_FUA != 0 {
		ok |= NBD_CMD_FLAG_FUA
	}
	switch typ {
	case NBD_CMD_READ:
		if e.flags&NBD_FLAG_SEND_DF != 0 {
			ok |= NBD_CMD_FLAG_DF
		}
	case NBD_CMD_WRITE_ZEROES:
		ok |= NBD_CMD_FLAG_NO_HOLE
		if e.flags&NBD_FLAG_SEND_FAST_ZERO != 0 {
			ok |= NBD_CMD_FLAG_FAST_ZERO
		}
	case NBD_CMD_BLOCK_STATUS:
		ok |= NBD_CMD_FLAG_REQ_ONE
	}
	return ok
}

// check returns the NBD error a request must be answered with before any
// storage call, or 0 when it may proceed. A WRITE's payload has not been
// read yet; the caller discards or refuses it.
func (e exportState) check(r request) uint32 {
	switch r.typ {
	case NBD_CMD_READ, NBD_CMD_WRITE, NBD_CMD_DISC, NBD_CMD_FLUSH, NBD_CMD_TRIM,
		NBD_CMD_CACHE, NBD_CMD_WRITE_ZEROES, NBD_CMD_BLOCK_STATUS:
	default:
		return NBD_EINVAL
	}
	if r.flags&^e.commandFlags(r.typ) != 0 {
		return NBD_EINVAL
	}
	ro := e.flags&NBD_FLAG_READ_ONLY != 0
	end := r.offset + uint64(r.length)
	inRange := end >= r.offset && end <= e.size
	switch r.typ {
	case NBD_CMD_READ:
		if r.length > e.maxPayload || !inRange {
			return NBD_EINVAL
		}
	case NBD_CMD_WRITE:
		if r.length > e.maxPayload {
			return NBD_EINVAL
		}
		if ro {
			return NBD_EPERM
		}
		if !inRange {
			return NBD_ENOSPC
		}
	case NBD_CMD_WRITE_ZEROES:
		if ro {
			return NBD_EPERM
		}
		if e.flags&NBD_FLAG_SEND_WRITE_ZEROES == 0 {
			return NBD_EINVAL
		}
		if !inRange {
			return NBD_ENOSPC
		}
	case NBD_CMD_TRIM:
		if ro {
			return NBD_EPERM
		}
		if e.flags&NBD_FLAG_SEND_TRIM == 0 || !inRange {
			return NBD_EINVAL
		}
	case NBD_CMD_FLUSH:
		if e.flags&NBD_FLAG_SEND_FLUSH == 0 {
			return NBD_EINVAL
		}
	case NBD_CMD_CACHE:
		if r.length > e.maxPayload || !inRange {
			return NBD_EINVAL
		}
	case NBD_CMD_BLOCK_STATUS:
		if !e.meta || r.length == 0 || !inRange {
			return NBD_EINVAL
		}
	}
	return 0
}

// appendSimpleReply appends a simple reply header.
func appendSimpleReply(b []byte, errno uint32, cookie uint64) []byte {
	b = be.AppendUint32(b, NBD_SIMPLE_REPLY_MAGIC)
	b = be.AppendUint32(b, errno)
	return be.AppendUint64(b, cookie)
}

// appendChunkHeader appends a structured reply chunk header.
func appendChunkHeader(b []byte, flags, typ uint16, cookie uint64, length uint32) []byte {
	b = be.AppendUint32(b, NBD_STRUCTURED_REPLY_MAGIC)
	b = be.AppendUint16(b, flags)
	b = be.AppendUint16(b, typ)
	b = be.AppendUint64(b, cookie)
	return be.AppendUint32(b, length)
}

// appendErrorChunk appends a final NBD_REPLY_TYPE_ERROR chunk carrying a
// message for people (truncated to the 4096-byte string limit).
func appendErrorChunk(b []byte, cookie uint64, errno uint32, msg string) []byte {
	if len(msg) > maxStringLen {
		msg = msg[:maxStringLen]
	}
	for !utf8.ValidString(msg) { // do not cut a rune in half
		msg = msg[:len(msg)-1]
	}
	b = appendChunkHeader(b, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, cookie, uint32(6+len(msg)))
	b = be.AppendUint32(b, errno)
	b = be.AppendUint16(b, uint16(len(msg)))
	return append(b, msg...)
}
