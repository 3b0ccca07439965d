package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/spf13/cobra"

	"github.com/consort-ledger/consort/audit"
	"github.com/consort-ledger/consort/client"
	"github.com/consort-ledger/consort/consensus"
)

// auditProgressEvery is how many blocks pass between progress lines when
// stderr is not a terminal.
const auditProgressEvery = 1000

func newAuditCmd(g *globals) *cobra.Command {
	cfg := audit.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Replay the chain from genesis and report what does not verify",
		Long: `audit replays the whole chain from genesis with the ledger rules and checks:
every transaction's result (signatures, proof of work, policy) against the
state at its height, the app hash of every height against the next header,
each block's integrity (data hash, links, block id) and its commit signatures
against the validator set of its height (derived from genesis and the
validator updates replayed), that no coin was spent twice, that every asset's
supply equals its coins and genesis + minted - burned, and the node's own
ledger state (HOME/data/app) key by key against the replay.

It reads a stopped node's home (--home, the default), or a running node
over RPC (--node URL). Progress goes to stderr. The report lists findings
with type, height, txid, severity and a description, then recommendations;
--output json prints it as one object with "findings" and "summary".
The exit status is non-zero when any finding is high or critical.

Examples:
  consort audit --home ./node0               # the node must be stopped
  consort audit --node http://10.0.0.5:26657 --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, note, err := g.auditSource(cmd, &cfg)
			if err != nil {
				return err
			}
			defer src.Close()
			progress, done := auditProgress(g.stderr)
			cfg.Progress = progress
			report, err := audit.Run(cmd.Context(), cfg, src)
			done()
			if err != nil {
				return fmt.Errorf("audit: %w", err)
			}
			if note != "" {
				report.Summary.LocalState = "not compared: " + note
			}
			if err := g.print(report, report.WriteText); err != nil {
				return err
			}
			if n := report.Severe(); n > 0 {
				return fmt.Errorf("audit found %d high or critical finding(s)", n)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Int64Var(&cfg.SupplyEvery, "supply-every", 0, "also check supply conservation every N heights (default: at the last height only)")
	f.IntVar(&cfg.MaxFindingsPerType, "max-findings", cfg.MaxFindingsPerType, "list at most N findings of each type; the rest are counted")
	f.StringVar(&cfg.WorkDir, "work-dir", "", "folder for the replayed state while the audit runs (default: the system's temporary folder)")
	return cmd
}

// auditSource opens the history to audit: the node at --node, else the
// home. It sets cfg.LocalState when the home's ledger state can be compared,
// or returns a note saying why not.
func (g *globals) auditSource(cmd *cobra.Command, cfg *audit.Config) (audit.Source, string, error) {
	if g.node != "" {
		c, err := client.New(client.Config{Node: g.node})
		if err != nil {
			return nil, "", err
		}
		note := "--node was given; add --home of a stopped node of this chain to compare its state"
		if cmd.Flags().Changed("home") && homeExists(g.home) {
			note = ""
			if err := sameChain(cmd, c, g.home); err != nil {
				note = err.Error()
			} else {
				cfg.LocalState = appDataDir(g.home)
			}
		}
		return audit.NewRPC(g.node, c.RPC()), note, nil
	}
	if !homeExists(g.home) {
		return nil, "", fmt.Errorf("%s is not a node home (no config/genesis.json): give --home of a node, or --node URL", g.home)
	}
	conf, err := consensus.LoadConfig(g.home)
	if err != nil {
		return nil, "", err
	}
	src, err := audit.OpenHome(audit.HomeConfig{GenesisFile: conf.GenesisFile(), DBDir: conf.DBDir(), DBBackend: conf.DBBackend})
	if errors.Is(err, audit.ErrInUse) {
		return nil, "", fmt.Errorf("cannot read the block store: %w", err)
	}
	if err != nil {
		return nil, "", err
	}
	cfg.LocalState = appDataDir(g.home)
	return src, "", nil
}

// sameChain checks that home belongs to the chain the node runs.
func sameChain(cmd *cobra.Command, c *client.Client, home string) error {
	conf, err := consensus.LoadConfig(home)
	if err != nil {
		return err
	}
	doc, err := cmttypes.GenesisDocFromFile(conf.GenesisFile())
	if err != nil {
		return err
	}
	chain, err := c.ChainID(cmd.Context())
	if err != nil {
		return err
	}
	if chain != doc.ChainID {
		return fmt.Errorf("%s is a home of chain %s, the node runs %s", home, doc.ChainID, chain)
	}
	return nil
}

// auditProgress reports progress on w: one updating line on a terminal,
// else a line every auditProgressEvery blocks. done ends the output.
func auditProgress(w io.Writer) (progress func(audit.Progress), done func()) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	var last time.Time
	drawn := false
	progress = func(p audit.Progress) {
		n, total := p.Height-p.First+1, p.Last-p.First+1
		if tty {
			if now := time.Now(); now.Sub(last) >= 100*time.Millisecond || p.Height == p.Last {
				last = now
				fmt.Fprintf(w, "\raudit: height %d of %d (%d%%), %d txs", p.Height, p.Last, 100*n/total, p.Txs)
				drawn = true
			}
			return
		}
		if n%auditProgressEvery == 0 {
			fmt.Fprintf(w, "audit: checked %d of %d blocks (height %d), %d txs\n", n, total, p.Height, p.Txs)
		}
	}
	done = func() {
		if drawn {
			fmt.Fprintln(w)
		}
	}
	return progress, done
}
