package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"testing"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
)

const testChainID = "consort-test"

// testKey signs like a client: ed25519 over the body, or p256 low-S r‖s over sha256(body).
type testKey struct {
	typ KeyType
	ed  cmted25519.PrivKey
	ec  *ecdsa.PrivateKey
}

func newEdKey(seed string) testKey {
	return testKey{typ: KeyEd25519, ed: cmted25519.GenPrivKeyFromSecret([]byte(seed))}
}

func newP256Key(t testing.TB) testKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{typ: KeyP256, ec: k}
}

func (k testKey) pub() []byte {
	if k.typ == KeyEd25519 {
		return k.ed.PubKey().Bytes()
	}
	return elliptic.MarshalCompressed(elliptic.P256(), k.ec.X, k.ec.Y)
}

func (k testKey) sign(t testing.TB, msg []byte) Signature {
	t.Helper()
	if k.typ == KeyEd25519 {
		sig, err := k.ed.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		return Signature{KeyType: KeyEd25519, PublicKey: k.pub(), Signature: sig}
	}
	digest := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, k.ec, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	if s.Cmp(p256HalfOrder) > 0 {
		s.Sub(p256Order, s)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return Signature{KeyType: KeyP256, PublicKey: k.pub(), Signature: sig}
}

func (k testKey) genesisKey(weight uint32) GenesisKey {
	return GenesisKey{Type: k.typ.String(), PublicKey: base64.StdEncoding.EncodeToString(k.pub()), Weight: weight}
}

// fixture is a ledger at height 1 with:
//
//	alice (ed25519): genesis coins 0: 1000.00 USD, 1: 5.00 USD, 3: 10 GOLD
//	bob   (ed25519): genesis coin 2: 20.00 USD
//	carol (2 of 3: ed25519, ed25519, p256): genesis coin 4: 50.00 USD
//	dave  (frozen after genesis): genesis coin 5: 1.00 USD
type fixture struct {
	t                         testing.TB
	store                     *Store
	app                       *App
	alice, bob, dave          testKey
	carol1, carol2, carol3    testKey
	coinAlice, coinAliceSmall Outpoint
	coinBob, coinGold         Outpoint
	coinCarol, coinDave       Outpoint
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{t: t, alice: newEdKey("alice"), bob: newEdKey("bob"), dave: newEdKey("dave"),
		carol1: newEdKey("carol1"), carol2: newEdKey("carol2"), carol3: newP256Key(t)}
	store, err := OpenStore(t.TempDir(), DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f.store, f.app = store, New(store)
	g := Genesis{
		Assets: []GenesisAsset{{ID: "USD", Decimals: 2, Issuers: []GenesisIssuer{{Account: "alice"}}}, {ID: "GOLD", Decimals: 0}},
		Accounts: []GenesisAccount{
			{Name: "alice", Organization: "bank-a", Roles: []string{"member", "issuer"}, Keys: []GenesisKey{f.alice.genesisKey(1)}},
			{Name: "bob", Organization: "bank-b", Roles: []string{"member"}, Keys: []GenesisKey{f.bob.genesisKey(1)}},
			{Name: "carol", Organization: "bank-c", Roles: []string{"member"}, Threshold: 2, Keys: []GenesisKey{f.carol1.genesisKey(1), f.carol2.genesisKey(1), f.carol3.genesisKey(1)}},
			{Name: "dave", Roles: []string{"member"}, Keys: []GenesisKey{f.dave.genesisKey(1)}},
		},
		UTXOs: []GenesisUTXO{
			{Owner: "alice", Asset: "USD", Amount: "100000"},
			{Owner: "alice", Asset: "USD", Amount: "500"},
			{Owner: "bob", Asset: "USD", Amount: "2000"},
			{Owner: "alice", Asset: "GOLD", Amount: "10"},
			{Owner: "carol", Asset: "USD", Amount: "5000"},
			{Owner: "dave", Asset: "USD", Amount: "100"},
		},
	}
	appState, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.InitChain(testChainID, 1, appState, nil); err != nil {
		t.Fatal(err)
	}
	// Freeze dave directly: governance transactions come later.
	dave, err := loadAccount(store.Working(), "dave")
	if err != nil || dave == nil {
		t.Fatalf("load dave: %v", err)
	}
	dave.Status = StatusFrozen
	if err := saveAccount(store.Working(), dave); err != nil {
		t.Fatal(err)
	}
	f.commitBlock()
	gid := GenesisTxID(testChainID)
	f.coinAlice, f.coinAliceSmall, f.coinBob = Outpoint{gid, 0}, Outpoint{gid, 1}, Outpoint{gid, 2}
	f.coinGold, f.coinCarol, f.coinDave = Outpoint{gid, 3}, Outpoint{gid, 4}, Outpoint{gid, 5}
	return f
}

// commitBlock executes txs as the next block and commits it.
func (f *fixture) commitBlock(txs ...[]byte) []TxResult {
	f.t.Helper()
	res, err := f.app.ExecuteBlock(f.store.WorkingVersion(), txs)
	if err != nil {
		f.t.Fatalf("execute block: %v", err)
	}
	results := res.Txs
	if _, _, err := f.app.Commit(); err != nil {
		f.t.Fatalf("commit: %v", err)
	}
	return results
}

func (f *fixture) balance(owner, asset string) uint64 {
	f.t.Helper()
	b, err := loadBalance(f.store.Committed(), owner, asset)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// body builds a transfer body on the test chain.
func body(inputs []Outpoint, outputs ...Output) *Body {
	return &Body{Version: TxVersion, ChainID: testChainID, Transfer: &Transfer{Inputs: inputs, Outputs: outputs}}
}

// signTx encodes b and signs it with every key given.
func signTx(t testing.TB, b *Body, keys ...testKey) []byte {
	t.Helper()
	tx := &Tx{BodyBytes: EncodeBody(b)}
	for _, k := range keys {
		tx.AddSignature(k.sign(t, tx.BodyBytes))
	}
	return tx.Encode()
}

func ins(o ...Outpoint) []Outpoint { return o }

type bigInt = big.Int
