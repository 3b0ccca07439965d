package client

import (
	"context"
	"fmt"

	"github.com/consort-ledger/consort/app"
)

// Signer signs transaction bodies with one key.
type Signer interface {
	// PublicKey returns the key's type and public bytes.
	PublicKey() (app.KeyType, []byte)
	// Sign signs msg (the body bytes) as the ledger verifies it.
	Sign(ctx context.Context, msg []byte) ([]byte, error)
}

// TransferRequest says who pays whom how much of what, in base units.
type TransferRequest struct {
	From   string
	To     string
	Asset  string
	Amount uint64
	Memo   string
}

// BuildTransfer selects enough of the sender's coins of the asset (oldest
// key order, fewest needed), pays the recipient and returns the change to
// the sender. The body is bound to chainID.
func (c *Client) BuildTransfer(ctx context.Context, chainID string, req TransferRequest) (*app.Body, error) {
	if req.Amount == 0 {
		return nil, fmt.Errorf("amount must be greater than zero")
	}
	inputs, total, err := c.selectCoins(ctx, req.From, req.Asset, req.Amount)
	if err != nil {
		return nil, err
	}
	outputs := []app.Output{{Owner: req.To, Asset: req.Asset, Amount: req.Amount}}
	if change := total - req.Amount; change > 0 {
		if req.To == req.From {
			outputs[0].Amount = total
		} else {
			outputs = append(outputs, app.Output{Owner: req.From, Asset: req.Asset, Amount: change})
		}
	}
	return &app.Body{Version: app.TxVersion, ChainID: chainID, Memo: req.Memo, Transfer: &app.Transfer{Inputs: inputs, Outputs: outputs}}, nil
}

// selectCoins picks owner's coins of asset, in the order the node lists
// them, until they hold at least amount; it returns them and their total.
func (c *Client) selectCoins(ctx context.Context, owner, asset string, amount uint64) ([]app.Outpoint, uint64, error) {
	coins, more, err := c.UTXOs(ctx, owner, asset)
	if err != nil {
		return nil, 0, fmt.Errorf("coins of %s: %w", owner, err)
	}
	var inputs []app.Outpoint
	var total uint64
	for _, u := range coins {
		if total >= amount {
			break
		}
		inputs = append(inputs, u.Outpoint)
		total += u.Output.Amount
	}
	if total < amount {
		hint := ""
		if more {
			hint = " among the first coins listed; merge coins first"
		}
		have, need := fmt.Sprintf("%d base units", total), fmt.Sprintf("%d", amount)
		if a, err := c.Asset(ctx, asset); err == nil {
			have, need = app.FormatAmount(total, a.Decimals), app.FormatAmount(amount, a.Decimals)
		}
		return nil, 0, fmt.Errorf("insufficient funds: %s holds %s %s%s, needs %s", owner, have, asset, hint, need)
	}
	return inputs, total, nil
}

// Sign encodes the body and adds one signature per signer.
func Sign(ctx context.Context, body *app.Body, signers ...Signer) (*app.Tx, error) {
	tx := &app.Tx{BodyBytes: app.EncodeBody(body), Body: *body}
	for _, s := range signers {
		if err := AddSignature(ctx, tx, s); err != nil {
			return nil, err
		}
	}
	return tx, nil
}

// AddSignature signs tx's body bytes verbatim with s and adds the signature
// in the canonical order.
func AddSignature(ctx context.Context, tx *app.Tx, s Signer) error {
	kt, pub := s.PublicKey()
	sig, err := s.Sign(ctx, tx.BodyBytes)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	tx.AddSignature(app.Signature{KeyType: kt, PublicKey: pub, Signature: sig})
	return nil
}
