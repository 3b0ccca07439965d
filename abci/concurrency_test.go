package abci

import (
	"context"
	"sync"
	"testing"

	cmtabci "github.com/cometbft/cometbft/abci/types"

	"github.com/consort-ledger/consort/app"
)

// consensus.NewNode gives each ABCI connection its own lock, so CheckTx and
// Query run while blocks execute and commit. This runs them side by side
// (go test -race catches a shared write) and checks that every answer is
// one a serial order would give.
func TestCheckTxAndQueryDuringBlocks(t *testing.T) {
	c := newTestChain(t)
	const blocks = 40
	// The block path: alice pays herself her whole coin, each block
	// spending the output of the one before; no balance changes.
	coin, amount := c.coins[0], uint64(100000)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// The mempool path: bob's coin is checked again and again; it is never
	// spent, so every check must pass.
	bobPays := c.transfer("", ins(c.coins[2]), outs(usd("alice", 2000)), c.bob)
	errs := make(chan string, 100)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, err := c.app.CheckTx(context.Background(), &cmtabci.RequestCheckTx{Tx: bobPays, Type: cmtabci.CheckTxType_Recheck})
			if err != nil || res.Code != 0 {
				errs <- "CheckTx of an unspent coin: " + res.GetLog()
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, err := c.app.Query(context.Background(), &cmtabci.RequestQuery{Path: "/balance/bob/USD"})
			if err != nil || res.Code != 0 {
				errs <- "query bob's balance: " + res.GetLog()
				return
			}
			if b, err := app.DecodeBalance(res.Value); err != nil || b != 2000 {
				errs <- "bob's balance changed"
				return
			}
		}
	}()
	for range blocks {
		tx := c.transfer("", ins(coin), outs(usd("alice", amount)), c.alice)
		if res := c.block(tx); res.TxResults[0].Code != 0 {
			t.Fatalf("block %d: code %d: %s", c.height, res.TxResults[0].Code, res.TxResults[0].Log)
		}
		coin = app.Outpoint{TxID: txID(t, tx)}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
