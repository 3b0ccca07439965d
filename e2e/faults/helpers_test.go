package faults

import (
	"os/exec"
	"path/filepath"
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

// tail is the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
