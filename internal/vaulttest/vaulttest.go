// Package vaulttest gives tests a Vault to talk to: by default the vaultdev
// development server (tools/vaultdev: Vault's own transit, KV v2 and AppRole
// engines behind Vault's HTTP API), built once per test process and started
// on a free loopback port with its own data directory and a random root
// token; or, when VAULT_ADDR and VAULT_TOKEN are both set, that real Vault.
//
// It imports only the standard library, so any package's tests can use it.
package vaulttest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a running Vault for one test.
type Server struct {
	t     testing.TB
	addr  string // http://host:port
	token string
	real  bool

	// dev server only
	bin     string
	dataDir string
	listen  string // host:port, fixed after the first start
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start returns a Vault for t, stopped in t.Cleanup. With VAULT_ADDR and
// VAULT_TOKEN set it is that Vault (which must answer sys/health); otherwise
// a fresh vaultdev server.
func Start(t testing.TB) *Server {
	t.Helper()
	if addr, token := os.Getenv("VAULT_ADDR"), os.Getenv("VAULT_TOKEN"); addr != "" && token != "" {
		s := &Server{t: t, addr: strings.TrimRight(addr, "/"), token: token, real: true}
		if err := waitHealthy(s.addr, 10*time.Second); err != nil {
			t.Fatalf("vaulttest: VAULT_ADDR is set but that Vault is not healthy: %v", err)
		}
		return s
	}
	return startDev(t, "127.0.0.1:0")
}

// StartDev returns a fresh vaultdev server listening on listen (host:port,
// port 0 picks a free one, kept across restarts), stopped in t.Cleanup. It
// ignores VAULT_ADDR and VAULT_TOKEN: it is for tests that stop and restart
// their Vault, or that must reach it on an address other than loopback
// (from another network namespace, say).
func StartDev(t testing.TB, listen string) *Server {
	t.Helper()
	return startDev(t, listen)
}

func startDev(t testing.TB, listen string) *Server {
	t.Helper()
	bin, err := devBinary()
	if err != nil {
		t.Fatalf("vaulttest: building vaultdev: %v", err)
	}
	tok, err := randomHex(16)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &Server{
		t:       t,
		token:   "root-" + tok,
		bin:     bin,
		dataDir: filepath.Join(dir, "data"),
		listen:  listen,
		logPath: filepath.Join(dir, "vaultdev.log"),
	}
	t.Cleanup(func() {
		s.stop(syscall.SIGTERM)
		if t.Failed() {
			if tail := logTail(s.logPath, 40); tail != "" {
				t.Logf("vaultdev log (last lines):\n%s", tail)
			}
		}
	})
	if err := s.start(); err != nil {
		t.Fatalf("vaulttest: %v", err)
	}
	return s
}

// Addr is the server's address, http://host:port (no trailing slash).
func (s *Server) Addr() string { return s.addr }

// Token is the root token (or VAULT_TOKEN for a real Vault).
func (s *Server) Token() string { return s.token }

// Real reports whether this is a real Vault from VAULT_ADDR/VAULT_TOKEN.
func (s *Server) Real() bool { return s.real }

// Env is VAULT_ADDR and VAULT_TOKEN for a child process (a CLI under test,
// a script) to find this server.
func (s *Server) Env() []string {
	return []string{"VAULT_ADDR=" + s.addr, "VAULT_TOKEN=" + s.token}
}

// Stop stops the dev server gracefully (SIGTERM) and waits for it.
func (s *Server) Stop() {
	s.t.Helper()
	s.needDev("Stop")
	s.stop(syscall.SIGTERM)
}

// Kill kills the dev server (SIGKILL) and waits for it: what it had
// acknowledged is on disk, nothing else.
func (s *Server) Kill() {
	s.t.Helper()
	s.needDev("Kill")
	s.stop(syscall.SIGKILL)
}

// Restart stops the dev server if it is running and starts it again on the
// same address with the same data and root token.
func (s *Server) Restart() {
	s.t.Helper()
	s.needDev("Restart")
	s.stop(syscall.SIGTERM)
	if err := s.start(); err != nil {
		s.t.Fatalf("vaulttest: restart: %v", err)
	}
}

func (s *Server) needDev(what string) {
	s.t.Helper()
	if s.real {
		s.t.Skipf("needs the dev server: %s cannot be done to the real Vault at VAULT_ADDR", what)
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("vaultdev is already running")
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, "--listen", s.listen, "--data", s.dataDir)
	// The root token goes through the environment, not argv, so it does not
	// show in the process list.
	cmd.Env = append(os.Environ(), "VAULTDEV_ROOT_TOKEN="+s.token)
	cmd.Stderr = logf
	dieWithParent(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if a, ok := strings.CutPrefix(line, "vaultdev listening on "); ok && !sent {
				addrc <- a
				sent = true
			}
		}
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-done:
		return fmt.Errorf("vaultdev exited before listening: %s", logTail(s.logPath, 20))
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return errors.New("vaultdev did not start listening within 60s")
	}
	s.cmd, s.done = cmd, done
	s.addr = addr
	s.listen = strings.TrimPrefix(addr, "http://")
	if err := waitHealthy(s.addr, 30*time.Second); err != nil {
		return err
	}
	return nil
}

func (s *Server) stop(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd, s.done = nil, nil
}

func waitHealthy(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for time.Now().Before(deadline) {
		resp, err := client.Get(addr + "/v1/sys/health")
		if err == nil {
			var h struct {
				Initialized bool `json:"initialized"`
				Sealed      bool `json:"sealed"`
			}
			err = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK && h.Initialized && !h.Sealed {
				return nil
			}
			if err == nil {
				err = fmt.Errorf("sys/health: status %d, initialized %v, sealed %v", resp.StatusCode, h.Initialized, h.Sealed)
			}
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not healthy within %s: %v", within, last)
}

// Request sends one API call with the server's token: method, a path under
// /v1/ (say "sys/mounts" or "secret/data/x"), and a body marshalled as JSON
// when not nil. It returns the status and the decoded JSON answer (nil for an
// empty one).
func (s *Server) Request(method, path string, body any) (int, map[string]any, error) {
	return request(s.addr, s.token, method, path, body)
}

func request(addr, token, method, path string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, addr+"/v1/"+strings.TrimPrefix(path, "/"), rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Vault-Token", token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return resp.StatusCode, nil, nil
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: answer is not JSON: %v", method, path, err)
	}
	return resp.StatusCode, out, nil
}

// EnsureMounts makes sure the mounts consort uses exist, enabling each one
// that is missing: transit/ (transit), secret/ (KV version 2) and
// auth/approle/ (AppRole). A secret/ that exists as KV version 1 fails the
// test: it would not be changed behind its owner's back.
func (s *Server) EnsureMounts(t testing.TB) {
	t.Helper()
	status, out, err := s.Request("GET", "sys/mounts", nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("vaulttest: sys/mounts: status %d, %v %v", status, err, out)
	}
	mounts, _ := out["data"].(map[string]any)
	if m, ok := mounts["secret/"].(map[string]any); ok {
		if m["type"] != "kv" {
			t.Fatalf("vaulttest: secret/ is a %v mount, not kv", m["type"])
		}
		opts, _ := m["options"].(map[string]any)
		if opts == nil || opts["version"] != "2" {
			t.Fatalf("vaulttest: secret/ is KV version 1; consort needs version 2")
		}
	} else {
		s.mustEnable(t, "sys/mounts/secret", map[string]any{"type": "kv", "options": map[string]any{"version": "2"}})
	}
	if m, ok := mounts["transit/"].(map[string]any); ok {
		if m["type"] != "transit" {
			t.Fatalf("vaulttest: transit/ is a %v mount, not transit", m["type"])
		}
	} else {
		s.mustEnable(t, "sys/mounts/transit", map[string]any{"type": "transit"})
	}
	status, out, err = s.Request("GET", "sys/auth", nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("vaulttest: sys/auth: status %d, %v %v", status, err, out)
	}
	auths, _ := out["data"].(map[string]any)
	if _, ok := auths["approle/"]; !ok {
		s.mustEnable(t, "sys/auth/approle", map[string]any{"type": "approle"})
	}
}

func (s *Server) mustEnable(t testing.TB, path string, body map[string]any) {
	t.Helper()
	status, out, err := s.Request("POST", path, body)
	if err != nil || status/100 != 2 {
		t.Fatalf("vaulttest: enabling %s: status %d, %v %v", path, status, err, out)
	}
}

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// devBinary builds tools/vaultdev once per test process. The binary is kept
// in the user cache directory under a hash of vaultdev's sources, so test
// processes share it and an unchanged vaultdev is not linked again; it is
// written under a temporary name and renamed, so processes building at the
// same time do not see half a file.
func devBinary() (string, error) {
	buildOnce.Do(func() { buildBin, buildErr = build() })
	return buildBin, buildErr
}

func build() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	src := filepath.Join(root, "tools", "vaultdev")
	sum, err := sourceHash(src)
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	base := filepath.Join(cache, "consort-vaultdev")
	dir := filepath.Join(base, sum[:16])
	bin := filepath.Join(dir, "vaultdev")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, "vaultdev.tmp*")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command(goTool(), "build", "-C", src, "-o", tmp.Name(), ".")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build in tools/vaultdev: %v\n%s", err, out.String())
	}
	if err := os.Rename(tmp.Name(), bin); err != nil {
		return "", err
	}
	// Older builds are of no further use.
	if olds, err := os.ReadDir(base); err == nil {
		for _, o := range olds {
			if o.Name() != filepath.Base(dir) {
				_ = os.RemoveAll(filepath.Join(base, o.Name()))
			}
		}
	}
	return bin, nil
}

func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

// repoRoot walks up to the main module's go.mod, from this source file when
// it is on disk and from the working directory otherwise.
func repoRoot() (string, error) {
	var starts []string
	if _, file, _, ok := runtime.Caller(0); ok && fileExists(file) {
		starts = append(starts, filepath.Dir(file))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, dir := range starts {
		for {
			if fileExists(filepath.Join(dir, "go.mod")) && fileExists(filepath.Join(dir, "tools", "vaultdev", "go.mod")) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("cannot find the repository root (a go.mod beside tools/vaultdev)")
}

// sourceHash covers everything that goes into the binary: go.mod, go.sum
// and the non-test Go files, plus the Go version building it.
func sourceHash(dir string) (string, error) {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		n := d.Name()
		if n == "go.mod" || n == "go.sum" || (strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go")) {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	h := sha256.New()
	fmt.Fprintln(h, runtime.Version())
	for _, n := range names {
		raw, err := os.ReadFile(n)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(dir, n)
		fmt.Fprintf(h, "%s %d\n", rel, len(raw))
		h.Write(raw)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func logTail(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
