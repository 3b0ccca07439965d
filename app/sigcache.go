package app

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
)

// sigCache remembers transactions whose signatures verified, so that a
// transaction checked by CheckTx is not verified again by PrepareProposal,
// ProcessProposal, FinalizeBlock and every mempool recheck: ed25519
// verification is the largest part of checking a transfer.
//
// It cannot change a result: verification is a pure function of the body
// bytes and the signatures, the key is a sha256 over exactly those, and
// only successes are stored, so a hit answers what verifying again would.
// It is bounded: two generations of at most sigCacheGeneration entries;
// when the current one fills up, the older one is dropped.
type sigCache struct {
	mu        sync.Mutex // CheckTx and the block path run on separate goroutines
	cur, prev map[[32]byte]struct{}
}

// sigCacheGeneration bounds one generation: well above a full mempool
// (CometBFT's default is 5,000 transactions) plus a block.
const sigCacheGeneration = 64 << 10

func newSigCache() *sigCache {
	return &sigCache{cur: make(map[[32]byte]struct{}), prev: map[[32]byte]struct{}{}}
}

// sigCacheKey is sha256 of the body bytes and every signature, each field
// length-prefixed so that no two different transactions share an input.
//
// The input is gathered in a buffer on the stack (large enough for a
// transfer with a few signatures) and hashed at once, which is a little
// faster than writing each field into a digest.
func sigCacheKey(tx *Tx) [32]byte {
	buf := make([]byte, 0, 1024)
	field := func(b []byte) {
		buf = binary.BigEndian.AppendUint64(buf, uint64(len(b)))
		buf = append(buf, b...)
	}
	field(tx.BodyBytes)
	for _, s := range tx.Signatures {
		buf = binary.BigEndian.AppendUint64(buf, uint64(s.KeyType))
		field(s.PublicKey)
		field(s.Signature)
	}
	return sha256.Sum256(buf)
}

func (c *sigCache) has(k [32]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cur[k]; ok {
		return true
	}
	_, ok := c.prev[k]
	return ok
}

func (c *sigCache) add(k [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cur) >= sigCacheGeneration {
		c.prev, c.cur = c.cur, make(map[[32]byte]struct{}, sigCacheGeneration)
	}
	c.cur[k] = struct{}{}
}
