package nbdserve

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pagecache-suite/wcache/internal/testcert"
)

// tlsDirs are certificate directories for one test: the server's
// (nbdkit's layout), and three client ones (libnbd's layout): the right
// CA without and with a client certificate, and another CA with a
// client certificate of its own.
type tlsDirs struct {
	server, client, clientCert, wrongCA string
	ca                                  *testcert.CA
}

func makeTLSDirs(t *testing.T) tlsDirs {
	t.Helper()
	base := t.TempDir()
	d := tlsDirs{
		server:     filepath.Join(base, "server"),
		client:     filepath.Join(base, "client"),
		clientCert: filepath.Join(base, "client-cert"),
		wrongCA:    filepath.Join(base, "wrong-ca"),
	}
	ca, err := testcert.NewCA("wcache test CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := testcert.NewCA("another CA")
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		ca.WriteServer(d.server),
		ca.WriteClient(d.client, false),
		ca.WriteClient(d.clientCert, true),
		other.WriteClient(d.wrongCA, true),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	d.ca = ca
	return d
}

func loadTLS(t *testing.T, dir string, verifyPeer bool) *tls.Config {
	t.Helper()
	cfg, err := LoadTLSConfig(dir, verifyPeer)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// uris makes libnbd URIs for a server: with TLS and the client
// certificate directory dir, or in plaintext when dir is "".
type uris func(dir string) string

// serveTLS serves b with cfg on a Unix socket and on TCP (127.0.0.1)
// and returns URI makers for both.
func serveTLS(t *testing.T, b Backend, cfg Config) (unixURI, tcpURI uris) {
	t.Helper()
	ts := startServer(t, b, cfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, l, b, cfg)
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	unixURI = func(dir string) string {
		if dir == "" {
			return ts.uri()
		}
		return "nbds+unix:///?socket=" + ts.sock + "&tls-certificates=" + dir
	}
	tcpURI = func(dir string) string {
		if dir == "" {
			return "nbd://localhost:" + port + "/"
		}
		return "nbds://localhost:" + port + "/?tls-certificates=" + dir
	}
	return unixURI, tcpURI
}

// nbdinfoTLS runs nbdinfo on uri and reports its output and whether the
// connection used TLS; ok is false when nbdinfo failed.
func nbdinfoTLS(t *testing.T, uri string) (out string, withTLS, ok bool) {
	t.Helper()
	out, err := exec("nbdinfo", uri)
	return out, strings.Contains(out, "with TLS"), err == nil
}

// TestTLSInterop runs libnbd's clients against --tls=require: nbdinfo
// and nbdcopy over nbds:// and nbds+unix://, a plaintext client refused,
// a server certificate from another CA rejected.
func TestTLSInterop(t *testing.T) {
	need(t, "nbdinfo", "nbdcopy", "cmp")
	d := makeTLSDirs(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src.img")
	testImage.write(t, src)
	out := filepath.Join(dir, "out.img")
	f := openFile(t, out, FileOptions{Size: testImage.size})
	unixURI, tcpURI := serveTLS(t, f, Config{TLS: loadTLS(t, d.server, false), RequireTLS: true})

	t.Run("nbdinfo", func(t *testing.T) {
		for _, uri := range []string{unixURI(d.client), tcpURI(d.client)} {
			o, withTLS, ok := nbdinfoTLS(t, uri)
			if !ok || !withTLS || !strings.Contains(o, "export-size: "+strconv.FormatInt(testImage.size, 10)) {
				t.Errorf("nbdinfo %s: ok %v, TLS %v:\n%s", uri, ok, withTLS, o)
			}
		}
	})
	t.Run("nbdcopy", func(t *testing.T) {
		run(t, "nbdcopy", "--flush", src, tcpURI(d.client))
		cmpFiles(t, src, out)
		back := filepath.Join(dir, "back.img")
		run(t, "nbdcopy", unixURI(d.client), back)
		cmpFiles(t, src, back)
	})
	t.Run("plaintext refused", func(t *testing.T) {
		// libnbd says "server requires TLS encryption first" when an
		// option is answered with NBD_REP_ERR_TLS_REQD.
		for _, uri := range []string{unixURI(""), tcpURI("")} {
			o, err := exec("nbdinfo", "--size", uri)
			if err == nil || !strings.Contains(o, "requires TLS") {
				t.Errorf("nbdinfo --size %s: %v, want a failure saying TLS is required:\n%s", uri, err, o)
			}
		}
		for _, args := range [][]string{{unixURI(""), filepath.Join(dir, "never.img")}, {src, tcpURI("")}} {
			o, err := exec("nbdcopy", args...)
			if err == nil || !strings.Contains(o, "requires TLS") {
				t.Errorf("nbdcopy %q: %v, want a failure saying TLS is required:\n%s", args, err, o)
			}
		}
	})
	t.Run("wrong CA", func(t *testing.T) {
		// libnbd 1.14 checks the server's certificate only over TCP,
		// where it has a host name to check it against.
		o, _, ok := nbdinfoTLS(t, tcpURI(d.wrongCA))
		if ok || !strings.Contains(o, "verif") {
			t.Errorf("nbdinfo with another CA: ok %v, want a certificate verification failure:\n%s", ok, o)
		}
	})
}

// TestTLSOptional serves plaintext and TLS clients alike (--tls=on).
func TestTLSOptional(t *testing.T) {
	need(t, "nbdinfo")
	d := makeTLSDirs(t)
	f := openFile(t, sparseFile(t, 1<<20), FileOptions{})
	unixURI, tcpURI := serveTLS(t, f, Config{TLS: loadTLS(t, d.server, false)})
	for _, c := range []struct {
		uri     string
		withTLS bool
	}{
		{unixURI(""), false}, {tcpURI(""), false},
		{unixURI(d.client), true}, {tcpURI(d.client), true},
	} {
		o, withTLS, ok := nbdinfoTLS(t, c.uri)
		if !ok || withTLS != c.withTLS {
			t.Errorf("nbdinfo %s: ok %v, TLS %v, want TLS %v:\n%s", c.uri, ok, withTLS, c.withTLS, o)
		}
	}
}

// TestTLSVerifyPeer requires client certificates signed by the CA.
func TestTLSVerifyPeer(t *testing.T) {
	need(t, "nbdinfo")
	d := makeTLSDirs(t)
	f := openFile(t, sparseFile(t, 1<<20), FileOptions{})
	unixURI, tcpURI := serveTLS(t, f, Config{TLS: loadTLS(t, d.server, true), RequireTLS: true})
	for _, mk := range []uris{unixURI, tcpURI} {
		if o, withTLS, ok := nbdinfoTLS(t, mk(d.clientCert)); !ok || !withTLS {
			t.Errorf("nbdinfo with a client certificate: ok %v, TLS %v:\n%s", ok, withTLS, o)
		}
		if o, _, ok := nbdinfoTLS(t, mk(d.client)); ok {
			t.Errorf("nbdinfo without a client certificate succeeded:\n%s", o)
		}
	}
	// A client certificate from another CA, over the Unix socket where
	// libnbd does not check the server's.
	if o, _, ok := nbdinfoTLS(t, unixURI(d.wrongCA)); ok {
		t.Errorf("nbdinfo with a client certificate of another CA succeeded:\n%s", o)
	}
}

// startTLSClient upgrades rc after the server acknowledged STARTTLS.
func (rc *rawClient) startTLS(roots *x509.CertPool) {
	rc.t.Helper()
	tc := tls.Client(rc.nc, &tls.Config{ServerName: "localhost", RootCAs: roots, MinVersion: tls.VersionTLS12})
	if err := tc.Handshake(); err != nil {
		rc.t.Fatalf("TLS handshake: %v", err)
	}
	rc.nc = tc
	rc.r = bufio.NewReader(tc)
}

func caPool(t *testing.T, d tlsDirs) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(d.ca.PEM) {
		t.Fatal("CA certificate does not parse")
	}
	return pool
}

// TestTLSForced checks the FORCEDTLS rules of doc/proto.md byte by byte.
func TestTLSForced(t *testing.T) {
	d := makeTLSDirs(t)
	path, want := newDisk(t, 1<<20)
	f := openFile(t, path, FileOptions{})
	ts := startServer(t, f, Config{TLS: loadTLS(t, d.server, false), RequireTLS: true})

	t.Run("options refused before TLS", func(t *testing.T) {
		rc := dialRaw(t, ts)
		rc.clientFlags(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)
		for _, o := range []struct {
			code uint32
			data []byte
		}{
			{NBD_OPT_LIST, nil},
			{NBD_OPT_INFO, infoData("")},
			{NBD_OPT_GO, infoData("")},
			{NBD_OPT_STRUCTURED_REPLY, nil},
			{NBD_OPT_LIST_META_CONTEXT, metaData("")},
			{NBD_OPT_SET_META_CONTEXT, metaData("", metaBaseAllocation)},
			{NBD_OPT_EXTENDED_HEADERS, nil},
			{99, []byte("unknown")},
		} {
			rc.option(o.code, o.data)
			rc.expectOptReply(o.code, NBD_REP_ERR_TLS_REQD)
		}
		rc.option(NBD_OPT_STARTTLS, []byte{1})
		rc.expectOptReply(NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID)
		rc.option(NBD_OPT_ABORT, nil)
		rc.expectOptReply(NBD_OPT_ABORT, NBD_REP_ACK)
		rc.expectEOF()
	})
	t.Run("EXPORT_NAME before TLS hangs up", func(t *testing.T) {
		rc := dialRaw(t, ts)
		rc.clientFlags(NBD_FLAG_C_FIXED_NEWSTYLE)
		rc.option(NBD_OPT_EXPORT_NAME, nil)
		rc.expectEOF()
	})
	t.Run("haggling and transmission over TLS", func(t *testing.T) {
		rc := dialRaw(t, ts)
		rc.clientFlags(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)
		rc.option(NBD_OPT_STARTTLS, nil)
		rc.expectOptReply(NBD_OPT_STARTTLS, NBD_REP_ACK)
		rc.startTLS(caPool(t, d))
		rc.option(NBD_OPT_STARTTLS, nil)
		rc.expectOptReply(NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID)
		rc.option(NBD_OPT_LIST, nil)
		rc.expectOptReply(NBD_OPT_LIST, NBD_REP_SERVER)
		rc.expectOptReply(NBD_OPT_LIST, NBD_REP_ACK)
		rc.option(NBD_OPT_STRUCTURED_REPLY, nil)
		rc.expectOptReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK)
		rc.option(NBD_OPT_GO, infoData(""))
		rc.expectOptReply(NBD_OPT_GO, NBD_REP_INFO)
		rc.expectOptReply(NBD_OPT_GO, NBD_REP_ACK)
		rc.request(0, NBD_CMD_READ, 7, 4096, 8192, nil)
		flags, typ, cookie, p := rc.chunk()
		if flags != NBD_REPLY_FLAG_DONE || typ != NBD_REPLY_TYPE_OFFSET_DATA || cookie != 7 || be.Uint64(p) != 4096 || !bytes.Equal(p[8:], want[4096:4096+8192]) {
			t.Fatalf("READ over TLS: flags %#x type %d cookie %d, %d bytes", flags, typ, cookie, len(p))
		}
		rc.request(0, NBD_CMD_DISC, 8, 0, 0, nil)
		rc.expectEOF()
	})
}

// TestTLSSelective checks --tls=on: plaintext haggling is served, and
// what it negotiated is forgotten once TLS starts.
func TestTLSSelective(t *testing.T) {
	d := makeTLSDirs(t)
	path, want := newDisk(t, 1<<20)
	f := openFile(t, path, FileOptions{})
	ts := startServer(t, f, Config{TLS: loadTLS(t, d.server, false)})

	rc := dialRaw(t, ts)
	rc.clientFlags(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)
	rc.option(NBD_OPT_STRUCTURED_REPLY, nil)
	rc.expectOptReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK)
	rc.option(NBD_OPT_STARTTLS, nil)
	rc.expectOptReply(NBD_OPT_STARTTLS, NBD_REP_ACK)
	rc.startTLS(caPool(t, d))
	rc.option(NBD_OPT_GO, infoData(""))
	rc.expectOptReply(NBD_OPT_GO, NBD_REP_INFO)
	rc.expectOptReply(NBD_OPT_GO, NBD_REP_ACK)
	// Structured replies were negotiated in plaintext only: simple reply.
	rc.request(0, NBD_CMD_READ, 1, 0, 512, nil)
	rc.expectSimple(1, 0)
	got := make([]byte, 512)
	rc.read(got)
	if !bytes.Equal(got, want[:512]) {
		t.Fatal("READ over TLS returned other data")
	}
}

// TestTLSInjection: bytes sent after STARTTLS in the same write, before
// the server's answer, would be taken for TLS data; the server hangs up.
func TestTLSInjection(t *testing.T) {
	d := makeTLSDirs(t)
	f := openFile(t, sparseFile(t, 1<<20), FileOptions{})
	ts := startServer(t, f, Config{TLS: loadTLS(t, d.server, false), RequireTLS: true})
	rc := dialRaw(t, ts)
	rc.clientFlags(NBD_FLAG_C_FIXED_NEWSTYLE)
	b := be.AppendUint64(nil, IHAVEOPT)
	b = be.AppendUint32(b, NBD_OPT_STARTTLS)
	b = be.AppendUint32(b, 0)
	b = be.AppendUint64(b, IHAVEOPT) // a plaintext option riding along
	b = be.AppendUint32(b, NBD_OPT_STRUCTURED_REPLY)
	b = be.AppendUint32(b, 0)
	rc.write(b)
	rc.expectOptReply(NBD_OPT_STARTTLS, NBD_REP_ACK)
	rc.expectEOF()
}

// TestTLSMissingFiles: the errors name what is missing.
func TestTLSMissingFiles(t *testing.T) {
	d := makeTLSDirs(t)
	if _, err := LoadTLSConfig(d.client, false); err == nil || !strings.Contains(err.Error(), ServerCertFile) {
		t.Errorf("LoadTLSConfig without a server certificate: %v", err)
	}
	if err := os.Remove(filepath.Join(d.server, CACertFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTLSConfig(d.server, false); err != nil {
		t.Errorf("LoadTLSConfig without ca-cert.pem, not verifying peers: %v", err)
	}
	if _, err := LoadTLSConfig(d.server, true); err == nil || !strings.Contains(err.Error(), CACertFile) {
		t.Errorf("LoadTLSConfig verifying peers without ca-cert.pem: %v", err)
	}
}
