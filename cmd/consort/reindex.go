package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/consort-ledger/consort/consensus"
)

// reindexResult is what `consort reindex` did, for --output json.
type reindexResult struct {
	From    int64   `json:"from"`
	To      int64   `json:"to"`
	Heights int64   `json:"heights"`
	Seconds float64 `json:"seconds"`
}

func newReindexCmd(g *globals) *cobra.Command {
	var from, to int64
	cmd := &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild a stopped node's tx and block index from its blocks",
		Long: `reindex rebuilds the tx and block index (tx_search, /tx?hash=, block_search)
of the stopped node in --home from its block store and the stored block
results, for heights --from to --to (default: every height the block store
keeps). Indexing a height again writes the same entries, so it is safe to
run on an index that is complete.

Every start already re-indexes the last ` + fmt.Sprint(consensus.RecentReindexHeights) + ` committed heights, which
covers a node killed between a block's commit and its indexing. Use this
command for an index that is missing or damaged further back.

The node must be stopped: its databases are locked while it runs. A node
with tx_index.indexer = "null" or storage.discard_abci_responses = true has
nothing to rebuild from, and reindex says so.

Examples:
  consort reindex --home ./node0
  consort reindex --home ./node0 --from 1200 --to 1300`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !homeExists(g.home) {
				return fmt.Errorf("%s is not a node home", g.home)
			}
			conf, err := consensus.LoadConfig(g.home)
			if err != nil {
				return err
			}
			started := time.Now()
			r, err := consensus.Reindex(cmd.Context(), conf, from, to)
			if err != nil {
				return fmt.Errorf("reindex: %w", err)
			}
			res := reindexResult{From: r.From, To: r.To, Heights: r.Len(), Seconds: time.Since(started).Seconds()}
			return g.print(res, func(w io.Writer) {
				if res.Heights == 0 {
					fmt.Fprintln(w, "nothing to re-index: the chain has no committed block yet")
					return
				}
				fmt.Fprintf(w, "re-indexed heights %d to %d (%d heights) in %.2fs\n", res.From, res.To, res.Heights, res.Seconds)
			})
		},
	}
	cmd.Flags().Int64Var(&from, "from", 0, "first height to re-index (default: the first the block store keeps)")
	cmd.Flags().Int64Var(&to, "to", 0, "last height to re-index (default: the last committed)")
	return cmd
}
