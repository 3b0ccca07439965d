package policy_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/consort-ledger/consort/policy"
)

func TestApprovingOrganizations(t *testing.T) {
	roles := defaultRoleSet(t)
	admin := []policy.Grant{{Role: policy.RoleAdmin}}
	tests := []struct {
		name      string
		approvers []policy.Approver
		perm      policy.Permission
		want      []string
	}{
		{"none", nil, policy.PermManageRoles, nil},
		{"two admins of one organisation count once", []policy.Approver{
			{Account: "a.ops", Organization: "bank-a", Grants: admin},
			{Account: "a.cfo", Organization: "bank-a", Grants: admin},
		}, policy.PermManageRoles, []string{"bank-a"}},
		{"frozen admin not counted", []policy.Approver{
			{Account: "a.ops", Organization: "bank-a", Grants: admin},
			{Account: "b.ops", Organization: "bank-b", Grants: admin, Frozen: true},
		}, policy.PermManageRoles, []string{"bank-a"}},
		{"admin without the permission not counted", []policy.Approver{
			{Account: "a.ops", Organization: "bank-a", Grants: admin},
			{Account: "b.ops", Organization: "bank-b", Grants: admin},
		}, policy.PermMint, nil},
		{"member not counted", []policy.Approver{
			{Account: "a.ops", Organization: "bank-a", Grants: admin},
			{Account: "b.alice", Organization: "bank-b", Grants: []policy.Grant{{Role: policy.RoleMember}}},
		}, policy.PermPause, []string{"bank-a"}},
		{"expired grant not counted", []policy.Approver{
			{Account: "a.ops", Organization: "bank-a", Grants: admin},
			{Account: "b.ops", Organization: "bank-b", Grants: []policy.Grant{{Role: policy.RoleAdmin, ExpiresAt: 10}}},
		}, policy.PermSetParams, []string{"bank-a"}},
		{"grant expiring later counted", []policy.Approver{
			{Account: "b.ops", Organization: "bank-b", Grants: []policy.Grant{{Role: policy.RoleAdmin, ExpiresAt: 11}}},
		}, policy.PermSetParams, []string{"bank-b"}},
		{"no organisation not counted", []policy.Approver{
			{Account: "loner", Organization: "", Grants: admin},
		}, policy.PermManageRoles, nil},
		{"result sorted whatever the signing order", []policy.Approver{
			{Account: "c.ops", Organization: "bank-c", Grants: admin},
			{Account: "a.ops", Organization: "bank-a", Grants: admin},
			{Account: "b.ops", Organization: "bank-b", Grants: admin},
			{Account: "a.cfo", Organization: "bank-a", Grants: admin},
		}, policy.PermManageAssets, []string{"bank-a", "bank-b", "bank-c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := policy.ApprovingOrganizations(roles, tt.approvers, tt.perm, 10)
			if !slices.Equal(got, tt.want) {
				t.Errorf("ApprovingOrganizations(%s) = %q, want %q", tt.perm, got, tt.want)
			}
		})
	}
}

func TestMeetsThreshold(t *testing.T) {
	tests := []struct {
		orgs      []string
		threshold uint32
		want      bool
	}{
		{nil, 0, false}, // a zero threshold is never met
		{[]string{"a"}, 0, false},
		{nil, 1, false},
		{[]string{"a"}, 1, true},
		{[]string{"a"}, 2, false},
		{[]string{"a", "b"}, 2, true},
		{[]string{"a", "a"}, 2, false}, // duplicates count once
		{[]string{"a", "b", "c"}, 2, true},
	}
	for _, tt := range tests {
		if got := policy.MeetsThreshold(tt.orgs, tt.threshold); got != tt.want {
			t.Errorf("MeetsThreshold(%q, %d) = %v, want %v", tt.orgs, tt.threshold, got, tt.want)
		}
	}
}

func TestValidateThreshold(t *testing.T) {
	tests := []struct {
		threshold uint32
		orgs      int
		ok        bool
	}{
		{1, 1, true},
		{2, 3, true},
		{3, 3, true},
		{0, 3, false},
		{4, 3, false},
		{1, 0, false},
		{1, -1, false},
	}
	for _, tt := range tests {
		err := policy.ValidateThreshold(tt.threshold, tt.orgs)
		if tt.ok && err != nil || !tt.ok && !errors.Is(err, policy.ErrInvalidThreshold) {
			t.Errorf("ValidateThreshold(%d, %d) = %v, want ok=%v", tt.threshold, tt.orgs, err, tt.ok)
		}
	}
}

func TestCheckApproval(t *testing.T) {
	roles := defaultRoleSet(t)
	admin := []policy.Grant{{Role: policy.RoleAdmin}}
	approvers := []policy.Approver{
		{Account: "b.ops", Organization: "bank-b", Grants: admin},
		{Account: "a.ops", Organization: "bank-a", Grants: admin},
		{Account: "c.ops", Organization: "bank-c", Grants: admin, Frozen: true},
	}
	if err := policy.CheckApproval(roles, approvers, policy.PermManageRoles, 2, 10); err != nil {
		t.Errorf("2 of threshold 2: got %v, want nil", err)
	}
	err := policy.CheckApproval(roles, approvers, policy.PermManageRoles, 3, 10)
	if !errors.Is(err, policy.ErrNotApproved) {
		t.Fatalf("2 of threshold 3: got %v, want ErrNotApproved", err)
	}
	want := "governance threshold not met: manage_roles approved by 2 of 3 required organisations (bank-a, bank-b)"
	if err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	err = policy.CheckApproval(roles, nil, policy.PermPause, 1, 10)
	want = "governance threshold not met: pause approved by 0 of 1 required organisations (none)"
	if err == nil || err.Error() != want {
		t.Errorf("no approvers: got %v, want %q", err, want)
	}
}
