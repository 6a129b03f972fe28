package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pagecache-suite/wcache/internal/testcert"
)

func TestTLSUsage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f.img")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-psk=/etc/keys.psk", "--tls=require", file}, "--tls-psk is not supported"},
		{[]string{"--tls=maybe", file}, `--tls="maybe"`},
	} {
		status, out, errOut := mainOut(c.args...)
		if status != 2 || out != "" || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") > 2 {
			t.Errorf("nbdserve %q: status %d, stdout %q, stderr %q; want 2 and one line with %q", c.args, status, out, errOut, c.want)
		}
	}
}

// TestTLSCaptive: --tls=require with nbdkit's certificate directory; $uri
// is nbds+unix, libnbd's nbdinfo connects over TLS and a plaintext
// nbdinfo is refused.
func TestTLSCaptive(t *testing.T) {
	needProgs(t, "nbdinfo")
	dir := t.TempDir()
	srvDir, cliDir := filepath.Join(dir, "server"), filepath.Join(dir, "client")
	ca, err := testcert.NewCA("cli test CA")
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteServer(srvDir); err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteClient(cliDir, true); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "f.img")
	script := `case $tls$uri in 2nbds+unix:*) ;; *) echo "tls $tls uri $uri"; exit 9 ;; esac
nbdinfo --size "$uri&tls-certificates=` + cliDir + `" || exit 10
nbdinfo --size "nbd+unix:///?socket=$unixsocket" 2>&1 && exit 11
exit 0`
	for _, flags := range [][]string{
		{"--tls=require", "--tls-certificates=" + srvDir},
		{"--tls", "required", "--tls-certificates", srvDir, "--tls-verify-peer"},
	} {
		args := append(append([]string{}, flags...), "--size", "1M", file, "--run", script)
		status, out, errOut := mainOut(args...)
		if status != 0 || !strings.HasPrefix(out, "1048576\n") || !strings.Contains(out, "requires TLS") {
			t.Errorf("nbdserve %q: status %d, stdout %q, stderr %q", flags, status, out, errOut)
		}
	}

	// --tls=on: $tls is 1, and both kinds of client are served.
	status, out, errOut := mainOut("--tls=on", "--tls-certificates="+srvDir, file, "--run",
		`echo "tls=$tls"; nbdinfo --size "$uri" && nbdinfo --size "nbds+unix:///?socket=$unixsocket&tls-certificates=`+cliDir+`"`)
	if status != 0 || out != "tls=1\n1048576\n1048576\n" {
		t.Errorf("--tls=on: status %d, stdout %q, stderr %q", status, out, errOut)
	}

	// Missing certificates: require fails, on serves plaintext (as nbdkit).
	status, _, errOut = mainOut("--tls=require", "--tls-certificates="+cliDir, file, "--run", "true")
	if status != 1 || !strings.Contains(errOut, "server-cert.pem") {
		t.Errorf("--tls=require without a server certificate: status %d, stderr %q", status, errOut)
	}
	status, out, errOut = mainOut("--tls=on", "--tls-certificates="+cliDir, file, "--run", `nbdinfo --size "$uri"; echo "tls=${tls-unset}"`)
	if status != 0 || out != "1048576\ntls=unset\n" || !strings.Contains(errOut, "TLS is disabled") {
		t.Errorf("--tls=on without a server certificate: status %d, stdout %q, stderr %q", status, out, errOut)
	}
}
