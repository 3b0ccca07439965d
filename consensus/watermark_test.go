package consensus

import (
	"bytes"
	"errors"
	"runtime"
	"sync"
	"testing"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/consort-ledger/consort/certs"
	"github.com/consort-ledger/consort/certs/certstest"
)

// released is one signature a signer gave out.
type released struct {
	pos       hrs
	signBytes []byte
	sig       []byte
}

// race makes two signers of one key race on every step of heights
// 1..heights, rounds 0 and 1: for each position, goroutines ask each
// signer for different blocks and timestamps at once. It returns every
// signature given out.
func race(t *testing.T, store certs.VersionedStore, heights int64) []released {
	t.Helper()
	keys := certstest.NewKeyProvider()
	var signers [2]*Signer
	for i := range signers {
		cfg := SignerConfig{}
		if store != nil {
			cfg.Store, cfg.KeyName = store, "validator-1"
		}
		signers[i] = newTestSigner(t, cfg, keys)
	}
	pub, err := signers[0].GetPubKey()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out []released
	record := func(p hrs, signBytes, sig []byte) {
		if !pub.VerifySignature(signBytes, sig) {
			t.Errorf("signature at %s does not verify over the bytes it came with", p)
		}
		mu.Lock()
		out = append(out, released{p, signBytes, sig})
		mu.Unlock()
	}
	const askers = 3 // goroutines per signer and position
	for h := int64(1); h <= heights; h++ {
		for r := int32(0); r < 2; r++ {
			for _, step := range []int8{stepPropose, stepPrevote, stepPrecommit} {
				var wg sync.WaitGroup
				for si, s := range signers {
					for a := range askers {
						tag := byte('a' + si*askers + a)
						ts := si*100 + a
						wg.Go(func() {
							p := hrs{Height: h, Round: r, Step: step}
							if step == stepPropose {
								prop := proposal(h, r, -1, tag, ts).proposal()
								if err := s.SignProposal(testChainID, prop); err == nil {
									record(p, cmttypes.ProposalSignBytes(testChainID, prop), prop.Signature)
								}
								return
							}
							typ := cmtproto.PrevoteType
							if step == stepPrecommit {
								typ = cmtproto.PrecommitType
							}
							v := voteReq(typ, h, r, tag, ts, "").vote()
							if err := s.SignVote(testChainID, v); err == nil {
								record(p, cmttypes.VoteSignBytes(testChainID, v), v.Signature)
							}
						})
					}
				}
				wg.Wait()
			}
		}
	}
	return out
}

// conflicts returns the positions with signatures over different bytes.
func conflicts(rel []released) []hrs {
	first := map[hrs][]byte{}
	var bad []hrs
	for _, r := range rel {
		b, seen := first[r.pos]
		switch {
		case !seen:
			first[r.pos] = r.signBytes
		case !bytes.Equal(b, r.signBytes):
			bad = append(bad, r.pos)
		}
	}
	return bad
}

// TestSharedWatermarkRace: two signers of one validator, each with its own
// state file, sharing a store, never both sign one position differently.
// The same race without the store does double-sign, so the test can tell.
func TestSharedWatermarkRace(t *testing.T) {
	store := certstest.NewStore()
	store.BeforeWrite = runtime.Gosched // widen the window between read and write
	const heights = 25
	rel := race(t, store, heights)
	if bad := conflicts(rel); len(bad) > 0 {
		t.Fatalf("conflicting signatures at %d positions, e.g. %s", len(bad), bad[0])
	}
	// Every position was signed by someone (a position is lost only when
	// both signers failed, which the store's serialisation prevents).
	positions := map[hrs]bool{}
	for _, r := range rel {
		positions[r.pos] = true
	}
	if want := heights * 2 * 3; len(positions) != want {
		t.Errorf("signatures at %d positions, want all %d", len(positions), want)
	}

	if bad := conflicts(race(t, nil, 5)); len(bad) == 0 {
		t.Error("two signers without the shared store gave no conflicting signatures: the race does not race")
	}
}

// TestFailover: the active signer stops; a standby with an empty local
// state but the same store continues. It may lose the position the active
// one signed last, never signs it differently, and signs every later step.
func TestFailover(t *testing.T) {
	keys, store := certstest.NewKeyProvider(), certstest.NewStore()
	active := newTestSigner(t, SignerConfig{Store: store, KeyName: "v"}, keys)
	standby := newTestSigner(t, SignerConfig{Store: store, KeyName: "v"}, keys)
	for h := int64(1); h <= 5; h++ {
		for _, r := range []request{proposal(h, 0, -1, 'a', 0), prevote(h, 0, 'a', 1), precommit(h, 0, 'a', 2, "")} {
			if got := apply(active, r); got.err != nil {
				t.Fatalf("active at height %d %s: %v", h, r.name, got.err)
			}
		}
	}
	// The active signer is gone (never called again). The standby's node
	// was still at height 5's precommit, with its own block and time.
	lost := 0
	if got := apply(standby, precommit(5, 0, 'b', 3, "")); got.err != nil {
		if !errors.Is(got.err, ErrDoubleSignRefused) {
			t.Fatalf("standby at the active one's last position: %v, want a refusal", got.err)
		}
		lost++
	} else {
		t.Fatal("standby signed another block at the position the active signer signed")
	}
	// The identical precommit is no double sign and is answered.
	if got := apply(standby, precommit(5, 0, 'a', 2, "")); got.err != nil {
		t.Errorf("standby, identical precommit: %v", got.err)
	}
	for h := int64(6); h <= 8; h++ {
		for _, r := range []request{proposal(h, 0, -1, 'c', 0), prevote(h, 0, 'c', 1), precommit(h, 0, 'c', 2, "")} {
			if got := apply(standby, r); got.err != nil {
				t.Errorf("standby at height %d %s: %v", h, r.name, got.err)
			}
		}
	}
	if lost > 1 {
		t.Errorf("standby lost %d steps, want at most 1", lost)
	}
	// And the old active signer, were it to come back, is refused behind.
	if got := apply(active, prevote(7, 0, 'z', 9)); !errors.Is(got.err, ErrDoubleSignRefused) {
		t.Errorf("old active signer behind the watermark: got %v, want a refusal", got.err)
	}
}

func TestWatermarkRefusesUnreadableRecord(t *testing.T) {
	store := certstest.NewStore()
	ctx := t.Context()
	if _, err := store.WriteCAS(ctx, watermarkKey("v"), []byte("not json"), 0); err != nil {
		t.Fatal(err)
	}
	err := claimWatermark(ctx, store, "v", hrs{Height: 1, Step: stepPrevote}, []byte("x"))
	if err == nil {
		t.Fatal("claimed over an unreadable watermark")
	}
	if raw, _, _ := store.Read(ctx, watermarkKey("v")); string(raw) != "not json" {
		t.Errorf("watermark overwritten: %q", raw)
	}
}
