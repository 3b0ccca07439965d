package audit

import (
	"context"
	"errors"

	cmtabci "github.com/cometbft/cometbft/abci/types"
	cmttypes "github.com/cometbft/cometbft/types"
)

// Source is where a chain's history comes from: a stopped node's home or a
// node's RPC. Its methods may be called from several goroutines at once.
type Source interface {
	// Name says where the history comes from, for the report.
	Name() string
	// Genesis returns the chain's genesis document.
	Genesis(ctx context.Context) (*cmttypes.GenesisDoc, error)
	// Heights returns the first and last height whose block and results
	// can be read; top is 0 when there is no block yet.
	Heights(ctx context.Context) (base, top int64, err error)
	// Block returns the block at height and the block id its store
	// recorded for it. A block that is missing or does not decode is an
	// error wrapping ErrCorrupt.
	Block(ctx context.Context, height int64) (*cmttypes.Block, cmttypes.BlockID, error)
	// Commit returns the commit that finalised the block at height (for the
	// last block, the commit the node saw).
	Commit(ctx context.Context, height int64) (*cmttypes.Commit, error)
	// Results returns the FinalizeBlock response the node recorded for
	// height, or an error wrapping ErrNoResults when it kept none.
	Results(ctx context.Context, height int64) (*cmtabci.ResponseFinalizeBlock, error)
	// Close releases the source.
	Close() error
}

var (
	// ErrNoResults says a node kept no FinalizeBlock results for a height.
	ErrNoResults = errors.New("no recorded results")
	// ErrCorrupt says stored history is missing or does not decode.
	ErrCorrupt = errors.New("stored history unreadable")
)
