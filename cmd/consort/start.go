package main

import (
	"context"
	"fmt"
	"path/filepath"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/node"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/consort-ledger/consort/abci"
	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/consensus"
	"github.com/consort-ledger/consort/settings"
)

type startOptions struct {
	dev       bool
	powBits   uint32
	listen    initOptions // only the listen fields and timeoutCommit are used
	profile   string
	logLevel  string
	mempool   abci.Config
	logFormat string
	signer    string
}

// settingFlags are the flags of start that set an app setting; given on the
// command line, they override the settings file and the environment.
func settingFlags() []struct{ flag, key string } {
	return []struct{ flag, key string }{
		{"log-level", "log.level"},
		{"log-format", "log.format"},
		{"metrics-laddr", "metrics.listen"},
		{"rate-limit", "mempool.rate_limit"},
		{"rate-burst", "mempool.rate_burst"},
		{"signer", "signer.backend"},
	}
}

func newStartCmd(g *globals) *cobra.Command {
	o := startOptions{}
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run a node (with --dev: create the dev chain first if the home is empty)",
		Long: `start runs the node in --home until interrupted (Ctrl-C or SIGTERM).

With --dev, a home that does not exist yet is first made as the dev chain:
chain id consort-dev, asset USD (2 decimals), accounts admin, alice and bob
with keys in the home's keyring, alice holding 1,000,000.00 USD. An existing
home is reused, so the same chain continues after a restart.

Listen addresses given here override the home's config for this run.

App settings (log, metrics, mempool rate limits, signer, Vault) come from
HOME/config/consort.toml if it exists, else the built-in defaults (the
repository's config.toml documents them all), then the table of the profile
chosen with --profile or CONSORT_PROFILE (local, testnet, mainnet; --dev
uses local by default), then CONSORT_* environment variables, then the
flags below. They are checked before anything starts: an unknown key, a bad
value or a setting mainnet forbids stops start with a message naming it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadSettings(cmd, g.home, o)
			if err != nil {
				return err
			}
			logger, err := consensus.NewZerolog(g.stderr, cfg.Log.Format, cfg.Log.Level)
			if err != nil {
				return err
			}
			var vv *vaultValidator
			if cfg.Signer.Backend == settings.BackendVault {
				if vv, err = openVaultValidator(cmd.Context(), cfg, o.dev, logger); err != nil {
					return err
				}
				defer vv.Close()
			}
			if !homeExists(g.home) {
				if !o.dev {
					return fmt.Errorf("%s is not a node home: run `consort init --home %s --chain-id ID` or `consort start --dev`", g.home, g.home)
				}
				dev := devOptions()
				dev.rpcListen, dev.p2pListen, dev.metricsListen = o.listen.rpcListen, o.listen.p2pListen, o.listen.metricsListen
				dev.timeoutCommit = o.listen.timeoutCommit
				dev.powBits = o.powBits
				if vv != nil {
					// The chain's validator is the Vault key's version 1.
					if dev.validatorKey, err = vv.key.PubKey(cmd.Context(), 1); err != nil {
						return fmt.Errorf("create dev chain: %w", err)
					}
				}
				if _, err := initHome(g.home, dev); err != nil {
					return fmt.Errorf("create dev chain: %w", err)
				}
			}
			conf, err := consensus.LoadConfig(g.home)
			if err != nil {
				return err
			}
			applyListenOverrides(conf, o.listen)
			if err := applyMetricsSettings(conf, &cfg, g.home); err != nil {
				return err
			}
			for _, w := range cfg.Warnings() {
				logger.Warn().Str("module", "config").Msg(w)
			}
			mempool := abci.Config{RateLimit: abci.RateLimit{Rate: cfg.Mempool.RateLimit, Burst: cfg.Mempool.RateBurst}}
			state := app.DefaultStoreConfig()
			state.KeepVersions = cfg.State.KeepVersions
			return runNode(cmd.Context(), g, conf, state, mempool, o.dev, vv, logger)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.dev, "dev", false, "create the one-validator dev chain in --home if it does not exist")
	f.Uint32Var(&o.powBits, "pow-bits", 0, "with --dev, for a new chain: proof-of-work stamp every transaction needs, in leading zero bits")
	f.StringVar(&o.profile, "profile", "", "settings profile: local, testnet or mainnet (default: $"+settings.EnvProfile+", else local with --dev, else none)")
	addListenFlags(f, &o.listen)
	f.StringVar(&o.logLevel, "log-level", "", "log level for the app and CometBFT: debug, info, warn or error (overrides log.level; default info)")
	addMempoolFlags(f, &o.mempool)
	f.StringVar(&o.logFormat, "log-format", "", "log format: json or console (overrides log.format; default json, console in the local profile)")
	f.StringVar(&o.signer, "signer", "", "where the validator key lives: file (HOME/config/priv_validator_key.json) or vault (the Vault transit key signer.key; with --dev, "+devValidatorKey+", created if missing) (overrides signer.backend; default file)")
	return cmd
}

// settingsFile is where a node home keeps its app settings.
func settingsFile(home string) string {
	return filepath.Join(home, cmtcfg.DefaultConfigDir, settings.FileName)
}

// loadSettings reads the app settings of home (file, profile, environment),
// applies the setting flags given on the command line and validates the
// result, before anything is started or created.
func loadSettings(cmd *cobra.Command, home string, o startOptions) (settings.Config, error) {
	src := settings.Source{File: settingsFile(home), Profile: o.profile}
	if o.dev {
		src.DefaultProfile = settings.ProfileLocal
	}
	cfg, err := settings.Load(src)
	if err != nil {
		return cfg, err
	}
	for _, sf := range settingFlags() {
		if fl := cmd.Flags().Lookup(sf.flag); fl != nil && fl.Changed {
			if err := cfg.Set(sf.key, fl.Value.String(), "--"+sf.flag); err != nil {
				return cfg, err
			}
		}
	}
	if o.dev && cfg.Signer.Backend == settings.BackendVault && cfg.Signer.Key == "" {
		if err := cfg.Set("signer.key", devValidatorKey, "--dev"); err != nil {
			return cfg, err
		}
	}
	return cfg, cfg.Validate()
}

// applyMetricsSettings serves metrics where metrics.listen says, or else
// keeps the address in the home's config.toml; that address is then
// judged like a setting (mainnet refuses a public one without
// metrics.allow_public).
func applyMetricsSettings(conf *cmtcfg.Config, cfg *settings.Config, home string) error {
	if cfg.Metrics.Listen != "" {
		conf.Instrumentation.PrometheusListenAddr = cfg.Metrics.Listen
		return nil
	}
	if !conf.Instrumentation.Prometheus || conf.Instrumentation.PrometheusListenAddr == "" {
		return nil
	}
	origin := "instrumentation.prometheus_listen_addr in " + filepath.Join(home, cmtcfg.DefaultConfigDir, cmtcfg.DefaultConfigFileName)
	if err := cfg.Set("metrics.listen", conf.Instrumentation.PrometheusListenAddr, origin); err != nil {
		return err
	}
	return cfg.Validate()
}

// applyListenOverrides applies --rpc-laddr and --p2p-laddr; the metrics
// address is an app setting (applyMetricsSettings).
func applyListenOverrides(conf *cmtcfg.Config, o initOptions) {
	if o.rpcListen != "" {
		conf.RPC.ListenAddress = o.rpcListen
	}
	if o.p2pListen != "" {
		conf.P2P.ListenAddress = o.p2pListen
	}
}

// runNode opens the ledger, starts CometBFT in-process with it and runs
// until ctx is cancelled. The state is closed after the node has stopped.
// With vv the node signs with the Vault key, else with the home's key file.
func runNode(ctx context.Context, g *globals, conf *cmtcfg.Config, state app.StoreConfig, mempool abci.Config, dev bool, vv *vaultValidator, logger zerolog.Logger) error {
	store, err := app.OpenStore(appDataDir(g.home), state)
	if err != nil {
		return err
	}
	defer store.Close()
	ledger := app.New(store)
	// CometBFT records its metrics in Prometheus's default registry; consort's
	// go there too, and one listener serves both with /healthz and /readyz.
	metrics := abci.NopMetrics()
	if conf.Instrumentation.Prometheus {
		if metrics, err = abci.PrometheusMetrics(prometheus.DefaultRegisterer); err != nil {
			return err
		}
	}
	health := consensus.NewHealth(consensus.MoveMetricsListener(conf), prometheus.DefaultGatherer, logger)
	application := abci.New(mempool, ledger, logger.With().Str("module", "consort").Logger(), abci.WithMetrics(metrics))
	var n *node.Node
	if vv != nil {
		var reg prometheus.Registerer
		if conf.Instrumentation.Prometheus {
			reg = prometheus.DefaultRegisterer
		}
		signer, err := vv.signer(g.home, reg, logger)
		if err != nil {
			return err
		}
		n, err = consensus.NewNodeWithSigner(ctx, conf, application, signer, logger)
		if err != nil {
			return err
		}
	} else if n, err = consensus.NewNode(ctx, conf, application, logger); err != nil {
		return err
	}
	if dev {
		printDevBanner(g.stdout, g.home, n.GenesisDoc().ChainID, rpcURL(conf.RPC.ListenAddress))
	} else {
		fmt.Fprintf(g.stdout, "consort node\n  home:     %s\n  chain id: %s\n  rpc:      %s\n", g.home, n.GenesisDoc().ChainID, rpcURL(conf.RPC.ListenAddress))
	}
	return health.Run(ctx, n)
}

func newABCIServerCmd(g *globals) *cobra.Command {
	var addr, logLevel, logFormat string
	var mempool abci.Config
	state := app.DefaultStoreConfig()
	cmd := &cobra.Command{
		Use:   "abci-server",
		Short: "Serve the ledger to a separate CometBFT process over ABCI",
		Long: `abci-server serves the ledger in --home over CometBFT's socket protocol, for
operators who run a stock CometBFT node:

  consort abci-server --home H --addr tcp://127.0.0.1:26658
  cometbft start --proxy_app tcp://127.0.0.1:26658

The ledger state lives in H/data/app; the CometBFT node keeps its own home.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := consensus.NewZerolog(g.stderr, logFormat, logLevel)
			if err != nil {
				return err
			}
			store, err := app.OpenStore(appDataDir(g.home), state)
			if err != nil {
				return err
			}
			defer store.Close()
			if err := validateMempool(mempool); err != nil {
				return err
			}
			return consensus.ServeABCI(cmd.Context(), addr, abci.New(mempool, app.New(store), logger), logger)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "tcp://127.0.0.1:26658", "address to listen on (tcp://HOST:PORT or unix://PATH)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	cmd.Flags().StringVar(&logFormat, "log-format", "json", "log format: json or console")
	cmd.Flags().Int64Var(&state.KeepVersions, "keep-versions", settings.DefaultConfig().State.KeepVersions, "recent versions of the ledger state to keep on disk; older ones are deleted after each block (0 = keep all, else at least 2)")
	addMempoolFlags(cmd.Flags(), &mempool)
	return cmd
}

// addMempoolFlags binds this node's mempool policy (node-local: it never
// changes what a block does).
func addMempoolFlags(f *pflag.FlagSet, cfg *abci.Config) {
	*cfg = abci.DefaultConfig()
	f.Float64Var(&cfg.RateLimit.Rate, "rate-limit", cfg.RateLimit.Rate, "transactions per second one account may put into this node's mempool (0 = no limit)")
	f.Float64Var(&cfg.RateLimit.Burst, "rate-burst", cfg.RateLimit.Burst, "transactions an idle account may send at once")
}

func validateMempool(cfg abci.Config) error {
	switch {
	case cfg.RateLimit.Rate < 0:
		return fmt.Errorf("--rate-limit %g: want 0 (off) or more", cfg.RateLimit.Rate)
	case cfg.RateLimit.Rate > 0 && cfg.RateLimit.Burst < 1:
		return fmt.Errorf("--rate-burst %g: want at least 1 when --rate-limit is on", cfg.RateLimit.Burst)
	}
	return nil
}
