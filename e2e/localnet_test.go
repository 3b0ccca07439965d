package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/consort-ledger/consort/client"
	"github.com/consort-ledger/consort/internal/ports"
)

// localnetValidators is the size of the network scripts/localnet.sh runs.
const localnetValidators = 4

// localnet drives scripts/localnet.sh against a network folder and ports of
// its own, so that it never meets a developer's ./localnet.
type localnet struct {
	t        *testing.T
	script   string
	consort  string
	dir      string
	basePort int
	env      []string
}

// TestLocalnet runs the four-validator loopback network of
// scripts/localnet.sh as real processes: `up` returns once every node makes
// blocks, a payment from admin0 on node0 shows on node3, all nodes agree on
// the app hash of a common height, `status` reports every node signing, and
// `down` leaves no process behind.
func TestLocalnet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four node processes")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("scripts/localnet.sh needs bash")
	}
	script, err := filepath.Abs(filepath.Join("..", "scripts", "localnet.sh"))
	if err != nil {
		t.Fatal(err)
	}
	ln := &localnet{
		t: t, script: script,
		consort:  goBuild(t, t.TempDir(), "github.com/consort-ledger/consort/cmd/consort", "consort"),
		dir:      filepath.Join(t.TempDir(), "localnet"),
		basePort: ports.TestnetLayout(t, localnetValidators),
	}
	ln.env = append(os.Environ(),
		"LOCALNET_DIR="+ln.dir,
		"LOCALNET_BASE_PORT="+strconv.Itoa(ln.basePort),
		"LOCALNET_TIMEOUT=45",
		"CONSORT_BIN="+ln.consort,
	)
	start := time.Now()
	// Registered before `up`, so that a failure anywhere still stops the
	// nodes; the check that nothing is left runs after `down` either way.
	var pids []int
	t.Cleanup(func() {
		if t.Failed() {
			ln.printLogs()
		}
		ln.run(context.Background(), "down")
		ln.assertStopped(pids)
		t.Logf("localnet test took %s", time.Since(start).Round(100*time.Millisecond))
	})

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if out, err := ln.run(ctx, "up", "--timeout-commit", "200ms"); err != nil {
		t.Fatalf("localnet.sh up: %v\n%s", err, out)
	}
	pids = ln.pids()
	if len(pids) != localnetValidators {
		t.Fatalf("got %d pid files, want %d", len(pids), localnetValidators)
	}
	nodes := make([]*client.Client, localnetValidators)
	for i := range nodes {
		c, err := client.New(client.Config{Node: fmt.Sprintf("http://127.0.0.1:%d", ln.basePort+1+100*i)})
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = c
		if h := latestHeight(ctx, c); h < 2 {
			t.Fatalf("node%d: height %d after up, want at least 2", i, h)
		}
	}

	t.Run("status shows every node signing", func(t *testing.T) {
		waitReport(t, 20*time.Second, "every node connected to 3 peers and signing", func() (bool, string) {
			out, err := ln.run(ctx, "status")
			if err != nil {
				return false, fmt.Sprintf("status: %v\n%s", err, out)
			}
			rows := statusRows(out)
			if len(rows) != localnetValidators {
				return false, fmt.Sprintf("got %d node rows, want %d:\n%s", len(rows), localnetValidators, out)
			}
			for _, r := range rows {
				if r["peers"] != strconv.Itoa(localnetValidators-1) || r["power"] != "10" || r["signing"] != "yes" {
					return false, string(out)
				}
			}
			return true, ""
		})
	})

	t.Run("payment on node0 is seen on node3", func(t *testing.T) {
		out, err := ln.consortCmd(ctx, "tx", "send", "--home", ln.home(0), "--from", "admin0", "--to", "admin3",
			"--asset", "USD", "--amount", "12.34", "--output", "json")
		if err != nil {
			t.Fatalf("tx send: %v\n%s", err, out)
		}
		waitReport(t, 15*time.Second, "admin3 holding 12.34 USD on node3", func() (bool, string) {
			out, err := ln.consortCmd(ctx, "query", "balance", "admin3", "--asset", "USD", "--home", ln.home(3), "--output", "json")
			if err != nil {
				return false, string(out)
			}
			var b struct{ Amount string }
			if err := json.Unmarshal(out, &b); err != nil {
				return false, string(out)
			}
			return b.Amount == "12.34", "amount " + b.Amount
		})
	})

	t.Run("all nodes have one app hash at a common height", func(t *testing.T) {
		common := latestHeight(ctx, nodes[0])
		for _, c := range nodes[1:] {
			common = min(common, latestHeight(ctx, c))
		}
		var want string
		for i, c := range nodes {
			res, err := c.RPC().Commit(ctx, &common)
			if err != nil {
				t.Fatalf("node%d commit %d: %v", i, common, err)
			}
			got := res.Header.AppHash.String()
			if i == 0 {
				want = got
				continue
			}
			if got != want {
				t.Errorf("node%d app hash at height %d: got %s, want node0's %s", i, common, got, want)
			}
		}
		t.Logf("app hash at height %d: %s", common, want)
	})

	t.Run("every node's metrics endpoint serves CometBFT's and consort's series", func(t *testing.T) {
		for i := range nodes {
			url := fmt.Sprintf("http://127.0.0.1:%d/metrics", ln.basePort+4+100*i)
			resp, err := http.Get(url)
			if err != nil {
				t.Fatalf("node%d: %v", i, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			for _, series := range []string{"cometbft_consensus_height", `consort_txs_total{code="0",type="transfer"}`, "consort_utxos", "consort_asset_supply"} {
				if !strings.Contains(string(body), series) {
					t.Errorf("node%d %s: no %s series", i, url, series)
				}
			}
		}
	})
}

// run runs localnet.sh with args and returns its combined output.
func (ln *localnet) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "bash", append([]string{ln.script}, args...)...)
	cmd.Env = ln.env
	// The nodes `up` starts write only to their log files, so waiting for
	// the script does not wait for them.
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

// consortCmd runs the consort binary with args and returns its stdout.
func (ln *localnet) consortCmd(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, ln.consort, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return append(out, stderr.Bytes()...), err
	}
	return out, nil
}

func (ln *localnet) home(i int) string { return filepath.Join(ln.dir, fmt.Sprintf("node%d", i)) }

// pids reads the pid files `up` wrote.
func (ln *localnet) pids() []int {
	var pids []int
	for i := range localnetValidators {
		b, err := os.ReadFile(filepath.Join(ln.dir, fmt.Sprintf("node%d.pid", i)))
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// assertStopped fails the test if a node process or listener outlived `down`.
func (ln *localnet) assertStopped(pids []int) {
	t := ln.t
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("node process %d still runs after localnet.sh down", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for i := range localnetValidators {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ln.basePort+1+100*i))
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("node%d RPC %s still answers after localnet.sh down", i, addr)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(ln.dir, "*.pid")); len(left) > 0 {
		t.Errorf("pid files left after down: %v", left)
	}
}

// printLogs logs the end of every node's log.
func (ln *localnet) printLogs() {
	for i := range localnetValidators {
		b, err := os.ReadFile(filepath.Join(ln.dir, fmt.Sprintf("node%d.log", i)))
		if err != nil {
			ln.t.Logf("node%d log: %v", i, err)
			continue
		}
		ln.t.Logf("node%d log (tail):\n%s", i, tail(b, 3000))
	}
}

// alive reports whether pid is a process that has not exited. A zombie
// (exited, not yet reaped by its new parent) has exited.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !os.IsNotExist(err)
	}
	// /proc/PID/stat is "pid (comm) state ...".
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// statusRows parses the table `localnet.sh status` prints into one map per
// node, keyed by the header's column names.
func statusRows(out []byte) []map[string]string {
	var header []string
	var rows []map[string]string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) > 0 && fields[0] == "node":
			header = fields
		case header != nil && len(fields) == len(header) && strings.HasPrefix(fields[0], "node"):
			row := map[string]string{}
			for i, h := range header {
				row[h] = fields[i]
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// latestHeight is the node's latest height, or -1 if it does not answer.
func latestHeight(ctx context.Context, c *client.Client) int64 {
	st, err := c.Status(ctx)
	if err != nil {
		return -1
	}
	return st.Height
}

// waitReport polls cond until it holds, failing the test with cond's last
// report when timeout passes first.
func waitReport(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ok, report := cond()
		if ok {
			return
		}
		last = report
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s; last:\n%s", what, timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
