package consensus

import (
	"context"
	"errors"
	"fmt"
	"math"

	cmtabci "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/proxy"
	sm "github.com/cometbft/cometbft/state"
	"github.com/cometbft/cometbft/store"
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
	signer, err := clockSkewed(pv)
	if err != nil {
		return nil, err
	}
	return newNode(ctx, cfg, app, signer, logger)
}

// newNode is NewNode with the signer chosen by the caller, the seam for a
// PrivValidator that does not keep its key in a file.
func newNode(ctx context.Context, cfg *cmtcfg.Config, app cmtabci.Application, pv cmttypes.PrivValidator, logger zerolog.Logger) (*node.Node, error) {
	nodeKey, err := p2p.LoadNodeKey(cfg.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("load node key: %w", err)
	}
	// Before the node opens the home and serves RPC: a block whose state
	// was saved but whose events were never indexed (a kill between the
	// two) is found again. The index is not consensus: a failure is logged
	// and the node starts anyway.
	if _, err := ReindexRecent(cfg, RecentReindexHeights, logger); err != nil {
		logger.Error().Err(err).Str("module", "txindex").Msg("re-indexing the recent heights failed: tx_search may miss their transactions; try `consort reindex` with the node stopped")
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

// NewNodeWithSigner is NewNode signing with s instead of the home's key
// file. It gives s the node's committed height as its height source, so
// that GetPubKey follows the key schedule: the block store's height read
// before the node opens it, then the live block store's.
//
// CometBFT never asks again for a vote whose signing failed; other
// validators' votes move the round on. When s's validator alone holds more
// than 2/3 of the voting power (a one-validator chain) nobody else can, so
// its requests wait for Vault instead of failing (SignerConfig.RetryFor),
// or the chain would stay stuck after an outage.
func NewNodeWithSigner(ctx context.Context, cfg *cmtcfg.Config, app cmtabci.Application, s *Signer, logger zerolog.Logger) (*node.Node, error) {
	h, err := blockStoreHeight(cfg)
	if err != nil {
		return nil, err
	}
	s.SetHeightSource(func() int64 { return h })
	inSet, alone, err := signerVotingPower(cfg, s)
	if err != nil {
		return nil, err
	}
	if !inSet {
		logger.Warn().Msg("the signer's key is not in this chain's latest validator set: the node will not vote (a home made with the file key started with the Vault signer?)")
	}
	if alone {
		logger.Info().Msg("this validator holds more than 2/3 of the voting power: signing requests wait for Vault instead of failing")
		s.SetRetryFor(math.MaxInt64)
	}
	n, err := newNode(ctx, cfg, app, s, logger)
	if err != nil {
		return nil, err
	}
	s.SetHeightSource(n.BlockStore().Height)
	return n, nil
}

// signerVotingPower reports whether s's key is in the home's latest
// validator set (genesis' before the first block), and whether it holds
// more than 2/3 of the voting power alone.
func signerVotingPower(cfg *cmtcfg.Config, s *Signer) (inSet, alone bool, err error) {
	db, err := cmtcfg.DefaultDBProvider(&cmtcfg.DBContext{ID: "state", Config: cfg})
	if err != nil {
		return false, false, fmt.Errorf("open state store: %w", err)
	}
	st, err := sm.NewStore(db, sm.StoreOptions{}).Load()
	if cerr := db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return false, false, fmt.Errorf("load consensus state: %w", err)
	}
	vals := st.Validators
	if st.IsEmpty() || vals == nil {
		doc, err := cmttypes.GenesisDocFromFile(cfg.GenesisFile())
		if err != nil {
			return false, false, fmt.Errorf("read genesis: %w", err)
		}
		var list []*cmttypes.Validator
		for _, v := range doc.Validators {
			list = append(list, cmttypes.NewValidator(v.PubKey, v.Power))
		}
		vals = cmttypes.NewValidatorSet(list)
	}
	pub, err := s.GetPubKey()
	if err != nil {
		return false, false, fmt.Errorf("validator public key: %w", err)
	}
	_, v := vals.GetByAddress(pub.Address())
	if v == nil {
		return false, false, nil
	}
	return true, 3*v.VotingPower > 2*vals.TotalVotingPower(), nil
}

// blockStoreHeight opens the home's block store long enough to read its
// height (0 for a new home). The node opens it for itself afterwards.
func blockStoreHeight(cfg *cmtcfg.Config) (int64, error) {
	db, err := cmtcfg.DefaultDBProvider(&cmtcfg.DBContext{ID: "blockstore", Config: cfg})
	if err != nil {
		return 0, fmt.Errorf("open block store: %w", err)
	}
	bs := store.NewBlockStore(db)
	h := bs.Height()
	if err := bs.Close(); err != nil {
		return 0, fmt.Errorf("close block store: %w", err)
	}
	return h, nil
}
