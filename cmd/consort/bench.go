package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/bench"
	"github.com/consort-ledger/consort/client"
	"github.com/consort-ledger/consort/consensus"
)

type benchOptions struct {
	app      string
	run      bench.Config
	consort  bench.ConsortConfig
	admin    string
	funder   string
	txSize   int
	progress bool
}

func newBenchCmd(g *globals) *cobra.Command {
	o := benchOptions{run: bench.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   "bench [--duration 20s] [--rate N] [--app consort|kvstore]",
		Short: "Load a running chain with transfers and report what it committed",
		Long: `bench sends signed, non-conflicting transactions to a running chain over the
CometBFT RPC for --duration and reports, from the blocks themselves, the
committed transactions per second (over the block-time span), the
submit-to-commit latency (p50/p90/p99), rejections by code, transactions
accepted but never committed, the block interval and the block size.

With --app consort (the default) bench first registers --accounts fresh
accounts (signed by --admin, so the chain's governance threshold must be 1)
and funds them from --from, both keys from the home's keyring; then each
transaction spends one coin of one account, pays 1 base unit to another and
returns the change. Against the dev chain (consort start --dev) this needs
nothing else: admin registers, alice funds. Each node limits how fast one
account enters its mempool (--rate-limit of consort start, 100 tx/s by
default), so the load spreads over many accounts: the default 128 allow
12,800 tx/s.

With --app kvstore bench drives CometBFT's own kvstore application
(cometbft start --proxy_app=kvstore) with key=value transactions of the size
of a consort transfer: what this engine on this machine does with an
application that costs nothing.

--node takes a comma-separated list: connections go to each in turn, blocks
are read from the first. Progress is shown on standard error when it is a
terminal; the final table (or --output json) goes to standard output.

Example:
  consort start --dev &
  consort bench --duration 20s
  consort bench --duration 20s --rate 2000 --transport ws --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBench(cmd.Context(), g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.app, "app", "consort", "application the chain runs: consort or kvstore")
	f.DurationVar(&o.run.Duration, "duration", o.run.Duration, "how long to send")
	f.Float64Var(&o.run.Rate, "rate", 0, "target transactions per second over all connections (0: as fast as accepted)")
	f.IntVar(&o.run.Connections, "connections", o.run.Connections, "connections sending at once")
	f.StringVar(&o.run.Transport, "transport", o.run.Transport, "RPC transport: http or ws (websocket, pipelined)")
	f.StringVar(&o.run.Broadcast, "broadcast", o.run.Broadcast, "sync (broadcast_tx_sync: wait for CheckTx) or async (broadcast_tx_async)")
	f.DurationVar(&o.run.Drain, "drain", o.run.Drain, "how long to wait after the load for accepted transactions to commit")
	f.IntVar(&o.consort.Accounts, "accounts", 128, "consort: fresh accounts that send the load")
	f.IntVar(&o.consort.CoinsPerAccount, "coins-per-account", 0, "consort: coins each account starts with, at most --accounts (default --accounts)")
	f.StringVar(&o.consort.Asset, "asset", "USD", "consort: asset to transfer")
	f.StringVar(&o.admin, "admin", "", "consort: keyring account that registers the bench accounts (default: the first keyring account with the admin role)")
	f.StringVar(&o.funder, "from", "", "consort: keyring account that funds them (default: the keyring account holding the most of --asset)")
	f.IntVar(&o.txSize, "tx-size", 0, "kvstore: transaction size in bytes (default: the size of a consort transfer)")
	f.BoolVar(&o.progress, "progress", true, "show progress on standard error when it is a terminal")
	return cmd
}

func runBench(ctx context.Context, g *globals, o benchOptions) error {
	nodes, err := g.benchNodes()
	if err != nil {
		return err
	}
	o.run.Nodes = nodes
	if err := o.run.Validate(); err != nil {
		return err
	}
	if n, k := o.consort.Accounts, o.consort.CoinsPerAccount; o.app == "consort" && (k < 0 || k > n) {
		return fmt.Errorf("--coins-per-account %d: want 1 to the number of accounts (%d)", k, n)
	}
	if o.progress && isTerminal(os.Stderr) && g.stderr == os.Stderr {
		o.run.Progress = g.stderr
	}
	var wl bench.Workload
	switch o.app {
	case "kvstore":
		size := o.txSize
		if size == 0 {
			size = bench.TransferSize("consort-dev")
		}
		if wl, err = bench.NewKVStore(size); err != nil {
			return fmt.Errorf("--tx-size: %w", err)
		}
	case "consort":
		c, err := client.New(client.Config{Node: nodes[0], CommitTimeout: time.Minute})
		if err != nil {
			return err
		}
		// A node that cannot be reached is the cause to report, not the
		// accounts that the queries below would then fail to find.
		if _, err := c.ChainID(ctx); err != nil {
			return err
		}
		if o.consort.Admin, o.consort.Funder, err = g.benchAccounts(ctx, c, o); err != nil {
			return err
		}
		o.consort.Log = g.stderr
		if wl, err = bench.PrepareConsort(ctx, c, o.consort); err != nil {
			return err
		}
	default:
		return fmt.Errorf("--app %q: want consort or kvstore", o.app)
	}
	rep, err := bench.Run(ctx, o.run, wl)
	if err != nil {
		return err
	}
	if g.output == "json" {
		return g.printJSON(rep)
	}
	rep.WriteText(g.stdout)
	return nil
}

// benchNodes is --node split at commas, else the node g.client would use.
func (g *globals) benchNodes() ([]string, error) {
	if g.node != "" {
		var nodes []string
		for _, n := range strings.Split(g.node, ",") {
			if n = strings.TrimSpace(n); n != "" {
				nodes = append(nodes, n)
			}
		}
		if len(nodes) == 0 {
			return nil, fmt.Errorf("--node %q: no address", g.node)
		}
		return nodes, nil
	}
	if homeExists(g.home) {
		if conf, err := consensus.LoadConfig(g.home); err == nil {
			return []string{rpcURL(conf.RPC.ListenAddress)}, nil
		}
	}
	return []string{client.DefaultNode}, nil
}

// benchAccounts picks the registering admin and the funder among the
// home's keyring accounts, unless --admin and --from name them.
func (g *globals) benchAccounts(ctx context.Context, c *client.Client, o benchOptions) (admin, funder bench.Account, err error) {
	kr, err := g.keyring()
	if err != nil {
		return admin, funder, err
	}
	infos, err := kr.List()
	if err != nil {
		return admin, funder, err
	}
	adminName, funderName := o.admin, o.funder
	var best uint64
	// The ledger's "no such account" or "no balance" passes over a keyring
	// entry; failing to ask (the node went away) ends the search.
	for _, info := range infos {
		if adminName == "" {
			acct, err := c.Account(ctx, info.Name)
			if err != nil && !ledgerAnswer(err) {
				return admin, funder, fmt.Errorf("account %s: %w", info.Name, err)
			}
			if err == nil && slices.ContainsFunc(acct.Grants, func(gr app.Grant) bool { return gr.Role == "admin" }) {
				adminName = info.Name
			}
		}
		if o.funder == "" {
			bal, _, err := c.Balance(ctx, info.Name, o.consort.Asset)
			if err != nil && !ledgerAnswer(err) {
				return admin, funder, fmt.Errorf("balance of %s: %w", info.Name, err)
			}
			if err == nil && bal > best {
				best, funderName = bal, info.Name
			}
		}
	}
	if adminName == "" {
		return admin, funder, fmt.Errorf("no account with the admin role has its key in %s: give --admin, or --home of a chain made by `consort start --dev`", keyringDir(g.home))
	}
	if funderName == "" {
		return admin, funder, fmt.Errorf("no account holding %s has its key in %s: give --from", o.consort.Asset, keyringDir(g.home))
	}
	as, err := g.signer(adminName)
	if err != nil {
		return admin, funder, fmt.Errorf("--admin %s: %w", adminName, err)
	}
	fs, err := g.signer(funderName)
	if err != nil {
		return admin, funder, fmt.Errorf("--from %s: %w", funderName, err)
	}
	return bench.Account{Name: adminName, Signer: as}, bench.Account{Name: funderName, Signer: fs}, nil
}

// ledgerAnswer reports whether a query error is the ledger's own answer
// (not found, invalid name) rather than a failure to reach the node.
func ledgerAnswer(err error) bool {
	var q *client.QueryError
	return errors.As(err, &q)
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
