package app

import "testing"

func TestStatsCountUTXOsAndAccounts(t *testing.T) {
	f := newFixture(t)
	want := func(utxos, accounts uint64) {
		t.Helper()
		s, err := LoadStats(f.store.Committed())
		if err != nil {
			t.Fatal(err)
		}
		if s.UTXOs != utxos || s.Accounts != accounts {
			t.Fatalf("stats: got %d utxos, %d accounts; want %d, %d", s.UTXOs, s.Accounts, utxos, accounts)
		}
	}
	want(6, 4) // the fixture's genesis
	// One input, two outputs: one more coin. A rejected tx changes nothing.
	pay := signTx(t, body(ins(f.coinAlice), Output{"bob", "USD", 500}, Output{"alice", "USD", 99500}), f.alice)
	bad := signTx(t, body(ins(f.coinBob), Output{"alice", "USD", 2000}), f.alice)
	f.commitBlock(pay, bad)
	want(7, 4)
	// Two inputs into one output.
	merge := signTx(t, body(ins(Outpoint{decoded(t, pay).ID(), 0}, f.coinBob), Output{"carol", "USD", 2500}), f.bob)
	if res := f.commitBlock(merge); res[0].Code != CodeOK {
		t.Fatalf("merge: got code %d (%s)", res[0].Code, res[0].Log)
	}
	want(6, 4)
	if res, err := f.app.Query("/stats", 0, true); err != nil || res.Proof == nil {
		t.Fatalf("/stats query: %+v, %v", res, err)
	}
}
