package app

import "testing"

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
