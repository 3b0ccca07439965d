// Package ports finds free loopback ports for tests that start real nodes.
package ports

import (
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// TestnetLayout returns a base port at which the P2P, RPC and metrics ports
// of n loopback nodes laid out as `consort testnet --base-port` does
// (base+100*i, +1, +4) are all free at the moment.
func TestnetLayout(t testing.TB, n int) int {
	t.Helper()
	for range 100 {
		base := 20000 + 10*rand.IntN(3000) // up to 50000+100*n
		if allFree(base, n) {
			return base
		}
	}
	t.Fatal("no free block of loopback ports found")
	return 0
}

func allFree(base, n int) bool {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := range n {
		for _, off := range []int{0, 1, 4} {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+100*i+off)))
			if err != nil {
				return false
			}
			ls = append(ls, l)
		}
	}
	return true
}
