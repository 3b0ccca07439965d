package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	dbm "github.com/cometbft/cometbft-db"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/audit/audittest"
)

// healthyChain is a test chain with every kind of transaction, built once.
type healthyChain struct {
	home string
	last int64

	txs, accepted    int64
	commitSignatures int64
	validatorUpdates int64
	usdSupply        uint64

	transferHeight int64 // a block of transfers
	doubleHeight   int64 // a block whose tx doubleIndex spends a coin already spent
	doubleIndex    int
	bigSetHeight   int64 // a block signed by the enlarged validator set
}

const (
	members        = 20
	coinsPerMember = 50
	coinAmount     = 1000
	firstPay       = 7
	secondPay      = 3
)

// shared is the healthy chain the tests audit (or copy and tamper with),
// built once under a folder TestMain removes.
var shared struct {
	once  sync.Once
	dir   string
	chain *healthyChain
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "consort-audit-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sharedChain returns the healthy chain, building it under the first test
// that asks; if that fails, every test that needs it fails.
func sharedChain(t *testing.T) *healthyChain {
	t.Helper()
	shared.once.Do(func() { shared.chain = buildHealthyChain(t, shared.dir) })
	if shared.chain == nil {
		t.Fatal("building the shared test chain failed (see the first test that used it)")
	}
	return shared.chain
}

// buildHealthyChain makes a 4-validator chain of 2000 transfers and a
// little of everything else: account registration, a new asset, mints, a
// burn, a validator joining and leaving, a rejected double spend and a
// rejected garbage transaction, with 6-bit proof of work. The node is
// stopped when it returns.
func buildHealthyChain(tb testing.TB, dir string) *healthyChain {
	tb.Helper()
	var names []string
	for i := range members {
		names = append(names, memberName(i))
	}
	c := newTestChain(tb, dir, chainOptions{validators: 4, members: names, coins: coinsPerMember, coinAmount: coinAmount, powBits: 6})
	hc := &healthyChain{home: c.home, usdSupply: members * coinsPerMember * coinAmount}
	signed := func() { hc.commitSignatures += int64(c.state.Validators.Size()) }
	countOK := func(n int) { hc.accepted += int64(n) }

	// Governance: a new account and a new asset.
	newbie := cmted25519.GenPrivKeyFromSecret([]byte("audit-test-account-newbie"))
	c.keys["newbie"] = newbie
	signed()
	c.block(
		c.govern(&app.Body{Action: &app.RegisterAccount{Account: app.Account{Name: "newbie", Organization: "org-newbie", Threshold: 1,
			Keys: []app.AccountKey{{KeyType: app.KeyEd25519, PublicKey: newbie.PubKey().Bytes(), Weight: 1}}, Grants: []app.Grant{{Role: "member"}}}}}),
		c.govern(&app.Body{Action: &app.CreateAsset{ID: "GOLD", Decimals: 0, Issuers: []app.Issuer{{Account: "admin", Cap: 1_000_000}}}}),
	)
	countOK(2)

	// Round one: every genesis coin pays the next member, change back.
	round1 := make([]app.TxID, 0, members*coinsPerMember)
	var batch [][]byte
	for j := range coinsPerMember {
		for i := range members {
			coin := genesisCoin(i*coinsPerMember + j)
			tx := c.pay(memberName(i), memberName((i+1)%members), coin, coinAmount, firstPay)
			decoded, err := app.DecodeTx(tx)
			if err != nil {
				tb.Fatal(err)
			}
			round1 = append(round1, decoded.ID())
			if batch = append(batch, tx); len(batch) == 50 {
				signed()
				c.block(batch...)
				countOK(len(batch))
				batch = nil
				if hc.transferHeight == 0 {
					hc.transferHeight = c.state.LastBlockHeight
				}
			}
		}
	}

	// A validator joins: blocks from two heights on are signed by five.
	valNew := c.validatorKey("val-new")
	signed()
	c.block(c.govern(&app.Body{Action: &app.SetValidator{Name: "val-new", PublicKey: valNew.PubKey().Bytes(), Power: 10, Operator: "admin"}}))
	countOK(1)

	// Round two: each change output (worth coinAmount-firstPay) pays newbie.
	for k, id := range round1 {
		i := k % members
		tx := c.pay(memberName(i), "newbie", app.Outpoint{TxID: id, Index: 1}, coinAmount-firstPay, secondPay)
		if batch = append(batch, tx); len(batch) == 50 {
			signed()
			c.block(batch...)
			countOK(len(batch))
			batch = nil
			if hc.bigSetHeight == 0 && c.state.LastValidators.Size() == 5 {
				hc.bigSetHeight = c.state.LastBlockHeight
			}
		}
	}

	// Mints, and a burn of part of a minted coin.
	mintUSD := c.govern(&app.Body{Mint: &app.Mint{To: "admin", Asset: "USD", Amount: 10_000}})
	mintGold := c.govern(&app.Body{Mint: &app.Mint{To: "newbie", Asset: "GOLD", Amount: 100}})
	signed()
	c.block(mintUSD, mintGold)
	countOK(2)
	mintID, _ := app.DecodeTx(mintUSD)
	signed()
	c.block(c.govern(&app.Body{Burn: &app.Burn{Inputs: []app.Outpoint{{TxID: mintID.ID(), Index: 0}}, Asset: "USD", Amount: 2_500}}))
	countOK(1)
	hc.usdSupply += 10_000 - 2_500

	// A block the ledger partly rejects: a second spend of a coin, and bytes
	// that are no transaction.
	spent := app.Outpoint{TxID: round1[0], Index: 0} // m01's 7 units
	signed()
	c.block(
		c.pay(memberName(1), memberName(2), spent, firstPay, 1),
		c.pay(memberName(1), memberName(3), spent, firstPay, 2),
		[]byte("not a transaction"),
	)
	countOK(1)
	hc.doubleHeight, hc.doubleIndex = c.state.LastBlockHeight, 1

	// The validator leaves again.
	signed()
	c.block(c.govern(&app.Body{Action: &app.SetValidator{Name: "val-new", PublicKey: valNew.PubKey().Bytes(), Power: 0}}))
	countOK(1)
	for range 3 {
		signed()
		c.block()
	}
	hc.validatorUpdates = 2
	hc.last = c.state.LastBlockHeight
	hc.txs = int64(c.txs)
	c.close()
	return hc
}

func memberName(i int) string { return fmt.Sprintf("m%02d", i) }

// runAudit audits a home with the default config.
func runAudit(t *testing.T, home string) *Report {
	t.Helper()
	src, err := OpenHome(HomeConfig{GenesisFile: filepath.Join(home, "config", "genesis.json"), DBDir: filepath.Join(home, "data")})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cfg := DefaultConfig()
	cfg.WorkDir = t.TempDir()
	cfg.LocalState = filepath.Join(home, "data", "app")
	r, err := Run(context.Background(), cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAuditHealthyChain(t *testing.T) {
	hc := sharedChain(t)
	var progress []Progress
	src, err := OpenHome(HomeConfig{GenesisFile: filepath.Join(hc.home, "config", "genesis.json"), DBDir: filepath.Join(hc.home, "data"), DBBackend: "goleveldb"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cfg := DefaultConfig()
	cfg.WorkDir = t.TempDir()
	cfg.LocalState = filepath.Join(hc.home, "data", "app")
	cfg.SupplyEvery = 10
	cfg.Progress = func(p Progress) { progress = append(progress, p) }
	r, err := Run(context.Background(), cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 0 || r.Severe() != 0 {
		t.Fatalf("got %d findings on a healthy chain, want none:\n%s", len(r.Findings), text(r))
	}
	s := r.Summary
	checks := []struct {
		name      string
		got, want int64
	}{
		{"first height", s.FirstHeight, 1},
		{"last height", s.LastHeight, hc.last},
		{"heights", s.Heights, hc.last},
		{"txs", s.Txs, hc.txs},
		{"txs accepted", s.TxsAccepted, hc.accepted},
		{"txs rejected", s.TxsRejected, hc.txs - hc.accepted},
		{"tx signatures", s.TxSignatures, hc.accepted},
		{"commit signatures", s.CommitSignatures, hc.commitSignatures},
		{"signatures", s.Signatures, hc.accepted + hc.commitSignatures},
		{"validator updates", s.ValidatorUpdates, hc.validatorUpdates},
		{"accounts", int64(s.Accounts), members + 2},
		{"progress calls", int64(len(progress)), hc.last},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("summary %s: got %d, want %d", c.name, c.got, c.want)
		}
	}
	wantAssets := []AssetSupply{{Asset: "GOLD", Supply: 100, Coins: 1}, {Asset: "USD", Supply: hc.usdSupply, Coins: s.Assets[1].Coins}}
	if !slices.Equal(s.Assets, wantAssets) {
		t.Errorf("summary assets: got %+v, want %+v", s.Assets, wantAssets)
	}
	if want := "matches the chain at height"; !strings.HasPrefix(s.LocalState, want) {
		t.Errorf("local state: got %q, want it to start with %q", s.LocalState, want)
	}
	if len(r.Recommendations) != 1 || !strings.HasPrefix(r.Recommendations[0], "No problems found") {
		t.Errorf("recommendations: got %q, want the all-clear", r.Recommendations)
	}
}

// finding is what a test expects of a finding.
type finding struct {
	typ      string
	height   int64
	severity Severity
}

func TestAuditFindsTampering(t *testing.T) {
	hc := sharedChain(t)
	data := func(home string) string { return filepath.Join(home, "data") }
	appDir := func(home string) string { return filepath.Join(home, "data", "app") }
	tests := []struct {
		name   string
		tamper func(t *testing.T, home string) (txid string)
		want   []finding
		// only: no finding of another type may appear.
		only bool
	}{
		{
			name: "tx bytes changed in the block store",
			tamper: func(t *testing.T, home string) string {
				return audittest.RewriteTx(t, data(home), hc.transferHeight, 3).String()
			},
			want: []finding{
				{TypeBlockDataHash, hc.transferHeight, Critical},
				{TypeBlockID, hc.transferHeight, Critical},
				{TypeTxAcceptedButInvalid, hc.transferHeight, Critical},
				{TypeAppHash, hc.transferHeight + 1, Critical},
				{TypeLocalAppHash, hc.last, Critical},
			},
		},
		{
			name: "commit signature changed",
			tamper: func(t *testing.T, home string) string {
				audittest.RewriteCommitSignature(t, data(home), hc.bigSetHeight)
				return ""
			},
			want: []finding{
				{TypeCommitInvalid, hc.bigSetHeight, Critical},
				{TypeLastCommitHash, hc.bigSetHeight + 1, Critical},
				{TypeBlockID, hc.bigSetHeight + 1, Critical},
			},
			only: true,
		},
		{
			name: "recorded result of a valid tx changed to a rejection",
			tamper: func(t *testing.T, home string) string {
				audittest.SetRecordedCode(t, data(home), hc.transferHeight, 5, uint32(app.CodeInvalidSignature))
				return ""
			},
			want: []finding{
				{TypeResultsHash, hc.transferHeight, High},
				{TypeTxRejectedButValid, hc.transferHeight, Critical},
			},
			only: true,
		},
		{
			name: "rejected double spend recorded as a success",
			tamper: func(t *testing.T, home string) string {
				audittest.SetRecordedCode(t, data(home), hc.doubleHeight, hc.doubleIndex, 0)
				return ""
			},
			want: []finding{
				{TypeResultsHash, hc.doubleHeight, High},
				{TypeTxAcceptedButInvalid, hc.doubleHeight, Critical},
				{TypeDoubleSpend, hc.doubleHeight, Critical},
			},
			only: true,
		},
		{
			name: "state value edited below the tree hashes",
			tamper: func(t *testing.T, home string) string {
				audittest.EditStateValue(t, appDir(home), []byte("account/newbie"), func(v []byte) { v[len(v)-1] ^= 0x01 })
				return ""
			},
			want: []finding{{TypeLocalStateDiverges, hc.last, Critical}},
			only: true,
		},
		{
			name: "balance edited in the index",
			tamper: func(t *testing.T, home string) string {
				audittest.EditIndexValue(t, appDir(home), []byte("balance/newbie/USD"), func(v []byte) { v[len(v)-1] ^= 0x01 })
				return ""
			},
			want: []finding{{TypeLocalStateDiverges, hc.last, High}},
			only: true,
		},
		{
			name: "state committed beyond the chain",
			tamper: func(t *testing.T, home string) string {
				audittest.CommitExtraVersion(t, appDir(home), []byte("balance/newbie/USD"), []byte{0x08, 0x2a})
				return ""
			},
			want: []finding{{TypeLocalStateHeight, hc.last + 1, High}},
			only: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home := audittest.CopyHome(t, hc.home)
			txid := tt.tamper(t, home)
			r := runAudit(t, home)
			if r.Severe() == 0 {
				t.Errorf("got no high or critical finding, want some")
			}
			for _, w := range tt.want {
				i := slices.IndexFunc(r.Findings, func(f Finding) bool { return f.Type == w.typ && f.Height == w.height })
				if i < 0 {
					t.Errorf("no %s finding at height %d", w.typ, w.height)
					continue
				}
				if got := r.Findings[i].Severity; got != w.severity {
					t.Errorf("%s: got severity %s, want %s", w.typ, got, w.severity)
				}
			}
			if txid != "" && !slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Type == TypeTxAcceptedButInvalid && f.TxID == txid }) {
				t.Errorf("no %s finding names tx %s", TypeTxAcceptedButInvalid, txid)
			}
			if tt.only {
				for _, f := range r.Findings {
					if !slices.ContainsFunc(tt.want, func(w finding) bool { return w.typ == f.Type }) {
						t.Errorf("unexpected finding %s at height %d: %s", f.Type, f.Height, f.Description)
					}
				}
			}
			if t.Failed() || testing.Verbose() {
				t.Logf("report:\n%s", text(r))
			}
		})
	}
}

func TestAuditLocalStateKeyAndHash(t *testing.T) {
	hc := sharedChain(t)
	home := audittest.CopyHome(t, hc.home)
	audittest.EditStateValue(t, filepath.Join(home, "data", "app"), []byte("account/newbie"), func(v []byte) { v[len(v)-1] ^= 0x01 })
	r := runAudit(t, home)
	if len(r.Findings) != 1 {
		t.Fatalf("got %d findings, want 1:\n%s", len(r.Findings), text(r))
	}
	f := r.Findings[0]
	if f.Key != "account/newbie" {
		t.Errorf("key: got %q, want account/newbie", f.Key)
	}
	if want := "stored hashes were left unchanged"; !strings.Contains(f.Description, want) {
		t.Errorf("description %q does not say %q", f.Description, want)
	}
}

// TestAuditLocalIndexBalance: a balance edited in the index (beside the
// tree, so no hash changes) is found by the key-by-key comparison, with
// both amounts in words.
func TestAuditLocalIndexBalance(t *testing.T) {
	hc := sharedChain(t)
	home := audittest.CopyHome(t, hc.home)
	old, changed := audittest.EditIndexValue(t, filepath.Join(home, "data", "app"), []byte("balance/newbie/USD"), func(v []byte) { v[len(v)-1] ^= 0x01 })
	r := runAudit(t, home)
	if len(r.Findings) != 1 {
		t.Fatalf("got %d findings, want 1:\n%s", len(r.Findings), text(r))
	}
	f := r.Findings[0]
	if f.Key != "balance/newbie/USD" || f.Type != TypeLocalStateDiverges {
		t.Errorf("finding: got %s at key %q, want %s at balance/newbie/USD", f.Type, f.Key, TypeLocalStateDiverges)
	}
	oldAmount, _ := app.DecodeBalance(old)
	newAmount, _ := app.DecodeBalance(changed)
	for _, want := range []string{"a balance of " + strconv.FormatUint(newAmount, 10), "a balance of " + strconv.FormatUint(oldAmount, 10)} {
		if !strings.Contains(f.Description, want) {
			t.Errorf("description %q does not say %q", f.Description, want)
		}
	}
}

func TestAuditOpenHomeWhileNodeRuns(t *testing.T) {
	hc := sharedChain(t)
	home := audittest.CopyHome(t, hc.home)
	db, err := dbm.NewGoLevelDB("blockstore", filepath.Join(home, "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = OpenHome(HomeConfig{GenesisFile: filepath.Join(home, "config", "genesis.json"), DBDir: filepath.Join(home, "data")})
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("got error %v, want ErrInUse", err)
	}
	if !strings.Contains(err.Error(), "stop the node or use --node") {
		t.Errorf("error %q does not say what to do", err)
	}
}

func TestAuditReportJSON(t *testing.T) {
	f := newFindings(1)
	f.addf(TypeAppHash, Critical, 7, "first")
	f.addf(TypeAppHash, Critical, 8, "second, not listed")
	f.addf(TypeBlockTime, Medium, 9, "slow clock")
	a := &auditor{f: f, sum: Summary{ChainID: "c", TxSignatures: 3, CommitSignatures: 4}}
	r := a.report()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Findings []map[string]any `json:"findings"`
		Summary  map[string]any   `json:"summary"`
		Supp     map[string]int   `json:"suppressed"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Findings) != 2 {
		t.Fatalf("findings: got %d, want 2 (one app hash listed, one suppressed, one block time)", len(got.Findings))
	}
	for _, k := range []string{"type", "severity", "height", "description"} {
		if _, ok := got.Findings[0][k]; !ok {
			t.Errorf("finding has no %q: %v", k, got.Findings[0])
		}
	}
	for _, k := range []string{"heights", "txs", "signatures", "tx_signatures", "commit_signatures", "by_severity"} {
		if _, ok := got.Summary[k]; !ok {
			t.Errorf("summary has no %q", k)
		}
	}
	if got.Summary["signatures"] != float64(7) {
		t.Errorf("signatures: got %v, want 7", got.Summary["signatures"])
	}
	if got.Supp[TypeAppHash] != 1 {
		t.Errorf("suppressed: got %v, want 1 %s", got.Supp, TypeAppHash)
	}
	if r.Severe() != 2 {
		t.Errorf("severe: got %d, want 2 (suppressed ones count)", r.Severe())
	}
	out := text(r)
	for _, want := range []string{"CRITICAL", "app_hash_mismatch", "height 7", "1 more app_hash_mismatch", "recommendations:"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}

func text(r *Report) string {
	var b bytes.Buffer
	r.WriteText(&b)
	return b.String()
}
