package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/abci"
	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/certs/keyring"
	"github.com/consort-ledger/consort/client"
	"github.com/consort-ledger/consort/consensus"
)

const chainID = "consort-e2e"

// testNode is one validator running in this process.
type testNode struct {
	client  *client.Client
	keyring *keyring.Keyring
}

// freePort asks the kernel for an unused loopback port.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startNode makes wallets for accounts, funds each with the given USD base
// units at genesis, and runs a one-validator chain until the test ends.
func startNode(t *testing.T, accounts []string, funds map[string]uint64) *testNode {
	t.Helper()
	return startNodeWith(t, accounts, funds, nil)
}

// startNodeWith is startNode with genesis params.
func startNodeWith(t *testing.T, accounts []string, funds map[string]uint64, params *app.GenesisParams) *testNode {
	t.Helper()
	home := t.TempDir()
	kr, err := keyring.Open(filepath.Join(home, "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	g := app.Genesis{Params: params, Assets: []app.GenesisAsset{{ID: "USD", Decimals: 2}}}
	for _, name := range accounts {
		info, err := kr.Add(name, keyring.Ed25519)
		if err != nil {
			t.Fatal(err)
		}
		g.Accounts = append(g.Accounts, app.GenesisAccount{Name: name, Roles: []string{"member"}, Keys: []app.GenesisKey{{Type: "ed25519", PublicKey: base64.StdEncoding.EncodeToString(info.PublicKey.Bytes)}}})
		if amount := funds[name]; amount > 0 {
			g.UTXOs = append(g.UTXOs, app.GenesisUTXO{Owner: name, Asset: "USD", Amount: strconv.FormatUint(amount, 10)})
		}
	}
	appState, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	rpcAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	conf, err := consensus.InitHome(consensus.HomeConfig{
		Home: home, ChainID: chainID, Moniker: "e2e",
		RPCListen: "tcp://" + rpcAddr, P2PListen: "tcp://127.0.0.1:" + strconv.Itoa(freePort(t)),
		PrometheusListen: "127.0.0.1:" + strconv.Itoa(freePort(t)),
		TimeoutCommit:    100 * time.Millisecond, AppState: appState,
	})
	if err != nil {
		t.Fatal(err)
	}
	// One validator has no peers to exchange; without PEX no address book
	// is written, which CometBFT would otherwise do after Stop returns.
	conf.P2P.PexReactor = false
	store, err := app.OpenStore(filepath.Join(home, "data", "app"), app.DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := consensus.NewNode(ctx, conf, abci.New(abci.DefaultConfig(), app.New(store), zerolog.Nop()), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- consensus.Run(ctx, n) }()
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
	// The block store reports height 1 before the app has committed it, so
	// wait for the second block: then genesis state is queryable.
	waitFor(t, 30*time.Second, "second block", func() bool {
		st, err := c.Status(context.Background())
		return err == nil && st.Height >= 2
	})
	return &testNode{client: c, keyring: kr}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// signer adapts a keyring key to the client's Signer.
type signer struct{ s keyring.Signer }

func (s signer) PublicKey() (app.KeyType, []byte) {
	pub := s.s.PublicKey()
	t, _ := app.ParseKeyType(string(pub.Type))
	return t, pub.Bytes
}

func (s signer) Sign(ctx context.Context, msg []byte) ([]byte, error) { return s.s.Sign(ctx, msg) }

func (n *testNode) signer(t *testing.T, name string) client.Signer {
	t.Helper()
	s, err := n.keyring.Signer(name)
	if err != nil {
		t.Fatal(err)
	}
	return signer{s}
}

// transfer builds and signs a payment from one wallet on chain.
func (n *testNode) transfer(t *testing.T, chain, from, to string, amount uint64) []byte {
	t.Helper()
	ctx := context.Background()
	body, err := n.client.BuildTransfer(ctx, chain, client.TransferRequest{From: from, To: to, Asset: "USD", Amount: amount})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := client.Sign(ctx, body, n.signer(t, from))
	if err != nil {
		t.Fatal(err)
	}
	return tx.Encode()
}

func (n *testNode) balance(t *testing.T, who string) uint64 {
	t.Helper()
	v, _, err := n.client.Balance(context.Background(), who, "USD")
	if err != nil {
		t.Fatal(err)
	}
	return v
}
