package policy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/consort-ledger/consort/policy"
)

// permissionMatrix is what each default role may do, one row per role and
// one column per permission. A reviewer changes the defaults here first.
const permissionMatrix = `
role      transfer  mint  burn  manage_accounts  manage_roles  manage_assets  manage_validators  manage_nodes  pause  set_params
admin     yes       no    no    yes              yes           yes            yes                yes           yes    yes
issuer    yes       yes   yes   no               no            no             no                 no            no     no
member    yes       no    no    no               no            no             no                 no            no     no
auditor   no        no    no    no               no            no             no                 no            no     no
operator  no        no    no    no               no            no             no                 no            no     no
`

func TestDefaultRolesPermissionMatrix(t *testing.T) {
	roles := defaultRoleSet(t)
	lines := strings.Split(strings.TrimSpace(permissionMatrix), "\n")
	header := strings.Fields(lines[0])[1:]

	// The columns must be exactly the built-in permissions.
	all := policy.AllPermissions()
	if len(header) != len(all) {
		t.Fatalf("matrix has %d permission columns, want %d (AllPermissions)", len(header), len(all))
	}
	for i, name := range header {
		if _, err := policy.ParsePermission(name); err != nil {
			t.Fatalf("matrix column %d: %v", i, err)
		}
		if policy.Permission(name) != all[i] {
			t.Fatalf("matrix column %d is %q, want %q (AllPermissions order)", i, name, all[i])
		}
	}

	// The rows must be exactly the default roles.
	seen := map[string]bool{}
	for _, line := range lines[1:] {
		cells := strings.Fields(line)
		role, cells := cells[0], cells[1:]
		if len(cells) != len(header) {
			t.Fatalf("matrix row %q has %d cells, want %d", role, len(cells), len(header))
		}
		seen[role] = true
		for i, cell := range cells {
			p := policy.Permission(header[i])
			want := cell == "yes"
			if cell != "yes" && cell != "no" {
				t.Fatalf("matrix row %q column %s: cell %q, want yes or no", role, p, cell)
			}
			t.Run(role+"/"+string(p), func(t *testing.T) {
				grants := []policy.Grant{{Role: role}}
				if got := policy.HasPermission(roles, grants, p, 10); got != want {
					t.Errorf("HasPermission(%s, %s) = %v, want %v", role, p, got, want)
				}
			})
		}
	}
	for _, r := range policy.DefaultRoles() {
		if !seen[r.Name] {
			t.Errorf("default role %q has no row in the matrix", r.Name)
		}
	}
	if len(seen) != len(policy.DefaultRoles()) {
		t.Errorf("matrix has %d rows, want %d (DefaultRoles)", len(seen), len(policy.DefaultRoles()))
	}
}

func TestAuditorHasNoWritePermission(t *testing.T) {
	roles := defaultRoleSet(t)
	auditor, ok := roles.Lookup(policy.RoleAuditor)
	if !ok {
		t.Fatal("default roles have no auditor")
	}
	if len(auditor.Permissions) != 0 {
		t.Errorf("auditor permissions = %q, want none", auditor.Permissions)
	}
	for _, p := range policy.AllPermissions() {
		if policy.HasPermission(roles, []policy.Grant{{Role: policy.RoleAuditor}}, p, 1) {
			t.Errorf("auditor has %s, want no write permission", p)
		}
	}
}

func TestDefaultRolesAreValidAndSorted(t *testing.T) {
	roles := policy.DefaultRoles()
	for i, r := range roles {
		if err := policy.ValidateRole(r); err != nil {
			t.Errorf("ValidateRole(%s) = %v, want nil", r.Name, err)
		}
		if i > 0 && roles[i-1].Name >= r.Name {
			t.Errorf("DefaultRoles not sorted: %q before %q", roles[i-1].Name, r.Name)
		}
	}
	roles[0].Permissions[0] = "changed"
	if again := policy.DefaultRoles(); again[0].Permissions[0] == "changed" {
		t.Error("DefaultRoles returned shared slices: a caller's change showed up in the next call")
	}
}

func TestValidateRole(t *testing.T) {
	tests := []struct {
		name    string
		role    policy.Role
		wantErr error // nil = valid
	}{
		{"simple", policy.Role{Name: "member", Permissions: []policy.Permission{policy.PermTransfer}}, nil},
		{"digits and dash", policy.Role{Name: "desk-2", Permissions: []policy.Permission{policy.PermTransfer, policy.PermPause}}, nil},
		{"no permissions", policy.Role{Name: "viewer"}, nil},
		{"32 characters", policy.Role{Name: strings.Repeat("a", 32)}, nil},
		{"empty name", policy.Role{Name: ""}, policy.ErrInvalidRole},
		{"33 characters", policy.Role{Name: strings.Repeat("a", 33)}, policy.ErrInvalidRole},
		{"upper case", policy.Role{Name: "Admin"}, policy.ErrInvalidRole},
		{"starts with digit", policy.Role{Name: "2fa"}, policy.ErrInvalidRole},
		{"starts with dash", policy.Role{Name: "-x"}, policy.ErrInvalidRole},
		{"ends with dash", policy.Role{Name: "x-"}, policy.ErrInvalidRole},
		{"underscore", policy.Role{Name: "super_admin"}, policy.ErrInvalidRole},
		{"dot", policy.Role{Name: "bank.admin"}, policy.ErrInvalidRole},
		{"space", policy.Role{Name: "my role"}, policy.ErrInvalidRole},
		{"non-ascii", policy.Role{Name: "rôle"}, policy.ErrInvalidRole},
		{"unknown permission", policy.Role{Name: "x", Permissions: []policy.Permission{"grant"}}, policy.ErrUnknownPermission},
		{"empty permission", policy.Role{Name: "x", Permissions: []policy.Permission{""}}, policy.ErrUnknownPermission},
		{"duplicate permission", policy.Role{Name: "x", Permissions: []policy.Permission{policy.PermMint, policy.PermBurn, policy.PermMint}}, policy.ErrInvalidRole},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := policy.ValidateRole(tt.role)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Errorf("ValidateRole(%+v) = %v, want nil", tt.role, err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("ValidateRole(%+v) = %v, want %v", tt.role, err, tt.wantErr)
			case tt.wantErr != nil && !errors.Is(err, policy.ErrInvalidRole):
				t.Errorf("ValidateRole(%+v) = %v, want it to wrap ErrInvalidRole too", tt.role, err)
			}
		})
	}
}

func TestNewRoleSet(t *testing.T) {
	t.Run("duplicate name", func(t *testing.T) {
		_, err := policy.NewRoleSet([]policy.Role{{Name: "member"}, {Name: "admin"}, {Name: "member"}})
		if !errors.Is(err, policy.ErrDuplicateRole) {
			t.Errorf("got %v, want ErrDuplicateRole", err)
		}
	})
	t.Run("invalid role", func(t *testing.T) {
		_, err := policy.NewRoleSet([]policy.Role{{Name: "Bad"}})
		if !errors.Is(err, policy.ErrInvalidRole) {
			t.Errorf("got %v, want ErrInvalidRole", err)
		}
	})
	t.Run("sorted and copied", func(t *testing.T) {
		in := []policy.Role{
			{Name: "zeta", Permissions: []policy.Permission{policy.PermTransfer}},
			{Name: "alpha", Permissions: []policy.Permission{policy.PermPause}},
		}
		set, err := policy.NewRoleSet(in)
		if err != nil {
			t.Fatal(err)
		}
		in[0].Permissions[0] = policy.PermSetParams // must not reach the set
		var names []string
		for _, r := range set.Roles() {
			names = append(names, r.Name)
		}
		if got, want := strings.Join(names, ","), "alpha,zeta"; got != want {
			t.Errorf("Roles() names = %s, want %s", got, want)
		}
		zeta, ok := set.Lookup("zeta")
		if !ok || !zeta.Has(policy.PermTransfer) || zeta.Has(policy.PermSetParams) {
			t.Errorf("Lookup(zeta) = %+v, %v; want transfer only", zeta, ok)
		}
		zeta.Permissions[0] = policy.PermMint // must not reach the set either
		if policy.HasPermission(set, []policy.Grant{{Role: "zeta"}}, policy.PermMint, 1) {
			t.Error("changing a Lookup result changed the set")
		}
		if _, ok := set.Lookup("beta"); ok {
			t.Error("Lookup(beta) found a role that does not exist")
		}
		if set.Len() != 2 {
			t.Errorf("Len() = %d, want 2", set.Len())
		}
	})
	t.Run("zero value denies everything", func(t *testing.T) {
		var empty policy.RoleSet
		for _, p := range policy.AllPermissions() {
			if policy.HasPermission(empty, []policy.Grant{{Role: policy.RoleAdmin}}, p, 1) {
				t.Errorf("empty RoleSet grants %s, want nothing", p)
			}
		}
	})
}

// defaultRoleSet returns the default roles as a RoleSet.
func defaultRoleSet(tb testing.TB) policy.RoleSet {
	tb.Helper()
	set, err := policy.NewRoleSet(policy.DefaultRoles())
	if err != nil {
		tb.Fatalf("NewRoleSet(DefaultRoles()) = %v", err)
	}
	return set
}
