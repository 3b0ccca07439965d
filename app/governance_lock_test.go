package app

import (
	"testing"

	"github.com/consort-ledger/consort/policy"
)

// TestGovernanceCannotLockItself: with threshold 2, the organisations whose
// active accounts can manage accounts and roles (bank-a, bank-b, bank-c;
// bank-d's admin is frozen) may shrink to two, never to one.
func TestGovernanceCannotLockItself(t *testing.T) {
	f := newAccessFixture(t)
	// Freezing bank-b's only admin leaves bank-a and bank-c: allowed.
	f.runOne(t, f.gov(t, &FreezeAccount{Name: "b1"}, "a1", "c1"), CodeOK)
	// Freezing bank-c's only admin would leave bank-a alone.
	f.wantCheck(t, "freeze the second-last organisation's admin", f.gov(t, &FreezeAccount{Name: "c1"}, "a1", "c1"), CodeInvalidAction)
	f.wantCheck(t, "revoke its admin role", f.gov(t, &RevokeRole{Account: "c1", Role: policy.RoleAdmin}, "a1", "c1"), CodeInvalidAction)
	f.wantCheck(t, "revoke all its roles", f.gov(t, &RevokeAll{Account: "c1"}, "a1", "c1"), CodeInvalidAction)
	f.wantCheck(t, "strip manage_roles from the admin role", f.gov(t, &SetRole{Name: policy.RoleAdmin, Permissions: []string{"manage_accounts", "transfer"}}, "a1", "c1"), CodeInvalidAction)
	// One of bank-a's two admins may go: bank-a still counts through the other.
	f.runOne(t, f.gov(t, &RevokeAll{Account: "a2"}, "a1", "c1"), CodeOK)
	// Unfreezing is always possible, and then c1 may be frozen again.
	f.runOne(t, f.gov(t, &UnfreezeAccount{Name: "b1"}, "a1", "c1"), CodeOK)
	f.runOne(t, f.gov(t, &FreezeAccount{Name: "c1"}, "a1", "b1"), CodeOK)
}
