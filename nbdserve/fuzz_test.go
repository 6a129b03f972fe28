package nbdserve

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOption feeds option requests to the handshake's option handler and
// checks that every answer is well-formed: replies to the option asked,
// ending with ACK or an error, or the EXPORT_NAME reply.
// The seed corpus is in testdata/fuzz/FuzzOption.
func FuzzOption(f *testing.F) {
	path := filepath.Join(f.TempDir(), "disk.img")
	if err := os.WriteFile(path, make([]byte, 1<<20), 0o644); err != nil {
		f.Fatal(err)
	}
	fl, err := OpenFile(path, FileOptions{})
	if err != nil {
		f.Fatal(err)
	}
	defer fl.Close()
	srv := NewServer(fl, Config{ExportName: "disk", Description: "fuzz"})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	f.Add(false, optStream(NBD_OPT_GO, infoData("disk", NBD_INFO_BLOCK_SIZE)))
	f.Add(true, optStream(NBD_OPT_SET_META_CONTEXT, metaData("", "base:allocation")))
	f.Fuzz(func(t *testing.T, structured bool, stream []byte) {
		var out bytes.Buffer
		c := &conn{srv: srv, log: log, br: bufio.NewReader(bytes.NewReader(stream)), bw: bufio.NewWriter(&out), structured: structured}
		for range 8 {
			h, data, err := readOption(c.br)
			if err != nil {
				return
			}
			if uint32(len(data)) != h.length || h.length > maxOptionData {
				t.Fatalf("option %d: read %d bytes of %d", h.code, len(data), h.length)
			}
			out.Reset()
			done, err := c.option(h.code, data)
			c.bw.Flush()
			checkOptionReplies(t, h.code, done, err, out.Bytes())
			if done || err != nil {
				return
			}
		}
	})
}

// optStream encodes one option request.
func optStream(code uint32, data []byte) []byte {
	b := be.AppendUint64(nil, IHAVEOPT)
	b = be.AppendUint32(b, code)
	b = be.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

func checkOptionReplies(t *testing.T, code uint32, done bool, err error, out []byte) {
	t.Helper()
	if code == NBD_OPT_EXPORT_NAME {
		if done && len(out) != 10+124 {
			t.Fatalf("EXPORT_NAME reply of %d bytes", len(out))
		}
		if !done && (err == nil || len(out) != 0) {
			t.Fatalf("refused EXPORT_NAME: err %v, %d bytes sent", err, len(out))
		}
		return
	}
	sawExport := false
	for len(out) > 0 {
		if len(out) < optionReplySize {
			t.Fatalf("option %d: %d stray bytes", code, len(out))
		}
		if be.Uint64(out) != NBD_REP_MAGIC || be.Uint32(out[8:]) != code {
			t.Fatalf("option %d: reply header % x", code, out[:optionReplySize])
		}
		typ, n := be.Uint32(out[12:]), be.Uint32(out[16:])
		if uint32(len(out)-optionReplySize) < n {
			t.Fatalf("option %d: reply length %d beyond %d bytes", code, n, len(out))
		}
		body := out[optionReplySize : optionReplySize+n]
		out = out[optionReplySize+n:]
		final := typ == NBD_REP_ACK || typ&NBD_REP_FLAG_ERROR != 0
		if final != (len(out) == 0) {
			t.Fatalf("option %d: reply type %#x with %d bytes after it", code, typ, len(out))
		}
		if typ == NBD_REP_INFO && len(body) >= 2 && be.Uint16(body) == NBD_INFO_EXPORT {
			sawExport = len(body) == 12
		}
		if typ == NBD_REP_ACK && (code == NBD_OPT_GO || code == NBD_OPT_INFO) && !sawExport {
			t.Fatalf("option %d acknowledged without NBD_INFO_EXPORT", code)
		}
	}
	if done != (code == NBD_OPT_GO && sawExport) {
		t.Fatalf("option %d: done=%v", code, done)
	}
}

// FuzzRequest decodes request headers and checks the server's verdict on
// them against the rules of the spec. The seed corpus is in
// testdata/fuzz/FuzzRequest.
func FuzzRequest(f *testing.F) {
	req := func(flags, typ uint16, off uint64, n uint32) []byte {
		b := be.AppendUint32(nil, NBD_REQUEST_MAGIC)
		b = be.AppendUint16(b, flags)
		b = be.AppendUint16(b, typ)
		b = be.AppendUint64(b, 1)
		b = be.AppendUint64(b, off)
		return be.AppendUint32(b, n)
	}
	f.Add(req(0, NBD_CMD_READ, 0, 4096), uint64(1<<20), uint16(0x0fff), true, true)
	f.Add(req(NBD_CMD_FLAG_FUA, NBD_CMD_WRITE, 1<<20-1, 2), uint64(1<<20), uint16(NBD_FLAG_READ_ONLY), false, false)
	f.Fuzz(func(t *testing.T, hdr []byte, size uint64, flags uint16, structured, meta bool) {
		r, err := decodeRequest(hdr)
		if len(hdr) < requestSize || be.Uint32(hdr) != NBD_REQUEST_MAGIC {
			if err == nil {
				t.Fatalf("decodeRequest(% x) accepted", hdr)
			}
			return
		}
		if err != nil {
			t.Fatalf("decodeRequest: %v", err)
		}
		re := be.AppendUint32(nil, NBD_REQUEST_MAGIC)
		re = be.AppendUint16(re, r.flags)
		re = be.AppendUint16(re, r.typ)
		re = be.AppendUint64(re, r.cookie)
		re = be.AppendUint64(re, r.offset)
		re = be.AppendUint32(re, r.length)
		if !bytes.Equal(re, hdr[:requestSize]) {
			t.Fatalf("decode/encode mismatch: % x vs % x", re, hdr[:requestSize])
		}
		st := exportState{size: size, flags: flags | NBD_FLAG_HAS_FLAGS, structured: structured, meta: meta && structured, maxPayload: 1 << 20}
		e := st.check(r)
		switch e {
		case 0, NBD_EINVAL, NBD_EPERM, NBD_ENOSPC:
		default:
			t.Fatalf("check gave error %d", e)
		}
		if e != 0 {
			return
		}
		if r.flags&^st.commandFlags(r.typ) != 0 {
			t.Fatalf("accepted flags %#x on command %d", r.flags, r.typ)
		}
		end := r.offset + uint64(r.length)
		ro := st.flags&NBD_FLAG_READ_ONLY != 0
		switch r.typ {
		case NBD_CMD_READ, NBD_CMD_WRITE, NBD_CMD_CACHE:
			if r.length > st.maxPayload {
				t.Fatalf("accepted %d bytes over the maximum payload", r.length)
			}
		case NBD_CMD_DISC, NBD_CMD_FLUSH, NBD_CMD_TRIM, NBD_CMD_WRITE_ZEROES, NBD_CMD_BLOCK_STATUS:
		default:
			t.Fatalf("accepted unknown command %d", r.typ)
		}
		switch r.typ {
		case NBD_CMD_READ, NBD_CMD_WRITE, NBD_CMD_CACHE, NBD_CMD_TRIM, NBD_CMD_WRITE_ZEROES, NBD_CMD_BLOCK_STATUS:
			if end < r.offset || end > size {
				t.Fatalf("accepted [%d, +%d) on a %d-byte export", r.offset, r.length, size)
			}
		}
		switch r.typ {
		case NBD_CMD_WRITE, NBD_CMD_TRIM, NBD_CMD_WRITE_ZEROES:
			if ro {
				t.Fatalf("accepted command %d on a read-only export", r.typ)
			}
		case NBD_CMD_BLOCK_STATUS:
			if !st.meta {
				t.Fatal("accepted BLOCK_STATUS without a meta context")
			}
		}
	})
}
