package app

import (
	"bytes"
	"encoding/hex"
	"testing"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
)

// rotate is a rotation of validator from's key to validator to's key, with a
// proof of possession signed by prover's key, signed by the accounts keys.
func (f *accessFixture) rotate(t testing.TB, from, to, prover string, keys ...string) []byte {
	t.Helper()
	cur, next := f.valKey(from), f.valKey(to)
	proof, err := f.vals[prover].Sign(RotationProofMessage(testChainID, cur, next))
	if err != nil {
		t.Fatal(err)
	}
	return f.gov(t, &RotateValidatorKey{CurrentKey: cur, NewKey: next, Proof: proof}, keys...)
}

func (f *accessFixture) retiredKey(t testing.TB, name string) *RetiredKey {
	t.Helper()
	b := f.query(t, "/validator_key/"+hex.EncodeToString(ValidatorAddress(f.valKey(name))))
	if b == nil {
		return nil
	}
	k, err := DecodeRetiredKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// moreValidatorKeys adds keys w1..w5 that no validator used yet.
func (f *accessFixture) moreValidatorKeys() {
	for _, n := range []string{"w1", "w2", "w3", "w4", "w5"} {
		f.vals[n] = cmted25519.GenPrivKeyFromSecret([]byte("access-validator-" + n))
	}
}

func TestRotateValidatorKey(t *testing.T) {
	f := newAccessFixture(t) // v1..v5 at power 20, operated by a1; min_validators 4
	f.moreValidatorKeys()

	// The operator alone rotates; the power moves to the new key in one
	// update pair, which the one-third rule does not count as a removal.
	res := f.runOne(t, f.rotate(t, "v1", "v6", "v6", "a1"), CodeOK)
	if got := f.updatesByName(res.ValidatorUpdates); len(got) != 2 || !(got[0] == "v1:0" && got[1] == "v6:20" || got[0] == "v6:20" && got[1] == "v1:0") {
		t.Fatalf("updates %v", got)
	}
	if u := res.ValidatorUpdates; bytes.Compare(u[0].PublicKey, u[1].PublicKey) >= 0 {
		t.Fatalf("updates not sorted by key")
	}
	if p := f.powers(t); p["v6"] != 20 || p["v1"] != 0 || len(p) != 5 {
		t.Fatalf("set after rotation: %v", p)
	}
	rk := f.retiredKey(t, "v1")
	if rk == nil || !bytes.Equal(rk.Successor, f.valKey("v6")) || rk.Reason != "rotated" || rk.Validator != "v1" || rk.Height != f.height() {
		t.Fatalf("retired key record: %+v", rk)
	}

	// Two validators rotating in one block: neither counts against the
	// one-third limit (together they would be 40% of the power).
	f.run(t, [][]byte{f.rotate(t, "v2", "v7", "v7", "a1"), f.rotate(t, "v3", "v8", "v8", "a1")}, CodeOK, CodeOK)
	if p := f.powers(t); p["v7"] != 20 || p["v8"] != 20 || len(p) != 5 {
		t.Fatalf("set after two rotations: %v", p)
	}

	// Governance may rotate too (bank-b and bank-c admins).
	f.runOne(t, f.rotate(t, "v4", "v9", "v9", "b1", "c1"), CodeOK)

	refused := []struct {
		name string
		tx   []byte
		want Code
	}{
		{"proof by another key", f.rotate(t, "v5", "w1", "v5", "a1"), CodeInvalidAction},
		{"new key already a validator", f.rotate(t, "v5", "v6", "v6", "a1"), CodeValidatorChange},
		{"retired key back", f.rotate(t, "v5", "v1", "v1", "a1"), CodeValidatorChange},
		{"current key not a validator", f.rotate(t, "v1", "w1", "w1", "a1"), CodeValidatorChange},
		{"neither operator nor governance", f.rotate(t, "v5", "w1", "w1", "m1"), CodeNotApproved},
		{"one organisation's admin is not governance", f.rotate(t, "v5", "w1", "w1", "b1"), CodeNotApproved},
		{"same key", f.rotate(t, "v5", "v5", "v5", "a1"), CodeInvalidAction},
		{"retired key added by governance", f.setVal(t, "v1", 10), CodeValidatorChange},
	}
	for _, c := range refused {
		before := f.store.Hash()
		f.runOne(t, c.tx, c.want)
		if !bytes.Equal(before, f.store.Hash()) {
			// Refused transactions change nothing: equal hashes across an
			// empty block mean no state moved.
			t.Errorf("%s: state changed", c.name)
		}
	}

	// A proof for another chain does not verify here.
	cur, next := f.valKey("v5"), f.valKey("w1")
	proof, _ := f.vals["w1"].Sign(RotationProofMessage("other-chain", cur, next))
	f.runOne(t, f.gov(t, &RotateValidatorKey{CurrentKey: cur, NewKey: next, Proof: proof}, "a1"), CodeInvalidAction)

	// A validator rotated in a block cannot be changed again in that block.
	f.run(t, [][]byte{f.rotate(t, "v5", "w1", "w1", "a1"), f.setVal(t, "w1", 25)}, CodeOK, CodeValidatorChange)
	// ... and a validator changed by governance cannot rotate in the same block.
	f.run(t, [][]byte{f.setVal(t, "w1", 25), f.rotate(t, "w1", "w2", "w2", "a1")}, CodeOK, CodeValidatorChange)
}

func TestMisbehaviourTakesPowerAway(t *testing.T) {
	f := newAccessFixture(t)
	f.runOne(t, f.rotate(t, "v1", "v6", "v6", "a1"), CodeOK)

	execute := func(ev ...Misbehaviour) *BlockResult {
		t.Helper()
		res, err := f.app.Execute(Block{Height: f.store.WorkingVersion(), Misbehaviour: ev})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.app.Commit(); err != nil {
			t.Fatal(err)
		}
		return res
	}
	addr := func(name string) []byte { return ValidatorAddress(f.valKey(name)) }

	// Evidence about the old key v1 lands on the validator's current key v6;
	// the same evidence twice and unknown addresses change nothing more; a
	// governance change of the punished key in the same block is refused.
	res, err := f.app.Execute(Block{Height: f.store.WorkingVersion(), Txs: [][]byte{f.setVal(t, "v6", 25)}, Misbehaviour: []Misbehaviour{
		{Kind: "duplicate_vote", Address: addr("v1"), Height: 2},
		{Kind: "duplicate_vote", Address: addr("v6"), Height: 2},
		{Kind: "duplicate_vote", Address: bytes.Repeat([]byte{7}, 20), Height: 2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.app.Commit(); err != nil {
		t.Fatal(err)
	}
	wantCodes(t, res.Txs, CodeValidatorChange)
	if len(res.Punishments) != 3 || !res.Punishments[0].Applied || res.Punishments[1].Applied || res.Punishments[2].Applied {
		t.Fatalf("punishments %+v", res.Punishments)
	}
	if got := f.updatesByName(res.ValidatorUpdates); len(got) != 1 || got[0] != "v6:0" {
		t.Fatalf("updates %v", got)
	}
	if p := f.powers(t); len(p) != 4 || p["v6"] != 0 {
		t.Fatalf("set %v", p)
	}
	rk := f.retiredKey(t, "v6")
	if rk == nil || rk.Reason != "duplicate_vote at height 2" || len(rk.Successor) != 0 || rk.Validator != "v1" {
		t.Fatalf("record %+v", rk)
	}

	// Misbehaviour ignores min_validators (4) but never empties the set.
	res = execute(
		Misbehaviour{Kind: "light_client_attack", Address: addr("v2"), Height: 3},
		Misbehaviour{Kind: "duplicate_vote", Address: addr("v3"), Height: 3},
		Misbehaviour{Kind: "duplicate_vote", Address: addr("v4"), Height: 3},
		Misbehaviour{Kind: "duplicate_vote", Address: addr("v5"), Height: 3},
	)
	if p := f.powers(t); len(p) != 1 || p["v5"] != 20 {
		t.Fatalf("set %v", p)
	}
	if last := res.Punishments[3]; last.Applied || last.Note == "" {
		t.Fatalf("last validator punished: %+v", last)
	}
}
