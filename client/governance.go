package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"github.com/consort-ledger/consort/app"
)

// Governance actions, mints and burns. A body that spends no coin (every
// action, a mint) can be included once only, so each gets a fresh random
// nonce: repeating an action is a new transaction.

// NewNonce returns a random body nonce from crypto/rand. It is never 0, the
// value of a body that has no nonce.
func NewNonce() (uint64, error) {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("nonce: %w", err)
		}
		if n := binary.BigEndian.Uint64(b[:]); n != 0 {
			return n, nil
		}
	}
}

// BuildAction returns a body that carries one governance action, bound to
// chainID, with a fresh nonce.
func BuildAction(chainID, memo string, action app.Action) (*app.Body, error) {
	if action == nil {
		return nil, fmt.Errorf("no action to build")
	}
	return newBody(chainID, memo, func(b *app.Body) { b.Action = action })
}

// BuildMint returns a body that mints m, bound to chainID, with a fresh nonce.
func BuildMint(chainID, memo string, m app.Mint) (*app.Body, error) {
	if m.Amount == 0 {
		return nil, fmt.Errorf("amount must be greater than zero")
	}
	return newBody(chainID, memo, func(b *app.Body) { b.Mint = &m })
}

// BurnRequest says which issuer destroys how much of an asset, in base units.
type BurnRequest struct {
	From   string // the issuer whose coins are burned
	Asset  string
	Amount uint64
	Memo   string
}

// BuildBurn selects enough of the issuer's coins of the asset, as
// BuildTransfer does, and returns a body that burns Amount of them; the
// ledger returns the rest of the inputs to the issuer as output 0.
func (c *Client) BuildBurn(ctx context.Context, chainID string, req BurnRequest) (*app.Body, error) {
	if req.Amount == 0 {
		return nil, fmt.Errorf("amount must be greater than zero")
	}
	inputs, _, err := c.selectCoins(ctx, req.From, req.Asset, req.Amount)
	if err != nil {
		return nil, err
	}
	return newBody(chainID, req.Memo, func(b *app.Body) {
		b.Burn = &app.Burn{Inputs: inputs, Asset: req.Asset, Amount: req.Amount}
	})
}

func newBody(chainID, memo string, set func(*app.Body)) (*app.Body, error) {
	nonce, err := NewNonce()
	if err != nil {
		return nil, err
	}
	b := &app.Body{Version: app.TxVersion, ChainID: chainID, Memo: memo, Nonce: nonce}
	set(b)
	return b, nil
}

// Approval is who must sign a transaction before the ledger accepts it,
// beyond the owners of the coins it spends.
type Approval struct {
	// Organizations is how many distinct organisations' admins must sign:
	// the chain's governance threshold for a governance action, 0 for
	// anything else and for a key change the account signs itself.
	Organizations uint32
	// Account is set when an account approves a change of its own keys
	// (SetAccountKeys signed by one of its keys): it needs signatures of
	// Threshold key weight and has Weight so far.
	Account   string
	Weight    uint64
	Threshold uint32
}

// Complete reports whether the signatures so far are all the ledger needs
// that the client can tell: governance by one organisation, or an account's
// own key change signed to its threshold.
func (a *Approval) Complete() bool {
	if a.Account != "" {
		return a.Weight >= uint64(a.Threshold)
	}
	return a.Organizations <= 1
}

// Approval reads from the node what tx needs beyond its signatures so far.
func (c *Client) Approval(ctx context.Context, tx *app.Tx) (*Approval, error) {
	if tx.Body.Action == nil {
		return &Approval{}, nil
	}
	if keys, ok := tx.Body.Action.(*app.SetAccountKeys); ok {
		acct, err := c.Account(ctx, keys.Name)
		if err != nil {
			return nil, fmt.Errorf("account %s: %w", keys.Name, err)
		}
		if w := SignedWeight(acct, tx); w > 0 {
			return &Approval{Account: acct.Name, Weight: w, Threshold: acct.Threshold}, nil
		}
	}
	p, err := c.Params(ctx)
	if err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	return &Approval{Organizations: p.GovernanceThreshold}, nil
}

// SignedWeight sums the weights of acct's keys that have a signature on tx.
// It does not verify the signatures: the ledger does.
func SignedWeight(acct *app.Account, tx *app.Tx) uint64 {
	var w uint64
	for _, k := range acct.Keys {
		for _, s := range tx.Signatures {
			if s.KeyType == k.KeyType && bytes.Equal(s.PublicKey, k.PublicKey) {
				w += uint64(k.Weight)
				break
			}
		}
	}
	return w
}
