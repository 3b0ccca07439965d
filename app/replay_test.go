package app

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
)

// State-machine scenarios as data. Each file in testdata/scenarios holds a
// genesis, blocks of transfers and what must come out: the code of every
// transaction, final balances and the final app hash. Keys are ed25519 keys
// derived from the secrets in the file (cmted25519.GenPrivKeyFromSecret), and
// ed25519 signatures are deterministic, so a scenario is the same bytes on
// every machine and its app hash is a constant.
//
// After a deliberate change to the state layout, refresh the hashes with
//
//	go test ./app -run TestReplayScenarios -update
//
// and review the diff: every other expectation is written by hand.
var update = flag.Bool("update", false, "rewrite the app_hash of app/testdata/scenarios/*.json with the computed one")

type scenario struct {
	Description string            `json:"description"`
	ChainID     string            `json:"chain_id"`
	Keys        map[string]string `json:"keys"` // key name → secret
	Genesis     struct {
		Params   *GenesisParams    `json:"params,omitempty"`
		Assets   []GenesisAsset    `json:"assets"`
		Accounts []scenarioAccount `json:"accounts"`
		UTXOs    []GenesisUTXO     `json:"utxos"`
	} `json:"genesis"`
	Blocks   []scenarioBlock   `json:"blocks"`
	Balances []scenarioBalance `json:"balances"`
	AppHash  string            `json:"app_hash"` // hex, after the last block
}

type scenarioAccount struct {
	Name         string `json:"name"`
	Organization string `json:"organization,omitempty"`
	Keys         []struct {
		Key    string `json:"key"`
		Weight uint32 `json:"weight,omitempty"`
	} `json:"keys"`
	Threshold uint32 `json:"threshold,omitempty"`
	// Roles default to ["member"]: an account needs the transfer permission.
	Roles []string `json:"roles,omitempty"`
}

type scenarioBlock struct {
	Note string       `json:"note,omitempty"`
	Txs  []scenarioTx `json:"txs"`
}

// scenarioTx describes a transaction. Inputs name outpoints as "genesis:N"
// or "blockB.txT:N" (output N of transaction T of block B, both counted from
// 0 and 1 as in the file: block1 is the first block). RawHex, when set,
// replaces the transaction by those bytes.
type scenarioTx struct {
	Note    string           `json:"note,omitempty"`
	ChainID string           `json:"chain_id,omitempty"` // default: the scenario's
	Memo    string           `json:"memo,omitempty"`
	Inputs  []string         `json:"inputs,omitempty"`
	Outputs []scenarioOutput `json:"outputs,omitempty"`
	Signers []string         `json:"signers,omitempty"`
	RawHex  string           `json:"raw_hex,omitempty"`
	Want    string           `json:"want"` // code name, e.g. "ok", "input_not_found"
}

type scenarioOutput struct {
	Owner  string `json:"owner"`
	Asset  string `json:"asset"`
	Amount string `json:"amount"` // base units
}

type scenarioBalance struct {
	Owner  string `json:"owner"`
	Asset  string `json:"asset"`
	Amount string `json:"amount"` // base units; "0" = no balance entry
}

// codeNames are the names scenarios use for result codes.
var codeNames = map[string]Code{
	"ok": CodeOK, "malformed": CodeMalformed, "unsupported_version": CodeUnsupportedVersion,
	"wrong_chain_id": CodeWrongChainID, "too_large": CodeTooLarge, "unknown_account": CodeUnknownAccount,
	"unknown_asset": CodeUnknownAsset, "input_not_found": CodeInputNotFound, "duplicate_input": CodeDuplicateInput,
	"invalid_signature": CodeInvalidSignature, "threshold_not_met": CodeThresholdNotMet, "unbalanced": CodeUnbalanced,
	"overflow": CodeOverflow, "zero_amount": CodeZeroAmount, "empty_transfer": CodeEmptyTransfer,
	"mempool_conflict": CodeMempoolConflict, "duplicate_output": CodeDuplicateOutput,
	"unexpected_signer": CodeUnexpectedSigner, "account_frozen": CodeAccountFrozen, "invalid_field": CodeInvalidField,
}

func TestReplayScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenarios in testdata/scenarios")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var sc scenario
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&sc); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			got := runScenario(t, &sc)
			if *update {
				rewriteAppHash(t, file, raw, got)
				return
			}
			if sc.AppHash == "" {
				t.Fatalf("app_hash is empty; computed %X (fill it in with -update)", got)
			}
			if want := strings.ToUpper(sc.AppHash); fmt.Sprintf("%X", got) != want {
				t.Errorf("final app hash: got %X, want %s", got, want)
			}
		})
	}
}

// runScenario builds the scenario's transactions, runs them into two fresh
// stores block by block, checks codes, balances and invariants, and returns
// the final app hash.
func runScenario(t *testing.T, sc *scenario) []byte {
	t.Helper()
	keys := map[string]cmted25519.PrivKey{}
	for name, secret := range sc.Keys {
		keys[name] = cmted25519.GenPrivKeyFromSecret([]byte(secret))
	}
	appState := scenarioGenesis(t, sc, keys)
	blocks := scenarioTxs(t, sc, keys)

	type node struct {
		dir   string
		store *Store
		app   *App
	}
	var nodes [2]*node
	for i := range nodes {
		dir := t.TempDir()
		store, err := OpenStore(dir, DefaultStoreConfig())
		if err != nil {
			t.Fatal(err)
		}
		n := &node{dir: dir, store: store, app: New(store)}
		t.Cleanup(func() { n.store.Close() })
		if _, err := n.app.InitChain(sc.ChainID, 1, appState, nil); err != nil {
			t.Fatalf("node %d: InitChain: %v", i, err)
		}
		nodes[i] = n
	}

	for b, txs := range blocks {
		height := int64(b + 1)
		var hashes [2][]byte
		var results [2][]TxResult
		for i, n := range nodes {
			blockRes, err := n.app.ExecuteBlock(height, txs)
			if err != nil {
				t.Fatalf("node %d block %d: %v", i, height, err)
			}
			h, hash, err := n.app.Commit()
			if err != nil || h != height {
				t.Fatalf("node %d block %d: commit at height %d: %v", i, height, h, err)
			}
			hashes[i], results[i] = hash, blockRes.Txs
		}
		if !bytes.Equal(hashes[0], hashes[1]) {
			t.Fatalf("block %d: app hashes differ: %X and %X", height, hashes[0], hashes[1])
		}
		for j, r := range results[0] {
			other := results[1][j]
			if r.Code != other.Code || r.Log != other.Log || r.TxID != other.TxID {
				t.Errorf("block %d tx %d: results differ between nodes: %+v and %+v", height, j, r, other)
			}
			want := codeNames[sc.Blocks[b].Txs[j].Want]
			if r.Code != want {
				t.Errorf("block%d.tx%d (%s): got code %d (%s), want %d (%s)", height, j, sc.Blocks[b].Txs[j].Note, r.Code, r.Log, want, sc.Blocks[b].Txs[j].Want)
			}
		}
	}

	final := nodes[0].store
	for _, bal := range sc.Balances {
		want, err := strconv.ParseUint(bal.Amount, 10, 64)
		if err != nil {
			t.Fatalf("balance %s/%s: amount %q: %v", bal.Owner, bal.Asset, bal.Amount, err)
		}
		got, err := loadBalance(final.Committed(), bal.Owner, bal.Asset)
		if err != nil || got != want {
			t.Errorf("balance %s %s: got %d (%v), want %d", bal.Owner, bal.Asset, got, err, want)
		}
	}
	checkLedgerInvariants(t, nodes[0].app, sc)

	// The committed state survives a restart unchanged.
	hash := final.Hash()
	if err := final.Close(); err != nil {
		t.Fatal(err)
	}
	reopened, err := OpenStore(nodes[0].dir, DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	nodes[0].store = reopened
	if reopened.Height() != int64(len(blocks)) || !bytes.Equal(reopened.Hash(), hash) {
		t.Errorf("after reopening: height %d hash %X, want %d %X", reopened.Height(), reopened.Hash(), len(blocks), hash)
	}
	return hash
}

// checkLedgerInvariants: every balance is the sum of its owner's coins, and
// every asset's coins add up to its supply (transfers neither mint nor burn).
func checkLedgerInvariants(t *testing.T, a *App, sc *scenario) {
	t.Helper()
	total := map[string]uint64{}
	for _, acct := range sc.Genesis.Accounts {
		res, err := a.Query("/utxos/"+acct.Name, 0, false)
		if err != nil {
			t.Fatalf("utxos of %s: %v", acct.Name, err)
		}
		list, _, err := DecodeUTXOList(res.Value)
		if err != nil {
			t.Fatal(err)
		}
		sums := map[string]uint64{}
		for _, u := range list {
			if u.Output.Owner != acct.Name {
				t.Errorf("utxos of %s lists a coin of %s", acct.Name, u.Output.Owner)
			}
			sums[u.Output.Asset] += u.Output.Amount
			total[u.Output.Asset] += u.Output.Amount
		}
		for _, asset := range sc.Genesis.Assets {
			bal, err := loadBalance(a.Committed(), acct.Name, asset.ID)
			if err != nil || bal != sums[asset.ID] {
				t.Errorf("balance %s %s: got %d (%v), want the sum of its coins %d", acct.Name, asset.ID, bal, err, sums[asset.ID])
			}
		}
	}
	for _, asset := range sc.Genesis.Assets {
		rec, err := loadAsset(a.Committed(), asset.ID)
		if err != nil || rec == nil {
			t.Fatalf("asset %s: %v", asset.ID, err)
		}
		if total[asset.ID] != rec.Supply {
			t.Errorf("asset %s: coins add up to %d, supply %d", asset.ID, total[asset.ID], rec.Supply)
		}
	}
}

func scenarioGenesis(t *testing.T, sc *scenario, keys map[string]cmted25519.PrivKey) []byte {
	t.Helper()
	g := Genesis{Params: sc.Genesis.Params, Assets: sc.Genesis.Assets, UTXOs: sc.Genesis.UTXOs}
	for _, a := range sc.Genesis.Accounts {
		ga := GenesisAccount{Name: a.Name, Organization: a.Organization, Threshold: a.Threshold, Roles: a.Roles}
		if len(ga.Roles) == 0 {
			ga.Roles = []string{"member"}
		}
		for _, k := range a.Keys {
			priv, ok := keys[k.Key]
			if !ok {
				t.Fatalf("account %s: key %q is not in keys", a.Name, k.Key)
			}
			ga.Keys = append(ga.Keys, testKey{typ: KeyEd25519, ed: priv}.genesisKey(k.Weight))
		}
		g.Accounts = append(g.Accounts, ga)
	}
	b, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var outpointRef = regexp.MustCompile(`^(?:genesis|block([1-9][0-9]*)\.tx([0-9]+)):([0-9]+)$`)

// scenarioTxs encodes and signs every transaction, resolving input
// references to the ids of earlier transactions.
func scenarioTxs(t *testing.T, sc *scenario, keys map[string]cmted25519.PrivKey) [][][]byte {
	t.Helper()
	ids := map[string]TxID{} // "blockB.txT" → id
	blocks := make([][][]byte, len(sc.Blocks))
	for b, block := range sc.Blocks {
		for j, st := range block.Txs {
			ref := fmt.Sprintf("block%d.tx%d", b+1, j)
			if _, ok := codeNames[st.Want]; !ok {
				t.Fatalf("%s: want %q is not a code name", ref, st.Want)
			}
			if st.RawHex != "" {
				raw, err := hex.DecodeString(st.RawHex)
				if err != nil {
					t.Fatalf("%s: raw_hex: %v", ref, err)
				}
				blocks[b] = append(blocks[b], raw)
				continue
			}
			bd := &Body{Version: TxVersion, ChainID: sc.ChainID, Memo: st.Memo, Transfer: &Transfer{}}
			if st.ChainID != "" {
				bd.ChainID = st.ChainID
			}
			for _, in := range st.Inputs {
				m := outpointRef.FindStringSubmatch(in)
				if m == nil {
					t.Fatalf("%s: input %q: want genesis:N or blockB.txT:N", ref, in)
				}
				index, err := strconv.ParseUint(m[3], 10, 32)
				if err != nil {
					t.Fatalf("%s: input %q: %v", ref, in, err)
				}
				id := GenesisTxID(sc.ChainID)
				if m[1] != "" {
					var ok bool
					if id, ok = ids["block"+m[1]+".tx"+m[2]]; !ok {
						t.Fatalf("%s: input %q names no earlier transaction", ref, in)
					}
				}
				bd.Transfer.Inputs = append(bd.Transfer.Inputs, Outpoint{TxID: id, Index: uint32(index)})
			}
			for _, out := range st.Outputs {
				amount, err := strconv.ParseUint(out.Amount, 10, 64)
				if err != nil {
					t.Fatalf("%s: output amount %q: %v", ref, out.Amount, err)
				}
				bd.Transfer.Outputs = append(bd.Transfer.Outputs, Output{Owner: out.Owner, Asset: out.Asset, Amount: amount})
			}
			tx := &Tx{BodyBytes: EncodeBody(bd)}
			for _, name := range st.Signers {
				priv, ok := keys[name]
				if !ok {
					t.Fatalf("%s: signer %q is not in keys", ref, name)
				}
				tx.Signatures = append(tx.Signatures, testKey{typ: KeyEd25519, ed: priv}.sign(t, tx.BodyBytes))
			}
			sortSignatures(tx.Signatures) // signers sign in any order; the wire has one
			ids[ref] = tx.ID()
			blocks[b] = append(blocks[b], tx.Encode())
		}
	}
	return blocks
}

var appHashField = regexp.MustCompile(`"app_hash": "[0-9A-Fa-f]*"`)

// rewriteAppHash replaces the app_hash value in the file's own text, so the
// hand-written layout of everything else stays as it is.
func rewriteAppHash(t *testing.T, file string, raw, hash []byte) {
	t.Helper()
	if n := len(appHashField.FindAll(raw, -1)); n != 1 {
		t.Fatalf("%s: found %d app_hash fields, want exactly 1", file, n)
	}
	out := appHashField.ReplaceAll(raw, []byte(fmt.Sprintf(`"app_hash": "%X"`, hash)))
	if bytes.Equal(out, raw) {
		return
	}
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: app_hash set to %X", file, hash)
}

// TestScenarioCodeNames keeps codeNames complete: one name per code.
func TestScenarioCodeNames(t *testing.T) {
	seen := map[Code]string{}
	names := make([]string, 0, len(codeNames))
	for name := range codeNames {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := codeNames[name]
		if prev, ok := seen[c]; ok {
			t.Errorf("code %d named twice: %s and %s", c, prev, name)
		}
		seen[c] = name
	}
	for c := CodeOK; c <= CodeInvalidField; c++ {
		if _, ok := seen[c]; !ok {
			t.Errorf("code %d has no scenario name", c)
		}
	}
}

// TestExecuteWithDecodedTxs: a block executed with the caller's decoded
// transactions (app.Block.Decoded, partly filled) gives the results and app
// hash of the same block decoded by Execute itself, rejections included.
func TestExecuteWithDecodedTxs(t *testing.T) {
	f := newFixture(t) // executes the block twice, discarding the first
	txs := [][]byte{
		signTx(t, body(ins(f.coinAlice), Output{"bob", "USD", 1000}, Output{"alice", "USD", 99000}), f.alice),
		signTx(t, body(ins(f.coinBob), Output{"alice", "USD", 2000}), f.alice),   // not bob's signature
		signTx(t, body(ins(f.coinAlice), Output{"bob", "USD", 100000}), f.alice), // spent above
		{0xff, 0x01},
	}
	decoded := make([]*Tx, len(txs)-1) // the last one is not given
	for i := range decoded {
		tx, err := DecodeTx(txs[i])
		if err != nil {
			t.Fatal(err)
		}
		decoded[i] = tx
	}
	want, err := f.app.Execute(Block{Height: f.store.WorkingVersion(), Txs: txs})
	if err != nil {
		t.Fatal(err)
	}
	f.store.Discard()
	got, err := f.app.Execute(Block{Height: f.store.WorkingVersion(), Txs: txs, Decoded: decoded})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.AppHash, want.AppHash) {
		t.Errorf("app hash: got %X, want %X", got.AppHash, want.AppHash)
	}
	for i := range txs {
		if got.Txs[i].Code != want.Txs[i].Code || got.Txs[i].Log != want.Txs[i].Log {
			t.Errorf("tx %d: got code %d (%s), want %d (%s)", i, got.Txs[i].Code, got.Txs[i].Log, want.Txs[i].Code, want.Txs[i].Log)
		}
	}
	if want.Txs[0].Code != CodeOK || want.Txs[1].Code == CodeOK || want.Txs[2].Code == CodeOK || want.Txs[3].Code == CodeOK {
		t.Fatalf("block results %+v: want the first transfer applied and the other three rejected", want.Txs)
	}
}
