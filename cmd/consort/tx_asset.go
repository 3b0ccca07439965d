package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/client"
)

func newTxAssetCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "asset",
		Short: "Create assets and change their issuers (governance)",
	}
	cmd.AddCommand(newTxAssetCreateCmd(g), newTxAssetSetIssuerCmd(g))
	return cmd
}

func newTxAssetCreateCmd(g *globals) *cobra.Command {
	o := &txOptions{}
	var decimals uint32
	var issuers []string
	cmd := &cobra.Command{
		Use:   "create ID --decimals D [--issuer ACCOUNT[:CAP]]...",
		Short: "Declare a new asset and who may issue it",
		Long: `create declares an asset (e.g. EUR, BOND-2031) with --decimals places. Each
--issuer ACCOUNT[:CAP] may mint it while what it has outstanding (minted less
burned) stays within CAP, in the asset's units; no CAP means unlimited.
Issuers also need a role with the mint or burn permission (e.g. issuer).

Example:
  consort tx asset create EUR --decimals 2 --issuer bank-a:1000000.00 --from admin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if err := app.ValidateAssetID(id); err != nil {
				return fmt.Errorf("ID: %w", err)
			}
			if decimals > app.MaxDecimals {
				return fmt.Errorf("--decimals %d: want 0 to %d", decimals, app.MaxDecimals)
			}
			iss, err := parseIssuerFlags(issuers, decimals)
			if err != nil {
				return err
			}
			return g.runAction(cmd, o, func(context.Context, *client.Client) (app.Action, error) {
				return &app.CreateAsset{ID: id, Decimals: decimals, Issuers: iss}, nil
			})
		},
	}
	o.addFlags(cmd, "admin key that signs")
	cmd.Flags().Uint32Var(&decimals, "decimals", 0, "decimal places of the asset's unit, 0 to 18 (required)")
	cmd.Flags().StringArrayVar(&issuers, "issuer", nil, "an issuer as ACCOUNT[:CAP], CAP in the asset's units or unlimited (repeatable)")
	_ = cmd.MarkFlagRequired("decimals")
	return cmd
}

func newTxAssetSetIssuerCmd(g *globals) *cobra.Command {
	o := &txOptions{}
	var capText string
	cmd := &cobra.Command{
		Use:   "set-issuer ID ACCOUNT --cap AMOUNT",
		Short: "Make an account an issuer of an asset, change its cap, or with --cap 0 remove it",
		Long: `set-issuer makes ACCOUNT an issuer of asset ID that may have up to --cap
outstanding (in the asset's units, e.g. 5000.00, or unlimited), changes the
cap of an existing issuer (what it already minted stays counted), or with
--cap 0 removes it as an issuer.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, account := args[0], args[1]
			if err := app.ValidateAssetID(id); err != nil {
				return fmt.Errorf("ID: %w", err)
			}
			if err := accountArg("ACCOUNT", account); err != nil {
				return err
			}
			return g.runAction(cmd, o, func(ctx context.Context, c *client.Client) (app.Action, error) {
				asset, err := c.Asset(ctx, id)
				if err != nil {
					return nil, fmt.Errorf("asset %s: %w", id, err)
				}
				capacity, err := parseCap(capText, asset.Decimals)
				if err != nil {
					return nil, fmt.Errorf("--cap: %w", err)
				}
				return &app.SetIssuer{Asset: id, Account: account, Cap: capacity}, nil
			})
		},
	}
	o.addFlags(cmd, "admin key that signs")
	cmd.Flags().StringVar(&capText, "cap", "", "most the issuer may have outstanding, in the asset's units, or unlimited; 0 removes the issuer (required)")
	_ = cmd.MarkFlagRequired("cap")
	return cmd
}
