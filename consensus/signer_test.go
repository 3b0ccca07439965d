package consensus

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/privval"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/certs/certstest"
)

const testChainID = "signer-test"

var testT0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// request is one signing request of a test sequence; exactly one of vote
// and proposal is set. Each side gets its own copy.
type request struct {
	name     string
	vote     func() *cmtproto.Vote
	proposal func() *cmtproto.Proposal
}

func blockID(tag byte) cmtproto.BlockID {
	if tag == 0 {
		return cmtproto.BlockID{}
	}
	return cmtproto.BlockID{
		Hash:          bytes.Repeat([]byte{tag}, 32),
		PartSetHeader: cmtproto.PartSetHeader{Total: 1, Hash: bytes.Repeat([]byte{tag + 1}, 32)},
	}
}

// voteReq is a vote at h/r for block tag (0: nil) at testT0+ts seconds.
func voteReq(typ cmtproto.SignedMsgType, h int64, r int32, tag byte, ts int, ext string) request {
	return request{name: typ.String(), vote: func() *cmtproto.Vote {
		v := &cmtproto.Vote{Type: typ, Height: h, Round: r, BlockID: blockID(tag),
			Timestamp: testT0.Add(time.Duration(ts) * time.Second), ValidatorAddress: bytes.Repeat([]byte{1}, 20)}
		if ext != "" {
			v.Extension = []byte(ext)
		}
		return v
	}}
}

func prevote(h int64, r int32, tag byte, ts int) request {
	return voteReq(cmtproto.PrevoteType, h, r, tag, ts, "")
}

func precommit(h int64, r int32, tag byte, ts int, ext string) request {
	return voteReq(cmtproto.PrecommitType, h, r, tag, ts, ext)
}

func proposal(h int64, r, polRound int32, tag byte, ts int) request {
	return request{name: "proposal", proposal: func() *cmtproto.Proposal {
		return &cmtproto.Proposal{Type: cmtproto.ProposalType, Height: h, Round: r, PolRound: polRound,
			BlockID: blockID(tag), Timestamp: testT0.Add(time.Duration(ts) * time.Second)}
	}}
}

// outcome is what a PrivValidator made of a request.
type outcome struct {
	err       error
	sig, ext  []byte
	timestamp time.Time
}

func apply(pv cmttypes.PrivValidator, r request) outcome {
	if r.vote != nil {
		v := r.vote()
		err := pv.SignVote(testChainID, v)
		return outcome{err: err, sig: v.Signature, ext: v.ExtensionSignature, timestamp: v.Timestamp}
	}
	p := r.proposal()
	err := pv.SignProposal(testChainID, p)
	return outcome{err: err, sig: p.Signature, timestamp: p.Timestamp}
}

func newTestSigner(t *testing.T, cfg SignerConfig, keys *certstest.KeyProvider) *Signer {
	t.Helper()
	if cfg.StateFile == "" {
		cfg.StateFile = filepath.Join(t.TempDir(), "signer_state.json")
	}
	s, err := NewSigner(cfg, keys, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSignerMatchesFilePV runs request sequences through privval.FilePV
// and a Signer holding the same key, and wants the same outcome for every
// request: an error or not, and the same signature, extension signature
// and timestamp.
func TestSignerMatchesFilePV(t *testing.T) {
	type step struct {
		req     request
		wantErr bool
	}
	ok := func(r request) step { return step{req: r} }
	refused := func(r request) step { return step{req: r, wantErr: true} }
	cases := []struct {
		name  string
		steps []step
	}{
		{"identical vote gets the stored signature", []step{ok(prevote(1, 0, 'a', 0)), ok(prevote(1, 0, 'a', 0))}},
		{"vote differing only in timestamp gets the stored signature and timestamp", []step{ok(prevote(1, 0, 'a', 0)), ok(prevote(1, 0, 'a', 7))}},
		{"vote for another block at the same step", []step{ok(prevote(1, 0, 'a', 0)), refused(prevote(1, 0, 'b', 0))}},
		{"vote for nil after a block at the same step", []step{ok(prevote(1, 0, 'a', 0)), refused(prevote(1, 0, 0, 0))}},
		{"height regression", []step{ok(prevote(2, 0, 'a', 0)), refused(prevote(1, 0, 'a', 0))}},
		{"round regression", []step{ok(prevote(1, 1, 'a', 0)), refused(prevote(1, 0, 'a', 0))}},
		{"step regression", []step{ok(precommit(1, 0, 'a', 0, "")), refused(prevote(1, 0, 'a', 0))}},
		{"proposal after a vote at the same round", []step{ok(prevote(1, 0, 'a', 0)), refused(proposal(1, 0, -1, 'a', 0))}},
		{"identical proposal", []step{ok(proposal(1, 0, -1, 'a', 0)), ok(proposal(1, 0, -1, 'a', 0))}},
		{"proposal differing only in timestamp", []step{ok(proposal(1, 0, -1, 'a', 0)), ok(proposal(1, 0, -1, 'a', 3))}},
		{"proposal of another block", []step{ok(proposal(1, 0, -1, 'a', 0)), refused(proposal(1, 0, -1, 'b', 0))}},
		{"proposal with another POL round", []step{ok(proposal(1, 1, -1, 'a', 0)), refused(proposal(1, 1, 0, 'a', 0))}},
		{"full height then the next", []step{
			ok(proposal(1, 0, -1, 'a', 0)), ok(prevote(1, 0, 'a', 1)), ok(precommit(1, 0, 'a', 2, "")),
			ok(proposal(2, 0, -1, 'b', 3)), ok(prevote(2, 0, 'b', 4)), ok(precommit(2, 0, 'b', 5, "ext")),
		}},
		{"new round after a nil precommit", []step{ok(precommit(1, 0, 0, 0, "")), ok(prevote(1, 1, 'a', 1)), ok(precommit(1, 1, 'a', 2, ""))}},
		{"precommit extension signed", []step{ok(precommit(1, 0, 'a', 0, "ext-1"))}},
		{"empty extension of a non-nil precommit still signed", []step{ok(precommit(1, 0, 'a', 0, ""))}},
		{"repeated precommit with another extension: stored vote signature, new extension signature", []step{
			ok(precommit(1, 0, 'a', 0, "ext-1")), ok(precommit(1, 0, 'a', 0, "ext-2")),
		}},
		{"repeated precommit differing in timestamp and extension", []step{
			ok(precommit(1, 0, 'a', 0, "ext-1")), ok(precommit(1, 0, 'a', 9, "ext-2")),
		}},
		{"conflicting precommit", []step{ok(precommit(1, 0, 'a', 0, "x")), refused(precommit(1, 0, 'b', 0, "x"))}},
		{"extension on a nil precommit", []step{refused(precommit(1, 0, 0, 0, "ext"))}},
		{"extension on a prevote", []step{refused(voteReq(cmtproto.PrevoteType, 1, 0, 'a', 0, "ext"))}},
		{"regression is refused before looking at the extension", []step{ok(precommit(2, 0, 'a', 0, "")), refused(precommit(1, 0, 0, 0, "ext"))}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			key := ed25519.GenPrivKey()
			file := privval.NewFilePV(key, filepath.Join(dir, "key.json"), filepath.Join(dir, "state.json"))
			file.Save()
			ours := newTestSigner(t, SignerConfig{}, certstest.NewKeyProvider(key))
			for i, st := range tc.steps {
				want, got := apply(file, st.req), apply(ours, st.req)
				if (want.err != nil) != st.wantErr {
					t.Fatalf("step %d (%s): FilePV error %v, the table wants error=%v", i, st.req.name, want.err, st.wantErr)
				}
				if (got.err != nil) != (want.err != nil) {
					t.Fatalf("step %d (%s): got error %v, FilePV %v", i, st.req.name, got.err, want.err)
				}
				if !bytes.Equal(got.sig, want.sig) {
					t.Errorf("step %d (%s): got signature %X, FilePV %X", i, st.req.name, got.sig, want.sig)
				}
				if !bytes.Equal(got.ext, want.ext) {
					t.Errorf("step %d (%s): got extension signature %X, FilePV %X", i, st.req.name, got.ext, want.ext)
				}
				if !got.timestamp.Equal(want.timestamp) {
					t.Errorf("step %d (%s): got timestamp %v, FilePV %v", i, st.req.name, got.timestamp, want.timestamp)
				}
			}
		})
	}
}

func TestSignerStateSurvivesRestart(t *testing.T) {
	keys := certstest.NewKeyProvider()
	file := filepath.Join(t.TempDir(), "state.json")
	first := newTestSigner(t, SignerConfig{StateFile: file}, keys)
	signed := apply(first, precommit(5, 1, 'a', 0, ""))
	if signed.err != nil {
		t.Fatal(signed.err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	signs := keys.Signs()

	again := newTestSigner(t, SignerConfig{StateFile: file}, keys)
	if got := apply(again, precommit(5, 1, 'a', 4, "")); got.err != nil || !bytes.Equal(got.sig, signed.sig) || !got.timestamp.Equal(testT0) {
		t.Errorf("repeat after restart: got %v, sig equal %v, timestamp %v; want the stored signature and timestamp", got.err, bytes.Equal(got.sig, signed.sig), got.timestamp)
	}
	// The repeat signs the extension only, never the vote again.
	if keys.Signs() != signs+1 {
		t.Errorf("provider signed %d times for the repeat, want 1 (the extension)", keys.Signs()-signs)
	}
	for _, r := range []request{precommit(5, 1, 'b', 0, ""), prevote(5, 1, 'a', 0), precommit(4, 9, 'a', 0, "")} {
		if got := apply(again, r); !errors.Is(got.err, ErrDoubleSignRefused) {
			t.Errorf("%s after restart: got %v, want a refusal", r.name, got.err)
		}
	}
}

func TestSignerRefusesCorruptState(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	for _, content := range []string{"{", `{"height":3,"round":0,"step":2}`, `{"height":1,"step":9}`} {
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := NewSigner(SignerConfig{StateFile: file}, certstest.NewKeyProvider(), zerolog.Nop()); err == nil {
			t.Errorf("state %s: got no error, want a refusal to start", content)
		}
	}
}

// TestSignerProviderDown: while the key provider or the store fails, each
// request fails (counted by reason) and the state does not move; the next
// request after they recover signs without a restart.
func TestSignerProviderDown(t *testing.T) {
	keys, store := certstest.NewKeyProvider(), certstest.NewStore()
	m := NopSignerMetrics()
	s := newTestSigner(t, SignerConfig{Store: store, KeyName: "val", Metrics: m}, keys)
	if got := apply(s, prevote(1, 0, 'a', 0)); got.err != nil {
		t.Fatal(got.err)
	}
	keys.SetDown(true)
	if got := apply(s, precommit(1, 0, 'a', 0, "")); got.err == nil || got.sig != nil {
		t.Fatalf("provider down: got %v, signature %X; want an error and no signature", got.err, got.sig)
	}
	keys.SetDown(false)
	store.SetDown(true)
	if got := apply(s, prevote(2, 0, 'a', 0)); got.err == nil || got.sig != nil {
		t.Fatalf("store down: got %v, signature %X; want an error and no signature", got.err, got.sig)
	}
	if got := testutil.ToFloat64(m.Errors.WithLabelValues(SignerErrorKey)); got != 1 {
		t.Errorf("key errors %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.Errors.WithLabelValues(SignerErrorStore)); got != 1 {
		t.Errorf("store errors %v, want 1", got)
	}
	if s.state.Height != 1 || s.state.Step != stepPrevote {
		t.Errorf("state moved to %s while failing", s.state.hrs)
	}
	store.SetDown(false)
	if got := apply(s, precommit(2, 0, 'a', 0, "")); got.err != nil {
		t.Fatalf("after recovery: %v", got.err)
	}
	if got := testutil.ToFloat64(m.LastSignedHeight); got != 2 {
		t.Errorf("last signed height %v, want 2", got)
	}
}

func TestSignerMetricsRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := SignerPrometheusMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := SignerPrometheusMetrics(reg)
	if err != nil {
		t.Fatalf("second registration: %v", err)
	}
	a.Refusals.WithLabelValues(RefusalConflict).Inc()
	if got := testutil.ToFloat64(b.Refusals.WithLabelValues(RefusalConflict)); got != 1 {
		t.Errorf("second metrics see %v refusals, want the shared 1", got)
	}
}
