package policy

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// MaxTotalVotingPower is CometBFT's limit on the sum of all voting powers
// (its types.MaxTotalVotingPower). CometBFT refuses a validator set above
// it, which would halt the chain, so CheckValidatorChange refuses it first.
const MaxTotalVotingPower int64 = math.MaxInt64 / 8

// ValidatorPower is one validator's voting power, keyed by whatever string
// the ledger uses to name a validator key. As a change, Power is the new
// power: 0 removes the validator.
type ValidatorPower struct {
	Key   string
	Power int64
}

// CheckValidatorChange checks changes to the validator set current, and
// returns the net updates to hand CometBFT: one per key whose power really
// changes, sorted by key (a validator added and removed again in the same
// changes does not appear).
//
// current is the set as every earlier block left it: distinct keys, each
// with positive power. changes is every change accepted so far in this
// block followed by the new ones, applied in order, so a later change of a
// key overrides an earlier one and the limits below hold for the block as
// a whole. The change is refused, with an error wrapping the sentinel named,
// when:
//
//   - a change has an empty key (ErrInvalidValidator) or a negative power
//     (ErrNegativePower);
//   - a change removes a key that is not in the set at that point
//     (ErrUnknownValidator), which CometBFT would refuse by halting;
//   - the power taken away from the validators of current — removals and
//     decreases, summed over the block — is a third of current's total or
//     more (ErrPowerChangeTooLarge); increases and new validators do not
//     offset it;
//   - fewer than minValidators validators would remain
//     (ErrTooFewValidators); minValidators below 1 counts as 1, since an
//     empty set halts the chain;
//   - the total power would exceed MaxTotalVotingPower
//     (ErrTotalPowerTooLarge).
//
// A malformed current set is reported with ErrInvalidValidator or
// ErrDuplicateValidator. All arithmetic is on integers.
func CheckValidatorChange(current, changes []ValidatorPower, minValidators int) ([]ValidatorPower, error) {
	before, total, err := indexValidators(current)
	if err != nil {
		return nil, err
	}

	after := maps.Clone(before)
	for i, c := range changes {
		switch {
		case c.Key == "":
			return nil, fmt.Errorf("%w: change %d has an empty key", ErrInvalidValidator, i)
		case c.Power < 0:
			return nil, fmt.Errorf("%w: change %d sets validator %s to %d", ErrNegativePower, i, c.Key, c.Power)
		case c.Power > MaxTotalVotingPower:
			return nil, fmt.Errorf("%w: change %d sets validator %s to %d, limit %d", ErrTotalPowerTooLarge, i, c.Key, c.Power, MaxTotalVotingPower)
		case c.Power == 0:
			if _, ok := after[c.Key]; !ok {
				return nil, fmt.Errorf("%w: change %d removes validator %s, which is not in the set", ErrUnknownValidator, i, c.Key)
			}
			delete(after, c.Key)
		default:
			after[c.Key] = c.Power
		}
	}

	keys := unionKeys(current, changes)

	var removed int64 // ≤ total ≤ MaxTotalVotingPower, so removed*3 cannot overflow
	for _, k := range keys {
		if old, now := before[k], after[k]; old > now {
			removed += old - now
		}
	}
	if removed > 0 && removed*3 >= total {
		return nil, fmt.Errorf("%w: removes %d of %d voting power (1/3 or more) at once", ErrPowerChangeTooLarge, removed, total)
	}

	floor := max(minValidators, 1)
	if len(after) < floor {
		return nil, fmt.Errorf("%w: leaves %d validators, minimum %d", ErrTooFewValidators, len(after), floor)
	}

	var newTotal int64
	for _, k := range keys {
		newTotal += after[k] // each ≤ MaxTotalVotingPower; checked after every add, so no overflow
		if newTotal > MaxTotalVotingPower {
			return nil, fmt.Errorf("%w: total voting power would exceed %d", ErrTotalPowerTooLarge, MaxTotalVotingPower)
		}
	}

	var updates []ValidatorPower
	for _, k := range keys {
		if before[k] != after[k] {
			updates = append(updates, ValidatorPower{Key: k, Power: after[k]})
		}
	}
	return updates, nil
}

// indexValidators checks a validator set and returns it by key with its
// total power.
func indexValidators(set []ValidatorPower) (map[string]int64, int64, error) {
	byKey := make(map[string]int64, len(set))
	var total int64
	for i, v := range set {
		switch {
		case v.Key == "":
			return nil, 0, fmt.Errorf("%w: current validator %d has an empty key", ErrInvalidValidator, i)
		case v.Power <= 0:
			return nil, 0, fmt.Errorf("%w: current validator %s has power %d, want positive", ErrInvalidValidator, v.Key, v.Power)
		case v.Power > MaxTotalVotingPower-total:
			return nil, 0, fmt.Errorf("%w: current total voting power exceeds %d", ErrInvalidValidator, MaxTotalVotingPower)
		}
		if _, dup := byKey[v.Key]; dup {
			return nil, 0, fmt.Errorf("%w: %s appears twice in the current set", ErrDuplicateValidator, v.Key)
		}
		byKey[v.Key] = v.Power
		total += v.Power
	}
	return byKey, total, nil
}

// unionKeys returns every key of a and b, sorted, without repeats.
func unionKeys(a, b []ValidatorPower) []string {
	keys := make([]string, 0, len(a)+len(b))
	for _, v := range a {
		keys = append(keys, v.Key)
	}
	for _, v := range b {
		keys = append(keys, v.Key)
	}
	slices.SortFunc(keys, strings.Compare)
	return slices.Compact(keys)
}
