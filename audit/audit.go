package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	cmtabci "github.com/cometbft/cometbft/abci/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/consort-ledger/consort/app"
)

// Config tunes an audit.
type Config struct {
	// WorkDir is where the replayed state (and the copy of LocalState) is
	// kept while the audit runs; both are removed at the end. Default: the
	// system's temporary folder.
	WorkDir string
	// LocalState is a node's ledger folder (HOME/data/app) to compare with
	// the replay; empty: no comparison. It is copied first and never
	// written. The node must be stopped.
	LocalState string
	// SupplyEvery checks supply conservation at every height that is a
	// multiple of it, besides the last height. Default 0: the last height only.
	SupplyEvery int64
	// MaxFindingsPerType bounds how many findings of one type the report
	// lists; the others are counted in Report.Suppressed. Default 50.
	MaxFindingsPerType int
	// Fetchers is how many blocks are read ahead at once. Default 8.
	Fetchers int
	// Progress, if set, is called after each block is checked.
	Progress func(Progress)
	// AppOptions configure the replaying ledger, for binaries built with
	// validation modules of their own (app.WithModule). Default: none.
	AppOptions []app.Option
}

// DefaultConfig returns the defaults stated in Config.
func DefaultConfig() Config { return Config{MaxFindingsPerType: 50, Fetchers: 8} }

// Progress says how far an audit is.
type Progress struct {
	Height, First, Last int64 // the height just checked, of First..Last
	Txs                 int64 // transactions replayed so far
}

// auditor holds the state of one run.
type auditor struct {
	cfg     Config
	src     Source
	chainID string
	f       *findings
	sum     Summary
	replay  *replay
	chain   *chainState
	ledger  *ledgerState
	missing missingResults
}

// Run replays and checks the whole history src holds. An error means the
// audit could not be carried out (unreachable node, unreadable genesis);
// problems in the chain itself are findings in the report.
func Run(ctx context.Context, cfg Config, src Source) (*Report, error) {
	def := DefaultConfig()
	if cfg.MaxFindingsPerType <= 0 {
		cfg.MaxFindingsPerType = def.MaxFindingsPerType
	}
	if cfg.Fetchers <= 0 {
		cfg.Fetchers = def.Fetchers
	}
	genesis, err := src.Genesis(ctx)
	if err != nil {
		return nil, err
	}
	base, top, err := src.Heights(ctx)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(cfg.WorkDir, "consort-audit-")
	if err != nil {
		return nil, fmt.Errorf("audit work folder: %w", err)
	}
	defer os.RemoveAll(work)

	a := &auditor{cfg: cfg, src: src, chainID: genesis.ChainID, f: newFindings(cfg.MaxFindingsPerType)}
	a.sum = Summary{ChainID: genesis.ChainID, Source: src.Name(), LocalState: "not compared", Assets: []AssetSupply{}}
	if a.replay, err = newReplay(filepath.Join(work, "replay"), genesis, cfg.AppOptions); err != nil {
		return nil, err
	}
	defer a.replay.close()
	if a.chain, err = newChainState(genesis, a.replay.initHash); err != nil {
		return nil, err
	}
	if a.ledger, err = newLedgerState(genesis); err != nil {
		return nil, err
	}

	first := genesis.InitialHeight
	last := int64(0)
	switch {
	case top == 0:
		// No block yet: genesis alone is checked below.
	case base > first:
		a.f.addf(TypeHistoryIncomplete, High, base, "the history starts at height %d: blocks %d to %d were pruned, and a replay from genesis needs every block; nothing was replayed", base, first, base-1)
	default:
		last, err = a.walk(ctx, first, top)
		if err != nil {
			return nil, err
		}
	}
	if last > 0 {
		a.sum.FirstHeight, a.sum.LastHeight, a.sum.Heights = first, last, last-first+1
		a.sum.AppHash = hex.EncodeToString(a.replay.store.Hash())
		if err := a.checkSupply(last); err != nil {
			return nil, err
		}
	}
	a.missing.report(a.f)
	if cfg.LocalState != "" {
		if err := a.compareLocal(work, cfg.LocalState, last, top); err != nil {
			return nil, err
		}
	}
	return a.report(), nil
}

// fetched is one height's stored history.
type fetched struct {
	block   *cmttypes.Block
	id      cmttypes.BlockID // as recorded by the store
	err     error            // reading the block
	results *cmtabci.ResponseFinalizeBlock
	resErr  error // reading the results
}

// walk checks heights first..top in order and returns the last height
// replayed (below top when the replay had to stop).
func (a *auditor) walk(ctx context.Context, first, top int64) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	blocks := prefetch(ctx, a.src, first, top, a.cfg.Fetchers)
	last := first - 1
	for h := first; h <= top; h++ {
		var got fetched
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case got = <-blocks:
		}
		ok, err := a.step(h, got)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		last = h
		if a.cfg.SupplyEvery > 0 && h%a.cfg.SupplyEvery == 0 && h != top {
			if err := a.checkSupply(h); err != nil {
				return 0, err
			}
		}
		if a.cfg.Progress != nil {
			a.cfg.Progress(Progress{Height: h, First: first, Last: top, Txs: a.sum.Txs})
		}
	}
	// While the replay has diverged, the node's app hash after the last
	// block differs from the replay's for the same reason as every header.
	diverged := a.chain.diverged.open
	a.endDivergence()
	if last == top {
		a.checkLastCommit(ctx, top)
		if r := a.chain.prevResults; r != nil && !diverged && !bytes.Equal(r.AppHash, a.chain.appHash) {
			a.f.addf(TypeRecordedResults, High, top, "the node recorded app hash %X after the last block %d, but the replay computes %X", r.AppHash, top, a.chain.appHash)
		}
	}
	return last, nil
}

// step checks and replays one height. It reports false when the replay
// cannot go on: the block is unreadable or the ledger cannot execute it.
func (a *auditor) step(h int64, got fetched) (bool, error) {
	if got.err != nil {
		if !errors.Is(got.err, ErrCorrupt) {
			return false, got.err
		}
		a.f.addf(TypeBlockUnreadable, Critical, h, "block %d cannot be read (%v); the replay stops here, so later heights are unchecked", h, got.err)
		return false, nil
	}
	if got.resErr != nil && !errors.Is(got.resErr, ErrNoResults) {
		if !errors.Is(got.resErr, ErrCorrupt) {
			return false, got.resErr
		}
		a.f.addf(TypeRecordedResults, High, h, "the recorded results of block %d cannot be read: %v", h, got.resErr)
		got.resErr = ErrNoResults
	}
	a.checkBlock(h, got.block, got.id)
	return a.replayBlock(h, got.block, got.results, got.resErr == nil)
}

// prefetch reads heights first..last with up to n reads at once and
// delivers them in order.
func prefetch(ctx context.Context, src Source, first, last int64, n int) <-chan fetched {
	out := make(chan fetched)
	order := make(chan chan fetched, n)
	go func() {
		defer close(order)
		for h := first; h <= last; h++ {
			ch := make(chan fetched, 1)
			select {
			case order <- ch:
			case <-ctx.Done():
				return
			}
			go func(h int64) {
				var f fetched
				f.block, f.id, f.err = src.Block(ctx, h)
				if f.err == nil {
					f.results, f.resErr = src.Results(ctx, h)
				}
				ch <- f
			}(h)
		}
	}()
	go func() {
		defer close(out)
		for ch := range order {
			select {
			case out <- <-ch:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

func (a *auditor) report() *Report {
	a.sum.Signatures = a.sum.TxSignatures + a.sum.CommitSignatures
	a.sum.BySeverity = a.f.bySeverity
	r := &Report{Findings: a.f.list, Summary: a.sum, Recommendations: a.f.recommendations()}
	if len(a.f.suppressed) > 0 {
		r.Suppressed = a.f.suppressed
	}
	return r
}

// missingResults aggregates heights without recorded results into one finding.
type missingResults struct {
	count       int64
	first, last int64
}

func (m *missingResults) add(h int64) {
	if m.count == 0 {
		m.first = h
	}
	m.count++
	m.last = h
}

func (m *missingResults) report(f *findings) {
	if m.count > 0 {
		what := fmt.Sprintf("%d heights between %d and %d have", m.count, m.first, m.last)
		if m.count == 1 {
			what = fmt.Sprintf("height %d has", m.first)
		}
		f.addf(TypeResultsMissing, Low, m.first, "%s no recorded FinalizeBlock results, so transaction codes there could only be checked through the app hash", what)
	}
}

// txidText is a txid in hex, or "" for the zero id of bytes that did not decode.
func txidText(id app.TxID) string {
	if id == (app.TxID{}) {
		return ""
	}
	return id.String()
}
