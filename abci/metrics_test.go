package abci

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	cmtabci "github.com/cometbft/cometbft/abci/types"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/app"
)

// meteredChain is an Application with Prometheus metrics on a private
// registry, after genesis and an empty block 1. Genesis: asset USD issued
// by admin (roles admin and issuer); alice holds coin 0, 1000.00 USD.
type meteredChain struct {
	t                 *testing.T
	app               *Application
	m                 *Metrics
	reg               *prometheus.Registry
	admin, alice, bob cmted25519.PrivKey
	coin              app.Outpoint
	height            int64
	nonce             uint64
	genesisUSD        uint64
}

func newMeteredChain(t *testing.T) *meteredChain {
	t.Helper()
	store, err := app.OpenStore(t.TempDir(), app.DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	reg := prometheus.NewRegistry()
	m, err := PrometheusMetrics(reg)
	if err != nil {
		t.Fatalf("PrometheusMetrics: %v", err)
	}
	c := &meteredChain{
		t: t, m: m, reg: reg, app: New(DefaultConfig(), app.New(store), zerolog.Nop(), WithMetrics(m)),
		admin:      cmted25519.GenPrivKeyFromSecret([]byte("metrics/admin")),
		alice:      cmted25519.GenPrivKeyFromSecret([]byte("metrics/alice")),
		bob:        cmted25519.GenPrivKeyFromSecret([]byte("metrics/bob")),
		genesisUSD: 100000,
	}
	key := func(k cmted25519.PrivKey) []app.GenesisKey {
		return []app.GenesisKey{{Type: "ed25519", PublicKey: base64.StdEncoding.EncodeToString(k.PubKey().Bytes())}}
	}
	appState, err := json.Marshal(app.Genesis{
		Assets: []app.GenesisAsset{{ID: "USD", Decimals: 2, Issuers: []app.GenesisIssuer{{Account: "admin"}}}},
		Accounts: []app.GenesisAccount{
			{Name: "admin", Organization: "bank-a", Roles: []string{"admin", "issuer"}, Keys: key(c.admin)},
			{Name: "alice", Roles: []string{"member"}, Keys: key(c.alice)},
			{Name: "bob", Roles: []string{"member"}, Keys: key(c.bob)},
		},
		UTXOs: []app.GenesisUTXO{{Owner: "alice", Asset: "USD", Amount: strconv.FormatUint(c.genesisUSD, 10)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	val := cmted25519.GenPrivKeyFromSecret([]byte("metrics/validator")).PubKey().Bytes()
	if _, err := c.app.InitChain(context.Background(), &cmtabci.RequestInitChain{
		ChainId: testChainID, InitialHeight: 1, AppStateBytes: appState,
		Validators: []cmtabci.ValidatorUpdate{cmtabci.Ed25519ValidatorUpdate(val, 10)},
	}); err != nil {
		t.Fatalf("InitChain: %v", err)
	}
	c.coin = app.Outpoint{TxID: app.GenesisTxID(testChainID), Index: 0}
	c.block()
	return c
}

// sign encodes body signed by keys; a body that spends no coin gets a
// fresh nonce.
func (c *meteredChain) sign(body *app.Body, keys ...cmted25519.PrivKey) []byte {
	c.t.Helper()
	body.Version, body.ChainID = app.TxVersion, testChainID
	if body.Transfer == nil && body.Burn == nil {
		c.nonce++
		body.Nonce = c.nonce
	}
	tx := &app.Tx{BodyBytes: app.EncodeBody(body)}
	for _, k := range keys {
		sig, err := k.Sign(tx.BodyBytes)
		if err != nil {
			c.t.Fatal(err)
		}
		tx.Signatures = append(tx.Signatures, app.Signature{KeyType: app.KeyEd25519, PublicKey: k.PubKey().Bytes(), Signature: sig})
	}
	sort.Slice(tx.Signatures, func(i, j int) bool {
		return bytes.Compare(tx.Signatures[i].PublicKey, tx.Signatures[j].PublicKey) < 0
	})
	return tx.Encode()
}

func (c *meteredChain) pay(in app.Outpoint, to string, amount uint64, key cmted25519.PrivKey) []byte {
	return c.sign(&app.Body{Transfer: &app.Transfer{Inputs: []app.Outpoint{in}, Outputs: []app.Output{{Owner: to, Asset: "USD", Amount: amount}}}}, key)
}

// block finalizes and commits txs as the next block and returns the codes.
func (c *meteredChain) block(txs ...[]byte) []uint32 {
	c.t.Helper()
	res, err := c.app.FinalizeBlock(context.Background(), &cmtabci.RequestFinalizeBlock{Height: c.height + 1, Txs: txs})
	if err != nil {
		c.t.Fatalf("FinalizeBlock %d: %v", c.height+1, err)
	}
	if _, err := c.app.Commit(context.Background(), &cmtabci.RequestCommit{}); err != nil {
		c.t.Fatalf("Commit: %v", err)
	}
	// The state is saved, and the gauges updated, beside the consensus
	// goroutine.
	if err := c.app.ledger.Saved(); err != nil {
		c.t.Fatalf("save: %v", err)
	}
	c.app.observing.Wait()
	c.height++
	codes := make([]uint32, len(res.TxResults))
	for i, r := range res.TxResults {
		codes[i] = r.Code
		if r.Code != 0 {
			c.t.Logf("block %d tx %d: code %d: %s", c.height, i, r.Code, r.Log)
		}
	}
	return codes
}

func (c *meteredChain) checkTx(tx []byte, typ cmtabci.CheckTxType) uint32 {
	c.t.Helper()
	res, err := c.app.CheckTx(context.Background(), &cmtabci.RequestCheckTx{Tx: tx, Type: typ})
	if err != nil {
		c.t.Fatalf("CheckTx: %v", err)
	}
	return res.Code
}

// want compares a counter or gauge with its expected value.
func want(t *testing.T, name string, m prometheus.Metric, v float64) {
	t.Helper()
	var got dto.Metric
	if err := m.Write(&got); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	value := got.GetCounter().GetValue() + got.GetGauge().GetValue()
	if value != v {
		t.Errorf("%s: got %v, want %v", name, value, v)
	}
}

// histogramCount is how many observations histogram h holds.
func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func TestMetricsGenesisAndCommit(t *testing.T) {
	c := newMeteredChain(t)
	want(t, "supply of USD after genesis", c.m.Supply.WithLabelValues("USD"), float64(c.genesisUSD))
	want(t, "paused", c.m.Paused, 0)
	want(t, "committed height", c.m.Height, 1)
	want(t, "unspent outputs after genesis (alice's one coin)", c.m.UTXOs, 1)
	want(t, "accounts after genesis (admin, alice, bob)", c.m.Accounts, 3)
	if n := histogramCount(t, c.reg, "consort_finalize_block_duration_seconds"); n != 1 {
		t.Errorf("finalize block observations: got %d, want 1", n)
	}
	if n := histogramCount(t, c.reg, "consort_commit_duration_seconds"); n != 1 {
		t.Errorf("commit observations: got %d, want 1", n)
	}
}

func TestMetricsCheckTx(t *testing.T) {
	c := newMeteredChain(t)
	pay := c.pay(c.coin, "bob", c.genesisUSD, c.alice)
	steps := []struct {
		name string
		tx   []byte
		typ  cmtabci.CheckTxType
		want uint32
	}{
		{"transfer", pay, cmtabci.CheckTxType_New, 0},
		{"recheck of it, not counted", pay, cmtabci.CheckTxType_Recheck, 0},
		{"second spend", c.pay(c.coin, "admin", c.genesisUSD, c.alice), cmtabci.CheckTxType_New, uint32(app.CodeMempoolConflict)},
		{"garbage", garbage, cmtabci.CheckTxType_New, uint32(app.CodeMalformed)},
	}
	for _, s := range steps {
		if got := c.checkTx(s.tx, s.typ); got != s.want {
			t.Fatalf("%s: got code %d, want %d", s.name, got, s.want)
		}
	}
	want(t, `check_txs_total{transfer,0}`, c.m.CheckTxs.WithLabelValues(TxTypeTransfer, "0"), 1)
	want(t, `check_txs_total{transfer,15}`, c.m.CheckTxs.WithLabelValues(TxTypeTransfer, "15"), 1)
	want(t, `check_txs_total{invalid,1}`, c.m.CheckTxs.WithLabelValues(TxTypeInvalid, "1"), 1)
	want(t, `tx_rejections_total{check,mempool_conflict}`, c.m.Rejections.WithLabelValues(StageCheck, "ledger", "mempool_conflict"), 1)
	want(t, `tx_rejections_total{check,malformed}`, c.m.Rejections.WithLabelValues(StageCheck, "ledger", "malformed"), 1)
	if n := histogramCount(t, c.reg, "consort_check_tx_duration_seconds"); n != uint64(len(steps)) {
		t.Errorf("check tx observations: got %d, want %d (rechecks are timed too)", n, len(steps))
	}

	// The rate limit: alice's bucket holds one transaction.
	now := time.Unix(1_000_000, 0)
	c.app.limiter = newLimiter(RateLimit{Rate: 1, Burst: 1}, func() time.Time { return now })
	c.checkTx(c.pay(c.coin, "bob", c.genesisUSD, c.alice), cmtabci.CheckTxType_New)
	if got := c.checkTx(c.pay(c.coin, "admin", c.genesisUSD, c.alice), cmtabci.CheckTxType_New); got != uint32(app.CodeRateLimited) {
		t.Fatalf("second payment in the window: got code %d, want %d", got, app.CodeRateLimited)
	}
	want(t, "rate_limited_txs_total", c.m.RateLimited, 1)
	want(t, `tx_rejections_total{check,rate_limited}`, c.m.Rejections.WithLabelValues(StageCheck, "mempool", "rate_limited"), 1)
	want(t, `check_txs_total{transfer,25}`, c.m.CheckTxs.WithLabelValues(TxTypeTransfer, "25"), 1)
}

func TestMetricsBlocks(t *testing.T) {
	c := newMeteredChain(t)
	mint := c.sign(&app.Body{Mint: &app.Mint{To: "alice", Asset: "USD", Amount: 500}}, c.admin)
	createEUR := c.sign(&app.Body{Action: &app.CreateAsset{ID: "EUR", Decimals: 2}}, c.admin)
	pause := c.sign(&app.Body{Action: &app.Pause{}}, c.admin)
	unknownCoin := c.pay(app.Outpoint{Index: 9}, "bob", 1, c.alice)
	codes := c.block(mint, createEUR, pause, garbage, unknownCoin)
	if wantCodes := []uint32{0, 0, 0, uint32(app.CodeMalformed), uint32(app.CodeInputNotFound)}; !slicesEqual(codes, wantCodes) {
		t.Fatalf("block 2 codes: got %v, want %v", codes, wantCodes)
	}
	want(t, `txs_total{mint,0}`, c.m.Txs.WithLabelValues(TxTypeMint, "0"), 1)
	want(t, `txs_total{governance,0}`, c.m.Txs.WithLabelValues(TxTypeGovernance, "0"), 2)
	if !hasSeries(t, c.reg, "consort_asset_supply", "asset", "EUR") {
		t.Error("no supply series for EUR, created in block 2")
	}
	want(t, `txs_total{invalid,1}`, c.m.Txs.WithLabelValues(TxTypeInvalid, "1"), 1)
	want(t, `txs_total{transfer,7}`, c.m.Txs.WithLabelValues(TxTypeTransfer, "7"), 1)
	want(t, `tx_rejections_total{block,input_not_found}`, c.m.Rejections.WithLabelValues(StageBlock, "ledger", "input_not_found"), 1)
	want(t, "supply of USD after the mint", c.m.Supply.WithLabelValues("USD"), float64(c.genesisUSD+500))
	want(t, "paused after the pause", c.m.Paused, 1)
	want(t, "committed height", c.m.Height, 2)

	// While paused, the transfer is rejected in the block with reason paused.
	if codes := c.block(c.pay(c.coin, "bob", c.genesisUSD, c.alice)); codes[0] != uint32(app.CodePaused) {
		t.Fatalf("transfer while paused: got code %d, want %d", codes[0], app.CodePaused)
	}
	want(t, `tx_rejections_total{block,paused}`, c.m.Rejections.WithLabelValues(StageBlock, "module:policy", "paused"), 1)

	unpause := c.sign(&app.Body{Action: &app.Unpause{}}, c.admin)
	if codes := c.block(unpause); codes[0] != 0 {
		t.Fatalf("unpause: got code %d, want 0", codes[0])
	}
	want(t, "paused after the unpause", c.m.Paused, 0)

	// A pause with an end: in force for the block before Until, over at Until.
	until := c.height + 3
	if codes := c.block(c.sign(&app.Body{Action: &app.Pause{Until: until}}, c.admin)); codes[0] != 0 {
		t.Fatalf("pause until %d: got code %d, want 0", until, codes[0])
	}
	want(t, "paused with block "+strconv.FormatInt(c.height+1, 10)+" next", c.m.Paused, 1)
	c.block()
	want(t, "paused with block "+strconv.FormatInt(c.height+1, 10)+" (= until) next", c.m.Paused, 0)
}

// hasSeries reports whether reg exports a series of family name with the
// label set to value.
func hasSeries(t *testing.T, reg *prometheus.Registry, name, label, value string) bool {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return true
				}
			}
		}
	}
	return false
}

// TestAppliedKindAgreesWithDecoding: the events FinalizeBlock reads the
// type from say what decoding the transaction says.
func TestAppliedKindAgreesWithDecoding(t *testing.T) {
	c := newMeteredChain(t)
	txs := [][]byte{
		c.pay(c.coin, "bob", c.genesisUSD, c.alice),
		c.sign(&app.Body{Mint: &app.Mint{To: "alice", Asset: "USD", Amount: 7}}, c.admin),
		c.sign(&app.Body{Action: &app.CreateAsset{ID: "EUR", Decimals: 2}}, c.admin),
		c.sign(&app.Body{Action: &app.Pause{Asset: "USD"}}, c.admin),
	}
	res, err := c.app.ledger.ExecuteBlock(c.height+1, txs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res.Txs {
		if r.Code != app.CodeOK {
			t.Fatalf("tx %d: got code %d (%s), want 0", i, r.Code, r.Log)
		}
		typ, asset, ok := appliedKind(r.Events)
		wantTyp, wantAsset := txKind(txs[i])
		if !ok || typ != wantTyp || asset != wantAsset {
			t.Errorf("tx %d: events say %q %q (ok %v), decoding says %q %q", i, typ, asset, ok, wantTyp, wantAsset)
		}
	}
}

func slicesEqual(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPrometheusMetricsTwiceShares(t *testing.T) {
	reg := prometheus.NewRegistry()
	first, err := PrometheusMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	second, err := PrometheusMetrics(reg)
	if err != nil {
		t.Fatalf("second registration: got %v, want the first's collectors shared", err)
	}
	second.RateLimited.Inc()
	second.Txs.WithLabelValues(TxTypeMint, "0").Inc()
	want(t, "rate limited, through the first", first.RateLimited, 1)
	want(t, "txs, through the first", first.Txs.WithLabelValues(TxTypeMint, "0"), 1)
}

func TestDecodePauseUntil(t *testing.T) {
	tests := []struct {
		name    string
		record  []byte
		want    int64
		wantErr bool
	}{
		{"global, until lifted", []byte{0x0a, 0x01, '*'}, 0, false},
		{"asset, until height 300", []byte{0x0a, 0x03, 'U', 'S', 'D', 0x10, 0xac, 0x02}, 300, false},
		{"until first", []byte{0x10, 0x05, 0x0a, 0x01, '*'}, 5, false},
		{"truncated string", []byte{0x0a, 0x05, '*'}, 0, true},
		{"truncated varint", []byte{0x10, 0x80}, 0, true},
		{"fixed64 field", []byte{0x09, 1, 2, 3, 4, 5, 6, 7, 8}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := app.DecodePause(tt.record)
			if (err != nil) != tt.wantErr || (err == nil && p.Until != tt.want) {
				t.Fatalf("got %d, %v; want %d, error %v", p.Until, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestCodeNamesMatchDocs keeps the reason label in step with the result
// code table of docs/wire-format.md, the one documented list of codes.
func TestCodeNamesMatchDocs(t *testing.T) {
	f, err := os.Open("../docs/wire-format.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile(`^\|\s*(\d+)\s*\|\s*([A-Z_]+)\s*\|`)
	seen := 0
	for s := bufio.NewScanner(f); s.Scan(); {
		m := row.FindStringSubmatch(s.Text())
		if m == nil {
			continue
		}
		code, _ := strconv.ParseUint(m[1], 10, 32)
		if got, want := CodeName(app.Code(code)), strings.ToLower(m[2]); got != want {
			t.Errorf("code %d: got name %q, want %q as docs/wire-format.md names it (update codeNames in abci/metrics.go)", code, got, want)
		}
		seen++
	}
	if seen < 20 {
		t.Fatalf("found %d code rows in docs/wire-format.md, want the whole table", seen)
	}
	if got := CodeName(app.Code(77)); got != "code_77" {
		t.Errorf("unknown code: got %q, want code_77", got)
	}
}
