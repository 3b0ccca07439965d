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
readable by its owner only (0600). Private keys are never printed.

A key may instead live in a Vault transit engine (--backend vault): the keyring
then records its public key and where it is, and every command that signs with
it asks Vault to sign. Vault is reached as VAULT_ADDR and VAULT_TOKEN (or the
vault settings of HOME/config/consort.toml and CONSORT_VAULT_*) say.`,
	}
	var keyType, backend, vaultKey string
	var vaultVersion int
	var create, replace bool
	add := &cobra.Command{
		Use:   "add NAME [--type ed25519|p256] [--backend vault --vault-key MOUNT/keys/KEY [--create] [--vault-version N] [--replace]]",
		Short: "Create a new key, or register a key held in Vault",
		Long: `add creates a key of --type in the keyring.

With --backend vault it registers a Vault transit key instead (--vault-key,
default transit/keys/NAME): the keyring keeps the public key of --vault-version
(default: the latest version) and signs with that version through Vault. The
transit key must be of type ed25519 or ecdsa-p256; --create makes it in Vault
(non-exportable) if it does not exist, with --type ed25519 or p256.

Rotating a Vault account key: rotate the transit key in Vault
(vault write -f transit/keys/KEY/rotate), register the new version under a
second name (consort keys add NAME-new --backend vault --vault-key
transit/keys/KEY), change the account's keys with a transaction signed by the
old version (consort tx account set-keys ACCOUNT --add-key-from NAME-new
--remove-key-from NAME --from NAME), then move NAME to the new version
(consort keys add NAME --backend vault --vault-key transit/keys/KEY --replace).
Setting the key's min_encryption_version in Vault then stops the old version
from signing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := g.keyring()
			if err != nil {
				return err
			}
			t, err := keyring.ParseKeyType(keyType)
			if err != nil {
				return fmt.Errorf("--type: %w", err)
			}
			var info keyring.Info
			switch backend {
			case keyring.BackendFile:
				for _, f := range []string{"vault-key", "vault-version", "create", "replace"} {
					if cmd.Flags().Changed(f) {
						return fmt.Errorf("--%s: only with --backend vault", f)
					}
				}
				info, err = kr.Add(args[0], t)
			case keyring.BackendVault:
				if cmd.Flags().Changed("type") && !create {
					return fmt.Errorf("--type: the Vault key has its own type; --type is for --create")
				}
				if vaultVersion < 0 {
					return fmt.Errorf("--vault-version %d: want a version from 1 (0: the latest)", vaultVersion)
				}
				info, err = g.addVaultKey(cmd.Context(), kr, args[0], vaultKey, vaultVersion, create, t, replace)
			default:
				return fmt.Errorf("--backend %q: want %q or %q", backend, keyring.BackendFile, keyring.BackendVault)
			}
			if err != nil {
				return err
			}
			return g.print(info, func(w io.Writer) { printKey(w, info) })
		},
	}
	af := add.Flags()
	af.StringVar(&keyType, "type", "ed25519", "key type: ed25519 or p256")
	af.StringVar(&backend, "backend", keyring.BackendFile, "where the private key lives: file (the keyring) or vault (a Vault transit key)")
	af.StringVar(&vaultKey, "vault-key", "", "with --backend vault: the transit key, as MOUNT/keys/KEY (default transit/keys/NAME)")
	af.IntVar(&vaultVersion, "vault-version", 0, "with --backend vault: the key version that signs (default: the latest)")
	af.BoolVar(&create, "create", false, "with --backend vault: create the transit key in Vault if it does not exist (--type)")
	af.BoolVar(&replace, "replace", false, "with --backend vault: update an existing Vault entry of this name (after a rotation)")
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

// printKey prints NAME, the public key and the backend, with the Vault key
// and version for a Vault key.
func printKey(w io.Writer, i keyring.Info) {
	backend := i.Backend
	if i.Vault != nil {
		backend += " " + i.Vault.String()
	}
	fmt.Fprintf(w, "%s\t%s\t%s\n", i.Name, i.PublicKey, backend)
}

// keySigner adapts a keyring signer to the client's Signer.
type keySigner struct{ s keyring.Signer }

func (k keySigner) PublicKey() (app.KeyType, []byte) {
	pub := k.s.PublicKey()
	t, _ := app.ParseKeyType(string(pub.Type)) // the keyring's names are the ledger's
	return t, pub.Bytes
}

func (k keySigner) Sign(ctx context.Context, msg []byte) ([]byte, error) { return k.s.Sign(ctx, msg) }

// signer returns the signer of the keyring key name: the key file's, or
// Vault's for a key that Vault holds.
func (g *globals) signer(name string) (keySigner, error) {
	kr, err := g.keyring()
	if err != nil {
		return keySigner{}, err
	}
	info, err := kr.Show(name)
	if err != nil {
		return keySigner{}, err
	}
	if info.Backend == keyring.BackendVault {
		s, err := g.vaultSigner(context.Background(), info)
		if err != nil {
			return keySigner{}, err
		}
		return keySigner{s}, nil
	}
	s, err := kr.Signer(name)
	if err != nil {
		return keySigner{}, err
	}
	return keySigner{s}, nil
}
