package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/client"
)

// Governance commands: each builds one action, signs it with --from and
// submits it — or, while admins of more organisations must approve, prints
// the signed transaction file for `consort tx sign` and `consort tx broadcast`.

// txOptions are the flags every governance, mint and burn command takes.
type txOptions struct {
	from         string
	memo         string
	generateOnly bool
	async        bool
}

func (o *txOptions) addFlags(cmd *cobra.Command, fromUsage string) {
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "", fromUsage)
	f.StringVar(&o.memo, "memo", "", "free text stored with the transaction (at most 256 bytes)")
	f.BoolVar(&o.generateOnly, "generate-only", false, "print the unsigned transaction file for 'consort tx sign' instead of signing and sending")
	f.BoolVar(&o.async, "async", false, "return after CheckTx instead of waiting for the block")
}

// requireFrom fails unless a key to sign with is named or nothing is signed.
func (o *txOptions) requireFrom() error {
	if o.from == "" && !o.generateOnly {
		return fmt.Errorf("--from is required: the keyring key that signs (or --generate-only to print the unsigned transaction)")
	}
	return nil
}

// connect returns a client of the node and the chain id it runs.
func (g *globals) connect(ctx context.Context) (*client.Client, string, error) {
	c, err := g.client()
	if err != nil {
		return nil, "", err
	}
	chainID, err := c.ChainID(ctx)
	if err != nil {
		return nil, "", err
	}
	return c, chainID, nil
}

// runAction connects, lets build make the action (it may read the node's
// state through c), wraps it in a body with a fresh nonce and submits it.
func (g *globals) runAction(cmd *cobra.Command, o *txOptions, build func(ctx context.Context, c *client.Client) (app.Action, error)) error {
	if err := o.requireFrom(); err != nil {
		return err
	}
	ctx := cmd.Context()
	c, chainID, err := g.connect(ctx)
	if err != nil {
		return err
	}
	action, err := build(ctx, c)
	if err != nil {
		return err
	}
	body, err := client.BuildAction(chainID, o.memo, action)
	if err != nil {
		return err
	}
	return g.submit(cmd, o, c, body)
}

// submit prints body unsigned (--generate-only), or signs it with --from
// and then broadcasts it — unless it is a governance action that still
// needs other approvals, which it prints signed, saying who must sign next.
func (g *globals) submit(cmd *cobra.Command, o *txOptions, c *client.Client, body *app.Body) error {
	ctx := cmd.Context()
	if o.generateOnly {
		tx, err := client.Sign(ctx, body)
		if err != nil {
			return err
		}
		return g.printJSON(newTxFile(tx, g.assetDecimals(ctx)))
	}
	s, err := g.signer(o.from)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	tx, err := client.Sign(ctx, body, s)
	if err != nil {
		return err
	}
	ap, err := c.Approval(ctx, tx)
	if err != nil {
		return err
	}
	if !ap.Complete() {
		if err := g.printJSON(newTxFile(tx, g.assetDecimals(ctx))); err != nil {
			return err
		}
		printNextSteps(g.stderr, o.from, ap)
		return nil
	}
	return g.broadcast(cmd, c, tx.Encode(), o.async)
}

// printNextSteps tells the user why a signed transaction was not submitted
// and how to complete it.
func printNextSteps(w io.Writer, from string, ap *client.Approval) {
	if ap.Account != "" {
		fmt.Fprintf(w, "signed with key %s, not submitted: account %s must sign with key weight %d, these signatures carry %d.\n", from, ap.Account, ap.Threshold, ap.Weight)
		fmt.Fprintf(w, "save the transaction file printed above, have other keys of %s sign it, then submit it:\n", ap.Account)
	} else {
		fmt.Fprintf(w, "signed with key %s, not submitted: this action needs the approval of admins of %d organisations (the chain's governance threshold).\n", from, ap.Organizations)
		fmt.Fprintf(w, "save the transaction file printed above, have admins of %d more organisation(s) sign it, then submit it:\n", ap.Organizations-1)
	}
	fmt.Fprintf(w, "  consort tx sign FILE --from KEY > FILE2\n  consort tx broadcast FILE2\n")
}

func newTxPauseCmd(g *globals) *cobra.Command {
	o := &txOptions{}
	var asset string
	var until int64
	cmd := &cobra.Command{
		Use:   "pause --from ADMIN [--asset X] [--until HEIGHT]",
		Short: "Stop transfers, mints and burns of every asset, or of one (governance)",
		Long: `pause stops transfers, mints and burns of every asset, or with --asset of one
asset, until 'consort tx unpause' or, with --until, until that block height.
Governance transactions are never paused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asset != "" {
				if err := app.ValidateAssetID(asset); err != nil {
					return fmt.Errorf("--asset: %w", err)
				}
			}
			if until < 0 {
				return fmt.Errorf("--until %d: want a block height, or 0 for until unpaused", until)
			}
			return g.runAction(cmd, o, func(context.Context, *client.Client) (app.Action, error) {
				return &app.Pause{Asset: asset, Until: until}, nil
			})
		},
	}
	o.addFlags(cmd, "admin key that signs")
	cmd.Flags().StringVar(&asset, "asset", "", "pause only this asset (default: every asset)")
	cmd.Flags().Int64Var(&until, "until", 0, "block height at which the pause ends by itself (default: until unpaused)")
	return cmd
}

func newTxUnpauseCmd(g *globals) *cobra.Command {
	o := &txOptions{}
	var asset string
	cmd := &cobra.Command{
		Use:   "unpause --from ADMIN [--asset X]",
		Short: "Lift the pause of every asset, or of one (governance)",
		Long: `unpause lifts the pause set by 'consort tx pause': without --asset the pause
of every asset, with --asset the pause of that asset. Each is lifted on its own.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asset != "" {
				if err := app.ValidateAssetID(asset); err != nil {
					return fmt.Errorf("--asset: %w", err)
				}
			}
			return g.runAction(cmd, o, func(context.Context, *client.Client) (app.Action, error) {
				return &app.Unpause{Asset: asset}, nil
			})
		},
	}
	o.addFlags(cmd, "admin key that signs")
	cmd.Flags().StringVar(&asset, "asset", "", "lift the pause of this asset (default: the pause of every asset)")
	return cmd
}

func newTxRoleCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "role",
		Short: "Grant, revoke and define roles (governance)",
	}
	simple := func(use, short string, args int, build func(args []string) (app.Action, error)) *cobra.Command {
		o := &txOptions{}
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.ExactArgs(args),
			RunE: func(cmd *cobra.Command, args []string) error {
				action, err := build(args)
				if err != nil {
					return err
				}
				return g.runAction(cmd, o, func(context.Context, *client.Client) (app.Action, error) { return action, nil })
			},
		}
		o.addFlags(c, "admin key that signs")
		return c
	}
	var expires int64
	grant := simple("grant ACCOUNT ROLE [--expires HEIGHT]", "Give an account a role, for good or until a block height", 2, func(args []string) (app.Action, error) {
		if err := checkAccountRole(args[0], args[1]); err != nil {
			return nil, err
		}
		if expires < 0 {
			return nil, fmt.Errorf("--expires %d: want the block height at which the grant ends, or 0 for no expiry", expires)
		}
		return &app.GrantRole{Account: args[0], Role: args[1], ExpiresAt: expires}, nil
	})
	grant.Flags().Int64Var(&expires, "expires", 0, "block height from which the grant gives nothing (default: no expiry)")
	revoke := simple("revoke ACCOUNT ROLE", "Take one role from an account", 2, func(args []string) (app.Action, error) {
		if err := checkAccountRole(args[0], args[1]); err != nil {
			return nil, err
		}
		return &app.RevokeRole{Account: args[0], Role: args[1]}, nil
	})
	revokeAll := simple("revoke-all ACCOUNT", "Take every role from an account at once (after a compromise)", 1, func(args []string) (app.Action, error) {
		if err := accountArg("ACCOUNT", args[0]); err != nil {
			return nil, err
		}
		return &app.RevokeAll{Account: args[0]}, nil
	})
	var perms []string
	set := simple("set NAME --permissions a,b", "Define a role, or redefine its permissions", 1, func(args []string) (app.Action, error) {
		if err := validateRoleName(args[0]); err != nil {
			return nil, fmt.Errorf("NAME: %w", err)
		}
		p, err := parsePermissions(args[0], perms)
		if err != nil {
			return nil, err
		}
		return &app.SetRole{Name: args[0], Permissions: p}, nil
	})
	set.Flags().StringSliceVar(&perms, "permissions", nil, "the role's permissions, comma-separated: "+permissionList())
	_ = set.MarkFlagRequired("permissions")
	cmd.AddCommand(grant, revoke, revokeAll, set)
	return cmd
}

func checkAccountRole(account, role string) error {
	if err := accountArg("ACCOUNT", account); err != nil {
		return err
	}
	if err := validateRoleName(role); err != nil {
		return fmt.Errorf("ROLE: %w", err)
	}
	return nil
}

func newTxNodeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Admit p2p nodes to the allowlist or remove them (governance)",
	}
	for _, v := range []struct {
		use, short string
		action     func(id string) app.Action
	}{
		{"allow NODE_ID", "Admit a node (its 40-hex-digit id) to the p2p allowlist", func(id string) app.Action { return &app.AllowNode{NodeID: id} }},
		{"remove NODE_ID", "Take a node off the p2p allowlist", func(id string) app.Action { return &app.RemoveNode{NodeID: id} }},
	} {
		o := &txOptions{}
		sub := &cobra.Command{
			Use:   v.use,
			Short: v.short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := app.ValidateNodeID(args[0]); err != nil {
					return fmt.Errorf("NODE_ID: %w", err)
				}
				return g.runAction(cmd, o, func(context.Context, *client.Client) (app.Action, error) { return v.action(args[0]), nil })
			},
		}
		o.addFlags(sub, "admin key that signs")
		cmd.AddCommand(sub)
	}
	return cmd
}

func newTxValidatorCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validator",
		Short: "Change the validator set (governance)",
	}
	o := &txOptions{}
	var v app.SetValidator
	var pubkey string
	set := &cobra.Command{
		Use:   "set --pubkey BASE64 --power P [--name N] [--operator ACCOUNT]",
		Short: "Add a validator, change its voting power, or with --power 0 remove it",
		Long: `set adds a validator (its CometBFT ed25519 public key, base64), changes its
voting power, or with --power 0 removes it. The ledger refuses a change that
takes a third or more of the voting power away at once, or leaves fewer than
min_validators validators.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := parseValidatorKey(pubkey)
			if err != nil {
				return err
			}
			if v.Power < 0 {
				return fmt.Errorf("--power %d: want 0 (remove) or more", v.Power)
			}
			if v.Operator != "" {
				if err := accountArg("--operator", v.Operator); err != nil {
					return err
				}
			}
			v.PublicKey = key
			return g.runAction(cmd, o, func(context.Context, *client.Client) (app.Action, error) { return &v, nil })
		},
	}
	o.addFlags(set, "admin key that signs")
	f := set.Flags()
	f.StringVar(&pubkey, "pubkey", "", "the validator's ed25519 public key, base64 (required)")
	f.Int64Var(&v.Power, "power", 0, "voting power; 0 removes the validator (required)")
	f.StringVar(&v.Name, "name", "", "the validator's name")
	f.StringVar(&v.Operator, "operator", "", "the account that runs the validator")
	_ = set.MarkFlagRequired("pubkey")
	_ = set.MarkFlagRequired("power")
	cmd.AddCommand(set)
	return cmd
}

func newTxParamsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "params",
		Short: "Change the ledger's consensus params (governance)",
	}
	o := &txOptions{}
	type param struct {
		flag, usage string
		value       uint32
		field       func(p *app.Params) *uint32
	}
	var modules []string
	var powBits uint32
	params := []*param{
		{flag: "governance-threshold", usage: "organisations whose admins must approve a governance action", field: func(p *app.Params) *uint32 { return &p.GovernanceThreshold }},
		{flag: "min-validators", usage: "fewest validators a validator change may leave", field: func(p *app.Params) *uint32 { return &p.MinValidators }},
		{flag: "max-tx-bytes", usage: "largest encoded transaction", field: func(p *app.Params) *uint32 { return &p.MaxTxBytes }},
		{flag: "max-inputs", usage: "most inputs of one transaction", field: func(p *app.Params) *uint32 { return &p.MaxInputs }},
		{flag: "max-outputs", usage: "most outputs of one transaction", field: func(p *app.Params) *uint32 { return &p.MaxOutputs }},
		{flag: "max-signatures", usage: "most signatures on one transaction", field: func(p *app.Params) *uint32 { return &p.MaxSignatures }},
		{flag: "max-memo-bytes", usage: "longest memo", field: func(p *app.Params) *uint32 { return &p.MaxMemoBytes }},
	}
	set := &cobra.Command{
		Use:   "set [--governance-threshold N] [--min-validators N] [--max-tx-bytes N] [--modules a,b,c] [--pow-bits N] ...",
		Short: "Change some params; the others keep their current values",
		Long: `set starts from the params the node reports now and changes those given.
The change applies to every transaction after the one that makes it, from
the same block on. --modules sets the validation modules and their order
(signature and policy are required; pow is the proof-of-work stamp, whose
difficulty --pow-bits sets: 0 turns it off).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			changed := cmd.Flags().Changed("modules") || cmd.Flags().Changed("pow-bits")
			for _, p := range params {
				changed = changed || cmd.Flags().Changed(p.flag)
				if cmd.Flags().Changed(p.flag) && p.value == 0 {
					return fmt.Errorf("--%s 0: want at least 1", p.flag)
				}
			}
			if !changed {
				return fmt.Errorf("nothing to change: give at least one of --governance-threshold, --min-validators, --max-tx-bytes, --max-inputs, --max-outputs, --max-signatures, --max-memo-bytes, --modules, --pow-bits")
			}
			return g.runAction(cmd, o, func(ctx context.Context, c *client.Client) (app.Action, error) {
				cur, err := c.Params(ctx)
				if err != nil {
					return nil, fmt.Errorf("current params: %w", err)
				}
				next := *cur
				for _, p := range params {
					if cmd.Flags().Changed(p.flag) {
						*p.field(&next) = p.value
					}
				}
				if cmd.Flags().Changed("modules") {
					next.Modules = modules
				}
				if cmd.Flags().Changed("pow-bits") {
					next.PowDifficultyBits = powBits
				}
				return &app.SetParams{Params: next}, nil
			})
		},
	}
	o.addFlags(set, "admin key that signs")
	set.Flags().StringSliceVar(&modules, "modules", nil, "validation modules, in order, e.g. pow,signature,policy (default: unchanged)")
	set.Flags().Uint32Var(&powBits, "pow-bits", 0, "proof-of-work difficulty in leading zero bits, 0 = off (default: unchanged)")
	for _, p := range params {
		set.Flags().Uint32Var(&p.value, p.flag, 0, p.usage+" (default: unchanged)")
	}
	cmd.AddCommand(set)
	return cmd
}
