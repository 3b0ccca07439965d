package app

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestValidateModuleList(t *testing.T) {
	have := func(n string) bool { return n == ModulePoW || n == ModuleSignature || n == ModulePolicy || n == "memo" }
	tests := []struct {
		list []string
		want string // substring of the error, "" = valid
	}{
		{[]string{"pow", "signature", "policy"}, ""},
		{[]string{"signature", "policy"}, ""},
		{[]string{"policy", "memo", "signature"}, ""},
		{[]string{"signature"}, "lacks policy"},
		{[]string{"policy", "pow"}, "lacks signature"},
		{[]string{"signature", "policy", "signature"}, "listed twice"},
		{[]string{"signature", "policy", "magic"}, `module "magic" is not built into this node`},
		{nil, "lacks signature"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.list, ","), func(t *testing.T) {
			err := validateModuleList(tc.list, have)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// memoModule is a module a consortium might add: every transaction must
// carry a memo (a payment reference).
type memoModule struct{}

const codeNoMemo Code = 100

var errNoMemo = newError(codeNoMemo, "memo required")

func (memoModule) Name() string  { return "memo" }
func (memoModule) Codes() []Code { return []Code{codeNoMemo} }
func (memoModule) Check(c *TxContext) error {
	if c.Tx.Body.Memo == "" {
		return rejectf(errNoMemo, "this chain needs a payment reference in the memo")
	}
	return nil
}

// moduleLedger is a ledger with alice (member, 1000 USD) under the given
// validation params, with the memo module built in.
func moduleLedger(t *testing.T, modules []string, powBits uint32) (*App, testKey) {
	t.Helper()
	store, err := OpenStore(t.TempDir(), DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	a := New(store, WithModule(memoModule{}))
	alice := newEdKey("modules-alice")
	g := Genesis{
		Params: &GenesisParams{Pow: &GenesisPow{DifficultyBits: powBits}},
		Assets: []GenesisAsset{{ID: "USD", Decimals: 2}},
		Accounts: []GenesisAccount{
			{Name: "alice", Roles: []string{"member"}, Keys: []GenesisKey{alice.genesisKey(1)}},
			{Name: "bob", Roles: []string{"member"}, Keys: []GenesisKey{newEdKey("modules-bob").genesisKey(1)}},
		},
		UTXOs: []GenesisUTXO{{Owner: "alice", Asset: "USD", Amount: "100000"}},
	}
	if modules != nil {
		g.Params.Validation = &GenesisValidation{Modules: modules}
	}
	b, _ := json.Marshal(g)
	if _, err := a.InitChain(testChainID, 1, b, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExecuteBlock(1, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	return a, alice
}

// payment is alice's 1000 USD coin paid to bob, with a memo and a nonce.
func payment(t *testing.T, alice testKey, memo string, nonce uint64, forge bool) []byte {
	t.Helper()
	b := body(ins(Outpoint{GenesisTxID(testChainID), 0}), Output{"bob", "USD", 100000})
	b.Memo = memo
	tx := &Tx{BodyBytes: EncodeBody(b)}
	sig := alice.sign(t, tx.BodyBytes)
	if forge {
		sig.Signature[0] ^= 1
	}
	tx.AddSignature(sig)
	tx.PowNonce = nonce
	return tx.Encode()
}

// mine finds a nonce whose stamp has bits leading zero bits.
func mine(t *testing.T, tx []byte, bits uint32) uint64 {
	t.Helper()
	id := decoded(t, tx).ID()
	for n := uint64(1); ; n++ {
		if PowZeroBits(id, n) >= bits {
			return n
		}
	}
}

func TestModulesRunInTheConfiguredOrder(t *testing.T) {
	tests := []struct {
		name       string
		modules    []string
		powBits    uint32
		memo       string
		forge      bool
		stamp      bool
		wantCode   Code
		wantModule string
	}{
		{"all pass", []string{"pow", "signature", "policy"}, 8, "ref", false, true, CodeOK, ""},
		{"pow first: an unstamped forgery fails pow", []string{"pow", "signature", "policy"}, 8, "ref", true, false, CodePoW, "pow"},
		{"signature first: the same forgery fails signature", []string{"signature", "pow", "policy"}, 8, "ref", true, false, CodeInvalidSignature, "signature"},
		{"pow off: no stamp needed", []string{"pow", "signature", "policy"}, 0, "", false, false, CodeOK, ""},
		{"pow off: a stamp anyway is refused", []string{"pow", "signature", "policy"}, 0, "", false, true, CodePoW, "pow"},
		{"pow not listed: difficulty is ignored", []string{"signature", "policy"}, 16, "", false, false, CodeOK, ""},
		{"custom module rejects", []string{"signature", "policy", "memo"}, 0, "", false, false, codeNoMemo, "memo"},
		{"custom module passes", []string{"signature", "policy", "memo"}, 0, "INV-42", false, false, CodeOK, ""},
		{"custom module before signature", []string{"memo", "signature", "policy"}, 0, "", true, false, codeNoMemo, "memo"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, alice := moduleLedger(t, tc.modules, tc.powBits)
			tx := payment(t, alice, tc.memo, 0, tc.forge)
			if tc.stamp {
				bits := tc.powBits
				if bits == 0 {
					bits = 1
				}
				tx = payment(t, alice, tc.memo, mine(t, tx, bits), tc.forge)
			}
			_, err := a.Check(tx, nil)
			if got := CodeOf(err); got != tc.wantCode {
				t.Fatalf("Check: got code %d (%v), want %d", got, err, tc.wantCode)
			}
			if got := ModuleOf(err); got != tc.wantModule {
				t.Fatalf("rejecting module: got %q, want %q", got, tc.wantModule)
			}
			res, err := a.ExecuteBlock(2, [][]byte{tx})
			if err != nil {
				t.Fatal(err)
			}
			if res.Txs[0].Code != tc.wantCode || res.Txs[0].Module != tc.wantModule {
				t.Fatalf("block: got code %d module %q (%s), want %d %q", res.Txs[0].Code, res.Txs[0].Module, res.Txs[0].Log, tc.wantCode, tc.wantModule)
			}
		})
	}
}

func TestPowDifficulty(t *testing.T) {
	for _, bits := range []uint32{0, 8, 16} {
		t.Run(fmt.Sprintf("%d bits", bits), func(t *testing.T) {
			a, alice := moduleLedger(t, nil, bits)
			unstamped := payment(t, alice, "", 0, false)
			_, err := a.Check(unstamped, nil)
			if bits == 0 && err != nil {
				t.Fatalf("difficulty 0, no stamp: got %v, want accepted", err)
			}
			if bits > 0 && CodeOf(err) != CodePoW {
				t.Fatalf("difficulty %d, no stamp: got %v, want code %d", bits, err, CodePoW)
			}
			if bits == 0 {
				return
			}
			nonce := mine(t, unstamped, bits)
			stamped := payment(t, alice, "", nonce, false)
			if PowZeroBits(decoded(t, stamped).ID(), nonce) < bits {
				t.Fatal("mined nonce does not meet the target")
			}
			res, err := a.ExecuteBlock(2, [][]byte{stamped})
			if err != nil || res.Txs[0].Code != CodeOK {
				t.Fatalf("difficulty %d with a mined stamp: got %+v, %v; want code 0", bits, res, err)
			}
		})
	}
}

func TestSetParamsChangesModulesForLaterTransactions(t *testing.T) {
	f := newFixture(t)
	if got := mustParams(t, f).Modules; strings.Join(got, ",") != "pow,signature,policy" {
		t.Fatalf("default modules: got %v", got)
	}
	// The fixture has no admins, so set params the way a chain upgrade
	// would: through genesis validation here, and through the set_params
	// checks for a bad list.
	p := mustParams(t, f)
	p.Modules = []string{"signature"}
	if _, _, err := (&SetParams{Params: p}).check(f.store.Committed(), &blockContext{height: 2, modules: f.app.modules}, p); CodeOf(err) != CodeInvalidAction {
		t.Fatalf("set_params without policy: got %v, want code %d", err, CodeInvalidAction)
	}
	p.Modules = []string{"signature", "policy", "ghost"}
	if _, _, err := (&SetParams{Params: p}).check(f.store.Committed(), &blockContext{height: 2, modules: f.app.modules}, p); CodeOf(err) != CodeInvalidAction {
		t.Fatalf("set_params naming an unknown module: got %v, want code %d", err, CodeInvalidAction)
	}
	p.Modules, p.PowDifficultyBits = []string{"pow", "signature", "policy"}, 40
	if _, _, err := (&SetParams{Params: p}).check(f.store.Committed(), &blockContext{height: 2, modules: f.app.modules}, p); CodeOf(err) != CodeInvalidAction {
		t.Fatalf("set_params with 40 pow bits: got %v, want code %d", err, CodeInvalidAction)
	}
}

func mustParams(t *testing.T, f *fixture) Params {
	t.Helper()
	p, err := LoadParams(f.store.Committed())
	if err != nil {
		t.Fatal(err)
	}
	return p
}
