package policy_test

import (
	"os/exec"
	"strings"
	"testing"
)

// policy is consensus code that every layer may import; it must import the
// standard library only.
func TestImportsStandardLibraryOnly(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	const self = "github.com/consort-ledger/consort/policy"
	for _, pkg := range strings.Fields(string(out)) {
		if pkg != self {
			t.Errorf("policy imports %s, want the standard library only", pkg)
		}
	}
}
