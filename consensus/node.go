package consensus

import (
	"context"
	"errors"
	"fmt"

	cmtabci "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/proxy"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/rs/zerolog"
)

// NewNode assembles a CometBFT node that runs app in-process and signs with
// the home's file validator key. The home must come from InitHome: a
// missing key is an error, never a fresh key. The node is not started; see
// Run.
func NewNode(ctx context.Context, cfg *cmtcfg.Config, app cmtabci.Application, logger zerolog.Logger) (*node.Node, error) {
	pv, err := loadFilePV(cfg)
	if err != nil {
		return nil, fmt.Errorf("load validator key: %w", err)
	}
	return newNode(ctx, cfg, app, pv, logger)
}

// newNode is NewNode with the signer chosen by the caller, the seam for a
// PrivValidator that does not keep its key in a file.
func newNode(ctx context.Context, cfg *cmtcfg.Config, app cmtabci.Application, pv cmttypes.PrivValidator, logger zerolog.Logger) (*node.Node, error) {
	nodeKey, err := p2p.LoadNodeKey(cfg.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("load node key: %w", err)
	}
	n, err := node.NewNodeWithContext(ctx, cfg, pv, nodeKey,
		// One mutex per ABCI connection, not one for all four (what
		// NewLocalClientCreator does): CheckTx and queries then run while
		// a block executes. abci.Application is safe for that: CheckTx and
		// Query read only the last committed IAVL version, the block path
		// writes the working tree, and CometBFT runs no CheckTx during
		// Commit (it holds the mempool lock).
		proxy.NewConnSyncLocalClientCreator(app),
		node.DefaultGenesisDocProviderFunc(cfg),
		cmtcfg.DefaultDBProvider,
		metricsProvider(cfg.Instrumentation, logger),
		NewCometLogger(logger),
	)
	if err != nil {
		return nil, fmt.Errorf("create node: %w", err)
	}
	return n, nil
}

// Run starts n, keeps it running until ctx is done, then stops it and waits
// for it to finish. A cancelled ctx is the normal way to stop and returns
// nil; a node that stops by itself is an error.
func Run(ctx context.Context, n *node.Node) error {
	if err := n.Start(); err != nil {
		return fmt.Errorf("start node: %w", err)
	}
	select {
	case <-ctx.Done():
	case <-n.Quit():
		return errors.New("node stopped unexpectedly")
	}
	if err := n.Stop(); err != nil {
		return fmt.Errorf("stop node: %w", err)
	}
	n.Wait()
	return nil
}
