package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/consort-ledger/consort/app"
)

// TestProofOfWorkOnARealNode runs chains that ask for 0, 8 and 16 bits of
// proof of work: a transfer without the stamp is refused by the pow module
// (on a chain that asks for one), the same transfer stamped by the client
// commits.
func TestProofOfWorkOnARealNode(t *testing.T) {
	for _, bits := range []uint32{0, 8, 16} {
		t.Run(fmt.Sprintf("%d bits", bits), func(t *testing.T) {
			n := startNodeWith(t, []string{"alice", "bob"}, map[string]uint64{"alice": 10_000}, &app.GenesisParams{Pow: &app.GenesisPow{DifficultyBits: bits}})
			ctx := context.Background()
			txBytes := n.transfer(t, chainID, "alice", "bob", 700)
			if bits > 0 {
				res, err := n.client.Broadcast(ctx, txBytes, false)
				if err != nil {
					t.Fatal(err)
				}
				if res.Code != uint32(app.CodePoW) {
					t.Fatalf("unstamped: got code %d (%s), want %d", res.Code, res.Log, app.CodePoW)
				}
			}
			tx, err := app.DecodeTx(txBytes)
			if err != nil {
				t.Fatal(err)
			}
			stamp, err := n.client.StampIfNeeded(ctx, tx)
			if err != nil {
				t.Fatal(err)
			}
			if (stamp != nil) != (bits > 0) {
				t.Fatalf("stamp %+v for a %d-bit chain", stamp, bits)
			}
			res, err := n.client.Broadcast(ctx, tx.Encode(), true)
			if err != nil || res.Code != 0 || res.Height == 0 {
				t.Fatalf("stamped: got %+v, %v; want code 0 in a block", res, err)
			}
			if got := n.balance(t, "bob"); got != 700 {
				t.Fatalf("bob: got %d, want 700", got)
			}
		})
	}
}
