package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/client"
)

// TestWalletFlow is the classic wallet exercise on a real node: alice holds
// coins, sends 5.00 to bob, and both balances are exactly right.
func TestWalletFlow(t *testing.T) {
	n := startNode(t, []string{"alice", "bob"}, map[string]uint64{"alice": 10_000}) // 100.00 USD
	ctx := context.Background()

	res, err := n.client.Broadcast(ctx, n.transfer(t, chainID, "alice", "bob", 500), true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != 0 || res.Height == 0 {
		t.Fatalf("transfer: got code %d at height %d (%s), want code 0 in a block", res.Code, res.Height, res.Log)
	}
	if got, want := n.balance(t, "bob"), uint64(500); got != want {
		t.Errorf("bob: got %d, want %d", got, want)
	}
	if got, want := n.balance(t, "alice"), uint64(9_500); got != want {
		t.Errorf("alice: got %d, want %d", got, want)
	}
	id, _ := app.ParseTxID(res.TxID)
	found, err := n.client.FindTx(ctx, id)
	if err != nil || found.Height != res.Height {
		t.Errorf("find tx by txid: got %+v, %v; want height %d", found, err, res.Height)
	}
}

// TestDoubleSpendsAndReplays attacks one coin every way a client can over
// the RPC; exactly one payment may land.
func TestDoubleSpendsAndReplays(t *testing.T) {
	n := startNode(t, []string{"alice", "bob", "carol"}, map[string]uint64{"alice": 10_000})
	ctx := context.Background()

	// Two payments spending alice's one coin, submitted back to back: the
	// second must not enter the mempool, so no block can carry both.
	toBob := n.transfer(t, chainID, "alice", "bob", 10_000)
	toCarol := n.transfer(t, chainID, "alice", "carol", 10_000)
	first, err := n.client.Broadcast(ctx, toBob, false)
	if err != nil || first.Code != 0 {
		t.Fatalf("first spend: %+v, %v", first, err)
	}
	second, err := n.client.Broadcast(ctx, toCarol, false)
	if err != nil {
		t.Fatal(err)
	}
	if second.Code != uint32(app.CodeMempoolConflict) {
		t.Fatalf("second spend of one coin in the same block: got code %d (%s), want %d", second.Code, second.Log, app.CodeMempoolConflict)
	}
	waitFor(t, 15*time.Second, "first spend committed", func() bool { return n.balance(t, "bob") == 10_000 })

	// Across blocks: the coin is gone.
	res, err := n.client.Broadcast(ctx, toCarol, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != uint32(app.CodeInputNotFound) {
		t.Errorf("spend of a spent coin: got code %d (%s), want %d", res.Code, res.Log, app.CodeInputNotFound)
	}

	// Replay of the committed transaction, byte for byte: the node knows
	// these bytes and the client reports the block that committed them the
	// first time (the balances below show nothing moved twice).
	id, _ := app.ParseTxID(first.TxID)
	var committed *client.Result
	waitFor(t, 15*time.Second, "first spend indexed", func() bool { // indexing trails the commit
		committed, err = n.client.FindTx(ctx, id)
		return err == nil
	})
	replay, err := n.client.Broadcast(ctx, toBob, true)
	if err != nil || replay.Height != committed.Height {
		t.Errorf("replay: got %+v, %v; want the original commit at height %d", replay, err, committed.Height)
	}

	// The same payment signed for another chain.
	wrongChain := n.transfer(t, "other-chain", "bob", "carol", 10_000)
	res, err = n.client.Broadcast(ctx, wrongChain, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != uint32(app.CodeWrongChainID) {
		t.Errorf("tx for another chain: got code %d (%s), want %d", res.Code, res.Log, app.CodeWrongChainID)
	}

	// Let a few more blocks pass, then check nothing else moved.
	st, _ := n.client.Status(ctx)
	waitFor(t, 15*time.Second, "two more blocks", func() bool {
		now, err := n.client.Status(ctx)
		return err == nil && now.Height >= st.Height+2
	})
	for who, want := range map[string]uint64{"alice": 0, "bob": 10_000, "carol": 0} {
		if got := n.balance(t, who); got != want {
			t.Errorf("%s: got %d, want %d", who, got, want)
		}
	}
}
