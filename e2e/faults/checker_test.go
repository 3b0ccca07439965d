package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sync"
	"time"

	rpcclient "github.com/cometbft/cometbft/rpc/client"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/consort-ledger/consort/app"
)

// checkReport is what the checker verified, for the log and the docs.
type checkReport struct {
	Heights      int64 // common heights compared on every node
	Sent         int   // transactions the workload sent
	Acked        int   // acknowledged as committed, each found on every node
	Rejected     int   // refused with a code (CheckTx or block)
	Unknown      int   // no answer (timeout, node down): may or may not have committed
	CommittedTxs int   // code-0 transactions in the chain
	Pairs        int   // conflicting pairs sent
	PairsOneWon  int   // pairs of which exactly one committed
	Audited      int   // homes `consort audit` found clean
}

// checker verifies the invariants after a run; every failed one is a
// violation string.
type checker struct {
	c          *cluster
	ops        []opRecord
	violations []string
	rep        checkReport
}

func (k *checker) fail(format string, args ...any) {
	k.violations = append(k.violations, fmt.Sprintf(format, args...))
}

// settle brings every validator back (thawed, healed, restarted) and waits
// until all of them are at one height; it returns that height.
func (k *checker) settle() int64 {
	c := k.c
	if c.lab != nil {
		_ = c.lab.heal()
	}
	for _, p := range c.nodes {
		if !p.running() {
			p.start()
		}
		p.thaw()
	}
	target := maxHeight(c.nodes) + 2
	if err := c.awaitHeights(c.nodes, target, catchUpTimeout); err != nil {
		k.fail("restarted nodes did not catch up: %v", err)
		return 0
	}
	return target
}

// run checks everything on the live network at height top, then stops it
// and audits every home.
func (k *checker) run(top int64) {
	k.rep.Heights = top
	for _, op := range k.ops {
		k.rep.Sent++
		switch {
		case op.Acked:
			k.rep.Acked++
		case op.Rejected:
			k.rep.Rejected++
		default:
			k.rep.Unknown++
		}
	}
	k.sameChain(top)
	committed := k.noDoubleSpend(top)
	k.ackedOnEveryNode(committed)
	k.conflictPairs(committed)
	k.supplyConserved(top)
	k.c.stopAll()
	k.auditHomes()
}

// sameChain: every node has the same block (so the same header app hash and
// results) at every height, and each app's committed hash is the one the
// next header carries.
func (k *checker) sameChain(top int64) {
	ctx := context.Background()
	ref := k.c.nodes[0]
	for h := int64(1); h <= top; h++ {
		var want string
		for i, p := range k.c.nodes {
			hh := h
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			b, err := p.client.RPC().Block(cctx, &hh)
			cancel()
			if err != nil {
				k.fail("%s: block %d: %v", p.name, h, err)
				return
			}
			got := fmt.Sprintf("block %s app hash %s", b.BlockID.Hash, b.Block.AppHash)
			if i == 0 {
				want = got
			} else if got != want {
				k.fail("fork at height %d: %s has %s, %s has %s", h, p.name, got, ref.name, want)
			}
		}
	}
	for _, p := range k.c.nodes {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		info, err := p.client.RPC().ABCIInfo(cctx)
		cancel()
		if err != nil {
			k.fail("%s: abci_info: %v", p.name, err)
			continue
		}
		h := info.Response.LastBlockHeight
		if err := k.c.awaitHeights([]*proc{ref}, h+1, progressTimeout); err != nil {
			k.fail("%v", err)
			continue
		}
		next := h + 1
		cctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		b, err := ref.client.RPC().Block(cctx, &next)
		cancel()
		if err != nil {
			k.fail("%s: block %d: %v", ref.name, next, err)
			continue
		}
		if got, want := fmt.Sprintf("%X", info.Response.LastBlockAppHash), b.Block.AppHash.String(); got != want {
			k.fail("%s: app hash after block %d is %s, but block %d's header says %s", p.name, h, got, next, want)
		}
	}
}

// txPlace is where a transaction committed.
type txPlace struct {
	height int64
	code   uint32
}

// noDoubleSpend walks the chain and returns every transaction's place;
// no coin may be an input of two code-0 transactions.
func (k *checker) noDoubleSpend(top int64) map[string]txPlace {
	ctx := context.Background()
	rpc := k.c.nodes[0].client.RPC()
	spentBy := map[app.Outpoint]string{}
	placed := map[string]txPlace{}
	for h := int64(1); h <= top; h++ {
		hh := h
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		b, err := rpc.Block(cctx, &hh)
		var res *rpcResults
		if err == nil {
			res, err = blockResults(cctx, rpc, h)
		}
		cancel()
		if err != nil {
			k.fail("block %d: %v", h, err)
			return placed
		}
		k.evidenceExpected(h, b.Block.Evidence.Evidence)
		for i, raw := range b.Block.Txs {
			tx, err := app.DecodeTx(raw)
			if err != nil {
				k.fail("block %d tx %d does not decode: %v", h, i, err)
				continue
			}
			id := tx.ID().String()
			code := res.codes[i]
			if prev, dup := placed[id]; dup && prev.code == 0 && code == 0 {
				k.fail("tx %s committed with code 0 twice: heights %d and %d", id, prev.height, h)
			}
			if _, dup := placed[id]; !dup || code == 0 {
				placed[id] = txPlace{height: h, code: code}
			}
			if code != 0 {
				continue
			}
			k.rep.CommittedTxs++
			for _, in := range tx.Body.Spends() {
				if other, ok := spentBy[in]; ok {
					k.fail("coin %s spent twice: by %s and by %s (height %d)", in, other, id, h)
				}
				spentBy[in] = id
			}
		}
	}
	return placed
}

// evidenceExpected: the only misbehaviour a run may see committed is node3
// double-signing, once its Byzantine twin ran. Evidence against any other
// validator (the Vault one, say, after its Vault came back) is a double
// sign the signers should have refused.
func (k *checker) evidenceExpected(h int64, evs cmttypes.EvidenceList) {
	for _, ev := range evs {
		dve, ok := ev.(*cmttypes.DuplicateVoteEvidence)
		switch {
		case !ok:
			k.fail("block %d carries unexpected evidence: %s", h, ev)
		case k.c.twin == nil || dve.VoteA.ValidatorAddress.String() != k.c.valAddrs["node3"]:
			k.fail("block %d carries duplicate-vote evidence against %s (not node3 with its twin): %s", h, dve.VoteA.ValidatorAddress, ev)
		}
	}
}

type rpcResults struct{ codes []uint32 }

func blockResults(ctx context.Context, rpc rpcclient.Client, h int64) (*rpcResults, error) {
	res, err := rpc.BlockResults(ctx, &h)
	if err != nil {
		return nil, err
	}
	out := &rpcResults{}
	for _, r := range res.TxsResults {
		out.codes = append(out.codes, r.Code)
	}
	return out, nil
}

// ackedOnEveryNode: each transaction a node acknowledged as committed is
// committed, with code 0, at the height it said, and every node finds it.
func (k *checker) ackedOnEveryNode(placed map[string]txPlace) {
	for _, op := range k.ops {
		if !op.Acked {
			continue
		}
		if got, ok := placed[op.TxID]; !ok || got.code != 0 || got.height != op.Height {
			k.fail("acknowledged tx %s (sent to %s, acked at height %d) is %+v in the chain (found %v)", op.TxID, op.Node, op.Height, got, ok)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, p := range k.c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, op := range k.ops {
				if !op.Acked {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				res, err := p.client.RPC().TxSearch(ctx, fmt.Sprintf("consort.txid='%s'", op.TxID), false, nil, nil, "asc")
				cancel()
				found := err == nil && len(res.Txs) == 1 && res.Txs[0].TxResult.Code == 0 && res.Txs[0].Height == op.Height
				var inBlock bool
				var berr error
				if !found {
					inBlock, berr = blockHolds(p, op.Height, op.TxID)
				}
				mu.Lock()
				switch {
				case found:
				case berr != nil:
					k.fail("%s: acknowledged tx %s: tx_search (%v) and block %d (%v) both failed", p.name, op.TxID, err, op.Height, berr)
				case !inBlock:
					k.fail("%s: acknowledged tx %s is not in its block %d on this node", p.name, op.TxID, op.Height)
				case err != nil || len(res.Txs) == 0:
					// In the node's chain, missing from its tx index only.
					// CometBFT indexes after the commit, so a node killed in
					// between misses that block; every start re-indexes the
					// recent heights before serving RPC, so none may remain
					// (see docs/reliability.md).
					k.fail("%s: acknowledged tx %s is in its block %d but tx_search does not find it (%v): an index gap", p.name, op.TxID, op.Height, err)
				default:
					k.fail("%s: acknowledged tx %s: tx_search finds it %d times, first at height %d with code %d; want once, at %d with code 0", p.name, op.TxID, len(res.Txs), res.Txs[0].Height, res.Txs[0].TxResult.Code, op.Height)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// blockHolds reports whether p's block at height h carries txid.
func blockHolds(p *proc, h int64, txid string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := p.client.RPC().Block(ctx, &h)
	if err != nil {
		return false, err
	}
	for _, raw := range b.Block.Txs {
		if tx, err := app.DecodeTx(raw); err == nil && tx.ID().String() == txid {
			return true, nil
		}
	}
	return false, nil
}

// conflictPairs: of two transactions spending one coin, at most one commits.
func (k *checker) conflictPairs(placed map[string]txPlace) {
	won := map[int]int{}
	for _, op := range k.ops {
		if op.Kind != "conflict" {
			continue
		}
		if _, seen := won[op.Pair]; !seen {
			won[op.Pair] = 0
		}
		if p, ok := placed[op.TxID]; ok && p.code == 0 {
			won[op.Pair]++
		}
	}
	for pair, n := range won {
		k.rep.Pairs++
		if n > 1 {
			k.fail("conflicting pair %d: both transactions committed", pair)
		}
		if n == 1 {
			k.rep.PairsOneWon++
		}
	}
}

// supplyConserved: on every node, the USD balances of all accounts (at the
// latest height) add up to the genesis supply, which is also the asset's
// recorded supply at height top (the workload neither mints nor burns).
func (k *checker) supplyConserved(top int64) {
	names := []string{"admin0", "admin1", "admin2", "admin3"}
	for _, a := range k.c.accounts {
		names = append(names, a.name)
	}
	for _, p := range k.c.nodes {
		var sum uint64
		ok := true
		query := func(path string, height int64) []byte {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := p.client.RPC().ABCIQueryWithOptions(ctx, path, nil, rpcclient.ABCIQueryOptions{Height: height})
			if err != nil || (res.Response.Code != 0 && res.Response.Code != uint32(app.CodeNotFound)) {
				k.fail("%s: query %s at height %d: %v %v", p.name, path, top, err, res)
				ok = false
				return nil
			}
			return res.Response.Value
		}
		for _, n := range names {
			// Balances are answered for the latest height only; the
			// workload has stopped, so they no longer change after top.
			if v := query("/balance/"+n+"/USD", 0); v != nil {
				b, err := app.DecodeBalance(v)
				if err != nil {
					k.fail("%s: balance of %s: %v", p.name, n, err)
				}
				sum += b
			}
		}
		var supply uint64
		if v := query("/asset/USD", top); v != nil {
			a, err := app.DecodeAsset(v)
			if err != nil {
				k.fail("%s: asset USD: %v", p.name, err)
			} else {
				supply = a.Supply
			}
		}
		if ok && (sum != k.c.supply || supply != k.c.supply) {
			k.fail("%s at height %d: balances add up to %d, recorded supply %d, want both %d (genesis)", p.name, top, sum, supply, k.c.supply)
		}
	}
}

// auditHomes runs `consort audit --home` on every stopped validator.
func (k *checker) auditHomes() {
	for _, p := range k.c.nodes {
		out, err := exec.Command(k.c.bin, "audit", "--home", p.home, "--output", "json").Output()
		var rep auditReport
		if jerr := json.Unmarshal(out, &rep); jerr != nil {
			k.fail("%s: audit output is not a report (%v, exit %v): %.500s", p.name, jerr, err, out)
			continue
		}
		if err != nil || len(rep.Findings) > 0 {
			k.fail("%s: audit --home (exit %v) found %d findings: %+v", p.name, err, len(rep.Findings), rep.Findings)
			continue
		}
		k.rep.Audited++
	}
}
