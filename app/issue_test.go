package app

import (
	"math"
	"slices"
	"testing"
)

func TestMint(t *testing.T) {
	f := newAccessFixture(t)
	usd := f.asset(t, "USD")

	res := f.runOne(t, f.mintTx(t, "m1", "USD", 500, "iss"), CodeOK)
	id := res.Txs[0].TxID
	if got, err := loadUTXO(f.store.Committed(), Outpoint{TxID: id, Index: 0}); err != nil || got == nil || *got != (Output{"m1", "USD", 500}) {
		t.Errorf("minted coin: got %+v (%v), want 500 USD of m1 at %s:0", got, err, id)
	}
	after := f.asset(t, "USD")
	if after.Supply != usd.Supply+500 || after.Issuers[0].Minted != 500 {
		t.Errorf("USD after mint: supply %d, iss minted %d; want %d and 500", after.Supply, after.Issuers[0].Minted, usd.Supply+500)
	}
	if got := f.balance(t, "m1", "USD"); got != 12500 {
		t.Errorf("m1 USD: got %d, want 12500", got)
	}
	ev := event(res.Txs[0].Events, "mint")
	if !slices.Equal(ev["issuer"], []string{"iss"}) || !slices.Equal(ev["recipient"], []string{"m1"}) || !slices.Equal(ev["amount"], []string{"500"}) {
		t.Errorf("mint event: got %v, want issuer iss, recipient m1, amount 500", ev)
	}
	// The minted coin is an ordinary coin.
	f.runOne(t, f.sendTx(t, ins(Outpoint{TxID: id}), []Output{{"m2", "USD", 500}}, "m1"), CodeOK)

	// GOLD: iss may have 1,000 outstanding; the cap counts what it minted.
	tests := []struct {
		name string
		tx   []byte
		want Code
	}{
		{"beyond the cap at once", f.mintTx(t, "m1", "GOLD", 1001, "iss"), CodeCapExceeded},
		{"overflowing the supply (a ledger rule, checked before the cap)", f.mintTx(t, "m1", "GOLD", math.MaxUint64, "iss"), CodeOverflow},
		{"up to the cap", f.mintTx(t, "m1", "GOLD", 1000, "iss"), CodeOK},
		{"one more", f.mintTx(t, "m2", "GOLD", 1, "iss"), CodeCapExceeded},
		{"another issuer's own cap", f.mintTx(t, "m2", "GOLD", 500, "iss2"), CodeOK},
		{"issuer role but not an issuer of USD", f.mintTx(t, "m1", "USD", 1, "iss2"), CodeNotPermitted},
		{"member", f.mintTx(t, "m1", "USD", 1, "m1"), CodeNotPermitted},
		{"admin", f.mintTx(t, "m1", "USD", 1, "a1"), CodeNotPermitted},
		{"two admins of two organisations", f.mintTx(t, "m1", "USD", 1, "a1", "b1"), CodeNotPermitted},
		{"key of no account", f.mintTx(t, "m1", "USD", 1, "stranger"), CodeUnexpectedSigner},
		{"nothing", f.mintTx(t, "m1", "USD", 0, "iss"), CodeZeroAmount},
		{"unknown asset", f.mintTx(t, "m1", "EUR", 1, "iss"), CodeUnknownAsset},
		{"unknown recipient", f.mintTx(t, "nobody", "USD", 1, "iss"), CodeUnknownAccount},
	}
	var txs [][]byte
	var want []Code
	for _, tc := range tests {
		txs, want = append(txs, tc.tx), append(want, tc.want)
	}
	res = f.execute(t, txs...)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := res.Txs[i].Code; got != tc.want {
				t.Errorf("got code %d (%s), want %d", got, res.Txs[i].Log, tc.want)
			}
		})
	}
	gold := f.asset(t, "GOLD")
	if want := []Issuer{{"iss", 1000, 1000}, {"iss2", 500, 500}}; !slices.Equal(gold.Issuers, want) {
		t.Errorf("GOLD issuers: got %+v, want %+v", gold.Issuers, want)
	}

	// Governance raises the cap; what was minted stays counted.
	f.runOne(t, f.gov(t, &SetIssuer{Asset: "GOLD", Account: "iss", Cap: 1200}, "a1", "b1"), CodeOK)
	f.run(t, [][]byte{f.mintTx(t, "m1", "GOLD", 200, "iss"), f.mintTx(t, "m1", "GOLD", 1, "iss")}, CodeOK, CodeCapExceeded)
	// Removed as an issuer, iss mints no more GOLD.
	f.runOne(t, f.gov(t, &SetIssuer{Asset: "GOLD", Account: "iss", Cap: 0}, "a1", "b1"), CodeOK)
	f.wantCheck(t, "removed issuer", f.mintTx(t, "m1", "GOLD", 1, "iss"), CodeNotPermitted)
	f.checkLedger(t)
}

func TestBurn(t *testing.T) {
	f := newAccessFixture(t)
	supply := f.asset(t, "USD").Supply

	// iss mints 1,000 first, so that the burn lowers what it has outstanding.
	f.runOne(t, f.mintTx(t, "iss", "USD", 1000, "iss"), CodeOK)
	res := f.runOne(t, f.burnTx(t, ins(f.coins["iss.usd"]), "USD", 1200, "iss"), CodeOK)
	id := res.Txs[0].TxID
	if got, err := loadUTXO(f.store.Committed(), Outpoint{TxID: id}); err != nil || got == nil || *got != (Output{"iss", "USD", 1800}) {
		t.Errorf("change of the burn: got %+v (%v), want 1800 USD of iss", got, err)
	}
	usd := f.asset(t, "USD")
	if usd.Supply != supply+1000-1200 || usd.Issuers[0].Minted != 0 {
		t.Errorf("USD: supply %d, iss minted %d; want %d and 0", usd.Supply, usd.Issuers[0].Minted, supply+1000-1200)
	}
	if got := f.balance(t, "iss", "USD"); got != 3000+800+1000-1200 {
		t.Errorf("iss USD: got %d, want %d", got, 3000+800+1000-1200)
	}
	if ev := event(res.Txs[0].Events, "burn"); !slices.Equal(ev["amount"], []string{"1200"}) {
		t.Errorf("burn event: got %v, want amount 1200", ev)
	}
	f.checkLedger(t)

	tests := []struct {
		name string
		tx   []byte
		want Code
	}{
		{"replay: the coin is spent", f.burnTx(t, ins(f.coins["iss.usd"]), "USD", 1200, "iss"), CodeInputNotFound},
		{"more than the inputs", f.burnTx(t, ins(f.coins["iss.usd2"]), "USD", 801, "iss"), CodeUnbalanced},
		{"inputs of another asset", f.burnTx(t, ins(f.coins["iss.gold"]), "USD", 10, "iss"), CodeUnbalanced},
		{"member burns its own coin", f.burnTx(t, ins(f.coins["m1.usd"]), "USD", 10, "m1"), CodeNotPermitted},
		{"second issuer of GOLD burns GOLD", f.burnTx(t, ins(f.coins["iss2.gold"]), "GOLD", 10, "iss2"), CodeOK},
		{"issuer burns a member's coin", f.burnTx(t, ins(f.coins["m1.usd"]), "USD", 10, "iss"), CodeThresholdNotMet},
		{"coins of two owners", f.burnTx(t, ins(f.coins["iss.usd2"], f.coins["m2.usd"]), "USD", 10, "iss", "m2"), CodeUnexpectedSigner},
		{"nothing", f.burnTx(t, ins(f.coins["iss.usd2"]), "USD", 0, "iss"), CodeZeroAmount},
		{"no inputs", f.burnTx(t, nil, "USD", 10, "iss"), CodeEmptyTransfer},
		{"all of it, no change", f.burnTx(t, ins(f.coins["iss.usd2"]), "USD", 800, "iss"), CodeOK},
	}
	var txs [][]byte
	for _, tc := range tests {
		f.wantCheck(t, tc.name, tc.tx, tc.want)
		txs = append(txs, tc.tx)
	}
	res = f.execute(t, txs...)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := res.Txs[i].Code; got != tc.want {
				t.Errorf("got code %d (%s), want %d", got, res.Txs[i].Log, tc.want)
			}
		})
	}
	if u, _ := loadUTXO(f.store.Committed(), Outpoint{TxID: res.Txs[len(tests)-1].TxID}); u != nil {
		t.Errorf("a burn of everything left change %+v", u)
	}
	f.checkLedger(t)
}

func TestPause(t *testing.T) {
	usdSend := func(f *accessFixture, t *testing.T) []byte {
		return f.sendTx(t, ins(f.coins["m2.usd"]), []Output{{"m1", "USD", 5000}}, "m2")
	}
	goldSend := func(f *accessFixture, t *testing.T) []byte {
		return f.sendTx(t, ins(f.coins["m2.gold"]), []Output{{"m1", "GOLD", 30}}, "m2")
	}
	// both spends USD and GOLD in one transfer.
	both := func(f *accessFixture, t *testing.T) []byte {
		return f.sendTx(t, ins(f.coins["m1.gold"], f.coins["m1.usd2"]), []Output{{"m2", "GOLD", 50}, {"m2", "USD", 2000}}, "m1")
	}

	t.Run("one asset", func(t *testing.T) {
		f := newAccessFixture(t)
		f.runOne(t, f.gov(t, &Pause{Asset: "USD"}, "a1", "b1"), CodeOK)
		tests := []struct {
			name string
			tx   []byte
			want Code
		}{
			{"USD transfer", usdSend(f, t), CodePaused},
			{"USD and GOLD in one transfer", both(f, t), CodePaused},
			{"USD mint", f.mintTx(t, "m1", "USD", 10, "iss"), CodePaused},
			{"USD burn", f.burnTx(t, ins(f.coins["iss.usd"]), "USD", 10, "iss"), CodePaused},
			{"GOLD transfer", goldSend(f, t), CodeOK},
			{"GOLD mint", f.mintTx(t, "m1", "GOLD", 10, "iss"), CodeOK},
			{"governance goes on", f.gov(t, &GrantRole{Account: "m3", Role: "member"}, "a1", "b1"), CodeOK},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) { f.wantCheck(t, tc.name, tc.tx, tc.want) })
		}
		f.checkLedger(t)
		f.wantCheck(t, "unpause of what is not paused", f.gov(t, &Unpause{Asset: "GOLD"}, "a1", "b1"), CodeInvalidAction)
		f.runOne(t, f.gov(t, &Unpause{Asset: "USD"}, "a1", "b1"), CodeOK)
		f.run(t, [][]byte{usdSend(f, t), f.mintTx(t, "m1", "USD", 10, "iss")}, CodeOK, CodeOK)
		f.checkLedger(t)
	})

	t.Run("everything", func(t *testing.T) {
		f := newAccessFixture(t)
		f.runOne(t, f.gov(t, &Pause{}, "a1", "b1"), CodeOK)
		f.wantCheck(t, "GOLD burn", f.burnTx(t, ins(f.coins["iss.gold"]), "GOLD", 10, "iss"), CodePaused)
		f.run(t, [][]byte{
			usdSend(f, t), goldSend(f, t), f.mintTx(t, "m1", "GOLD", 10, "iss"),
			f.gov(t, &FreezeAccount{Name: "m3"}, "a1", "b1"),
			f.gov(t, &Unpause{Asset: "USD"}, "a1", "b1"), // no USD pause to lift
		}, CodePaused, CodePaused, CodePaused, CodeOK, CodeInvalidAction)
		// A per-asset unpause does not lift the global pause.
		f.runOne(t, f.gov(t, &Pause{Asset: "USD"}, "a1", "b1"), CodeOK)
		f.runOne(t, f.gov(t, &Unpause{Asset: "USD"}, "a1", "b1"), CodeOK)
		f.wantCheck(t, "global pause after a per-asset unpause", usdSend(f, t), CodePaused)
		f.runOne(t, f.gov(t, &Unpause{}, "a1", "b1"), CodeOK)
		f.run(t, [][]byte{usdSend(f, t), goldSend(f, t)}, CodeOK, CodeOK)
		f.checkLedger(t)
	})

	t.Run("until a height", func(t *testing.T) {
		f := newAccessFixture(t)
		until := f.height() + 4 // the pause is in block h+1 and lasts through h+3
		f.runOne(t, f.gov(t, &Pause{Asset: "USD", Until: until}, "a1", "b1"), CodeOK)
		f.runOne(t, f.mintTx(t, "m1", "USD", 10, "iss"), CodePaused)
		f.wantCheck(t, "last paused height", usdSend(f, t), CodePaused)
		f.runOne(t, usdSend(f, t), CodePaused)
		if f.height()+1 != until {
			t.Fatalf("test is off: next height %d, want %d", f.height()+1, until)
		}
		f.wantCheck(t, "at the until height", usdSend(f, t), CodeOK)
		f.runOne(t, usdSend(f, t), CodeOK)
		f.checkLedger(t)
	})

	t.Run("refused", func(t *testing.T) {
		f := newAccessFixture(t)
		next := f.height() + 1
		f.wantCheck(t, "until the next height", f.gov(t, &Pause{Asset: "USD", Until: next}, "a1", "b1"), CodeInvalidAction)
		f.wantCheck(t, "until a past height", f.gov(t, &Pause{Until: next - 1}, "a1", "b1"), CodeInvalidAction)
		f.wantCheck(t, "negative until", f.gov(t, &Pause{Until: -5}, "a1", "b1"), CodeInvalidAction)
		f.wantCheck(t, "unknown asset", f.gov(t, &Pause{Asset: "EUR"}, "a1", "b1"), CodeUnknownAsset)
		f.wantCheck(t, "one organisation", f.gov(t, &Pause{}, "a1", "a2"), CodeNotApproved)
		f.wantCheck(t, "issuer pauses its asset", f.gov(t, &Pause{Asset: "USD"}, "iss", "iss2"), CodeNotApproved)
		f.wantCheck(t, "nothing to unpause", f.gov(t, &Unpause{}, "a1", "b1"), CodeInvalidAction)
	})
}
