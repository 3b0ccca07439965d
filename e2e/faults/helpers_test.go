package faults

import (
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/consort-ledger/consort/audit"
)

// auditReport is the part of `consort audit --output json` the checker reads.
type auditReport struct {
	Findings []audit.Finding `json:"findings"`
}

// goBuild builds a main package of this module into dir.
func goBuild(t *testing.T, dir, pkg, name string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// freePortLayout returns a base port at which the P2P, RPC and metrics ports
// of n loopback nodes (base+100*i, +1, +4) are all free at the moment.
func freePortLayout(t *testing.T, n int) int {
	t.Helper()
	for range 100 {
		base := 20000 + 10*rand.IntN(3000)
		var ls []net.Listener
		ok := true
		for i := range n {
			for _, off := range []int{0, 1, 4} {
				l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+100*i+off)))
				if err != nil {
					ok = false
					break
				}
				ls = append(ls, l)
			}
		}
		for _, l := range ls {
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free block of loopback ports found")
	return 0
}

// tail is the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
