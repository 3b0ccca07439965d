package crashpoint

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    target
		wantErr bool
	}{
		{"", target{}, false},
		{"commit-after-save", target{point: CommitAfterSave}, false},
		{"finalize-start@12", target{point: FinalizeStart, height: 12}, false},
		{"commit-after-saves", target{}, true},
		{"commit-end@0", target{}, true},
		{"commit-end@x", target{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parse(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parse(%q): got error %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parse(%q): got %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

// TestHitWithoutTarget: with no crash point set, every point passes.
func TestHitWithoutTarget(t *testing.T) {
	t.Setenv(EnvVar, "")
	for _, p := range Points {
		Hit(p, 1)
	}
}

// TestHitKills runs this test binary as a child that passes points on its
// way: it must die by SIGKILL at the armed point and height, and run to the
// end when the height is never reached.
func TestHitKills(t *testing.T) {
	if os.Getenv("CRASHPOINT_CHILD") == "1" {
		Hit(CommitEnd, 7)       // another point: passes
		Hit(CommitAfterSave, 6) // below the height: passes
		Hit(CommitAfterSave, 7)
		os.Exit(0)
	}
	tests := []struct {
		env    string
		killed bool
	}{
		{"commit-after-save@7", true},
		{"commit-after-save@8", false},
		{"commit-after-save", true},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run", "^TestHitKills$")
			cmd.Env = append(os.Environ(), "CRASHPOINT_CHILD=1", EnvVar+"="+tt.env)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
			if killed != tt.killed {
				t.Fatalf("%s=%s: killed %v (%v), want %v\n%s", EnvVar, tt.env, killed, err, tt.killed, out)
			}
			if killed && !strings.Contains(string(out), "crashpoint: killing the process at commit-after-save") {
				t.Errorf("no notice of the crash in the output:\n%s", out)
			}
		})
	}
}

// TestUnknownPointStops: a misspelt point stops the process instead of
// running one that never crashes.
func TestUnknownPointStops(t *testing.T) {
	if os.Getenv("CRASHPOINT_CHILD") == "1" {
		Hit(CommitEnd, 1)
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestUnknownPointStops$")
	cmd.Env = append(os.Environ(), "CRASHPOINT_CHILD=1", EnvVar+"=commit-ending")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "unknown crash point") {
		t.Fatalf("got %v, want exit 2 naming the unknown point:\n%s", err, out)
	}
}
