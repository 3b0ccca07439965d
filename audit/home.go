package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	dbm "github.com/cometbft/cometbft-db"
	cmtabci "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	sm "github.com/cometbft/cometbft/state"
	"github.com/cometbft/cometbft/store"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// HomeConfig locates the files of a stopped node.
type HomeConfig struct {
	// GenesisFile is the chain's genesis (HOME/config/genesis.json). Required.
	GenesisFile string
	// DBDir holds CometBFT's blockstore.db and state.db (HOME/data). Required.
	DBDir string
	// DBBackend is the node's db_backend; only "goleveldb" can be read.
	// Default "goleveldb".
	DBBackend string
}

// ErrInUse says a database is locked by a running node.
var ErrInUse = errors.New("in use by a running node: stop the node or use --node URL")

// Home reads a stopped node's block store and state store, read-only.
type Home struct {
	genesisFile string
	blockDB     dbm.DB
	stateDB     dbm.DB
	blocks      *store.BlockStore
	states      sm.Store
}

var _ Source = (*Home)(nil)

// OpenHome opens a node's databases read-only. It fails with ErrInUse while
// the node runs: leveldb allows one writer and no reader beside it.
func OpenHome(cfg HomeConfig) (*Home, error) {
	if cfg.DBBackend != "" && cfg.DBBackend != string(dbm.GoLevelDBBackend) {
		return nil, fmt.Errorf("db_backend %q: the audit reads goleveldb databases only", cfg.DBBackend)
	}
	if _, err := os.Stat(cfg.GenesisFile); err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	h := &Home{genesisFile: cfg.GenesisFile}
	var err error
	if h.blockDB, err = openReadOnly("blockstore", cfg.DBDir); err != nil {
		return nil, err
	}
	if h.stateDB, err = openReadOnly("state", cfg.DBDir); err != nil {
		h.blockDB.Close()
		return nil, err
	}
	if err := catch(func() { h.blocks = store.NewBlockStore(h.blockDB) }); err != nil {
		h.Close()
		return nil, fmt.Errorf("block store: %w", err)
	}
	h.states = sm.NewStore(h.stateDB, sm.StoreOptions{})
	return h, nil
}

func openReadOnly(name, dir string) (dbm.DB, error) {
	path := filepath.Join(dir, name+".db")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db, err := dbm.NewGoLevelDBWithOpts(name, dir, &opt.Options{ReadOnly: true})
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, fmt.Errorf("%s is %w", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// catch turns a panic of CometBFT's stores, which panic on data that does
// not decode, into an error wrapping ErrCorrupt.
func catch(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	fn()
	return nil
}

// Name implements Source.
func (h *Home) Name() string { return "home " + filepath.Dir(filepath.Dir(h.genesisFile)) }

// Genesis implements Source.
func (h *Home) Genesis(context.Context) (*cmttypes.GenesisDoc, error) {
	doc, err := cmttypes.GenesisDocFromFile(h.genesisFile)
	if err != nil {
		return nil, fmt.Errorf("read genesis: %w", err)
	}
	return doc, nil
}

// Heights implements Source.
func (h *Home) Heights(context.Context) (int64, int64, error) {
	return h.blocks.Base(), h.blocks.Height(), nil
}

// Block implements Source. Unlike the block store's LoadBlock, it returns a
// block that decodes but fails CometBFT's validation (a data hash that does
// not match its transactions, say): saying what is wrong with it is the
// audit's job.
func (h *Home) Block(_ context.Context, height int64) (*cmttypes.Block, cmttypes.BlockID, error) {
	var (
		pb   *cmtproto.Block
		meta *cmttypes.BlockMeta
	)
	err := catch(func() {
		if meta = h.blocks.LoadBlockMeta(height); meta != nil {
			pb = h.blocks.LoadBlockProto(height)
		}
	})
	if err != nil {
		return nil, cmttypes.BlockID{}, fmt.Errorf("block %d: %w", height, err)
	}
	if meta == nil || pb == nil {
		return nil, cmttypes.BlockID{}, fmt.Errorf("block %d: %w: not in the block store", height, ErrCorrupt)
	}
	// BlockFromProto validates last and returns the block it built.
	block, err := cmttypes.BlockFromProto(pb)
	if block == nil {
		return nil, cmttypes.BlockID{}, fmt.Errorf("block %d: %w: %v", height, ErrCorrupt, err)
	}
	return block, meta.BlockID, nil
}

// Commit implements Source.
func (h *Home) Commit(_ context.Context, height int64) (*cmttypes.Commit, error) {
	var c *cmttypes.Commit
	err := catch(func() {
		if height < h.blocks.Height() {
			c = h.blocks.LoadBlockCommit(height)
		} else {
			c = h.blocks.LoadSeenCommit(height)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("commit %d: %w", height, err)
	}
	if c == nil {
		return nil, fmt.Errorf("commit %d: %w: not in the block store", height, ErrCorrupt)
	}
	return c, nil
}

// Results implements Source.
func (h *Home) Results(_ context.Context, height int64) (*cmtabci.ResponseFinalizeBlock, error) {
	res, err := h.states.LoadFinalizeBlockResponse(height)
	var missing sm.ErrNoABCIResponsesForHeight
	if errors.As(err, &missing) || errors.Is(err, sm.ErrFinalizeBlockResponsesNotPersisted) {
		return nil, fmt.Errorf("height %d: %w", height, ErrNoResults)
	}
	if err != nil {
		return nil, fmt.Errorf("results %d: %w: %v", height, ErrCorrupt, err)
	}
	return res, nil
}

// Close implements Source.
func (h *Home) Close() error {
	var errs []error
	if h.blockDB != nil {
		errs = append(errs, h.blockDB.Close())
	}
	if h.stateDB != nil {
		errs = append(errs, h.stateDB.Close())
	}
	return errors.Join(errs...)
}
