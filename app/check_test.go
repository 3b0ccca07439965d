package app

import (
	"encoding/json"
	"testing"
)

// meddleModule changes the params it is shown: the other modules, the
// next transaction and the params in state must not see the change.
type meddleModule struct{}

func (meddleModule) Name() string  { return "meddle" }
func (meddleModule) Codes() []Code { return nil }
func (meddleModule) Check(c *TxContext) error {
	for i := range c.Params.Modules {
		c.Params.Modules[i] = "ghost"
	}
	c.Params.Modules = append(c.Params.Modules, "ghost")
	return nil
}

func TestModuleCannotChangeParams(t *testing.T) {
	store, err := OpenStore(t.TempDir(), DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	a := New(store, WithModule(meddleModule{}))
	alice := newEdKey("meddle-alice")
	g := Genesis{
		Params:   &GenesisParams{Validation: &GenesisValidation{Modules: []string{"meddle", ModuleSignature, ModulePolicy}}},
		Assets:   []GenesisAsset{{ID: "USD", Decimals: 2}},
		Accounts: []GenesisAccount{{Name: "alice", Roles: []string{"member"}, Keys: []GenesisKey{alice.genesisKey(1)}}, {Name: "bob", Roles: []string{"member"}, Keys: []GenesisKey{newEdKey("meddle-bob").genesisKey(1)}}},
		UTXOs:    []GenesisUTXO{{Owner: "alice", Asset: "USD", Amount: "100"}, {Owner: "alice", Asset: "USD", Amount: "200"}},
	}
	b, _ := json.Marshal(g)
	if _, err := a.InitChain(testChainID, 1, b, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExecuteBlock(1, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	gid := GenesisTxID(testChainID)
	first := signTx(t, body(ins(Outpoint{gid, 0}), Output{"bob", "USD", 100}), alice)
	second := signTx(t, body(ins(Outpoint{gid, 1}), Output{"bob", "USD", 200}), alice)
	for _, tx := range [][]byte{first, second, first} {
		if _, err := a.Check(tx, nil); err != nil {
			t.Fatalf("check: %v", err)
		}
	}
	res, err := a.ExecuteBlock(2, [][]byte{first, second})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res.Txs {
		if r.Code != CodeOK {
			t.Fatalf("tx %d: code %d (%s)", i, r.Code, r.Log)
		}
	}
	p, err := LoadParams(store.Working())
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Modules; len(got) != 3 || got[0] != "meddle" || got[1] != ModuleSignature || got[2] != ModulePolicy {
		t.Fatalf("params modules after the module meddled: %v", got)
	}
}

// DecodeTx reuses the chain id of the last transaction that check found
// for its state's chain; a transaction for another chain neither gets it
// nor replaces it.
func TestDecodeTxChainIDString(t *testing.T) {
	f := newFixture(t)
	valid := signTx(t, body(ins(f.coinAlice), Output{"bob", "USD", 100000}), f.alice)
	other := body(ins(f.coinAlice), Output{"bob", "USD", 100000})
	other.ChainID = "other-chain"
	otherTx := signTx(t, other, f.alice)
	if _, err := f.app.Check(valid, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Check(otherTx, nil); CodeOf(err) != CodeWrongChainID {
		t.Fatalf("other chain: got %v, want code %d", err, CodeWrongChainID)
	}
	if known := knownChainID.Load(); known == nil || *known != testChainID {
		t.Fatalf("known chain id %v, want %q", known, testChainID)
	}
	if got := decoded(t, otherTx).Body.ChainID; got != "other-chain" {
		t.Fatalf("decoded chain id %q, want other-chain", got)
	}
	if got := decoded(t, valid).Body.ChainID; got != testChainID {
		t.Fatalf("decoded chain id %q, want %q", got, testChainID)
	}
	allocs := testing.AllocsPerRun(100, func() { _, _ = DecodeTx(valid) })
	if n := decodeAllocs(t, otherTx); allocs >= n {
		t.Errorf("decoding the known chain id: %v allocations, another: %v; want fewer", allocs, n)
	}
}

func decodeAllocs(t *testing.T, tx []byte) float64 {
	t.Helper()
	return testing.AllocsPerRun(100, func() { _, _ = DecodeTx(tx) })
}
