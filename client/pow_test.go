package client

import (
	"context"
	"testing"

	"github.com/consort-ledger/consort/app"
)

func TestMinePoW(t *testing.T) {
	id := app.TxID{1, 2, 3}
	for _, bits := range []uint32{1, 8, 12} {
		s, err := MinePoW(context.Background(), id, bits)
		if err != nil {
			t.Fatal(err)
		}
		if got := app.PowZeroBits(id, s.Nonce); got < bits {
			t.Fatalf("%d bits: nonce %d gives %d zero bits", bits, s.Nonce, got)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := MinePoW(ctx, id, 64); err == nil {
		t.Fatal("mining 64 bits with a cancelled context: got no error")
	}
}
