package nbdserve

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagecache-suite/wcache/evict"
)

// rawClient speaks the protocol byte by byte, to send what real clients
// never would.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dialRaw(t *testing.T, ts *testServer) *rawClient {
	t.Helper()
	nc, err := net.Dial("unix", ts.sock)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(20 * time.Second)) // a hang fails, not blocks
	t.Cleanup(func() { nc.Close() })
	rc := &rawClient{t: t, nc: nc, r: bufio.NewReader(nc)}
	var hello [18]byte
	rc.read(hello[:])
	if be.Uint64(hello[0:]) != NBDMAGIC || be.Uint64(hello[8:]) != IHAVEOPT {
		t.Fatalf("server hello % x", hello)
	}
	if f := be.Uint16(hello[16:]); f != NBD_FLAG_FIXED_NEWSTYLE|NBD_FLAG_NO_ZEROES {
		t.Fatalf("handshake flags %#x", f)
	}
	return rc
}

func (rc *rawClient) read(b []byte) {
	rc.t.Helper()
	if _, err := io.ReadFull(rc.r, b); err != nil {
		rc.t.Fatalf("reading %d bytes from the server: %v", len(b), err)
	}
}

func (rc *rawClient) write(b []byte) {
	rc.t.Helper()
	if _, err := rc.nc.Write(b); err != nil {
		rc.t.Fatalf("writing to the server: %v", err)
	}
}

func (rc *rawClient) clientFlags(f uint32) { rc.write(be.AppendUint32(nil, f)) }

func (rc *rawClient) option(code uint32, data []byte) {
	b := be.AppendUint64(nil, IHAVEOPT)
	b = be.AppendUint32(b, code)
	b = be.AppendUint32(b, uint32(len(data)))
	rc.write(append(b, data...))
}

// optReply reads one option reply and checks it answers option.
func (rc *rawClient) optReply(option uint32) (typ uint32, data []byte) {
	rc.t.Helper()
	var h [optionReplySize]byte
	rc.read(h[:])
	if be.Uint64(h[0:]) != NBD_REP_MAGIC {
		rc.t.Fatalf("option reply magic % x", h[:8])
	}
	if got := be.Uint32(h[8:]); got != option {
		rc.t.Fatalf("reply for option %d, want %d", got, option)
	}
	data = make([]byte, be.Uint32(h[16:]))
	rc.read(data)
	return be.Uint32(h[12:]), data
}

func (rc *rawClient) expectOptReply(option, want uint32) []byte {
	rc.t.Helper()
	typ, data := rc.optReply(option)
	if typ != want {
		rc.t.Fatalf("option %d: reply type %#x (%q), want %#x", option, typ, data, want)
	}
	return data
}

// expectEOF checks that the server closed the connection.
func (rc *rawClient) expectEOF() {
	rc.t.Helper()
	b, err := io.ReadAll(rc.r)
	if err != nil && !isConnReset(err) {
		rc.t.Fatalf("waiting for the server to close: %v", err)
	}
	if len(b) != 0 {
		rc.t.Fatalf("expected the server to close, got % x", b)
	}
}

func isConnReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

func infoData(name string, infos ...uint16) []byte {
	b := be.AppendUint32(nil, uint32(len(name)))
	b = append(b, name...)
	b = be.AppendUint16(b, uint16(len(infos)))
	for _, i := range infos {
		b = be.AppendUint16(b, i)
	}
	return b
}

func metaData(name string, queries ...string) []byte {
	b := be.AppendUint32(nil, uint32(len(name)))
	b = append(b, name...)
	b = be.AppendUint32(b, uint32(len(queries)))
	for _, q := range queries {
		b = be.AppendUint32(b, uint32(len(q)))
		b = append(b, q...)
	}
	return b
}

// negotiate goes to transmission with NBD_OPT_GO, optionally with
// structured replies and base:allocation, and returns the export flags.
func (rc *rawClient) negotiate(structured bool) uint16 {
	rc.t.Helper()
	rc.clientFlags(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)
	if structured {
		rc.option(NBD_OPT_STRUCTURED_REPLY, nil)
		rc.expectOptReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK)
		rc.option(NBD_OPT_SET_META_CONTEXT, metaData("", metaBaseAllocation))
		d := rc.expectOptReply(NBD_OPT_SET_META_CONTEXT, NBD_REP_META_CONTEXT)
		if be.Uint32(d) != metaIDBaseAllocation || string(d[4:]) != metaBaseAllocation {
			rc.t.Fatalf("meta context reply % x", d)
		}
		rc.expectOptReply(NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK)
	}
	rc.option(NBD_OPT_GO, infoData(""))
	d := rc.expectOptReply(NBD_OPT_GO, NBD_REP_INFO)
	if len(d) != 12 || be.Uint16(d) != NBD_INFO_EXPORT {
		rc.t.Fatalf("NBD_INFO_EXPORT % x", d)
	}
	rc.expectOptReply(NBD_OPT_GO, NBD_REP_ACK)
	return be.Uint16(d[10:])
}

func (rc *rawClient) request(flags, typ uint16, cookie, off uint64, length uint32, payload []byte) {
	rc.t.Helper()
	b := be.AppendUint32(nil, NBD_REQUEST_MAGIC)
	b = be.AppendUint16(b, flags)
	b = be.AppendUint16(b, typ)
	b = be.AppendUint64(b, cookie)
	b = be.AppendUint64(b, off)
	b = be.AppendUint32(b, length)
	rc.write(append(b, payload...))
}

// simpleReply reads a simple reply header.
func (rc *rawClient) simpleReply() (errno uint32, cookie uint64) {
	rc.t.Helper()
	var h [simpleReplySize]byte
	rc.read(h[:])
	if be.Uint32(h[:]) != NBD_SIMPLE_REPLY_MAGIC {
		rc.t.Fatalf("simple reply magic % x", h[:4])
	}
	return be.Uint32(h[4:]), be.Uint64(h[8:])
}

func (rc *rawClient) expectSimple(cookie uint64, errno uint32) {
	rc.t.Helper()
	e, c := rc.simpleReply()
	if c != cookie || e != errno {
		rc.t.Fatalf("reply cookie %d error %d, want cookie %d error %d", c, e, cookie, errno)
	}
}

// chunk reads one structured reply chunk.
func (rc *rawClient) chunk() (flags, typ uint16, cookie uint64, payload []byte) {
	rc.t.Helper()
	var h [structuredReplySize]byte
	rc.read(h[:])
	if be.Uint32(h[:]) != NBD_STRUCTURED_REPLY_MAGIC {
		rc.t.Fatalf("structured reply magic % x", h[:4])
	}
	payload = make([]byte, be.Uint32(h[16:]))
	rc.read(payload)
	return be.Uint16(h[4:]), be.Uint16(h[6:]), be.Uint64(h[8:]), payload
}

// expectErrorChunk reads a final NBD_REPLY_TYPE_ERROR chunk.
func (rc *rawClient) expectErrorChunk(cookie uint64, errno uint32) string {
	rc.t.Helper()
	flags, typ, c, p := rc.chunk()
	if flags != NBD_REPLY_FLAG_DONE || typ != NBD_REPLY_TYPE_ERROR || c != cookie || len(p) < 6 {
		rc.t.Fatalf("chunk flags %d type %#x cookie %d payload %d bytes, want a final error chunk for %d", flags, typ, c, len(p), cookie)
	}
	if e := be.Uint32(p); e != errno {
		rc.t.Fatalf("error chunk errno %d, want %d (%q)", e, errno, p[6:])
	}
	if n := int(be.Uint16(p[4:])); n != len(p)-6 {
		rc.t.Fatalf("error chunk message length %d in %d bytes", n, len(p))
	}
	return string(p[6:])
}

// newDisk makes a file of size bytes with a known pattern.
func newDisk(t *testing.T, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>12)
	}
	path := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

func TestHandshakeBadInput(t *testing.T) {
	path, _ := newDisk(t, 1<<20)
	f := openFile(t, path, FileOptions{})
	ts := startServer(t, f, Config{ExportName: "disk"})

	t.Run("unknown client flags", func(t *testing.T) {
		rc := dialRaw(t, ts)
		rc.clientFlags(NBD_FLAG_C_FIXED_NEWSTYLE | 1<<5)
		rc.expectEOF()
	})
	t.Run("bad option magic", func(t *testing.T) {
		rc := dialRaw(t, ts)
		rc.clientFlags(NBD_FLAG_C_FIXED_NEWSTYLE)
		rc.write(bytes.Repeat([]byte{0xab}, 16))
		rc.expectEOF()
	})
	t.Run("oversized option", func(t *testing.T) {
		rc := dialRaw(t, ts)
		rc.clientFlags(NBD_FLAG_C_FIXED_NEWSTYLE)
		b := be.AppendUint64(nil, IHAVEOPT)
		b = be.AppendUint32(b, NBD_OPT_GO)
		b = be.AppendUint32(b, 1<<30)
		rc.write(b)
		rc.expectOptReply(NBD_OPT_GO, NBD_REP_ERR_TOO_BIG)
		rc.expectEOF()
	})
	t.Run("truncated option", func(t *testing.T) {
		rc := dialRaw(t, ts)
		rc.clientFlags(NBD_FLAG_C_FIXED_NEWSTYLE)
		b := be.AppendUint64(nil, IHAVEOPT)
		b = be.AppendUint32(b, NBD_OPT_GO)
		b = be.AppendUint32(b, 100)
		rc.write(append(b, make([]byte, 10)...))
		rc.nc.(*net.UnixConn).CloseWrite()
		rc.expectEOF()
	})
	t.Run("unknown export by name", func(t *testing.T) {
		rc := dialRaw(t, ts)
		rc.clientFlags(NBD_FLAG_C_FIXED_NEWSTYLE)
		rc.option(NBD_OPT_EXPORT_NAME, []byte("nope"))
		rc.expectEOF()
	})
	t.Run("abort", func(t *testing.T) {
		rc := dialRaw(t, ts)
		rc.clientFlags(NBD_FLAG_C_FIXED_NEWSTYLE)
		rc.option(NBD_OPT_ABORT, nil)
		rc.expectOptReply(NBD_OPT_ABORT, NBD_REP_ACK)
		rc.expectEOF()
	})
	t.Run("errors then success", func(t *testing.T) {
		rc := dialRaw(t, ts)
		rc.clientFlags(NBD_FLAG_C_FIXED_NEWSTYLE)
		for _, c := range []struct {
			code uint32
			data []byte
			want uint32
		}{
			{99, []byte("whatever"), NBD_REP_ERR_UNSUP},
			{NBD_OPT_STARTTLS, nil, NBD_REP_ERR_POLICY}, // no TLS configured
			{NBD_OPT_EXTENDED_HEADERS, nil, NBD_REP_ERR_UNSUP},
			{NBD_OPT_PEEK_EXPORT, nil, NBD_REP_ERR_UNSUP},
			{NBD_OPT_LIST, []byte{1}, NBD_REP_ERR_INVALID},
			{NBD_OPT_GO, []byte{0, 0, 0, 9, 'x'}, NBD_REP_ERR_INVALID},
			{NBD_OPT_INFO, infoData("", NBD_INFO_NAME)[:5], NBD_REP_ERR_INVALID},
			{NBD_OPT_GO, infoData("nope"), NBD_REP_ERR_UNKNOWN},
			{NBD_OPT_SET_META_CONTEXT, metaData("", metaBaseAllocation), NBD_REP_ERR_INVALID}, // before STRUCTURED_REPLY
			{NBD_OPT_STRUCTURED_REPLY, []byte{1}, NBD_REP_ERR_INVALID},
		} {
			rc.option(c.code, c.data)
			rc.expectOptReply(c.code, c.want)
		}
		rc.option(NBD_OPT_STRUCTURED_REPLY, nil)
		rc.expectOptReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK)
		rc.option(NBD_OPT_SET_META_CONTEXT, append(be.AppendUint32(nil, 4), "disk"...)) // malformed: no query count
		rc.expectOptReply(NBD_OPT_SET_META_CONTEXT, NBD_REP_ERR_INVALID)
		// LIST_META_CONTEXT with no query lists base:allocation, id 0.
		rc.option(NBD_OPT_LIST_META_CONTEXT, metaData("disk"))
		if d := rc.expectOptReply(NBD_OPT_LIST_META_CONTEXT, NBD_REP_META_CONTEXT); string(d[4:]) != metaBaseAllocation || be.Uint32(d) != 0 {
			t.Fatalf("LIST_META_CONTEXT reply % x", d)
		}
		rc.expectOptReply(NBD_OPT_LIST_META_CONTEXT, NBD_REP_ACK)
		// Unknown namespaces select nothing.
		rc.option(NBD_OPT_SET_META_CONTEXT, metaData("disk", "qemu:dirty-bitmap:x", "base:"))
		rc.expectOptReply(NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK)
		rc.option(NBD_OPT_LIST, nil)
		d := rc.expectOptReply(NBD_OPT_LIST, NBD_REP_SERVER)
		if be.Uint32(d) != 4 || string(d[4:8]) != "disk" {
			t.Fatalf("NBD_REP_SERVER % x", d)
		}
		rc.expectOptReply(NBD_OPT_LIST, NBD_REP_ACK)
		rc.option(NBD_OPT_INFO, infoData("disk", NBD_INFO_NAME, NBD_INFO_BLOCK_SIZE, 77))
		seen := map[uint16][]byte{}
		for {
			typ, d := rc.optReply(NBD_OPT_INFO)
			if typ == NBD_REP_ACK {
				break
			}
			if typ != NBD_REP_INFO {
				t.Fatalf("NBD_OPT_INFO reply type %#x", typ)
			}
			seen[be.Uint16(d)] = d[2:]
		}
		if string(seen[NBD_INFO_NAME]) != "disk" || len(seen[NBD_INFO_BLOCK_SIZE]) != 12 || len(seen[NBD_INFO_EXPORT]) != 10 {
			t.Fatalf("NBD_OPT_INFO replies %v", seen)
		}
		if be.Uint32(seen[NBD_INFO_BLOCK_SIZE][8:]) != DefaultMaxPayload {
			t.Errorf("maximum block size %d", be.Uint32(seen[NBD_INFO_BLOCK_SIZE][8:]))
		}
		// EXPORT_NAME ends negotiation: size, flags, no zeroes (not asked).
		rc.option(NBD_OPT_EXPORT_NAME, []byte("disk"))
		var b [10 + 124]byte
		rc.read(b[:])
		if be.Uint64(b[:]) != 1<<20 || !bytes.Equal(b[10:], make([]byte, 124)) {
			t.Fatalf("EXPORT_NAME reply % x", b[:10])
		}
		rc.request(0, NBD_CMD_READ, 1, 0, 16, nil)
		if _, typ, c, p := rc.chunk(); typ != NBD_REPLY_TYPE_OFFSET_DATA || c != 1 || len(p) != 24 {
			t.Fatalf("READ reply type %d cookie %d %d bytes", typ, c, len(p))
		}
	})
	// Through all of it the server kept serving.
	if out := run(t, "nbdinfo", "--size", ts.uri()); strings.TrimSpace(out) != "1048576" {
		t.Errorf("nbdinfo --size = %q", out)
	}
}

func TestTransmissionSimpleReplies(t *testing.T) {
	const size = 1 << 20
	path, data := newDisk(t, size)
	f := openFile(t, path, FileOptions{})
	ts := startServer(t, f, Config{MaxPayload: 256 << 10})
	rc := dialRaw(t, ts)
	flags := rc.negotiate(false)
	want := NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |
		NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FAST_ZERO | NBD_FLAG_CAN_MULTI_CONN | NBD_FLAG_SEND_CACHE
	if flags != want {
		t.Fatalf("transmission flags %#x, want %#x (no DF without structured replies)", flags, want)
	}

	readOK := func(cookie uint64, off uint64, n uint32) {
		t.Helper()
		rc.request(0, NBD_CMD_READ, cookie, off, n, nil)
		rc.expectSimple(cookie, 0)
		got := make([]byte, n)
		rc.read(got)
		if !bytes.Equal(got, data[off:off+uint64(n)]) {
			t.Fatalf("READ %d at %d: wrong data", n, off)
		}
	}
	readOK(1, 4096, 8192)

	rc.request(0, 42, 2, 0, 0, nil) // unknown command
	rc.expectSimple(2, NBD_EINVAL)
	rc.request(1<<6, NBD_CMD_READ, 3, 0, 512, nil) // unknown flag
	rc.expectSimple(3, NBD_EINVAL)
	rc.request(NBD_CMD_FLAG_DF, NBD_CMD_READ, 4, 0, 512, nil) // DF not advertised
	rc.expectSimple(4, NBD_EINVAL)
	rc.request(0, NBD_CMD_READ, 5, size-512, 1024, nil) // past the end
	rc.expectSimple(5, NBD_EINVAL)
	rc.request(0, NBD_CMD_READ, 6, 1<<64-512, 1024, nil) // offset+length wraps
	rc.expectSimple(6, NBD_EINVAL)
	rc.request(0, NBD_CMD_READ, 7, 0, 512<<10, nil) // over the maximum payload
	rc.expectSimple(7, NBD_EINVAL)
	rc.request(0, NBD_CMD_WRITE, 8, size-4, 8, []byte("12345678")) // write past the end
	rc.expectSimple(8, NBD_ENOSPC)
	rc.request(0, NBD_CMD_WRITE_ZEROES, 9, size, 4096, nil)
	rc.expectSimple(9, NBD_ENOSPC)
	rc.request(0, NBD_CMD_TRIM, 10, size, 4096, nil)
	rc.expectSimple(10, NBD_EINVAL)
	rc.request(0, NBD_CMD_BLOCK_STATUS, 11, 0, 4096, nil) // no meta context
	rc.expectSimple(11, NBD_EINVAL)
	rc.request(NBD_CMD_FLAG_REQ_ONE, NBD_CMD_WRITE, 12, 0, 4, []byte("abcd")) // flag of another command
	rc.expectSimple(12, NBD_EINVAL)
	rc.request(0, NBD_CMD_WRITE, 14, 0, 512<<10, make([]byte, 512<<10)) // over the maximum, under 32 MiB: dropped
	rc.expectSimple(14, NBD_EINVAL)
	readOK(13, 0, 4096) // the refused writes' payloads were consumed, nothing written

	// Writes, FUA, zeroes (fast and with NO_HOLE), trim, cache, flush.
	rc.request(NBD_CMD_FLAG_FUA, NBD_CMD_WRITE, 20, 100, 5, []byte("hello"))
	rc.expectSimple(20, 0)
	copy(data[100:], "hello")
	rc.request(NBD_CMD_FLAG_NO_HOLE|NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_WRITE_ZEROES, 21, 8192, 8192, nil)
	rc.expectSimple(21, 0)
	rc.request(0, NBD_CMD_WRITE_ZEROES, 22, 64<<10, 64<<10, nil)
	rc.expectSimple(22, 0)
	clear(data[8192 : 2*8192])
	clear(data[64<<10 : 128<<10])
	rc.request(0, NBD_CMD_CACHE, 23, 0, 64<<10, nil)
	rc.expectSimple(23, 0)
	rc.request(0, NBD_CMD_FLUSH, 24, 0, 0, nil)
	rc.expectSimple(24, 0)
	readOK(25, 0, 256<<10)
	rc.request(0, NBD_CMD_READ, 26, 0, 0, nil) // zero length: empty success
	rc.expectSimple(26, 0)

	// Many requests in flight, then DISC: all answered, then close.
	const n = 40
	for i := range n {
		p := bytes.Repeat([]byte{byte(i)}, 4096)
		rc.request(0, NBD_CMD_WRITE, uint64(100+i), uint64(i)*4096, 4096, p)
		copy(data[i*4096:], p)
	}
	rc.request(0, NBD_CMD_DISC, 0, 0, 0, nil)
	seen := map[uint64]bool{}
	for range n {
		e, c := rc.simpleReply()
		if e != 0 || c < 100 || c >= 100+n || seen[c] {
			t.Fatalf("reply error %d cookie %d", e, c)
		}
		seen[c] = true
	}
	rc.expectEOF()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Error("file content differs from what was written")
	}
}

func TestTransmissionStructuredReplies(t *testing.T) {
	const size = 1 << 20
	path, data := newDisk(t, size)
	if err := punchHole(int(mustOpen(t, path).Fd()), 512<<10, 256<<10); err != nil {
		t.Fatal(err)
	}
	clear(data[512<<10 : 768<<10])
	f := openFile(t, path, FileOptions{})
	ts := startServer(t, f, Config{})
	rc := dialRaw(t, ts)
	if flags := rc.negotiate(true); flags&NBD_FLAG_SEND_DF == 0 {
		t.Fatalf("flags %#x lack NBD_FLAG_SEND_DF", flags)
	}

	rc.request(NBD_CMD_FLAG_DF, NBD_CMD_READ, 1, 1000, 3000, nil)
	flags, typ, c, p := rc.chunk()
	if flags != NBD_REPLY_FLAG_DONE || typ != NBD_REPLY_TYPE_OFFSET_DATA || c != 1 || be.Uint64(p) != 1000 || !bytes.Equal(p[8:], data[1000:4000]) {
		t.Fatalf("READ chunk flags %d type %d cookie %d", flags, typ, c)
	}
	rc.request(0, NBD_CMD_READ, 2, 0, 0, nil)
	if flags, typ, c, p := rc.chunk(); flags != NBD_REPLY_FLAG_DONE || typ != NBD_REPLY_TYPE_NONE || c != 2 || len(p) != 0 {
		t.Fatalf("empty READ chunk flags %d type %d cookie %d", flags, typ, c)
	}
	rc.request(0, NBD_CMD_READ, 3, size, 1, nil)
	if msg := rc.expectErrorChunk(3, NBD_EINVAL); !strings.Contains(msg, "NBD_CMD_READ") {
		t.Errorf("error message %q", msg)
	}
	rc.request(0, NBD_CMD_WRITE, 4, size-1, 2, []byte("xy"))
	rc.expectErrorChunk(4, NBD_ENOSPC)

	// Block status: the whole file, then REQ_ONE from inside the hole.
	rc.request(0, NBD_CMD_BLOCK_STATUS, 5, 0, size, nil)
	flags, typ, c, p = rc.chunk()
	if flags != NBD_REPLY_FLAG_DONE || typ != NBD_REPLY_TYPE_BLOCK_STATUS || c != 5 || be.Uint32(p) != metaIDBaseAllocation {
		t.Fatalf("BLOCK_STATUS chunk flags %d type %d cookie %d", flags, typ, c)
	}
	type desc struct{ n, flags uint32 }
	var got []desc
	for d := p[4:]; len(d) >= 8; d = d[8:] {
		got = append(got, desc{be.Uint32(d), be.Uint32(d[4:])})
	}
	want := []desc{{512 << 10, 0}, {256 << 10, NBD_STATE_HOLE | NBD_STATE_ZERO}, {256 << 10, 0}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("extents %v, want %v", got, want)
	}
	rc.request(NBD_CMD_FLAG_REQ_ONE, NBD_CMD_BLOCK_STATUS, 6, 600<<10, 300<<10, nil)
	_, _, _, p = rc.chunk()
	if len(p) != 12 || be.Uint32(p[4:]) != 168<<10 || be.Uint32(p[8:]) != NBD_STATE_HOLE|NBD_STATE_ZERO {
		t.Fatalf("REQ_ONE reply % x", p)
	}
	rc.request(NBD_CMD_FLAG_REQ_ONE, NBD_CMD_BLOCK_STATUS, 7, 0, 100, nil)
	_, _, _, p = rc.chunk()
	if len(p) != 12 || be.Uint32(p[4:]) != 100 || be.Uint32(p[8:]) != 0 {
		t.Fatalf("REQ_ONE reply of 100 bytes % x", p)
	}
	rc.request(0, NBD_CMD_BLOCK_STATUS, 8, size-512, 1024, nil)
	rc.expectErrorChunk(8, NBD_EINVAL)
	rc.request(0, 200, 9, 0, 0, nil)
	rc.expectErrorChunk(9, NBD_EINVAL)
	rc.request(0, NBD_CMD_FLUSH, 10, 0, 0, nil)
	rc.expectSimple(10, 0)
	rc.request(0, NBD_CMD_DISC, 0, 0, 0, nil)
	rc.expectEOF()
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestReadOnlyRefusesWrites(t *testing.T) {
	path, data := newDisk(t, 64<<10)
	f := openFile(t, path, FileOptions{ReadOnly: true})
	ts := startServer(t, f, Config{ReadOnly: true})
	rc := dialRaw(t, ts)
	flags := rc.negotiate(false)
	if flags&NBD_FLAG_READ_ONLY == 0 || flags&(NBD_FLAG_SEND_TRIM|NBD_FLAG_SEND_WRITE_ZEROES|NBD_FLAG_SEND_FUA) != 0 {
		t.Fatalf("read-only export flags %#x", flags)
	}
	rc.request(0, NBD_CMD_WRITE, 1, 0, 4, []byte("nope"))
	rc.expectSimple(1, NBD_EPERM)
	rc.request(0, NBD_CMD_TRIM, 2, 0, 4096, nil)
	rc.expectSimple(2, NBD_EPERM)
	rc.request(0, NBD_CMD_WRITE_ZEROES, 3, 0, 4096, nil)
	rc.expectSimple(3, NBD_EPERM)
	rc.request(0, NBD_CMD_WRITE, 4, 1<<30, 4, []byte("nope")) // EPERM before ENOSPC
	rc.expectSimple(4, NBD_EPERM)
	rc.request(0, NBD_CMD_READ, 5, 0, 4, nil)
	rc.expectSimple(5, 0)
	got := make([]byte, 4)
	rc.read(got)
	if !bytes.Equal(got, data[:4]) {
		t.Fatalf("read % x", got)
	}
}

// TestOversizedPayload sends a WRITE claiming 3 GiB: the server answers
// EINVAL and hangs up without allocating it, and serves others meanwhile.
func TestOversizedPayload(t *testing.T) {
	path, _ := newDisk(t, 1<<20)
	f := openFile(t, path, FileOptions{})
	ts := startServer(t, f, Config{MaxPayload: 1 << 20})
	rc := dialRaw(t, ts)
	rc.negotiate(false)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rc.request(0, NBD_CMD_WRITE, 1, 0, 3<<30, make([]byte, 1000))
	rc.expectSimple(1, NBD_EINVAL)
	rc.expectEOF()
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 256<<20 {
		t.Errorf("server allocated %d MiB for a refused 3 GiB payload", d>>20)
	}
	other := dialRaw(t, ts)
	other.negotiate(false)
	other.request(0, NBD_CMD_FLUSH, 7, 0, 0, nil)
	other.expectSimple(7, 0)
}

// countingPolicy counts the evict handles and streams that are open.
type countingPolicy struct {
	mu      sync.Mutex
	handles int
	streams int
	writes  int
}

func (p *countingPolicy) String() string { return "counting" }
func (p *countingPolicy) Attach(*os.File) (evict.Handle, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.handles++
	return countingHandle{p}, nil
}
func (p *countingPolicy) open() (handles, streams, writes int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.handles, p.streams, p.writes
}

type countingHandle struct{ p *countingPolicy }

func (h countingHandle) Stream() evict.Stream {
	h.p.mu.Lock()
	defer h.p.mu.Unlock()
	h.p.streams++
	return &countingStream{p: h.p}
}
func (h countingHandle) Close() error {
	h.p.mu.Lock()
	defer h.p.mu.Unlock()
	h.p.handles--
	return nil
}

type countingStream struct {
	p      *countingPolicy
	closed bool
}

func (s *countingStream) AfterWrite(int64, int) error {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.p.writes++
	return nil
}
func (s *countingStream) AfterRead(int64, int) error { return nil }
func (s *countingStream) Close() error {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if s.closed {
		return errors.New("stream closed twice")
	}
	s.closed = true
	s.p.streams--
	return nil
}

// waitGoroutines waits until no more than n goroutines run.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
	}
}

// TestVanishingClient: clients that disappear mid-request leave no
// goroutine, buffer budget, session or eviction stream behind.
func TestVanishingClient(t *testing.T) {
	path, _ := newDisk(t, 4<<20)
	pol := &countingPolicy{}
	f := openFile(t, path, FileOptions{Policy: pol})
	closed := make(chan struct{}, 10)
	ts := startServer(t, f, Config{Workers: 4, MaxInFlight: 1 << 20, ConnState: func(_ net.Conn, s ConnState) {
		if s == StateClosed {
			closed <- struct{}{}
		}
	}})
	// Idle baseline: one stream for the File's own methods.
	if h, s, _ := pol.open(); h != 1 || s != 1 {
		t.Fatalf("baseline: %d handles, %d streams", h, s)
	}
	base := runtime.NumGoroutine()

	// 1. Half a WRITE payload, then gone.
	rc := dialRaw(t, ts)
	rc.negotiate(false)
	rc.request(0, NBD_CMD_WRITE, 1, 0, 1<<20, make([]byte, 1000))
	rc.nc.Close()
	<-closed
	// 2. Many READs in flight, replies never read (more than the budget).
	rc = dialRaw(t, ts)
	rc.negotiate(true)
	for i := range 64 {
		rc.request(0, NBD_CMD_READ, uint64(i), uint64(i%4)<<20, 1<<20, nil)
	}
	rc.nc.Close()
	<-closed
	// 3. Writes in flight, then gone without DISC.
	rc = dialRaw(t, ts)
	rc.negotiate(false)
	for i := range 16 {
		rc.request(0, NBD_CMD_WRITE, uint64(i), uint64(i)*4096, 4096, make([]byte, 4096))
	}
	rc.nc.Close()
	<-closed
	// 4. In the middle of the handshake.
	rc = dialRaw(t, ts)
	rc.clientFlags(NBD_FLAG_C_FIXED_NEWSTYLE)
	rc.write(be.AppendUint64(nil, IHAVEOPT))
	rc.nc.Close()
	<-closed

	if h, s, _ := pol.open(); h != 1 || s != 1 {
		t.Errorf("after the clients left: %d handles, %d streams open, want 1 and 1", h, s)
	}
	waitGoroutines(t, base)
}

// TestShutdownDrains: Shutdown answers what is in flight, flushes, closes
// idle connections and makes Serve return.
func TestShutdownDrains(t *testing.T) {
	path, _ := newDisk(t, 1<<20)
	pol := &countingPolicy{}
	f := openFile(t, path, FileOptions{Policy: pol})
	ts := startServer(t, f, Config{})
	rc := dialRaw(t, ts)
	rc.negotiate(false)
	for i := range 8 {
		rc.request(0, NBD_CMD_WRITE, uint64(i), uint64(i)*4096, 4096, bytes.Repeat([]byte{'s'}, 4096))
	}
	for range 8 {
		if e, _ := rc.simpleReply(); e != 0 {
			t.Fatalf("write error %d", e)
		}
	}
	negotiating := dialRaw(t, ts) // still in the handshake
	if err := ts.srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	rc.expectEOF()
	negotiating.expectEOF()
	if err := <-ts.served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
	ts.served <- ErrServerClosed // for the cleanup's check
	if _, s, w := pol.open(); s != 1 || w != 8 {
		t.Errorf("after shutdown: %d streams open (want 1: the File's own), %d writes seen (want 8)", s, w)
	}
	if _, err := net.Dial("unix", ts.sock); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

// TestFastZeroFailsFast: where only writing zero buffers is left, a
// FAST_ZERO request fails with ENOTSUP and writes nothing.
func TestFastZeroFailsFast(t *testing.T) {
	dir, err := os.MkdirTemp("/dev/shm", "nbdserve-")
	if err != nil {
		t.Skip("no /dev/shm")
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "z.img")
	if err := os.WriteFile(path, bytes.Repeat([]byte{7}, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	f := openFile(t, path, FileOptions{})
	if err := zeroRange(f.fd, 0, 4096); !isNotSupported(err) {
		t.Skipf("zero range works here (%v): no slow path to test", err)
	}
	ts := startServer(t, f, Config{})
	rc := dialRaw(t, ts)
	rc.negotiate(true)
	rc.request(NBD_CMD_FLAG_NO_HOLE|NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_WRITE_ZEROES, 1, 0, 8192, nil)
	rc.expectErrorChunk(1, NBD_ENOTSUP)
	got, _ := os.ReadFile(path)
	if got[0] != 7 {
		t.Fatal("a failed fast zero changed the data")
	}
	rc.request(NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE_ZEROES, 2, 0, 8192, nil) // slow path allowed
	rc.expectSimple(2, 0)
	rc.request(NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_WRITE_ZEROES, 3, 16384, 8192, nil) // may punch: fast
	rc.expectSimple(3, 0)
	got, _ = os.ReadFile(path)
	if !bytes.Equal(got[:8192], make([]byte, 8192)) || !bytes.Equal(got[16384:24576], make([]byte, 8192)) || got[8192] != 7 {
		t.Fatal("zeroed ranges wrong")
	}
}

// TestPayloadStream sends writes of sizes around bufio's buffer (which
// large payloads bypass) back to back in one stream, with reads and a
// refused write between them, then reads everything back.
func TestPayloadStream(t *testing.T) {
	const size = 4 << 20
	path, data := newDisk(t, size)
	f := openFile(t, path, FileOptions{})
	ts := startServer(t, f, Config{MaxPayload: 1 << 20})
	rc := dialRaw(t, ts)
	rc.negotiate(false)
	var stream []byte
	off, cookie := uint64(0), uint64(1)
	var cookies []uint64
	for i, n := range []int{64 << 10, 1, 300 << 10, 200 << 10, 64<<10 - 1, 64<<10 + 1, 4096, 1 << 20, 17, 96 << 10} {
		p := make([]byte, n)
		for k := range p {
			p[k] = byte(i*31 + k*7)
		}
		copy(data[off:], p)
		b := be.AppendUint32(nil, NBD_REQUEST_MAGIC)
		b = be.AppendUint16(b, 0)
		b = be.AppendUint16(b, NBD_CMD_WRITE)
		b = be.AppendUint64(b, cookie)
		b = be.AppendUint64(b, off)
		b = be.AppendUint32(b, uint32(n))
		stream = append(append(stream, b...), p...)
		cookies = append(cookies, cookie)
		cookie++
		off += uint64(n)
		if i%3 == 1 {
			// A write past the end: refused, its payload dropped.
			b = be.AppendUint32(nil, NBD_REQUEST_MAGIC)
			b = be.AppendUint16(b, 0)
			b = be.AppendUint16(b, NBD_CMD_WRITE)
			b = be.AppendUint64(b, 1000+cookie)
			b = be.AppendUint64(b, size-100)
			b = be.AppendUint32(b, 200<<10)
			stream = append(append(stream, b...), make([]byte, 200<<10)...)
		}
	}
	go rc.nc.Write(stream) // replies come while it is being written
	seen := map[uint64]uint32{}
	for range len(cookies) + 3 {
		e, c := rc.simpleReply()
		seen[c] = e
	}
	for _, c := range cookies {
		if e, ok := seen[c]; !ok || e != 0 {
			t.Fatalf("write %d: error %d (answered %v)", c, e, ok)
		}
	}
	for c, e := range seen {
		if c > 1000 && e != NBD_ENOSPC {
			t.Fatalf("write past the end %d: error %d", c, e)
		}
	}
	for at := uint64(0); at < off; at += 1 << 20 {
		n := min(off-at, 1<<20)
		rc.request(0, NBD_CMD_READ, 99, at, uint32(n), nil)
		rc.expectSimple(99, 0)
		got := make([]byte, n)
		rc.read(got)
		if !bytes.Equal(got, data[at:at+n]) {
			t.Fatalf("data read back at %d differs from what was written", at)
		}
	}
}

// orderLog is a backend whose sessions record the offsets of the writes
// they finish, in the order they finish them, each after a random pause
// of up to 200 µs (as pwrites of different lengths of time would).
type orderLog struct {
	Backend
	mu   sync.Mutex
	offs []int64
}

func (b *orderLog) Connect() (Session, error) {
	s, err := b.Backend.Connect()
	return orderLogSession{s, b}, err
}

type orderLogSession struct {
	Session
	b *orderLog
}

func (s orderLogSession) WriteAt(p []byte, off int64, fua bool) error {
	err := s.Session.WriteAt(p, off, fua)
	time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
	s.b.mu.Lock()
	s.b.offs = append(s.b.offs, off)
	s.b.mu.Unlock()
	return err
}

// TestOrderedWrites: with Config.OrderedWrites a connection's writes
// reach the session in the order they were sent, whatever the workers.
func TestOrderedWrites(t *testing.T) {
	const n, size = 200, 4096
	path, _ := newDisk(t, n*size)
	b := &orderLog{Backend: openFile(t, path, FileOptions{})}
	ts := startServer(t, b, Config{OrderedWrites: true, Workers: 8})
	rc := dialRaw(t, ts)
	rc.negotiate(false)
	var stream []byte
	for i := range n {
		b := be.AppendUint32(nil, NBD_REQUEST_MAGIC)
		b = be.AppendUint16(b, 0)
		b = be.AppendUint16(b, NBD_CMD_WRITE)
		b = be.AppendUint64(b, uint64(i))
		b = be.AppendUint64(b, uint64(i*size))
		b = be.AppendUint32(b, size)
		stream = append(append(stream, b...), make([]byte, size)...)
		if i%50 == 0 {
			// Reads in between go to the workers meanwhile.
			b = be.AppendUint32(nil, NBD_REQUEST_MAGIC)
			b = be.AppendUint16(b, 0)
			b = be.AppendUint16(b, NBD_CMD_READ)
			b = be.AppendUint64(b, uint64(1000+i))
			b = be.AppendUint64(b, 0)
			b = be.AppendUint32(b, 0)
			stream = append(stream, b...)
		}
	}
	go rc.nc.Write(stream)
	for range n + 4 {
		if e, c := rc.simpleReply(); e != 0 {
			t.Fatalf("request %d: error %d", c, e)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, off := range b.offs {
		if off != int64(i*size) {
			t.Fatalf("write %d reached the session as the %dth: order %v", off/size, i, b.offs)
		}
	}
}
