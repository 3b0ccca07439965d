package app

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"

	"github.com/consort-ledger/consort/policy"
)

// InitialValidator is a validator as CometBFT's genesis gives it.
type InitialValidator struct {
	KeyType   string
	PublicKey []byte
	Power     int64
}

// applyGenesis validates g completely and writes it to kv. On error nothing
// is worth keeping: the caller discards the working tree.
func applyGenesis(kv KV, chainID string, g *Genesis, vals []InitialValidator, hasModule func(string) bool) error {
	if chainID == "" {
		return fmt.Errorf("genesis: empty chain id")
	}
	params := genesisParams(g.Params)
	if err := validateModuleList(params.Modules, hasModule); err != nil {
		return fmt.Errorf("genesis params: validation.modules: %w", err)
	}
	if params.PowDifficultyBits > MaxPowBits {
		return fmt.Errorf("genesis params: pow.difficulty_bits %d: at most %d", params.PowDifficultyBits, MaxPowBits)
	}
	if err := kv.Set([]byte(keyChainID), []byte(chainID)); err != nil {
		return err
	}
	if err := kv.Set([]byte(keyParams), encodeParams(&params)); err != nil {
		return err
	}
	roles, err := genesisRoles(kv, g.Roles)
	if err != nil {
		return err
	}
	accounts := map[string]bool{}
	var approvers []policy.Approver
	for i, ga := range g.Accounts {
		a, err := ga.account(roles)
		if err != nil {
			return fmt.Errorf("genesis account %d: %w", i, err)
		}
		if accounts[a.Name] {
			return fmt.Errorf("genesis account %d: %s declared twice", i, a.Name)
		}
		accounts[a.Name] = true
		if err := checkKeysInOrganization(kv, a.Keys, a.Organization); err != nil {
			return fmt.Errorf("genesis account %s: %w", a.Name, err)
		}
		if err := saveNewAccount(kv, a); err != nil {
			return err
		}
		approvers = append(approvers, approverOf(a))
	}
	// A threshold no set of admins can meet would lock governance for good.
	if orgs := policy.ApprovingOrganizations(roles, approvers, policy.PermManageRoles, 0); len(orgs) > 0 {
		if err := policy.ValidateThreshold(params.GovernanceThreshold, len(orgs)); err != nil {
			return fmt.Errorf("genesis params: governance_threshold: %w", err)
		}
	}
	assets, err := genesisAssets(g.Assets, accounts)
	if err != nil {
		return err
	}
	genesisID := GenesisTxID(chainID)
	for i, gu := range g.UTXOs {
		asset := assets[gu.Asset]
		switch {
		case !accounts[gu.Owner]:
			return fmt.Errorf("genesis utxo %d: owner %s is not a genesis account", i, gu.Owner)
		case asset == nil:
			return fmt.Errorf("genesis utxo %d: asset %s is not a genesis asset", i, gu.Asset)
		}
		amount, err := strconv.ParseUint(gu.Amount, 10, 64)
		if err != nil || amount == 0 {
			return fmt.Errorf("genesis utxo %d: amount %q: want positive base units as a decimal string", i, gu.Amount)
		}
		var ok bool
		if asset.Supply, ok = addAmount(asset.Supply, amount); !ok {
			return fmt.Errorf("genesis utxo %d: supply of %s exceeds 2^64-1", i, gu.Asset)
		}
		out := Output{Owner: gu.Owner, Asset: gu.Asset, Amount: amount}
		if err := addUTXO(kv, Outpoint{TxID: genesisID, Index: uint32(i)}, out); err != nil {
			return err
		}
		if err := adjustBalance(kv, gu.Owner, gu.Asset, amount, 0); err != nil {
			return err
		}
	}
	for _, ga := range g.Assets { // genesis order, not map order
		if err := saveAsset(kv, assets[ga.ID]); err != nil {
			return err
		}
	}
	for i, id := range g.Nodes {
		if err := ValidateNodeID(id); err != nil {
			return fmt.Errorf("genesis node %d: %w", i, err)
		}
		if err := kv.Set(nodeKey(id), ownerMarker); err != nil {
			return err
		}
	}
	return saveValidators(kv, g.Validators, vals, accounts)
}

func genesisParams(p *GenesisParams) Params {
	params := DefaultParams()
	if p == nil {
		return params
	}
	for _, f := range []struct {
		dst *uint32
		v   uint32
	}{
		{&params.MaxTxBytes, p.MaxTxBytes}, {&params.MaxInputs, p.MaxInputs}, {&params.MaxOutputs, p.MaxOutputs},
		{&params.MaxSignatures, p.MaxSignatures}, {&params.MaxMemoBytes, p.MaxMemoBytes},
		{&params.GovernanceThreshold, p.GovernanceThreshold}, {&params.MinValidators, p.MinValidators},
	} {
		if f.v != 0 {
			*f.dst = f.v
		}
	}
	if p.Validation != nil {
		params.Modules = p.Validation.Modules
	}
	if p.Pow != nil {
		params.PowDifficultyBits = p.Pow.DifficultyBits
	}
	return params
}

// genesisRoles stores the roles (the defaults when none are given) and
// returns them as a set.
func genesisRoles(kv KV, given []GenesisRole) (policy.RoleSet, error) {
	roles := policy.DefaultRoles()
	if len(given) > 0 {
		roles = roles[:0]
		for i, gr := range given {
			r := policy.Role{Name: gr.Name}
			for _, p := range gr.Permissions {
				perm, err := policy.ParsePermission(p)
				if err != nil {
					return policy.RoleSet{}, fmt.Errorf("genesis role %d: %w", i, err)
				}
				r.Permissions = append(r.Permissions, perm)
			}
			roles = append(roles, r)
		}
	}
	set, err := policy.NewRoleSet(roles)
	if err != nil {
		return policy.RoleSet{}, fmt.Errorf("genesis roles: %w", err)
	}
	for _, r := range set.Roles() {
		if err := saveRole(kv, r); err != nil {
			return policy.RoleSet{}, err
		}
	}
	return set, nil
}

func genesisAssets(list []GenesisAsset, accounts map[string]bool) (map[string]*Asset, error) {
	assets := map[string]*Asset{}
	for i, ga := range list {
		if err := ValidateAssetID(ga.ID); err != nil {
			return nil, fmt.Errorf("genesis asset %d: %w", i, err)
		}
		if assets[ga.ID] != nil {
			return nil, fmt.Errorf("genesis asset %d: %s declared twice", i, ga.ID)
		}
		if ga.Decimals > MaxDecimals {
			return nil, fmt.Errorf("genesis asset %s: %d decimals, at most %d", ga.ID, ga.Decimals, MaxDecimals)
		}
		asset := &Asset{ID: ga.ID, Decimals: ga.Decimals}
		for _, gi := range ga.Issuers {
			if !accounts[gi.Account] {
				return nil, fmt.Errorf("genesis asset %s: issuer %s is not a genesis account", ga.ID, gi.Account)
			}
			capacity := uint64(math.MaxUint64)
			if gi.Cap != "" {
				c, err := strconv.ParseUint(gi.Cap, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("genesis asset %s: issuer %s: cap %q: want base units as a decimal string", ga.ID, gi.Account, gi.Cap)
				}
				capacity = c
			}
			if findIssuer(asset, gi.Account) >= 0 {
				return nil, fmt.Errorf("genesis asset %s: issuer %s listed twice", ga.ID, gi.Account)
			}
			asset.Issuers = append(asset.Issuers, Issuer{Account: gi.Account, Cap: capacity})
		}
		assets[ga.ID] = asset
	}
	return assets, nil
}

func saveValidators(kv KV, named []GenesisValidator, vals []InitialValidator, accounts map[string]bool) error {
	meta := map[string]GenesisValidator{}
	for _, v := range named {
		if v.Operator != "" && !accounts[v.Operator] {
			return fmt.Errorf("genesis validator %s: operator %s is not a genesis account", v.Name, v.Operator)
		}
		meta[v.PublicKey] = v
	}
	set := make([]Validator, 0, len(vals))
	for _, v := range vals {
		m := meta[base64.StdEncoding.EncodeToString(v.PublicKey)]
		set = append(set, Validator{Name: m.Name, KeyType: v.KeyType, PublicKey: v.PublicKey, Power: v.Power, Operator: m.Operator})
	}
	return saveValidatorSet(kv, set)
}

func (ga GenesisAccount) account(roles policy.RoleSet) (*Account, error) {
	if err := ValidateAccountName(ga.Name); err != nil {
		return nil, err
	}
	a := &Account{Name: ga.Name, Organization: ga.Organization, Threshold: ga.Threshold}
	if a.Threshold == 0 {
		a.Threshold = 1
	}
	for _, r := range ga.Roles {
		if _, ok := roles.Lookup(r); !ok {
			return nil, fmt.Errorf("%s: role %q is not defined", ga.Name, r)
		}
		a.Grants = append(a.Grants, Grant{Role: r})
	}
	for j, gk := range ga.Keys {
		kt, err := ParseKeyType(gk.Type)
		if err != nil {
			return nil, fmt.Errorf("%s key %d: %w", ga.Name, j, err)
		}
		pub, err := base64.StdEncoding.DecodeString(gk.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("%s key %d: public_key is not base64: %w", ga.Name, j, err)
		}
		w := gk.Weight
		if w == 0 {
			w = 1
		}
		a.Keys = append(a.Keys, AccountKey{KeyType: kt, PublicKey: pub, Weight: w})
	}
	if err := validateKeySet(a.Name, a.Keys, a.Threshold); err != nil {
		return nil, err
	}
	return a, nil
}

// validateKeySet checks an account's keys and threshold: at least one key,
// each well formed and present once, and a threshold the keys can reach.
func validateKeySet(name string, keys []AccountKey, threshold uint32) error {
	if len(keys) == 0 {
		return fmt.Errorf("%s has no keys", name)
	}
	var total uint64
	seen := map[string]int{}
	for j, k := range keys {
		if err := ValidatePublicKey(k.KeyType, k.PublicKey); err != nil {
			return fmt.Errorf("%s key %d: %w", name, j, err)
		}
		if k.Weight == 0 {
			return fmt.Errorf("%s key %d: weight must be at least 1", name, j)
		}
		// A repeated key would count twice towards the threshold here but
		// can only sign once: the account could never spend.
		id := k.KeyType.String() + ":" + string(k.PublicKey)
		if first, dup := seen[id]; dup {
			return fmt.Errorf("%s key %d repeats key %d", name, j, first)
		}
		seen[id] = j
		total += uint64(k.Weight)
	}
	if threshold == 0 {
		return fmt.Errorf("%s: threshold must be at least 1", name)
	}
	if uint64(threshold) > total {
		return fmt.Errorf("%s: threshold %d exceeds the total key weight %d", name, threshold, total)
	}
	return nil
}
