package app

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/consort-ledger/consort/policy"
)

// The checks of each governance action: what must hold in state for it to
// apply, and how it applies. Who must approve is in governance.go.

// mustAccount loads an existing account or rejects the action.
func mustAccount(r Reader, name string) (*Account, error) {
	if err := ValidateAccountName(name); err != nil {
		return nil, err
	}
	a, err := loadAccount(r, name)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, rejectf(ErrUnknownAccount, "account %s is not registered", name)
	}
	return a, nil
}

func (a *RegisterAccount) check(r Reader, blk *blockContext, _ Params) (func(KV) error, string, error) {
	acct := a.Account
	if err := ValidateAccountName(acct.Name); err != nil {
		return nil, "", err
	}
	existing, err := loadAccount(r, acct.Name)
	if err != nil {
		return nil, "", err
	}
	if existing != nil {
		return nil, "", rejectf(ErrInvalidAction, "account %s already exists", acct.Name)
	}
	if acct.Status != StatusActive {
		return nil, "", rejectf(ErrInvalidAction, "a new account starts active; freeze it afterwards")
	}
	if err := validateKeySet(acct.Name, acct.Keys, acct.Threshold); err != nil {
		return nil, "", rejectf(ErrInvalidAction, "%v", err)
	}
	if err := checkKeysInOrganization(r, acct.Keys, acct.Organization); err != nil {
		return nil, "", err
	}
	if acct.Organization != "" {
		if err := ValidateAccountName(acct.Organization); err != nil {
			return nil, "", rejectf(ErrInvalidField, "organization: %v", err)
		}
	}
	for i, g := range acct.Grants {
		if err := checkGrant(r, g, blk.height); err != nil {
			return nil, "", err
		}
		// Grants are kept one per role, sorted by role, as GrantRole keeps them.
		if i > 0 && acct.Grants[i-1].Role >= g.Role {
			return nil, "", rejectf(ErrInvalidAction, "grants must be sorted by role, one per role")
		}
	}
	return func(kv KV) error { return saveNewAccount(kv, &acct) }, acct.Name, nil
}

func (a *SetAccountKeys) check(r Reader, _ *blockContext, _ Params) (func(KV) error, string, error) {
	acct, err := mustAccount(r, a.Name)
	if err != nil {
		return nil, "", err
	}
	if err := validateKeySet(a.Name, a.Keys, a.Threshold); err != nil {
		return nil, "", rejectf(ErrInvalidAction, "%v", err)
	}
	if err := checkKeysInOrganization(r, a.Keys, acct.Organization); err != nil {
		return nil, "", err
	}
	return func(kv KV) error { return replaceKeys(kv, acct, a.Keys, a.Threshold) }, a.Name, nil
}

func setStatus(r Reader, blk *blockContext, params Params, name string, status AccountStatus) (func(KV) error, string, error) {
	acct, err := mustAccount(r, name)
	if err != nil {
		return nil, "", err
	}
	if acct.Status == status {
		return nil, "", rejectf(ErrInvalidAction, "account %s is already %s", name, status)
	}
	if status == StatusFrozen {
		after := *acct
		after.Status = StatusFrozen
		if err := keepsGovernance(r, blk, params, &after, nil); err != nil {
			return nil, "", err
		}
	}
	return func(kv KV) error {
		acct.Status = status
		return saveAccount(kv, acct)
	}, name, nil
}

func checkGrant(r Reader, g Grant, height int64) error {
	role, err := loadRole(r, g.Role)
	if err != nil {
		return err
	}
	if role == nil {
		return rejectf(ErrInvalidAction, "role %s is not defined", quote(g.Role))
	}
	if g.ExpiresAt != 0 && g.ExpiresAt <= height {
		return rejectf(ErrInvalidAction, "grant of %s expires at height %d, which is not after %d", g.Role, g.ExpiresAt, height)
	}
	return nil
}

func (a *GrantRole) check(r Reader, blk *blockContext, _ Params) (func(KV) error, string, error) {
	acct, err := mustAccount(r, a.Account)
	if err != nil {
		return nil, "", err
	}
	g := Grant{Role: a.Role, ExpiresAt: a.ExpiresAt}
	if err := checkGrant(r, g, blk.height); err != nil {
		return nil, "", err
	}
	return func(kv KV) error {
		// One grant per role: a new grant replaces the old one's expiry.
		acct.Grants = slices.DeleteFunc(acct.Grants, func(x Grant) bool { return x.Role == a.Role })
		acct.Grants = append(acct.Grants, g)
		slices.SortFunc(acct.Grants, func(x, y Grant) int { return strings.Compare(x.Role, y.Role) })
		return saveAccount(kv, acct)
	}, a.Account, nil
}

func (a *RevokeRole) check(r Reader, blk *blockContext, params Params) (func(KV) error, string, error) {
	acct, err := mustAccount(r, a.Account)
	if err != nil {
		return nil, "", err
	}
	if !slices.ContainsFunc(acct.Grants, func(x Grant) bool { return x.Role == a.Role }) {
		return nil, "", rejectf(ErrInvalidAction, "account %s does not hold role %s", a.Account, quote(a.Role))
	}
	after := *acct
	after.Grants = slices.DeleteFunc(slices.Clone(acct.Grants), func(x Grant) bool { return x.Role == a.Role })
	if err := keepsGovernance(r, blk, params, &after, nil); err != nil {
		return nil, "", err
	}
	return func(kv KV) error {
		acct.Grants = slices.DeleteFunc(acct.Grants, func(x Grant) bool { return x.Role == a.Role })
		return saveAccount(kv, acct)
	}, a.Account, nil
}

func (a *RevokeAll) check(r Reader, blk *blockContext, params Params) (func(KV) error, string, error) {
	acct, err := mustAccount(r, a.Account)
	if err != nil {
		return nil, "", err
	}
	after := *acct
	after.Grants = nil
	if err := keepsGovernance(r, blk, params, &after, nil); err != nil {
		return nil, "", err
	}
	return func(kv KV) error {
		acct.Grants = nil
		return saveAccount(kv, acct)
	}, a.Account, nil
}

func (a *SetRole) check(r Reader, blk *blockContext, params Params) (func(KV) error, string, error) {
	role := policy.Role{Name: a.Name}
	for _, p := range a.Permissions {
		perm, err := policy.ParsePermission(p)
		if err != nil {
			return nil, "", rejectf(ErrInvalidAction, "%v", err)
		}
		role.Permissions = append(role.Permissions, perm)
	}
	if err := policy.ValidateRole(role); err != nil {
		return nil, "", rejectf(ErrInvalidAction, "%v", err)
	}
	if err := keepsGovernance(r, blk, params, nil, &role); err != nil {
		return nil, "", err
	}
	return func(kv KV) error { return saveRole(kv, role) }, a.Name, nil
}

func (a *CreateAsset) check(r Reader, _ *blockContext, _ Params) (func(KV) error, string, error) {
	if err := ValidateAssetID(a.ID); err != nil {
		return nil, "", err
	}
	existing, err := loadAsset(r, a.ID)
	if err != nil {
		return nil, "", err
	}
	if existing != nil {
		return nil, "", rejectf(ErrInvalidAction, "asset %s already exists", a.ID)
	}
	if a.Decimals > MaxDecimals {
		return nil, "", rejectf(ErrInvalidAction, "%d decimals, at most %d", a.Decimals, MaxDecimals)
	}
	asset := &Asset{ID: a.ID, Decimals: a.Decimals}
	for _, iss := range a.Issuers {
		if _, err := mustAccount(r, iss.Account); err != nil {
			return nil, "", err
		}
		if iss.Minted != 0 || findIssuer(asset, iss.Account) >= 0 {
			return nil, "", rejectf(ErrInvalidAction, "issuer %s: listed twice or with a minted amount", iss.Account)
		}
		asset.Issuers = append(asset.Issuers, Issuer{Account: iss.Account, Cap: iss.Cap})
	}
	return func(kv KV) error { return saveAsset(kv, asset) }, a.ID, nil
}

func (a *SetIssuer) check(r Reader, _ *blockContext, _ Params) (func(KV) error, string, error) {
	asset, err := loadAsset(r, a.Asset)
	if err != nil {
		return nil, "", err
	}
	if asset == nil {
		return nil, "", rejectf(ErrUnknownAsset, "asset %s does not exist", a.Asset)
	}
	if _, err := mustAccount(r, a.Account); err != nil {
		return nil, "", err
	}
	i := findIssuer(asset, a.Account)
	if i < 0 && a.Cap == 0 {
		return nil, "", rejectf(ErrInvalidAction, "%s is not an issuer of %s", a.Account, a.Asset)
	}
	return func(kv KV) error {
		switch {
		case a.Cap == 0:
			asset.Issuers = slices.Delete(asset.Issuers, i, i+1)
		case i < 0:
			asset.Issuers = append(asset.Issuers, Issuer{Account: a.Account, Cap: a.Cap})
		default:
			asset.Issuers[i].Cap = a.Cap // what it minted stays counted
		}
		return saveAsset(kv, asset)
	}, a.Asset + "/" + a.Account, nil
}

func (a *SetValidator) check(r Reader, blk *blockContext, params Params) (func(KV) error, string, error) {
	if len(a.PublicKey) != cmted25519.PubKeySize {
		return nil, "", rejectf(ErrInvalidAction, "validator key is %d bytes, want a %d-byte ed25519 key", len(a.PublicKey), cmted25519.PubKeySize)
	}
	if a.Operator != "" {
		if _, err := mustAccount(r, a.Operator); err != nil {
			return nil, "", err
		}
	}
	set, err := LoadValidators(r)
	if err != nil {
		return nil, "", err
	}
	current := slices.ContainsFunc(set, func(v Validator) bool { return bytes.Equal(v.PublicKey, a.PublicKey) })
	if a.Power == 0 && !current {
		return nil, "", rejectf(ErrValidatorChange, "%X is not a validator (now)", a.PublicKey)
	}
	if blk.fixed[string(a.PublicKey)] {
		return nil, "", rejectf(ErrValidatorChange, "validator key %X was rotated or punished in this block; change it in a later block", a.PublicKey)
	}
	if !current {
		if old, err := loadRetiredKey(r, ValidatorAddress(a.PublicKey)); err != nil {
			return nil, "", err
		} else if old != nil && len(old.Successor) > 0 {
			return nil, "", rejectf(ErrValidatorChange, "%X was rotated out at height %d: a retired key cannot return", a.PublicKey, old.Height)
		}
	}
	if !blk.started {
		blk.startSet, blk.started = powers(set), true
	}
	change := policy.ValidatorPower{Key: string(a.PublicKey), Power: a.Power}
	changes := append(slices.Clone(blk.valChanges), change)
	net, err := policy.CheckValidatorChange(blk.startSet, changes, int(params.MinValidators))
	if err != nil {
		return nil, "", rejectf(ErrValidatorChange, "%s", policyReason(err))
	}
	return func(kv KV) error {
		// The block's validator updates are those of its last accepted
		// change: never recomputed later under params a later
		// transaction of the block may have changed.
		blk.valChanges, blk.netUpdates = changes, net
		i := slices.IndexFunc(set, func(v Validator) bool { return bytes.Equal(v.PublicKey, a.PublicKey) })
		switch {
		case a.Power == 0:
			set = slices.Delete(set, i, i+1)
		case i < 0:
			set = append(set, Validator{Name: a.Name, KeyType: "ed25519", PublicKey: a.PublicKey, Power: a.Power, Operator: a.Operator})
		default:
			set[i].Power = a.Power
			if a.Name != "" {
				set[i].Name = a.Name
			}
			if a.Operator != "" {
				set[i].Operator = a.Operator
			}
		}
		return saveValidatorSet(kv, set)
	}, fmt.Sprintf("%X", a.PublicKey), nil
}

func powers(set []Validator) []policy.ValidatorPower {
	out := make([]policy.ValidatorPower, len(set))
	for i, v := range set {
		out[i] = policy.ValidatorPower{Key: string(v.PublicKey), Power: v.Power}
	}
	return out
}

func (a *AllowNode) check(r Reader, _ *blockContext, _ Params) (func(KV) error, string, error) {
	if err := ValidateNodeID(a.NodeID); err != nil {
		return nil, "", err
	}
	if ok, err := NodeAllowed(r, a.NodeID); err != nil || ok {
		if err == nil {
			err = rejectf(ErrInvalidAction, "node %s is already allowed", a.NodeID)
		}
		return nil, "", err
	}
	return func(kv KV) error { return kv.Set(nodeKey(a.NodeID), ownerMarker) }, a.NodeID, nil
}

func (a *RemoveNode) check(r Reader, _ *blockContext, _ Params) (func(KV) error, string, error) {
	if err := ValidateNodeID(a.NodeID); err != nil {
		return nil, "", err
	}
	if ok, err := NodeAllowed(r, a.NodeID); err != nil || !ok {
		if err == nil {
			err = rejectf(ErrInvalidAction, "node %s is not on the allowlist", a.NodeID)
		}
		return nil, "", err
	}
	return func(kv KV) error { return kv.Delete(nodeKey(a.NodeID)) }, a.NodeID, nil
}

// Limits on params a governance vote may set: beyond them the chain could
// not take a transaction at all.
const (
	minMaxTxBytes = 1 << 10
	maxMaxTxBytes = 4 << 20
)

func (a *SetParams) check(r Reader, blk *blockContext, _ Params) (func(KV) error, string, error) {
	p := a.Params
	if orgs, err := organizationsHolding(r, policy.PermSetParams, blk.height); err != nil {
		return nil, "", err
	} else if len(orgs) > 0 && int(p.GovernanceThreshold) > len(orgs) {
		// The organisations that could lower the threshold again must be
		// able to meet it, or governance locks for good.
		return nil, "", rejectf(ErrInvalidAction, "governance_threshold %d exceeds the %d organisations whose active accounts may set params (%v)", p.GovernanceThreshold, len(orgs), orgs)
	}
	switch {
	case p.MaxTxBytes < minMaxTxBytes || p.MaxTxBytes > maxMaxTxBytes:
		return nil, "", rejectf(ErrInvalidAction, "max_tx_bytes %d: want %d to %d", p.MaxTxBytes, minMaxTxBytes, maxMaxTxBytes)
	case p.MaxInputs == 0 || p.MaxOutputs == 0 || p.MaxSignatures == 0:
		return nil, "", rejectf(ErrInvalidAction, "max_inputs, max_outputs and max_signatures must be at least 1")
	case p.GovernanceThreshold == 0:
		return nil, "", rejectf(ErrInvalidAction, "governance_threshold must be at least 1")
	case p.MaxSignatures < p.GovernanceThreshold:
		// Each organisation signs at least once: fewer allowed signatures
		// than approving organisations would lock governance for good.
		return nil, "", rejectf(ErrInvalidAction, "max_signatures %d is below governance_threshold %d", p.MaxSignatures, p.GovernanceThreshold)
	case p.MinValidators == 0:
		return nil, "", rejectf(ErrInvalidAction, "min_validators must be at least 1")
	case p.PowDifficultyBits > MaxPowBits:
		return nil, "", rejectf(ErrInvalidAction, "pow_difficulty_bits %d: at most %d", p.PowDifficultyBits, MaxPowBits)
	}
	if err := validateModuleList(p.Modules, func(name string) bool { return findModule(blk.modules, name) != nil }); err != nil {
		return nil, "", rejectf(ErrInvalidAction, "modules: %v", err)
	}
	return func(kv KV) error { return kv.Set([]byte(keyParams), encodeParams(&p)) }, "params", nil
}

func (a *Pause) check(r Reader, blk *blockContext, _ Params) (func(KV) error, string, error) {
	target := "all assets"
	if a.Asset != "" {
		asset, err := loadAsset(r, a.Asset)
		if err != nil {
			return nil, "", err
		}
		if asset == nil {
			return nil, "", rejectf(ErrUnknownAsset, "asset %s does not exist", a.Asset)
		}
		target = a.Asset
	}
	if err := policy.ValidatePause(policy.Pause{Asset: a.Asset, Until: a.Until}, blk.height); err != nil {
		return nil, "", rejectf(ErrInvalidAction, "%v", err)
	}
	return func(kv KV) error {
		return kv.Set(pauseKey(a.Asset), encodePause(policy.Pause{Asset: a.Asset, Until: a.Until}))
	}, target, nil
}

func (a *Unpause) check(r Reader, _ *blockContext, _ Params) (func(KV) error, string, error) {
	b, err := r.Get(pauseKey(a.Asset))
	if err != nil {
		return nil, "", internal(err, "pause")
	}
	if b == nil {
		if a.Asset == "" {
			return nil, "", rejectf(ErrInvalidAction, "no pause of all assets is in force")
		}
		return nil, "", rejectf(ErrInvalidAction, "no pause of %s is in force", a.Asset)
	}
	target := a.Asset
	if target == "" {
		target = "all assets"
	}
	return func(kv KV) error { return kv.Delete(pauseKey(a.Asset)) }, target, nil
}
