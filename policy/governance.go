package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Approver is an account whose own key threshold is met by a transaction's
// signatures, as the ledger found it at the transaction's height.
type Approver struct {
	Account      string
	Organization string
	Grants       []Grant
	Frozen       bool
}

// ApprovingOrganizations returns, sorted and without repeats, the
// organisations of approvers that count towards a governance action needing
// p at height: the approver is not frozen, names an organisation, and holds
// p through an active grant. Two approvers of one organisation count once.
func ApprovingOrganizations(roles RoleSet, approvers []Approver, p Permission, height int64) []string {
	var orgs []string
	for _, a := range approvers {
		if a.Frozen || a.Organization == "" {
			continue
		}
		if HasPermission(roles, a.Grants, p, height) {
			orgs = append(orgs, a.Organization)
		}
	}
	slices.Sort(orgs)
	return slices.Compact(orgs)
}

// MeetsThreshold reports whether orgs names at least threshold distinct
// organisations. A threshold of 0 is never met: governance cannot be
// switched off by a zero in the params (ValidateThreshold rejects it).
func MeetsThreshold(orgs []string, threshold uint32) bool {
	if threshold == 0 {
		return false
	}
	return uint64(countDistinct(orgs)) >= uint64(threshold)
}

// ValidateThreshold checks a governance threshold of M out of the N
// organisations of the consortium: 1 ≤ M ≤ N.
func ValidateThreshold(threshold uint32, organizations int) error {
	if threshold == 0 {
		return fmt.Errorf("%w: threshold is 0, want at least 1", ErrInvalidThreshold)
	}
	if uint64(threshold) > uint64(max(organizations, 0)) {
		return fmt.Errorf("%w: threshold %d exceeds the %d organisations", ErrInvalidThreshold, threshold, max(organizations, 0))
	}
	return nil
}

// CheckApproval combines ApprovingOrganizations and MeetsThreshold. It
// returns nil when approvers from at least threshold organisations approve
// an action needing p, and otherwise an error wrapping ErrNotApproved that
// says who approved, e.g. "governance threshold not met: manage_roles
// approved by 1 of 2 required organisations (bank-a)".
func CheckApproval(roles RoleSet, approvers []Approver, p Permission, threshold uint32, height int64) error {
	orgs := ApprovingOrganizations(roles, approvers, p, height)
	if MeetsThreshold(orgs, threshold) {
		return nil
	}
	who := "none"
	if len(orgs) > 0 {
		who = strings.Join(orgs, ", ")
	}
	return fmt.Errorf("%w: %s approved by %d of %d required organisations (%s)", ErrNotApproved, p, len(orgs), threshold, who)
}

func countDistinct(ss []string) int {
	sorted := slices.Clone(ss)
	slices.Sort(sorted)
	return len(slices.Compact(sorted))
}
