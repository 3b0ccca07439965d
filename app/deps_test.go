package app

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the state machine pure: no CometBFT node, RPC or
// ABCI code, no Vault, no metrics, no logger can creep into package app
// (directly or through a dependency). CometBFT's ed25519 is allowed on
// purpose: CheckTx and blocks must verify with the same rules.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	allowedCometBFT := []string{
		"github.com/cometbft/cometbft/crypto",
		"github.com/cometbft/cometbft/libs/bytes",
		"github.com/cometbft/cometbft/libs/json",
		"github.com/cometbft/cometbft/libs/sync",
	}
	forbidden := []string{"github.com/hashicorp/", "github.com/prometheus/", "github.com/rs/zerolog", "github.com/consort-ledger/consort/abci", "github.com/consort-ledger/consort/consensus", "github.com/consort-ledger/consort/certs", "github.com/consort-ledger/consort/client"}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("app depends on %s", pkg)
			}
		}
		if strings.HasPrefix(pkg, "github.com/cometbft/cometbft/") && !hasAnyPrefix(pkg, allowedCometBFT) {
			t.Errorf("app depends on CometBFT package %s; only its crypto may be used here", pkg)
		}
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if s == p || strings.HasPrefix(s, p+"/") {
			return true
		}
	}
	return false
}
