package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/consort-ledger/consort/consensus"
	"github.com/consort-ledger/consort/settings"
)

// heightQueryTimeout bounds the remote signer's /status question to its
// node; without an answer it falls back to its last signed height.
const heightQueryTimeout = time.Second

type signerOptions struct {
	addr      string
	chainID   string
	key       string
	logLevel  string
	logFormat string
	profile   string
	metrics   string
}

func newSignerCmd(g *globals) *cobra.Command {
	o := signerOptions{}
	cmd := &cobra.Command{
		Use:   "signer --addr tcp://NODE:26659",
		Short: "Run a remote signer: sign a node's votes and proposals with its validator key in Vault",
		Long: `signer signs for a validator node that runs with priv_validator_laddr set
(HOME/config/config.toml of the node, e.g. "tcp://0.0.0.0:26659"). It dials the
node at --addr, answers its requests with the Vault transit key signer.key,
and dials again whenever the connection drops, until interrupted.

Double signing is refused as CometBFT's file signer refuses it: the last
signature is kept in --home's data/` + signerStateFileName + `, written before
it is given out. On top of that every signature is first claimed in a
watermark shared through Vault KV (secret/consort/validators/KEY/watermark),
so an active and a standby signer of one validator, each with its own home,
never both sign one height, round and step differently: run a standby with
the same key against a second node, or keep it ready for failover.

The key version that signs a height comes from the key schedule in Vault
KV (consort validator rotate-key writes it); the node learns the key of the
next height from --node's /status after each block.

Settings (the [signer] and [vault] tables of --home's config/consort.toml,
CONSORT_* and VAULT_ADDR / VAULT_TOKEN in the environment) are read as by
start; the signer always uses Vault. The chain id is --chain-id, else the
one in --home's config/genesis.json.

Example:
  VAULT_ADDR=https://vault:8200 VAULT_TOKEN=... \
    consort signer --home ./signer --key validator-1 --addr tcp://10.0.0.5:26659 \
      --chain-id bank-net --node http://10.0.0.5:26657`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := signerSettings(g.home, o)
			if err != nil {
				return err
			}
			logger, err := consensus.NewZerolog(g.stderr, cfg.Log.Format, cfg.Log.Level)
			if err != nil {
				return err
			}
			chainID, err := signerChainID(g.home, o.chainID)
			if err != nil {
				return err
			}
			if o.addr == "" {
				return fmt.Errorf("--addr is required: the node's priv_validator_laddr, e.g. tcp://127.0.0.1:26659")
			}
			if err := os.MkdirAll(filepath.Join(g.home, "data"), 0o700); err != nil {
				return fmt.Errorf("create %s: %w", filepath.Join(g.home, "data"), err)
			}
			vv, err := openVaultValidator(ctx, cfg, false, logger)
			if err != nil {
				return err
			}
			defer vv.Close()
			var reg prometheus.Registerer // nil: no metrics
			if o.metrics != "" {
				r := prometheus.NewRegistry()
				stop, err := serveSignerMetrics(o.metrics, r, logger)
				if err != nil {
					return err
				}
				defer stop()
				reg = r
			}
			signer, err := vv.signer(g.home, reg, logger)
			if err != nil {
				return err
			}
			if g.node != "" || homeExists(g.home) {
				c, err := g.client()
				if err != nil {
					return err
				}
				signer.SetHeightSource(func() int64 {
					qctx, cancel := context.WithTimeout(ctx, heightQueryTimeout)
					defer cancel()
					st, err := c.Status(qctx)
					if err != nil {
						return 0 // GetPubKey falls back to the last signed height
					}
					return st.Height
				})
			}
			fmt.Fprintf(g.stdout, "consort signer\n  key:      %s\n  chain id: %s\n  node:     %s\n", vv.key.Path(), chainID, o.addr)
			return consensus.ServeSigner(ctx, o.addr, chainID, signer, logger)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "", "the node's priv_validator_laddr to dial: tcp://HOST:PORT or unix:///PATH (required)")
	f.StringVar(&o.chainID, "chain-id", "", "chain to sign for (default: the chain id in --home's config/genesis.json)")
	f.StringVar(&o.key, "key", "", "Vault transit key of the validator (overrides signer.key)")
	f.StringVar(&o.profile, "profile", "", "settings profile: local, testnet or mainnet (default: $"+settings.EnvProfile+")")
	f.StringVar(&o.metrics, "metrics-laddr", "", "HOST:PORT to serve the signer's Prometheus metrics on at /metrics (consort_signer_*); default: none")
	f.StringVar(&o.logLevel, "log-level", "", "log level: debug, info, warn or error (overrides log.level; default info)")
	f.StringVar(&o.logFormat, "log-format", "", "log format: json or console (overrides log.format; default json)")
	return cmd
}

// signerSettings reads the signer's settings like start's, with the Vault
// backend forced and the flags applied, and validates them.
func signerSettings(home string, o signerOptions) (settings.Config, error) {
	cfg, err := settings.Load(settings.Source{File: settingsFile(home), Profile: o.profile})
	if err != nil {
		return cfg, err
	}
	for _, kv := range []struct{ key, value, origin string }{
		{"signer.backend", settings.BackendVault, "consort signer"},
		{"signer.key", o.key, "--key"},
		{"log.level", o.logLevel, "--log-level"},
		{"log.format", o.logFormat, "--log-format"},
	} {
		if kv.value == "" {
			continue
		}
		if err := cfg.Set(kv.key, kv.value, kv.origin); err != nil {
			return cfg, err
		}
	}
	return cfg, cfg.Validate()
}

// signerChainID is --chain-id, else the chain id of home's genesis.
func signerChainID(home, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	file := filepath.Join(home, "config", "genesis.json")
	doc, err := cmttypes.GenesisDocFromFile(file)
	if err != nil {
		return "", fmt.Errorf("--chain-id not given and no genesis to read it from (%s): %w", file, err)
	}
	return doc.ChainID, nil
}

// serveSignerMetrics serves reg at http://addr/metrics until stop is called.
func serveSignerMetrics(addr string, reg *prometheus.Registry, logger zerolog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-laddr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error().Err(err).Msg("signer metrics listener stopped")
		}
	}()
	return func() { _ = srv.Close() }, nil
}
