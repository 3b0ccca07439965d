package settings

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps settings a leaf: the standard library and a TOML
// decoder, nothing of the node it configures, so any package may use it.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg != "github.com/consort-ledger/consort/settings" && !strings.HasPrefix(pkg, "github.com/pelletier/go-toml/v2") {
			t.Errorf("settings depends on %s; want the standard library and go-toml only", pkg)
		}
	}
}
