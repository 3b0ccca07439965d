package policy_test

import (
	"errors"
	"testing"

	"github.com/consort-ledger/consort/policy"
)

func TestPaused(t *testing.T) {
	tests := []struct {
		name      string
		pauses    []policy.Pause
		asset     string
		height    int64
		wantPause policy.Pause
		wantOK    bool
	}{
		{"no pauses", nil, "USD", 10, policy.Pause{}, false},
		{"global pause covers every asset", []policy.Pause{{}}, "USD", 10, policy.Pause{}, true},
		{"per-asset pause covers its asset", []policy.Pause{{Asset: "USD"}}, "USD", 10, policy.Pause{Asset: "USD"}, true},
		{"other asset unaffected", []policy.Pause{{Asset: "USD"}}, "EUR", 10, policy.Pause{}, false},
		{"before expiry", []policy.Pause{{Asset: "USD", Until: 20}}, "USD", 19, policy.Pause{Asset: "USD", Until: 20}, true},
		{"at expiry", []policy.Pause{{Asset: "USD", Until: 20}}, "USD", 20, policy.Pause{}, false},
		{"after expiry", []policy.Pause{{Until: 20}}, "USD", 21, policy.Pause{}, false},
		{"expired global, active per-asset", []policy.Pause{{Until: 5}, {Asset: "USD", Until: 50}}, "USD", 10, policy.Pause{Asset: "USD", Until: 50}, true},
		{"longest pause reported", []policy.Pause{{Asset: "USD", Until: 50}, {Until: 30}}, "USD", 10, policy.Pause{Asset: "USD", Until: 50}, true},
		{"longest pause reported, other order", []policy.Pause{{Until: 30}, {Asset: "USD", Until: 50}}, "USD", 10, policy.Pause{Asset: "USD", Until: 50}, true},
		{"indefinite beats any height", []policy.Pause{{Until: 1000}, {Asset: "USD"}}, "USD", 10, policy.Pause{Asset: "USD"}, true},
		{"tie goes to the global pause", []policy.Pause{{Asset: "USD", Until: 30}, {Until: 30}}, "USD", 10, policy.Pause{Until: 30}, true},
		{"empty asset asks for the global pause only", []policy.Pause{{Asset: "USD"}}, "", 10, policy.Pause{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := policy.Paused(tt.pauses, tt.asset, tt.height)
			if got != tt.wantPause || ok != tt.wantOK {
				t.Errorf("Paused(%+v, %q, %d) = %+v, %v; want %+v, %v", tt.pauses, tt.asset, tt.height, got, ok, tt.wantPause, tt.wantOK)
			}
		})
	}
}

func TestCheckNotPaused(t *testing.T) {
	pauses := []policy.Pause{{Asset: "USD", Until: 20}, {Asset: "BOND-2031"}}
	tests := []struct {
		name    string
		pauses  []policy.Pause
		assets  []string
		height  int64
		wantErr string // "" = not paused
	}{
		{"unpaused asset", pauses, []string{"EUR"}, 10, ""},
		{"one paused asset among several", pauses, []string{"EUR", "USD"}, 10, "paused: asset USD paused until height 20"},
		{"indefinite pause", pauses, []string{"BOND-2031"}, 10, "paused: asset BOND-2031 paused until lifted"},
		{"pause expired", pauses, []string{"USD"}, 20, ""},
		{"global pause", []policy.Pause{{Until: 99}}, []string{"EUR"}, 10, "paused: all assets paused until height 99"},
		{"no assets, global pause", []policy.Pause{{}}, nil, 10, "paused: all assets paused until lifted"},
		{"no assets, asset pause only", pauses, nil, 10, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := policy.CheckNotPaused(tt.pauses, tt.assets, tt.height)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tt.wantErr != "" && (!errors.Is(err, policy.ErrPaused) || err.Error() != tt.wantErr):
				t.Errorf("got %v, want %q wrapping ErrPaused", err, tt.wantErr)
			}
		})
	}
}

func TestValidatePause(t *testing.T) {
	tests := []struct {
		name  string
		pause policy.Pause
		ok    bool
	}{
		{"indefinite", policy.Pause{Asset: "USD"}, true},
		{"until a later height", policy.Pause{Until: 11}, true},
		{"until now", policy.Pause{Until: 10}, false},
		{"until the past", policy.Pause{Until: 3}, false},
		{"negative", policy.Pause{Until: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := policy.ValidatePause(tt.pause, 10)
			if tt.ok && err != nil || !tt.ok && !errors.Is(err, policy.ErrInvalidPause) {
				t.Errorf("ValidatePause(%+v, 10) = %v, want ok=%v", tt.pause, err, tt.ok)
			}
		})
	}
}
