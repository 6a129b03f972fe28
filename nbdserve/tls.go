package nbdserve

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// TLS. A Server with Config.TLS set answers NBD_OPT_STARTTLS with
// NBD_REP_ACK and continues the option haggling over TLS on the same
// connection, as doc/proto.md's "TLS support" section defines it. With
// Config.RequireTLS it runs in the spec's FORCEDTLS mode: before TLS,
// every option but STARTTLS and ABORT is refused with
// NBD_REP_ERR_TLS_REQD, and NBD_OPT_EXPORT_NAME (which cannot be
// refused) ends the connection. Without it (SELECTIVETLS with no
// TLS-only export) clients choose. Without Config.TLS (NOTLS) STARTTLS
// is refused with NBD_REP_ERR_POLICY.
//
// Whatever was negotiated before STARTTLS (structured replies, the meta
// context) is forgotten once TLS is up, so that nothing a man in the
// middle injected in plaintext carries over; and a client that sent
// bytes after STARTTLS before the server's answer (which would be read
// as if they had come over TLS) is disconnected.

// Certificate file names in a certificate directory, as nbdkit and
// qemu-nbd lay it out.
const (
	CACertFile     = "ca-cert.pem"
	ServerCertFile = "server-cert.pem"
	ServerKeyFile  = "server-key.pem"
)

// LoadTLSConfig reads the server's certificate and key (server-cert.pem,
// server-key.pem) from dir. With verifyPeer, clients must present a
// certificate signed by a CA in dir's ca-cert.pem. TLS 1.2 is the least
// version accepted, as the spec asks.
func LoadTLSConfig(dir string, verifyPeer bool) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, ServerCertFile), filepath.Join(dir, ServerKeyFile))
	if err != nil {
		return nil, fmt.Errorf("loading the server certificate from %s: %w", dir, err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}
	if verifyPeer {
		caFile := filepath.Join(dir, CACertFile)
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("verifying clients needs the CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate in it", caFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// errTLSRequired ends a connection that asked for transmission
// (NBD_OPT_EXPORT_NAME, which cannot be refused) before TLS when TLS is
// required.
var errTLSRequired = errors.New("nbd: TLS required before NBD_OPT_EXPORT_NAME")

// errTLSInjection ends a connection whose client sent data after
// NBD_OPT_STARTTLS before reading the server's answer.
var errTLSInjection = errors.New("nbd: plaintext data after NBD_OPT_STARTTLS")

// tlsRefusal answers whether an option may be served before TLS:
// refused is true (with the reply sent or the connection to end) when
// the server requires TLS and the client has not started it.
func (c *conn) tlsRefusal(code uint32) (refused bool, err error) {
	if !c.srv.cfg.RequireTLS || c.srv.cfg.TLS == nil || c.tls != nil {
		return false, nil
	}
	switch code {
	case NBD_OPT_STARTTLS, NBD_OPT_ABORT:
		return false, nil
	case NBD_OPT_EXPORT_NAME:
		return true, errTLSRequired
	}
	c.optError(code, NBD_REP_ERR_TLS_REQD, "TLS is required: send NBD_OPT_STARTTLS first")
	return true, nil
}

// startTLS answers NBD_OPT_STARTTLS and, if it is accepted, upgrades the
// connection: the rest of the handshake and the transmission run over
// TLS.
func (c *conn) startTLS(data []byte) error {
	const code = NBD_OPT_STARTTLS
	switch {
	case c.srv.cfg.TLS == nil:
		c.optError(code, NBD_REP_ERR_POLICY, "TLS is not enabled on this server")
		return nil
	case c.tls != nil:
		c.optError(code, NBD_REP_ERR_INVALID, "TLS is already running")
		return nil
	case len(data) != 0:
		c.optError(code, NBD_REP_ERR_INVALID, "NBD_OPT_STARTTLS takes no data")
		return nil
	}
	c.optReply(code, NBD_REP_ACK, nil)
	if err := c.bw.Flush(); err != nil {
		return err
	}
	if c.br.Buffered() != 0 {
		// The client cannot have seen the ACK: these bytes were sent in
		// plaintext, and must not pass for data sent over TLS.
		return fmt.Errorf("%w (%d bytes)", errTLSInjection, c.br.Buffered())
	}
	tc := tls.Server(c.nc, c.srv.cfg.TLS)
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	st := tc.ConnectionState()
	c.log.Debug("TLS started", "version", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite), "client-certificate", len(st.PeerCertificates) > 0)
	c.tls = tc
	c.nc = tc
	c.rl.r = tc
	c.br.Reset(&c.rl)
	c.bw.Reset(tc)
	// Forget what was negotiated in plaintext.
	c.structured = false
	c.meta = false
	return nil
}
