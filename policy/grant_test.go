package policy_test

import (
	"errors"
	"testing"

	"github.com/consort-ledger/consort/policy"
)

func TestGrantExpiry(t *testing.T) {
	tests := []struct {
		name      string
		expiresAt int64
		height    int64
		want      bool
	}{
		{"never expires, height 1", 0, 1, true},
		{"never expires, late height", 0, 1 << 40, true},
		{"well before expiry", 100, 10, true},
		{"one height before expiry", 100, 99, true},
		{"at expiry", 100, 100, false},
		{"after expiry", 100, 101, false},
	}
	roles := defaultRoleSet(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := policy.Grant{Role: policy.RoleMember, ExpiresAt: tt.expiresAt}
			if got := g.Active(tt.height); got != tt.want {
				t.Errorf("Grant{ExpiresAt: %d}.Active(%d) = %v, want %v", tt.expiresAt, tt.height, got, tt.want)
			}
			if got := policy.HasPermission(roles, []policy.Grant{g}, policy.PermTransfer, tt.height); got != tt.want {
				t.Errorf("HasPermission(member until %d, transfer, %d) = %v, want %v", tt.expiresAt, tt.height, got, tt.want)
			}
		})
	}
}

func TestHasPermission(t *testing.T) {
	roles := defaultRoleSet(t)
	tests := []struct {
		name   string
		grants []policy.Grant
		perm   policy.Permission
		want   bool
	}{
		{"no grants", nil, policy.PermTransfer, false},
		{"unknown role gives nothing", []policy.Grant{{Role: "superuser"}}, policy.PermTransfer, false},
		{"expired grant, active other grant", []policy.Grant{{Role: policy.RoleAdmin, ExpiresAt: 5}, {Role: policy.RoleMember}}, policy.PermTransfer, true},
		{"expired admin, active member cannot pause", []policy.Grant{{Role: policy.RoleAdmin, ExpiresAt: 5}, {Role: policy.RoleMember}}, policy.PermPause, false},
		{"two roles combine", []policy.Grant{{Role: policy.RoleAdmin}, {Role: policy.RoleIssuer}}, policy.PermMint, true},
		{"admin alone cannot mint", []policy.Grant{{Role: policy.RoleAdmin}}, policy.PermMint, false},
		{"unknown permission never held", []policy.Grant{{Role: policy.RoleAdmin}}, "everything", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := policy.HasPermission(roles, tt.grants, tt.perm, 10); got != tt.want {
				t.Errorf("HasPermission(%+v, %s, 10) = %v, want %v", tt.grants, tt.perm, got, tt.want)
			}
		})
	}
}

func TestValidateGrant(t *testing.T) {
	roles := defaultRoleSet(t)
	tests := []struct {
		name    string
		grant   policy.Grant
		wantErr error
	}{
		{"never expires", policy.Grant{Role: policy.RoleMember}, nil},
		{"expires later", policy.Grant{Role: policy.RoleMember, ExpiresAt: 11}, nil},
		{"unknown role", policy.Grant{Role: "root"}, policy.ErrUnknownRole},
		{"expires now", policy.Grant{Role: policy.RoleMember, ExpiresAt: 10}, policy.ErrInvalidGrant},
		{"expired already", policy.Grant{Role: policy.RoleMember, ExpiresAt: 3}, policy.ErrInvalidGrant},
		{"negative expiry", policy.Grant{Role: policy.RoleMember, ExpiresAt: -1}, policy.ErrInvalidGrant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := policy.ValidateGrant(roles, tt.grant, 10)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("ValidateGrant(%+v, 10) = %v, want %v", tt.grant, err, tt.wantErr)
			}
		})
	}
}

func TestCanIssue(t *testing.T) {
	roles := defaultRoleSet(t)
	issuers := []string{"bank-a.treasury", "bank-b.treasury"}
	issuer := []policy.Grant{{Role: policy.RoleIssuer}}
	tests := []struct {
		name    string
		grants  []policy.Grant
		perm    policy.Permission
		account string
		want    bool
	}{
		{"listed issuer mints", issuer, policy.PermMint, "bank-a.treasury", true},
		{"listed issuer burns", issuer, policy.PermBurn, "bank-b.treasury", true},
		{"issuer role, not listed for this asset", issuer, policy.PermMint, "bank-c.treasury", false},
		{"listed, but no issuer role", []policy.Grant{{Role: policy.RoleAdmin}}, policy.PermMint, "bank-a.treasury", false},
		{"listed, issuer grant expired", []policy.Grant{{Role: policy.RoleIssuer, ExpiresAt: 10}}, policy.PermMint, "bank-a.treasury", false},
		{"not an asset-scoped permission", issuer, policy.PermTransfer, "bank-a.treasury", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := policy.CanIssue(roles, tt.grants, tt.perm, tt.account, issuers, 10); got != tt.want {
				t.Errorf("CanIssue(%s, %s) = %v, want %v", tt.account, tt.perm, got, tt.want)
			}
		})
	}
}

// Holding a permission never lets one grant it onward: granting is a
// governance action needing manage_roles from enough organisations.
func TestHoldingPermissionDoesNotLetOneGrantIt(t *testing.T) {
	roles := defaultRoleSet(t)
	const threshold = 2
	tests := []struct {
		name      string
		approvers []policy.Approver
	}{
		{"issuers of two organisations", []policy.Approver{
			{Account: "a.issuer", Organization: "bank-a", Grants: []policy.Grant{{Role: policy.RoleIssuer}}},
			{Account: "b.issuer", Organization: "bank-b", Grants: []policy.Grant{{Role: policy.RoleIssuer}}},
		}},
		{"members of two organisations", []policy.Approver{
			{Account: "a.member", Organization: "bank-a", Grants: []policy.Grant{{Role: policy.RoleMember}}},
			{Account: "b.member", Organization: "bank-b", Grants: []policy.Grant{{Role: policy.RoleMember}}},
		}},
		{"one admin alone", []policy.Approver{
			{Account: "a.admin", Organization: "bank-a", Grants: []policy.Grant{{Role: policy.RoleAdmin}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := policy.CheckApproval(roles, tt.approvers, policy.PermManageRoles, threshold, 10)
			if !errors.Is(err, policy.ErrNotApproved) {
				t.Errorf("CheckApproval(grant role) = %v, want ErrNotApproved", err)
			}
		})
	}
}
