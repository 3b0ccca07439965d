package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/client"
)

// Minting and burning: issuers change an asset's supply. These are not
// governance actions: the issuer signs alone and the command submits.

func newTxMintCmd(g *globals) *cobra.Command {
	o := &txOptions{}
	var to, asset, amount string
	cmd := &cobra.Command{
		Use:   "mint --from ISSUER --to ACCOUNT --asset X --amount N",
		Short: "Create new coins of an asset for an account (issuers only)",
		Long: `mint creates --amount (in the asset's units, e.g. 10.00) of --asset for --to,
signed by --from, which must be an issuer of the asset holding the mint
permission, within its cap.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags("--to", to, "--asset", asset, "--amount", amount); err != nil {
				return err
			}
			if err := o.requireFrom(); err != nil {
				return err
			}
			if err := accountArg("--to", to); err != nil {
				return err
			}
			ctx := cmd.Context()
			c, chainID, err := g.connect(ctx)
			if err != nil {
				return err
			}
			units, err := parseAmountFlag(ctx, c, asset, amount)
			if err != nil {
				return err
			}
			body, err := client.BuildMint(chainID, o.memo, app.Mint{To: to, Asset: asset, Amount: units})
			if err != nil {
				return err
			}
			return g.submit(cmd, o, c, body)
		},
	}
	o.addFlags(cmd, "issuer key that signs")
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "account that receives the new coins")
	f.StringVar(&asset, "asset", "", "asset id, e.g. USD")
	f.StringVar(&amount, "amount", "", "amount in the asset's units, e.g. 10.00")
	return cmd
}

func newTxBurnCmd(g *globals) *cobra.Command {
	o := &txOptions{}
	var asset, amount string
	cmd := &cobra.Command{
		Use:   "burn --from ISSUER --asset X --amount N",
		Short: "Destroy coins of an asset that its issuer holds (issuers only)",
		Long: `burn spends enough of --from's coins of --asset and destroys --amount of them
(in the asset's units); the rest comes back to --from as change. --from must
be an issuer of the asset holding the burn permission, and it both names the
account whose coins burn and the key that signs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags("--from", o.from, "--asset", asset, "--amount", amount); err != nil {
				return err
			}
			ctx := cmd.Context()
			c, chainID, err := g.connect(ctx)
			if err != nil {
				return err
			}
			units, err := parseAmountFlag(ctx, c, asset, amount)
			if err != nil {
				return err
			}
			body, err := c.BuildBurn(ctx, chainID, client.BurnRequest{From: o.from, Asset: asset, Amount: units, Memo: o.memo})
			if err != nil {
				return err
			}
			return g.submit(cmd, o, c, body)
		},
	}
	o.addFlags(cmd, "issuer whose coins burn (its key signs)")
	f := cmd.Flags()
	f.StringVar(&asset, "asset", "", "asset id, e.g. USD")
	f.StringVar(&amount, "amount", "", "amount in the asset's units, e.g. 10.00")
	return cmd
}

// requireFlags takes pairs of flag name and value and fails on the first
// pair whose value is empty.
func requireFlags(nameValues ...string) error {
	for i := 0; i+1 < len(nameValues); i += 2 {
		if nameValues[i+1] == "" {
			return fmt.Errorf("%s is required", nameValues[i])
		}
	}
	return nil
}

// parseAmountFlag reads --amount in the units of --asset, looked up on the node.
func parseAmountFlag(ctx context.Context, c *client.Client, asset, amount string) (uint64, error) {
	if err := app.ValidateAssetID(asset); err != nil {
		return 0, fmt.Errorf("--asset: %w", err)
	}
	a, err := c.Asset(ctx, asset)
	if err != nil {
		return 0, fmt.Errorf("--asset %s: %w", asset, err)
	}
	units, err := app.ParseAmount(amount, a.Decimals)
	if err != nil {
		return 0, fmt.Errorf("--amount: %w", err)
	}
	if units == 0 {
		return 0, fmt.Errorf("--amount: must be greater than zero")
	}
	return units, nil
}
