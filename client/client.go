package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	rpctypes "github.com/cometbft/cometbft/rpc/jsonrpc/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/consort-ledger/consort/app"
)

// DefaultNode is the RPC address used when none is configured.
const DefaultNode = "http://127.0.0.1:26657"

// Config says how to reach a node.
type Config struct {
	// Node is the CometBFT RPC address. Default DefaultNode.
	Node string
	// CommitTimeout bounds how long Broadcast waits for a block. Default 30s.
	CommitTimeout time.Duration
	// PollInterval is how often Broadcast asks whether the tx is in a block. Default 100ms.
	PollInterval time.Duration
}

// DefaultConfig returns the defaults stated in Config.
func DefaultConfig() Config {
	return Config{Node: DefaultNode, CommitTimeout: 30 * time.Second, PollInterval: 100 * time.Millisecond}
}

// Client is a connection to one node.
type Client struct {
	cfg Config
	rpc *rpchttp.HTTP
}

// New connects lazily: nothing is sent until the first call.
func New(cfg Config) (*Client, error) {
	def := DefaultConfig()
	if cfg.Node == "" {
		cfg.Node = def.Node
	}
	if cfg.CommitTimeout == 0 {
		cfg.CommitTimeout = def.CommitTimeout
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = def.PollInterval
	}
	rpc, err := rpchttp.New(cfg.Node, "/websocket")
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", cfg.Node, err)
	}
	return &Client{cfg: cfg, rpc: rpc}, nil
}

// RPC exposes the underlying CometBFT client for calls this package does not wrap.
func (c *Client) RPC() *rpchttp.HTTP { return c.rpc }

// Status is what `consort status` shows.
type Status struct {
	ChainID     string `json:"chain_id"`
	Moniker     string `json:"moniker"`
	NodeID      string `json:"node_id"`
	Height      int64  `json:"latest_block_height"`
	AppHash     string `json:"latest_app_hash"`
	BlockTime   string `json:"latest_block_time"`
	CatchingUp  bool   `json:"catching_up"`
	VotingPower int64  `json:"voting_power"`
}

// Status asks the node where it is.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	st, err := c.rpc.Status(ctx)
	if err != nil {
		return nil, c.unreachable(err)
	}
	return &Status{
		ChainID:     st.NodeInfo.Network,
		Moniker:     st.NodeInfo.Moniker,
		NodeID:      string(st.NodeInfo.ID()),
		Height:      st.SyncInfo.LatestBlockHeight,
		AppHash:     st.SyncInfo.LatestAppHash.String(),
		BlockTime:   st.SyncInfo.LatestBlockTime.UTC().Format(time.RFC3339Nano),
		CatchingUp:  st.SyncInfo.CatchingUp,
		VotingPower: st.ValidatorInfo.VotingPower,
	}, nil
}

// ChainID returns the chain the node runs.
func (c *Client) ChainID(ctx context.Context) (string, error) {
	st, err := c.rpc.Status(ctx)
	if err != nil {
		return "", c.unreachable(err)
	}
	return st.NodeInfo.Network, nil
}

func (c *Client) unreachable(err error) error {
	return fmt.Errorf("node %s is not reachable (is `consort start` running? set --node): %w", c.cfg.Node, err)
}

// rpcError tells an answer from the node (an RPC error object) apart from a
// node that could not be reached at all.
func (c *Client) rpcError(err error) error {
	var re *rpctypes.RPCError
	if errors.As(err, &re) {
		return fmt.Errorf("node %s answered: %s %s", c.cfg.Node, re.Message, re.Data)
	}
	return c.unreachable(err)
}

// isRPCError reports whether err is an RPC error whose data contains text.
func isRPCError(err error, text string) bool {
	var re *rpctypes.RPCError
	return errors.As(err, &re) && strings.Contains(re.Data+" "+re.Message, text)
}

// maxPollFailures is how many consecutive failed polls end a wait: the node
// is gone, and saying so beats waiting out the commit timeout.
const maxPollFailures = 5

// Result is the outcome of a broadcast transaction.
type Result struct {
	TxID   string `json:"txid"`
	Hash   string `json:"hash"` // CometBFT's hash of the whole tx bytes, for its tx RPC
	Height int64  `json:"height"`
	Code   uint32 `json:"code"`
	Log    string `json:"log"`
}

// ErrCommitTimeout says the transaction was accepted but no block included
// it within the configured time.
var ErrCommitTimeout = errors.New("transaction accepted into the mempool but not committed in time")

// Broadcast submits tx bytes with broadcast_tx_sync. When wait is true it
// then waits until a block includes the transaction and reports that
// block's height and result code; otherwise it returns after CheckTx.
func (c *Client) Broadcast(ctx context.Context, txBytes []byte, wait bool) (*Result, error) {
	tx, err := app.DecodeTx(txBytes)
	if err != nil {
		return nil, fmt.Errorf("refusing to broadcast: %w", err)
	}
	hash := cmttypes.Tx(txBytes).Hash()
	out := &Result{TxID: tx.ID().String(), Hash: fmt.Sprintf("%X", hash)}
	res, err := c.rpc.BroadcastTxSync(ctx, txBytes)
	switch {
	case isRPCError(err, "tx already exists in cache"):
		// The node has seen these exact bytes; report what became of them.
		out.Log = "already submitted"
	case err != nil:
		return nil, c.rpcError(err)
	default:
		out.Code, out.Log = res.Code, res.Log
	}
	if out.Code != 0 || !wait {
		return out, nil
	}
	deadline := time.NewTimer(c.cfg.CommitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(c.cfg.PollInterval)
	defer tick.Stop()
	failures := 0
	for {
		got, err := c.rpc.Tx(ctx, hash, false)
		switch {
		case err == nil:
			out.Height, out.Code, out.Log = got.Height, got.TxResult.Code, got.TxResult.Log
			return out, nil
		case isRPCError(err, "not found"):
			failures = 0 // not in a block yet
		default:
			if failures++; failures >= maxPollFailures {
				return out, fmt.Errorf("waiting for the block: %w", c.rpcError(err))
			}
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-deadline.C:
			return out, ErrCommitTimeout
		case <-tick.C:
		}
	}
}
