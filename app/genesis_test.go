package app

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// goodGenesis is a small valid genesis: alice (issuer of USD) and bob, one
// coin each.
func goodGenesis() *Genesis {
	alice, bob := newEdKey("genesis-alice"), newEdKey("genesis-bob")
	return &Genesis{
		Assets: []GenesisAsset{{ID: "USD", Decimals: 2, Issuers: []GenesisIssuer{{Account: "alice"}}}, {ID: "GOLD"}},
		Accounts: []GenesisAccount{
			{Name: "alice", Keys: []GenesisKey{alice.genesisKey(1)}},
			{Name: "bob", Keys: []GenesisKey{bob.genesisKey(2)}, Threshold: 2},
		},
		UTXOs: []GenesisUTXO{
			{Owner: "alice", Asset: "USD", Amount: "100000"},
			{Owner: "bob", Asset: "GOLD", Amount: "7"},
		},
	}
}

func marshalGenesis(tb testing.TB, g *Genesis) []byte {
	tb.Helper()
	b, err := json.Marshal(g)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestInitChainRejectsBadGenesis(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	edKey := newEdKey("genesis-carol").genesisKey(1)
	good := string(marshalGenesis(t, goodGenesis()))

	tests := []struct {
		name      string
		mutate    func(g *Genesis) // applied to goodGenesis, unless raw is set
		raw       string           // app_state used verbatim
		noChainID bool             // call InitChain with an empty chain id
		want      string           // substring of the error
	}{
		{name: "empty app state", raw: "", want: "empty"},
		{name: "not json", raw: "accounts: []", want: "genesis app_state"},
		{name: "json array", raw: "[]", want: "genesis app_state"},
		{name: "unknown top-level field", raw: `{"assets":[],"accounts":[],"utxos":[],"minting":true}`, want: `unknown field "minting"`},
		{name: "unknown account field", raw: `{"accounts":[{"name":"alice","keys":[],"admin":true}]}`, want: `unknown field "admin"`},
		{name: "unknown params field", raw: `{"params":{"max_block_bytes":1}}`, want: `unknown field "max_block_bytes"`},
		{name: "trailing document", raw: good + `{"utxos":[{"owner":"alice","asset":"USD","amount":"1"}]}`, want: "genesis app_state"},
		{name: "duplicate key", raw: strings.Replace(good, `"utxos":[`, `"utxos":[{"owner":"bob","asset":"USD","amount":"5"}],"utxos":[`, 1), want: "utxos"},
		{name: "string for a number", raw: `{"assets":[{"id":"USD","decimals":"2"}]}`, want: "genesis app_state"},
		{name: "negative param", raw: `{"params":{"max_tx_bytes":-1}}`, want: "genesis app_state"},
		{name: "empty chain id", raw: good, noChainID: true, want: "empty chain id"},
		{name: "duplicate account", mutate: func(g *Genesis) { g.Accounts = append(g.Accounts, g.Accounts[0]) }, want: "alice declared twice"},
		{name: "duplicate asset", mutate: func(g *Genesis) { g.Assets = append(g.Assets, GenesisAsset{ID: "USD"}) }, want: "USD declared twice"},
		{name: "uppercase account name", mutate: func(g *Genesis) { g.Accounts[0].Name = "Alice" }, want: `account name "Alice"`},
		{name: "empty account name", mutate: func(g *Genesis) { g.Accounts[0].Name = "" }, want: `account name ""`},
		{name: "account name with slash", mutate: func(g *Genesis) { g.Accounts[0].Name = "bank/a" }, want: `account name "bank/a"`},
		{name: "account name too long", mutate: func(g *Genesis) { g.Accounts[0].Name = strings.Repeat("a", 65) }, want: "want 1 to 64 characters"},
		{name: "account name starting with a dot", mutate: func(g *Genesis) { g.Accounts[0].Name = ".alice" }, want: `account name ".alice"`},
		{name: "lowercase asset id", mutate: func(g *Genesis) { g.Assets[1].ID = "gold" }, want: `asset id "gold"`},
		{name: "asset id starting with a digit", mutate: func(g *Genesis) { g.Assets[1].ID = "1GOLD" }, want: `asset id "1GOLD"`},
		{name: "asset id too long", mutate: func(g *Genesis) { g.Assets[1].ID = strings.Repeat("G", 33) }, want: "want 1 to 32 characters"},
		{name: "too many decimals", mutate: func(g *Genesis) { g.Assets[0].Decimals = 19 }, want: "19 decimals, at most 18"},
		{name: "threshold above key weight", mutate: func(g *Genesis) { g.Accounts[1].Threshold = 3 }, want: "threshold 3 exceeds the total key weight 2"},
		{name: "no keys", mutate: func(g *Genesis) { g.Accounts[0].Keys = nil }, want: "alice has no keys"},
		{name: "unknown key type", mutate: func(g *Genesis) { g.Accounts[0].Keys[0].Type = "rsa" }, want: `key type "rsa"`},
		{name: "bad base64 key", mutate: func(g *Genesis) { g.Accounts[0].Keys[0].PublicKey = "not*base64!" }, want: "not base64"},
		{name: "url base64 key", mutate: func(g *Genesis) {
			g.Accounts[0].Keys[0].PublicKey = base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))
		}, want: "not base64"},
		{name: "short ed25519 key", mutate: func(g *Genesis) { g.Accounts[0].Keys[0].PublicKey = b64(make([]byte, 31)) }, want: "ed25519 public key is 31 bytes, want 32"},
		{name: "empty key", mutate: func(g *Genesis) { g.Accounts[0].Keys[0].PublicKey = "" }, want: "ed25519 public key is 0 bytes"},
		{name: "uncompressed p256 key", mutate: func(g *Genesis) {
			g.Accounts[0].Keys[0] = GenesisKey{Type: "p256", PublicKey: b64(append([]byte{4}, make([]byte, 64)...))}
		}, want: "p256 public key is 65 bytes, want 33"},
		{name: "p256 key off the curve", mutate: func(g *Genesis) {
			g.Accounts[0].Keys[0] = GenesisKey{Type: "p256", PublicKey: b64(append([]byte{2}, bytes.Repeat([]byte{0xff}, 32)...))}
		}, want: "not a point on the curve"},
		{name: "duplicate key in one account", mutate: func(g *Genesis) {
			g.Accounts = append(g.Accounts, GenesisAccount{Name: "carol", Keys: []GenesisKey{edKey, edKey}, Threshold: 2})
		}, want: "carol"},
		{name: "utxo of unknown owner", mutate: func(g *Genesis) { g.UTXOs[1].Owner = "mallory" }, want: "genesis utxo 1: owner mallory is not a genesis account"},
		{name: "utxo of unknown asset", mutate: func(g *Genesis) { g.UTXOs[1].Asset = "EUR" }, want: "genesis utxo 1: asset EUR is not a genesis asset"},
		{name: "zero amount", mutate: func(g *Genesis) { g.UTXOs[0].Amount = "0" }, want: `amount "0"`},
		{name: "empty amount", mutate: func(g *Genesis) { g.UTXOs[0].Amount = "" }, want: `amount ""`},
		{name: "negative amount", mutate: func(g *Genesis) { g.UTXOs[0].Amount = "-5" }, want: `amount "-5"`},
		{name: "signed amount", mutate: func(g *Genesis) { g.UTXOs[0].Amount = "+5" }, want: `amount "+5"`},
		{name: "decimal amount", mutate: func(g *Genesis) { g.UTXOs[0].Amount = "1000.00" }, want: `amount "1000.00"`},
		{name: "garbage amount", mutate: func(g *Genesis) { g.UTXOs[0].Amount = "12abc" }, want: `amount "12abc"`},
		{name: "hex amount", mutate: func(g *Genesis) { g.UTXOs[0].Amount = "0x10" }, want: `amount "0x10"`},
		{name: "amount above 2^64-1", mutate: func(g *Genesis) { g.UTXOs[0].Amount = "18446744073709551616" }, want: `amount "18446744073709551616"`},
		{name: "supply overflow", mutate: func(g *Genesis) {
			g.UTXOs = append(g.UTXOs, GenesisUTXO{Owner: "bob", Asset: "USD", Amount: "18446744073709451616"})
		}, want: "genesis utxo 2: supply of USD exceeds 2^64-1"},
		{name: "issuer not an account", mutate: func(g *Genesis) { g.Assets[0].Issuers = []GenesisIssuer{{Account: "alice"}, {Account: "mallory"}} }, want: "issuer mallory is not a genesis account"},
		{name: "issuer listed twice", mutate: func(g *Genesis) { g.Assets[0].Issuers = []GenesisIssuer{{Account: "alice"}, {Account: "alice"}} }, want: "issuer alice listed twice"},
		{name: "bad issuer cap", mutate: func(g *Genesis) { g.Assets[0].Issuers[0].Cap = "lots" }, want: `cap "lots"`},
		{name: "undefined role", mutate: func(g *Genesis) { g.Accounts[0].Roles = []string{"wizard"} }, want: `role "wizard" is not defined`},
		{name: "unknown permission", mutate: func(g *Genesis) { g.Roles = []GenesisRole{{Name: "x", Permissions: []string{"fly"}}} }, want: "fly"},
		{name: "bad node id", mutate: func(g *Genesis) { g.Nodes = []string{"not-a-node"} }, want: "node id"},
		{name: "zero key weight is defaulted, zero threshold is defaulted; weight sum below threshold", mutate: func(g *Genesis) { g.Accounts[0].Threshold = 5 }, want: "threshold 5 exceeds the total key weight"},
	}
	// One store takes every bad document in turn: none may leave a trace.
	store, err := OpenStore(t.TempDir(), DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ledger := New(store)
	emptyHash := store.WorkingHash()

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			appState := []byte(tc.raw)
			if tc.mutate != nil {
				g := goodGenesis()
				tc.mutate(g)
				appState = marshalGenesis(t, g)
			}
			chainID := testChainID
			if tc.noChainID {
				chainID = ""
			}
			hash, err := ledger.InitChain(chainID, 1, appState, nil)
			if err == nil {
				t.Fatalf("InitChain: got hash %X and no error, want an error containing %q", hash, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("InitChain: got error %q, want it to contain %q", err, tc.want)
			}
			if got := store.Height(); got != 0 {
				t.Errorf("height after rejected genesis: got %d, want 0", got)
			}
			if got := store.WorkingHash(); !bytes.Equal(got, emptyHash) {
				t.Errorf("working hash after rejected genesis: got %X, want the empty tree's %X", got, emptyHash)
			}
			if v, _ := store.Working().Get([]byte(keyChainID)); v != nil {
				t.Errorf("chain id left in the working tree: %q", v)
			}
		})
	}

	// After all that, a good genesis goes in and commits as block 1.
	hash, err := ledger.InitChain(testChainID, 1, []byte(good), nil)
	if err != nil {
		t.Fatalf("valid InitChain after rejected ones: %v", err)
	}
	if _, err := ledger.ExecuteBlock(1, nil); err != nil {
		t.Fatal(err)
	}
	height, committed, err := ledger.Commit()
	if err != nil || height != 1 || !bytes.Equal(committed, hash) {
		t.Fatalf("commit genesis: got height %d hash %X (%v), want 1 %X", height, committed, err, hash)
	}
	if got, err := loadBalance(store.Committed(), "alice", "USD"); err != nil || got != 100000 {
		t.Errorf("alice USD: got %d (%v), want 100000", got, err)
	}
	usd, err := loadAsset(store.Committed(), "USD")
	if err != nil || usd == nil || usd.Supply != 100000 {
		t.Errorf("USD supply: got %+v (%v), want 100000", usd, err)
	}
	// And a second InitChain is refused once a block is committed.
	if _, err := ledger.InitChain(testChainID, 1, []byte(good), nil); err == nil || !strings.Contains(err.Error(), "already at height 1") {
		t.Errorf("InitChain at height 1: got %v, want an error mentioning the height", err)
	}
}

// TestInitChainSameGenesisSameHash: genesis is deterministic, including the
// defaults it fills in, so two nodes agree on the first app hash.
func TestInitChainSameGenesisSameHash(t *testing.T) {
	var hashes [][]byte
	for i := 0; i < 2; i++ {
		store, err := OpenStore(t.TempDir(), DefaultStoreConfig())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		hash, err := New(store).InitChain(testChainID, 1, marshalGenesis(t, goodGenesis()), []InitialValidator{{KeyType: "ed25519", PublicKey: make([]byte, 32), Power: 10}})
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, hash)
	}
	if !bytes.Equal(hashes[0], hashes[1]) {
		t.Fatalf("genesis hashes differ: %X and %X", hashes[0], hashes[1])
	}
	// Explicit default params are the same state as no params.
	g := goodGenesis()
	d := DefaultParams()
	g.Params = &GenesisParams{MaxTxBytes: d.MaxTxBytes, MaxInputs: d.MaxInputs, MaxOutputs: d.MaxOutputs, MaxSignatures: d.MaxSignatures, MaxMemoBytes: d.MaxMemoBytes}
	store, err := OpenStore(t.TempDir(), DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	hash, err := New(store).InitChain(testChainID, 1, marshalGenesis(t, g), []InitialValidator{{KeyType: "ed25519", PublicKey: make([]byte, 32), Power: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hash, hashes[0]) {
		t.Errorf("explicit default params: got hash %X, want %X", hash, hashes[0])
	}
}

// TestInitChainRetryKeepsInitialHeight: a rejected InitChain must not leave
// its initial height behind for the next attempt.
func TestInitChainRetryKeepsInitialHeight(t *testing.T) {
	store, err := OpenStore(t.TempDir(), DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ledger := New(store)
	bad := goodGenesis()
	bad.Accounts[0].Name = "Alice"
	if _, err := ledger.InitChain(testChainID, 5, marshalGenesis(t, bad), nil); err == nil {
		t.Fatal("bad genesis accepted")
	}
	if _, err := ledger.InitChain(testChainID, 1, marshalGenesis(t, goodGenesis()), nil); err != nil {
		t.Fatal(err)
	}
	if got := store.WorkingVersion(); got != 1 {
		t.Fatalf("after a rejected InitChain with initial height 5, a retry with initial height 1 expects block %d, want 1", got)
	}
}
