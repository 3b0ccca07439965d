package client

import (
	"context"
	"fmt"
	"time"

	"github.com/consort-ledger/consort/app"
)

// Stamp is a mined proof-of-work nonce.
type Stamp struct {
	Nonce uint64
	Bits  uint32
	Tries uint64
	Took  time.Duration
}

// MinePoW searches for a nonce whose stamp sha256(txid ‖ nonce) starts with
// bits zero bits, the classic hashcash loop: about 2^bits tries. It stops
// when ctx is done.
func MinePoW(ctx context.Context, id app.TxID, bits uint32) (Stamp, error) {
	start := time.Now()
	for nonce := uint64(1); ; nonce++ {
		if app.PowZeroBits(id, nonce) >= bits {
			return Stamp{Nonce: nonce, Bits: bits, Tries: nonce, Took: time.Since(start)}, nil
		}
		if nonce%(1<<16) == 0 {
			if err := ctx.Err(); err != nil {
				return Stamp{}, fmt.Errorf("mining a %d-bit stamp: %w", bits, err)
			}
		}
	}
}

// StampIfNeeded mines the stamp the chain's params ask for and sets it on
// tx. It returns nil when the chain needs none (or the pow module is off).
func (c *Client) StampIfNeeded(ctx context.Context, tx *app.Tx) (*Stamp, error) {
	p, err := c.Params(ctx)
	if err != nil {
		return nil, err
	}
	if p.PowDifficultyBits == 0 || !powListed(p.Modules) {
		return nil, nil
	}
	s, err := MinePoW(ctx, tx.ID(), p.PowDifficultyBits)
	if err != nil {
		return nil, err
	}
	tx.PowNonce = s.Nonce
	return &s, nil
}

func powListed(modules []string) bool {
	for _, m := range modules {
		if m == app.ModulePoW {
			return true
		}
	}
	return false
}
