package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/client"
)

func newTxAccountCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "account",
		Short: "Register accounts, change their keys, freeze and unfreeze them (governance)",
	}
	cmd.AddCommand(newTxAccountRegisterCmd(g), newTxAccountSetKeysCmd(g),
		newTxAccountStatusCmd(g, "freeze", "Stop an account from moving coins or signing", func(n string) app.Action { return &app.FreezeAccount{Name: n} }),
		newTxAccountStatusCmd(g, "unfreeze", "Lift an account's freeze", func(n string) app.Action { return &app.UnfreezeAccount{Name: n} }),
	)
	return cmd
}

func newTxAccountRegisterCmd(g *globals) *cobra.Command {
	o := &txOptions{}
	var keys, keysFrom, roles []string
	var threshold uint32
	var org string
	cmd := &cobra.Command{
		Use:   "register NAME --key TYPE:BASE64[:WEIGHT]... [--threshold M] [--org ORG] [--role R...]",
		Short: "Register a new account with its key set, organisation and roles",
		Long: `register creates an account. Its keys come from --key TYPE:BASE64[:WEIGHT]
(the form 'consort keys show' prints, weight 1 when left out) and from
--key-from NAME[:WEIGHT] (a key of the local keyring); --threshold is the key
weight that must sign for it (required with more than one key). --org names
its organisation: admins count towards governance once per organisation, and
an account of no organisation (the default) counts towards none. --role
ROLE[:EXPIRES_AT_HEIGHT] grants roles from the start.

Example:
  consort tx account register bank-c.ops --key-from carol --org bank-c --role member --from admin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := accountArg("NAME", name); err != nil {
				return err
			}
			if cmd.Flags().Changed("threshold") && threshold == 0 {
				return fmt.Errorf("--threshold 0: want at least 1")
			}
			acct := app.Account{Name: name, Organization: org, Status: app.StatusActive, Threshold: threshold}
			var err error
			if acct.Keys, err = parseKeyFlags("key", keys, "key-from", keysFrom, g.keyring); err != nil {
				return err
			}
			if err := checkKeySet(acct.Keys, &acct.Threshold, "--key or --key-from"); err != nil {
				return err
			}
			if acct.Grants, err = parseRoleFlags(roles); err != nil {
				return err
			}
			return g.runAction(cmd, o, func(context.Context, *client.Client) (app.Action, error) {
				return &app.RegisterAccount{Account: acct}, nil
			})
		},
	}
	o.addFlags(cmd, "admin key that signs")
	f := cmd.Flags()
	f.StringArrayVar(&keys, "key", nil, "a key as TYPE:BASE64[:WEIGHT], e.g. ed25519:<base64>:1 (repeatable)")
	f.StringArrayVar(&keysFrom, "key-from", nil, "a key of the local keyring as NAME[:WEIGHT] (repeatable)")
	f.Uint32Var(&threshold, "threshold", 0, "key weight that must sign for the account (default: the weight of its only key)")
	f.StringVar(&org, "org", "", "the account's organisation (default: none)")
	f.StringArrayVar(&roles, "role", nil, "a role to grant as ROLE[:EXPIRES_AT_HEIGHT] (repeatable)")
	return cmd
}

// checkKeySet checks a key set and its threshold before the ledger does,
// naming the flags; a threshold of 0 becomes the weight of a single key.
func checkKeySet(keys []app.AccountKey, threshold *uint32, keyFlags string) error {
	if len(keys) == 0 {
		return fmt.Errorf("%s: at least one key is needed", keyFlags)
	}
	if *threshold == 0 {
		if len(keys) > 1 {
			return fmt.Errorf("--threshold is required with %d keys: the key weight that must sign (1 to %d)", len(keys), client.TotalWeight(keys))
		}
		*threshold = keys[0].Weight
	}
	if total := client.TotalWeight(keys); uint64(*threshold) > total {
		return fmt.Errorf("--threshold %d: exceeds the total key weight %d", *threshold, total)
	}
	return nil
}

func newTxAccountSetKeysCmd(g *globals) *cobra.Command {
	o := &txOptions{}
	var add, addFrom, remove, removeFrom []string
	var threshold uint32
	cmd := &cobra.Command{
		Use:   "set-keys NAME [--add-key TYPE:BASE64[:WEIGHT]]... [--remove-key TYPE:BASE64]... [--threshold M]",
		Short: "Change an account's key set or threshold (key rotation)",
		Long: `set-keys reads the account's keys from the node, removes --remove-key
(--remove-key-from takes the key from the local keyring), adds --add-key
(--add-key-from NAME[:WEIGHT] from the keyring) and sets --threshold (default:
unchanged). The account keeps its name, coins and roles.

The account may sign this itself (with --from one of its keys, to its own
threshold) instead of the admins: no governance approval is needed then.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := accountArg("NAME", name); err != nil {
				return err
			}
			if cmd.Flags().Changed("threshold") && threshold == 0 {
				return fmt.Errorf("--threshold 0: want at least 1")
			}
			adds, err := parseKeyFlags("add-key", add, "add-key-from", addFrom, g.keyring)
			if err != nil {
				return err
			}
			removes, err := parseKeyFlags("remove-key", remove, "remove-key-from", removeFrom, g.keyring)
			if err != nil {
				return err
			}
			if len(adds) == 0 && len(removes) == 0 && threshold == 0 {
				return fmt.Errorf("nothing to change: give --add-key, --add-key-from, --remove-key, --remove-key-from or --threshold")
			}
			return g.runAction(cmd, o, func(ctx context.Context, c *client.Client) (app.Action, error) {
				acct, err := c.Account(ctx, name)
				if err != nil {
					return nil, fmt.Errorf("account %s: %w", name, err)
				}
				keys, err := client.EditKeys(acct.Keys, adds, removes)
				if err != nil {
					return nil, fmt.Errorf("account %s: %w", name, err)
				}
				th := acct.Threshold
				if threshold != 0 {
					th = threshold
				}
				if total := client.TotalWeight(keys); uint64(th) > total {
					return nil, fmt.Errorf("--threshold %d: exceeds the total key weight %d of the new key set", th, total)
				}
				return &app.SetAccountKeys{Name: name, Keys: keys, Threshold: th}, nil
			})
		},
	}
	o.addFlags(cmd, "key that signs: an admin's, or one of the account's own")
	f := cmd.Flags()
	f.StringArrayVar(&add, "add-key", nil, "a key to add as TYPE:BASE64[:WEIGHT] (repeatable)")
	f.StringArrayVar(&addFrom, "add-key-from", nil, "a key of the local keyring to add, as NAME[:WEIGHT] (repeatable)")
	f.StringArrayVar(&remove, "remove-key", nil, "a key to remove as TYPE:BASE64 (repeatable)")
	f.StringArrayVar(&removeFrom, "remove-key-from", nil, "a key of the local keyring to remove, by NAME (repeatable)")
	f.Uint32Var(&threshold, "threshold", 0, "new threshold (default: unchanged)")
	return cmd
}

func newTxAccountStatusCmd(g *globals, verb, short string, action func(name string) app.Action) *cobra.Command {
	o := &txOptions{}
	cmd := &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := accountArg("NAME", args[0]); err != nil {
				return err
			}
			return g.runAction(cmd, o, func(context.Context, *client.Client) (app.Action, error) { return action(args[0]), nil })
		},
	}
	o.addFlags(cmd, "admin key that signs")
	return cmd
}
