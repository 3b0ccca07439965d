package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/consort-ledger/consort/app"
)

// QueryError is a non-zero answer from the node's ledger.
type QueryError struct {
	Code app.Code
	Log  string
}

func (e *QueryError) Error() string { return e.Log }

// IsNotFound reports whether err says the account, asset or height does not exist.
func IsNotFound(err error) bool {
	var q *QueryError
	return errors.As(err, &q) && q.Code == app.CodeNotFound
}

// Query runs abci_query on path at the latest height and returns the raw value.
func (c *Client) Query(ctx context.Context, path string) ([]byte, int64, error) {
	res, err := c.rpc.ABCIQuery(ctx, path, nil)
	if err != nil {
		return nil, 0, c.rpcError(err)
	}
	if res.Response.Code != 0 {
		return nil, res.Response.Height, &QueryError{Code: app.Code(res.Response.Code), Log: res.Response.Log}
	}
	return res.Response.Value, res.Response.Height, nil
}

// Account reads a registered account.
func (c *Client) Account(ctx context.Context, name string) (*app.Account, error) {
	b, _, err := c.Query(ctx, "/account/"+name)
	if err != nil {
		return nil, err
	}
	return app.DecodeAccount(b)
}

// Asset reads an asset.
func (c *Client) Asset(ctx context.Context, id string) (*app.Asset, error) {
	b, _, err := c.Query(ctx, "/asset/"+id)
	if err != nil {
		return nil, err
	}
	return app.DecodeAsset(b)
}

// Balance reads an account's balance of an asset in base units.
func (c *Client) Balance(ctx context.Context, name, asset string) (uint64, int64, error) {
	b, h, err := c.Query(ctx, "/balance/"+name+"/"+asset)
	if err != nil {
		return 0, h, err
	}
	v, err := app.DecodeBalance(b)
	return v, h, err
}

// UTXOs lists an account's unspent outputs, of one asset when asset is set.
func (c *Client) UTXOs(ctx context.Context, name, asset string) ([]app.UTXOEntry, bool, error) {
	path := "/utxos/" + name
	if asset != "" {
		path += "/" + asset
	}
	b, _, err := c.Query(ctx, path)
	if err != nil {
		return nil, false, err
	}
	return app.DecodeUTXOList(b)
}

// Params reads the consensus params.
func (c *Client) Params(ctx context.Context) (*app.Params, error) {
	b, _, err := c.Query(ctx, "/params")
	if err != nil {
		return nil, err
	}
	return app.DecodeParams(b)
}

// FindTx looks a transaction up by txid (not CometBFT's hash) through the
// indexed consort.txid event.
func (c *Client) FindTx(ctx context.Context, txid app.TxID) (*Result, error) {
	res, err := c.rpc.TxSearch(ctx, fmt.Sprintf("consort.txid='%s'", txid), false, nil, nil, "asc")
	if err != nil {
		return nil, c.rpcError(err)
	}
	if len(res.Txs) == 0 {
		return nil, &QueryError{Code: app.CodeNotFound, Log: fmt.Sprintf("no committed transaction with txid %s", txid)}
	}
	t := res.Txs[0]
	return &Result{TxID: txid.String(), Hash: t.Hash.String(), Height: t.Height, Code: t.TxResult.Code, Log: t.TxResult.Log}, nil
}

// Validators reads the ledger's validator set, sorted by public key.
func (c *Client) Validators(ctx context.Context) ([]app.Validator, error) {
	b, _, err := c.Query(ctx, "/validators")
	if err != nil {
		return nil, err
	}
	return app.DecodeValidatorSet(b)
}
