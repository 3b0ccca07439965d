package app

import (
	"bytes"
	"crypto/sha256"
	"sort"
	"testing"

	ics23 "github.com/cosmos/ics23/go"
)

// Fuzz targets. In a plain `go test` they run only their seeds (f.Add below
// and app/testdata/fuzz/<Name>/); to search for crashes run, for example,
//
//	go test -run '^$' -fuzz '^FuzzCheckTx$' -fuzztime 60s ./app
//
// and commit any crasher the fuzzer writes under testdata/fuzz as a
// regression seed.

// fuzzSeedTxs are well-formed transactions against the fixture ledger, valid
// and invalid, for the fuzzers to mutate. Only ed25519 keys sign, so the
// seeds are the same bytes on every run.
func fuzzSeedTxs(tb testing.TB, f *fixture) [][]byte {
	tb.Helper()
	usd := func(owner string, amount uint64) Output { return Output{Owner: owner, Asset: "USD", Amount: amount} }
	withMemo := body(ins(f.coinAliceSmall), usd("bob", 500))
	withMemo.Memo = "invoice 42"
	return [][]byte{
		signSorted(tb, body(ins(f.coinAlice), usd("bob", 500), usd("alice", 99500)), f.alice),
		signSorted(tb, withMemo, f.alice),
		signSorted(tb, body(ins(f.coinAliceSmall, f.coinBob), usd("alice", 2000), usd("bob", 500)), f.alice, f.bob),
		signSorted(tb, body(ins(f.coinCarol), usd("bob", 5000)), f.carol1, f.carol2),
		signSorted(tb, body(ins(f.coinGold), Output{"bob", "GOLD", 10}), f.alice),
		signSorted(tb, body(ins(f.coinDave), usd("bob", 100)), f.dave),
		signSorted(tb, body(ins(f.coinAlice), usd("bob", 100001)), f.alice),
		signSorted(tb, body(ins(f.coinAlice), usd("bob", 100000)), f.bob),
	}
}

// signSorted is signTx with the signatures in canonical order (key type,
// then public key), the order DecodeTx requires of multi-signer transactions.
func signSorted(tb testing.TB, b *Body, keys ...testKey) []byte {
	tb.Helper()
	tx := &Tx{BodyBytes: EncodeBody(b)}
	for _, k := range keys {
		tx.Signatures = append(tx.Signatures, k.sign(tb, tx.BodyBytes))
	}
	sortSignatures(tx.Signatures)
	return tx.Encode()
}

func sortSignatures(sigs []Signature) {
	sort.SliceStable(sigs, func(i, j int) bool {
		if sigs[i].KeyType != sigs[j].KeyType {
			return sigs[i].KeyType < sigs[j].KeyType
		}
		return bytes.Compare(sigs[i].PublicKey, sigs[j].PublicKey) < 0
	})
}

// fuzzEdgeCases are byte strings at the edges of the wire format.
var fuzzEdgeCases = [][]byte{
	nil,
	{0x00},
	{0x0a},             // body tag, no length
	{0x0a, 0x00},       // empty body
	{0x0a, 0x01, 0x08}, // body with a truncated varint
	{0x0a, 0x02, 0x08, 0x01},
	{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, // length far beyond the input
	{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, // varint overflow
	{0x12, 0x00}, // an empty signature only
	{0x18, 0x01}, // a pow nonce only
	{0x0b},       // wire type 3 (group)
}

// FuzzDecodeTx: DecodeTx never panics, and whatever it accepts is canonical:
// Encode gives back the input byte for byte and the txid is the hash of the
// body, unchanged by a second decode.
func FuzzDecodeTx(f *testing.F) {
	fx := newFixture(f)
	for _, tx := range fuzzSeedTxs(f, fx) {
		f.Add(tx)
	}
	for _, b := range fuzzEdgeCases {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := DecodeTx(b)
		if err != nil {
			switch code := CodeOf(err); code {
			case CodeMalformed, CodeUnsupportedVersion, CodeInvalidField:
			default:
				t.Fatalf("DecodeTx error code: got %d (%v), want %d, %d or %d", code, err, CodeMalformed, CodeUnsupportedVersion, CodeInvalidField)
			}
			if tx != nil {
				t.Fatalf("DecodeTx returned a transaction with error %v", err)
			}
			return
		}
		if got := tx.Encode(); !bytes.Equal(got, b) {
			t.Fatalf("Encode after DecodeTx:\ngot  %x\nwant %x", got, b)
		}
		if got := EncodeBody(&tx.Body); !bytes.Equal(got, tx.BodyBytes) {
			t.Fatalf("EncodeBody after DecodeTx:\ngot  %x\nwant %x", got, tx.BodyBytes)
		}
		id := tx.ID()
		if want := TxID(sha256.Sum256(tx.BodyBytes)); id != want {
			t.Fatalf("ID: got %s, want sha256(body) %s", id, want)
		}
		again, err := DecodeTx(tx.Encode())
		if err != nil {
			t.Fatalf("second DecodeTx: %v", err)
		}
		if again.ID() != id {
			t.Fatalf("ID after a second decode: got %s, want %s", again.ID(), id)
		}
		if tx.Body.Version != TxVersion || tx.Body.messages() != 1 {
			t.Fatalf("accepted body version %d with %d messages, want version %d with one", tx.Body.Version, tx.Body.messages(), TxVersion)
		}
	})
}

// FuzzCheckTx: Check never panics, rejects only with a transaction code
// (never internal, never the mempool code when nothing is pending), leaves
// the committed state alone, and agrees with a block made of the same
// transaction. With resign set, the fuzzer's body is signed again by each
// fixture ed25519 key it names, so mutations reach the rules behind the
// signature check.
func FuzzCheckTx(f *testing.F) {
	fx := newFixture(f)
	for _, tx := range fuzzSeedTxs(f, fx) {
		f.Add(tx, false)
		f.Add(tx, true)
	}
	for _, b := range fuzzEdgeCases {
		f.Add(b, false)
	}
	keys := []testKey{fx.alice, fx.bob, fx.dave, fx.carol1, fx.carol2}
	height, hash := fx.store.Height(), fx.store.Hash()

	f.Fuzz(func(t *testing.T, txBytes []byte, resign bool) {
		if resign {
			txBytes = resignTx(t, txBytes, keys)
		}
		_, err := fx.app.Check(txBytes, nil)
		code := CodeOf(err)
		if err != nil && (code < CodeMalformed || code > CodePoW || code == CodeMempoolConflict || code == CodeNotFound || code == CodeRateLimited) {
			t.Fatalf("Check: got code %d (%v), want a transaction code 1-%d other than %d, %d and %d", code, err, CodePoW, CodeMempoolConflict, CodeNotFound, CodeRateLimited)
		}
		if got := fx.store.Hash(); !bytes.Equal(got, hash) || fx.store.Height() != height {
			t.Fatalf("Check changed committed state: height %d hash %X, want %d %X", fx.store.Height(), got, height, hash)
		}

		// The same transaction as a block: same verdict, and nothing that
		// would halt the chain. The block is then thrown away.
		blockRes, err := fx.app.ExecuteBlock(fx.store.WorkingVersion(), [][]byte{txBytes})
		fx.store.Discard()
		if err != nil {
			t.Fatalf("ExecuteBlock: %v (a panic-free halt is still a halt)", err)
		}
		results := blockRes.Txs
		if results[0].Code != code {
			t.Fatalf("block result: got code %d (%s), want Check's code %d (%v)", results[0].Code, results[0].Log, code, err)
		}
		if got := fx.store.WorkingHash(); !bytes.Equal(got, hash) {
			t.Fatalf("working hash after Discard: got %X, want %X", got, hash)
		}
	})
}

// resignTx replaces every signature by a fixture key with a fresh one over
// the (possibly mutated) body. Bytes that do not decode are returned as is.
func resignTx(tb testing.TB, txBytes []byte, keys []testKey) []byte {
	tb.Helper()
	tx, err := DecodeTx(txBytes)
	if err != nil {
		return txBytes
	}
	for i, s := range tx.Signatures {
		for _, k := range keys {
			if s.KeyType == k.typ && bytes.Equal(s.PublicKey, k.pub()) {
				tx.Signatures[i] = k.sign(tb, tx.BodyBytes)
			}
		}
	}
	return tx.Encode()
}

// FuzzQuery: Query never panics on any path, height or prove flag, and
// returns either a result or an error with a query code (invalid field or
// not found). Every proof it returns verifies against the committed root of
// the height it names.
func FuzzQuery(f *testing.F) {
	fx := newFixture(f)
	fx.commitBlock(signTx(f, body(ins(fx.coinAlice), Output{"bob", "USD", 500}, Output{"alice", "USD", 99500}), fx.alice))
	roots := map[int64][]byte{}
	for h := int64(1); h <= fx.store.Height(); h++ {
		tree, err := fx.store.Version(h)
		if err != nil {
			f.Fatal(err)
		}
		roots[h] = tree.Hash()
	}
	for _, s := range []struct {
		path   string
		height int64
		prove  bool
	}{
		{"/account/alice", 0, true},
		{"/asset/USD", 1, true},
		{"/balance/bob/USD", 1, true},
		{"/balance/bob/GOLD", 0, true},
		{"/balance/mallory/USD", 0, false},
		{"/params", 2, true},
		{"/utxos/alice", 0, true},
		{"/utxos/alice/GOLD", 1, false},
		{"/account/nobody", 0, true},
		{"/account/Alice", 0, false},
		{"", 0, false},
		{"/", -1, true},
		{"/params", 3, true},
		{"/params", -9223372036854775808, true},
		{"//account/alice", 0, false},
		{"/balance/alice/USD/", 0, true},
	} {
		f.Add(s.path, s.height, s.prove)
	}

	f.Fuzz(func(t *testing.T, path string, height int64, prove bool) {
		res, err := fx.app.Query(path, height, prove)
		if err != nil {
			if code := CodeOf(err); code != CodeInvalidField && code != CodeNotFound {
				t.Fatalf("Query(%q, %d, %v): got code %d (%v), want %d or %d", path, height, prove, code, err, CodeInvalidField, CodeNotFound)
			}
		} else if res == nil {
			t.Fatalf("Query(%q, %d, %v): no result and no error", path, height, prove)
		}
		if res == nil {
			return
		}
		root, ok := roots[res.Height]
		if !ok {
			t.Fatalf("Query(%q, %d, %v): result height %d, want a committed height", path, height, prove, res.Height)
		}
		if res.Proof == nil {
			if prove && res.Key != nil && !indexed(res.Key) { // balances are in the index, without proofs
				t.Fatalf("Query(%q, %d, true): single-key answer without a proof", path, height)
			}
			return
		}
		var proof ics23.CommitmentProof
		if err := proof.Unmarshal(res.Proof); err != nil {
			t.Fatalf("proof does not unmarshal: %v", err)
		}
		if res.Value != nil {
			if !ics23.VerifyMembership(ics23.IavlSpec, root, &proof, res.Key, res.Value) {
				t.Fatalf("Query(%q, %d): membership proof does not verify against the root of height %d", path, height, res.Height)
			}
		} else if !ics23.VerifyNonMembership(ics23.IavlSpec, root, &proof, res.Key) {
			t.Fatalf("Query(%q, %d): absence proof does not verify against the root of height %d", path, height, res.Height)
		}
	})
}
