package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	cmtabci "github.com/cometbft/cometbft/abci/types"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	rpctypes "github.com/cometbft/cometbft/rpc/jsonrpc/types"
	cmttypes "github.com/cometbft/cometbft/types"
)

// RPC is the part of CometBFT's RPC client the audit uses; the HTTP client
// of cometbft/rpc/client/http implements it.
type RPC interface {
	// Status reports the node's earliest and latest heights.
	Status(ctx context.Context) (*ctypes.ResultStatus, error)
	// Genesis returns the genesis document, unless it is too large for one answer.
	Genesis(ctx context.Context) (*ctypes.ResultGenesis, error)
	// GenesisChunked returns one base64 chunk of the genesis JSON.
	GenesisChunked(ctx context.Context, chunk uint) (*ctypes.ResultGenesisChunk, error)
	// Block returns a block and its id.
	Block(ctx context.Context, height *int64) (*ctypes.ResultBlock, error)
	// BlockResults returns the recorded FinalizeBlock results of a height.
	BlockResults(ctx context.Context, height *int64) (*ctypes.ResultBlockResults, error)
	// Commit returns a block's header and the commit that finalised it.
	Commit(ctx context.Context, height *int64) (*ctypes.ResultCommit, error)
}

// Node reads a chain's history from a node's RPC.
type Node struct {
	name string
	rpc  RPC
}

var _ Source = (*Node)(nil)

// NewRPC returns a Source reading from rpc; name (the node's URL) is shown in
// the report.
func NewRPC(name string, rpc RPC) *Node { return &Node{name: name, rpc: rpc} }

// Name implements Source.
func (n *Node) Name() string { return "node " + n.name }

// Genesis implements Source.
func (n *Node) Genesis(ctx context.Context) (*cmttypes.GenesisDoc, error) {
	res, err := n.rpc.Genesis(ctx)
	if err == nil {
		return res.Genesis, nil
	}
	if !strings.Contains(errText(err), "genesis_chunked") {
		return nil, n.fail("genesis", err)
	}
	var doc bytes.Buffer
	for chunk, total := uint(0), uint(1); chunk < total; chunk++ {
		res, err := n.rpc.GenesisChunked(ctx, chunk)
		if err != nil {
			return nil, n.fail("genesis chunk", err)
		}
		b, err := base64.StdEncoding.DecodeString(res.Data)
		if err != nil {
			return nil, fmt.Errorf("genesis chunk %d: %w", chunk, err)
		}
		doc.Write(b)
		total = uint(res.TotalChunks)
	}
	g, err := cmttypes.GenesisDocFromJSON(doc.Bytes())
	if err != nil {
		return nil, fmt.Errorf("genesis from %s: %w", n.name, err)
	}
	return g, nil
}

// Heights implements Source. The last height is one below the node's
// latest block: the latest may still be executing, while a block with a
// successor has surely been executed and its results saved.
func (n *Node) Heights(ctx context.Context) (int64, int64, error) {
	st, err := n.rpc.Status(ctx)
	if err != nil {
		return 0, 0, n.fail("status", err)
	}
	base, latest := st.SyncInfo.EarliestBlockHeight, st.SyncInfo.LatestBlockHeight
	if latest <= base {
		return base, 0, nil
	}
	return base, latest - 1, nil
}

// Block implements Source.
func (n *Node) Block(ctx context.Context, height int64) (*cmttypes.Block, cmttypes.BlockID, error) {
	res, err := n.rpc.Block(ctx, &height)
	var answered *rpctypes.RPCError
	if errors.As(err, &answered) {
		// The node is there but cannot serve the block: CometBFT's block
		// store refuses a block that fails validation.
		return nil, cmttypes.BlockID{}, fmt.Errorf("block %d: %w: the node answered %s", height, ErrCorrupt, errText(err))
	}
	if err != nil {
		return nil, cmttypes.BlockID{}, n.fail(fmt.Sprintf("block %d", height), err)
	}
	if res.Block == nil {
		return nil, cmttypes.BlockID{}, fmt.Errorf("block %d: %w: the node has no such block", height, ErrCorrupt)
	}
	return res.Block, res.BlockID, nil
}

// Commit implements Source.
func (n *Node) Commit(ctx context.Context, height int64) (*cmttypes.Commit, error) {
	res, err := n.rpc.Commit(ctx, &height)
	if err != nil {
		return nil, n.fail(fmt.Sprintf("commit %d", height), err)
	}
	if res.Commit == nil {
		return nil, fmt.Errorf("commit %d: %w: the node has none", height, ErrCorrupt)
	}
	return res.Commit, nil
}

// Results implements Source.
func (n *Node) Results(ctx context.Context, height int64) (*cmtabci.ResponseFinalizeBlock, error) {
	res, err := n.rpc.BlockResults(ctx, &height)
	if err != nil {
		if t := errText(err); strings.Contains(t, "could not find results") || strings.Contains(t, "not persisting") {
			return nil, fmt.Errorf("height %d: %w", height, ErrNoResults)
		}
		return nil, n.fail(fmt.Sprintf("results %d", height), err)
	}
	return &cmtabci.ResponseFinalizeBlock{
		Events:                res.FinalizeBlockEvents,
		TxResults:             res.TxsResults,
		ValidatorUpdates:      res.ValidatorUpdates,
		ConsensusParamUpdates: res.ConsensusParamUpdates,
		AppHash:               res.AppHash,
	}, nil
}

// Close implements Source.
func (n *Node) Close() error { return nil }

func (n *Node) fail(what string, err error) error {
	return fmt.Errorf("%s from node %s: %w", what, n.name, err)
}

// errText is an error's message with an RPC error's data, where CometBFT
// puts the reason.
func errText(err error) string {
	var re *rpctypes.RPCError
	if errors.As(err, &re) {
		return re.Message + " " + re.Data
	}
	return err.Error()
}
