package crashpoint

import "testing"

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
			got, err := Parse(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse(%q): got error %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Parse(%q): got %+v, want %+v", tt.in, got, tt.want)
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
