package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
)

// listenFreePorts returns n distinct loopback TCP ports that were free a
// moment ago: the kernel picks each for a listener on :0, and all listeners
// stay open until the last is picked, so no port is handed out twice.
func listenFreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// freePorts is listenFreePorts for tests.
func freePorts(tb testing.TB, n int) []int {
	tb.Helper()
	p, err := listenFreePorts(n)
	if err != nil {
		tb.Fatalf("free ports: %v", err)
	}
	return p
}

// buildConsort builds this command into a temporary folder and returns the
// binary's path.
func buildConsort(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "consort")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// nodePorts are the loopback addresses of one node.
type nodePorts struct{ rpc, p2p, metrics int }

func newNodePorts(tb testing.TB) nodePorts {
	tb.Helper()
	p := freePorts(tb, 3)
	return nodePorts{rpc: p[0], p2p: p[1], metrics: p[2]}
}

func (p nodePorts) rpcURL() string { return fmt.Sprintf("http://127.0.0.1:%d", p.rpc) }

// listenFlags are the start flags that put a node on these ports.
func (p nodePorts) listenFlags() []string {
	return []string{
		"--rpc-laddr", fmt.Sprintf("tcp://127.0.0.1:%d", p.rpc),
		"--p2p-laddr", fmt.Sprintf("tcp://127.0.0.1:%d", p.p2p),
		"--metrics-laddr", fmt.Sprintf("127.0.0.1:%d", p.metrics),
	}
}

// nodeProcess is a running `consort start`, its output kept in files.
type nodeProcess struct {
	cmd            *exec.Cmd
	stdout, stderr string // file paths
	done           chan struct{}
	waitErr        error
}

// startNode runs bin with args (a `start` command line) in the background.
// Its stdout and stderr go to files named after label in dir. Cleanup kills
// it if it still runs and, when the test failed, logs the files' tails.
func startNode(t *testing.T, bin, dir, label string, args ...string) *nodeProcess {
	t.Helper()
	n := &nodeProcess{
		stdout: filepath.Join(dir, label+".stdout"),
		stderr: filepath.Join(dir, label+".stderr"),
		done:   make(chan struct{}),
	}
	outF, err := os.Create(n.stdout)
	if err != nil {
		t.Fatal(err)
	}
	errF, err := os.Create(n.stderr)
	if err != nil {
		outF.Close()
		t.Fatal(err)
	}
	n.cmd = exec.Command(bin, args...)
	n.cmd.Stdout, n.cmd.Stderr = outF, errF
	if err := n.cmd.Start(); err != nil {
		outF.Close()
		errF.Close()
		t.Fatalf("start %s: %v", label, err)
	}
	go func() {
		n.waitErr = n.cmd.Wait()
		outF.Close()
		errF.Close()
		close(n.done)
	}()
	t.Cleanup(func() {
		if n.running() {
			_ = n.cmd.Process.Kill()
		}
		select {
		case <-n.done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s did not exit after SIGKILL", label)
		}
		if t.Failed() {
			t.Logf("%s stdout (tail):\n%s", label, tailFile(n.stdout, 20))
			t.Logf("%s stderr (tail):\n%s", label, tailFile(n.stderr, 40))
		}
	})
	return n
}

func (n *nodeProcess) running() bool {
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (n *nodeProcess) kill(t *testing.T) {
	t.Helper()
	if err := n.cmd.Process.Kill(); err != nil && n.running() {
		t.Fatalf("kill node: %v", err)
	}
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		t.Fatal("node did not exit after SIGKILL")
	}
}

// tailFile returns the last n lines of a file, or why it cannot.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", filepath.Base(path), err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// newRPC returns a CometBFT RPC client for a node's RPC URL. Each request
// times out after 10 seconds, so a hung node fails the test.
func newRPC(tb testing.TB, url string) *rpchttp.HTTP {
	tb.Helper()
	c, err := rpchttp.NewWithTimeout(url, "/websocket", 10)
	if err != nil {
		tb.Fatalf("rpc client for %s: %v", url, err)
	}
	return c
}

// waitHeight polls the node's status until its latest block height is at
// least min and returns that height. It fails the test at the deadline.
func waitHeight(tb testing.TB, c *rpchttp.HTTP, min int64, timeout time.Duration) int64 {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	var height int64
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := c.Status(ctx)
		cancel()
		if err == nil {
			height = st.SyncInfo.LatestBlockHeight
			if height >= min {
				return height
			}
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("node did not reach height %d within %s (last height %d, last error %v)", min, timeout, height, last)
	return 0
}

// runCLI runs bin with args and returns stdout, stderr and the error, with a
// deadline so that a hung command fails the test instead of stalling it.
func runCLI(tb testing.TB, bin string, args ...string) (string, string, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}
