package bench

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// block is what the harness learns of one committed block.
type block struct {
	height   int64
	time     time.Time // header time
	seen     time.Time // when the harness saw it committed
	txHashes [][32]byte
	bytes    int // sum of the transactions' sizes
	codes    []uint32
}

// chainReader reads blocks from a node over HTTP.
type chainReader struct {
	node string
	hc   *http.Client
}

func newChainReader(node string) *chainReader {
	return &chainReader{node: node, hc: &http.Client{Timeout: 30 * time.Second}}
}

type blockResult struct {
	Block struct {
		Header struct {
			Time time.Time `json:"time"`
		} `json:"header"`
		Data struct {
			Txs []string `json:"txs"`
		} `json:"data"`
	} `json:"block"`
}

type blockResultsResult struct {
	TxsResults []struct {
		Code uint32 `json:"code"`
	} `json:"txs_results"`
}

type abciInfoResult struct {
	Response struct {
		LastBlockHeight string `json:"last_block_height"`
	} `json:"response"`
}

// committedHeight is the last height the application has committed (ABCI
// Info). The block store and the block results run ahead of it: a block is
// stored before it executes and its results are saved before Commit, and a
// transaction spending its outputs would be checked against the state
// before it.
func (c *chainReader) committedHeight(ctx context.Context) (int64, error) {
	var info abciInfoResult
	if err := rpcGet(ctx, c.hc, c.node, "abci_info", nil, &info); err != nil {
		return 0, fmt.Errorf("node %s: abci_info: %w", c.node, err)
	}
	if info.Response.LastBlockHeight == "" {
		return 0, nil // nothing committed yet: the field is omitted
	}
	h, err := strconv.ParseInt(info.Response.LastBlockHeight, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("node %s: abci_info: height %q", c.node, info.Response.LastBlockHeight)
	}
	return h, nil
}

// block reads block h with its transactions' result codes.
func (c *chainReader) block(ctx context.Context, h int64) (*block, error) {
	args := url.Values{"height": {strconv.FormatInt(h, 10)}}
	var b blockResult
	if err := rpcGet(ctx, c.hc, c.node, "block", args, &b); err != nil {
		return nil, fmt.Errorf("block %d: %w", h, err)
	}
	var r blockResultsResult
	if err := rpcGet(ctx, c.hc, c.node, "block_results", args, &r); err != nil {
		return nil, fmt.Errorf("block results %d: %w", h, err)
	}
	out := &block{height: h, time: b.Block.Header.Time, txHashes: make([][32]byte, len(b.Block.Data.Txs)), codes: make([]uint32, len(b.Block.Data.Txs))}
	for i, s := range b.Block.Data.Txs {
		tx, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("block %d tx %d: %w", h, i, err)
		}
		out.txHashes[i] = sha256.Sum256(tx)
		out.bytes += len(tx)
		if i < len(r.TxsResults) {
			out.codes[i] = r.TxsResults[i].Code
		}
	}
	return out, nil
}

// watch polls the node for newly committed heights from after `from` and
// sends each new block, in height order, until ctx is done. The time a
// block is first seen committed is its commit time for latency: polling
// every pollInterval bounds the error.
func (c *chainReader) watch(ctx context.Context, from int64, out chan<- *block, errs chan<- error) {
	defer close(out)
	next := from + 1
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	failures := 0
	for {
		h, err := c.committedHeight(ctx)
		seen := time.Now()
		if err == nil {
			for ; next <= h; next++ {
				b, berr := c.block(ctx, next)
				if berr != nil {
					err = berr
					break
				}
				b.seen = seen
				select {
				case out <- b:
				case <-ctx.Done():
					return
				}
			}
		}
		if err != nil && ctx.Err() == nil {
			if failures++; failures >= 20 {
				errs <- err
				return
			}
		} else {
			failures = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// pollInterval is how often the harness asks for the latest height.
const pollInterval = 25 * time.Millisecond
