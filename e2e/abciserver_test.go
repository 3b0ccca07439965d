package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/consort-ledger/consort/client"
)

// goBuild builds a main package of this module's build list into dir.
func goBuild(t *testing.T, dir, pkg, name string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// startProcess runs a command until the test ends, logging to a file that is
// printed if the test fails.
func startProcess(t *testing.T, logPath string, name string, args ...string) {
	t.Helper()
	startProcessWith(t, logPath, nil, name, args...)
}

// startProcessWith is startProcess with env added to the environment.
func startProcessWith(t *testing.T, logPath string, env []string, name string, args ...string) {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log (tail):\n%s", filepath.Base(name), tail(b, 3000))
		}
	})
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// TestStockCometBFTWithABCIServer runs the ledger out of process, the way
// CometBFT operators know: `consort abci-server` serves it to a stock
// `cometbft start --proxy_app`, built from the same CometBFT version.
func TestStockCometBFTWithABCIServer(t *testing.T) {
	bin := t.TempDir()
	consort := goBuild(t, bin, "github.com/consort-ledger/consort/cmd/consort", "consort")
	cometbft := goBuild(t, bin, "github.com/cometbft/cometbft/cmd/cometbft", "cometbft")

	home := t.TempDir()
	rpc, abciAddr := freePort(t), freePort(t)
	init := exec.Command(consort, "init", "--home", home, "--chain-id", "ext-test",
		"--accounts", "admin,alice,bob", "--asset", "USD:2", "--fund", "alice=USD:50.00",
		"--rpc-laddr", "tcp://127.0.0.1:"+strconv.Itoa(rpc), "--p2p-laddr", "tcp://127.0.0.1:"+strconv.Itoa(freePort(t)),
		"--metrics-laddr", "127.0.0.1:"+strconv.Itoa(freePort(t)), "--timeout-commit", "100ms")
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("consort init: %v\n%s", err, out)
	}
	proxy := "tcp://127.0.0.1:" + strconv.Itoa(abciAddr)
	startProcess(t, filepath.Join(bin, "abci.log"), consort, "abci-server", "--home", home, "--addr", proxy)
	// The home's config.toml is CometBFT's own; the ledger keeps data/app.
	startProcess(t, filepath.Join(bin, "cometbft.log"), cometbft, "start", "--home", home, "--proxy_app", proxy)

	c, err := client.New(client.Config{Node: "http://127.0.0.1:" + strconv.Itoa(rpc)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "second block from the stock node", func() bool {
		st, err := c.Status(context.Background())
		return err == nil && st.Height >= 2
	})
	send := exec.Command(consort, "tx", "send", "--home", home, "--from", "alice", "--to", "bob", "--asset", "USD", "--amount", "7.25", "--output", "json")
	out, err := send.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte(`"code": 0`)) {
		t.Fatalf("tx send through the stock node: %v\n%s", err, out)
	}
	query := exec.Command(consort, "query", "balance", "bob", "--asset", "USD", "--home", home)
	out, err = query.CombinedOutput()
	if got := strings.TrimSpace(string(out)); err != nil || got != "7.25 USD" {
		t.Fatalf("bob's balance: got %q (%v), want \"7.25 USD\"", got, err)
	}
}
