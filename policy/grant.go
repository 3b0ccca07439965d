package policy

import (
	"fmt"
	"slices"
)

// Grant gives an account a role until ExpiresAt: the grant is active at
// heights below ExpiresAt, and from ExpiresAt on it gives nothing. ExpiresAt
// 0 means the grant never expires.
type Grant struct {
	Role      string
	ExpiresAt int64 // first height at which the grant is no longer active; 0 = never
}

// Active reports whether g is in force at height.
func (g Grant) Active(height int64) bool {
	return g.ExpiresAt == 0 || height < g.ExpiresAt
}

// ValidateGrant checks a grant about to be made at height: its role must
// exist in roles, and its expiry must be 0 or a height after height (a grant
// that is already expired would give nothing).
func ValidateGrant(roles RoleSet, g Grant, height int64) error {
	if _, ok := roles.lookup(g.Role); !ok {
		return fmt.Errorf("%w %q", ErrUnknownRole, g.Role)
	}
	if g.ExpiresAt < 0 {
		return fmt.Errorf("%w: role %q: expiry height %d is negative", ErrInvalidGrant, g.Role, g.ExpiresAt)
	}
	if !g.Active(height) {
		return fmt.Errorf("%w: role %q: expiry height %d is not after the current height %d", ErrInvalidGrant, g.Role, g.ExpiresAt, height)
	}
	return nil
}

// HasPermission reports whether any of grants, active at height, is of a
// role in roles that carries p. Grants of roles roles does not define give
// nothing. HasPermission does not look at account status: the caller
// rejects frozen accounts.
func HasPermission(roles RoleSet, grants []Grant, p Permission, height int64) bool {
	for _, g := range grants {
		if !g.Active(height) {
			continue
		}
		if r, ok := roles.lookup(g.Role); ok && r.Has(p) {
			return true
		}
	}
	return false
}

// CanIssue reports whether account, holding grants, may use p — which must
// be an asset-scoped permission, PermMint or PermBurn — on an asset whose
// issuers are listed: the account needs p and must be one of the issuers.
func CanIssue(roles RoleSet, grants []Grant, p Permission, account string, issuers []string, height int64) bool {
	return p.AssetScoped() &&
		slices.Contains(issuers, account) &&
		HasPermission(roles, grants, p, height)
}
