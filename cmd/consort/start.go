package main

import (
	"context"
	"fmt"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/consort-ledger/consort/abci"
	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/consensus"
)

type startOptions struct {
	dev       bool
	powBits   uint32
	listen    initOptions // only the listen fields and timeoutCommit are used
	logLevel  string
	mempool   abci.Config
	logFormat string
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

Listen addresses given here override the home's config for this run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.logFormat == "" {
				o.logFormat = "json"
				if o.dev {
					o.logFormat = "console"
				}
			}
			logger, err := consensus.NewZerolog(g.stderr, o.logFormat, o.logLevel)
			if err != nil {
				return err
			}
			if !homeExists(g.home) {
				if !o.dev {
					return fmt.Errorf("%s is not a node home: run `consort init --home %s --chain-id ID` or `consort start --dev`", g.home, g.home)
				}
				dev := devOptions()
				dev.rpcListen, dev.p2pListen, dev.metricsListen = o.listen.rpcListen, o.listen.p2pListen, o.listen.metricsListen
				dev.timeoutCommit = o.listen.timeoutCommit
				dev.powBits = o.powBits
				if _, err := initHome(g.home, dev); err != nil {
					return fmt.Errorf("create dev chain: %w", err)
				}
			}
			conf, err := consensus.LoadConfig(g.home)
			if err != nil {
				return err
			}
			applyListenOverrides(conf, o.listen)
			if err := validateMempool(o.mempool); err != nil {
				return err
			}
			return runNode(cmd.Context(), g, conf, o.mempool, o.dev, logger)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.dev, "dev", false, "create the one-validator dev chain in --home if it does not exist")
	f.Uint32Var(&o.powBits, "pow-bits", 0, "with --dev, for a new chain: proof-of-work stamp every transaction needs, in leading zero bits")
	addListenFlags(f, &o.listen)
	f.StringVar(&o.logLevel, "log-level", "info", "log level for the app and CometBFT: debug, info, warn or error")
	addMempoolFlags(f, &o.mempool)
	f.StringVar(&o.logFormat, "log-format", "", "log format: json or console (default: console with --dev, else json)")
	return cmd
}

func applyListenOverrides(conf *cmtcfg.Config, o initOptions) {
	if o.rpcListen != "" {
		conf.RPC.ListenAddress = o.rpcListen
	}
	if o.p2pListen != "" {
		conf.P2P.ListenAddress = o.p2pListen
	}
	if o.metricsListen != "" {
		conf.Instrumentation.PrometheusListenAddr = o.metricsListen
	}
}

// runNode opens the ledger, starts CometBFT in-process with it and runs
// until ctx is cancelled. The state is closed after the node has stopped.
func runNode(ctx context.Context, g *globals, conf *cmtcfg.Config, mempool abci.Config, dev bool, logger zerolog.Logger) error {
	store, err := app.OpenStore(appDataDir(g.home), app.DefaultStoreConfig())
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
	n, err := consensus.NewNode(ctx, conf, abci.New(mempool, ledger, logger.With().Str("module", "consort").Logger(), abci.WithMetrics(metrics)), logger)
	if err != nil {
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
			store, err := app.OpenStore(appDataDir(g.home), app.DefaultStoreConfig())
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
