package client

import (
	"testing"

	"github.com/consort-ledger/consort/app"
)

func TestNewNonce(t *testing.T) {
	seen := map[uint64]bool{}
	for range 100 {
		n, err := NewNonce()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 || seen[n] {
			t.Fatalf("got nonce %d (zero or repeated)", n)
		}
		seen[n] = true
	}
}

// TestBuildActionRoundTrip: every body built here decodes as the ledger
// decodes it, and two builds of the same action differ (fresh nonce).
func TestBuildActionRoundTrip(t *testing.T) {
	actions := []app.Action{
		&app.GrantRole{Account: "bob", Role: "issuer", ExpiresAt: 50},
		&app.FreezeAccount{Name: "mallory"},
		&app.Pause{Until: 120},
		&app.Unpause{},
		&app.SetParams{Params: app.DefaultParams()},
		&app.RegisterAccount{Account: app.Account{Name: "carol", Organization: "bank-c", Keys: []app.AccountKey{testKey(1, 1)}, Threshold: 1}},
	}
	for _, a := range actions {
		b1, err := BuildAction("test-chain", "memo", a)
		if err != nil {
			t.Fatal(err)
		}
		b2, err := BuildAction("test-chain", "memo", a)
		if err != nil {
			t.Fatal(err)
		}
		tx1, err := app.DecodeTx((&app.Tx{BodyBytes: app.EncodeBody(b1), Body: *b1}).Encode())
		if err != nil {
			t.Fatalf("%T: %v", a, err)
		}
		if tx1.Body.Action == nil || tx1.Body.ChainID != "test-chain" || tx1.Body.Memo != "memo" || tx1.Body.Version != app.TxVersion {
			t.Errorf("%T: decoded body %+v", a, tx1.Body)
		}
		if b1.Nonce == b2.Nonce {
			t.Errorf("%T: two builds share nonce %d", a, b1.Nonce)
		}
	}
	if _, err := BuildAction("c", "", nil); err == nil {
		t.Error("BuildAction(nil): got no error")
	}
	if _, err := BuildMint("c", "", app.Mint{To: "bob", Asset: "USD"}); err == nil {
		t.Error("BuildMint of 0: got no error")
	}
}

func TestSignedWeightAndApproval(t *testing.T) {
	a, b, c := testKey(1, 1), testKey(2, 2), testKey(3, 1)
	acct := &app.Account{Name: "ops", Keys: []app.AccountKey{a, b}, Threshold: 3}
	sig := func(k app.AccountKey) app.Signature {
		return app.Signature{KeyType: k.KeyType, PublicKey: k.PublicKey, Signature: make([]byte, 64)}
	}
	tests := []struct {
		name string
		sigs []app.Signature
		want uint64
	}{
		{"none", nil, 0},
		{"stranger", []app.Signature{sig(c)}, 0},
		{"one", []app.Signature{sig(b)}, 2},
		{"both", []app.Signature{sig(a), sig(b), sig(c)}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx := &app.Tx{Signatures: tt.sigs}
			if got := SignedWeight(acct, tx); got != tt.want {
				t.Errorf("got weight %d, want %d", got, tt.want)
			}
			ap := Approval{Account: acct.Name, Weight: SignedWeight(acct, tx), Threshold: acct.Threshold}
			if got, want := ap.Complete(), tt.want >= 3; got != want {
				t.Errorf("Complete() = %v, want %v", got, want)
			}
		})
	}
	for th, want := range map[uint32]bool{0: true, 1: true, 2: false, 3: false} {
		if got := (&Approval{Organizations: th}).Complete(); got != want {
			t.Errorf("governance threshold %d: Complete() = %v, want %v", th, got, want)
		}
	}
}
