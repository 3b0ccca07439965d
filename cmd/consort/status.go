package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the node's chain, height and app hash",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			return g.print(st, func(w io.Writer) {
				fmt.Fprintf(w, "chain id:     %s\nmoniker:      %s\nnode id:      %s\nheight:       %d\napp hash:     %s\nblock time:   %s\ncatching up:  %v\nvoting power: %d\n",
					st.ChainID, st.Moniker, st.NodeID, st.Height, st.AppHash, st.BlockTime, st.CatchingUp, st.VotingPower)
			})
		},
	}
}
