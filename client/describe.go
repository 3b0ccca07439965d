package client

import (
	"encoding/base64"
	"fmt"
	"math"
	"strings"

	"github.com/consort-ledger/consort/app"
)

// DecimalsFunc looks up an asset's decimals; ok is false when unknown (no
// node reachable, no such asset). Amounts of unknown assets are described in
// base units.
type DecimalsFunc func(asset string) (decimals uint32, ok bool)

// Describe says in plain words what a transaction does, always from its
// decoded body — never from a summary that travelled with it, which anyone
// could have edited — so a signer can read what they sign:
//
//	on chain bank-net, grant role issuer to bob (no expiry); 1 signature(s) so far; txid …
func Describe(tx *app.Tx, decimals DecimalsFunc) string {
	b := &tx.Body
	what := describeBody(b, decimals)
	if b.Memo != "" {
		what += fmt.Sprintf("; memo %q", b.Memo)
	}
	return fmt.Sprintf("on chain %s, %s; %d signature(s) so far; txid %s", b.ChainID, what, len(tx.Signatures), tx.ID())
}

func describeBody(b *app.Body, decimals DecimalsFunc) string {
	amount := func(v uint64, asset string) string { return describeAmount(v, asset, decimals) }
	switch {
	case b.Transfer != nil:
		var parts []string
		for _, o := range b.Transfer.Outputs {
			parts = append(parts, fmt.Sprintf("pay %s to %s", amount(o.Amount, o.Asset), o.Owner))
		}
		return fmt.Sprintf("spend %d coin(s) to %s", len(b.Transfer.Inputs), strings.Join(parts, ", "))
	case b.Mint != nil:
		return fmt.Sprintf("mint %s to %s", amount(b.Mint.Amount, b.Mint.Asset), b.Mint.To)
	case b.Burn != nil:
		return fmt.Sprintf("burn %s, spending %d coin(s) of its issuer (the rest comes back as change)", amount(b.Burn.Amount, b.Burn.Asset), len(b.Burn.Inputs))
	case b.Action != nil:
		return describeAction(b.Action, decimals)
	}
	return "do nothing (the body carries no message)"
}

func describeAction(action app.Action, decimals DecimalsFunc) string {
	switch a := action.(type) {
	case *app.RegisterAccount:
		acct := a.Account
		org := "of organisation " + acct.Organization
		if acct.Organization == "" {
			org = "of no organisation"
		}
		roles := "no roles"
		if len(acct.Grants) > 0 {
			var rs []string
			for _, g := range acct.Grants {
				rs = append(rs, g.Role+" "+expiry(g.ExpiresAt))
			}
			roles = "roles " + strings.Join(rs, ", ")
		}
		return fmt.Sprintf("register account %s %s with %s and %s", acct.Name, org, describeKeys(acct.Keys, acct.Threshold), roles)
	case *app.SetAccountKeys:
		return fmt.Sprintf("replace the keys of account %s with %s", a.Name, describeKeys(a.Keys, a.Threshold))
	case *app.FreezeAccount:
		return "freeze account " + a.Name
	case *app.UnfreezeAccount:
		return "unfreeze account " + a.Name
	case *app.GrantRole:
		return fmt.Sprintf("grant role %s to %s %s", a.Role, a.Account, expiry(a.ExpiresAt))
	case *app.RevokeRole:
		return fmt.Sprintf("revoke role %s from %s", a.Role, a.Account)
	case *app.RevokeAll:
		return "revoke every role of " + a.Account
	case *app.SetRole:
		perms := "no permissions"
		if len(a.Permissions) > 0 {
			perms = "permissions " + strings.Join(a.Permissions, ", ")
		}
		return fmt.Sprintf("define role %s with %s", a.Name, perms)
	case *app.CreateAsset:
		issuers := "no issuers"
		if len(a.Issuers) > 0 {
			var is []string
			for _, i := range a.Issuers {
				is = append(is, fmt.Sprintf("%s (cap %s)", i.Account, describeCap(i.Cap, a.ID, func(string) (uint32, bool) { return a.Decimals, true })))
			}
			issuers = "issuers " + strings.Join(is, ", ")
		}
		return fmt.Sprintf("create asset %s with %d decimals and %s", a.ID, a.Decimals, issuers)
	case *app.SetIssuer:
		if a.Cap == 0 {
			return fmt.Sprintf("remove %s as an issuer of %s", a.Account, a.Asset)
		}
		return fmt.Sprintf("make %s an issuer of %s with cap %s", a.Account, a.Asset, describeCap(a.Cap, a.Asset, decimals))
	case *app.SetValidator:
		key := base64.StdEncoding.EncodeToString(a.PublicKey)
		if a.Power == 0 {
			return fmt.Sprintf("remove validator %s (key %s)", orUnnamed(a.Name), key)
		}
		op := ""
		if a.Operator != "" {
			op = ", operated by " + a.Operator
		}
		return fmt.Sprintf("set validator %s (key %s) to voting power %d%s", orUnnamed(a.Name), key, a.Power, op)
	case *app.RotateValidatorKey:
		return fmt.Sprintf("rotate the validator key %s to %s (same power)",
			base64.StdEncoding.EncodeToString(a.CurrentKey), base64.StdEncoding.EncodeToString(a.NewKey))
	case *app.AllowNode:
		return fmt.Sprintf("allow node %s to connect", a.NodeID)
	case *app.RemoveNode:
		return fmt.Sprintf("remove node %s from the allowlist", a.NodeID)
	case *app.SetParams:
		p := a.Params
		return fmt.Sprintf("set params to max_tx_bytes %d, max_inputs %d, max_outputs %d, max_signatures %d, max_memo_bytes %d, governance_threshold %d, min_validators %d",
			p.MaxTxBytes, p.MaxInputs, p.MaxOutputs, p.MaxSignatures, p.MaxMemoBytes, p.GovernanceThreshold, p.MinValidators)
	case *app.Pause:
		until := "until unpaused"
		if a.Until != 0 {
			until = fmt.Sprintf("until height %d", a.Until)
		}
		return fmt.Sprintf("pause %s %s", pauseScope(a.Asset), until)
	case *app.Unpause:
		return fmt.Sprintf("unpause %s", pauseScope(a.Asset))
	}
	return fmt.Sprintf("an action of type %T", action)
}

func describeAmount(v uint64, asset string, decimals DecimalsFunc) string {
	if decimals != nil {
		if d, ok := decimals(asset); ok {
			return app.FormatAmount(v, d) + " " + asset
		}
	}
	return fmt.Sprintf("%d base units of %s", v, asset)
}

func describeCap(v uint64, asset string, decimals DecimalsFunc) string {
	if v == math.MaxUint64 {
		return "unlimited"
	}
	return describeAmount(v, asset, decimals)
}

func describeKeys(keys []app.AccountKey, threshold uint32) string {
	ks := make([]string, len(keys))
	for i, k := range keys {
		ks[i] = fmt.Sprintf("%s (weight %d)", FormatPublicKey(k.KeyType, k.PublicKey), k.Weight)
	}
	return fmt.Sprintf("%d key(s) %s, threshold %d", len(keys), strings.Join(ks, ", "), threshold)
}

func expiry(h int64) string {
	if h == 0 {
		return "(no expiry)"
	}
	return fmt.Sprintf("(until height %d)", h)
}

func pauseScope(asset string) string {
	if asset == "" {
		return "all assets"
	}
	return "asset " + asset
}

func orUnnamed(name string) string {
	if name == "" {
		return "(unnamed)"
	}
	return name
}
