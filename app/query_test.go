package app

import (
	"bytes"
	"reflect"
	"sort"
	"strings"
	"testing"

	ics23 "github.com/cosmos/ics23/go"
)

// queryFixture is the fixture ledger plus block 2, in which alice pays bob
// 5.00 USD from her big coin: bob's USD balance is 2000 at height 1 and 2500
// at height 2.
type queryFixture struct {
	*fixture
	payment TxID // the block-2 transfer
}

func newQueryFixture(t *testing.T) *queryFixture {
	t.Helper()
	f := newFixture(t)
	res := f.commitBlock(signTx(t, body(ins(f.coinAlice), Output{"bob", "USD", 500}, Output{"alice", "USD", 99500}), f.alice))
	if res[0].Code != CodeOK {
		t.Fatalf("block 2 transfer: got code %d (%s), want 0", res[0].Code, res[0].Log)
	}
	return &queryFixture{fixture: f, payment: res[0].TxID}
}

// root is the committed hash of version h.
func (f *queryFixture) root(t *testing.T, h int64) []byte {
	t.Helper()
	tree, err := f.store.Version(h)
	if err != nil {
		t.Fatalf("version %d: %v", h, err)
	}
	return tree.Hash()
}

func decodeProof(t *testing.T, b []byte) *ics23.CommitmentProof {
	t.Helper()
	var p ics23.CommitmentProof
	if err := p.Unmarshal(b); err != nil {
		t.Fatalf("unmarshal proof: %v", err)
	}
	return &p
}

func TestQuery(t *testing.T) {
	f := newQueryFixture(t)
	gid := GenesisTxID(testChainID)

	wantBalance := func(want uint64) func(t *testing.T, v []byte) {
		return func(t *testing.T, v []byte) {
			got, err := DecodeBalance(v)
			if err != nil || got != want {
				t.Errorf("balance: got %d (%v), want %d", got, err, want)
			}
		}
	}
	wantUTXOs := func(want ...UTXOEntry) func(t *testing.T, v []byte) {
		return func(t *testing.T, v []byte) {
			got, more, err := DecodeUTXOList(v)
			if err != nil || more {
				t.Fatalf("utxo list: more %v, err %v", more, err)
			}
			sortEntries(got)
			sortEntries(want)
			if len(got) != len(want) {
				t.Fatalf("utxos: got %d %+v, want %d %+v", len(got), got, len(want), want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("utxo %d: got %+v, want %+v", i, got[i], want[i])
				}
			}
		}
	}
	entry := func(id TxID, i uint32, owner, asset string, amount uint64) UTXOEntry {
		return UTXOEntry{Outpoint{id, i}, Output{owner, asset, amount}}
	}

	tests := []struct {
		name       string
		path       string
		height     int64
		wantCode   Code
		wantHeight int64 // when a result is expected
		wantKey    string
		check      func(t *testing.T, value []byte)
	}{
		{name: "account", path: "/account/carol", wantHeight: 2, wantKey: "account/carol", check: func(t *testing.T, v []byte) {
			a, err := DecodeAccount(v)
			if err != nil || a.Name != "carol" || a.Organization != "bank-c" || a.Threshold != 2 || len(a.Keys) != 3 {
				t.Errorf("account: got %+v (%v), want carol of bank-c, 2 of 3 keys", a, err)
			}
		}},
		{name: "frozen account", path: "/account/dave", wantHeight: 2, wantKey: "account/dave", check: func(t *testing.T, v []byte) {
			if a, err := DecodeAccount(v); err != nil || a.Status != StatusFrozen {
				t.Errorf("dave: got %+v (%v), want frozen", a, err)
			}
		}},
		{name: "account without leading slash", path: "account/alice", wantHeight: 2, wantKey: "account/alice"},
		{name: "absent account", path: "/account/mallory", wantCode: CodeNotFound, wantHeight: 2, wantKey: "account/mallory"},
		{name: "invalid account name", path: "/account/Mallory", wantCode: CodeInvalidField},
		{name: "asset", path: "/asset/USD", wantHeight: 2, wantKey: "asset/USD", check: func(t *testing.T, v []byte) {
			a, err := DecodeAsset(v)
			if err != nil || a.ID != "USD" || a.Decimals != 2 || a.Supply != 107600 || len(a.Issuers) != 1 || a.Issuers[0].Account != "alice" {
				t.Errorf("asset: got %+v (%v), want USD, 2 decimals, supply 107600, issuer alice", a, err)
			}
		}},
		{name: "absent asset", path: "/asset/EUR", wantCode: CodeNotFound, wantHeight: 2, wantKey: "asset/EUR"},
		{name: "invalid asset id", path: "/asset/usd", wantCode: CodeInvalidField},
		{name: "balance at latest", path: "/balance/bob/USD", wantHeight: 2, wantKey: "balance/bob/USD", check: wantBalance(2500)},
		{name: "balance at explicit latest", path: "/balance/bob/USD", height: 2, wantHeight: 2, wantKey: "balance/bob/USD", check: wantBalance(2500)},
		{name: "balance in the past", path: "/balance/bob/USD", height: 1, wantCode: CodeNotFound}, // the index keeps the latest height only
		{name: "balance of a spent-and-changed owner", path: "/balance/alice/USD", wantHeight: 2, wantKey: "balance/alice/USD", check: wantBalance(100000)},
		{name: "absent balance is zero", path: "/balance/bob/GOLD", wantHeight: 2, wantKey: "balance/bob/GOLD", check: func(t *testing.T, v []byte) {
			if v != nil {
				t.Errorf("absent balance: got value %x, want none", v)
			}
		}},
		{name: "balance of unknown account", path: "/balance/mallory/USD", wantCode: CodeNotFound},
		{name: "balance of unknown asset", path: "/balance/bob/EUR", wantCode: CodeNotFound},
		{name: "balance with invalid name", path: "/balance/Bob/USD", wantCode: CodeInvalidField},
		{name: "balance with invalid asset", path: "/balance/bob/usd", wantCode: CodeInvalidField},
		{name: "params", path: "/params", wantHeight: 2, wantKey: "params", check: func(t *testing.T, v []byte) {
			if p, err := DecodeParams(v); err != nil || !reflect.DeepEqual(*p, DefaultParams()) {
				t.Errorf("params: got %+v (%v), want %+v", p, err, DefaultParams())
			}
		}},
		{name: "utxos", path: "/utxos/alice", wantHeight: 2, check: wantUTXOs(
			entry(gid, 1, "alice", "USD", 500), entry(gid, 3, "alice", "GOLD", 10), entry(f.payment, 1, "alice", "USD", 99500))},
		{name: "utxos of one asset", path: "/utxos/alice/GOLD", wantHeight: 2, check: wantUTXOs(entry(gid, 3, "alice", "GOLD", 10))},
		{name: "utxos of an asset the owner lacks", path: "/utxos/bob/GOLD", wantHeight: 2, check: wantUTXOs()},
		{name: "utxos in the past", path: "/utxos/alice/USD", height: 1, wantCode: CodeNotFound},
		{name: "utxos now", path: "/utxos/bob", wantHeight: 2, check: wantUTXOs(entry(gid, 2, "bob", "USD", 2000), entry(f.payment, 0, "bob", "USD", 500))},
		{name: "utxos of unknown account", path: "/utxos/mallory", wantCode: CodeNotFound},
		{name: "utxos with invalid asset", path: "/utxos/alice/gold", wantCode: CodeInvalidField},
		{name: "future height", path: "/params", height: 3, wantCode: CodeNotFound},
		{name: "negative height", path: "/params", height: -1, wantCode: CodeNotFound},
		{name: "empty path", path: "", wantCode: CodeInvalidField},
		{name: "root path", path: "/", wantCode: CodeInvalidField},
		{name: "unknown path", path: "/tx/abc", wantCode: CodeInvalidField},
		{name: "account without name", path: "/account", wantCode: CodeInvalidField},
		{name: "account with extra part", path: "/account/alice/keys", wantCode: CodeInvalidField},
		{name: "balance without asset", path: "/balance/alice", wantCode: CodeInvalidField},
		{name: "balance with trailing slash", path: "/balance/alice/USD/", wantCode: CodeInvalidField},
		{name: "double slash", path: "//params", wantCode: CodeInvalidField},
		{name: "params with extra part", path: "/params/max_tx_bytes", wantCode: CodeInvalidField},
	}
	for _, tc := range tests {
		for _, prove := range []bool{false, true} {
			name := tc.name
			if prove {
				name += "/prove"
			}
			t.Run(name, func(t *testing.T) {
				res, err := f.app.Query(tc.path, tc.height, prove)
				if got := CodeOf(err); got != tc.wantCode {
					t.Fatalf("Query(%q, %d): got code %d (%v), want %d", tc.path, tc.height, got, err, tc.wantCode)
				}
				if tc.wantHeight == 0 {
					if res != nil {
						t.Fatalf("Query(%q, %d): got result %+v, want none", tc.path, tc.height, res)
					}
					return
				}
				if res == nil {
					t.Fatalf("Query(%q, %d): got no result, want one at height %d", tc.path, tc.height, tc.wantHeight)
				}
				if res.Height != tc.wantHeight {
					t.Errorf("height: got %d, want %d", res.Height, tc.wantHeight)
				}
				if got := string(res.Key); got != tc.wantKey {
					t.Errorf("key: got %q, want %q", got, tc.wantKey)
				}
				if tc.check != nil {
					tc.check(t, res.Value)
				}
				switch {
				case tc.wantKey == "" || !prove || strings.HasPrefix(tc.path, "/balance/"): // balances are in the index, not the tree
					if res.Proof != nil {
						t.Errorf("got a proof of %d bytes, want none", len(res.Proof))
					}
				case res.Proof == nil:
					t.Errorf("got no proof, want one")
				default:
					root := f.root(t, res.Height)
					proof := decodeProof(t, res.Proof)
					if res.Value != nil {
						if !ics23.VerifyMembership(ics23.IavlSpec, root, proof, res.Key, res.Value) {
							t.Errorf("membership proof does not verify against the root of height %d", res.Height)
						}
					} else if !ics23.VerifyNonMembership(ics23.IavlSpec, root, proof, res.Key) {
						t.Errorf("absence proof does not verify against the root of height %d", res.Height)
					}
				}
			})
		}
	}
}

// TestQueryProofNegative: a proof binds the value, the key and the root.
func TestQueryProofNegative(t *testing.T) {
	f := newQueryFixture(t)
	root1, root2 := f.root(t, 1), f.root(t, 2)
	if bytes.Equal(root1, root2) {
		t.Fatal("heights 1 and 2 have the same root")
	}

	res, err := f.app.Query("/stats", 2, true)
	if err != nil {
		t.Fatal(err)
	}
	proof := decodeProof(t, res.Proof)
	if !ics23.VerifyMembership(ics23.IavlSpec, root2, proof, res.Key, res.Value) {
		t.Fatal("proof does not verify against its own root")
	}
	old, err := f.app.Query("/stats", 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(old.Value, res.Value) {
		t.Fatal("stats are the same at heights 1 and 2")
	}
	flipped := append(bytes.Clone(root2[:len(root2)-1]), root2[len(root2)-1]^0x80)
	otherValue := append(bytes.Clone(res.Value[:len(res.Value)-1]), res.Value[len(res.Value)-1]^1)
	tests := []struct {
		name       string
		root       []byte
		proof      []byte
		key, value []byte
	}{
		{"proof of height 2 against root of height 1", root1, res.Proof, res.Key, res.Value},
		{"proof of height 1 against root of height 2", root2, old.Proof, old.Key, old.Value},
		{"old value with new proof", root2, res.Proof, res.Key, old.Value},
		{"changed value", root2, res.Proof, res.Key, otherValue},
		{"other key", root2, res.Proof, []byte("params"), res.Value},
		{"flipped root", flipped, res.Proof, res.Key, res.Value},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if ics23.VerifyMembership(ics23.IavlSpec, tc.root, decodeProof(t, tc.proof), tc.key, tc.value) {
				t.Errorf("VerifyMembership: got true, want false")
			}
		})
	}

	// Absence: there is no account mallory. The absence proof verifies,
	// cannot be turned into a membership proof, and a present key has no
	// absence proof that verifies.
	absent, err := f.app.Query("/account/mallory", 0, true)
	if CodeOf(err) != CodeNotFound || absent == nil {
		t.Fatalf("absent account: got %+v (%v), want a not-found answer with a proof", absent, err)
	}
	ap := decodeProof(t, absent.Proof)
	if !ics23.VerifyNonMembership(ics23.IavlSpec, root2, ap, absent.Key) {
		t.Fatal("absence proof does not verify")
	}
	if ics23.VerifyMembership(ics23.IavlSpec, root2, ap, absent.Key, []byte{1}) {
		t.Error("absence proof verifies as membership")
	}
	if ics23.VerifyNonMembership(ics23.IavlSpec, root2, ap, []byte("account/alice")) {
		t.Error("absence proof of mallory proves alice absent")
	}
	if ics23.VerifyNonMembership(ics23.IavlSpec, root2, proof, res.Key) {
		t.Error("membership proof of the stats verifies as absence")
	}
	// A balance spent to zero disappears from the index: alice's GOLD
	// after she pays it all.
	f.commitBlock(signTx(t, body(ins(f.coinGold), Output{"bob", "GOLD", 10}), f.alice))
	gone, err := f.app.Query("/balance/alice/GOLD", 0, true)
	if err != nil || gone.Value != nil || gone.Height != 3 {
		t.Fatalf("alice GOLD after spending it: got %+v (%v), want no value at height 3", gone, err)
	}
}

func sortEntries(list []UTXOEntry) {
	sort.Slice(list, func(i, j int) bool {
		return bytes.Compare(outpointKeyBytes(list[i].Outpoint), outpointKeyBytes(list[j].Outpoint)) < 0
	})
}
