package faults

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/client"
)

// workloadWorkers send concurrently; each owns the accounts i with
// i%workloadWorkers == worker, so its own transfers never conflict by
// accident: every conflict in the run is a deliberate pair.
const workloadWorkers = 4

// conflictEvery: every so many operations a worker sends a conflicting pair.
const conflictEvery = 5

// runWorkload sends transfers until ctx ends, recording every one in h.
func runWorkload(ctx context.Context, c *cluster, seed uint64, h *history) {
	var wg sync.WaitGroup
	var pairMu sync.Mutex
	pairs := 0
	nextPair := func() int {
		pairMu.Lock()
		defer pairMu.Unlock()
		pairs++
		return pairs
	}
	for w := range workloadWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(1000+w)))
			var own []workAccount
			for i, a := range c.accounts {
				if i%workloadWorkers == w {
					own = append(own, a)
				}
			}
			for n := 0; ctx.Err() == nil; n++ {
				from := own[rng.IntN(len(own))]
				if n%conflictEvery == conflictEvery-1 {
					sendConflict(ctx, c, rng, w, nextPair(), from, h)
				} else {
					sendTransfer(ctx, c, rng, w, from, h)
				}
			}
		}()
	}
	wg.Wait()
}

// pickNode chooses a live validator, or any validator when none is live.
func pickNode(c *cluster, rng *rand.Rand) *proc {
	live := c.liveNodes()
	if len(live) == 0 {
		return c.nodes[rng.IntN(len(c.nodes))]
	}
	return live[rng.IntN(len(live))]
}

// sendTransfer pays a random account a small amount, through a random
// live node, and waits for the block.
func sendTransfer(ctx context.Context, c *cluster, rng *rand.Rand, worker int, from workAccount, h *history) {
	node := pickNode(c, rng)
	to := c.accounts[rng.IntN(len(c.accounts))].name
	amount := uint64(1 + rng.IntN(5000))
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	body, err := node.client.BuildTransfer(qctx, faultChainID, client.TransferRequest{From: from.name, To: to, Asset: "USD", Amount: amount})
	cancel()
	if err != nil {
		pause(ctx, 200*time.Millisecond) // the node is down or behind; try another
		return
	}
	broadcast(ctx, node, worker, "transfer", 0, body, from, h)
}

// sendConflict builds two transfers spending the same coin to different
// recipients and sends them at the same moment to two different nodes: at
// most one may ever commit.
func sendConflict(ctx context.Context, c *cluster, rng *rand.Rand, worker, pair int, from workAccount, h *history) {
	a := pickNode(c, rng)
	b := pickNode(c, rng)
	for range 4 {
		if b != a {
			break
		}
		b = pickNode(c, rng)
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	coins, _, err := a.client.UTXOs(qctx, from.name, "USD")
	cancel()
	if err != nil || len(coins) == 0 {
		pause(ctx, 200*time.Millisecond)
		return
	}
	coin := coins[rng.IntN(len(coins))]
	var bodies [2]*app.Body
	for i := range bodies {
		to := c.accounts[rng.IntN(len(c.accounts))].name
		bodies[i] = &app.Body{Version: app.TxVersion, ChainID: faultChainID, Memo: "conflict " + string(rune('a'+i)),
			Transfer: &app.Transfer{Inputs: []app.Outpoint{coin.Outpoint}, Outputs: []app.Output{{Owner: to, Asset: "USD", Amount: coin.Output.Amount}}}}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, node := range []*proc{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			broadcast(ctx, node, worker, "conflict", pair, bodies[i], from, h)
		}()
	}
	close(start)
	wg.Wait()
}

// broadcast signs body, sends it to node and waits for the block; the
// answer goes into the history.
func broadcast(ctx context.Context, node *proc, worker int, kind string, pair int, body *app.Body, from workAccount, h *history) {
	tx, err := client.Sign(ctx, body, from)
	if err != nil {
		return
	}
	rec := opRecord{Worker: worker, Kind: kind, Pair: pair, TxID: tx.ID().String(), From: from.name,
		Node: node.name, SentAt: time.Now().UTC().Format(time.RFC3339Nano)}
	for _, o := range body.Transfer.Outputs {
		if o.Owner != from.name || rec.To == "" {
			rec.To, rec.Amount = o.Owner, o.Amount
		}
	}
	for _, in := range body.Transfer.Inputs {
		rec.Inputs = append(rec.Inputs, in.String())
	}
	start := time.Now()
	// The client's own commit timeout (20s) ends the wait; this bounds a
	// frozen node's broadcast call as well.
	bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	cl := node.client
	if kind == "conflict" {
		cl = node.quick
	}
	res, err := cl.Broadcast(bctx, tx.Encode(), true)
	cancel()
	rec.Took = time.Since(start).Round(time.Millisecond).String()
	if res != nil {
		rec.Code, rec.Height, rec.Log = res.Code, res.Height, res.Log
	}
	if err != nil {
		rec.Err = err.Error()
	}
	rec.Acked = err == nil && res != nil && res.Code == 0 && res.Height > 0
	rec.Rejected = err == nil && res != nil && res.Code != 0
	h.add(rec)
	if err != nil {
		// A node that refuses at once (down, catching up) is not worth
		// asking again in a tight loop.
		pause(ctx, 300*time.Millisecond)
	}
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
