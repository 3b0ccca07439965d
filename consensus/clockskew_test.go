package consensus

import (
	"testing"
	"time"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"
)

func TestClockSkewed(t *testing.T) {
	pv := cmttypes.NewMockPV()
	pub, err := pv.GetPubKey()
	if err != nil {
		t.Fatal(err)
	}

	t.Setenv(ClockSkewEnv, "")
	if got, err := clockSkewed(pv); err != nil {
		t.Fatal(err)
	} else if _, wrapped := got.(skewedSigner); wrapped {
		t.Fatalf("without %s: got a skewed signer, want the signer itself", ClockSkewEnv)
	}

	t.Setenv(ClockSkewEnv, "an hour")
	if _, err := clockSkewed(pv); err == nil {
		t.Fatalf("%s=%q: got no error", ClockSkewEnv, "an hour")
	}

	t.Setenv(ClockSkewEnv, "-90m")
	skewed, err := clockSkewed(pv)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	vote := &cmtproto.Vote{Type: cmtproto.PrevoteType, Height: 3, Timestamp: now, ValidatorAddress: pub.Address()}
	if err := skewed.SignVote("chain", vote); err != nil {
		t.Fatal(err)
	}
	if want := now.Add(-90 * time.Minute); !vote.Timestamp.Equal(want) {
		t.Errorf("vote time: got %s, want %s", vote.Timestamp, want)
	}
	// The signature covers the skewed time: a verifier sees one honest-looking vote.
	if !pub.VerifySignature(cmttypes.VoteSignBytes("chain", vote), vote.Signature) {
		t.Error("signature does not verify over the skewed vote")
	}
}
