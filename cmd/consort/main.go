// Command consort runs and uses a consort ledger node: one binary for
// validators, operators and client scripts.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/consort-ledger/consort/client"
)

// globals are the flags every command takes.
type globals struct {
	home   string
	node   string
	output string
	noPow  bool // tx commands: skip mining the proof-of-work stamp
	stdout io.Writer
	stderr io.Writer
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "consort",
		Short: "A permissioned UTXO ledger for consortia, on CometBFT",
		Long: `consort runs a validator node of a consortium ledger and is the client for it.

Start a one-validator development chain:    consort start --dev
Send coins on it (from another shell):      consort tx send --from alice --to bob --asset USD --amount 100.00
Read a balance:                             consort query balance bob --asset USD`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if g.output != "text" && g.output != "json" {
				return fmt.Errorf("--output %q: want text or json", g.output)
			}
			return nil
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.home, "home", defaultHome(), "node home folder (config, data, keyring)")
	pf.StringVar(&g.node, "node", "", "CometBFT RPC address (default: the home's RPC address, else "+client.DefaultNode+")")
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	root.AddCommand(
		newInitCmd(g), newStartCmd(g), newABCIServerCmd(g), newKeysCmd(g),
		newTxCmd(g), newQueryCmd(g), newStatusCmd(g),
		newTestnetCmd(g),
		newAuditCmd(g),
		newValidatorCmd(g),
		newSignerCmd(g),
		newBenchCmd(g),
		newReindexCmd(g),
	)
	return root
}

func defaultHome() string {
	if h := os.Getenv("CONSORT_HOME"); h != "" {
		return h
	}
	dir, err := os.UserHomeDir()
	if err != nil {
		return ".consort"
	}
	return filepath.Join(dir, ".consort")
}

// printJSON writes v as indented JSON.
func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// print writes v as JSON with --output json, else the text from text().
func (g *globals) print(v any, text func(w io.Writer)) error {
	if g.output == "json" {
		return g.printJSON(v)
	}
	text(g.stdout)
	return nil
}

// errRejected is the error (and non-zero exit) of a tx command whose
// transaction the ledger refused, after the result was printed.
var errRejected = errors.New("transaction rejected")
