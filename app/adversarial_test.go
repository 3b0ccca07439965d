package app

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/big"
	"strings"
	"testing"
)

// ed25519Order is L, the order of the ed25519 base point.
var ed25519Order, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

// TestAdversarialTransactions is every malformed or malicious transaction
// class in one table. Each must be refused with its code by CheckTx and by
// FinalizeBlock alike, and a block holding it must leave the app hash
// exactly as it was. Transactions carry no expiry time in this ledger: what
// "expired" means for a signed transaction here is one already used, so
// the replay rows stand for it (a spent coin is gone; a transaction that
// spends no coin is recorded once included).
func TestAdversarialTransactions(t *testing.T) {
	f := newFixture(t)
	usd := func(owner string, amount uint64) Output { return Output{Owner: owner, Asset: "USD", Amount: amount} }
	valid := body(ins(f.coinAlice), usd("bob", 500), usd("alice", 99500))
	validTx := signTx(t, valid, f.alice)

	// Used transactions, committed before the table runs.
	spent := signTx(t, body(ins(f.coinAliceSmall), usd("bob", 500)), f.alice)
	mint := signTx(t, &Body{Version: TxVersion, ChainID: testChainID, Nonce: 7, Mint: &Mint{To: "bob", Asset: "USD", Amount: 1}}, f.alice)
	for _, tx := range [][]byte{spent, mint} {
		if res := f.commitBlock(tx); res[0].Code != CodeOK {
			t.Fatalf("setup: got code %d (%s), want 0", res[0].Code, res[0].Log)
		}
	}

	tooManyOutputs := body(ins(f.coinAlice))
	for i := range 257 {
		tooManyOutputs.Transfer.Outputs = append(tooManyOutputs.Transfer.Outputs, Output{Owner: "bob", Asset: "USD", Amount: uint64(i + 1)})
	}
	mintOverflow := &Body{Version: TxVersion, ChainID: testChainID, Nonce: 8, Mint: &Mint{To: "bob", Asset: "USD", Amount: math.MaxUint64}}
	mintByMember := &Body{Version: TxVersion, ChainID: testChainID, Nonce: 9, Mint: &Mint{To: "bob", Asset: "USD", Amount: 1}}
	freezeByMember := &Body{Version: TxVersion, ChainID: testChainID, Nonce: 10, Action: &FreezeAccount{Name: "alice"}}
	otherChain := body(ins(f.coinAlice), usd("bob", 100000))
	otherChain.ChainID = "consort-other"

	tests := []struct {
		name string
		tx   []byte
		want Code
	}{
		// Signatures.
		{"ed25519 signature malleated to S+L", malleateEd25519(t, validTx), CodeInvalidSignature},
		{"ed25519 signature with one bit flipped", flipBit(t, validTx, 5), CodeInvalidSignature},
		{"signature of another body attached", swapBody(t, validTx, EncodeBody(body(ins(f.coinAlice), usd("bob", 100000)))), CodeInvalidSignature},
		{"p256 high-S twin of a valid signature", highSTx(t, signTx(t, body(ins(f.coinCarol), usd("bob", 5000)), f.carol1, f.carol3)), CodeInvalidSignature},
		{"signature truncated", truncateSig(t, validTx), CodeInvalidSignature},
		{"unsigned", signTx(t, valid), CodeThresholdNotMet},
		{"same key signs twice", twice(t, validTx), CodeMalformed},
		{"extra unrelated signer", signTx(t, valid, f.alice, f.bob), CodeUnexpectedSigner},
		// Ownership and permissions.
		{"spending another account's coin", signTx(t, body(ins(f.coinBob), usd("alice", 2000)), f.alice), CodeThresholdNotMet},
		{"another's coin beside one's own", signTx(t, body(ins(f.coinAlice, f.coinBob), usd("alice", 102000)), f.alice), CodeThresholdNotMet},
		{"frozen owner", signTx(t, body(ins(f.coinDave), usd("bob", 100)), f.dave), CodeAccountFrozen},
		{"mint by a non-issuer", signTx(t, mintByMember, f.bob), CodeNotPermitted},
		{"governance by a member", signTx(t, freezeByMember, f.bob), CodeNotApproved},
		// Amounts.
		{"duplicate input", signTx(t, body(ins(f.coinAlice, f.coinAlice), usd("bob", 200000)), f.alice), CodeDuplicateInput},
		{"output sum overflows", signTx(t, body(ins(f.coinAlice), usd("bob", math.MaxUint64), usd("alice", 2)), f.alice), CodeOverflow},
		{"mint overflows the supply", signTx(t, mintOverflow, f.alice), CodeOverflow},
		{"outputs exceed inputs", signTx(t, body(ins(f.coinAlice), usd("bob", 100001)), f.alice), CodeUnbalanced},
		{"zero outputs", signTx(t, body(ins(f.coinAlice)), f.alice), CodeEmptyTransfer},
		{"zero inputs", signTx(t, body(nil, usd("bob", 1)), f.alice), CodeEmptyTransfer},
		{"zero amount", signTx(t, body(ins(f.coinAlice), usd("bob", 0), usd("alice", 100000)), f.alice), CodeZeroAmount},
		{"unknown asset", signTx(t, body(ins(f.coinAlice), Output{"bob", "EUR", 100000}), f.alice), CodeUnknownAsset},
		// Replay ("expired").
		{"replay of a committed transfer", spent, CodeInputNotFound},
		{"replay of a committed mint", mint, CodeReplay},
		// Chain binding.
		{"wrong chain id", signTx(t, otherChain, f.alice), CodeWrongChainID},
		// Size and shape.
		{"oversized bytes", bytes.Repeat([]byte{0x0a}, 70_000), CodeTooLarge},
		{"oversized memo", signTx(t, withMemo(valid, strings.Repeat("m", 257)), f.alice), CodeTooLarge},
		{"257 inputs", signTx(t, manyInputs(257), f.alice), CodeTooLarge},
		{"257 outputs", signTx(t, tooManyOutputs, f.alice), CodeTooLarge},
		{"33 copies of one signature", manySigs(t, valid, f.alice, 33), CodeMalformed},
		{"20000 empty repeated inputs", signRaw(t, f.alice, hugeRepeated(20_000)), CodeMalformed},
		{"1500 well-formed inputs", signTx(t, manyInputs(1500), f.alice), CodeTooLarge},
		{"5000-deep nested messages", signRaw(t, f.alice, deeplyNested(5_000)), CodeMalformed},
		{"trailing garbage", append(append([]byte(nil), validTx...), 0x08), CodeMalformed},
		{"unknown field", append(append([]byte(nil), validTx...), 0x20, 0x01), CodeMalformed},
		{"length prefix past the end", []byte{0x0a, 0xff, 0xff, 0x03, 0x01}, CodeMalformed},
		{"ten-byte varint overflow", []byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, CodeMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.store.Hash()
			_, err := f.app.Check(tc.tx, nil)
			if got := CodeOf(err); got != tc.want {
				t.Fatalf("CheckTx: got code %d (%v), want %d", got, err, tc.want)
			}
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("rejection without a log")
			}
			res := f.commitBlock(tc.tx)
			if res[0].Code != tc.want {
				t.Errorf("FinalizeBlock: got code %d (%s), want %d", res[0].Code, res[0].Log, tc.want)
			}
			if got := f.store.Hash(); !bytes.Equal(got, before) {
				t.Errorf("app hash changed by a rejected transaction: %X, want %X", got, before)
			}
		})
	}
}

// manyInputs is a transfer spending n distinct (unknown) coins.
func manyInputs(n int) *Body {
	b := body(nil, Output{Owner: "bob", Asset: "USD", Amount: 1})
	for i := range n {
		b.Transfer.Inputs = append(b.Transfer.Inputs, Outpoint{TxID: TxID{2}, Index: uint32(i)})
	}
	return b
}

func withMemo(b *Body, memo string) *Body {
	c := *b
	c.Memo = memo
	return &c
}

// malleateEd25519 adds L to the S half of the first signature: the same
// point equation holds, so a verifier that does not insist on S < L would
// accept a second byte form of one signature.
func malleateEd25519(t *testing.T, tx []byte) []byte {
	d := decoded(t, tx)
	sig := d.Signatures[0].Signature
	le := sig[32:]
	be := make([]byte, 32)
	for i := range le {
		be[31-i] = le[i]
	}
	s := new(big.Int).SetBytes(be)
	s.Add(s, ed25519Order)
	s.FillBytes(be)
	for i := range be {
		le[i] = be[31-i]
	}
	return d.Encode()
}

func flipBit(t *testing.T, tx []byte, at int) []byte {
	d := decoded(t, tx)
	d.Signatures[0].Signature[at] ^= 1
	return d.Encode()
}

func truncateSig(t *testing.T, tx []byte) []byte {
	d := decoded(t, tx)
	d.Signatures[0].Signature = d.Signatures[0].Signature[:63]
	return d.Encode()
}

// swapBody keeps tx's signatures and replaces the body they signed.
func swapBody(t *testing.T, tx, bodyBytes []byte) []byte {
	d := decoded(t, tx)
	d.BodyBytes = bodyBytes
	return d.Encode()
}

func highSTx(t *testing.T, tx []byte) []byte {
	d := decoded(t, tx)
	for i, s := range d.Signatures {
		if s.KeyType == KeyP256 {
			sv := new(big.Int).SetBytes(s.Signature[32:])
			sv.Sub(p256Order, sv)
			sv.FillBytes(d.Signatures[i].Signature[32:])
		}
	}
	return d.Encode()
}

// manySigs signs b with k and pads the list to n signature entries.
func manySigs(t *testing.T, b *Body, k testKey, n int) []byte {
	d := decoded(t, signTx(t, b, k))
	for len(d.Signatures) < n {
		d.Signatures = append(d.Signatures, d.Signatures[0])
	}
	return d.Encode()
}

// signRaw wraps raw body bytes in a transaction signed by k.
func signRaw(t *testing.T, k testKey, bodyBytes []byte) []byte {
	tx := &Tx{BodyBytes: bodyBytes}
	tx.AddSignature(k.sign(t, bodyBytes))
	return tx.Encode()
}

// hugeRepeated is a transfer body with n empty input messages.
func hugeRepeated(n int) []byte {
	var e encoder
	e.uint(1, uint64(TxVersion))
	e.string(2, testChainID)
	inner := bytes.Repeat([]byte{0x0a, 0x00}, n) // field 1 (input), length 0
	e.bytes(10, inner)
	return e.buf
}

// deeplyNested is a transfer body whose first input nests depth
// length-delimited messages inside each other.
func deeplyNested(depth int) []byte {
	msg := []byte{}
	for range depth {
		msg = append(binary.AppendUvarint([]byte{0x0a}, uint64(len(msg))), msg...)
	}
	var e encoder
	e.uint(1, uint64(TxVersion))
	e.string(2, testChainID)
	e.bytes(10, msg)
	return e.buf
}
