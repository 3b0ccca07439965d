package client

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/consort-ledger/consort/app"
)

func TestDescribe(t *testing.T) {
	key := testKey(1, 2)
	keyText := FormatPublicKey(key.KeyType, key.PublicKey)
	decimals := func(asset string) (uint32, bool) { return 2, asset == "USD" }
	var id app.TxID
	tests := []struct {
		name string
		body app.Body
		want string
	}{
		{"transfer", app.Body{Transfer: &app.Transfer{Inputs: []app.Outpoint{{TxID: id}}, Outputs: []app.Output{{Owner: "bob", Asset: "USD", Amount: 250}, {Owner: "alice", Asset: "EUR", Amount: 7}}}},
			"spend 1 coin(s) to pay 2.50 USD to bob, pay 7 base units of EUR to alice"},
		{"mint", app.Body{Mint: &app.Mint{To: "alice", Asset: "USD", Amount: 1000}}, "mint 10.00 USD to alice"},
		{"burn", app.Body{Burn: &app.Burn{Inputs: []app.Outpoint{{TxID: id}, {TxID: id, Index: 1}}, Asset: "USD", Amount: 5}},
			"burn 0.05 USD, spending 2 coin(s) of its issuer (the rest comes back as change)"},
		{"register", app.Body{Action: &app.RegisterAccount{Account: app.Account{Name: "carol", Organization: "bank-c", Keys: []app.AccountKey{key}, Threshold: 2, Grants: []app.Grant{{Role: "issuer", ExpiresAt: 9}, {Role: "member"}}}}},
			"register account carol of organisation bank-c with 1 key(s) " + keyText + " (weight 2), threshold 2 and roles issuer (until height 9), member (no expiry)"},
		{"register without organisation", app.Body{Action: &app.RegisterAccount{Account: app.Account{Name: "carol", Keys: []app.AccountKey{key}, Threshold: 1}}},
			"register account carol of no organisation with 1 key(s) " + keyText + " (weight 2), threshold 1 and no roles"},
		{"set keys", app.Body{Action: &app.SetAccountKeys{Name: "bob", Keys: []app.AccountKey{key}, Threshold: 1}},
			"replace the keys of account bob with 1 key(s) " + keyText + " (weight 2), threshold 1"},
		{"freeze", app.Body{Action: &app.FreezeAccount{Name: "mallory"}}, "freeze account mallory"},
		{"unfreeze", app.Body{Action: &app.UnfreezeAccount{Name: "mallory"}}, "unfreeze account mallory"},
		{"grant", app.Body{Action: &app.GrantRole{Account: "bob", Role: "issuer"}}, "grant role issuer to bob (no expiry)"},
		{"grant until", app.Body{Action: &app.GrantRole{Account: "bob", Role: "issuer", ExpiresAt: 500}}, "grant role issuer to bob (until height 500)"},
		{"revoke", app.Body{Action: &app.RevokeRole{Account: "bob", Role: "issuer"}}, "revoke role issuer from bob"},
		{"revoke all", app.Body{Action: &app.RevokeAll{Account: "bob"}}, "revoke every role of bob"},
		{"set role", app.Body{Action: &app.SetRole{Name: "clerk", Permissions: []string{"transfer", "pause"}}}, "define role clerk with permissions transfer, pause"},
		{"set empty role", app.Body{Action: &app.SetRole{Name: "watcher"}}, "define role watcher with no permissions"},
		{"create asset", app.Body{Action: &app.CreateAsset{ID: "EUR", Decimals: 3, Issuers: []app.Issuer{{Account: "a", Cap: 1500}, {Account: "b", Cap: math.MaxUint64}}}},
			"create asset EUR with 3 decimals and issuers a (cap 1.500 EUR), b (cap unlimited)"},
		{"create asset without issuers", app.Body{Action: &app.CreateAsset{ID: "EUR"}}, "create asset EUR with 0 decimals and no issuers"},
		{"set issuer", app.Body{Action: &app.SetIssuer{Asset: "USD", Account: "bob", Cap: 100000}}, "make bob an issuer of USD with cap 1000.00 USD"},
		{"remove issuer", app.Body{Action: &app.SetIssuer{Asset: "USD", Account: "bob"}}, "remove bob as an issuer of USD"},
		{"set validator", app.Body{Action: &app.SetValidator{Name: "v2", PublicKey: bytes.Repeat([]byte{0}, 32), Power: 10, Operator: "bank-b"}},
			"set validator v2 (key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=) to voting power 10, operated by bank-b"},
		{"remove validator", app.Body{Action: &app.SetValidator{PublicKey: bytes.Repeat([]byte{0}, 32)}}, "remove validator (unnamed) (key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=)"},
		{"allow node", app.Body{Action: &app.AllowNode{NodeID: "ab"}}, "allow node ab to connect"},
		{"remove node", app.Body{Action: &app.RemoveNode{NodeID: "ab"}}, "remove node ab from the allowlist"},
		{"set params", app.Body{Action: &app.SetParams{Params: app.DefaultParams()}},
			"set params to max_tx_bytes 65536, max_inputs 256, max_outputs 256, max_signatures 32, max_memo_bytes 256, governance_threshold 1, min_validators 1"},
		{"pause", app.Body{Action: &app.Pause{Until: 120}}, "pause all assets until height 120"},
		{"pause asset", app.Body{Action: &app.Pause{Asset: "USD"}}, "pause asset USD until unpaused"},
		{"unpause", app.Body{Action: &app.Unpause{}}, "unpause all assets"},
		{"unpause asset", app.Body{Action: &app.Unpause{Asset: "USD"}}, "unpause asset USD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.body.ChainID = "c1"
			tx := &app.Tx{BodyBytes: app.EncodeBody(&tt.body), Body: tt.body}
			want := "on chain c1, " + tt.want + "; 0 signature(s) so far; txid " + tx.ID().String()
			if got := Describe(tx, decimals); got != want {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
	t.Run("memo and signatures", func(t *testing.T) {
		body := app.Body{ChainID: "c1", Memo: "ticket 7", Action: &app.FreezeAccount{Name: "x"}}
		tx := &app.Tx{BodyBytes: app.EncodeBody(&body), Body: body, Signatures: []app.Signature{{}, {}}}
		if got := Describe(tx, nil); !strings.Contains(got, `freeze account x; memo "ticket 7"; 2 signature(s) so far`) {
			t.Errorf("got %q", got)
		}
	})
}
