package consensus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	sm "github.com/cometbft/cometbft/state"
	"github.com/cometbft/cometbft/state/indexer"
	blockidxkv "github.com/cometbft/cometbft/state/indexer/block/kv"
	"github.com/cometbft/cometbft/state/indexer/sink/psql"
	"github.com/cometbft/cometbft/state/txindex"
	txidxkv "github.com/cometbft/cometbft/state/txindex/kv"
	"github.com/cometbft/cometbft/store"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/rs/zerolog"
)

// RecentReindexHeights is how many of the last committed heights every
// node start re-indexes. CometBFT saves a block's state before its indexer
// service (fed asynchronously by the event bus) writes that block's events,
// so a process killed in between comes back without that block in its tx
// and block indexes, and nothing replays it. The indexer lags the commit by
// a block or two at most; 100 heights cover that with a wide margin and
// cost little (see docs/reliability.md).
const RecentReindexHeights = 100

var (
	// ErrNoIndexer is returned when the home's tx_index.indexer is "null":
	// the node keeps no index to rebuild.
	ErrNoIndexer = errors.New(`tx_index.indexer is "null": this node keeps no tx or block index`)
	// ErrResponsesDiscarded is returned when storage.discard_abci_responses
	// is true: the FinalizeBlock responses the index is built from are gone.
	ErrResponsesDiscarded = errors.New("storage.discard_abci_responses is true: the block results the index is built from are not kept")
	// ErrNodeRunning is returned when the home's databases are locked by a
	// running node.
	ErrNodeRunning = errors.New("the node of this home is running (its databases are locked): stop it first")
)

// HeightRange is an inclusive range of block heights; heights start at 1,
// so the zero HeightRange is empty, as is one whose To is below From.
type HeightRange struct{ From, To int64 }

// Len is the number of heights in r.
func (r HeightRange) Len() int64 {
	if r.From < 1 || r.To < r.From {
		return 0
	}
	return r.To - r.From + 1
}

// ReindexRecent re-indexes the last heights committed heights of cfg's home
// into its configured tx and block indexers, from the block store and the
// stored FinalizeBlock responses, the way CometBFT's reindex-event does.
// Indexing a height again writes the same keys with the same values, so
// heights that were indexed are unharmed. It must run before the node opens
// the home (the databases are single-process) and returns how many heights
// it indexed. With no indexer or discarded responses it does nothing and
// says so in the log.
func ReindexRecent(cfg *cmtcfg.Config, heights int64, logger zerolog.Logger) (int64, error) {
	if err := checkIndexable(cfg); err != nil {
		logger.Info().Str("module", "txindex").Msgf("not re-indexing recent heights: %v", err)
		return 0, nil
	}
	if heights <= 0 {
		return 0, fmt.Errorf("re-index %d heights: want at least 1", heights)
	}
	started := time.Now()
	r, err := reindex(context.Background(), cfg, func(base, last int64) (HeightRange, error) {
		if last == 0 {
			return HeightRange{}, nil
		}
		return HeightRange{From: max(base, last-heights+1), To: last}, nil
	})
	if err != nil {
		return 0, err
	}
	if r.Len() > 0 {
		logger.Info().Str("module", "txindex").Int64("from", r.From).Int64("to", r.To).
			Dur("took", time.Since(started)).Msgf("re-indexed heights %d to %d", r.From, r.To)
	}
	return r.Len(), nil
}

// Reindex re-indexes heights from to to (inclusive) of cfg's home into its
// configured indexers; from 0 means the block store's first height, to 0
// the last committed one. The node must be stopped (ErrNodeRunning
// otherwise). It returns the range it indexed, empty for a chain with no
// block yet.
func Reindex(ctx context.Context, cfg *cmtcfg.Config, from, to int64) (HeightRange, error) {
	if from < 0 || to < 0 {
		return HeightRange{}, fmt.Errorf("heights %d to %d: want 0 (the default) or a positive height", from, to)
	}
	if err := checkIndexable(cfg); err != nil {
		return HeightRange{}, err
	}
	return reindex(ctx, cfg, func(base, last int64) (HeightRange, error) {
		r := HeightRange{From: from, To: to}
		if last == 0 {
			return HeightRange{}, nil
		}
		if r.From == 0 {
			r.From = base
		}
		if r.To == 0 {
			r.To = last
		}
		switch {
		case r.From < base:
			return r, fmt.Errorf("height %d is not kept: the block store starts at %d", r.From, base)
		case r.To > last:
			return r, fmt.Errorf("height %d is not committed: the last committed height is %d", r.To, last)
		case r.To < r.From:
			return r, fmt.Errorf("heights %d to %d: the last is below the first", r.From, r.To)
		}
		return r, nil
	})
}

// checkIndexable says why cfg's node has nothing to re-index, if it has not.
func checkIndexable(cfg *cmtcfg.Config) error {
	switch strings.ToLower(cfg.TxIndex.Indexer) {
	case "kv", "psql":
	case "null", "":
		return ErrNoIndexer
	default:
		return fmt.Errorf("tx_index.indexer %q: consort re-indexes kv and psql", cfg.TxIndex.Indexer)
	}
	if cfg.Storage.DiscardABCIResponses {
		return ErrResponsesDiscarded
	}
	return nil
}

// reindex opens the home's block and state stores, lets pick choose a
// range between the block store's base and the last committed height, and
// indexes it height by height in ascending order, as the live indexer
// service would have.
func reindex(ctx context.Context, cfg *cmtcfg.Config, pick func(base, last int64) (HeightRange, error)) (r HeightRange, err error) {
	closeLater := func(what string, c interface{ Close() error }) {
		if cerr := c.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", what, cerr)
		}
	}
	bsDB, err := openDB(cfg, "blockstore")
	if err != nil {
		return r, err
	}
	bs := store.NewBlockStore(bsDB)
	defer closeLater("block store", bs)
	stDB, err := openDB(cfg, "state")
	if err != nil {
		return r, err
	}
	ss := sm.NewStore(stDB, sm.StoreOptions{})
	defer closeLater("state store", ss)
	st, err := ss.Load()
	if err != nil {
		return r, fmt.Errorf("load consensus state: %w", err)
	}
	// The block store can hold one block more than the state (saved before
	// it is applied); that block is replayed at the handshake, whose events
	// the live indexer writes.
	last := min(st.LastBlockHeight, bs.Height())
	if r, err = pick(bs.Base(), last); err != nil || r.Len() == 0 {
		return r, err
	}
	txIdx, blockIdx, closeSinks, err := openSinks(cfg, st.ChainID)
	if err != nil {
		return r, err
	}
	defer func() {
		if cerr := closeSinks(); cerr != nil && err == nil {
			err = fmt.Errorf("close indexer: %w", cerr)
		}
	}()
	for h := r.From; h <= r.To; h++ {
		if err := ctx.Err(); err != nil {
			return r, fmt.Errorf("re-index stopped at height %d: %w", h, err)
		}
		if err := indexHeight(bs, ss, txIdx, blockIdx, h); err != nil {
			return r, err
		}
	}
	return r, nil
}

// indexHeight writes height h's transactions and block events, built from
// the stored block and FinalizeBlock response exactly as the event bus
// carries them to the indexer service.
func indexHeight(bs *store.BlockStore, ss sm.Store, txIdx txindex.TxIndexer, blockIdx indexer.BlockIndexer, h int64) error {
	block := bs.LoadBlock(h)
	if block == nil {
		return fmt.Errorf("re-index height %d: the block store has no block", h)
	}
	resp, err := ss.LoadFinalizeBlockResponse(h)
	if err != nil {
		return fmt.Errorf("re-index height %d: load block results: %w", h, err)
	}
	if len(resp.TxResults) != len(block.Txs) {
		return fmt.Errorf("re-index height %d: %d results for %d transactions", h, len(resp.TxResults), len(block.Txs))
	}
	if err := blockIdx.Index(cmttypes.EventDataNewBlockEvents{Height: h, Events: resp.Events, NumTxs: int64(len(block.Txs))}); err != nil {
		return fmt.Errorf("re-index height %d: block events: %w", h, err)
	}
	if len(block.Txs) == 0 {
		return nil
	}
	batch := txindex.NewBatch(int64(len(block.Txs)))
	for i, res := range resp.TxResults {
		if err := batch.Add(&abcitypes.TxResult{Height: h, Index: uint32(i), Tx: block.Txs[i], Result: *res}); err != nil {
			return fmt.Errorf("re-index height %d: tx %d: %w", h, i, err)
		}
	}
	if err := txIdx.AddBatch(batch); err != nil {
		return fmt.Errorf("re-index height %d: transactions: %w", h, err)
	}
	return nil
}

// openSinks opens the indexers cfg configures, as CometBFT's node does
// (state/indexer/block.IndexerFromConfig), keeping what must be closed.
func openSinks(cfg *cmtcfg.Config, chainID string) (txindex.TxIndexer, indexer.BlockIndexer, func() error, error) {
	switch strings.ToLower(cfg.TxIndex.Indexer) {
	case "kv":
		db, err := openDB(cfg, "tx_index")
		if err != nil {
			return nil, nil, nil, err
		}
		return txidxkv.NewTxIndex(db), blockidxkv.New(dbm.NewPrefixDB(db, []byte("block_events"))), db.Close, nil
	case "psql":
		if cfg.TxIndex.PsqlConn == "" {
			return nil, nil, nil, errors.New("tx_index.psql-conn is empty")
		}
		es, err := psql.NewEventSink(cfg.TxIndex.PsqlConn, chainID)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("open psql indexer: %w", err)
		}
		return es.TxIndexer(), es.BlockIndexer(), es.Stop, nil
	}
	return nil, nil, nil, fmt.Errorf("tx_index.indexer %q: consort re-indexes kv and psql", cfg.TxIndex.Indexer)
}

// openDB opens one of the home's CometBFT databases. goleveldb locks a
// database for one process; the lock error means the node is running.
func openDB(cfg *cmtcfg.Config, id string) (dbm.DB, error) {
	db, err := cmtcfg.DefaultDBProvider(&cmtcfg.DBContext{ID: id, Config: cfg})
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, fmt.Errorf("open %s: %w", id, ErrNodeRunning)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", id, err)
	}
	return db, nil
}
