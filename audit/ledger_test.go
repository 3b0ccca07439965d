package audit

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"slices"
	"testing"
	"time"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/consort-ledger/consort/app"
)

// TestAuditCheckSupplyFindsBrokenInvariants breaks the ledger's invariants
// directly in a replayed state and checks that the supply scan names each.
func TestAuditCheckSupplyFindsBrokenInvariants(t *testing.T) {
	gid := app.GenesisTxID(testChainID)
	outpoint := func(i uint32) []byte { return binary.BigEndian.AppendUint32(append([]byte(nil), gid[:]...), i) }
	key := func(parts ...[]byte) []byte { return slices.Concat(parts...) }
	tests := []struct {
		name    string
		breakIt func(kv app.KV) error
		want    []string
	}{
		{"healthy", func(app.KV) error { return nil }, nil},
		{"coin amount raised", func(kv app.KV) error {
			return kv.Set(key([]byte("utxo/"), outpoint(0)), app.EncodeOutput(app.Output{Owner: "alice", Asset: "USD", Amount: 501}))
		}, []string{TypeBalance, TypeSupply}},
		{"coin removed without its index", func(kv app.KV) error {
			return kv.Delete(key([]byte("utxo/"), outpoint(1)))
		}, []string{TypeBalance, TypeCoinIndex, TypeSupply}},
		{"coin of an unknown owner", func(kv app.KV) error {
			return kv.Set(key([]byte("utxo/"), outpoint(9)), app.EncodeOutput(app.Output{Owner: "ghost", Asset: "USD", Amount: 5}))
		}, []string{TypeBalance, TypeCoinIndex, TypeSupply}},
		{"owner index entry lost", func(kv app.KV) error {
			return kv.Delete(key([]byte("owner/bob/"), outpoint(1)))
		}, []string{TypeCoinIndex}},
		{"balance changed", func(kv app.KV) error {
			return kv.Set([]byte("balance/bob/USD"), []byte{0x08, 0x01})
		}, []string{TypeBalance}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newSupplyAuditor(t)
			if err := tt.breakIt(a.replay.store.Working()); err != nil {
				t.Fatal(err)
			}
			if _, _, err := a.replay.ledger.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := a.checkSupply(2); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range a.f.list {
				if !slices.Contains(got, f.Type) {
					got = append(got, f.Type)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("finding types: got %v, want %v", got, tt.want)
				for _, f := range a.f.list {
					t.Logf("%s %s: %s", f.Type, f.Key, f.Description)
				}
			}
			if tt.want == nil && (a.sum.Coins != 2 || a.sum.Accounts != 2) {
				t.Errorf("summary: got %d coins of %d accounts, want 2 of 2", a.sum.Coins, a.sum.Accounts)
			}
		})
	}
}

// newSupplyAuditor replays a genesis of alice (coin 0: 500 USD) and bob
// (coin 1: 300 USD) and one empty block.
func newSupplyAuditor(t *testing.T) *auditor {
	t.Helper()
	keyOf := func(name string) app.GenesisKey {
		k := cmted25519.GenPrivKeyFromSecret([]byte(name)).PubKey().Bytes()
		return app.GenesisKey{Type: "ed25519", PublicKey: base64.StdEncoding.EncodeToString(k)}
	}
	g := app.Genesis{
		Assets:   []app.GenesisAsset{{ID: "USD", Decimals: 2}},
		Accounts: []app.GenesisAccount{{Name: "alice", Keys: []app.GenesisKey{keyOf("alice")}}, {Name: "bob", Keys: []app.GenesisKey{keyOf("bob")}}},
		UTXOs:    []app.GenesisUTXO{{Owner: "alice", Asset: "USD", Amount: "500"}, {Owner: "bob", Asset: "USD", Amount: "300"}},
	}
	appState, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	val := cmted25519.GenPrivKeyFromSecret([]byte("val")).PubKey()
	doc := &cmttypes.GenesisDoc{ChainID: testChainID, GenesisTime: time.Unix(0, 0), InitialHeight: 1, AppState: appState,
		Validators: []cmttypes.GenesisValidator{{PubKey: val, Power: 1}}}
	if err := doc.ValidateAndComplete(); err != nil {
		t.Fatal(err)
	}
	r, err := newReplay(t.TempDir(), doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	l, err := newLedgerState(doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.ledger.ExecuteBlock(1, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.ledger.Commit(); err != nil {
		t.Fatal(err)
	}
	return &auditor{replay: r, ledger: l, f: newFindings(50)}
}
