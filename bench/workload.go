package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
)

// Workload makes the transactions of a run and learns what became of them.
type Workload interface {
	// Name is the application the workload drives: "consort" or "kvstore".
	Name() string
	// Next returns the next transaction and a token to report its outcome
	// with. It blocks until one can be made or ctx is done.
	Next(ctx context.Context) (tx []byte, token any, err error)
	// Outcome reports what became of the transaction of token.
	Outcome(token any, o Outcome)
}

// Outcome is what became of one submitted transaction.
type Outcome int

const (
	// Committed: in a block with result code 0.
	Committed Outcome = iota
	// RejectedInBlock: in a block with a non-zero code; it changed nothing.
	RejectedInBlock
	// Refused: the node did not take it (a full mempool, a rate limit): the
	// same inputs may be tried again.
	Refused
	// Rejected: the node's CheckTx refused it for a reason that retrying
	// would not change.
	Rejected
)

// KVStore sends key=value transactions of a fixed size to CometBFT's
// kvstore application; every key is new, so none is a duplicate.
type KVStore struct {
	size   int
	prefix string
	n      atomic.Uint64
}

// NewKVStore returns the kvstore workload with transactions of size bytes
// (at least 32).
func NewKVStore(size int) (*KVStore, error) {
	if size < 32 {
		return nil, fmt.Errorf("kvstore transactions must be at least 32 bytes, not %d", size)
	}
	var run [4]byte
	if _, err := rand.Read(run[:]); err != nil {
		return nil, err
	}
	return &KVStore{size: size, prefix: "bench" + hex.EncodeToString(run[:])}, nil
}

// Name implements Workload.
func (*KVStore) Name() string { return "kvstore" }

// Next implements Workload.
func (w *KVStore) Next(context.Context) ([]byte, any, error) {
	key := fmt.Sprintf("%s%012x=", w.prefix, w.n.Add(1))
	return []byte(key + strings.Repeat("v", w.size-len(key))), nil, nil
}

// Outcome implements Workload.
func (*KVStore) Outcome(any, Outcome) {}
