package app

import (
	"fmt"
	"slices"

	"github.com/consort-ledger/consort/policy"
)

// Governance: every action needs admins of enough distinct organisations
// (params.GovernanceThreshold) holding the action's permission. The one
// exception: an account may replace its own keys with its own threshold.

// actionRule is what one kind of action needs and does.
type actionRule struct {
	name string
	perm policy.Permission
	// check validates the action against state and returns how to apply it.
	check func(r Reader, blk *blockContext, params Params) (apply func(KV) error, target string, err error)
}

func checkAction(r Reader, tx *Tx, params Params, blk *blockContext) (*execution, error) {
	rule := ruleFor(tx.Body.Action)
	apply, target, err := rule.check(r, blk, params)
	if err != nil {
		return nil, err
	}
	ex := &execution{tx: tx, id: tx.ID(), apply: apply}
	ex.authorize = func() error {
		s, err := resolveSigners(r, tx)
		if err != nil {
			return err
		}
		attrs := []Attribute{{Key: "action", Value: rule.name}, {Key: "target", Value: target}}
		for _, a := range s.approving {
			attrs = append(attrs, Attribute{Key: "approver", Value: a.Name})
		}
		ex.events = []Event{{Type: "governance", Attributes: attrs}}
		if keys, ok := tx.Body.Action.(*SetAccountKeys); ok && selfSigned(s, keys.Name) {
			return nil // an account rotating its own keys needs only its own threshold
		}
		if rot, ok := tx.Body.Action.(*RotateValidatorKey); ok {
			op, err := rot.operator(r)
			if err != nil {
				return err
			}
			if op != "" && selfSigned(s, op) {
				return nil // the validator's operator rotates its key on its own
			}
		}
		approvers, roles, err := s.approvers(r)
		if err != nil {
			return err
		}
		perms := []policy.Permission{rule.perm}
		if reg, ok := tx.Body.Action.(*RegisterAccount); ok && len(reg.Account.Grants) > 0 {
			// Granting roles is manage_roles, whichever action carries it.
			perms = append(perms, policy.PermManageRoles)
		}
		for _, perm := range perms {
			if err := policy.CheckApproval(roles, approvers, perm, params.GovernanceThreshold, blk.height); err != nil {
				return rejectf(ErrNotApproved, "%s: %s", rule.name, policyReason(err))
			}
		}
		return nil
	}
	return ex, nil
}

func selfSigned(s *signers, account string) bool {
	for _, a := range s.approving {
		if a.Name == account {
			return true
		}
	}
	return false
}

// ruleFor maps each action to its permission and checks.
func ruleFor(action Action) actionRule {
	switch a := action.(type) {
	case *RegisterAccount:
		return actionRule{"register_account", policy.PermManageAccounts, a.check}
	case *SetAccountKeys:
		return actionRule{"set_account_keys", policy.PermManageAccounts, a.check}
	case *FreezeAccount:
		return actionRule{"freeze_account", policy.PermManageAccounts, func(r Reader, blk *blockContext, p Params) (func(KV) error, string, error) {
			return setStatus(r, blk, p, a.Name, StatusFrozen)
		}}
	case *UnfreezeAccount:
		return actionRule{"unfreeze_account", policy.PermManageAccounts, func(r Reader, blk *blockContext, p Params) (func(KV) error, string, error) {
			return setStatus(r, blk, p, a.Name, StatusActive)
		}}
	case *GrantRole:
		return actionRule{"grant_role", policy.PermManageRoles, a.check}
	case *RevokeRole:
		return actionRule{"revoke_role", policy.PermManageRoles, a.check}
	case *RevokeAll:
		return actionRule{"revoke_all", policy.PermManageRoles, a.check}
	case *SetRole:
		return actionRule{"set_role", policy.PermManageRoles, a.check}
	case *CreateAsset:
		return actionRule{"create_asset", policy.PermManageAssets, a.check}
	case *SetIssuer:
		return actionRule{"set_issuer", policy.PermManageAssets, a.check}
	case *SetValidator:
		return actionRule{"set_validator", policy.PermManageValidators, a.check}
	case *RotateValidatorKey:
		return actionRule{"rotate_validator_key", policy.PermManageValidators, a.check}
	case *AllowNode:
		return actionRule{"allow_node", policy.PermManageNodes, a.check}
	case *RemoveNode:
		return actionRule{"remove_node", policy.PermManageNodes, a.check}
	case *SetParams:
		return actionRule{"set_params", policy.PermSetParams, a.check}
	case *Pause:
		return actionRule{"pause", policy.PermPause, a.check}
	case *Unpause:
		return actionRule{"unpause", policy.PermPause, a.check}
	}
	panic(fmt.Sprintf("no rule for action %T", action)) // every decodable action has a case above
}

// checkKeysInOrganization refuses a key that an account of another
// organisation already holds: one signature must not approve for two
// organisations.
func checkKeysInOrganization(r Reader, keys []AccountKey, org string) error {
	for _, k := range keys {
		holders, err := keyHolders(r, k.KeyType, k.PublicKey)
		if err != nil {
			return err
		}
		for _, h := range holders {
			other, err := loadAccount(r, h)
			if err != nil {
				return err
			}
			if other != nil && other.Organization != org {
				return rejectf(ErrInvalidAction, "key %x already belongs to %s of organisation %s", k.PublicKey, h, quote(other.Organization))
			}
		}
	}
	return nil
}

// organizationsHolding lists the organisations with an active account that
// holds perm.
func organizationsHolding(r Reader, perm policy.Permission, height int64) ([]string, error) {
	return organizationsHoldingAfter(r, perm, height, nil, nil)
}

// organizationsHoldingAfter is organizationsHolding as if account (when not
// nil) replaced the stored account of its name and role replaced the stored
// role of its name.
func organizationsHoldingAfter(r Reader, perm policy.Permission, height int64, account *Account, role *policy.Role) ([]string, error) {
	var accounts []*Account
	err := scanPrefix(r, prefixAccount, func(_, value []byte) error {
		a, err := DecodeAccount(value)
		if err != nil {
			return internal(err, "accounts")
		}
		if account != nil && a.Name == account.Name {
			a = account
		}
		accounts = append(accounts, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	roles, err := rolesOf(r, accounts)
	if err != nil {
		return nil, err
	}
	if role != nil {
		list := slices.DeleteFunc(roles.Roles(), func(x policy.Role) bool { return x.Name == role.Name })
		if roles, err = policy.NewRoleSet(append(list, *role)); err != nil {
			return nil, internal(err, "roles")
		}
	}
	approvers := make([]policy.Approver, len(accounts))
	for i, a := range accounts {
		approvers[i] = approverOf(a)
	}
	return policy.ApprovingOrganizations(roles, approvers, perm, height), nil
}

// keepsGovernance refuses a change (an account or a role replaced) after
// which too few organisations could still manage accounts and roles to meet
// the governance threshold: nobody could then unfreeze or re-grant, and
// governance would be locked for good. A chain already below the threshold
// (one without admins) is left as it is.
func keepsGovernance(r Reader, blk *blockContext, params Params, account *Account, role *policy.Role) error {
	for _, perm := range []policy.Permission{policy.PermManageAccounts, policy.PermManageRoles} {
		before, err := organizationsHolding(r, perm, blk.height)
		if err != nil {
			return err
		}
		after, err := organizationsHoldingAfter(r, perm, blk.height, account, role)
		if err != nil {
			return err
		}
		need := int(params.GovernanceThreshold)
		if len(before) >= need && len(after) < need {
			return rejectf(ErrInvalidAction, "afterwards only %d organisations (%v) could still %s, below the governance threshold %d: governance would lock", len(after), after, perm, need)
		}
	}
	return nil
}
