package policy

import "fmt"

// Permission names one thing an account may do. Permissions are written in
// genesis and governance transactions by these exact names.
type Permission string

// The built-in permissions, in canonical order (see AllPermissions).
const (
	PermTransfer         Permission = "transfer"          // spend own coins
	PermMint             Permission = "mint"              // create supply of an asset one is listed issuer of
	PermBurn             Permission = "burn"              // destroy supply of an asset one is listed issuer of
	PermManageAccounts   Permission = "manage_accounts"   // create accounts, change keys, freeze and unfreeze
	PermManageRoles      Permission = "manage_roles"      // define roles, grant and revoke them
	PermManageAssets     Permission = "manage_assets"     // create assets, change their issuers
	PermManageValidators Permission = "manage_validators" // change validator keys and voting power
	PermManageNodes      Permission = "manage_nodes"      // admit and remove peer nodes
	PermPause            Permission = "pause"             // pause and unpause, globally or per asset
	PermSetParams        Permission = "set_params"        // change consensus parameters
)

// allPermissions is the canonical order; AllPermissions returns a copy.
var allPermissions = [...]Permission{
	PermTransfer,
	PermMint,
	PermBurn,
	PermManageAccounts,
	PermManageRoles,
	PermManageAssets,
	PermManageValidators,
	PermManageNodes,
	PermPause,
	PermSetParams,
}

// AllPermissions returns every built-in permission in canonical order.
func AllPermissions() []Permission {
	return append([]Permission(nil), allPermissions[:]...)
}

// ParsePermission returns the permission named s. Names are exact:
// lower case, no surrounding space.
func ParsePermission(s string) (Permission, error) {
	p := Permission(s)
	if !p.Known() {
		return "", fmt.Errorf("%w %q", ErrUnknownPermission, s)
	}
	return p, nil
}

// Known reports whether p is a built-in permission.
func (p Permission) Known() bool {
	for _, q := range allPermissions {
		if p == q {
			return true
		}
	}
	return false
}

// AssetScoped reports whether p applies only to assets that list the account
// as an issuer (mint and burn). See CanIssue.
func (p Permission) AssetScoped() bool {
	return p == PermMint || p == PermBurn
}
