package bench

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/consort-ledger/consort/app"
)

func TestSummarize(t *testing.T) {
	var v []float64
	for i := 100; i >= 1; i-- {
		v = append(v, float64(i))
	}
	s := summarize(v)
	if s.N != 100 || s.Mean != 50.5 || s.P50 != 51 || s.P90 != 91 || s.P99 != 100 || s.Max != 100 {
		t.Fatalf("got %+v, want n 100, mean 50.5, p50 51, p90 91, p99 100, max 100", s)
	}
	if got := summarize(nil); got != (Stats{}) {
		t.Fatalf("empty: got %+v, want zero", got)
	}
}

// kvstore accepts key=value with exactly one '=', neither first nor last.
func TestKVStoreTransactions(t *testing.T) {
	w, err := NewKVStore(215)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 1000 {
		tx, _, err := w.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(tx) != 215 {
			t.Fatalf("got %d bytes, want 215", len(tx))
		}
		if bytes.Count(tx, []byte("=")) != 1 || tx[0] == '=' || tx[len(tx)-1] == '=' || bytes.Contains(tx, []byte(":")) {
			t.Fatalf("not a kvstore key=value: %q", tx)
		}
		key := string(tx[:bytes.IndexByte(tx, '=')])
		if seen[key] {
			t.Fatalf("key %s sent twice", key)
		}
		seen[key] = true
	}
	if _, err := NewKVStore(8); err == nil {
		t.Fatal("an 8-byte kvstore transaction was accepted")
	}
}

func testConsort(t *testing.T, accounts int, coins ...coin) *Consort {
	t.Helper()
	w := &Consort{chainID: "bench-test", asset: "USD", coins: make(chan coin, len(coins)+8)}
	for i := range accounts {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		w.accounts = append(w.accounts, benchAccount{name: "acct-" + string(rune('a'+i)), pub: pub, priv: priv})
	}
	for _, c := range coins {
		w.coins <- c
	}
	return w
}

// Each transfer spends one coin, pays 1 unit to another account and the
// change to its owner, signed by the owner; the change of a committed one
// is the owner's next coin, a refused one's coin comes back as it was.
func TestConsortTransfers(t *testing.T) {
	c0 := coin{outpoint: app.Outpoint{Index: 3}, owner: 1, amount: 100}
	w := testConsort(t, 3, c0)
	raw, token, err := w.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tx, err := app.DecodeTx(raw)
	if err != nil {
		t.Fatal(err)
	}
	tr := tx.Body.Transfer
	switch {
	case tx.Body.ChainID != "bench-test":
		t.Fatalf("chain id %q", tx.Body.ChainID)
	case len(tr.Inputs) != 1 || tr.Inputs[0] != c0.outpoint:
		t.Fatalf("inputs %v, want [%v]", tr.Inputs, c0.outpoint)
	case len(tr.Outputs) != 2 || tr.Outputs[0].Amount != 1 || tr.Outputs[0].Owner == w.accounts[1].name ||
		tr.Outputs[1] != (app.Output{Owner: w.accounts[1].name, Asset: "USD", Amount: 99}):
		t.Fatalf("outputs %+v, want 1 to another account and 99 back to %s", tr.Outputs, w.accounts[1].name)
	case len(tx.Signatures) != 1 || !ed25519.Verify(w.accounts[1].pub, tx.BodyBytes, tx.Signatures[0].Signature):
		t.Fatal("not signed by the coin's owner")
	}
	w.Outcome(token, Committed)
	next := <-w.coins
	if next.outpoint != (app.Outpoint{TxID: tx.ID(), Index: 1}) || next.owner != 1 || next.amount != 99 {
		t.Fatalf("change coin %+v, want output 1 of %s, owner 1, 99", next, tx.ID())
	}
	w.coins <- next
	_, token, _ = w.Next(context.Background())
	w.Outcome(token, Refused)
	if again := <-w.coins; again != next {
		t.Fatalf("refused coin came back as %+v, want %+v", again, next)
	}
	w.coins <- next
	_, token, _ = w.Next(context.Background())
	w.Outcome(token, Rejected)
	if len(w.coins) != 0 || w.LostCoins() != 1 {
		t.Fatalf("rejected: %d coins free, %d lost; want 0 and 1", len(w.coins), w.LostCoins())
	}
}

// Next waits for a coin and gives up with the context.
func TestConsortNextWaitsForCoins(t *testing.T) {
	w := testConsort(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := w.Next(ctx); err == nil {
		t.Fatal("Next returned a transaction with no coin free")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{Transport: "udp"}, {Broadcast: "commit"}, {Connections: -1}, {Rate: -5}, {Duration: 10}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v was accepted", c)
		}
	}
	c := Config{}
	if err := c.Validate(); err != nil || c.Connections != 8 || c.Transport != TransportHTTP || len(c.Nodes) != 1 {
		t.Fatalf("defaults: %v %+v", err, c)
	}
}

func TestRPCErrorKind(t *testing.T) {
	for msg, want := range map[string]string{
		"Internal error: mempool is full: number of txs 5000 (max: 5000)": "mempool is full",
		"Internal error: tx already exists in cache":                      "tx already exists in cache",
		"send: dial tcp: connection refused":                              "send",
	} {
		if got := rpcErrorKind(msg); got != want {
			t.Errorf("%q: got %q, want %q", msg, got, want)
		}
	}
	if got := rpcErrorKind(strings.Repeat("x", 100)); len(got) != 60 {
		t.Errorf("long message kept %d bytes, want 60", len(got))
	}
}
