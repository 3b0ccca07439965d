package abci

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	cmtabci "github.com/cometbft/cometbft/abci/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/internal/promreg"
)

// MetricsNamespace prefixes every metric of this package: consort_...
const MetricsNamespace = "consort"

// Transaction types, the "type" label of the transaction counters.
const (
	TxTypeTransfer   = "transfer"
	TxTypeMint       = "mint"
	TxTypeBurn       = "burn"
	TxTypeGovernance = "governance"
	TxTypeInvalid    = "invalid" // the bytes do not decode as a transaction with one message
)

// Stages, the "stage" label of consort_tx_rejections_total.
const (
	StageCheck = "check" // CheckTx of a new transaction
	StageBlock = "block" // execution in a finalized block
)

// Metrics are what the ABCI adapter measures. Build them with
// PrometheusMetrics to export them, or NopMetrics to record nothing anyone
// reads. Measuring never changes an answer: FinalizeBlock results are the
// same with either.
type Metrics struct {
	// Txs counts transactions executed in finalized blocks by type and
	// result code (0 = applied): consort_txs_total{type,code}.
	Txs *prometheus.CounterVec
	// CheckTxs counts this node's CheckTx answers to new transactions (not
	// rechecks) by type and result code: consort_check_txs_total{type,code}.
	CheckTxs *prometheus.CounterVec
	// Rejections counts rejected transactions by the name of their code
	// (paused, not_permitted, invalid_signature, pow, ...) and stage:
	// consort_tx_rejections_total{stage,by,reason}.
	Rejections *prometheus.CounterVec
	// RateLimited counts new transactions refused by this node's
	// per-account rate limit: consort_rate_limited_txs_total.
	RateLimited prometheus.Counter

	// CheckTxDuration is the time CheckTx takes, rechecks included:
	// consort_check_tx_duration_seconds.
	CheckTxDuration prometheus.Histogram
	// FinalizeBlockDuration is the time executing a block takes:
	// consort_finalize_block_duration_seconds.
	FinalizeBlockDuration prometheus.Histogram
	// CommitDuration is the time saving a block's state to disk takes, in
	// the background after Commit: consort_commit_duration_seconds.
	CommitDuration prometheus.Histogram
	// OldestVersion is the oldest height whose ledger state is still on
	// disk, after pruning (state.keep_versions):
	// consort_state_oldest_version.
	OldestVersion prometheus.Gauge

	// Supply is the total supply of an asset in base units, read after each
	// block for the assets a block minted, burned or created since this
	// process started, and the genesis assets when it started the chain
	// (InitChain): consort_asset_supply{asset}. An asset untouched since a
	// restart has no series until a block touches it.
	Supply *prometheus.GaugeVec
	// Paused is 1 while a global pause is in force for the next block, else
	// 0: consort_paused.
	Paused prometheus.Gauge
	// UTXOs and Accounts are the ledger's counts after the last commit.
	UTXOs    prometheus.Gauge
	Accounts prometheus.Gauge
	// Height is the last height the ledger committed: consort_committed_height.
	Height prometheus.Gauge
	// ValidatorsPunished counts validators whose power the ledger took away
	// for misbehaviour CometBFT committed: consort_validators_punished_total.
	ValidatorsPunished prometheus.Counter
}

// PrometheusMetrics returns metrics registered with reg. A collector that
// reg already holds (a second Application in one process) is shared, not an
// error.
func PrometheusMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := newMetrics()
	r := promreg.New(reg)
	m.Txs = promreg.Register(r, m.Txs)
	m.CheckTxs = promreg.Register(r, m.CheckTxs)
	m.Rejections = promreg.Register(r, m.Rejections)
	m.RateLimited = promreg.Register(r, m.RateLimited)
	m.CheckTxDuration = promreg.Register(r, m.CheckTxDuration)
	m.FinalizeBlockDuration = promreg.Register(r, m.FinalizeBlockDuration)
	m.CommitDuration = promreg.Register(r, m.CommitDuration)
	m.OldestVersion = promreg.Register(r, m.OldestVersion)
	m.Supply = promreg.Register(r, m.Supply)
	m.Paused = promreg.Register(r, m.Paused)
	m.UTXOs = promreg.Register(r, m.UTXOs)
	m.Accounts = promreg.Register(r, m.Accounts)
	m.Height = promreg.Register(r, m.Height)
	m.ValidatorsPunished = promreg.Register(r, m.ValidatorsPunished)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("register consort metrics: %w", err)
	}
	return m, nil
}

// NopMetrics returns metrics that no registry exports, for tests and for
// nodes that run without Prometheus.
func NopMetrics() *Metrics { return newMetrics() }

func newMetrics() *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: MetricsNamespace, Name: name, Help: help}, labels)
	}
	histogram := func(name, help string, buckets []float64) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: MetricsNamespace, Name: name, Help: help, Buckets: buckets})
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: MetricsNamespace, Name: name, Help: help})
	}
	return &Metrics{
		Txs:        counter("txs_total", "Transactions executed in finalized blocks, by type and result code (0 = applied).", "type", "code"),
		CheckTxs:   counter("check_txs_total", "CheckTx answers to new transactions, by type and result code (0 = admitted to the mempool).", "type", "code"),
		Rejections: counter("tx_rejections_total", "Rejected transactions by stage (check, block), the part of the ledger that refused them (ledger or module:NAME) and reason (the result code's name).", "stage", "by", "reason"),
		RateLimited: prometheus.NewCounter(prometheus.CounterOpts{Namespace: MetricsNamespace, Name: "rate_limited_txs_total",
			Help: "New transactions refused by this node's per-account rate limit."}),
		// 100µs to ~3.3s: a signature check is tens of µs, a slow disk read ms.
		CheckTxDuration:       histogram("check_tx_duration_seconds", "Time CheckTx takes, rechecks included.", prometheus.ExponentialBuckets(0.0001, 2, 16)),
		FinalizeBlockDuration: histogram("finalize_block_duration_seconds", "Time executing a finalized block takes.", prometheus.ExponentialBuckets(0.001, 2, 14)),
		CommitDuration:        histogram("commit_duration_seconds", "Time saving a block's state to disk takes (in the background, after Commit).", prometheus.ExponentialBuckets(0.001, 2, 14)),
		Supply: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: MetricsNamespace, Name: "asset_supply",
			Help: "Total supply of an asset in base units (exact below 2^53), for the assets minted, burned or created since the node started (and genesis assets on a node that ran genesis)."}, []string{"asset"}),
		OldestVersion: gauge("state_oldest_version", "Oldest height whose ledger state is still on disk (state.keep_versions prunes older ones)."),
		Paused:        gauge("paused", "1 while a global pause is in force for the next block, else 0."),
		UTXOs:         gauge("utxos", "Unspent outputs after the last commit."),
		Accounts:      gauge("accounts", "Registered accounts after the last commit."),
		Height:        gauge("committed_height", "Last height the ledger committed."),
		ValidatorsPunished: prometheus.NewCounter(prometheus.CounterOpts{Namespace: MetricsNamespace, Name: "validators_punished_total",
			Help: "Validators whose voting power the ledger took away for misbehaviour (duplicate votes, light client attacks) committed as evidence."}),
	}
}

// Option configures an Application.
type Option func(*Application)

// WithMetrics makes the Application record into m; nil keeps the default,
// NopMetrics().
func WithMetrics(m *Metrics) Option {
	return func(a *Application) {
		if m != nil {
			a.metrics = m
		}
	}
}

// codeNames are the names of docs/wire-format.md's result code table, in
// lower case: the reason label of consort_tx_rejections_total.
var codeNames = map[app.Code]string{
	app.CodeOK:                 "ok",
	app.CodeMalformed:          "malformed",
	app.CodeUnsupportedVersion: "unsupported_version",
	app.CodeWrongChainID:       "wrong_chain_id",
	app.CodeTooLarge:           "too_large",
	app.CodeUnknownAccount:     "unknown_account",
	app.CodeUnknownAsset:       "unknown_asset",
	app.CodeInputNotFound:      "input_not_found",
	app.CodeDuplicateInput:     "duplicate_input",
	app.CodeInvalidSignature:   "invalid_signature",
	app.CodeThresholdNotMet:    "threshold_not_met",
	app.CodeUnbalanced:         "unbalanced",
	app.CodeOverflow:           "overflow",
	app.CodeZeroAmount:         "zero_amount",
	app.CodeEmptyTransfer:      "empty_transfer",
	app.CodeMempoolConflict:    "mempool_conflict",
	app.CodeDuplicateOutput:    "duplicate_output",
	app.CodeUnexpectedSigner:   "unexpected_signer",
	app.CodeAccountFrozen:      "account_frozen",
	app.CodeInvalidField:       "invalid_field",
	app.CodeNotFound:           "not_found",
	app.CodePaused:             "paused",
	app.CodeReplay:             "replay",
	app.CodeNotPermitted:       "not_permitted",
	app.CodeNotApproved:        "not_approved",
	app.CodeRateLimited:        "rate_limited",
	app.CodeInvalidAction:      "invalid_action",
	app.CodeValidatorChange:    "validator_change",
	app.CodeCapExceeded:        "cap_exceeded",
	app.CodePoW:                "pow",
	app.CodeInternal:           "internal",
}

// CodeName is the name of a result code as docs/wire-format.md lists it, in
// lower case; "code_N" for a code it does not know.
func CodeName(c app.Code) string {
	if name, ok := codeNames[c]; ok {
		return name
	}
	return "code_" + strconv.FormatUint(uint64(c), 10)
}

// txKind is what the metrics need of a transaction's bytes: its type and,
// for a mint, burn or create_asset, the asset whose supply it may change.
func txKind(b []byte) (typ, asset string) {
	tx, err := app.DecodeTx(b)
	if err != nil {
		return TxTypeInvalid, ""
	}
	switch body := tx.Body; {
	case body.Transfer != nil:
		return TxTypeTransfer, ""
	case body.Mint != nil:
		return TxTypeMint, body.Mint.Asset
	case body.Burn != nil:
		return TxTypeBurn, body.Burn.Asset
	case body.Action != nil:
		if c, ok := body.Action.(*app.CreateAsset); ok {
			return TxTypeGovernance, c.ID
		}
		return TxTypeGovernance, ""
	}
	return TxTypeInvalid, ""
}

func codeLabel(code uint32) string { return strconv.FormatUint(uint64(code), 10) }

// checkTxDone records a CheckTx answer; deferred by CheckTx with its start
// time and a pointer to its named result.
func (m *Metrics) checkTxDone(start time.Time, req *cmtabci.RequestCheckTx, res **cmtabci.ResponseCheckTx) {
	m.CheckTxDuration.Observe(time.Since(start).Seconds())
	if req.Type != cmtabci.CheckTxType_New || *res == nil {
		return
	}
	code := (*res).Code
	typ, _ := txKind(req.Tx)
	m.CheckTxs.WithLabelValues(typ, codeLabel(code)).Inc()
	if code == cmtabci.CodeTypeOK {
		return
	}
	m.Rejections.WithLabelValues(StageCheck, (*res).Info, CodeName(app.Code(code))).Inc()
	if app.Code(code) == app.CodeRateLimited {
		m.RateLimited.Inc()
	}
}

// since observes the time from start in h; deferred with time.Now().
func since(h prometheus.Histogram, start time.Time) { h.Observe(time.Since(start).Seconds()) }

// ledgerGauges keeps the gauges that read ledger state (supply, pause)
// current: FinalizeBlock notes the assets a block may have changed, Commit
// reads them back from the state it just saved. Node-local: nothing here
// feeds back into a block.
type ledgerGauges struct {
	mu     sync.Mutex
	assets map[string]bool // to read after the next commit
}

// note marks assets to read after the next commit.
func (g *ledgerGauges) note(assets ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.assets == nil {
		g.assets = map[string]bool{}
	}
	for _, a := range assets {
		if a != "" {
			g.assets[a] = true
		}
	}
}

// take returns the noted assets, sorted, and forgets them.
func (g *ledgerGauges) take() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	list := make([]string, 0, len(g.assets))
	for a := range g.assets {
		list = append(list, a)
	}
	g.assets = nil
	slices.Sort(list)
	return list
}

// observeGenesis notes the genesis assets, read after the first commit.
func (a *Application) observeGenesis(appState []byte) {
	g, err := app.ParseGenesis(appState)
	if err != nil {
		return // InitChain has already refused it
	}
	for _, asset := range g.Assets {
		a.gauges.note(asset.ID)
	}
}

// observeBlock counts a block's transactions and notes the assets whose
// supply the applied ones may have changed.
func (a *Application) observeBlock(txs [][]byte, results []app.TxResult) {
	for i, r := range results {
		if r.Code != app.CodeOK {
			typ, _ := txKind(txs[i])
			a.metrics.Txs.WithLabelValues(typ, codeLabel(uint32(r.Code))).Inc()
			a.metrics.Rejections.WithLabelValues(StageBlock, rejectedBy(r.Module), CodeName(r.Code)).Inc()
			continue
		}
		typ, asset, ok := appliedKind(r.Events)
		if !ok {
			typ, asset = txKind(txs[i])
		}
		a.metrics.Txs.WithLabelValues(typ, codeLabel(uint32(r.Code))).Inc()
		a.gauges.note(asset)
	}
}

// appliedKind is txKind for an applied transaction, read from the events
// docs/wire-format.md (§8) documents instead of decoding the bytes a second
// time on the block path. ok is false when no event says.
func appliedKind(events []app.Event) (typ, asset string, ok bool) {
	attr := func(e app.Event, key string) string {
		for _, at := range e.Attributes {
			if at.Key == key {
				return at.Value
			}
		}
		return ""
	}
	for _, e := range events {
		switch e.Type {
		case TxTypeTransfer:
			return TxTypeTransfer, "", true
		case TxTypeMint, TxTypeBurn:
			return e.Type, attr(e, "asset"), true
		case TxTypeGovernance:
			if attr(e, "action") == "create_asset" {
				return TxTypeGovernance, attr(e, "target"), true
			}
			return TxTypeGovernance, "", true
		}
	}
	return "", "", false
}

// observeCommit brings the ledger gauges up to date with the state just
// committed at height.
func (a *Application) observeCommit(height int64) {
	a.observeMu.Lock()
	defer a.observeMu.Unlock()
	if height <= a.lastObserved {
		return // a later commit's update ran first and read a newer state
	}
	a.lastObserved = height
	a.metrics.Height.Set(float64(height))
	a.metrics.OldestVersion.Set(float64(a.ledger.OldestVersion()))
	for _, id := range a.gauges.take() {
		res, err := a.ledger.Query("/asset/"+id, 0, false)
		if err != nil || res == nil {
			a.log.Debug().Err(err).Int64("height", height).Str("asset", id).Msg("metrics: cannot read asset")
			continue
		}
		asset, err := app.DecodeAsset(res.Value)
		if err != nil {
			a.log.Debug().Err(err).Int64("height", height).Str("asset", id).Msg("metrics: cannot decode asset")
			continue
		}
		a.metrics.Supply.WithLabelValues(asset.ID).Set(float64(asset.Supply))
	}
	paused := 0.0
	if res, err := a.ledger.Query("/pause/*", 0, false); err != nil {
		a.log.Debug().Err(err).Int64("height", height).Msg("metrics: cannot read the global pause")
	} else if res != nil && res.Value != nil {
		p, err := app.DecodePause(res.Value)
		until := p.Until
		if err != nil {
			a.log.Debug().Err(err).Int64("height", height).Msg("metrics: cannot decode the global pause")
		}
		// As policy.Pause.Active for the next block.
		if err != nil || until == 0 || height+1 < until {
			paused = 1
		}
	}
	a.metrics.Paused.Set(paused)
	if stats, err := app.LoadStats(a.ledger.Committed()); err != nil {
		a.log.Debug().Err(err).Int64("height", height).Msg("metrics: cannot read the ledger's counts")
	} else {
		a.metrics.UTXOs.Set(float64(stats.UTXOs))
		a.metrics.Accounts.Set(float64(stats.Accounts))
	}
}
