package app

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestTransferRules(t *testing.T) {
	f := newFixture(t)
	usd := func(owner string, amount uint64) Output { return Output{Owner: owner, Asset: "USD", Amount: amount} }
	valid := body(ins(f.coinAlice), usd("bob", 500), usd("alice", 99500))

	// highS turns a valid p256 signature into its malleated twin (r, n-s).
	highS := func(tx []byte) []byte {
		d, err := DecodeTx(tx)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range d.Signatures {
			if s.KeyType == KeyP256 {
				sv := new(bigInt).SetBytes(s.Signature[32:])
				sv.Sub(p256Order, sv)
				sv.FillBytes(d.Signatures[i].Signature[32:])
			}
		}
		return d.Encode()
	}
	flipSig := func(tx []byte) []byte {
		d, _ := DecodeTx(tx)
		d.Signatures[0].Signature[5] ^= 1
		return d.Encode()
	}
	otherChain := body(ins(f.coinAlice), usd("bob", 100000))
	otherChain.ChainID = "other-chain"
	v2 := body(ins(f.coinAlice), usd("bob", 100000))
	v2.Version = 2
	longMemo := body(ins(f.coinAlice), usd("bob", 100000))
	longMemo.Memo = strings.Repeat("m", 257)
	carolBody := body(ins(f.coinCarol), usd("bob", 5000))
	badMemo := body(ins(f.coinAlice), usd("bob", 100000))
	badMemo.Memo = "\xff\xfe"

	tests := []struct {
		name string
		tx   []byte
		want Code
	}{
		{"valid transfer with change", signTx(t, valid, f.alice), CodeOK},
		{"random bytes", []byte("\xff\xfe not a transaction"), CodeMalformed},
		{"empty bytes", nil, CodeMalformed},
		{"truncated", signTx(t, valid, f.alice)[:40], CodeMalformed},
		{"trailing garbage", append(signTx(t, valid, f.alice), 0x08), CodeMalformed},
		{"unknown field", append(signTx(t, valid, f.alice), 0x20, 0x01), CodeMalformed},
		{"non-canonical field order", reorder(t, signTx(t, valid, f.alice)), CodeMalformed},
		{"oversized", bytes.Repeat([]byte{0}, 70_000), CodeTooLarge},
		{"unsupported version", signTx(t, v2, f.alice), CodeUnsupportedVersion},
		{"wrong chain id", signTx(t, otherChain, f.alice), CodeWrongChainID},
		{"memo too long", signTx(t, longMemo, f.alice), CodeTooLarge},
		{"no inputs", signTx(t, body(nil, usd("bob", 1)), f.alice), CodeEmptyTransfer},
		{"no outputs", signTx(t, body(ins(f.coinAlice)), f.alice), CodeEmptyTransfer},
		{"zero amount", signTx(t, body(ins(f.coinAlice), usd("bob", 0), usd("alice", 100000)), f.alice), CodeZeroAmount},
		{"duplicate input", signTx(t, body(ins(f.coinAlice, f.coinAlice), usd("bob", 200000)), f.alice), CodeDuplicateInput},
		{"duplicate output", signTx(t, body(ins(f.coinAlice), usd("bob", 50000), usd("bob", 50000)), f.alice), CodeDuplicateOutput},
		{"unknown recipient", signTx(t, body(ins(f.coinAlice), usd("mallory", 100000)), f.alice), CodeUnknownAccount},
		{"bad recipient name", signTx(t, body(ins(f.coinAlice), usd("Bob!", 100000)), f.alice), CodeInvalidField},
		{"unknown asset", signTx(t, body(ins(f.coinAlice), Output{"bob", "EUR", 100000}), f.alice), CodeUnknownAsset},
		{"unknown input", signTx(t, body(ins(Outpoint{Index: 7}), usd("bob", 1)), f.alice), CodeInputNotFound},
		{"outputs exceed inputs", signTx(t, body(ins(f.coinAlice), usd("bob", 100001)), f.alice), CodeUnbalanced},
		{"outputs below inputs", signTx(t, body(ins(f.coinAlice), usd("bob", 99999)), f.alice), CodeUnbalanced},
		{"asset changed", signTx(t, body(ins(f.coinGold), usd("bob", 10)), f.alice), CodeUnbalanced},
		{"output sum overflows", signTx(t, body(ins(f.coinAlice), usd("bob", math.MaxUint64), usd("alice", 2)), f.alice), CodeOverflow},
		{"no signature", signTx(t, valid), CodeThresholdNotMet},
		{"signed by someone else", signTx(t, valid, f.bob), CodeThresholdNotMet},
		{"spending bob's coin", signTx(t, body(ins(f.coinBob), usd("alice", 2000)), f.alice), CodeThresholdNotMet},
		{"forged signature", flipSig(signTx(t, valid, f.alice)), CodeInvalidSignature},
		{"same key twice", twice(t, signTx(t, valid, f.alice)), CodeMalformed},
		{"signatures out of order", reversed(t, signTx(t, carolBody, f.carol1, f.carol2)), CodeMalformed},
		{"pow nonce without pow", withNonce(t, signTx(t, valid, f.alice)), CodePoW},
		{"memo not utf-8", signTx(t, badMemo, f.alice), CodeInvalidField},
		{"extra unrelated signer", signTx(t, valid, f.alice, f.bob), CodeUnexpectedSigner},
		{"multisig 1 of 3 below threshold 2", signTx(t, carolBody, f.carol1), CodeThresholdNotMet},
		{"multisig 2 of 3 with p256", signTx(t, carolBody, f.carol1, f.carol3), CodeOK},
		{"multisig high-S p256 rejected", highS(signTx(t, carolBody, f.carol1, f.carol3)), CodeInvalidSignature},
		{"frozen owner", signTx(t, body(ins(f.coinDave), usd("bob", 100)), f.dave), CodeAccountFrozen},
		{"two owners, both sign", signTx(t, body(ins(f.coinAliceSmall, f.coinBob), usd("alice", 2000), usd("bob", 500)), f.alice, f.bob), CodeOK},
		{"two owners, one signs", signTx(t, body(ins(f.coinAliceSmall, f.coinBob), usd("alice", 2000), usd("bob", 500)), f.alice), CodeThresholdNotMet},
	}
	before := f.store.Hash()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.app.Check(tc.tx, nil)
			if got := CodeOf(err); got != tc.want {
				t.Fatalf("Check: got code %d (%v), want %d", got, err, tc.want)
			}
			if err != nil && strings.TrimSpace(err.Error()) == "" {
				t.Fatal("rejection without a log")
			}
		})
	}
	// The same rows through a block: identical codes, and a block of only
	// rejected transactions leaves the state exactly as it was.
	var rejected [][]byte
	for _, tc := range tests {
		if tc.want != CodeOK {
			rejected = append(rejected, tc.tx)
		}
	}
	results := f.commitBlock(rejected...)
	i := 0
	for _, tc := range tests {
		if tc.want == CodeOK {
			continue
		}
		if results[i].Code != tc.want {
			t.Errorf("%s in FinalizeBlock: got code %d (%s), want %d", tc.name, results[i].Code, results[i].Log, tc.want)
		}
		i++
	}
	if got := f.store.Hash(); !bytes.Equal(got, before) {
		t.Errorf("state changed by rejected transactions: hash %X, want %X", got, before)
	}
}

func TestTransferMovesCoins(t *testing.T) {
	f := newFixture(t)
	tx := signTx(t, body(ins(f.coinAlice), Output{"bob", "USD", 500}, Output{"alice", "USD", 99500}), f.alice)
	res := f.commitBlock(tx)
	if res[0].Code != CodeOK {
		t.Fatalf("got code %d (%s), want 0", res[0].Code, res[0].Log)
	}
	if got, want := f.balance("bob", "USD"), uint64(2500); got != want {
		t.Errorf("bob: got %d, want %d", got, want)
	}
	if got, want := f.balance("alice", "USD"), uint64(100000); got != want { // 99500 change + 500 small coin
		t.Errorf("alice: got %d, want %d", got, want)
	}
	id := res[0].TxID
	for i, want := range []Output{{"bob", "USD", 500}, {"alice", "USD", 99500}} {
		got, err := loadUTXO(f.store.Committed(), Outpoint{id, uint32(i)})
		if err != nil || got == nil || *got != want {
			t.Errorf("output %d: got %+v (%v), want %+v", i, got, err, want)
		}
	}
	if u, _ := loadUTXO(f.store.Committed(), f.coinAlice); u != nil {
		t.Errorf("spent input still unspent: %+v", u)
	}
	// Replay of the same transaction: the coin is gone.
	if res := f.commitBlock(tx); res[0].Code != CodeInputNotFound {
		t.Errorf("replay: got code %d, want %d", res[0].Code, CodeInputNotFound)
	}
}

func TestDoubleSpendInOneBlock(t *testing.T) {
	f := newFixture(t)
	first := signTx(t, body(ins(f.coinBob), Output{"alice", "USD", 2000}), f.bob)
	second := signTx(t, body(ins(f.coinBob), Output{"carol", "USD", 2000}), f.bob)
	res := f.commitBlock(first, second)
	if res[0].Code != CodeOK || res[1].Code != CodeInputNotFound {
		t.Fatalf("got codes %d, %d; want 0, %d", res[0].Code, res[1].Code, CodeInputNotFound)
	}
	if got := f.balance("carol", "USD"); got != 5000 {
		t.Errorf("carol got the double spend: balance %d, want 5000", got)
	}

	// A proposal carrying both spends is caught before it can be decided.
	g := newFixture(t)
	pc := g.app.NewProposalChecker()
	if err := pc.Add(first); err != nil {
		t.Fatalf("first spend: %v", err)
	}
	if err := pc.Add(second); CodeOf(err) != CodeMempoolConflict {
		t.Fatalf("second spend in proposal: got %v, want code %d", err, CodeMempoolConflict)
	}
}

func TestMempoolConflict(t *testing.T) {
	f := newFixture(t)
	tx := signTx(t, body(ins(f.coinBob), Output{"alice", "USD", 2000}), f.bob)
	taken := func(o Outpoint) bool { return o == f.coinBob }
	if _, err := f.app.Check(tx, taken); CodeOf(err) != CodeMempoolConflict {
		t.Fatalf("coin pending in another tx: got %v, want code %d", err, CodeMempoolConflict)
	}
}

// reorder swaps the first two fields of a transaction (body and signature):
// still decodable protobuf, but not canonical.
func reorder(t *testing.T, tx []byte) []byte {
	t.Helper()
	d, err := DecodeTx(tx)
	if err != nil {
		t.Fatal(err)
	}
	var e encoder
	for _, s := range d.Signatures {
		e.message(2, true, func(e *encoder) {
			e.uint(1, uint64(s.KeyType))
			e.bytes(2, s.PublicKey)
			e.bytes(3, s.Signature)
		})
	}
	e.bytes(1, d.BodyBytes)
	return e.buf
}

// The helpers below change a signed transaction the ways a relayer could
// try without the signers' keys.

func decoded(t *testing.T, tx []byte) *Tx {
	t.Helper()
	d, err := DecodeTx(tx)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func twice(t *testing.T, tx []byte) []byte {
	d := decoded(t, tx)
	d.Signatures = append(d.Signatures, d.Signatures[0])
	return d.Encode()
}

func reversed(t *testing.T, tx []byte) []byte {
	d := decoded(t, tx)
	slices.Reverse(d.Signatures)
	return d.Encode()
}

func withNonce(t *testing.T, tx []byte) []byte {
	d := decoded(t, tx)
	d.PowNonce = 42
	return d.Encode()
}
