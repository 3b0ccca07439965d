package app

import (
	"bytes"
	"sort"

	"github.com/consort-ledger/consort/policy"
)

// checkedTransfer is a transfer that passed every rule against some state,
// with what the checks loaded, so that applying it reads nothing twice.
type checkedTransfer struct {
	tx      *Tx
	id      TxID
	inputs  []Output // the UTXO behind each input, in input order
	owners  []string // distinct input owners, in order of first appearance
	assets  []string // distinct assets, in order of first appearance
	targets []string // distinct output owners, in order of first appearance
	// ownerAccts are the accounts of owners, loaded by checkSignatures.
	ownerAccts []*Account
}

// checkTransfer checks a transfer: outputs, inputs, balance, signatures,
// permissions and pauses, in that order.
func checkTransfer(r Reader, tx *Tx, params Params, spent SpentFunc, blk *blockContext) (*execution, error) {
	t := tx.Body.Transfer
	switch {
	case len(t.Inputs) > int(params.MaxInputs):
		return nil, rejectf(ErrTooLarge, "%d inputs, limit %d", len(t.Inputs), params.MaxInputs)
	case len(t.Outputs) > int(params.MaxOutputs):
		return nil, rejectf(ErrTooLarge, "%d outputs, limit %d", len(t.Outputs), params.MaxOutputs)
	case len(t.Inputs) == 0:
		return nil, rejectf(ErrEmptyTransfer, "a transfer needs at least one input")
	case len(t.Outputs) == 0:
		return nil, rejectf(ErrEmptyTransfer, "a transfer needs at least one output")
	}
	c := &checkedTransfer{tx: tx, id: tx.ID()}
	if err := c.checkOutputs(r); err != nil {
		return nil, err
	}
	if err := c.checkInputs(r, spent); err != nil {
		return nil, err
	}
	if err := c.checkBalanced(); err != nil {
		return nil, err
	}
	authorize := func() error {
		if err := c.checkSignatures(r); err != nil {
			return err
		}
		for _, acct := range c.ownerAccts {
			ok, err := hasPermission(r, acct, policy.PermTransfer, blk.height)
			if err != nil {
				return err
			}
			if !ok {
				return rejectf(ErrNotPermitted, "%s holds no role with the transfer permission", acct.Name)
			}
		}
		return checkNotPaused(r, c.assets, blk.height)
	}
	return &execution{tx: tx, id: c.id, authorize: authorize, apply: c.apply, events: c.events()}, nil
}

func (c *checkedTransfer) checkOutputs(r Reader) error {
	type pair struct{ owner, asset string }
	seen := make(map[pair]bool, len(c.tx.Body.Transfer.Outputs))
	for i, out := range c.tx.Body.Transfer.Outputs {
		if err := ValidateAccountName(out.Owner); err != nil {
			return rejectf(ErrInvalidField, "output %d: %v", i, err)
		}
		if err := ValidateAssetID(out.Asset); err != nil {
			return rejectf(ErrInvalidField, "output %d: %v", i, err)
		}
		if out.Amount == 0 {
			return rejectf(ErrZeroAmount, "output %d pays nothing", i)
		}
		p := pair{out.Owner, out.Asset}
		if seen[p] {
			return rejectf(ErrDuplicateOutput, "output %d pays %s to %s again; merge the outputs", i, out.Asset, out.Owner)
		}
		seen[p] = true
		acct, err := loadAccount(r, out.Owner)
		if err != nil {
			return err
		}
		if acct == nil {
			return rejectf(ErrUnknownAccount, "output %d: account %s is not registered", i, out.Owner)
		}
		asset, err := loadAsset(r, out.Asset)
		if err != nil {
			return err
		}
		if asset == nil {
			return rejectf(ErrUnknownAsset, "output %d: asset %s does not exist", i, out.Asset)
		}
		c.targets = appendNew(c.targets, out.Owner)
		c.assets = appendNew(c.assets, out.Asset)
	}
	return nil
}

func (c *checkedTransfer) checkInputs(r Reader, spent SpentFunc) error {
	inputs := c.tx.Body.Spends() // a transfer's or a burn's
	seen := make(map[Outpoint]bool, len(inputs))
	c.inputs = make([]Output, len(inputs))
	for i, in := range inputs {
		if seen[in] {
			return rejectf(ErrDuplicateInput, "input %d spends %s twice", i, in)
		}
		seen[in] = true
		if spent != nil && spent(in) {
			return rejectf(ErrMempoolConflict, "input %d (%s)", i, in)
		}
		utxo, err := loadUTXO(r, in)
		if err != nil {
			return err
		}
		if utxo == nil {
			return rejectf(ErrInputNotFound, "input %d (%s)", i, in)
		}
		c.inputs[i] = *utxo
		c.owners = appendNew(c.owners, utxo.Owner)
	}
	return nil
}

// checkBalanced sums per asset, in order of first appearance, with overflow
// checks, and requires inputs = outputs for every asset on either side.
func (c *checkedTransfer) checkBalanced() error {
	in := make(map[string]uint64)
	for _, u := range c.inputs {
		sum, ok := addAmount(in[u.Asset], u.Amount)
		if !ok {
			return rejectf(ErrOverflow, "inputs of %s exceed 2^64-1", u.Asset)
		}
		in[u.Asset] = sum
		c.assets = appendNew(c.assets, u.Asset)
	}
	out := make(map[string]uint64)
	for _, o := range c.tx.Body.Transfer.Outputs {
		sum, ok := addAmount(out[o.Asset], o.Amount)
		if !ok {
			return rejectf(ErrOverflow, "outputs of %s exceed 2^64-1", o.Asset)
		}
		out[o.Asset] = sum
	}
	for _, asset := range c.assets {
		if in[asset] != out[asset] {
			return rejectf(ErrUnbalanced, "%s: inputs %d, outputs %d (base units)", asset, in[asset], out[asset])
		}
	}
	return nil
}

// checkSignatures checks each input owner's threshold (the signature
// module verifies the signatures themselves). Every signature must belong to some input owner: otherwise
// anyone could pad a transaction with extra bytes.
func (c *checkedTransfer) checkSignatures(r Reader) error {
	sigs := c.tx.Signatures // DecodeTx refused a key that signs twice
	used := make([]bool, len(sigs))
	c.ownerAccts = c.ownerAccts[:0]
	for _, owner := range c.owners {
		acct, err := loadAccount(r, owner)
		if err != nil {
			return err
		}
		if acct == nil {
			return rejectf(ErrUnknownAccount, "input owner %s is not registered", owner)
		}
		if acct.Status == StatusFrozen {
			return rejectf(ErrAccountFrozen, "input owner %s is frozen", owner)
		}
		c.ownerAccts = append(c.ownerAccts, acct)
		var weight uint64
		for i, s := range sigs {
			if w, ok := keyWeight(acct, s); ok {
				weight += uint64(w)
				used[i] = true
			}
		}
		if weight < uint64(acct.Threshold) {
			return rejectf(ErrThresholdNotMet, "%s: signatures weigh %d, threshold %d", owner, weight, acct.Threshold)
		}
	}
	for i, u := range used {
		if !u {
			return rejectf(ErrUnexpectedSigner, "signature %d is by %x, a key of no input owner", i, sigs[i].PublicKey)
		}
	}
	return nil
}

func keyWeight(a *Account, s Signature) (uint32, bool) {
	for _, k := range a.Keys {
		if k.KeyType == s.KeyType && bytes.Equal(k.PublicKey, s.PublicKey) {
			return k.Weight, true
		}
	}
	return 0, false
}

// apply writes a checked transfer: inputs spent, outputs created as
// (txid, index), balances moved.
func (c *checkedTransfer) apply(kv KV) error {
	type pair struct{ owner, asset string }
	var order []pair
	deltas := map[pair]*[2]uint64{} // add, sub
	delta := func(p pair) *[2]uint64 {
		if d, ok := deltas[p]; ok {
			return d
		}
		d := &[2]uint64{}
		deltas[p] = d
		order = append(order, p)
		return d
	}
	for i, in := range c.tx.Body.Transfer.Inputs {
		u := c.inputs[i]
		if err := spendUTXO(kv, in, u.Owner); err != nil {
			return err
		}
		delta(pair{u.Owner, u.Asset})[1] += u.Amount
	}
	for i, out := range c.tx.Body.Transfer.Outputs {
		if err := addUTXO(kv, Outpoint{TxID: c.id, Index: uint32(i)}, out); err != nil {
			return err
		}
		delta(pair{out.Owner, out.Asset})[0] += out.Amount
	}
	for _, p := range order { // first-appearance order: deterministic
		d := deltas[p]
		if err := adjustBalance(kv, p.owner, p.asset, d[0], d[1]); err != nil {
			return err
		}
	}
	return nil
}

// events describe an applied transfer for indexers and websocket clients:
// one "transfer" event with every sender, recipient and asset (the txid is
// in the "consort" event of every result).
func (c *checkedTransfer) events() []Event {
	attrs := make([]Attribute, 0, len(c.owners)+len(c.targets)+len(c.assets))
	for _, o := range c.owners {
		attrs = append(attrs, Attribute{Key: "sender", Value: o})
	}
	for _, o := range c.targets {
		attrs = append(attrs, Attribute{Key: "recipient", Value: o})
	}
	assets := append([]string(nil), c.assets...)
	sort.Strings(assets)
	for _, a := range assets {
		attrs = append(attrs, Attribute{Key: "asset", Value: a})
	}
	return []Event{{Type: "transfer", Attributes: attrs}}
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
