package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestTransferRules(t *testing.T) {
	f := newFixture(t)
	usd := func(owner string, amount uint64) Output { return Output{Owner: owner, Asset: "USD", Amount: amount} }
	valid := body(ins(f.coinAlice), usd("bob", 500), usd("alice", 99500))

	// highS turns a valid p256 signature into its malleated twin (r, n-s).
	highS := func(tx []byte) []byte {
		d, err := DecodeTx(tx)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range d.Signatures {
			if s.KeyType == KeyP256 {
				sv := new(bigInt).SetBytes(s.Signature[32:])
				sv.Sub(p256Order, sv)
				sv.FillBytes(d.Signatures[i].Signature[32:])
			}
		}
		return d.Encode()
	}
	flipSig := func(tx []byte) []byte {
		d, _ := DecodeTx(tx)
		d.Signatures[0].Signature[5] ^= 1
		return d.Encode()
	}
	otherChain := body(ins(f.coinAlice), usd("bob", 100000))
	otherChain.ChainID = "other-chain"
	v2 := body(ins(f.coinAlice), usd("bob", 100000))
	v2.Version = 2
	longMemo := body(ins(f.coinAlice), usd("bob", 100000))
	longMemo.Memo = strings.Repeat("m", 257)
	carolBody := body(ins(f.coinCarol), usd("bob", 5000))
	badMemo := body(ins(f.coinAlice), usd("bob", 100000))
	badMemo.Memo = "\xff\xfe"

	tests := []struct {
		name string
		tx   []byte
		want Code
	}{
		{"valid transfer with change", signTx(t, valid, f.alice), CodeOK},
		{"random bytes", []byte("\xff\xfe not a transaction"), CodeMalformed},
		{"empty bytes", nil, CodeMalformed},
		{"truncated", signTx(t, valid, f.alice)[:40], CodeMalformed},
		{"trailing garbage", append(signTx(t, valid, f.alice), 0x08), CodeMalformed},
		{"unknown field", append(signTx(t, valid, f.alice), 0x20, 0x01), CodeMalformed},
		{"non-canonical field order", reorder(t, signTx(t, valid, f.alice)), CodeMalformed},
		{"oversized", bytes.Repeat([]byte{0}, 70_000), CodeTooLarge},
		{"unsupported version", signTx(t, v2, f.alice), CodeUnsupportedVersion},
		{"wrong chain id", signTx(t, otherChain, f.alice), CodeWrongChainID},
		{"memo too long", signTx(t, longMemo, f.alice), CodeTooLarge},
		{"no inputs", signTx(t, body(nil, usd("bob", 1)), f.alice), CodeEmptyTransfer},
		{"no outputs", signTx(t, body(ins(f.coinAlice)), f.alice), CodeEmptyTransfer},
		{"zero amount", signTx(t, body(ins(f.coinAlice), usd("bob", 0), usd("alice", 100000)), f.alice), CodeZeroAmount},
		{"duplicate input", signTx(t, body(ins(f.coinAlice, f.coinAlice), usd("bob", 200000)), f.alice), CodeDuplicateInput},
		{"duplicate output", signTx(t, body(ins(f.coinAlice), usd("bob", 50000), usd("bob", 50000)), f.alice), CodeDuplicateOutput},
		{"unknown recipient", signTx(t, body(ins(f.coinAlice), usd("mallory", 100000)), f.alice), CodeUnknownAccount},
		{"bad recipient name", signTx(t, body(ins(f.coinAlice), usd("Bob!", 100000)), f.alice), CodeInvalidField},
		{"unknown asset", signTx(t, body(ins(f.coinAlice), Output{"bob", "EUR", 100000}), f.alice), CodeUnknownAsset},
		{"unknown input", signTx(t, body(ins(Outpoint{Index: 7}), usd("bob", 1)), f.alice), CodeInputNotFound},
		{"outputs exceed inputs", signTx(t, body(ins(f.coinAlice), usd("bob", 100001)), f.alice), CodeUnbalanced},
		{"outputs below inputs", signTx(t, body(ins(f.coinAlice), usd("bob", 99999)), f.alice), CodeUnbalanced},
		{"asset changed", signTx(t, body(ins(f.coinGold), usd("bob", 10)), f.alice), CodeUnbalanced},
		{"output sum overflows", signTx(t, body(ins(f.coinAlice), usd("bob", math.MaxUint64), usd("alice", 2)), f.alice), CodeOverflow},
		{"no signature", signTx(t, valid), CodeThresholdNotMet},
		{"signed by someone else", signTx(t, valid, f.bob), CodeThresholdNotMet},
		{"spending bob's coin", signTx(t, body(ins(f.coinBob), usd("alice", 2000)), f.alice), CodeThresholdNotMet},
		{"forged signature", flipSig(signTx(t, valid, f.alice)), CodeInvalidSignature},
		{"same key twice", twice(t, signTx(t, valid, f.alice)), CodeMalformed},
		{"signatures out of order", reversed(t, signTx(t, carolBody, f.carol1, f.carol2)), CodeMalformed},
		{"pow nonce without pow", withNonce(t, signTx(t, valid, f.alice)), CodePoW},
		{"memo not utf-8", signTx(t, badMemo, f.alice), CodeInvalidField},
		{"extra unrelated signer", signTx(t, valid, f.alice, f.bob), CodeUnexpectedSigner},
		{"multisig 1 of 3 below threshold 2", signTx(t, carolBody, f.carol1), CodeThresholdNotMet},
		{"multisig 2 of 3 with p256", signTx(t, carolBody, f.carol1, f.carol3), CodeOK},
		{"multisig high-S p256 rejected", highS(signTx(t, carolBody, f.carol1, f.carol3)), CodeInvalidSignature},
		{"frozen owner", signTx(t, body(ins(f.coinDave), usd("bob", 100)), f.dave), CodeAccountFrozen},
		{"two owners, both sign", signTx(t, body(ins(f.coinAliceSmall, f.coinBob), usd("alice", 2000), usd("bob", 500)), f.alice, f.bob), CodeOK},
		{"two owners, one signs", signTx(t, body(ins(f.coinAliceSmall, f.coinBob), usd("alice", 2000), usd("bob", 500)), f.alice), CodeThresholdNotMet},
	}
	before := f.store.Hash()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.app.Check(tc.tx, nil)
			if got := CodeOf(err); got != tc.want {
				t.Fatalf("Check: got code %d (%v), want %d", got, err, tc.want)
			}
			if err != nil && strings.TrimSpace(err.Error()) == "" {
				t.Fatal("rejection without a log")
			}
		})
	}
	// The same rows through a block: identical codes, and a block of only
	// rejected transactions leaves the state exactly as it was.
	var rejected [][]byte
	for _, tc := range tests {
		if tc.want != CodeOK {
			rejected = append(rejected, tc.tx)
		}
	}
	results := f.commitBlock(rejected...)
	i := 0
	for _, tc := range tests {
		if tc.want == CodeOK {
			continue
		}
		if results[i].Code != tc.want {
			t.Errorf("%s in FinalizeBlock: got code %d (%s), want %d", tc.name, results[i].Code, results[i].Log, tc.want)
		}
		i++
	}
	if got := f.store.Hash(); !bytes.Equal(got, before) {
		t.Errorf("state changed by rejected transactions: hash %X, want %X", got, before)
	}
}

func TestTransferMovesCoins(t *testing.T) {
	f := newFixture(t)
	tx := signTx(t, body(ins(f.coinAlice), Output{"bob", "USD", 500}, Output{"alice", "USD", 99500}), f.alice)
	res := f.commitBlock(tx)
	if res[0].Code != CodeOK {
		t.Fatalf("got code %d (%s), want 0", res[0].Code, res[0].Log)
	}
	if got, want := f.balance("bob", "USD"), uint64(2500); got != want {
		t.Errorf("bob: got %d, want %d", got, want)
	}
	if got, want := f.balance("alice", "USD"), uint64(100000); got != want { // 99500 change + 500 small coin
		t.Errorf("alice: got %d, want %d", got, want)
	}
	id := res[0].TxID
	for i, want := range []Output{{"bob", "USD", 500}, {"alice", "USD", 99500}} {
		got, err := loadUTXO(f.store.Committed(), Outpoint{id, uint32(i)})
		if err != nil || got == nil || *got != want {
			t.Errorf("output %d: got %+v (%v), want %+v", i, got, err, want)
		}
	}
	if u, _ := loadUTXO(f.store.Committed(), f.coinAlice); u != nil {
		t.Errorf("spent input still unspent: %+v", u)
	}
	// Replay of the same transaction: the coin is gone.
	if res := f.commitBlock(tx); res[0].Code != CodeInputNotFound {
		t.Errorf("replay: got code %d, want %d", res[0].Code, CodeInputNotFound)
	}
}

func TestDoubleSpendInOneBlock(t *testing.T) {
	f := newFixture(t)
	first := signTx(t, body(ins(f.coinBob), Output{"alice", "USD", 2000}), f.bob)
	second := signTx(t, body(ins(f.coinBob), Output{"carol", "USD", 2000}), f.bob)
	res := f.commitBlock(first, second)
	if res[0].Code != CodeOK || res[1].Code != CodeInputNotFound {
		t.Fatalf("got codes %d, %d; want 0, %d", res[0].Code, res[1].Code, CodeInputNotFound)
	}
	if got := f.balance("carol", "USD"); got != 5000 {
		t.Errorf("carol got the double spend: balance %d, want 5000", got)
	}

	// A proposal carrying both spends is caught before it can be decided.
	g := newFixture(t)
	pc := g.app.NewProposalChecker()
	if err := pc.Add(first); err != nil {
		t.Fatalf("first spend: %v", err)
	}
	if err := pc.Add(second); CodeOf(err) != CodeMempoolConflict {
		t.Fatalf("second spend in proposal: got %v, want code %d", err, CodeMempoolConflict)
	}
}

func TestMempoolConflict(t *testing.T) {
	f := newFixture(t)
	tx := signTx(t, body(ins(f.coinBob), Output{"alice", "USD", 2000}), f.bob)
	taken := func(o Outpoint) bool { return o == f.coinBob }
	if _, err := f.app.Check(tx, taken); CodeOf(err) != CodeMempoolConflict {
		t.Fatalf("coin pending in another tx: got %v, want code %d", err, CodeMempoolConflict)
	}
}

// reorder swaps the first two fields of a transaction (body and signature):
// still decodable protobuf, but not canonical.
func reorder(t *testing.T, tx []byte) []byte {
	t.Helper()
	d, err := DecodeTx(tx)
	if err != nil {
		t.Fatal(err)
	}
	var e encoder
	for _, s := range d.Signatures {
		e.message(2, true, func(e *encoder) {
			e.uint(1, uint64(s.KeyType))
			e.bytes(2, s.PublicKey)
			e.bytes(3, s.Signature)
		})
	}
	e.bytes(1, d.BodyBytes)
	return e.buf
}

// The helpers below change a signed transaction the ways a relayer could
// try without the signers' keys.

func decoded(t *testing.T, tx []byte) *Tx {
	t.Helper()
	d, err := DecodeTx(tx)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func twice(t *testing.T, tx []byte) []byte {
	d := decoded(t, tx)
	d.Signatures = append(d.Signatures, d.Signatures[0])
	return d.Encode()
}

func reversed(t *testing.T, tx []byte) []byte {
	d := decoded(t, tx)
	slices.Reverse(d.Signatures)
	return d.Encode()
}

func withNonce(t *testing.T, tx []byte) []byte {
	d := decoded(t, tx)
	d.PowNonce = 42
	return d.Encode()
}

// wideLedger is a committed ledger of n accounts ("w0".."w<n-1>", each a
// member with its own ed25519 key) for transfers with more inputs or
// outputs than the fixture's four accounts allow. w0 holds coins: USD of
// 100 each, then GOLD of 10 each.
type wideLedger struct {
	*fixture
	keys      []testKey
	usd, gold []Outpoint
}

func newWideLedger(t *testing.T, accounts, usdCoins, goldCoins int) *wideLedger {
	t.Helper()
	store, err := OpenStore(t.TempDir(), DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	w := &wideLedger{fixture: &fixture{t: t, store: store, app: New(store)}}
	g := Genesis{Assets: []GenesisAsset{{ID: "USD", Decimals: 2}, {ID: "GOLD", Decimals: 0}}}
	for i := range accounts {
		name := fmt.Sprintf("w%d", i)
		k := newEdKey(name)
		w.keys = append(w.keys, k)
		g.Accounts = append(g.Accounts, GenesisAccount{Name: name, Organization: name, Roles: []string{"member"}, Keys: []GenesisKey{k.genesisKey(1)}})
	}
	gid := GenesisTxID(testChainID)
	for range usdCoins {
		w.usd = append(w.usd, Outpoint{gid, uint32(len(g.UTXOs))})
		g.UTXOs = append(g.UTXOs, GenesisUTXO{Owner: "w0", Asset: "USD", Amount: "100"})
	}
	for range goldCoins {
		w.gold = append(w.gold, Outpoint{gid, uint32(len(g.UTXOs))})
		g.UTXOs = append(g.UTXOs, GenesisUTXO{Owner: "w0", Asset: "GOLD", Amount: "10"})
	}
	appState, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.app.InitChain(testChainID, 1, appState, nil); err != nil {
		t.Fatal(err)
	}
	w.commitBlock()
	return w
}

// checkAndExecute checks tx against committed state, then executes it in a
// block, and requires both to give code want with a log containing
// wantLog. It returns the block's result.
func (w *wideLedger) checkAndExecute(t *testing.T, tx []byte, want Code, wantLog string) TxResult {
	t.Helper()
	_, err := w.app.Check(tx, nil)
	if got := CodeOf(err); got != want || want != CodeOK && !strings.Contains(err.Error(), wantLog) {
		t.Fatalf("Check: got code %d (%v), want %d with %q", got, err, want, wantLog)
	}
	res := w.commitBlock(tx)[0]
	if res.Code != want || !strings.Contains(res.Log, wantLog) {
		t.Fatalf("block: got code %d (%s), want %d with %q", res.Code, res.Log, want, wantLog)
	}
	return res
}

// Transfers with more inputs or outputs than the checks scan for
// duplicates (smallList) find them through a map: both ways must give the
// same results.
func TestTransferLongLists(t *testing.T) {
	for _, n := range []int{smallList - 1, smallList, smallList + 1, 3 * smallList} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			w := newWideLedger(t, n+1, n+1, 0)
			pay := func(to ...int) []Output {
				var outs []Output
				for _, i := range to {
					outs = append(outs, Output{Owner: fmt.Sprintf("w%d", i), Asset: "USD", Amount: 1})
				}
				return outs
			}
			seq := func(from, to int) []int { // from..to-1
				var s []int
				for i := from; i < to; i++ {
					s = append(s, i)
				}
				return s
			}
			// n outputs, the last paying the same account as the second.
			dupOut := append(pay(seq(1, n)...), Output{Owner: "w2", Asset: "USD", Amount: 1})
			dupOut[0].Amount = 100 - uint64(n-1)
			w.checkAndExecute(t, signTx(t, body(ins(w.usd[0]), dupOut...), w.keys[0]), CodeDuplicateOutput, fmt.Sprintf("output %d pays USD to w2 again", n-1))
			// n inputs, the last spending the first again.
			dupIn := append(slices.Clone(w.usd[:n-1]), w.usd[0])
			w.checkAndExecute(t, signTx(t, body(dupIn, Output{"w1", "USD", 100 * uint64(n)}), w.keys[0]), CodeDuplicateInput, fmt.Sprintf("input %d spends", n-1))

			// n distinct inputs paying n accounts: applied, with one
			// event naming the sender, every recipient once and the asset.
			outs := pay(seq(1, n+1)...)
			outs[0].Amount = 100*uint64(n) - uint64(n-1)
			res := w.checkAndExecute(t, signTx(t, body(w.usd[:n], outs...), w.keys[0]), CodeOK, "ok")
			for i := 1; i <= n; i++ {
				want := uint64(1)
				if i == 1 {
					want = outs[0].Amount
				}
				if got := w.balance(fmt.Sprintf("w%d", i), "USD"); got != want {
					t.Errorf("w%d: balance %d, want %d", i, got, want)
				}
			}
			if got := w.balance("w0", "USD"); got != 100 {
				t.Errorf("w0: balance %d, want 100 (the coin not spent)", got)
			}
			var keys []string
			for _, a := range res.Events[0].Attributes {
				keys = append(keys, a.Key+"="+a.Value)
			}
			want := []string{"sender=w0"}
			for i := 1; i <= n; i++ {
				want = append(want, fmt.Sprintf("recipient=w%d", i))
			}
			want = append(want, "asset=USD")
			if !slices.Equal(keys, want) {
				t.Errorf("event attributes %v, want %v", keys, want)
			}
		})
	}
}

// A transfer of two assets balances each on its own, and its event lists
// the assets sorted whatever order the outputs name them in.
func TestTransferTwoAssets(t *testing.T) {
	w := newWideLedger(t, 3, 2, 2)
	two := func(usdToW1, goldToW1, goldToW2 uint64) []byte {
		return signTx(t, body(ins(w.usd[0], w.gold[0], w.usd[1]),
			Output{"w1", "USD", usdToW1}, Output{"w1", "GOLD", goldToW1}, Output{"w2", "GOLD", goldToW2}, Output{"w2", "USD", 200 - usdToW1}), w.keys[0])
	}
	w.checkAndExecute(t, two(150, 5, 6), CodeUnbalanced, "GOLD: inputs 10, outputs 11")
	bad := signTx(t, body(ins(w.usd[0], w.gold[0]), Output{"w1", "GOLD", 10}, Output{"w1", "USD", 99}), w.keys[0])
	w.checkAndExecute(t, bad, CodeUnbalanced, "USD: inputs 100, outputs 99")
	res := w.checkAndExecute(t, two(150, 4, 6), CodeOK, "ok")
	var got []string
	for _, a := range res.Events[0].Attributes {
		got = append(got, a.Key+"="+a.Value)
	}
	if want := []string{"sender=w0", "recipient=w1", "recipient=w2", "asset=GOLD", "asset=USD"}; !slices.Equal(got, want) {
		t.Errorf("event attributes %v, want %v", got, want)
	}
	for _, c := range []struct {
		owner, asset string
		want         uint64
	}{{"w0", "USD", 0}, {"w0", "GOLD", 10}, {"w1", "USD", 150}, {"w1", "GOLD", 4}, {"w2", "USD", 50}, {"w2", "GOLD", 6}} {
		if b := w.balance(c.owner, c.asset); b != c.want {
			t.Errorf("%s %s: balance %d, want %d", c.owner, c.asset, b, c.want)
		}
	}
}

// An input owner who is also a recipient is checked with the account
// loaded for the output: frozen and multi-sig rules still hold.
func TestTransferOwnerAlsoRecipient(t *testing.T) {
	f := newFixture(t)
	usd := func(owner string, amount uint64) Output { return Output{Owner: owner, Asset: "USD", Amount: amount} }
	for _, tc := range []struct {
		name string
		tx   []byte
		want Code
	}{
		{"frozen owner paying itself change", signTx(t, body(ins(f.coinDave), usd("bob", 50), usd("dave", 50)), f.dave), CodeAccountFrozen},
		{"multisig change below threshold", signTx(t, body(ins(f.coinCarol), usd("carol", 4000), usd("bob", 1000)), f.carol1), CodeThresholdNotMet},
		{"owner paying itself, someone else signs", signTx(t, body(ins(f.coinBob), usd("bob", 2000)), f.alice), CodeThresholdNotMet},
		{"multisig change", signTx(t, body(ins(f.coinCarol), usd("carol", 4000), usd("bob", 1000)), f.carol1, f.carol2), CodeOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.app.Check(tc.tx, nil)
			if got := CodeOf(err); got != tc.want {
				t.Fatalf("Check: got code %d (%v), want %d", got, err, tc.want)
			}
			if res := f.commitBlock(tc.tx); res[0].Code != tc.want {
				t.Fatalf("block: got code %d (%s), want %d", res[0].Code, res[0].Log, tc.want)
			}
		})
	}
	if got := f.balance("carol", "USD"); got != 4000 {
		t.Errorf("carol: balance %d, want 4000", got)
	}
}
