package app

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// Benchmarks of the ledger alone, no consensus. They run only with -bench:
//
//	go test ./app -run '^$' -bench . -benchtime 20000x
//
// benchLedger is a committed ledger with accounts each holding coins of
// USD, and a queue of coins to spend: 1-input, 2-output ed25519 transfers
// that pay 1 unit to the next account and return the change, as
// `consort bench` sends them.
type benchLedger struct {
	store *Store
	app   *App
	keys  []testKey
	names []string
	coins []benchCoin // FIFO: spent from the front, change appended
}

type benchCoin struct {
	out    Outpoint
	owner  int
	amount uint64
}

func newBenchLedger(b *testing.B, accounts, coinsPerAccount int, cfg StoreConfig) *benchLedger {
	b.Helper()
	store, err := OpenStore(b.TempDir(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	l := &benchLedger{store: store, app: New(store)}
	g := Genesis{Assets: []GenesisAsset{{ID: "USD", Decimals: 2}}}
	for i := range accounts {
		name := fmt.Sprintf("bench-%d", i)
		k := newEdKey(name)
		l.keys, l.names = append(l.keys, k), append(l.names, name)
		g.Accounts = append(g.Accounts, GenesisAccount{Name: name, Organization: name, Roles: []string{"member"}, Keys: []GenesisKey{k.genesisKey(1)}})
	}
	gid := GenesisTxID(testChainID)
	// Interleaved owners, as the harness sends them: consecutive
	// transactions come from different accounts.
	for j := range coinsPerAccount {
		for i := range accounts {
			l.coins = append(l.coins, benchCoin{out: Outpoint{gid, uint32(len(g.UTXOs))}, owner: i, amount: 1_000_000})
			g.UTXOs = append(g.UTXOs, GenesisUTXO{Owner: l.names[i], Asset: "USD", Amount: "1000000"})
			_ = j
		}
	}
	appState, err := json.Marshal(g)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := l.app.InitChain(testChainID, 1, appState, nil); err != nil {
		b.Fatal(err)
	}
	if _, err := l.app.ExecuteBlock(1, nil); err != nil {
		b.Fatal(err)
	}
	if _, _, err := l.app.Commit(); err != nil {
		b.Fatal(err)
	}
	return l
}

// transfers signs the next n transfers; their change coins join the queue
// once the transaction is applied (see applied).
func (l *benchLedger) transfers(b *testing.B, n int) ([][]byte, []benchCoin) {
	b.Helper()
	if n > len(l.coins) {
		b.Fatalf("%d transfers asked, %d coins free", n, len(l.coins))
	}
	txs := make([][]byte, n)
	changes := make([]benchCoin, n)
	for i := range n {
		c := l.coins[i]
		to := (c.owner + 1) % len(l.names)
		body := body([]Outpoint{c.out}, Output{Owner: l.names[to], Asset: "USD", Amount: 1}, Output{Owner: l.names[c.owner], Asset: "USD", Amount: c.amount - 1})
		tx := &Tx{BodyBytes: EncodeBody(body)}
		tx.AddSignature(l.keys[c.owner].sign(b, tx.BodyBytes))
		txs[i] = tx.Encode()
		changes[i] = benchCoin{out: Outpoint{tx.ID(), 1}, owner: c.owner, amount: c.amount - 1}
	}
	l.coins = l.coins[n:]
	return txs, changes
}

// block executes and commits txs as the next block and checks that every
// transaction applied.
func (l *benchLedger) block(b *testing.B, txs [][]byte) {
	l.execute(b, txs)
	if _, _, err := l.app.Commit(); err != nil {
		b.Fatal(err)
	}
}

// execute executes txs as the next block and checks that every
// transaction applied.
func (l *benchLedger) execute(b *testing.B, txs [][]byte) {
	res, err := l.app.ExecuteBlock(l.store.WorkingVersion(), txs)
	if err != nil {
		b.Fatal(err)
	}
	for i, r := range res.Txs {
		if r.Code != CodeOK {
			b.Fatalf("tx %d: code %d: %s", i, r.Code, r.Log)
		}
	}
}

// blockSavedBeside is block, with the version saved to disk in a goroutine
// as a node does it (abci's Commit): the next block waits for the save.
func (l *benchLedger) blockSavedBeside(b *testing.B, txs [][]byte) {
	l.execute(b, txs)
	_, _, save, err := l.app.CommitDeferred()
	if err != nil {
		b.Fatal(err)
	}
	go save()
}

// BenchmarkDecodeTx decodes one signed transfer.
func BenchmarkDecodeTx(b *testing.B) {
	l := newBenchLedger(b, 2, 1, DefaultStoreConfig())
	txs, _ := l.transfers(b, 1)
	b.SetBytes(int64(len(txs[0])))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeTx(txs[0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyEd25519 verifies one transfer's signature.
func BenchmarkVerifyEd25519(b *testing.B) {
	l := newBenchLedger(b, 2, 1, DefaultStoreConfig())
	txs, _ := l.transfers(b, 1)
	tx, err := DecodeTx(txs[0])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := verifySignature(tx.Signatures[0], tx.BodyBytes); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheck is the mempool check of a transfer against committed
// state (100 accounts, 100,000 coins).
func BenchmarkCheck(b *testing.B) {
	l := newBenchLedger(b, 100, 1000, DefaultStoreConfig())
	txs, _ := l.transfers(b, min(b.N, len(l.coins)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := l.app.Check(txs[i%len(txs)], nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExecuteCommit is FinalizeBlock + Commit per transaction, in
// blocks of 1,000 transfers (100 accounts, 100,000 coins).
func BenchmarkExecuteCommit(b *testing.B) {
	l := newBenchLedger(b, 100, 1000, DefaultStoreConfig())
	const blockSize = 1000
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(blockSize, b.N-done)
		b.StopTimer()
		txs, changes := l.transfers(b, n)
		b.StartTimer()
		l.block(b, txs)
		b.StopTimer()
		l.applied(changes)
		b.StartTimer()
		done += n
	}
}

// applied queues the change coins of applied transfers.
func (l *benchLedger) applied(changes []benchCoin) { l.coins = append(l.coins, changes...) }

// BenchmarkPipeline is what a validator's ledger does per block, without
// consensus: CheckTx of every transfer as it arrives, then FinalizeBlock
// and Commit of full blocks of them, until the last block is saved to disk.
// It reports transfers/s (1 input, 2 outputs, ed25519) over 1,000 accounts
// and 200,000 coins.
//
// Each block's version is saved to disk beside the next block's checks, as
// a node does it. Every transfer is signed before the clock starts (signing
// is the client's work), so that nothing the ledger does, such as the save
// of a block, runs while the clock is stopped. A change coin is spent
// only after the 200,000 coins queued before it, so always in a later block
// than the transfer that made it.
func BenchmarkPipeline(b *testing.B) {
	for _, size := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("block=%d", size), func(b *testing.B) {
			l := newBenchLedger(b, 1000, 200, DefaultStoreConfig())
			var blocks [][][]byte
			for done := 0; done < b.N; {
				n := min(size, b.N-done)
				txs, changes := l.transfers(b, n)
				l.applied(changes)
				blocks = append(blocks, txs)
				done += n
			}
			b.ResetTimer()
			start := time.Now()
			for _, txs := range blocks {
				for _, tx := range txs {
					if _, err := l.app.Check(tx, nil); err != nil {
						b.Fatal(err)
					}
				}
				l.blockSavedBeside(b, txs)
			}
			if err := l.store.Saved(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "transfers/s")
		})
	}
}
