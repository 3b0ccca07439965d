package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Names of the default roles.
const (
	RoleAdmin    = "admin"
	RoleIssuer   = "issuer"
	RoleMember   = "member"
	RoleAuditor  = "auditor"
	RoleOperator = "operator"
)

// MaxRoleNameLen is the longest role name ValidateRole accepts.
const MaxRoleNameLen = 32

// Role is a named set of permissions. Roles are data: genesis defines them
// and governance changes them.
type Role struct {
	Name        string
	Permissions []Permission
}

// DefaultRoles returns the built-in roles, sorted by name:
//
//   - admin: every manage_* permission, pause, set_params and transfer —
//     but not mint or burn, which belong to issuers.
//   - auditor: no permission at all; it reads, which needs none.
//   - issuer: mint and burn (of assets listing the account as issuer), and
//     transfer.
//   - member: transfer.
//   - operator: no governance permission. Holding manage_validators would
//     let operators of two organisations change the validator set without
//     any admin; an operator's actions on its own validator (key rotation)
//     are authorised by the validator record's operator field instead.
func DefaultRoles() []Role {
	return []Role{
		{Name: RoleAdmin, Permissions: []Permission{
			PermTransfer,
			PermManageAccounts, PermManageRoles, PermManageAssets,
			PermManageValidators, PermManageNodes,
			PermPause, PermSetParams,
		}},
		{Name: RoleAuditor, Permissions: []Permission{}},
		{Name: RoleIssuer, Permissions: []Permission{PermTransfer, PermMint, PermBurn}},
		{Name: RoleMember, Permissions: []Permission{PermTransfer}},
		{Name: RoleOperator, Permissions: nil},
	}
}

// ValidateRole checks a role definition: a name of 1–32 lowercase letters,
// digits and '-', starting with a letter and not ending with '-'; only
// built-in permissions, each at most once. A role with no permission is
// valid (auditor).
func ValidateRole(r Role) error {
	if err := validateRoleName(r.Name); err != nil {
		return err
	}
	for i, p := range r.Permissions {
		if !p.Known() {
			return fmt.Errorf("%w %q: %w %q", ErrInvalidRole, r.Name, ErrUnknownPermission, string(p))
		}
		if slices.Contains(r.Permissions[:i], p) {
			return fmt.Errorf("%w %q: permission %q listed twice", ErrInvalidRole, r.Name, string(p))
		}
	}
	return nil
}

func validateRoleName(name string) error {
	if len(name) == 0 || len(name) > MaxRoleNameLen {
		return fmt.Errorf("%w: name %q: want 1 to %d characters", ErrInvalidRole, name, MaxRoleNameLen)
	}
	for i, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || (i > 0 && (c >= '0' && c <= '9' || c == '-'))
		if !ok {
			return fmt.Errorf("%w: name %q: want lowercase letters, digits and '-', starting with a letter", ErrInvalidRole, name)
		}
	}
	if strings.HasSuffix(name, "-") {
		return fmt.Errorf("%w: name %q: must not end with '-'", ErrInvalidRole, name)
	}
	return nil
}

// Has reports whether r carries permission p.
func (r Role) Has(p Permission) bool {
	return slices.Contains(r.Permissions, p)
}

func (r Role) clone() Role {
	return Role{Name: r.Name, Permissions: slices.Clone(r.Permissions)}
}

// RoleSet is the ledger's current role definitions, sorted by name. The zero
// value holds no role, so every permission check against it fails.
type RoleSet struct {
	roles []Role // sorted by Name, no duplicates, each valid
}

// NewRoleSet validates every role and rejects duplicate names. It copies
// its input, so later changes to roles do not affect the set.
func NewRoleSet(roles []Role) (RoleSet, error) {
	sorted := make([]Role, 0, len(roles))
	for _, r := range roles {
		if err := ValidateRole(r); err != nil {
			return RoleSet{}, err
		}
		sorted = append(sorted, r.clone())
	}
	slices.SortFunc(sorted, func(a, b Role) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Name == sorted[i-1].Name {
			return RoleSet{}, fmt.Errorf("%w %q", ErrDuplicateRole, sorted[i].Name)
		}
	}
	return RoleSet{roles: sorted}, nil
}

// Lookup returns a copy of the role called name.
func (s RoleSet) Lookup(name string) (Role, bool) {
	r, ok := s.lookup(name)
	if !ok {
		return Role{}, false
	}
	return r.clone(), true
}

// Roles returns a copy of every role, sorted by name.
func (s RoleSet) Roles() []Role {
	out := make([]Role, len(s.roles))
	for i, r := range s.roles {
		out[i] = r.clone()
	}
	return out
}

// Len returns the number of roles.
func (s RoleSet) Len() int { return len(s.roles) }

// lookup returns the stored role without copying; callers must not modify it.
func (s RoleSet) lookup(name string) (Role, bool) {
	i, ok := slices.BinarySearchFunc(s.roles, name, func(r Role, n string) int { return strings.Compare(r.Name, n) })
	if !ok {
		return Role{}, false
	}
	return s.roles[i], true
}
