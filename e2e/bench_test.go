package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/consort-ledger/consort/bench"
	"github.com/consort-ledger/consort/client"
)

// TestBenchAgainstStockKVStore drives the stock CometBFT kvstore app, built
// from the same CometBFT version, with the harness behind `consort bench
// --app kvstore`: every transaction it sends is found committed in the
// blocks, over websocket and over HTTP.
func TestBenchAgainstStockKVStore(t *testing.T) {
	bin := t.TempDir()
	cometbft := goBuild(t, bin, "github.com/cometbft/cometbft/cmd/cometbft", "cometbft")
	home := t.TempDir()
	if out, err := exec.Command(cometbft, "init", "--home", home).CombinedOutput(); err != nil {
		t.Fatalf("cometbft init: %v\n%s", err, out)
	}
	cfgPath := filepath.Join(home, "config", "config.toml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(strings.Replace(string(cfg), `timeout_commit = "1s"`, `timeout_commit = "200ms"`, 1))
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	node := "http://127.0.0.1:" + strconv.Itoa(freePort(t))
	startProcess(t, filepath.Join(bin, "cometbft.log"), cometbft, "start", "--home", home, "--proxy_app=kvstore",
		"--rpc.laddr", "tcp"+strings.TrimPrefix(node, "http"), "--p2p.laddr", "tcp://127.0.0.1:"+strconv.Itoa(freePort(t)))
	c, err := client.New(client.Config{Node: node})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "second block from the kvstore node", func() bool {
		st, err := c.Status(context.Background())
		return err == nil && st.Height >= 2
	})
	for _, transport := range []string{bench.TransportWS, bench.TransportHTTP} {
		t.Run(transport, func(t *testing.T) {
			wl, err := bench.NewKVStore(bench.TransferSize("consort-dev"))
			if err != nil {
				t.Fatal(err)
			}
			rep, err := bench.Run(context.Background(), bench.Config{Nodes: []string{node}, Transport: transport, Connections: 2, Rate: 200, Duration: 3 * time.Second}, wl)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case rep.Sent < 100 || rep.Committed != rep.Sent:
				t.Errorf("sent %d, committed %d: want at least 100, all committed", rep.Sent, rep.Committed)
			case rep.Rejected != 0 || rep.Dropped != 0:
				t.Errorf("rejected %d (%v), dropped %d: want none", rep.Rejected, rep.RejectedBy, rep.Dropped)
			case rep.CommittedRate <= 0 || rep.Blocks == 0 || rep.WindowTxs == 0:
				t.Errorf("committed rate %.1f over %d blocks holding %d txs: want some", rep.CommittedRate, rep.Blocks, rep.WindowTxs)
			case rep.LatencyMs.N != int(rep.Committed) || rep.LatencyMs.P50 <= 0:
				t.Errorf("latency over %d txs, p50 %.1f ms: want one per committed tx, above 0", rep.LatencyMs.N, rep.LatencyMs.P50)
			}
		})
	}
}
