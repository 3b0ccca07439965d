package app

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

var supplySeed = flag.Int64("supply.seed", 0, "seed of TestSupplyProperty (0 = its fixed seed)")

// supplyOp is one generated transaction and what its success would mean.
type supplyOp struct {
	kind   string // transfer, mint, burn, pause, unpause
	tx     []byte
	asset  string // mint, burn
	amount uint64 // mint, burn
}

// supplyAllowed are the codes each kind of operation may get: the generator
// makes some of them invalid on purpose (double spends, caps, pauses,
// accounts without the permission, a frozen owner).
var supplyAllowed = map[string][]Code{
	"transfer": {CodeOK, CodeInputNotFound, CodeAccountFrozen, CodePaused, CodeNotPermitted},
	"mint":     {CodeOK, CodePaused, CodeNotPermitted, CodeCapExceeded, CodeAccountFrozen},
	"burn":     {CodeOK, CodeInputNotFound, CodeUnbalanced, CodePaused, CodeNotPermitted},
	"pause":    {CodeOK},
	"unpause":  {CodeOK, CodeInvalidAction},
	"freeze":   {CodeOK, CodeInvalidAction},
	"grant":    {CodeOK, CodeInvalidAction},
}

// Random transfers, mints, burns, pauses and unpauses, freezes and grants,
// a few hundred of them in blocks of up to eight. After every block: each asset's supply is
// the sum of its coins and what the successful mints and burns predict,
// every balance is the sum of its owner's coins, no issuer is beyond its
// cap, and a second ledger fed the same blocks has the same app hash.
// Rerun a failure with go test ./app -run TestSupplyProperty -supply.seed N.
func TestSupplyProperty(t *testing.T) {
	seed := int64(20251126)
	if *supplySeed != 0 {
		seed = *supplySeed
	}
	rng := rand.New(rand.NewSource(seed))
	f, g := newAccessFixture(t), newAccessFixture(t)
	supply := map[string]uint64{}
	for _, id := range f.assets {
		supply[id] = f.asset(t, id).Supply
	}
	spenders := []struct {
		account string
		keys    []string
	}{
		{"m1", []string{"m1"}}, {"m2", []string{"m2"}}, {"m3", []string{"m3"}}, {"iss", []string{"iss"}},
		{"iss2", []string{"iss2"}}, {"a1", []string{"a1"}}, {"b1", []string{"b1"}}, {"mk", []string{"mk1", "mk3"}},
		{"d1", []string{"d1"}},
	}
	approvers := [][]string{{"a1", "b1"}, {"a2", "c1"}, {"b1", "c1"}}
	stats := map[string]map[Code]int{}
	panicked := map[string]bool{}
	const blocks = 80
	total := 0
	for blk := 1; blk <= blocks; blk++ {
		next := f.height() + 1
		coins := map[string][]UTXOEntry{}
		for _, s := range spenders {
			coins[s.account] = f.utxos(t, s.account)
		}
		used := map[Outpoint]bool{}
		// pick returns up to n coins of owner (of asset, when not ""), now
		// and then one already spent earlier in the block.
		pick := func(owner, asset string, n int) []UTXOEntry {
			var out []UTXOEntry
			for _, i := range rng.Perm(len(coins[owner])) {
				c := coins[owner][i]
				if (asset != "" && c.Output.Asset != asset) || (used[c.Outpoint] && rng.Intn(10) != 0) {
					continue
				}
				out = append(out, c)
				if len(out) == n {
					break
				}
			}
			for _, c := range out {
				used[c.Outpoint] = true
			}
			return out
		}
		var ops []supplyOp
		for range 1 + rng.Intn(8) {
			var op supplyOp
			switch r := rng.Intn(22); {
			case r < 9:
				s := spenders[rng.Intn(len(spenders))]
				in := pick(s.account, "", 1+rng.Intn(3))
				if len(in) == 0 {
					continue
				}
				var inputs []Outpoint
				var assets []string
				sums := map[string]uint64{}
				for _, c := range in {
					inputs = append(inputs, c.Outpoint)
					if sums[c.Output.Asset] == 0 {
						assets = append(assets, c.Output.Asset)
					}
					sums[c.Output.Asset] += c.Output.Amount
				}
				to := f.accounts[rng.Intn(len(f.accounts))]
				var outputs []Output
				for _, a := range assets {
					amt := 1 + rng.Uint64()%sums[a]
					if to == s.account {
						amt = sums[a]
					}
					outputs = append(outputs, Output{to, a, amt})
					if amt < sums[a] {
						outputs = append(outputs, Output{s.account, a, sums[a] - amt})
					}
				}
				op = supplyOp{kind: "transfer", tx: f.sendTx(t, inputs, outputs, s.keys...)}
			case r < 12:
				signer := []string{"iss", "iss", "iss", "iss2", "m1"}[rng.Intn(5)]
				asset := f.assets[rng.Intn(len(f.assets))]
				amount := 1 + uint64(rng.Intn(300))
				if rng.Intn(10) == 0 {
					amount = map[string]uint64{"USD": 400_000, "GOLD": 600}[asset]
				}
				to := f.accounts[rng.Intn(len(f.accounts))]
				op = supplyOp{kind: "mint", tx: f.mintTx(t, to, asset, amount, signer), asset: asset, amount: amount}
			case r < 15:
				owner := []string{"iss", "iss", "iss2"}[rng.Intn(3)]
				asset := f.assets[rng.Intn(len(f.assets))]
				in := pick(owner, asset, 1+rng.Intn(2))
				if len(in) == 0 {
					continue
				}
				var inputs []Outpoint
				var sum uint64
				for _, c := range in {
					inputs, sum = append(inputs, c.Outpoint), sum+c.Output.Amount
				}
				amount := 1 + rng.Uint64()%sum
				if rng.Intn(10) == 0 {
					amount = sum + 1
				}
				op = supplyOp{kind: "burn", tx: f.burnTx(t, inputs, asset, amount, owner), asset: asset, amount: amount}
			case r < 16:
				p := &Pause{Asset: []string{"", "USD", "GOLD"}[rng.Intn(3)]}
				if rng.Intn(4) != 0 {
					p.Until = next + 1 + int64(rng.Intn(3))
				}
				op = supplyOp{kind: "pause", tx: f.gov(t, p, approvers[rng.Intn(len(approvers))]...)}
			case r < 20:
				u := &Unpause{Asset: []string{"", "USD", "GOLD"}[rng.Intn(3)]}
				op = supplyOp{kind: "unpause", tx: f.gov(t, u, approvers[rng.Intn(len(approvers))]...)}
			case r < 21: // freeze or unfreeze a member: its transfers get 18
				var a Action = &FreezeAccount{Name: []string{"m1", "m2"}[rng.Intn(2)]}
				if rng.Intn(2) == 0 {
					a = &UnfreezeAccount{Name: []string{"m1", "m2"}[rng.Intn(2)]}
				}
				op = supplyOp{kind: "freeze", tx: f.gov(t, a, approvers[rng.Intn(len(approvers))]...)}
			default: // grant m3 member for a few blocks, or revoke it: its transfers get 23
				var a Action = &GrantRole{Account: "m3", Role: "member", ExpiresAt: next + 1 + int64(rng.Intn(4))}
				if rng.Intn(3) == 0 {
					a = &RevokeRole{Account: "m3", Role: "member"}
				}
				op = supplyOp{kind: "grant", tx: f.gov(t, a, approvers[rng.Intn(len(approvers))]...)}
			}
			// A transaction that panics in Check would halt the chain in a
			// block: report it once and leave it out, so the invariants
			// are still checked for everything else.
			if code, log := f.checkCode(op.tx); code == codePanicked {
				if !panicked[op.kind] {
					t.Errorf("seed %d, block %d: a %s panics: %s", seed, blk, op.kind, log)
					panicked[op.kind] = true
				}
				continue
			}
			ops = append(ops, op)
		}
		txs := make([][]byte, len(ops))
		for i, op := range ops {
			txs[i] = op.tx
		}
		res, resG := f.execute(t, txs...), g.execute(t, txs...)
		total += len(ops)
		for i, r := range res.Txs {
			op := ops[i]
			if !containsCode(supplyAllowed[op.kind], r.Code) {
				t.Fatalf("seed %d, block %d, tx %d (%s): got code %d (%s), want one of %v", seed, blk, i, op.kind, r.Code, r.Log, supplyAllowed[op.kind])
			}
			if resG.Txs[i].Code != r.Code {
				t.Fatalf("seed %d, block %d, tx %d: second ledger got code %d, want %d", seed, blk, i, resG.Txs[i].Code, r.Code)
			}
			if stats[op.kind] == nil {
				stats[op.kind] = map[Code]int{}
			}
			stats[op.kind][r.Code]++
			if r.Code != CodeOK {
				continue
			}
			switch op.kind {
			case "mint":
				supply[op.asset] += op.amount
			case "burn":
				supply[op.asset] -= op.amount
			}
		}
		if !bytes.Equal(res.AppHash, resG.AppHash) {
			t.Fatalf("seed %d, block %d: app hash %X, second ledger %X", seed, blk, res.AppHash, resG.AppHash)
		}
		problems := f.ledgerProblems(t)
		for _, id := range f.assets {
			if got := f.asset(t, id).Supply; got != supply[id] {
				problems = append(problems, fmt.Sprintf("asset %s: supply %d, mints and burns predict %d", id, got, supply[id]))
			}
		}
		if len(problems) > 0 {
			t.Fatalf("seed %d: after block %d (%d operations so far; stats %v):\n%s", seed, blk, total, stats, strings.Join(problems, "\n"))
		}
	}
	for kind := range supplyAllowed {
		if stats[kind][CodeOK] == 0 {
			t.Errorf("seed %d: no %s succeeded in %d blocks, so the property says little about it (stats %v)", seed, kind, blocks, stats)
		}
	}
	t.Logf("seed %d: %d operations in %d blocks: %s", seed, total, blocks, fmt.Sprint(stats))
}

func containsCode(list []Code, c Code) bool {
	for _, x := range list {
		if x == c {
			return true
		}
	}
	return false
}
