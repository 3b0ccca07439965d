package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/certs"
	"github.com/consort-ledger/consort/certs/keyring"
	"github.com/consort-ledger/consort/certs/vault"
	"github.com/consort-ledger/consort/consensus"
	"github.com/consort-ledger/consort/settings"
)

// The validator key in Vault: its versions in the transit engine, the
// double-sign watermark and key schedule shared by all its signers in KV v2
// (mount validatorKVMount, paths consensus.StorePath(key)/...).
const (
	// devValidatorKey is the transit key of the dev chain's validator with
	// `start --dev --signer vault`, created there if missing.
	devValidatorKey = "consort-dev-validator"
	// validatorKVMount is the KV v2 mount holding the shared signer records.
	validatorKVMount = "secret"
	// signerStateFileName is a signer's local last-sign state in HOME/data.
	signerStateFileName = "consort_signer_state.json"
)

// vaultValidator is a validator key held in Vault.
type vaultValidator struct {
	client *vault.Client
	key    *vault.TransitKey
}

// openVaultValidator connects to Vault with cfg's [vault] settings and
// finds the transit key signer.key. In dev mode a missing key is created
// (ed25519, not exportable); otherwise it is an error naming the key and
// the Vault address.
func openVaultValidator(ctx context.Context, cfg settings.Config, dev bool, logger zerolog.Logger) (*vaultValidator, error) {
	c, err := vault.New(ctx, vault.ConfigFromSettings(cfg.Vault), logger)
	if err != nil {
		return nil, err
	}
	v := &vaultValidator{client: c, key: c.Transit(cfg.Signer.Key)}
	if err := v.check(ctx, cfg, dev, logger); err != nil {
		c.Close()
		return nil, err
	}
	return v, nil
}

func (v *vaultValidator) check(ctx context.Context, cfg settings.Config, dev bool, logger zerolog.Logger) error {
	exists, err := v.key.Exists(ctx)
	if err != nil {
		return fmt.Errorf("validator key %s in Vault at %s: %w", v.key.Path(), cfg.Vault.Address, err)
	}
	if !exists {
		if !dev {
			return fmt.Errorf("validator key %s does not exist in Vault at %s (vault.address / VAULT_ADDR): create it (vault write -f %s type=ed25519 exportable=false) or name another with signer.key",
				v.key.Path(), cfg.Vault.Address, v.key.Path())
		}
		if err := v.key.Create(ctx, keyring.Ed25519); err != nil {
			return fmt.Errorf("create dev validator key %s: %w", v.key.Path(), err)
		}
		logger.Info().Str("key", v.key.Path()).Msg("created the dev validator key in Vault")
	}
	t, err := v.key.Type(ctx)
	if err != nil {
		return fmt.Errorf("validator key %s: %w", v.key.Path(), err)
	}
	if t != keyring.Ed25519 {
		return fmt.Errorf("validator key %s is %s: CometBFT validators sign with ed25519", v.key.Path(), t)
	}
	return nil
}

// store is where the validator's signers share their watermark and key
// schedule (consensus.ScheduleKeyVersion, consensus.SignedHeight).
func (v *vaultValidator) store() certs.VersionedStore { return v.client.KV(validatorKVMount) }

// Close ends the Vault client (its token renewal).
func (v *vaultValidator) Close() { v.client.Close() }

// signer returns the double-sign-safe PrivValidator over the key, its local
// state in HOME/data and its shared watermark in Vault KV. With reg it
// exports its metrics there.
func (v *vaultValidator) signer(home string, reg prometheus.Registerer, logger zerolog.Logger) (*consensus.Signer, error) {
	metrics := consensus.NopSignerMetrics()
	if reg != nil {
		var err error
		if metrics, err = consensus.SignerPrometheusMetrics(reg); err != nil {
			return nil, err
		}
	}
	return consensus.NewSigner(consensus.SignerConfig{
		StateFile: filepath.Join(home, "data", signerStateFileName),
		KeyName:   v.key.Name(),
		Store:     v.store(),
		Metrics:   metrics,
	}, v.key, logger)
}
