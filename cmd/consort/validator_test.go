package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestRotateKeyOnDevChain: on the one-validator dev chain signing through
// Vault, `validator rotate-key --home H` rotates consort-dev-validator, the
// chain switches to version 2 at H+2 without stopping, and version 1 can
// no longer sign.
func TestRotateKeyOnDevChain(t *testing.T) {
	_, vc, bin, home, rpc := startDevVaultNode(t)

	out, stderr, err := runCLI(t, bin, "validator", "rotate-key", "--home", home, "--output", "json")
	if err != nil {
		t.Fatalf("rotate-key: %v\n%s\n%s", err, out, stderr)
	}
	var res struct {
		Validator    string `json:"validator"`
		Version      int    `json:"version"`
		Height       int64  `json:"height"`
		SwitchHeight int64  `json:"switch_height"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("rotate-key output: %v\n%s", err, out)
	}
	if res.Version != 2 || res.SwitchHeight != res.Height+2 {
		t.Fatalf("rotate-key: %+v\n%s", res, stderr)
	}
	for _, step := range []string{"1. rotated", "2. new public key", "3. rotation committed", "4. version 2 signs from", "5. the new key signed"} {
		if !strings.Contains(stderr, step) {
			t.Errorf("rotate-key progress lacks %q:\n%s", step, stderr)
		}
	}
	key := vc.Transit(devValidatorKey)
	pub2, err := key.PubKey(t.Context(), 2)
	if err != nil {
		t.Fatal(err)
	}
	waitHeight(t, rpc, res.SwitchHeight+3, 30*time.Second)
	onlyValidatorIs(t, rpc, pub2)
	if _, err := key.Sign(t.Context(), 1, []byte("old version")); err == nil {
		t.Error("version 1 still signs after the rotation")
	}
	// A second run rotates again, from version 2.
	out, stderr, err = runCLI(t, bin, "validator", "rotate-key", "--home", home, "--output", "json")
	if err != nil || !strings.Contains(out, `"version": 3`) {
		t.Fatalf("second rotate-key: %v\n%s\n%s", err, out, stderr)
	}
	stateWithinWatermark(t, vc, home, devValidatorKey)
}
