package abci

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	cmtabci "github.com/cometbft/cometbft/abci/types"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmttypes "github.com/cometbft/cometbft/types"
	ics23 "github.com/cosmos/ics23/go"
	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/app"
)

const testChainID = "consort-abci-test"

// testChain is an Application over a real store, after InitChain and an
// empty block 1. Genesis coins: 0: alice 1000.00 USD, 1: alice 5.00 USD,
// 2: bob 20.00 USD. Asset GOLD exists but nobody holds any.
type testChain struct {
	t          *testing.T
	store      *app.Store
	app        *Application
	alice, bob cmted25519.PrivKey
	coins      [3]app.Outpoint
	height     int64 // last committed
}

// allowedNode is the one p2p node id on the test chain's allowlist.
const allowedNode = "1e09cede383e24d108a803e908e3f8aea7608a6e"

func newTestChain(t *testing.T) *testChain {
	t.Helper()
	store, err := app.OpenStore(t.TempDir(), app.DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	c := &testChain{
		t: t, store: store, app: New(DefaultConfig(), app.New(store), zerolog.Nop()),
		alice: cmted25519.GenPrivKeyFromSecret([]byte("abci/alice")),
		bob:   cmted25519.GenPrivKeyFromSecret([]byte("abci/bob")),
	}
	genesisKey := func(k cmted25519.PrivKey) []app.GenesisKey {
		return []app.GenesisKey{{Type: "ed25519", PublicKey: base64.StdEncoding.EncodeToString(k.PubKey().Bytes())}}
	}
	appState, err := json.Marshal(app.Genesis{
		Assets:   []app.GenesisAsset{{ID: "USD", Decimals: 2}, {ID: "GOLD"}},
		Accounts: []app.GenesisAccount{{Name: "alice", Roles: []string{"member"}, Keys: genesisKey(c.alice)}, {Name: "bob", Roles: []string{"member"}, Keys: genesisKey(c.bob)}},
		Nodes:    []string{allowedNode},
		UTXOs: []app.GenesisUTXO{
			{Owner: "alice", Asset: "USD", Amount: "100000"},
			{Owner: "alice", Asset: "USD", Amount: "500"},
			{Owner: "bob", Asset: "USD", Amount: "2000"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	val := cmted25519.GenPrivKeyFromSecret([]byte("abci/validator")).PubKey().Bytes()
	res, err := c.app.InitChain(context.Background(), &cmtabci.RequestInitChain{
		ChainId: testChainID, InitialHeight: 1, AppStateBytes: appState,
		Validators: []cmtabci.ValidatorUpdate{cmtabci.Ed25519ValidatorUpdate(val, 10)},
	})
	if err != nil {
		t.Fatalf("InitChain: %v", err)
	}
	if len(res.AppHash) != 32 {
		t.Fatalf("InitChain app hash: got %d bytes, want 32", len(res.AppHash))
	}
	gid := app.GenesisTxID(testChainID)
	for i := range c.coins {
		c.coins[i] = app.Outpoint{TxID: gid, Index: uint32(i)}
	}
	c.commit()
	return c
}

// finalize runs FinalizeBlock for the next height.
func (c *testChain) finalize(txs ...[]byte) *cmtabci.ResponseFinalizeBlock {
	c.t.Helper()
	res, err := c.app.FinalizeBlock(context.Background(), &cmtabci.RequestFinalizeBlock{Height: c.height + 1, Txs: txs})
	if err != nil {
		c.t.Fatalf("FinalizeBlock %d: %v", c.height+1, err)
	}
	if len(res.TxResults) != len(txs) {
		c.t.Fatalf("FinalizeBlock: got %d results, want %d", len(res.TxResults), len(txs))
	}
	return res
}

func (c *testChain) commit() {
	c.t.Helper()
	if _, err := c.app.Commit(context.Background(), &cmtabci.RequestCommit{}); err != nil {
		c.t.Fatalf("Commit: %v", err)
	}
	c.height++
}

// block finalizes and commits txs as the next block.
func (c *testChain) block(txs ...[]byte) *cmtabci.ResponseFinalizeBlock {
	c.t.Helper()
	res := c.finalize(txs...)
	c.commit()
	return res
}

func (c *testChain) checkTx(tx []byte, typ cmtabci.CheckTxType) *cmtabci.ResponseCheckTx {
	c.t.Helper()
	res, err := c.app.CheckTx(context.Background(), &cmtabci.RequestCheckTx{Tx: tx, Type: typ})
	if err != nil {
		c.t.Fatalf("CheckTx: %v", err)
	}
	return res
}

// transfer signs a transfer on the test chain with every key given; memo
// pads it when a test needs a bigger transaction.
func (c *testChain) transfer(memo string, inputs []app.Outpoint, outputs []app.Output, keys ...cmted25519.PrivKey) []byte {
	c.t.Helper()
	body := &app.Body{Version: app.TxVersion, ChainID: testChainID, Memo: memo, Transfer: &app.Transfer{Inputs: inputs, Outputs: outputs}}
	tx := &app.Tx{BodyBytes: app.EncodeBody(body)}
	for _, k := range keys {
		sig, err := k.Sign(tx.BodyBytes)
		if err != nil {
			c.t.Fatal(err)
		}
		tx.Signatures = append(tx.Signatures, app.Signature{KeyType: app.KeyEd25519, PublicKey: k.PubKey().Bytes(), Signature: sig})
	}
	// One order on the wire: by key type, then public key.
	sort.Slice(tx.Signatures, func(i, j int) bool {
		return bytes.Compare(tx.Signatures[i].PublicKey, tx.Signatures[j].PublicKey) < 0
	})
	return tx.Encode()
}

func txID(t *testing.T, tx []byte) app.TxID {
	t.Helper()
	d, err := app.DecodeTx(tx)
	if err != nil {
		t.Fatal(err)
	}
	return d.ID()
}

func usd(owner string, amount uint64) app.Output {
	return app.Output{Owner: owner, Asset: "USD", Amount: amount}
}

func outs(o ...app.Output) []app.Output    { return o }
func ins(o ...app.Outpoint) []app.Outpoint { return o }

var garbage = []byte("\x0a\x05not a transaction")

func TestCheckTx(t *testing.T) {
	c := newTestChain(t)
	pay := c.transfer("", ins(c.coins[0]), outs(usd("bob", 500), usd("alice", 99500)), c.alice)
	sameCoin := c.transfer("", ins(c.coins[0]), outs(usd("bob", 100000)), c.alice)
	otherCoin := c.transfer("", ins(c.coins[1]), outs(usd("bob", 500)), c.alice)
	tests := []struct {
		name string
		tx   []byte
		want uint32
	}{
		{"first spend", pay, 0},
		{"second spend of the same coin", sameCoin, uint32(app.CodeMempoolConflict)},
		{"the first spend checked again is no conflict with itself", pay, 0},
		{"another coin", otherCoin, 0},
		{"garbage", garbage, uint32(app.CodeMalformed)},
		{"empty", nil, uint32(app.CodeMalformed)},
		{"wrong signer", c.transfer("", ins(c.coins[2]), outs(usd("alice", 2000)), c.alice), uint32(app.CodeThresholdNotMet)},
		{"unknown coin", c.transfer("", ins(app.Outpoint{Index: 9}), outs(usd("bob", 1)), c.alice), uint32(app.CodeInputNotFound)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := c.checkTx(tc.tx, cmtabci.CheckTxType_New)
			if res.Code != tc.want {
				t.Fatalf("code: got %d (%s), want %d", res.Code, res.Log, tc.want)
			}
			if tc.want == 0 {
				if id := txID(t, tc.tx); !bytes.Equal(res.Data, id[:]) {
					t.Errorf("data: got %x, want the txid %s", res.Data, id)
				}
				return
			}
			if res.Codespace != Codespace || res.Log == "" {
				t.Errorf("rejection: got codespace %q log %q, want %q and a log", res.Codespace, res.Log, Codespace)
			}
		})
	}
	// A rejected transaction reserves nothing: bob's coin is still free.
	if res := c.checkTx(c.transfer("", ins(c.coins[2]), outs(usd("alice", 2000)), c.bob), cmtabci.CheckTxType_New); res.Code != 0 {
		t.Errorf("bob's coin after a rejected spend of it: got code %d (%s), want 0", res.Code, res.Log)
	}
}

// TestRecheckAfterCommit: Commit forgets the mempool's reservations and
// the recheck that follows rebuilds them from what is still valid, so a
// transaction made stale by the block is not re-admitted and one that is
// still pending keeps its coin.
func TestRecheckAfterCommit(t *testing.T) {
	c := newTestChain(t)
	first := c.transfer("", ins(c.coins[0]), outs(usd("bob", 500), usd("alice", 99500)), c.alice)
	second := c.transfer("", ins(c.coins[0]), outs(usd("bob", 100000)), c.alice)
	bobPays := c.transfer("", ins(c.coins[2]), outs(usd("alice", 2000)), c.bob)

	for _, step := range []struct {
		tx   []byte
		want uint32
	}{{first, 0}, {second, uint32(app.CodeMempoolConflict)}, {bobPays, 0}} {
		if res := c.checkTx(step.tx, cmtabci.CheckTxType_New); res.Code != step.want {
			t.Fatalf("CheckTx before the block: got code %d (%s), want %d", res.Code, res.Log, step.want)
		}
	}
	if res := c.block(first); res.TxResults[0].Code != 0 {
		t.Fatalf("block with the first spend: got code %d (%s)", res.TxResults[0].Code, res.TxResults[0].Log)
	}
	firstID := txID(t, first)
	tests := []struct {
		name string
		tx   []byte
		typ  cmtabci.CheckTxType
		want uint32
	}{
		{"recheck of the losing double spend", second, cmtabci.CheckTxType_Recheck, uint32(app.CodeInputNotFound)},
		{"recheck of the committed transaction", first, cmtabci.CheckTxType_Recheck, uint32(app.CodeInputNotFound)},
		{"recheck of a pending transaction", bobPays, cmtabci.CheckTxType_Recheck, 0},
		{"new spend of the pending transaction's coin", c.transfer("memo", ins(c.coins[2]), outs(usd("alice", 2000)), c.bob), cmtabci.CheckTxType_New, uint32(app.CodeMempoolConflict)},
		{"new spend of the block's output", c.transfer("", ins(app.Outpoint{TxID: firstID, Index: 0}), outs(usd("alice", 500)), c.bob), cmtabci.CheckTxType_New, 0},
		{"new spend of the block's spent input", c.transfer("x", ins(c.coins[0]), outs(usd("bob", 100000)), c.alice), cmtabci.CheckTxType_New, uint32(app.CodeInputNotFound)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if res := c.checkTx(tc.tx, tc.typ); res.Code != tc.want {
				t.Fatalf("got code %d (%s), want %d", res.Code, res.Log, tc.want)
			}
		})
	}
}

func TestPrepareProposal(t *testing.T) {
	c := newTestChain(t)
	big := c.transfer(strings.Repeat("m", 200), ins(c.coins[0]), outs(usd("bob", 500), usd("alice", 99500)), c.alice)
	conflict := c.transfer("", ins(c.coins[0]), outs(usd("bob", 100000)), c.alice)
	small1 := c.transfer("", ins(c.coins[1]), outs(usd("bob", 500)), c.alice)
	small2 := c.transfer("", ins(c.coins[2]), outs(usd("alice", 2000)), c.bob)
	badSig := c.transfer("", ins(c.coins[2]), outs(usd("alice", 2000)), c.alice)
	all := [][]byte{big, garbage, conflict, badSig, small1, small2}
	// Sizes as CometBFT counts them: protobuf size, length prefixes included.
	size := func(txs ...[]byte) int64 { return cmttypes.ComputeProtoSizeForTxs(cmttypes.ToTxs(txs)) }
	tests := []struct {
		name     string
		txs      [][]byte
		maxBytes int64
		want     [][]byte
	}{
		{"drops invalid and conflicting", all, 1 << 20, [][]byte{big, small1, small2}},
		{"conflict first keeps the conflict", [][]byte{conflict, big}, 1 << 20, [][]byte{conflict}},
		{"exact fit", [][]byte{big, small1, small2}, size(big, small1, small2), [][]byte{big, small1, small2}},
		{"one byte short drops the last", [][]byte{big, small1, small2}, size(big, small1, small2) - 1, [][]byte{big, small1}},
		{"too big is skipped, smaller ones still fit", [][]byte{big, small1, small2}, size(big) - 1, [][]byte{small1, small2}},
		{"room for one small", [][]byte{big, small1, small2}, size(small1), [][]byte{small1}},
		{"no room", [][]byte{big, small1}, 10, [][]byte{}},
		{"a too-big tx does not reserve its coin", [][]byte{big, conflict}, size(conflict), [][]byte{conflict}},
		{"empty", nil, 1 << 20, [][]byte{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.app.PrepareProposal(context.Background(), &cmtabci.RequestPrepareProposal{MaxTxBytes: tc.maxBytes, Txs: tc.txs, Height: c.height + 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Txs) != len(tc.want) {
				t.Fatalf("got %d txs, want %d", len(res.Txs), len(tc.want))
			}
			for i := range tc.want {
				if !bytes.Equal(res.Txs[i], tc.want[i]) {
					t.Errorf("tx %d: got %x…, want %x…", i, res.Txs[i][:8], tc.want[i][:8])
				}
			}
			if got := size(res.Txs...); got > tc.maxBytes {
				t.Errorf("proposal holds %d bytes, limit %d", got, tc.maxBytes)
			}
			// The proposal must pass the node's own ProcessProposal.
			pp, err := c.app.ProcessProposal(context.Background(), &cmtabci.RequestProcessProposal{Txs: res.Txs, Height: c.height + 1})
			if err != nil || pp.Status != cmtabci.ResponseProcessProposal_ACCEPT {
				t.Errorf("ProcessProposal of our own proposal: got %v (%v), want ACCEPT", pp.GetStatus(), err)
			}
		})
	}
	// Nothing was reserved or executed: the state is where it was.
	if res := c.checkTx(big, cmtabci.CheckTxType_New); res.Code != 0 {
		t.Errorf("CheckTx after proposals: got code %d (%s), want 0", res.Code, res.Log)
	}
}

// TestPrepareProposalProtoSize: CometBFT measures MaxTxBytes as the proto
// size of the block's Data (each tx plus its field tag and length prefix:
// types.Txs.Validate) and refuses to propose a block whose txs exceed it.
func TestPrepareProposalProtoSize(t *testing.T) {
	c := newTestChain(t)
	txs := [][]byte{
		c.transfer("", ins(c.coins[0]), outs(usd("bob", 500), usd("alice", 99500)), c.alice),
		c.transfer("", ins(c.coins[1]), outs(usd("bob", 500)), c.alice),
		c.transfer("", ins(c.coins[2]), outs(usd("alice", 2000)), c.bob),
	}
	var raw int64
	for _, tx := range txs {
		raw += int64(len(tx))
	}
	// With block.max_bytes = -1 CometBFT hands PrepareProposal the whole
	// mempool, so the app is what keeps the block under MaxTxBytes.
	res, err := c.app.PrepareProposal(context.Background(), &cmtabci.RequestPrepareProposal{MaxTxBytes: raw, Txs: txs, Height: c.height + 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := cmttypes.ToTxs(res.Txs).Validate(raw); err != nil {
		t.Fatalf("PrepareProposal output fails CometBFT's block size check: %v", err)
	}
}

func TestProcessProposal(t *testing.T) {
	c := newTestChain(t)
	pay := c.transfer("", ins(c.coins[0]), outs(usd("bob", 500), usd("alice", 99500)), c.alice)
	paySpent := c.transfer("", ins(c.coins[0]), outs(usd("bob", 100000)), c.alice)
	bobPays := c.transfer("", ins(c.coins[2]), outs(usd("alice", 2000)), c.bob)
	chained := c.transfer("", ins(app.Outpoint{TxID: txID(t, pay), Index: 1}), outs(usd("bob", 99500)), c.alice)
	wrongChain := func() []byte {
		body := &app.Body{Version: app.TxVersion, ChainID: "other", Transfer: &app.Transfer{Inputs: ins(c.coins[1]), Outputs: outs(usd("bob", 500))}}
		tx := &app.Tx{BodyBytes: app.EncodeBody(body)}
		sig, _ := c.alice.Sign(tx.BodyBytes)
		tx.Signatures = []app.Signature{{KeyType: app.KeyEd25519, PublicKey: c.alice.PubKey().Bytes(), Signature: sig}}
		return tx.Encode()
	}()
	accept, reject := cmtabci.ResponseProcessProposal_ACCEPT, cmtabci.ResponseProcessProposal_REJECT
	tests := []struct {
		name string
		txs  [][]byte
		want cmtabci.ResponseProcessProposal_ProposalStatus
	}{
		{"good block", [][]byte{pay, bobPays}, accept},
		{"empty block", nil, accept},
		{"double spend", [][]byte{pay, paySpent}, reject},
		{"same tx twice", [][]byte{bobPays, bobPays}, reject},
		{"garbage tx", [][]byte{pay, garbage}, reject},
		{"garbage first", [][]byte{garbage, pay}, reject},
		{"wrong chain", [][]byte{wrongChain}, reject},
		{"bad signature", [][]byte{c.transfer("", ins(c.coins[2]), outs(usd("alice", 2000)), c.alice)}, reject},
		// Each transaction is checked against committed state: an output
		// of an earlier transaction of the same proposal is not yet there.
		{"spend of an output made in the same proposal", [][]byte{pay, chained}, reject},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.app.ProcessProposal(context.Background(), &cmtabci.RequestProcessProposal{Txs: tc.txs, Height: c.height + 1})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.want {
				t.Errorf("got %v, want %v", res.Status, tc.want)
			}
		})
	}
}

func TestFinalizeBlock(t *testing.T) {
	c := newTestChain(t)
	pay := c.transfer("", ins(c.coins[0]), outs(usd("bob", 500), usd("alice", 99500)), c.alice)
	paySpent := c.transfer("", ins(c.coins[0]), outs(usd("bob", 100000)), c.alice)
	bobPays := c.transfer("", ins(c.coins[2]), outs(usd("alice", 2000)), c.bob)
	res := c.finalize(pay, garbage, paySpent, bobPays)

	type attrs map[string][]string // "type.key" → values, in order
	collect := func(r *cmtabci.ExecTxResult) attrs {
		got := attrs{}
		for _, e := range r.Events {
			for _, a := range e.Attributes {
				if !a.Index {
					t.Errorf("event %s.%s is not indexed", e.Type, a.Key)
				}
				got[e.Type+"."+a.Key] = append(got[e.Type+"."+a.Key], a.Value)
			}
		}
		return got
	}
	hexID := func(tx []byte) string { id := txID(t, tx); return hex.EncodeToString(id[:]) }
	tests := []struct {
		name     string
		tx       []byte
		wantCode uint32
		want     attrs
	}{
		{"transfer with change", pay, 0, attrs{
			"consort.txid":    {hexID(pay)},
			"transfer.sender": {"alice"}, "transfer.recipient": {"bob", "alice"}, "transfer.asset": {"USD"},
		}},
		{"garbage", garbage, uint32(app.CodeMalformed), attrs{}},
		{"double spend", paySpent, uint32(app.CodeInputNotFound), attrs{
			"consort.txid": {hexID(paySpent)},
		}},
		{"second transfer", bobPays, 0, attrs{
			"consort.txid":    {hexID(bobPays)},
			"transfer.sender": {"bob"}, "transfer.recipient": {"alice"}, "transfer.asset": {"USD"},
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := res.TxResults[i]
			if r.Code != tc.wantCode {
				t.Fatalf("code: got %d (%s), want %d", r.Code, r.Log, tc.wantCode)
			}
			if r.Codespace != Codespace {
				t.Errorf("codespace: got %q, want %q", r.Codespace, Codespace)
			}
			if tc.wantCode != 0 && r.Log == "" {
				t.Errorf("rejected without a log")
			}
			if id, ok := tc.want["consort.txid"]; ok {
				if got := hex.EncodeToString(r.Data); got != id[0] {
					t.Errorf("data: got %s, want the txid %s", got, id[0])
				}
			} else if r.Data != nil {
				t.Errorf("data: got %x, want none", r.Data)
			}
			got := collect(r)
			for k, want := range tc.want {
				if strings.Join(got[k], ",") != strings.Join(want, ",") {
					t.Errorf("%s: got %q, want %q", k, got[k], want)
				}
			}
			for k, vals := range got {
				if _, ok := tc.want[k]; ok {
					continue
				}
				t.Errorf("unexpected event attribute %s = %q", k, vals)
			}
		})
	}

	// The app hash of FinalizeBlock is what Commit saves and Info reports.
	c.commit()
	info, err := c.app.Info(context.Background(), &cmtabci.RequestInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if info.LastBlockHeight != 2 || !bytes.Equal(info.LastBlockAppHash, res.AppHash) {
		t.Errorf("Info: got height %d hash %X, want 2 %X", info.LastBlockHeight, info.LastBlockAppHash, res.AppHash)
	}

	// A block out of order halts instead of executing.
	if _, err := c.app.FinalizeBlock(context.Background(), &cmtabci.RequestFinalizeBlock{Height: 5}); err == nil {
		t.Error("FinalizeBlock at height 5 after 2: got no error, want one")
	}
}

func TestInfo(t *testing.T) {
	store, err := app.OpenStore(t.TempDir(), app.DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	fresh := New(DefaultConfig(), app.New(store), zerolog.Nop())
	info, err := fresh.Info(context.Background(), &cmtabci.RequestInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if info.LastBlockHeight != 0 || info.AppVersion != AppVersion || info.Data != "consort" {
		t.Errorf("fresh Info: got height %d version %d data %q, want 0 %d consort", info.LastBlockHeight, info.AppVersion, info.Data, AppVersion)
	}

	c := newTestChain(t)
	var hashes [][]byte
	for i := 0; i < 2; i++ {
		res := c.block(c.transfer("", ins(c.coins[i]), outs(usd("bob", []uint64{100000, 500}[i])), c.alice))
		info, err := c.app.Info(context.Background(), &cmtabci.RequestInfo{})
		if err != nil {
			t.Fatal(err)
		}
		if info.LastBlockHeight != c.height || !bytes.Equal(info.LastBlockAppHash, res.AppHash) {
			t.Errorf("after block %d: got height %d hash %X, want %d %X", c.height, info.LastBlockHeight, info.LastBlockAppHash, c.height, res.AppHash)
		}
		hashes = append(hashes, res.AppHash)
	}
	if bytes.Equal(hashes[0], hashes[1]) {
		t.Error("two different blocks gave the same app hash")
	}
}

func TestInitChainRejectsBadGenesis(t *testing.T) {
	store, err := app.OpenStore(t.TempDir(), app.DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	a := New(DefaultConfig(), app.New(store), zerolog.Nop())
	_, err = a.InitChain(context.Background(), &cmtabci.RequestInitChain{ChainId: testChainID, InitialHeight: 1, AppStateBytes: []byte(`{"accounts":[{"name":"Bad Name"}]}`)})
	if err == nil || !strings.Contains(err.Error(), "Bad Name") {
		t.Fatalf("InitChain: got %v, want an error naming the bad account", err)
	}
}

func TestQuery(t *testing.T) {
	c := newTestChain(t)
	c.block(c.transfer("", ins(c.coins[0]), outs(usd("bob", 500), usd("alice", 99500)), c.alice))
	info, err := c.app.Info(context.Background(), &cmtabci.RequestInfo{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		path      string
		height    int64
		prove     bool
		wantCode  uint32
		wantProof string // "member", "absent" or ""
	}{
		{"balance with proof asked", "/balance/bob/USD", 0, true, 0, ""}, // balances are in the index: no proof
		{"balance without proof", "/balance/bob/USD", 0, false, 0, ""},
		{"account with proof", "/account/alice", 2, true, 0, "member"},
		{"absent balance with proof asked", "/balance/bob/GOLD", 0, true, 0, ""},
		{"balance of an unknown asset", "/balance/bob/EUR", 0, true, uint32(app.CodeNotFound), ""},
		{"absent account with proof", "/account/carol", 0, true, uint32(app.CodeNotFound), "absent"},
		{"utxos carry no proof", "/utxos/alice", 0, true, 0, ""},
		{"unknown path", "/nothing", 0, true, uint32(app.CodeInvalidField), ""},
		{"future height", "/params", 9, true, uint32(app.CodeNotFound), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.app.Query(context.Background(), &cmtabci.RequestQuery{Path: tc.path, Height: tc.height, Prove: tc.prove})
			if err != nil {
				t.Fatal(err)
			}
			if res.Code != tc.wantCode {
				t.Fatalf("code: got %d (%s), want %d", res.Code, res.Log, tc.wantCode)
			}
			if res.Codespace != Codespace {
				t.Errorf("codespace: got %q, want %q", res.Codespace, Codespace)
			}
			if tc.wantCode != 0 && res.Log == "" {
				t.Errorf("error without a log")
			}
			if tc.wantProof == "" {
				if res.ProofOps != nil {
					t.Errorf("got proof ops %v, want none", res.ProofOps)
				}
				return
			}
			if res.Height != 2 {
				t.Errorf("height: got %d, want 2", res.Height)
			}
			if res.ProofOps == nil || len(res.ProofOps.Ops) != 1 {
				t.Fatalf("proof ops: got %v, want one", res.ProofOps)
			}
			op := res.ProofOps.Ops[0]
			if op.Type != "ics23:iavl" || !bytes.Equal(op.Key, res.Key) {
				t.Errorf("proof op: got type %q key %q, want ics23:iavl %q", op.Type, op.Key, res.Key)
			}
			var proof ics23.CommitmentProof
			if err := proof.Unmarshal(op.Data); err != nil {
				t.Fatal(err)
			}
			// Height 2 is the latest version: its root is Info's app hash.
			var ok bool
			if tc.wantProof == "member" {
				ok = ics23.VerifyMembership(ics23.IavlSpec, info.LastBlockAppHash, &proof, res.Key, res.Value)
			} else {
				ok = ics23.VerifyNonMembership(ics23.IavlSpec, info.LastBlockAppHash, &proof, res.Key)
			}
			if !ok {
				t.Errorf("%s proof of %q does not verify against the app hash", tc.wantProof, res.Key)
			}
		})
	}
}

func TestPeerFilter(t *testing.T) {
	c := newTestChain(t)
	tests := []struct {
		path string
		want uint32
	}{
		{"/p2p/filter/id/" + allowedNode, 0},
		{"/p2p/filter/id/0000000000000000000000000000000000000000", uint32(app.CodeNotPermitted)},
		{"/p2p/filter/id/not-an-id", uint32(app.CodeNotPermitted)},
		{"/p2p/filter/addr/127.0.0.1:26656", 0}, // the id decides, not the address
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			res, err := c.app.Query(context.Background(), &cmtabci.RequestQuery{Path: tc.path})
			if err != nil {
				t.Fatal(err)
			}
			if res.Code != tc.want {
				t.Fatalf("got code %d (%s), want %d", res.Code, res.Log, tc.want)
			}
		})
	}
}

func TestCheckTxRateLimit(t *testing.T) {
	c := newTestChain(t)
	now := time.Unix(1_000_000, 0)
	c.app.limiter = newLimiter(RateLimit{Rate: 1, Burst: 2}, func() time.Time { return now })
	// Three different payments from alice; the bucket holds two.
	pays := [][]byte{
		c.transfer("1", ins(c.coins[0]), outs(usd("bob", 100000)), c.alice),
		c.transfer("2", ins(c.coins[1]), outs(usd("bob", 500)), c.alice),
		c.transfer("3", ins(c.coins[0]), outs(usd("bob", 100000)), c.alice),
	}
	if res := c.checkTx(pays[0], cmtabci.CheckTxType_New); res.Code != 0 {
		t.Fatalf("first: got code %d (%s), want 0", res.Code, res.Log)
	}
	if res := c.checkTx(pays[1], cmtabci.CheckTxType_New); res.Code != 0 {
		t.Fatalf("second: got code %d (%s), want 0", res.Code, res.Log)
	}
	if res := c.checkTx(pays[2], cmtabci.CheckTxType_New); res.Code != uint32(app.CodeRateLimited) {
		t.Fatalf("third within the burst window: got code %d (%s), want %d", res.Code, res.Log, app.CodeRateLimited)
	}
	if res := c.checkTx(c.transfer("b", ins(c.coins[2]), outs(usd("alice", 2000)), c.bob), cmtabci.CheckTxType_New); res.Code != 0 {
		t.Fatalf("bob limited by alice's traffic: got code %d (%s), want 0", res.Code, res.Log)
	}
	if res := c.checkTx(pays[0], cmtabci.CheckTxType_Recheck); res.Code != 0 {
		t.Fatalf("recheck counted against the limit: got code %d (%s), want 0", res.Code, res.Log)
	}
	now = now.Add(2 * time.Second)
	if res := c.checkTx(c.transfer("4", ins(c.coins[1]), outs(usd("carol", 500)), c.alice), cmtabci.CheckTxType_New); res.Code == uint32(app.CodeRateLimited) {
		t.Fatalf("after refill: still rate limited (%s)", res.Log)
	}
}

// PrepareProposal takes a transaction CheckTx admitted against the current
// state without checking it again, but never two spends of one coin, and
// never a transaction admitted before the last commit; ProcessProposal
// skips only this node's own last proposal.
func TestProposalOfAdmittedTxs(t *testing.T) {
	c := newTestChain(t)
	admitted := c.transfer("", ins(c.coins[0]), outs(usd("bob", 100), usd("alice", 99900)), c.alice)
	rival := c.transfer("", ins(c.coins[0]), outs(usd("bob", 100000)), c.alice)
	if res := c.checkTx(admitted, cmtabci.CheckTxType_New); res.Code != 0 {
		t.Fatalf("CheckTx: code %d: %s", res.Code, res.Log)
	}
	prepare := func(txs ...[]byte) [][]byte {
		t.Helper()
		res, err := c.app.PrepareProposal(context.Background(), &cmtabci.RequestPrepareProposal{MaxTxBytes: 1 << 20, Txs: txs, Height: c.height + 1})
		if err != nil {
			t.Fatal(err)
		}
		return res.Txs
	}
	process := func(txs ...[]byte) cmtabci.ResponseProcessProposal_ProposalStatus {
		t.Helper()
		res, err := c.app.ProcessProposal(context.Background(), &cmtabci.RequestProcessProposal{Txs: txs, Height: c.height + 1})
		if err != nil {
			t.Fatal(err)
		}
		return res.Status
	}
	same := func(got, want [][]byte) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				return false
			}
		}
		return true
	}
	if got := prepare(rival, admitted); !same(got, [][]byte{rival}) {
		t.Errorf("rival first: got %d txs, want the rival alone", len(got))
	}
	if got := prepare(admitted, rival); !same(got, [][]byte{admitted}) {
		t.Errorf("admitted first: got %d txs, want the admitted one alone", len(got))
	}
	if st := process(admitted); st != cmtabci.ResponseProcessProposal_ACCEPT {
		t.Errorf("own proposal: got %v, want ACCEPT", st)
	}
	if st := process(admitted, rival); st != cmtabci.ResponseProcessProposal_REJECT {
		t.Errorf("a double spend at the same height: got %v, want REJECT", st)
	}
	// The rival commits: the admitted transaction's coin is gone, and the
	// commit dropped its reservation, so it is checked and left out.
	c.block(rival)
	if got := prepare(admitted); len(got) != 0 {
		t.Errorf("after its coin was spent: got %d txs, want none", len(got))
	}
}
