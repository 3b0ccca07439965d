package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/certs/keyring"
	"github.com/consort-ledger/consort/certs/vault"
	"github.com/consort-ledger/consort/settings"
)

// Account keys held in Vault: the keyring keeps the public key and where the
// key lives (keyring.VaultRef); signing goes to the transit engine.

// vaultClient connects to Vault with the settings of the home's
// config/consort.toml, if it exists, and the environment (VAULT_ADDR,
// VAULT_TOKEN, CONSORT_VAULT_*).
func (g *globals) vaultClient(ctx context.Context) (*vault.Client, error) {
	cfg, err := settings.Load(settings.Source{File: settingsFile(g.home)})
	if err != nil {
		return nil, err
	}
	log := zerolog.New(g.stderr).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	c, err := vault.New(ctx, vault.ConfigFromSettings(cfg.Vault), log)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// addVaultKey registers name in kr as the transit key at keyPath (default
// transit/keys/NAME), version (0: the latest). With create, a missing
// transit key is created with type t first. With replace, an existing
// Vault entry of that name is updated (after a rotation).
func (g *globals) addVaultKey(ctx context.Context, kr *keyring.Keyring, name, keyPath string, version int, create bool, t keyring.KeyType, replace bool) (keyring.Info, error) {
	if err := keyring.ValidateName(name); err != nil {
		return keyring.Info{}, err
	}
	if keyPath == "" {
		keyPath = vault.DefaultTransitMount + "/keys/" + name
	}
	mount, keyName, err := vault.ParseTransitPath(keyPath)
	if err != nil {
		return keyring.Info{}, fmt.Errorf("--vault-key: %w", err)
	}
	if !replace {
		// Refuse a taken name before touching Vault.
		if _, err := kr.Show(name); err == nil {
			return keyring.Info{}, fmt.Errorf("key %q %w in keyring %s", name, keyring.ErrExists, kr.Dir())
		} else if !errors.Is(err, keyring.ErrNotFound) {
			return keyring.Info{}, err
		}
	}
	c, err := g.vaultClient(ctx)
	if err != nil {
		return keyring.Info{}, err
	}
	defer c.Close()
	key := c.TransitAt(mount, keyName)
	if create {
		if err := key.Create(ctx, t); err != nil {
			return keyring.Info{}, err
		}
	}
	info, err := key.Info(ctx)
	if errors.Is(err, vault.ErrNotFound) {
		return keyring.Info{}, fmt.Errorf("%w (create it with --create, or with Vault: vault write -f %s type=ed25519)", err, key.Path())
	}
	if err != nil {
		return keyring.Info{}, err
	}
	if version == 0 {
		version = info.LatestVersion
	}
	if version > info.LatestVersion {
		return keyring.Info{}, fmt.Errorf("--vault-version %d: %s has versions up to %d", version, key.Path(), info.LatestVersion)
	}
	if info.MinEncryptionVersion > 0 && version < info.MinEncryptionVersion {
		return keyring.Info{}, fmt.Errorf("--vault-version %d: %s signs with versions from %d only (min_encryption_version)", version, key.Path(), info.MinEncryptionVersion)
	}
	pub, err := key.PublicKey(ctx, version)
	if err != nil {
		return keyring.Info{}, err
	}
	return kr.AddVault(name, pub, keyring.VaultRef{Mount: key.Mount(), Key: key.Name(), Version: version}, replace)
}

// vaultSigner signs for the keyring entry info through Vault, after checking
// that Vault's key of that version is still the one the keyring recorded.
func (g *globals) vaultSigner(ctx context.Context, info keyring.Info) (keyring.Signer, error) {
	c, err := g.vaultClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", info.Name, err)
	}
	// The client is not closed: the signer uses it until the command ends.
	ref := info.Vault
	s, err := c.TransitAt(ref.Mount, ref.Key).Signer(ctx, ref.Version)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", info.Name, err)
	}
	if got := s.PublicKey(); got.String() != info.PublicKey.String() {
		return nil, fmt.Errorf("key %s: Vault's %s is %s, but the keyring recorded %s: was the transit key deleted and made anew?", info.Name, ref, got, info.PublicKey)
	}
	return s, nil
}
