package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"
)

// The binary: --help says what it is not, it prints its address when ready,
// answers, and exits 0 on SIGTERM.
func TestBinaryStartsAndStopsOnSIGTERM(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "vaultdev")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	help, _ := exec.Command(bin, "--help").CombinedOutput()
	for _, want := range []string{"NOT Vault", "no seal", "no HA", "no audit", "NOT\nencrypted"} {
		if !strings.Contains(string(help), want) {
			t.Errorf("--help does not say %q:\n%s", want, help)
		}
	}
	if err := exec.Command(bin, "--listen", "127.0.0.1:0").Run(); err == nil {
		t.Error("started without a root token")
	}

	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--data", t.TempDir())
	cmd.Env = append(cmd.Environ(), "VAULTDEV_ROOT_TOKEN=tok-from-env")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("no listening line: %v\n%s", err, stderr.String())
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "vaultdev listening on ")
	if !ok || !strings.HasPrefix(addr, "http://127.0.0.1:") {
		t.Fatalf("listening line %q", line)
	}
	req, _ := http.NewRequest("GET", addr+"/v1/auth/token/lookup-self", nil)
	req.Header.Set("X-Vault-Token", "tok-from-env")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("lookup-self with the root token from the environment: %d", resp.StatusCode)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, _ = io.Copy(io.Discard, out); done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not stop within 15s of SIGTERM")
	}
	if strings.Contains(stderr.String(), "tok-from-env") {
		t.Fatal("the root token is in the log")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The request log has method, path and status, and never a token, a
// request body or a query string.
func TestLogHoldsNoTokensOrBodies(t *testing.T) {
	var logs syncBuffer
	st, _ := openStore("")
	srv, err := newServer(context.Background(), st, testRoot, hclog.New(&hclog.LoggerOptions{Output: &logs}))
	if err != nil {
		t.Fatal(err)
	}
	d := &devServer{srv: srv}
	d.http = newHTTPTestServer(t, srv)
	root := d.client(t, testRoot)
	mustWrite(t, root, "secret/data/logged", map[string]interface{}{"data": map[string]interface{}{"pw": "body-secret-value"}})
	if _, err := root.Logical().ReadWithData("secret/data/logged", map[string][]string{"version": {"1"}}); err != nil {
		t.Fatal(err)
	}
	login := appRoleLogin(t, root, "1h")
	signer := d.client(t, login.Auth.ClientToken)
	if _, err := signer.Auth().Token().LookupSelf(); err != nil {
		t.Fatal(err)
	}
	got := logs.String()
	if !strings.Contains(got, "path=/v1/secret/data/logged status=200") {
		t.Fatalf("the log lacks the request line:\n%s", got)
	}
	for _, secret := range []string{testRoot, login.Auth.ClientToken, "body-secret-value", "version=1"} {
		if strings.Contains(got, secret) {
			t.Fatalf("the log holds %q:\n%s", secret, got)
		}
	}
}
