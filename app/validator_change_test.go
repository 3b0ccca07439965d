package app

import (
	"fmt"
	"maps"
	"slices"
	"testing"
)

// setVal is a governance transaction setting validator name to power,
// approved by bank-a and bank-b.
func (f *accessFixture) setVal(t testing.TB, name string, power int64) []byte {
	t.Helper()
	return f.gov(t, &SetValidator{Name: name, PublicKey: f.valKey(name), Power: power}, "a1", "b1")
}

// updatesByName renders validator updates as "name:power" in their order.
func (f *accessFixture) updatesByName(updates []ValidatorUpdate) []string {
	out := make([]string, len(updates))
	for i, u := range updates {
		out[i] = fmt.Sprintf("%s:%d", f.valName(u.PublicKey), u.Power)
	}
	return out
}

// Validator changes run block after block on one ledger, five validators of
// power 20 at the start and min_validators 4.
func TestValidatorChanges(t *testing.T) {
	f := newAccessFixture(t)
	type step struct {
		name    string
		txs     func(t *testing.T) [][]byte
		want    []Code
		updates map[string]int64 // net updates of the block
		set     map[string]int64 // the set after the block
	}
	steps := []step{
		{"add a validator", func(t *testing.T) [][]byte { return [][]byte{f.setVal(t, "v6", 10)} }, []Code{CodeOK},
			map[string]int64{"v6": 10}, map[string]int64{"v1": 20, "v2": 20, "v3": 20, "v4": 20, "v5": 20, "v6": 10}},
		{"change power", func(t *testing.T) [][]byte { return [][]byte{f.setVal(t, "v1", 25)} }, []Code{CodeOK},
			map[string]int64{"v1": 25}, map[string]int64{"v1": 25, "v2": 20, "v3": 20, "v4": 20, "v5": 20, "v6": 10}},
		{"remove a validator", func(t *testing.T) [][]byte { return [][]byte{f.setVal(t, "v6", 0)} }, []Code{CodeOK},
			map[string]int64{"v6": 0}, map[string]int64{"v1": 25, "v2": 20, "v3": 20, "v4": 20, "v5": 20}},
		{"add a heavy validator", func(t *testing.T) [][]byte { return [][]byte{f.setVal(t, "v7", 55)} }, []Code{CodeOK},
			map[string]int64{"v7": 55}, map[string]int64{"v1": 25, "v2": 20, "v3": 20, "v4": 20, "v5": 20, "v7": 55}},
		{"remove a third of the power at once", func(t *testing.T) [][]byte { return [][]byte{f.setVal(t, "v7", 0)} }, []Code{CodeValidatorChange},
			nil, map[string]int64{"v1": 25, "v2": 20, "v3": 20, "v4": 20, "v5": 20, "v7": 55}},
		{"decrease by less than a third", func(t *testing.T) [][]byte { return [][]byte{f.setVal(t, "v7", 10)} }, []Code{CodeOK},
			map[string]int64{"v7": 10}, map[string]int64{"v1": 25, "v2": 20, "v3": 20, "v4": 20, "v5": 20, "v7": 10}},
		{"two removals in one block add up to a third", func(t *testing.T) [][]byte {
			a, b := f.setVal(t, "v2", 0), f.setVal(t, "v3", 0)
			f.wantCheck(t, "first removal alone", a, CodeOK)
			f.wantCheck(t, "second removal alone", b, CodeOK)
			return [][]byte{a, b}
		}, []Code{CodeOK, CodeValidatorChange},
			map[string]int64{"v2": 0}, map[string]int64{"v1": 25, "v3": 20, "v4": 20, "v5": 20, "v7": 10}},
		{"remove down to min_validators", func(t *testing.T) [][]byte { return [][]byte{f.setVal(t, "v7", 0)} }, []Code{CodeOK},
			map[string]int64{"v7": 0}, map[string]int64{"v1": 25, "v3": 20, "v4": 20, "v5": 20}},
		{"remove below min_validators", func(t *testing.T) [][]byte { return [][]byte{f.setVal(t, "v3", 0)} }, []Code{CodeValidatorChange},
			nil, map[string]int64{"v1": 25, "v3": 20, "v4": 20, "v5": 20}},
		{"net changes of a block", func(t *testing.T) [][]byte {
			return [][]byte{f.setVal(t, "v8", 5), f.setVal(t, "v1", 30), f.setVal(t, "v8", 7), f.setVal(t, "v9", 3), f.setVal(t, "v9", 0)}
		}, []Code{CodeOK, CodeOK, CodeOK, CodeOK, CodeOK},
			map[string]int64{"v1": 30, "v8": 7}, map[string]int64{"v1": 30, "v3": 20, "v4": 20, "v5": 20, "v8": 7}},
		{"removed and added back in one block", func(t *testing.T) [][]byte { return [][]byte{f.setVal(t, "v4", 0), f.setVal(t, "v4", 20)} },
			[]Code{CodeOK, CodeOK}, nil, map[string]int64{"v1": 30, "v3": 20, "v4": 20, "v5": 20, "v8": 7}},
		{"refused", func(t *testing.T) [][]byte {
			return [][]byte{
				f.setVal(t, "v9", 0), // not a validator
				f.gov(t, &SetValidator{Name: "v9", PublicKey: make([]byte, 31), Power: 5}, "a1", "b1"),
				f.setVal(t, "v9", -5),
				f.gov(t, &SetValidator{Name: "v9", PublicKey: f.valKey("v9"), Power: 5, Operator: "nobody"}, "a1", "b1"),
				f.gov(t, &SetValidator{Name: "v9", PublicKey: f.valKey("v9"), Power: 5}, "a1", "a2"),
				f.gov(t, &SetValidator{Name: "v9", PublicKey: f.valKey("v9"), Power: 5}, "iss", "m1"),
			}
		}, []Code{CodeValidatorChange, CodeInvalidAction, CodeValidatorChange, CodeUnknownAccount, CodeNotApproved, CodeNotApproved},
			nil, map[string]int64{"v1": 30, "v3": 20, "v4": 20, "v5": 20, "v8": 7}},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			res := f.run(t, s.txs(t), s.want...)
			var want []ValidatorUpdate
			for name, p := range s.updates {
				want = append(want, ValidatorUpdate{PublicKey: f.valKey(name), Power: p})
			}
			want = sortByKey(want)
			if got := f.updatesByName(res.ValidatorUpdates); !slices.Equal(got, f.updatesByName(want)) {
				t.Errorf("validator updates: got %v, want %v (sorted by key)", got, f.updatesByName(want))
			}
			if got := f.powers(t); !maps.Equal(got, s.set) {
				t.Errorf("validator set: got %v, want %v", got, s.set)
			}
		})
		if !ok {
			t.Fatalf("step %q failed; later steps depend on it", s.name)
		}
	}
}

// A block may remove a validator and then raise min_validators above what
// is left. Each transaction passes on its own, so the block must execute:
// an ExecuteBlock error halts the chain.
func TestValidatorRemovalThenMinValidatorsRaised(t *testing.T) {
	f := newAccessFixture(t)
	p := f.params(t)
	p.MinValidators = 5
	raise := f.gov(t, &SetParams{Params: p}, "a1", "c1")
	res, err := f.tryExecute(f.setVal(t, "v1", 0), raise)
	if err != nil {
		t.Fatalf("ExecuteBlock: %v; want the block executed (a node that cannot execute a decided block halts)", err)
	}
	if res.Txs[0].Code != CodeOK {
		t.Errorf("removal: got code %d (%s), want 0", res.Txs[0].Code, res.Txs[0].Log)
	}
	t.Logf("min_validators raised above the set in the same block: code %d (%s)", res.Txs[1].Code, res.Txs[1].Log)
	if got := f.updatesByName(res.ValidatorUpdates); !slices.Equal(got, []string{"v1:0"}) {
		t.Errorf("validator updates: got %v, want [v1:0]", got)
	}

	// The other order is plainly refused: the removal sees the new minimum.
	g := newAccessFixture(t)
	g.run(t, [][]byte{g.gov(t, &SetParams{Params: p}, "a1", "c1"), g.setVal(t, "v1", 0)}, CodeOK, CodeValidatorChange)
}
