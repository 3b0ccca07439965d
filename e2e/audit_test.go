package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/abci"
	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/audit"
	"github.com/consort-ledger/consort/audit/audittest"
	"github.com/consort-ledger/consort/client"
	"github.com/consort-ledger/consort/consensus"
)

const (
	auditChainID   = "consort-audit-e2e"
	auditAccounts  = 20
	auditCoinsEach = 100  // genesis coins per account: 2000 in all
	auditCoin      = 1000 // base units per genesis coin
	auditPowBits   = 8
)

// auditReport is the part of `consort audit --output json` scripts use.
type auditReport struct {
	Findings []audit.Finding `json:"findings"`
	Summary  struct {
		Heights    int64 `json:"heights"`
		LastHeight int64 `json:"last_height"`
		Txs        int64 `json:"txs"`
		Signatures int64 `json:"signatures"`
	} `json:"summary"`
}

// TestAudit runs a real node with 10ms blocks, commits 2000 transfers sent
// with broadcast_tx_async, and audits it: over RPC while it runs, then from
// its home once stopped (both clean), then tampered copies of the home —
// a transaction rewritten in the block store, a ledger value edited below
// the tree, a ledger version no block produced — each of which the audit
// must name and fail on.
func TestAudit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a node through 2000 transactions")
	}
	bin := goBuild(t, t.TempDir(), "github.com/consort-ledger/consort/cmd/consort", "consort")
	node := startAuditNode(t)
	ctx := context.Background()

	txids := node.sendTransfers(t)
	t.Logf("%d transfers committed by height %d", len(txids), node.height(t))

	// Over RPC, while the node runs.
	r, err := audit.Run(ctx, audit.Config{WorkDir: t.TempDir()}, audit.NewRPC(node.url, node.client.RPC()))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 0 {
		t.Fatalf("audit over RPC of a healthy chain: got %d findings, want none: %+v", len(r.Findings), r.Findings)
	}
	if r.Summary.Txs != int64(len(txids)) || r.Summary.TxsAccepted != r.Summary.Txs {
		t.Errorf("audit over RPC: got %d txs (%d accepted), want %d, all accepted", r.Summary.Txs, r.Summary.TxsAccepted, len(txids))
	}

	// The CLI refuses the home of a running node and says what to do.
	out, stderr, err := runAudit(bin, "--home", node.home)
	if err == nil || !strings.Contains(stderr, "stop the node or use --node") {
		t.Errorf("audit --home of a running node: got %v, stderr %q, want an error saying to stop the node or use --node", err, stderr)
	}
	// It audits the running node over RPC.
	if rep, stderr, err := runAuditJSON(t, bin, "--node", node.url); err != nil || len(rep.Findings) != 0 {
		t.Errorf("audit --node: got %v with %d findings (%s)", err, len(rep.Findings), stderr)
	}

	node.stop(t)
	last := audittest.LastHeight(t, filepath.Join(node.home, "data"))
	rep, stderr, err := runAuditJSON(t, bin, "--home", node.home)
	if err != nil {
		t.Fatalf("audit --home of a healthy stopped node: %v\n%s", err, stderr)
	}
	if len(rep.Findings) != 0 {
		t.Fatalf("audit --home of a healthy chain: got findings %+v, want none", rep.Findings)
	}
	if s := rep.Summary; s.Heights != last || s.LastHeight != last || s.Txs != int64(len(txids)) || s.Signatures < s.Txs+s.Heights-1 {
		t.Errorf("summary: got heights %d, last %d, txs %d, signatures %d; want %d, %d, %d, at least txs + commits", s.Heights, s.LastHeight, s.Txs, s.Signatures, last, last, len(txids))
	}

	// Tampered copies of the stopped home.
	txHeight := firstBlockWithTxs(t, node.home, last)
	tests := []struct {
		name   string
		tamper func(t *testing.T, home string) string // returns a txid to look for
		want   []audit.Finding
	}{
		{
			name: "tx bytes rewritten in the block store",
			tamper: func(t *testing.T, home string) string {
				return audittest.RewriteTx(t, filepath.Join(home, "data"), txHeight, 0).String()
			},
			want: []audit.Finding{
				{Type: audit.TypeBlockDataHash, Height: txHeight, Severity: audit.Critical},
				{Type: audit.TypeBlockID, Height: txHeight, Severity: audit.Critical},
				{Type: audit.TypeTxAcceptedButInvalid, Height: txHeight, Severity: audit.Critical},
			},
		},
		{
			name: "ledger value edited below the tree",
			tamper: func(t *testing.T, home string) string {
				audittest.EditStateValue(t, filepath.Join(home, "data", "app"), []byte("account/acct-00"), func(v []byte) { v[len(v)-1] ^= 0x01 })
				return ""
			},
			want: []audit.Finding{{Type: audit.TypeLocalStateDiverges, Height: last, Severity: audit.Critical, Key: "account/acct-00"}},
		},
		{
			name: "balance edited in the index beside the tree",
			tamper: func(t *testing.T, home string) string {
				audittest.EditIndexValue(t, filepath.Join(home, "data", "app"), []byte("balance/acct-00/USD"), func(v []byte) { v[len(v)-1] ^= 0x01 })
				return ""
			},
			want: []audit.Finding{{Type: audit.TypeLocalStateDiverges, Height: last, Severity: audit.High, Key: "balance/acct-00/USD"}},
		},
		{
			name: "ledger version no block produced",
			tamper: func(t *testing.T, home string) string {
				audittest.CommitExtraVersion(t, filepath.Join(home, "data", "app"), []byte("balance/acct-00/USD"), []byte{0x08, 0x01})
				return ""
			},
			want: []audit.Finding{{Type: audit.TypeLocalStateHeight, Height: last + 1, Severity: audit.High}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := audittest.CopyHome(t, node.home)
			txid := tt.tamper(t, home)
			rep, stderr, err := runAuditJSON(t, bin, "--home", home)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || !strings.Contains(stderr, "high or critical") {
				t.Errorf("exit: got %v (stderr %q), want a non-zero exit naming high or critical findings", err, stderr)
			}
			for _, w := range tt.want {
				if !slices.ContainsFunc(rep.Findings, func(f audit.Finding) bool {
					return f.Type == w.Type && f.Height == w.Height && f.Severity == w.Severity && (w.Key == "" || f.Key == w.Key)
				}) {
					t.Errorf("no %s %s finding at height %d (key %q) among %+v", w.Severity, w.Type, w.Height, w.Key, rep.Findings)
				}
			}
			if txid != "" && !slices.ContainsFunc(rep.Findings, func(f audit.Finding) bool { return f.TxID == txid }) {
				t.Errorf("no finding names the rewritten tx %s", txid)
			}
		})
	}

	// The text report of a tampered home says what is wrong and what to do.
	home := audittest.CopyHome(t, node.home)
	audittest.EditStateValue(t, filepath.Join(home, "data", "app"), []byte("account/acct-01"), func(v []byte) { v[len(v)-1] ^= 0x01 })
	out, _, err = runAudit(bin, "--home", home)
	for _, want := range []string{"CRITICAL", audit.TypeLocalStateDiverges, "account/acct-01", "recommendations:"} {
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("text report (exit %v) lacks %q:\n%s", err, want, out)
		}
	}
}

// runAudit runs `consort audit` with args and returns its stdout and stderr.
func runAudit(bin string, args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, append([]string{"audit"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// runAuditJSON runs `consort audit --output json` and decodes its report.
func runAuditJSON(t *testing.T, bin string, args ...string) (auditReport, string, error) {
	t.Helper()
	stdout, stderr, err := runAudit(bin, append(args, "--output", "json")...)
	var rep auditReport
	if jerr := json.Unmarshal([]byte(stdout), &rep); jerr != nil {
		t.Fatalf("audit %v: output is not a JSON report (%v; exit %v)\nstdout: %s\nstderr: %s", args, jerr, err, stdout, stderr)
	}
	if rep.Findings == nil {
		t.Fatalf("audit %v: the report has no findings list: %s", args, stdout)
	}
	return rep, stderr, err
}

// auditNode is a one-validator node run in this process for the audit test.
type auditNode struct {
	home   string
	url    string
	client *client.Client
	keys   map[string]cmted25519.PrivKey
	stop   func(t *testing.T)
}

func auditAccount(i int) string { return fmt.Sprintf("acct-%02d", i) }

// startAuditNode starts a node with 10ms blocks, no mempool rate limit and
// auditAccounts accounts holding auditCoinsEach coins each.
func startAuditNode(t *testing.T) *auditNode {
	t.Helper()
	n := &auditNode{home: t.TempDir(), keys: map[string]cmted25519.PrivKey{}}
	g := app.Genesis{
		Params: &app.GenesisParams{Pow: &app.GenesisPow{DifficultyBits: auditPowBits}},
		Assets: []app.GenesisAsset{{ID: "USD", Decimals: 2}},
	}
	for i := range auditAccounts {
		name := auditAccount(i)
		key := cmted25519.GenPrivKeyFromSecret([]byte("audit-e2e-" + name))
		n.keys[name] = key
		g.Accounts = append(g.Accounts, app.GenesisAccount{Name: name, Roles: []string{"member"},
			Keys: []app.GenesisKey{{Type: "ed25519", PublicKey: base64.StdEncoding.EncodeToString(key.PubKey().Bytes())}}})
		for range auditCoinsEach {
			g.UTXOs = append(g.UTXOs, app.GenesisUTXO{Owner: name, Asset: "USD", Amount: strconv.Itoa(auditCoin)})
		}
	}
	appState, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	rpcAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	conf, err := consensus.InitHome(consensus.HomeConfig{
		Home: n.home, ChainID: auditChainID, Moniker: "audit",
		RPCListen: "tcp://" + rpcAddr, P2PListen: "tcp://127.0.0.1:" + strconv.Itoa(freePort(t)),
		PrometheusListen: "127.0.0.1:" + strconv.Itoa(freePort(t)),
		TimeoutCommit:    10 * time.Millisecond, AppState: appState,
	})
	if err != nil {
		t.Fatal(err)
	}
	conf.P2P.PexReactor = false
	store, err := app.OpenStore(filepath.Join(n.home, "data", "app"), app.DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	mempool := abci.DefaultConfig()
	mempool.RateLimit.Rate = 0 // one test client sends for every account
	ctx, cancel := context.WithCancel(context.Background())
	node, err := consensus.NewNode(ctx, conf, abci.New(mempool, app.New(store), zerolog.Nop()), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- consensus.Run(ctx, node) }()
	stopped := false
	n.stop = func(t *testing.T) {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node stopped with error: %v", err)
		}
		store.Close()
	}
	t.Cleanup(func() { n.stop(t) })
	n.url = "http://" + rpcAddr
	if n.client, err = client.New(client.Config{Node: n.url}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "second block", func() bool { return n.height(t) >= 2 })
	return n
}

func (n *auditNode) height(t *testing.T) int64 {
	st, err := n.client.Status(context.Background())
	if err != nil {
		return 0
	}
	return st.Height
}

// sendTransfers spends every genesis coin once — each pays the next
// account a little and returns the change — in batches of 250 sent with
// broadcast_tx_async, and waits until all are committed.
func (n *auditNode) sendTransfers(t *testing.T) []app.TxID {
	t.Helper()
	ctx := context.Background()
	rpc := n.client.RPC()
	var ids []app.TxID
	var batch [][]byte
	flush := func() {
		for _, tx := range batch {
			res, err := rpc.BroadcastTxAsync(ctx, tx)
			if err != nil || res.Code != 0 {
				t.Fatalf("broadcast_tx_async: %v %+v", err, res)
			}
		}
		batch = batch[:0]
		waitFor(t, 60*time.Second, "the mempool to empty", func() bool {
			res, err := rpc.NumUnconfirmedTxs(ctx)
			return err == nil && res.Total == 0
		})
	}
	for i := range auditAccounts * auditCoinsEach {
		from, to := auditAccount(i%auditAccounts), auditAccount((i+1)%auditAccounts)
		coin := app.Outpoint{TxID: app.GenesisTxID(auditChainID), Index: uint32((i%auditAccounts)*auditCoinsEach + i/auditAccounts)}
		body := &app.Body{Version: app.TxVersion, ChainID: auditChainID, Transfer: &app.Transfer{
			Inputs:  []app.Outpoint{coin},
			Outputs: []app.Output{{Owner: to, Asset: "USD", Amount: 1 + uint64(i%7)}, {Owner: from, Asset: "USD", Amount: auditCoin - 1 - uint64(i%7)}},
		}}
		tx := &app.Tx{BodyBytes: app.EncodeBody(body), Body: *body}
		sig, err := n.keys[from].Sign(tx.BodyBytes)
		if err != nil {
			t.Fatal(err)
		}
		tx.AddSignature(app.Signature{KeyType: app.KeyEd25519, PublicKey: n.keys[from].PubKey().Bytes(), Signature: sig})
		stamp, err := client.MinePoW(ctx, tx.ID(), auditPowBits)
		if err != nil {
			t.Fatal(err)
		}
		tx.PowNonce = stamp.Nonce
		ids = append(ids, tx.ID())
		if batch = append(batch, tx.Encode()); len(batch) == 250 {
			flush()
		}
	}
	flush()
	// The last transactions are committed once a block after them exists.
	target := n.height(t) + 2
	waitFor(t, 30*time.Second, "two more blocks", func() bool { return n.height(t) >= target })
	return ids
}

// firstBlockWithTxs finds the first height whose block carries transactions.
func firstBlockWithTxs(t *testing.T, home string, last int64) int64 {
	t.Helper()
	for h := int64(1); h <= last; h++ {
		if txs := audittest.BlockTxs(t, filepath.Join(home, "data"), h); len(txs) > 0 {
			return h
		}
	}
	t.Fatal("no block carries transactions")
	return 0
}
