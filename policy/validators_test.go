package policy_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/consort-ledger/consort/policy"
)

// vp is shorthand for a validator power in the tables below.
func vp(key string, power int64) policy.ValidatorPower {
	return policy.ValidatorPower{Key: key, Power: power}
}

func TestCheckValidatorChange(t *testing.T) {
	// Four validators, total power 100.
	four := []policy.ValidatorPower{vp("a", 40), vp("b", 30), vp("c", 20), vp("d", 10)}
	// Three equal validators, total power 30.
	three := []policy.ValidatorPower{vp("x", 10), vp("y", 10), vp("z", 10)}
	// Six validators, total power 99, so a third is exactly 33.
	six := []policy.ValidatorPower{vp("a", 33), vp("b", 32), vp("c", 1), vp("d", 11), vp("e", 11), vp("f", 11)}

	tests := []struct {
		name        string
		current     []policy.ValidatorPower
		changes     []policy.ValidatorPower
		min         int
		wantUpdates []policy.ValidatorPower
		wantErr     error
		wantMsg     string // checked when not ""
	}{
		{name: "no change", current: four, min: 1},
		{name: "remove just under a third", current: four, changes: []policy.ValidatorPower{vp("b", 0)}, min: 1,
			wantUpdates: []policy.ValidatorPower{vp("b", 0)}},
		{name: "remove exactly a third", current: six, changes: []policy.ValidatorPower{vp("a", 0)}, min: 1,
			wantErr: policy.ErrPowerChangeTooLarge, wantMsg: "voting power change too large: removes 33 of 99 voting power (1/3 or more) at once"},
		{name: "remove one power under a third", current: six, changes: []policy.ValidatorPower{vp("b", 0)}, min: 1,
			wantUpdates: []policy.ValidatorPower{vp("b", 0)}},
		{name: "remove more than a third", current: four, changes: []policy.ValidatorPower{vp("a", 0)}, min: 1,
			wantErr: policy.ErrPowerChangeTooLarge, wantMsg: "voting power change too large: removes 40 of 100 voting power (1/3 or more) at once"},
		{name: "one of three equal validators is a third", current: three, changes: []policy.ValidatorPower{vp("x", 0)}, min: 1,
			wantErr: policy.ErrPowerChangeTooLarge},
		{name: "cumulative removals in one block", current: four, changes: []policy.ValidatorPower{vp("c", 0), vp("d", 0), vp("b", 26)}, min: 1,
			wantErr: policy.ErrPowerChangeTooLarge, wantMsg: "voting power change too large: removes 34 of 100 voting power (1/3 or more) at once"},
		{name: "cumulative removals under a third", current: four, changes: []policy.ValidatorPower{vp("c", 0), vp("d", 0)}, min: 1,
			wantUpdates: []policy.ValidatorPower{vp("c", 0), vp("d", 0)}},
		{name: "decrease counts as removal", current: four, changes: []policy.ValidatorPower{vp("a", 6)}, min: 1,
			wantErr: policy.ErrPowerChangeTooLarge},
		{name: "increase does not count as removal", current: four, changes: []policy.ValidatorPower{vp("a", 1000)}, min: 1,
			wantUpdates: []policy.ValidatorPower{vp("a", 1000)}},
		{name: "increase does not offset a removal", current: four, changes: []policy.ValidatorPower{vp("b", 1000), vp("a", 0)}, min: 1,
			wantErr: policy.ErrPowerChangeTooLarge},
		{name: "new validator does not offset a removal", current: four, changes: []policy.ValidatorPower{vp("e", 500), vp("a", 0)}, min: 1,
			wantErr: policy.ErrPowerChangeTooLarge},
		{name: "add new validator", current: three, changes: []policy.ValidatorPower{vp("w", 5)}, min: 3,
			wantUpdates: []policy.ValidatorPower{vp("w", 5)}},
		{name: "add to empty set", changes: []policy.ValidatorPower{vp("w", 5)}, min: 1,
			wantUpdates: []policy.ValidatorPower{vp("w", 5)}},
		{name: "later change of a key overrides an earlier one", current: four, changes: []policy.ValidatorPower{vp("a", 0), vp("a", 40)}, min: 1},
		{name: "removed and re-added in one block counts the net decrease", current: four, changes: []policy.ValidatorPower{vp("d", 0), vp("d", 5)}, min: 1,
			wantUpdates: []policy.ValidatorPower{vp("d", 5)}},
		{name: "added then removed in the same block is no update", current: four, changes: []policy.ValidatorPower{vp("e", 7), vp("e", 0)}, min: 1},
		{name: "updates sorted by key", current: four, changes: []policy.ValidatorPower{vp("z", 1), vp("d", 0), vp("b", 31)}, min: 1,
			wantUpdates: []policy.ValidatorPower{vp("b", 31), vp("d", 0), vp("z", 1)}},
		{name: "leaves fewer than the minimum", current: four, changes: []policy.ValidatorPower{vp("d", 0)}, min: 4,
			wantErr: policy.ErrTooFewValidators, wantMsg: "too few validators: leaves 3 validators, minimum 4"},
		{name: "leaves exactly the minimum", current: four, changes: []policy.ValidatorPower{vp("d", 0)}, min: 3,
			wantUpdates: []policy.ValidatorPower{vp("d", 0)}},
		{name: "swap keeps the count", current: three, changes: []policy.ValidatorPower{vp("w", 10)}, min: 3,
			wantUpdates: []policy.ValidatorPower{vp("w", 10)}},
		{name: "minimum below one means one", changes: []policy.ValidatorPower{vp("w", 10), vp("w", 0)}, min: -5,
			wantErr: policy.ErrTooFewValidators, wantMsg: "too few validators: leaves 0 validators, minimum 1"},
		{name: "removing the last validator", current: []policy.ValidatorPower{vp("x", 10)}, changes: []policy.ValidatorPower{vp("x", 0)}, min: 0,
			wantErr: policy.ErrPowerChangeTooLarge},
		{name: "negative power", current: four, changes: []policy.ValidatorPower{vp("b", -1)}, min: 1,
			wantErr: policy.ErrNegativePower, wantMsg: "negative voting power: change 0 sets validator b to -1"},
		{name: "remove unknown validator", current: four, changes: []policy.ValidatorPower{vp("q", 0)}, min: 1,
			wantErr: policy.ErrUnknownValidator, wantMsg: "unknown validator: change 0 removes validator q, which is not in the set"},
		{name: "remove twice", current: four, changes: []policy.ValidatorPower{vp("d", 0), vp("d", 0)}, min: 1,
			wantErr: policy.ErrUnknownValidator},
		{name: "empty key", current: four, changes: []policy.ValidatorPower{vp("", 5)}, min: 1,
			wantErr: policy.ErrInvalidValidator},
		{name: "power above CometBFT's limit", current: four, changes: []policy.ValidatorPower{vp("e", policy.MaxTotalVotingPower+1)}, min: 1,
			wantErr: policy.ErrTotalPowerTooLarge},
		{name: "total above CometBFT's limit", current: four, changes: []policy.ValidatorPower{vp("e", policy.MaxTotalVotingPower-50)}, min: 1,
			wantErr: policy.ErrTotalPowerTooLarge},
		{name: "total at CometBFT's limit", current: four, changes: []policy.ValidatorPower{vp("e", policy.MaxTotalVotingPower-100)}, min: 1,
			wantUpdates: []policy.ValidatorPower{vp("e", policy.MaxTotalVotingPower-100)}},
		{name: "current set with duplicate key", current: []policy.ValidatorPower{vp("a", 1), vp("a", 2)}, min: 1,
			wantErr: policy.ErrDuplicateValidator},
		{name: "current set with zero power", current: []policy.ValidatorPower{vp("a", 1), vp("b", 0)}, min: 1,
			wantErr: policy.ErrInvalidValidator},
		{name: "current set above the limit", current: []policy.ValidatorPower{vp("a", policy.MaxTotalVotingPower), vp("b", 1)}, min: 1,
			wantErr: policy.ErrInvalidValidator},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := policy.CheckValidatorChange(tt.current, tt.changes, tt.min)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				if !slices.Equal(got, tt.wantUpdates) {
					t.Errorf("got updates %+v, want %+v", got, tt.wantUpdates)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("got message %q, want %q", err, tt.wantMsg)
			}
			if got != nil {
				t.Errorf("got updates %+v with an error, want none", got)
			}
		})
	}
}

// The result must not depend on the order of the current set.
func TestCheckValidatorChangeOrderIndependent(t *testing.T) {
	a := []policy.ValidatorPower{vp("a", 40), vp("b", 30), vp("c", 20), vp("d", 10)}
	b := []policy.ValidatorPower{vp("d", 10), vp("b", 30), vp("a", 40), vp("c", 20)}
	changes := []policy.ValidatorPower{vp("e", 3), vp("c", 0), vp("a", 50)}
	gotA, errA := policy.CheckValidatorChange(a, changes, 1)
	gotB, errB := policy.CheckValidatorChange(b, changes, 1)
	if errA != nil || errB != nil || !slices.Equal(gotA, gotB) {
		t.Errorf("got %+v, %v and %+v, %v; want equal results", gotA, errA, gotB, errB)
	}
}
