package app

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
)

// DecodeTx keeps short lists in the Tx's own allocation and longer ones in
// slices of their own: every size decodes to what was encoded, and
// changing a decoded transaction changes no other.
func TestDecodeTxListSizes(t *testing.T) {
	var keys []testKey
	for i := range 4 {
		keys = append(keys, newEdKey(fmt.Sprintf("k%d", i)))
	}
	for nIn := 1; nIn <= 4; nIn++ {
		for nOut := 1; nOut <= 4; nOut++ {
			for nSig := 0; nSig <= 3; nSig++ {
				var ins []Outpoint
				for i := range nIn {
					ins = append(ins, Outpoint{TxID: TxID{byte(i + 1)}, Index: uint32(i)})
				}
				var outs []Output
				for i := range nOut {
					outs = append(outs, Output{Owner: fmt.Sprintf("owner-%d", i), Asset: "USD", Amount: uint64(i + 1)})
				}
				b := body(ins, outs...)
				raw := signTx(t, b, keys[:nSig]...)
				tx, err := DecodeTx(raw)
				if err != nil {
					t.Fatalf("%d in, %d out, %d sigs: %v", nIn, nOut, nSig, err)
				}
				if !reflect.DeepEqual(tx.Body.Transfer, b.Transfer) {
					t.Fatalf("%d in, %d out: decoded %+v, want %+v", nIn, nOut, tx.Body.Transfer, b.Transfer)
				}
				if len(tx.Signatures) != nSig || !bytes.Equal(tx.Encode(), raw) {
					t.Fatalf("%d in, %d out, %d sigs: %d signatures, re-encoding differs", nIn, nOut, nSig, len(tx.Signatures))
				}
				// A second decoding shares nothing with the first.
				again, err := DecodeTx(raw)
				if err != nil {
					t.Fatal(err)
				}
				again.Body.Transfer.Inputs[0].Index = 99
				again.Body.Transfer.Outputs[0].Amount = 99
				again.AddSignature(newEdKey("late").sign(t, again.BodyBytes))
				if tx.Body.Transfer.Inputs[0].Index != 0 || tx.Body.Transfer.Outputs[0].Amount != 1 || len(tx.Signatures) != nSig {
					t.Fatalf("%d in, %d out, %d sigs: changing one decoded transaction changed another", nIn, nOut, nSig)
				}
			}
		}
	}
}
