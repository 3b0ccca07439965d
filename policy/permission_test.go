package policy_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/consort-ledger/consort/policy"
)

func TestParsePermission(t *testing.T) {
	for _, p := range policy.AllPermissions() {
		t.Run(string(p), func(t *testing.T) {
			got, err := policy.ParsePermission(string(p))
			if err != nil || got != p {
				t.Errorf("ParsePermission(%q) = %q, %v; want %q, nil", p, got, err, p)
			}
		})
	}
	for _, s := range []string{"", "Transfer", " mint", "burn ", "admin", "manage-roles", "grant"} {
		t.Run("reject/"+s, func(t *testing.T) {
			got, err := policy.ParsePermission(s)
			if !errors.Is(err, policy.ErrUnknownPermission) {
				t.Errorf("ParsePermission(%q) = %q, %v; want ErrUnknownPermission", s, got, err)
			}
		})
	}
}

func TestAllPermissions(t *testing.T) {
	want := []policy.Permission{
		"transfer", "mint", "burn",
		"manage_accounts", "manage_roles", "manage_assets", "manage_validators", "manage_nodes",
		"pause", "set_params",
	}
	got := policy.AllPermissions()
	if !slices.Equal(got, want) {
		t.Fatalf("AllPermissions() = %q, want %q", got, want)
	}
	got[0] = "changed"
	if again := policy.AllPermissions(); again[0] != policy.PermTransfer {
		t.Errorf("AllPermissions()[0] after caller modified its copy = %q, want %q", again[0], policy.PermTransfer)
	}
}

func TestAssetScoped(t *testing.T) {
	for _, p := range policy.AllPermissions() {
		want := p == policy.PermMint || p == policy.PermBurn
		if got := p.AssetScoped(); got != want {
			t.Errorf("%s.AssetScoped() = %v, want %v", p, got, want)
		}
	}
}
