package app

import (
	"strconv"

	"github.com/consort-ledger/consort/policy"
)

// Minting and burning: the only ways supply changes. An asset's supply always
// equals the sum of its unspent outputs.

// checkMint: an approving signer that issues the asset, within its cap
// (the cap and the signer are policy; recipient, asset and supply are the
// ledger's).
func checkMint(r Reader, tx *Tx, blk *blockContext) (*execution, error) {
	m := tx.Body.Mint
	if err := ValidateAccountName(m.To); err != nil {
		return nil, err
	}
	if err := ValidateAssetID(m.Asset); err != nil {
		return nil, err
	}
	if m.Amount == 0 {
		return nil, rejectf(ErrZeroAmount, "mint of nothing")
	}
	to, err := loadAccount(r, m.To)
	if err != nil {
		return nil, err
	}
	if to == nil {
		return nil, rejectf(ErrUnknownAccount, "recipient %s is not registered", m.To)
	}
	asset, err := loadAsset(r, m.Asset)
	if err != nil {
		return nil, err
	}
	if asset == nil {
		return nil, rejectf(ErrUnknownAsset, "asset %s does not exist", m.Asset)
	}
	supply, ok := addAmount(asset.Supply, m.Amount)
	if !ok {
		return nil, rejectf(ErrOverflow, "supply of %s would exceed 2^64-1", m.Asset)
	}
	id := tx.ID()
	var issuer string // chosen by the policy rules below
	var minted uint64
	authorize := func() error {
		s, err := resolveSigners(r, tx)
		if err != nil {
			return err
		}
		if issuer, err = issuingSigner(r, s.approving, asset, policy.PermMint, blk.height); err != nil {
			return err
		}
		iss := asset.Issuers[findIssuer(asset, issuer)]
		var ok bool
		if minted, ok = addAmount(iss.Minted, m.Amount); !ok || minted > iss.Cap {
			return rejectf(ErrCapExceeded, "%s may have %d of %s outstanding, has %d, mint of %d exceeds it", issuer, iss.Cap, m.Asset, iss.Minted, m.Amount)
		}
		return checkNotPaused(r, []string{m.Asset}, blk.height)
	}
	ex := &execution{tx: tx, id: id, authorize: authorize}
	ex.apply = func(kv KV) error {
		asset.Issuers[findIssuer(asset, issuer)].Minted, asset.Supply = minted, supply
		if err := saveAsset(kv, asset); err != nil {
			return err
		}
		if err := addUTXO(kv, Outpoint{TxID: id, Index: 0}, Output{Owner: m.To, Asset: m.Asset, Amount: m.Amount}); err != nil {
			return err
		}
		ex.events = []Event{{Type: "mint", Attributes: []Attribute{
			{Key: "issuer", Value: issuer}, {Key: "recipient", Value: m.To},
			{Key: "asset", Value: m.Asset}, {Key: "amount", Value: strconv.FormatUint(m.Amount, 10)},
		}}}
		return adjustBalance(kv, m.To, m.Asset, m.Amount, 0)
	}
	return ex, nil
}

// checkBurn: coins of one owner, who issues the asset, signed to its threshold.
func checkBurn(r Reader, tx *Tx, params Params, spent SpentFunc, blk *blockContext) (*execution, error) {
	b := tx.Body.Burn
	switch {
	case len(b.Inputs) == 0:
		return nil, rejectf(ErrEmptyTransfer, "a burn needs at least one input")
	case len(b.Inputs) > int(params.MaxInputs):
		return nil, rejectf(ErrTooLarge, "%d inputs, limit %d", len(b.Inputs), params.MaxInputs)
	case b.Amount == 0:
		return nil, rejectf(ErrZeroAmount, "burn of nothing")
	}
	if err := ValidateAssetID(b.Asset); err != nil {
		return nil, err
	}
	// The inputs and signature rules are the transfer's; only the outputs differ.
	c := &checkedTransfer{tx: tx, id: tx.ID()}
	if err := c.checkInputs(r, spent); err != nil {
		return nil, err
	}
	var total uint64
	for i, u := range c.inputs {
		if u.Asset != b.Asset {
			return nil, rejectf(ErrUnbalanced, "input %d holds %s, the burn is of %s", i, u.Asset, b.Asset)
		}
		var ok bool
		if total, ok = addAmount(total, u.Amount); !ok {
			return nil, rejectf(ErrOverflow, "inputs exceed 2^64-1")
		}
	}
	if len(c.owners) != 1 {
		return nil, rejectf(ErrUnexpectedSigner, "a burn spends coins of one owner, these belong to %v", c.owners)
	}
	if total < b.Amount {
		return nil, rejectf(ErrUnbalanced, "inputs hold %d of %s, burn of %d", total, b.Asset, b.Amount)
	}
	owner := c.owners[0]
	asset, err := loadAsset(r, b.Asset)
	if err != nil {
		return nil, err
	}
	if asset == nil {
		return nil, rejectf(ErrUnknownAsset, "asset %s does not exist", b.Asset)
	}
	authorize := func() error {
		if err := c.checkSignatures(r); err != nil {
			return err
		}
		if _, err := issuingSigner(r, c.ownerAccts, asset, policy.PermBurn, blk.height); err != nil {
			return err
		}
		return checkNotPaused(r, []string{b.Asset}, blk.height)
	}
	change := total - b.Amount
	apply := func(kv KV) error {
		for _, in := range b.Inputs {
			if err := spendUTXO(kv, in, owner); err != nil {
				return err
			}
		}
		if change > 0 {
			if err := addUTXO(kv, Outpoint{TxID: c.id, Index: 0}, Output{Owner: owner, Asset: b.Asset, Amount: change}); err != nil {
				return err
			}
		}
		i := findIssuer(asset, owner)
		asset.Issuers[i].Minted -= min(asset.Issuers[i].Minted, b.Amount)
		asset.Supply -= b.Amount
		if err := saveAsset(kv, asset); err != nil {
			return err
		}
		return adjustBalance(kv, owner, b.Asset, 0, b.Amount)
	}
	events := []Event{{Type: "burn", Attributes: []Attribute{
		{Key: "issuer", Value: owner},
		{Key: "asset", Value: b.Asset}, {Key: "amount", Value: strconv.FormatUint(b.Amount, 10)},
	}}}
	return &execution{tx: tx, id: c.id, authorize: authorize, apply: apply, events: events}, nil
}

// issuingSigner returns the first of accounts (they are sorted) that is an
// issuer of asset and holds perm.
func issuingSigner(r Reader, accounts []*Account, asset *Asset, perm policy.Permission, height int64) (string, error) {
	roles, err := rolesOf(r, accounts)
	if err != nil {
		return "", err
	}
	issuers := issuerNames(asset)
	for _, a := range accounts {
		if policy.CanIssue(roles, approverOf(a).Grants, perm, a.Name, issuers, height) {
			return a.Name, nil
		}
	}
	return "", rejectf(ErrNotPermitted, "no signer is an issuer of %s holding the %s permission (issuers: %v)", asset.ID, perm, issuers)
}
