package cli

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pagecache-suite/wcache/nbdserve"
)

// tlsOptions are nbdkit's TLS flags.
type tlsOptions struct {
	mode       string // --tls as given
	dir        string // --tls-certificates
	verifyPeer bool   // --tls-verify-peer
	require    bool   // from mode
	enabled    bool   // from mode
}

// check interprets the flags: --tls takes off, on or require, and the
// other words nbdkit accepts for them.
func (t *tlsOptions) check() error {
	switch strings.ToLower(t.mode) {
	case "", "off", "no", "false", "0":
	case "on", "yes", "true", "1":
		t.enabled = true
	case "require", "required", "force":
		t.enabled, t.require = true, true
	default:
		return fmt.Errorf("%w: --tls=%q: want off, on or require", errUsage, t.mode)
	}
	return nil
}

// config loads the certificates: from --tls-certificates, else nbdkit's
// default directory (/etc/pki/nbdkit for root, $HOME/.pki/nbdkit for
// others). nil when TLS is off.
func (t *tlsOptions) config() (*tls.Config, error) {
	if !t.enabled {
		return nil, nil
	}
	dir := t.dir
	if dir == "" {
		dir = "/etc/pki/nbdkit"
		if os.Geteuid() != 0 {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, fmt.Errorf("--tls=%s without --tls-certificates: %w", t.mode, err)
			}
			dir = filepath.Join(home, ".pki", "nbdkit")
		}
	}
	return nbdserve.LoadTLSConfig(dir, t.verifyPeer)
}

// setEnv adjusts what --run sees, as nbdkit does: $tls is 1 (on) or 2
// (require), unset when TLS is off, and $uri uses nbds when TLS is
// required.
func (t *tlsOptions) setEnv(env map[string]string) {
	switch {
	case t.require:
		env["tls"] = "2"
		if rest, ok := strings.CutPrefix(env["uri"], "nbd"); ok {
			env["uri"] = "nbds" + rest
			env["nbd"] = env["uri"]
		}
	case t.enabled:
		env["tls"] = "1"
	}
}
