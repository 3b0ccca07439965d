package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/spf13/cobra"

	"github.com/consort-ledger/consort/app"
)

func newQueryCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "query",
		Aliases: []string{"q"},
		Short:   "Read ledger state through the node's RPC",
	}
	var asset string
	balance := &cobra.Command{
		Use:   "balance ACCOUNT --asset X",
		Short: "An account's balance of an asset",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if asset == "" {
				return fmt.Errorf("--asset is required")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			a, err := c.Asset(cmd.Context(), asset)
			if err != nil {
				return err
			}
			v, h, err := c.Balance(cmd.Context(), args[0], asset)
			if err != nil {
				return err
			}
			out := balanceJSON{Account: args[0], Asset: asset, Amount: app.FormatAmount(v, a.Decimals), BaseUnits: fmt.Sprint(v), Height: h}
			return g.print(out, func(w io.Writer) { fmt.Fprintf(w, "%s %s\n", out.Amount, asset) })
		},
	}
	balance.Flags().StringVar(&asset, "asset", "", "asset id, e.g. USD")

	var utxoAsset string
	utxos := &cobra.Command{
		Use:   "utxos ACCOUNT",
		Short: "An account's unspent coins",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			list, more, err := c.UTXOs(cmd.Context(), args[0], utxoAsset)
			if err != nil {
				return err
			}
			out := utxosJSON{Account: args[0], UTXOs: []utxoJSON{}, More: more}
			decimals := map[string]uint32{}
			for _, u := range list {
				d, ok := decimals[u.Output.Asset]
				if !ok {
					a, err := c.Asset(cmd.Context(), u.Output.Asset)
					if err != nil {
						return err
					}
					d, decimals[u.Output.Asset] = a.Decimals, a.Decimals
				}
				out.UTXOs = append(out.UTXOs, utxoJSON{Outpoint: u.Outpoint.String(), Asset: u.Output.Asset, Amount: app.FormatAmount(u.Output.Amount, d), BaseUnits: fmt.Sprint(u.Output.Amount)})
			}
			return g.print(out, func(w io.Writer) {
				for _, u := range out.UTXOs {
					fmt.Fprintf(w, "%s\t%s %s\n", u.Outpoint, u.Amount, u.Asset)
				}
				if more {
					fmt.Fprintln(w, "(more coins not listed)")
				}
			})
		},
	}
	utxos.Flags().StringVar(&utxoAsset, "asset", "", "only coins of this asset")

	account := &cobra.Command{
		Use:   "account NAME",
		Short: "A registered account: keys, threshold, roles, status",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			a, err := c.Account(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			out := accountJSON{Name: a.Name, Organization: a.Organization, Threshold: a.Threshold, Roles: []roleJSON{}, Status: a.Status.String()}
			var roleNames []string
			for _, gr := range a.Grants {
				out.Roles = append(out.Roles, roleJSON{Role: gr.Role, ExpiresAt: gr.ExpiresAt})
				if gr.ExpiresAt != 0 {
					roleNames = append(roleNames, fmt.Sprintf("%s (until height %d)", gr.Role, gr.ExpiresAt))
				} else {
					roleNames = append(roleNames, gr.Role)
				}
			}
			for _, k := range a.Keys {
				out.Keys = append(out.Keys, keyJSON{Type: k.KeyType.String(), PublicKey: fmt.Sprintf("%x", k.PublicKey), Weight: k.Weight})
			}
			return g.print(out, func(w io.Writer) {
				fmt.Fprintf(w, "name:         %s\norganization: %s\nstatus:       %s\nroles:        %s\nthreshold:    %d\n", out.Name, out.Organization, out.Status, strings.Join(roleNames, ", "), out.Threshold)
				for _, k := range out.Keys {
					fmt.Fprintf(w, "key:          %s %s (weight %d)\n", k.Type, k.PublicKey, k.Weight)
				}
			})
		},
	}
	assetCmd := &cobra.Command{
		Use:   "asset ID",
		Short: "An asset: decimals, issuers, total supply",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			a, err := c.Asset(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			out := assetJSON{ID: a.ID, Decimals: a.Decimals, Issuers: []issuerJSON{}, Supply: app.FormatAmount(a.Supply, a.Decimals), SupplyBaseUnits: fmt.Sprint(a.Supply)}
			var issuerText []string
			for _, i := range a.Issuers {
				ij := issuerJSON{Account: i.Account, Cap: "unlimited", Outstanding: app.FormatAmount(i.Minted, a.Decimals)}
				if i.Cap != math.MaxUint64 {
					ij.Cap = app.FormatAmount(i.Cap, a.Decimals)
				}
				out.Issuers = append(out.Issuers, ij)
				issuerText = append(issuerText, fmt.Sprintf("%s (issued %s of cap %s)", ij.Account, ij.Outstanding, ij.Cap))
			}
			return g.print(out, func(w io.Writer) {
				fmt.Fprintf(w, "id:       %s\ndecimals: %d\nissuers:  %s\nsupply:   %s\n", out.ID, out.Decimals, strings.Join(issuerText, ", "), out.Supply)
			})
		},
	}
	params := &cobra.Command{
		Use:   "params",
		Short: "The ledger's consensus limits",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			p, err := c.Params(cmd.Context())
			if err != nil {
				return err
			}
			out := paramsJSON{p.MaxTxBytes, p.MaxInputs, p.MaxOutputs, p.MaxSignatures, p.MaxMemoBytes, p.GovernanceThreshold, p.MinValidators, p.Modules, p.PowDifficultyBits}
			return g.print(out, func(w io.Writer) {
				fmt.Fprintf(w, "max_tx_bytes:         %d\nmax_inputs:           %d\nmax_outputs:          %d\nmax_signatures:       %d\nmax_memo_bytes:       %d\ngovernance_threshold: %d\nmin_validators:       %d\nmodules:              %s\npow_difficulty_bits:  %d\n",
					p.MaxTxBytes, p.MaxInputs, p.MaxOutputs, p.MaxSignatures, p.MaxMemoBytes, p.GovernanceThreshold, p.MinValidators, strings.Join(p.Modules, ", "), p.PowDifficultyBits)
			})
		},
	}
	txCmd := &cobra.Command{
		Use:   "tx TXID",
		Short: "Where and how a transaction was committed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := app.ParseTxID(args[0])
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			res, err := c.FindTx(cmd.Context(), id)
			if err != nil {
				return err
			}
			return g.print(res, func(w io.Writer) {
				fmt.Fprintf(w, "txid:   %s\nheight: %d\ncode:   %d\nlog:    %s\n", res.TxID, res.Height, res.Code, res.Log)
			})
		},
	}
	validators := &cobra.Command{
		Use:   "validators",
		Short: "The ledger's validator set: name, key, power, operator",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			vals, err := c.Validators(cmd.Context())
			if err != nil {
				return err
			}
			out := []validatorJSON{}
			for _, v := range vals {
				out = append(out, validatorJSON{Name: v.Name, KeyType: v.KeyType, PublicKey: base64.StdEncoding.EncodeToString(v.PublicKey), Power: v.Power, Operator: v.Operator})
			}
			return g.print(out, func(w io.Writer) {
				for _, v := range out {
					fmt.Fprintf(w, "%s\t%s:%s\tpower %d\toperator %s\n", v.Name, v.KeyType, v.PublicKey, v.Power, v.Operator)
				}
			})
		},
	}
	cmd.AddCommand(balance, utxos, account, assetCmd, params, txCmd, validators)
	return cmd
}

type balanceJSON struct {
	Account   string `json:"account"`
	Asset     string `json:"asset"`
	Amount    string `json:"amount"`
	BaseUnits string `json:"base_units"`
	Height    int64  `json:"height"`
}

type utxoJSON struct {
	Outpoint  string `json:"outpoint"`
	Asset     string `json:"asset"`
	Amount    string `json:"amount"`
	BaseUnits string `json:"base_units"`
}

type utxosJSON struct {
	Account string     `json:"account"`
	UTXOs   []utxoJSON `json:"utxos"`
	More    bool       `json:"more"`
}

type keyJSON struct {
	Type      string `json:"type"`
	PublicKey string `json:"public_key"`
	Weight    uint32 `json:"weight"`
}

type accountJSON struct {
	Name         string     `json:"name"`
	Organization string     `json:"organization"`
	Keys         []keyJSON  `json:"keys"`
	Threshold    uint32     `json:"threshold"`
	Roles        []roleJSON `json:"roles"`
	Status       string     `json:"status"`
}

type assetJSON struct {
	ID              string       `json:"id"`
	Decimals        uint32       `json:"decimals"`
	Issuers         []issuerJSON `json:"issuers"`
	Supply          string       `json:"supply"`
	SupplyBaseUnits string       `json:"supply_base_units"`
}

type paramsJSON struct {
	MaxTxBytes    uint32 `json:"max_tx_bytes"`
	MaxInputs     uint32 `json:"max_inputs"`
	MaxOutputs    uint32 `json:"max_outputs"`
	MaxSignatures uint32 `json:"max_signatures"`
	MaxMemoBytes  uint32 `json:"max_memo_bytes"`
	// GovernanceThreshold is how many organisations' admins must approve a governance action.
	GovernanceThreshold uint32 `json:"governance_threshold"`
	MinValidators       uint32 `json:"min_validators"`
	// Modules are the validation modules every transaction passes, in order.
	Modules           []string `json:"modules"`
	PowDifficultyBits uint32   `json:"pow_difficulty_bits"`
}

type roleJSON struct {
	Role      string `json:"role"`
	ExpiresAt int64  `json:"expires_at"` // 0 = never
}

type issuerJSON struct {
	Account     string `json:"account"`
	Cap         string `json:"cap"` // "unlimited" or an amount
	Outstanding string `json:"outstanding"`
}

type validatorJSON struct {
	Name      string `json:"name"`
	KeyType   string `json:"key_type"`
	PublicKey string `json:"public_key"` // base64
	Power     int64  `json:"power"`
	Operator  string `json:"operator"`
}
