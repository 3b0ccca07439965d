package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/client"
)

// txFile is the offline form of a transaction, for `tx sign` and
// `tx broadcast`: the encoded transaction and, for people, what it does.
type txFile struct {
	ChainID string `json:"chain_id"`
	TxID    string `json:"txid"`
	Tx      string `json:"tx"` // base64 of the encoded Tx
	Summary string `json:"summary"`
}

func newTxCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tx",
		Short: "Build, sign and submit transactions",
		Long: `tx commands sign with keys from the home's keyring, submit through the CometBFT
RPC (--node), wait for the block that commits the transaction and print its
txid, height and result code. They exit non-zero when the ledger rejects the
transaction. --async returns once the node has checked it (CheckTx).

Governance actions (role, account, asset, validator, node, params, pause,
unpause) need the approval of admins of as many organisations as the
chain's governance threshold. With a threshold above 1 the command signs
with --from and prints the transaction file instead of submitting it; admins
of other organisations add their signatures with 'consort tx sign FILE
--from KEY', and 'consort tx broadcast FILE' submits it. --generate-only
prints the unsigned file.`,
	}
	cmd.PersistentFlags().BoolVar(&g.noPow, "no-pow", false, "do not mine the proof-of-work stamp the chain asks for (to test rejections)")
	cmd.AddCommand(newTxSendCmd(g), newTxSignCmd(g), newTxBroadcastCmd(g),
		newTxMintCmd(g), newTxBurnCmd(g), newTxPauseCmd(g), newTxUnpauseCmd(g),
		newTxRoleCmd(g), newTxAccountCmd(g), newTxAssetCmd(g),
		newTxValidatorCmd(g), newTxNodeCmd(g), newTxParamsCmd(g))
	return cmd
}

func newTxSendCmd(g *globals) *cobra.Command {
	var req client.TransferRequest
	var amount string
	var async, generateOnly bool
	cmd := &cobra.Command{
		Use:   "send --from A --to B --asset X --amount N",
		Short: "Pay an amount of an asset from one account to another",
		Long: `send spends enough of --from's coins of --asset, pays --amount (a decimal
number in the asset's units, e.g. 100.00) to --to and returns the change to
--from, signed with --from's key. --generate-only prints the unsigned
transaction for 'consort tx sign' instead (multi-signature accounts).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			for flag, v := range map[string]string{"--from": req.From, "--to": req.To, "--asset": req.Asset, "--amount": amount} {
				if v == "" {
					return fmt.Errorf("%s is required", flag)
				}
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			chainID, err := c.ChainID(ctx)
			if err != nil {
				return err
			}
			asset, err := c.Asset(ctx, req.Asset)
			if err != nil {
				return fmt.Errorf("--asset %s: %w", req.Asset, err)
			}
			if req.Amount, err = app.ParseAmount(amount, asset.Decimals); err != nil {
				return fmt.Errorf("--amount: %w", err)
			}
			if req.Amount == 0 {
				return fmt.Errorf("--amount: must be greater than zero")
			}
			body, err := c.BuildTransfer(ctx, chainID, req)
			if err != nil {
				return err
			}
			var signers []client.Signer
			if !generateOnly {
				s, err := g.signer(req.From)
				if err != nil {
					return err
				}
				signers = append(signers, s)
			}
			tx, err := client.Sign(ctx, body, signers...)
			if err != nil {
				return err
			}
			if generateOnly {
				return g.printJSON(newTxFile(tx, g.assetDecimals(ctx)))
			}
			return g.broadcast(cmd, c, tx.Encode(), async)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.From, "from", "", "paying account (its key signs)")
	f.StringVar(&req.To, "to", "", "receiving account")
	f.StringVar(&req.Asset, "asset", "", "asset id, e.g. USD")
	f.StringVar(&amount, "amount", "", "amount in the asset's units, e.g. 100.00")
	f.StringVar(&req.Memo, "memo", "", "free text stored with the transaction (at most 256 bytes)")
	f.BoolVar(&async, "async", false, "return after CheckTx instead of waiting for the block")
	f.BoolVar(&generateOnly, "generate-only", false, "print the unsigned transaction as JSON instead of signing and sending")
	return cmd
}

func newTxSignCmd(g *globals) *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "sign FILE --from KEY",
		Short: "Add a signature to a transaction file and print the result",
		Long: `sign reads a transaction file (from --generate-only or an earlier sign; "-"
reads standard input), shows on standard error what it does in plain words,
adds a signature with --from's key and prints the new file.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" {
				return fmt.Errorf("--from is required")
			}
			tx, err := readTxFile(args[0])
			if err != nil {
				return err
			}
			decimals := g.assetDecimals(cmd.Context())
			fmt.Fprintf(g.stderr, "signing as %s: %s\n", from, client.Describe(tx, decimals))
			s, err := g.signer(from)
			if err != nil {
				return err
			}
			if err := client.AddSignature(cmd.Context(), tx, s); err != nil {
				return err
			}
			return g.printJSON(newTxFile(tx, decimals))
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "key in the keyring to sign with")
	return cmd
}

func newTxBroadcastCmd(g *globals) *cobra.Command {
	var async bool
	cmd := &cobra.Command{
		Use:   "broadcast FILE",
		Short: "Submit a signed transaction file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tx, err := readTxFile(args[0])
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			return g.broadcast(cmd, c, tx.Encode(), async)
		},
	}
	cmd.Flags().BoolVar(&async, "async", false, "return after CheckTx instead of waiting for the block")
	return cmd
}

// broadcast submits, prints the result and fails when the ledger rejected it.
func (g *globals) broadcast(cmd *cobra.Command, c *client.Client, txBytes []byte, async bool) error {
	if !g.noPow {
		// The stamp is outside the body and the signatures: mine it last.
		tx, err := app.DecodeTx(txBytes)
		if err != nil {
			return err
		}
		stamp, err := c.StampIfNeeded(cmd.Context(), tx)
		if err != nil {
			return err
		}
		if stamp != nil {
			fmt.Fprintf(g.stderr, "mined a %d-bit proof-of-work stamp in %s (%d tries)\n", stamp.Bits, stamp.Took.Round(time.Millisecond), stamp.Tries)
			txBytes = tx.Encode()
		}
	}
	res, err := c.Broadcast(cmd.Context(), txBytes, !async)
	if err != nil && !errors.Is(err, client.ErrCommitTimeout) {
		return err
	}
	if perr := g.print(res, func(w io.Writer) {
		fmt.Fprintf(w, "txid:   %s\nheight: %d\ncode:   %d\nlog:    %s\n", res.TxID, res.Height, res.Code, res.Log)
	}); perr != nil {
		return perr
	}
	if err != nil {
		return err
	}
	if res.Code != 0 {
		return fmt.Errorf("%w with code %d: %s", errRejected, res.Code, res.Log)
	}
	return nil
}

func newTxFile(tx *app.Tx, decimals client.DecimalsFunc) txFile {
	return txFile{ChainID: tx.Body.ChainID, TxID: tx.ID().String(), Tx: base64.StdEncoding.EncodeToString(tx.Encode()), Summary: client.Describe(tx, decimals)}
}

func readTxFile(path string) (*app.Tx, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	var f txFile
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: not a transaction file: %w", path, err)
	}
	raw, err := base64.StdEncoding.DecodeString(f.Tx)
	if err != nil {
		return nil, fmt.Errorf("%s: field tx: want base64: %w", path, err)
	}
	tx, err := app.DecodeTx(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tx, nil
}

// assetDecimals looks assets up on the node, if one is reachable.
func (g *globals) assetDecimals(ctx context.Context) client.DecimalsFunc {
	c, err := g.client()
	if err != nil {
		return nil
	}
	return func(asset string) (uint32, bool) {
		a, err := c.Asset(ctx, asset)
		if err != nil {
			return 0, false
		}
		return a.Decimals, true
	}
}
