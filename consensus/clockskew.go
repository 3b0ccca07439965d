package consensus

import (
	"fmt"
	"os"
	"time"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"
)

// ClockSkewEnv is a fault-injection setting for tests, deliberately not a
// flag or a config key: a Go duration ("90s", "-1h") by which this
// validator's clock appears skewed to the rest of the network.
//
// Why the signer: CometBFT reads the wall clock through its own
// types/time.Now, which has no hook, and Go binaries ignore libfaketime.
// With BFT time (the only block-time mode of this CometBFT), a validator's
// clock reaches other nodes in exactly one place: the timestamp of its
// votes, which the signer may set and consensus then keeps. Block time is
// the power-weighted median of the last commit's vote timestamps, so one
// skewed validator of four must not move it. Local timeouts are durations
// and do not depend on the clock's offset.
const ClockSkewEnv = "CONSORT_TEST_CLOCK_SKEW"

// clockSkewed wraps pv so that its votes carry its clock shifted by the
// duration in ClockSkewEnv; without the variable it returns pv itself.
func clockSkewed(pv cmttypes.PrivValidator) (cmttypes.PrivValidator, error) {
	v := os.Getenv(ClockSkewEnv)
	if v == "" {
		return pv, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: want a duration such as 90s or -1h: %w", ClockSkewEnv, v, err)
	}
	return skewedSigner{PrivValidator: pv, skew: d}, nil
}

// skewedSigner signs as the wrapped validator with its vote times moved.
type skewedSigner struct {
	cmttypes.PrivValidator
	skew time.Duration
}

var _ cmttypes.PrivValidator = skewedSigner{}

// SignVote shifts the vote's timestamp, then signs it.
func (s skewedSigner) SignVote(chainID string, vote *cmtproto.Vote) error {
	vote.Timestamp = vote.Timestamp.Add(s.skew)
	return s.PrivValidator.SignVote(chainID, vote)
}
