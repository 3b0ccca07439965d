package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"

	"github.com/consort-ledger/consort/abci"
	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/client"
	"github.com/consort-ledger/consort/consensus"
)

// netNode is one node of a multi-node network running in this process. Its
// log is kept for assertions and printed if the test fails.
type netNode struct {
	name    string
	home    string
	id      string // p2p node id, known before the genesis is written
	rpcAddr string // host:port
	p2pAddr string // host:port
	client  *client.Client
	log     *logBuffer
}

// newNetNode makes a home folder holding only a node key, so that the node's
// id can go on a genesis allowlist before any home is initialised.
func newNetNode(t *testing.T, name string) *netNode {
	t.Helper()
	home := t.TempDir()
	id, err := consensus.EnsureNodeKey(home)
	if err != nil {
		t.Fatal(err)
	}
	n := &netNode{
		name: name, home: home, id: id,
		rpcAddr: "127.0.0.1:" + strconv.Itoa(freePort(t)),
		p2pAddr: "127.0.0.1:" + strconv.Itoa(freePort(t)),
		log:     &logBuffer{},
	}
	c, err := client.New(client.Config{Node: "http://" + n.rpcAddr})
	if err != nil {
		t.Fatal(err)
	}
	n.client = c
	return n
}

// peerAddr is the node's address in persistent_peers form, id@host:port.
func (n *netNode) peerAddr() string { return n.id + "@" + n.p2pAddr }

// allowlistAppState is a small ledger whose p2p node allowlist holds ids.
func allowlistAppState(t *testing.T, ids ...string) json.RawMessage {
	t.Helper()
	g := app.Genesis{
		Assets:   []app.GenesisAsset{{ID: "USD", Decimals: 2}},
		Accounts: []app.GenesisAccount{},
		UTXOs:    []app.GenesisUTXO{},
		Nodes:    ids,
	}
	b, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nodeSetup is how initNode configures a home beyond InitHome's defaults.
type nodeSetup struct {
	appState json.RawMessage
	// genesis replaces the genesis InitHome writes: a node that joins an
	// existing chain takes that chain's genesis file and, since its own
	// validator key is not in it, runs as a full node. Nil keeps this node
	// as the chain's sole validator.
	genesis []byte
	// persistentPeers is config.toml's persistent_peers (id@host:port,...).
	persistentPeers string
	// filterPeers is config.toml's filter_peers: ask the app about every peer.
	filterPeers bool
}

// initNode initialises n's home and rewrites its config.toml for a loopback
// network: several nodes on one IP, no address book rules, no PEX (peers
// come only from persistent_peers, so no node learns of another by gossip).
func initNode(t *testing.T, n *netNode, s nodeSetup) {
	t.Helper()
	conf, err := consensus.InitHome(consensus.HomeConfig{
		Home: n.home, ChainID: chainID, Moniker: n.name,
		RPCListen: "tcp://" + n.rpcAddr, P2PListen: "tcp://" + n.p2pAddr,
		PrometheusListen: "127.0.0.1:" + strconv.Itoa(freePort(t)),
		TimeoutCommit:    100 * time.Millisecond, AppState: s.appState,
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.genesis != nil {
		if err := os.WriteFile(conf.GenesisFile(), s.genesis, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf.FilterPeers = s.filterPeers
	conf.P2P.PersistentPeers = s.persistentPeers
	conf.P2P.AddrBookStrict = false
	conf.P2P.AllowDuplicateIP = true
	conf.P2P.PexReactor = false
	// Write the config in the home as an operator would; startNetNode reads
	// it back the way `consort start` does.
	cmtcfg.WriteConfigFile(filepath.Join(n.home, cmtcfg.DefaultConfigDir, cmtcfg.DefaultConfigFileName), conf)
}

// genesisFile returns the bytes of n's genesis.json.
func (n *netNode) genesisFile(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.home, cmtcfg.DefaultConfigDir, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startNetNode runs n in this process until the test ends, logging at info
// level into n.log. CometBFT's metrics are global, so every node after the
// first runs with no-op metrics (consensus.metricsProvider).
func startNetNode(t *testing.T, n *netNode) {
	t.Helper()
	conf, err := consensus.LoadConfig(n.home)
	if err != nil {
		t.Fatal(err)
	}
	logger, err := consensus.NewZerolog(n.log, consensus.LogFormatJSON, "info")
	if err != nil {
		t.Fatal(err)
	}
	store, err := app.OpenStore(filepath.Join(n.home, "data", "app"), app.DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	node, err := consensus.NewNode(ctx, conf, abci.New(abci.DefaultConfig(), app.New(store), logger), logger)
	if err != nil {
		cancel()
		store.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- consensus.Run(ctx, node) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s stopped with error: %v", n.name, err)
		}
		store.Close()
		if t.Failed() {
			t.Logf("%s (%s) log, without per-block lines (tail):\n%s", n.name, n.id, n.log.digest(80))
		}
	})
}

// height is n's latest block height, or -1 if its RPC does not answer.
func (n *netNode) height() int64 {
	st, err := n.client.Status(context.Background())
	if err != nil {
		return -1
	}
	return st.Height
}

// peer is one entry of CometBFT's net_info: a connected node and how long
// its connection has lived.
type peer struct {
	id  string
	age time.Duration
}

// peers lists n's connected peers, or returns ok false if the RPC does not
// answer.
func (n *netNode) peers() (ps []peer, ok bool) {
	ni, err := n.client.RPC().NetInfo(context.Background())
	if err != nil {
		return nil, false
	}
	for _, p := range ni.Peers {
		ps = append(ps, peer{id: string(p.NodeInfo.ID()), age: p.ConnectionStatus.Duration})
	}
	return ps, true
}

// hasPeer reports whether n's net_info lists id.
func (n *netNode) hasPeer(id string) bool {
	ps, _ := n.peers()
	return slices.ContainsFunc(ps, func(p peer) bool { return p.id == id })
}

// logged reports whether n logged a JSON line whose message is msg and
// whose fields include key=value.
func (n *netNode) logged(msg, key, value string) bool {
	sc := bufio.NewScanner(bytes.NewReader(n.log.Bytes()))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		if line["message"] == msg && line[key] == value {
			return true
		}
	}
	return false
}

// logBuffer is a log sink the test can read while the node writes to it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns a copy of everything written so far.
func (b *logBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// digest returns the last n log lines, leaving out the modules that log at
// every height so that the p2p and app lines stay readable.
func (b *logBuffer) digest(n int) string {
	perBlockModules := []string{"consensus", "state", "txindex"}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b.Bytes()))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var line struct{ Module string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && slices.Contains(perBlockModules, line.Module) {
			continue
		}
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
