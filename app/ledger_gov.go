package app

import (
	"bytes"
	"slices"

	"github.com/consort-ledger/consort/policy"
)

// State access for roles, keys, pauses and the node allowlist.

// saveNewAccount stores an account and indexes its keys.
func saveNewAccount(kv KV, a *Account) error {
	if err := saveAccount(kv, a); err != nil {
		return err
	}
	if c, ok := kv.(interface{ accountCreated() }); ok {
		c.accountCreated()
	}
	for _, k := range a.Keys {
		if err := indexKey(kv, k, a.Name, true); err != nil {
			return err
		}
	}
	return nil
}

// replaceKeys swaps an account's key set and threshold, keeping the index
// of which accounts hold a key in step.
func replaceKeys(kv KV, a *Account, keys []AccountKey, threshold uint32) error {
	for _, k := range a.Keys {
		if err := indexKey(kv, k, a.Name, false); err != nil {
			return err
		}
	}
	a.Keys, a.Threshold = keys, threshold
	if err := saveAccount(kv, a); err != nil {
		return err
	}
	for _, k := range keys {
		if err := indexKey(kv, k, a.Name, true); err != nil {
			return err
		}
	}
	return nil
}

// indexKey adds account to (or removes it from) the sorted list of accounts
// holding key k, so a signature leads to its accounts with one read.
func indexKey(kv KV, k AccountKey, account string, add bool) error {
	key := signerKey(k.KeyType, k.PublicKey)
	names, err := keyHolders(kv, k.KeyType, k.PublicKey)
	if err != nil {
		return err
	}
	i, found := slices.BinarySearch(names, account)
	switch {
	case add && !found:
		names = slices.Insert(names, i, account)
	case !add && found:
		names = slices.Delete(names, i, i+1)
	default:
		return nil
	}
	if len(names) == 0 {
		return kv.Delete(key)
	}
	var e encoder
	e.repeatedString(1, names)
	return kv.Set(key, e.buf)
}

// keyHolders lists the accounts that hold a key, sorted by name.
func keyHolders(r Reader, kt KeyType, pub []byte) ([]string, error) {
	b, err := r.Get(signerKey(kt, pub))
	if err != nil {
		return nil, internal(err, "key index")
	}
	var names []string
	err = decodeFields(b, func(d *decoder, num int) error {
		if num != 1 {
			return unknownField("KeyHolders", num)
		}
		n, err := d.string("key_holders.accounts")
		names = append(names, n)
		return err
	})
	if err != nil {
		return nil, internal(err, "key index")
	}
	return names, nil
}

func approverOf(a *Account) policy.Approver {
	ap := policy.Approver{Account: a.Name, Organization: a.Organization, Frozen: a.Status == StatusFrozen}
	for _, g := range a.Grants {
		ap.Grants = append(ap.Grants, policy.Grant{Role: g.Role, ExpiresAt: g.ExpiresAt})
	}
	return ap
}

func encodeRole(r policy.Role) []byte {
	var e encoder
	e.string(1, r.Name)
	for _, p := range r.Permissions {
		e.string(2, string(p))
	}
	return e.buf
}

func saveRole(kv KV, r policy.Role) error { return kv.Set(roleKey(r.Name), encodeRole(r)) }

// DecodeRole parses a stored role.
func DecodeRole(b []byte) (policy.Role, error) {
	var r policy.Role
	err := decodeFields(b, func(d *decoder, num int) (err error) {
		switch num {
		case 1:
			r.Name, err = d.string("role.name")
		case 2:
			var p string
			p, err = d.string("role.permissions")
			r.Permissions = append(r.Permissions, policy.Permission(p))
		default:
			err = unknownField("Role", num)
		}
		return err
	})
	return r, err
}

func loadRole(r Reader, name string) (*policy.Role, error) {
	b, err := r.Get(roleKey(name))
	if err != nil || b == nil {
		if err != nil {
			return nil, internal(err, "role "+name)
		}
		return nil, nil
	}
	role, err := DecodeRole(b)
	if err != nil {
		return nil, internal(err, "role "+name)
	}
	return &role, nil
}

// rolesOf loads the roles granted to some accounts, as a set.
func rolesOf(r Reader, accounts []*Account) (policy.RoleSet, error) {
	var roles []policy.Role
	seen := map[string]bool{}
	for _, a := range accounts {
		for _, g := range a.Grants {
			if seen[g.Role] {
				continue
			}
			seen[g.Role] = true
			role, err := loadRole(r, g.Role)
			if err != nil {
				return policy.RoleSet{}, err
			}
			if role != nil { // a grant of a since-deleted role gives nothing
				roles = append(roles, *role)
			}
		}
	}
	set, err := policy.NewRoleSet(roles)
	if err != nil {
		return policy.RoleSet{}, internal(err, "roles")
	}
	return set, nil
}

// hasPermission says whether an account holds p at height.
func hasPermission(r Reader, a *Account, p policy.Permission, height int64) (bool, error) {
	roles, err := rolesOf(r, []*Account{a})
	if err != nil {
		return false, err
	}
	return policy.HasPermission(roles, approverOf(a).Grants, p, height), nil
}

// encodePause stores a pause; the global one names asset "*", so that
// no pause record is empty (an empty value cannot carry a proof).
func encodePause(p policy.Pause) []byte {
	asset := p.Asset
	if asset == "" {
		asset = globalPause
	}
	var e encoder
	(&Pause{Asset: asset, Until: p.Until}).encode(&e)
	return e.buf
}

// DecodePause parses a stored pause (the value of a /pause query); the
// global pause names asset "*".
func DecodePause(b []byte) (Pause, error) {
	var p Pause
	err := p.decode(b)
	return p, err
}

// activePauses returns the pauses (global and of these assets) in force.
func activePauses(r Reader, assets []string) ([]policy.Pause, error) {
	var out []policy.Pause
	for i := -1; i < len(assets); i++ { // the global pause (""), then each asset
		asset := ""
		if i >= 0 {
			asset = assets[i]
		}
		b, err := r.Get(pauseKey(asset))
		if err != nil {
			return nil, internal(err, "pause")
		}
		if b == nil {
			continue
		}
		var p Pause
		if err := p.decode(b); err != nil {
			return nil, internal(err, "pause")
		}
		if p.Asset == globalPause {
			p.Asset = ""
		}
		out = append(out, policy.Pause{Asset: p.Asset, Until: p.Until})
	}
	return out, nil
}

// checkNotPaused rejects moving assets that a pause covers at height.
func checkNotPaused(r Reader, assets []string, height int64) error {
	pauses, err := activePauses(r, assets)
	if err != nil {
		return err
	}
	if err := policy.CheckNotPaused(pauses, assets, height); err != nil {
		return rejectf(ErrPaused, "%s", policyReason(err))
	}
	return nil
}

// ValidateNodeID checks a CometBFT node id: 40 lowercase hex digits.
func ValidateNodeID(id string) error {
	if len(id) != 40 {
		return rejectf(ErrInvalidField, "node id %s: want 40 hex digits", quote(id))
	}
	for _, c := range []byte(id) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return rejectf(ErrInvalidField, "node id %s: want lowercase hex digits", quote(id))
		}
	}
	return nil
}

// NodeAllowed reports whether a p2p node id is on the allowlist.
func NodeAllowed(r Reader, id string) (bool, error) {
	b, err := r.Get(nodeKey(id))
	if err != nil {
		return false, internal(err, "node allowlist")
	}
	return b != nil, nil
}

func findIssuer(a *Asset, account string) int {
	for i, iss := range a.Issuers {
		if iss.Account == account {
			return i
		}
	}
	return -1
}

func issuerNames(a *Asset) []string {
	names := make([]string, len(a.Issuers))
	for i, iss := range a.Issuers {
		names[i] = iss.Account
	}
	return names
}

func encodeValidatorSet(vals []Validator) []byte {
	var e encoder
	for _, v := range vals {
		e.message(1, true, func(e *encoder) { e.buf = append(e.buf, encodeValidator(&v)...) })
	}
	return e.buf
}

// LoadValidators returns the ledger's validator set, sorted by public key.
func LoadValidators(r Reader) ([]Validator, error) {
	b, err := r.Get([]byte(keyValidators))
	if err != nil {
		return nil, internal(err, "validators")
	}
	vals, err := DecodeValidatorSet(b)
	if err != nil {
		return nil, internal(err, "validators")
	}
	return vals, nil
}

// DecodeValidatorSet parses the value of a /validators query (absent or
// empty: no validators).
func DecodeValidatorSet(b []byte) ([]Validator, error) {
	var vals []Validator
	err := decodeFields(b, func(d *decoder, num int) error {
		if num != 1 {
			return unknownField("ValidatorSet", num)
		}
		return d.message("validator_set.validators", func(raw []byte) error {
			v, err := DecodeValidator(raw)
			if err == nil {
				vals = append(vals, *v)
			}
			return err
		})
	})
	return vals, err
}

// saveValidatorSet stores the set sorted by key; an empty set is an absent key.
func saveValidatorSet(kv KV, vals []Validator) error {
	if len(vals) == 0 {
		return kv.Delete([]byte(keyValidators))
	}
	slices.SortFunc(vals, func(a, b Validator) int { return bytes.Compare(a.PublicKey, b.PublicKey) })
	return kv.Set([]byte(keyValidators), encodeValidatorSet(vals))
}
