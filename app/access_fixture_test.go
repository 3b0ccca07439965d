package app

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
)

// The access-control fixture: a consortium of four organisations with a
// governance threshold of 2, an issuer with capped assets, members and five
// genesis validators.
//
//	a1, a2  admin   bank-a        b1 admin bank-b      c1 admin bank-c
//	d1      admin   bank-d, frozen right after genesis
//	iss     issuer  bank-a: USD cap 1,000,000, GOLD cap 1,000
//	iss2    issuer  bank-b: GOLD cap 500 (listed for GOLD only)
//	m1      member  bank-b        m2 member bank-c
//	m3      no role bank-c (for grants)
//	mk      member  bank-c, 2 of 3 keys (mk1, mk2, mk3)
//	v1..v5  validators, power 20 each; min_validators 4
//
// Every key is an ed25519 key derived from a fixed secret, so transactions
// are the same bytes on every run. Keys named in accessKeyNames but not in
// genesis (stranger, newbie, *new) belong to no account.
type accessFixture struct {
	store    *Store
	app      *App
	keys     map[string]testKey // by key name; a one-key account's key has its name
	vals     map[string]cmted25519.PrivKey
	coins    map[string]Outpoint // genesis coins by name, e.g. "m1.usd"
	accounts []string            // every account the invariants look at
	assets   []string
	nonce    uint64
}

const (
	// accessNode is the p2p node id on the genesis allowlist.
	accessNode = "0123456789abcdef0123456789abcdef01234567"
	// codePanicked marks a transaction whose check panicked; no real code
	// has this value.
	codePanicked Code = 1000
)

var accessKeyNames = []string{
	"a1", "a2", "b1", "c1", "d1", "iss", "iss2", "m1", "m2", "m3", "mk1", "mk2", "mk3",
	"stranger", "newbie", "m1new", "m2new", "b1new", "mknew",
}

// accessCoins are the genesis coins, in genesis order.
var accessCoins = []struct {
	name, owner, asset string
	amount             uint64
}{
	{"m1.usd", "m1", "USD", 10000}, {"m1.usd2", "m1", "USD", 2000}, {"m1.gold", "m1", "GOLD", 50},
	{"m2.usd", "m2", "USD", 5000}, {"m2.gold", "m2", "GOLD", 30},
	{"iss.usd", "iss", "USD", 3000}, {"iss.usd2", "iss", "USD", 800}, {"iss.gold", "iss", "GOLD", 100},
	{"iss2.gold", "iss2", "GOLD", 40}, {"m3.usd", "m3", "USD", 700}, {"mk.usd", "mk", "USD", 900},
	{"b1.usd", "b1", "USD", 400}, {"d1.usd", "d1", "USD", 100}, {"a1.usd", "a1", "USD", 1000},
}

func newAccessFixture(t testing.TB) *accessFixture {
	t.Helper()
	f := &accessFixture{keys: map[string]testKey{}, vals: map[string]cmted25519.PrivKey{}, coins: map[string]Outpoint{},
		assets: []string{"USD", "GOLD"}}
	for _, name := range accessKeyNames {
		f.keys[name] = newEdKey("access-" + name)
	}
	for i := 1; i <= 9; i++ {
		name := fmt.Sprintf("v%d", i)
		f.vals[name] = cmted25519.GenPrivKeyFromSecret([]byte("access-validator-" + name))
	}
	store, err := OpenStore(t.TempDir(), DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f.store, f.app = store, New(store)

	one := func(name, org string, roles ...string) GenesisAccount {
		return GenesisAccount{Name: name, Organization: org, Roles: roles, Keys: []GenesisKey{f.keys[name].genesisKey(1)}}
	}
	g := Genesis{
		Params: &GenesisParams{GovernanceThreshold: 2, MinValidators: 4},
		Assets: []GenesisAsset{
			{ID: "USD", Decimals: 2, Issuers: []GenesisIssuer{{Account: "iss", Cap: "1000000"}}},
			{ID: "GOLD", Decimals: 0, Issuers: []GenesisIssuer{{Account: "iss", Cap: "1000"}, {Account: "iss2", Cap: "500"}}},
		},
		Accounts: []GenesisAccount{
			one("a1", "bank-a", "admin"), one("a2", "bank-a", "admin"), one("b1", "bank-b", "admin"),
			one("c1", "bank-c", "admin"), one("d1", "bank-d", "admin"),
			one("iss", "bank-a", "issuer"), one("iss2", "bank-b", "issuer"),
			one("m1", "bank-b", "member"), one("m2", "bank-c", "member"), one("m3", "bank-c"),
			{Name: "mk", Organization: "bank-c", Roles: []string{"member"}, Threshold: 2,
				Keys: []GenesisKey{f.keys["mk1"].genesisKey(1), f.keys["mk2"].genesisKey(1), f.keys["mk3"].genesisKey(1)}},
		},
		Nodes: []string{accessNode},
	}
	for _, a := range g.Accounts {
		f.accounts = append(f.accounts, a.Name)
	}
	for _, c := range accessCoins {
		g.UTXOs = append(g.UTXOs, GenesisUTXO{Owner: c.owner, Asset: c.asset, Amount: fmt.Sprint(c.amount)})
	}
	var vals []InitialValidator
	for i := 1; i <= 5; i++ {
		name := fmt.Sprintf("v%d", i)
		pub := f.valKey(name)
		vals = append(vals, InitialValidator{KeyType: "ed25519", PublicKey: pub, Power: 20})
		g.Validators = append(g.Validators, GenesisValidator{Name: name, PublicKey: base64.StdEncoding.EncodeToString(pub), Operator: "a1"})
	}
	appState, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.InitChain(testChainID, 1, appState, vals); err != nil {
		t.Fatalf("init chain: %v", err)
	}
	// Freeze d1 directly: a frozen admin from the start.
	d1, err := loadAccount(store.Working(), "d1")
	if err != nil || d1 == nil {
		t.Fatalf("load d1: %v", err)
	}
	d1.Status = StatusFrozen
	if err := saveAccount(store.Working(), d1); err != nil {
		t.Fatal(err)
	}
	f.execute(t)
	gid := GenesisTxID(testChainID)
	for i, c := range accessCoins {
		f.coins[c.name] = Outpoint{TxID: gid, Index: uint32(i)}
	}
	return f
}

// valKey is the ed25519 public key of validator name (v1..v9).
func (f *accessFixture) valKey(name string) []byte { return f.vals[name].PubKey().Bytes() }

// keysOf returns the keys named, failing on an unknown name.
func (f *accessFixture) keysOf(t testing.TB, names []string) []testKey {
	t.Helper()
	keys := make([]testKey, len(names))
	for i, n := range names {
		k, ok := f.keys[n]
		if !ok {
			t.Fatalf("no test key %q", n)
		}
		keys[i] = k
	}
	return keys
}

// accountKey describes key name as an account key of weight 1.
func (f *accessFixture) accountKey(name string) AccountKey {
	return AccountKey{KeyType: KeyEd25519, PublicKey: f.keys[name].pub(), Weight: 1}
}

// newBody is an empty body on the test chain with a nonce never used before.
func (f *accessFixture) newBody() *Body {
	f.nonce++
	return &Body{Version: TxVersion, ChainID: testChainID, Nonce: f.nonce}
}

func (f *accessFixture) actionBody(a Action) *Body {
	b := f.newBody()
	b.Action = a
	return b
}

// sign encodes b signed by the keys named.
func (f *accessFixture) sign(t testing.TB, b *Body, keys ...string) []byte {
	t.Helper()
	return signTx(t, b, f.keysOf(t, keys)...)
}

// gov is a governance transaction with a fresh nonce, signed by keys.
func (f *accessFixture) gov(t testing.TB, a Action, keys ...string) []byte {
	t.Helper()
	return f.sign(t, f.actionBody(a), keys...)
}

func (f *accessFixture) mintTx(t testing.TB, to, asset string, amount uint64, keys ...string) []byte {
	t.Helper()
	b := f.newBody()
	b.Mint = &Mint{To: to, Asset: asset, Amount: amount}
	return f.sign(t, b, keys...)
}

func (f *accessFixture) burnTx(t testing.TB, inputs []Outpoint, asset string, amount uint64, keys ...string) []byte {
	t.Helper()
	b := &Body{Version: TxVersion, ChainID: testChainID, Burn: &Burn{Inputs: inputs, Asset: asset, Amount: amount}}
	return f.sign(t, b, keys...)
}

func (f *accessFixture) sendTx(t testing.TB, inputs []Outpoint, outputs []Output, keys ...string) []byte {
	t.Helper()
	return f.sign(t, body(inputs, outputs...), keys...)
}

// checkCode runs App.Check and returns the result code and log; a panic
// inside the app is reported as codePanicked with the panic in the log.
func (f *accessFixture) checkCode(tx []byte) (code Code, log string) {
	defer func() {
		if r := recover(); r != nil {
			code, log = codePanicked, fmt.Sprintf("panic: %v\n%s", r, shortStack())
		}
	}()
	_, err := f.app.Check(tx, nil)
	if err != nil {
		return CodeOf(err), err.Error()
	}
	return CodeOK, "ok"
}

// wantCheck asserts the code App.Check gives tx.
func (f *accessFixture) wantCheck(t testing.TB, what string, tx []byte, want Code) {
	t.Helper()
	if got, log := f.checkCode(tx); got != want {
		t.Errorf("%s: Check got code %d (%s), want %d", what, got, log, want)
	}
}

// tryExecute executes the next block without committing; a panic comes
// back as an error.
func (f *accessFixture) tryExecute(txs ...[]byte) (res *BlockResult, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("panic: %v\n%s", r, shortStack())
		}
	}()
	return f.app.ExecuteBlock(f.store.WorkingVersion(), txs)
}

// execute runs txs as the next block and commits it.
func (f *accessFixture) execute(t testing.TB, txs ...[]byte) *BlockResult {
	t.Helper()
	res, err := f.tryExecute(txs...)
	if err != nil {
		t.Fatalf("execute block %d: %v", f.store.WorkingVersion(), err)
	}
	if _, _, err := f.app.Commit(); err != nil {
		t.Fatalf("commit: %v", err)
	}
	return res
}

// run executes and commits one block and checks every result code.
func (f *accessFixture) run(t testing.TB, txs [][]byte, want ...Code) *BlockResult {
	t.Helper()
	res := f.execute(t, txs...)
	wantCodes(t, res.Txs, want...)
	return res
}

// runOne executes a block of one transaction and checks its code.
func (f *accessFixture) runOne(t testing.TB, tx []byte, want Code) *BlockResult {
	t.Helper()
	return f.run(t, [][]byte{tx}, want)
}

func wantCodes(t testing.TB, results []TxResult, want ...Code) {
	t.Helper()
	if len(results) != len(want) {
		t.Fatalf("got %d results, want %d", len(results), len(want))
	}
	for i, r := range results {
		if r.Code != want[i] {
			t.Errorf("tx %d: got code %d (%s), want %d", i, r.Code, r.Log, want[i])
		}
	}
}

func (f *accessFixture) height() int64 { return f.store.Height() }

// query runs a committed-state query that must succeed.
func (f *accessFixture) query(t testing.TB, path string) []byte {
	t.Helper()
	res, err := f.app.Query(path, 0, false)
	if err != nil {
		t.Fatalf("query %s: %v", path, err)
	}
	return res.Value
}

// queryCode runs a committed-state query and returns its value and code.
func (f *accessFixture) queryCode(path string) ([]byte, Code) {
	res, err := f.app.Query(path, 0, false)
	if res == nil {
		return nil, CodeOf(err)
	}
	return res.Value, CodeOf(err)
}

func (f *accessFixture) account(t testing.TB, name string) *Account {
	t.Helper()
	a, err := DecodeAccount(f.query(t, "/account/"+name))
	if err != nil {
		t.Fatalf("decode account %s: %v", name, err)
	}
	return a
}

func (f *accessFixture) asset(t testing.TB, id string) *Asset {
	t.Helper()
	a, err := DecodeAsset(f.query(t, "/asset/"+id))
	if err != nil {
		t.Fatalf("decode asset %s: %v", id, err)
	}
	return a
}

func (f *accessFixture) params(t testing.TB) Params {
	t.Helper()
	p, err := DecodeParams(f.query(t, "/params"))
	if err != nil {
		t.Fatalf("decode params: %v", err)
	}
	return *p
}

func (f *accessFixture) balance(t testing.TB, owner, asset string) uint64 {
	t.Helper()
	b, err := DecodeBalance(f.query(t, "/balance/"+owner+"/"+asset))
	if err != nil {
		t.Fatalf("decode balance %s %s: %v", owner, asset, err)
	}
	return b
}

func (f *accessFixture) utxos(t testing.TB, owner string) []UTXOEntry {
	t.Helper()
	list, more, err := DecodeUTXOList(f.query(t, "/utxos/"+owner))
	if err != nil || more {
		t.Fatalf("utxos of %s: more=%v, %v", owner, more, err)
	}
	return list
}

func (f *accessFixture) validators(t testing.TB) []Validator {
	t.Helper()
	vals, err := LoadValidators(f.store.Committed())
	if err != nil {
		t.Fatal(err)
	}
	return vals
}

// powers returns validator name → power of the committed set, naming keys
// by the fixture's validator names.
func (f *accessFixture) powers(t testing.TB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, v := range f.validators(t) {
		out[f.valName(v.PublicKey)] = v.Power
	}
	return out
}

func (f *accessFixture) valName(pub []byte) string {
	for name, k := range f.vals {
		if bytes.Equal(k.PubKey().Bytes(), pub) {
			return name
		}
	}
	return fmt.Sprintf("%X", pub)
}

func (f *accessFixture) grants(t testing.TB, name string) []string {
	t.Helper()
	var out []string
	for _, g := range f.account(t, name).Grants {
		out = append(out, fmt.Sprintf("%s@%d", g.Role, g.ExpiresAt))
	}
	return out
}

// checkLedger checks the supply invariants of committed state; see
// ledgerProblems.
func (f *accessFixture) checkLedger(t testing.TB) {
	t.Helper()
	for _, p := range f.ledgerProblems(t) {
		t.Error(p)
	}
}

// ledgerProblems lists what breaks the supply invariants of committed
// state: for every asset the coins of all accounts add up to its supply,
// every balance is the sum of its owner's coins, and no issuer is beyond
// its cap.
func (f *accessFixture) ledgerProblems(t testing.TB) []string {
	t.Helper()
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	total := map[string]uint64{}
	for _, name := range f.accounts {
		sums := map[string]uint64{}
		for _, u := range f.utxos(t, name) {
			if u.Output.Owner != name {
				report("utxos of %s lists %s, a coin of %s", name, u.Outpoint, u.Output.Owner)
			}
			if u.Output.Amount == 0 {
				report("utxo %s of %s holds nothing", u.Outpoint, name)
			}
			sums[u.Output.Asset] += u.Output.Amount
			total[u.Output.Asset] += u.Output.Amount
		}
		for _, asset := range f.assets {
			if got := f.balance(t, name, asset); got != sums[asset] {
				report("balance %s %s: got %d, want the sum of its coins %d", name, asset, got, sums[asset])
			}
		}
	}
	for _, id := range f.assets {
		a := f.asset(t, id)
		if total[id] != a.Supply {
			report("asset %s: coins add up to %d, supply %d", id, total[id], a.Supply)
		}
		for _, iss := range a.Issuers {
			if iss.Minted > iss.Cap {
				report("asset %s: issuer %s has %d outstanding, cap %d", id, iss.Account, iss.Minted, iss.Cap)
			}
		}
	}
	return problems
}

// event returns the first event of type typ, as a multimap of its attributes.
func event(events []Event, typ string) map[string][]string {
	for _, e := range events {
		if e.Type == typ {
			m := map[string][]string{}
			for _, a := range e.Attributes {
				m[a.Key] = append(m[a.Key], a.Value)
			}
			return m
		}
	}
	return nil
}

// shortStack is the goroutine's stack without the runtime and testing
// frames above the panic, enough to find the line that panicked.
func shortStack() string {
	lines := strings.Split(string(debug.Stack()), "\n")
	for i, l := range lines {
		if strings.Contains(l, "panic(") && i+1 < len(lines) {
			lines = lines[i:]
			break
		}
	}
	return strings.Join(lines[:min(len(lines), 14)], "\n")
}

// sortByKey sorts validator updates as the ledger does: by public key bytes.
func sortByKey(updates []ValidatorUpdate) []ValidatorUpdate {
	out := slices.Clone(updates)
	slices.SortFunc(out, func(a, b ValidatorUpdate) int { return bytes.Compare(a.PublicKey, b.PublicKey) })
	return out
}

// wantRejected asserts that App.Check refuses tx, whatever the code, for
// rules whose code the spec leaves open; the code is logged.
func (f *accessFixture) wantRejected(t testing.TB, what string, tx []byte) Code {
	t.Helper()
	code, log := f.checkCode(tx)
	switch code {
	case CodeOK:
		t.Errorf("%s: Check accepted it, want a rejection", what)
	case codePanicked, CodeInternal:
		t.Errorf("%s: Check got code %d (%s), want a rejection", what, code, log)
	default:
		t.Logf("%s: rejected with code %d (%s)", what, code, log)
	}
	return code
}
