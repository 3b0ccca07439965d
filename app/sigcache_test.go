package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"testing"
)

// The verified-signature cache must never let a transaction through that
// verifying would refuse: a forged signature over a body whose genuine
// signature was checked before is still refused, in CheckTx and in a block.
func TestSigCacheRefusesForgeryOfVerifiedBody(t *testing.T) {
	f := newFixture(t)
	valid := signTx(t, body(ins(f.coinAlice), Output{"bob", "USD", 100}, Output{"alice", "USD", 99900}), f.alice)
	if _, err := f.app.Check(valid, nil); err != nil {
		t.Fatalf("check valid: %v", err)
	}
	d, err := DecodeTx(append([]byte(nil), valid...))
	if err != nil {
		t.Fatal(err)
	}
	d.Signatures[0].Signature[5] ^= 1
	forged := d.Encode()
	if _, err := f.app.Check(forged, nil); CodeOf(err) != CodeInvalidSignature {
		t.Fatalf("check forged after valid: got %v, want code %d", err, CodeInvalidSignature)
	}
	res := f.commitBlock(forged, valid)
	if res[0].Code != CodeInvalidSignature || res[1].Code != CodeOK {
		t.Fatalf("block codes: got %d, %d, want %d, %d", res[0].Code, res[1].Code, CodeInvalidSignature, CodeOK)
	}
}

func TestSigCacheIsBounded(t *testing.T) {
	c := newSigCache()
	first := [32]byte{1}
	c.add(first)
	for i := range 2 * sigCacheGeneration {
		c.add([32]byte{2, byte(i), byte(i >> 8), byte(i >> 16)})
	}
	if c.has(first) {
		t.Fatal("the first key survived two generations")
	}
	if got := len(c.cur) + len(c.prev); got > 2*sigCacheGeneration {
		t.Fatalf("cache holds %d keys, bound %d", got, 2*sigCacheGeneration)
	}
	if !c.has([32]byte{2, 0xff, 0xff, 0x01}) {
		t.Fatal("a recent key was dropped")
	}
}

// Keys differ when any signed byte or signature byte differs, and the
// length prefixes keep a body/signature boundary shift apart.
func TestSigCacheKey(t *testing.T) {
	tx := &Tx{BodyBytes: []byte("body"), Signatures: []Signature{{KeyType: KeyEd25519, PublicKey: []byte("pk"), Signature: []byte("sig")}}}
	k := sigCacheKey(tx)
	variants := []*Tx{
		{BodyBytes: []byte("bodz"), Signatures: tx.Signatures},
		{BodyBytes: tx.BodyBytes, Signatures: []Signature{{KeyType: KeyP256, PublicKey: []byte("pk"), Signature: []byte("sig")}}},
		{BodyBytes: tx.BodyBytes, Signatures: []Signature{{KeyType: KeyEd25519, PublicKey: []byte("pks"), Signature: []byte("ig")}}},
		{BodyBytes: tx.BodyBytes},
	}
	for i, v := range variants {
		if sigCacheKey(v) == k {
			t.Errorf("variant %d has the same key", i)
		}
	}
}

// sigCacheKey is sha256 over the body and every signature, each field
// length-prefixed, written here field by field into a digest: the key of
// a transaction small enough for its stack buffer and of one larger agree
// with it, and differ when any signed or signing byte does.
func TestSigCacheKeyInput(t *testing.T) {
	want := func(tx *Tx) [32]byte {
		h := sha256.New()
		field := func(b []byte) {
			h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(b))))
			h.Write(b)
		}
		field(tx.BodyBytes)
		for _, s := range tx.Signatures {
			h.Write(binary.BigEndian.AppendUint64(nil, uint64(s.KeyType)))
			field(s.PublicKey)
			field(s.Signature)
		}
		return [32]byte(h.Sum(nil))
	}
	small := &Tx{BodyBytes: []byte("body"), Signatures: []Signature{{KeyType: KeyEd25519, PublicKey: []byte("pub"), Signature: []byte("sig")}}}
	large := &Tx{BodyBytes: bytes.Repeat([]byte("b"), 3000), Signatures: []Signature{
		{KeyType: KeyEd25519, PublicKey: bytes.Repeat([]byte("p"), 32), Signature: bytes.Repeat([]byte("s"), 64)},
		{KeyType: KeyP256, PublicKey: bytes.Repeat([]byte("q"), 33), Signature: bytes.Repeat([]byte("t"), 64)},
	}}
	for _, tx := range []*Tx{small, large, {BodyBytes: []byte("unsigned")}} {
		if got := sigCacheKey(tx); got != want(tx) {
			t.Fatalf("key of a %d-byte body: %x, want %x", len(tx.BodyBytes), got, want(tx))
		}
	}
	moved := &Tx{BodyBytes: []byte("bodyp"), Signatures: []Signature{{KeyType: KeyEd25519, PublicKey: []byte("ub"), Signature: []byte("sig")}}}
	if sigCacheKey(moved) == sigCacheKey(small) {
		t.Fatal("moving a byte from the public key into the body kept the key")
	}
}
