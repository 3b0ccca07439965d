package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/certs/keyring"
)

func newKeysCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage account keys in the home's keyring",
		Long: `keys manages the account keys kept in HOME/keyring, one file per key,
readable by its owner only (0600). Private keys are never printed.`,
	}
	var keyType string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Create a new key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := g.keyring()
			if err != nil {
				return err
			}
			t, err := keyring.ParseKeyType(keyType)
			if err != nil {
				return fmt.Errorf("--type: %w", err)
			}
			info, err := kr.Add(args[0], t)
			if err != nil {
				return err
			}
			return g.print(info, func(w io.Writer) { printKey(w, info) })
		},
	}
	add.Flags().StringVar(&keyType, "type", "ed25519", "key type: ed25519 or p256")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kr, err := g.keyring()
			if err != nil {
				return err
			}
			infos, err := kr.List()
			if err != nil {
				return err
			}
			if infos == nil {
				infos = []keyring.Info{}
			}
			return g.print(infos, func(w io.Writer) {
				for _, i := range infos {
					printKey(w, i)
				}
			})
		},
	}
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a key's public part",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := g.keyring()
			if err != nil {
				return err
			}
			info, err := kr.Show(args[0])
			if err != nil {
				return err
			}
			return g.print(info, func(w io.Writer) { printKey(w, info) })
		},
	}
	cmd.AddCommand(add, list, show)
	return cmd
}

func printKey(w io.Writer, i keyring.Info) { fmt.Fprintf(w, "%s\t%s\n", i.Name, i.PublicKey) }

// keySigner adapts a keyring signer to the client's Signer.
type keySigner struct{ s keyring.Signer }

func (k keySigner) PublicKey() (app.KeyType, []byte) {
	pub := k.s.PublicKey()
	t, _ := app.ParseKeyType(string(pub.Type)) // the keyring's names are the ledger's
	return t, pub.Bytes
}

func (k keySigner) Sign(ctx context.Context, msg []byte) ([]byte, error) { return k.s.Sign(ctx, msg) }

func (g *globals) signer(name string) (keySigner, error) {
	kr, err := g.keyring()
	if err != nil {
		return keySigner{}, err
	}
	s, err := kr.Signer(name)
	if err != nil {
		return keySigner{}, err
	}
	return keySigner{s}, nil
}
