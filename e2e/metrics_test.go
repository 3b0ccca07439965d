package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/abci"
	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/certs/keyring"
	"github.com/consort-ledger/consort/client"
	"github.com/consort-ledger/consort/consensus"
)

// TestMetricsEndpoint runs one validator wired as `consort start` wires it
// (consort's metrics and CometBFT's in one registry, served with /healthz and
// /readyz on the metrics listener), commits a transfer, and scrapes the
// listener.
func TestMetricsEndpoint(t *testing.T) {
	// CometBFT registers its metrics with the default registerer; a fresh
	// one for this test keeps other tests' nodes out of the scrape. The
	// `consort start` wiring uses the process's default registry instead.
	reg := prometheus.NewRegistry()
	saved := prometheus.DefaultRegisterer
	prometheus.DefaultRegisterer = reg
	t.Cleanup(func() { prometheus.DefaultRegisterer = saved })

	home := t.TempDir()
	kr, err := keyring.Open(filepath.Join(home, "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	g := app.Genesis{Assets: []app.GenesisAsset{{ID: "USD", Decimals: 2}}}
	for _, name := range []string{"alice", "bob"} {
		info, err := kr.Add(name, keyring.Ed25519)
		if err != nil {
			t.Fatal(err)
		}
		g.Accounts = append(g.Accounts, app.GenesisAccount{Name: name, Roles: []string{"member"}, Keys: []app.GenesisKey{{Type: "ed25519", PublicKey: base64.StdEncoding.EncodeToString(info.PublicKey.Bytes)}}})
	}
	g.UTXOs = []app.GenesisUTXO{{Owner: "alice", Asset: "USD", Amount: "100000"}}
	appState, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	rpcAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	metricsAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	conf, err := consensus.InitHome(consensus.HomeConfig{
		Home: home, ChainID: chainID, Moniker: "e2e-metrics",
		RPCListen: "tcp://" + rpcAddr, P2PListen: "tcp://127.0.0.1:" + strconv.Itoa(freePort(t)),
		PrometheusListen: metricsAddr, TimeoutCommit: 100 * time.Millisecond, AppState: appState,
	})
	if err != nil {
		t.Fatal(err)
	}
	conf.P2P.PexReactor = false // a lone validator; see startNode
	store, err := app.OpenStore(filepath.Join(home, "data", "app"), app.DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}

	metrics, err := abci.PrometheusMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	health := consensus.NewHealth(consensus.MoveMetricsListener(conf), reg, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	n, err := consensus.NewNode(ctx, conf, abci.New(abci.DefaultConfig(), app.New(store), zerolog.Nop(), abci.WithMetrics(metrics)), zerolog.Nop())
	if err != nil {
		cancel()
		store.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- health.Run(ctx, n) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node stopped with error: %v", err)
		}
		store.Close()
	})

	c, err := client.New(client.Config{Node: "http://" + rpcAddr})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "second block", func() bool {
		st, err := c.Status(context.Background())
		return err == nil && st.Height >= 2
	})
	node := &testNode{client: c, keyring: kr}
	res, err := c.Broadcast(context.Background(), node.transfer(t, chainID, "alice", "bob", 2500), true)
	if err != nil {
		t.Fatalf("broadcast: %v", err)
	}
	if res.Code != 0 {
		t.Fatalf("transfer: got code %d (%s), want 0", res.Code, res.Log)
	}

	base := "http://" + metricsAddr
	// The counters move in FinalizeBlock, before the client sees the commit.
	scrape := ""
	waitFor(t, 10*time.Second, "the transfer in consort_txs_total", func() bool {
		scrape = fetchBody(t, base+consensus.MetricsPath)
		return strings.Contains(scrape, `consort_txs_total{code="0",type="transfer"} 1`)
	})
	for _, want := range []string{
		`cometbft_consensus_height{chain_id="` + chainID + `"}`,
		`cometbft_mempool_size{chain_id="` + chainID + `"}`,
		`consort_check_txs_total{code="0",type="transfer"} 1`,
		`consort_asset_supply{asset="USD"} 100000`,
		`consort_paused 0`,
		`consort_committed_height `,
		`consort_finalize_block_duration_seconds_count `,
		`consort_check_tx_duration_seconds_bucket{le=`,
	} {
		if !strings.Contains(scrape, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if got := fetchBody(t, base+consensus.HealthzPath); got != "ok\n" {
		t.Errorf("%s: got %q, want ok", consensus.HealthzPath, got)
	}
	var ready struct {
		Ready  bool   `json:"ready"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(fetchBody(t, base+consensus.ReadyzPath)), &ready); err != nil || !ready.Ready {
		t.Errorf("%s: got ready %v reason %q (%v), want a ready lone validator", consensus.ReadyzPath, ready.Ready, ready.Reason, err)
	}
}

// fetchBody returns the body of a GET of url; any status is fine.
func fetchBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return string(b)
}
