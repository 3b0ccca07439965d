package app

import (
	"bytes"
	"slices"

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
	// targetAccts are the accounts of targets, loaded by checkOutputs.
	targetAccts []*Account
	// ownerAccts are the accounts of owners, loaded by checkSignatures.
	ownerAccts []*Account
	ex         execution

	// Backing arrays for the lists above, sized for the common transfer
	// (1 or 2 inputs and outputs, one asset): they come in the same
	// allocation as the checkedTransfer instead of one each.
	inputsBuf      [2]Output
	ownersBuf      [2]string
	assetsBuf      [2]string
	targetsBuf     [2]string
	targetAcctsBuf [2]*Account
	ownerAcctsBuf  [2]*Account
}

func newCheckedTransfer(tx *Tx) *checkedTransfer {
	c := &checkedTransfer{tx: tx, id: tx.ID()}
	c.owners, c.assets, c.targets = c.ownersBuf[:0], c.assetsBuf[:0], c.targetsBuf[:0]
	c.targetAccts, c.ownerAccts = c.targetAcctsBuf[:0], c.ownerAcctsBuf[:0]
	return c
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
	c := newCheckedTransfer(tx)
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
	c.ex = execution{tx: tx, id: c.id, authorize: authorize, apply: c.apply}
	if !blk.checkOnly {
		c.ex.events = c.events()
	}
	return &c.ex, nil
}

// smallList is the length up to which the checks below look for a
// duplicate by scanning the list rather than through a map: for the few
// inputs and outputs of most transfers a scan is faster and allocates
// nothing.
const smallList = 16

func (c *checkedTransfer) checkOutputs(r Reader) error {
	outputs := c.tx.Body.Transfer.Outputs
	type pair struct{ owner, asset string }
	var seen map[pair]bool
	if len(outputs) > smallList {
		seen = make(map[pair]bool, len(outputs))
	}
	for i, out := range outputs {
		if err := ValidateAccountName(out.Owner); err != nil {
			return rejectf(ErrInvalidField, "output %d: %v", i, err)
		}
		if err := ValidateAssetID(out.Asset); err != nil {
			return rejectf(ErrInvalidField, "output %d: %v", i, err)
		}
		if out.Amount == 0 {
			return rejectf(ErrZeroAmount, "output %d pays nothing", i)
		}
		dup := false
		if seen != nil {
			p := pair{out.Owner, out.Asset}
			dup = seen[p]
			seen[p] = true
		} else {
			for _, prev := range outputs[:i] {
				dup = dup || prev.Owner == out.Owner && prev.Asset == out.Asset
			}
		}
		if dup {
			return rejectf(ErrDuplicateOutput, "output %d pays %s to %s again; merge the outputs", i, out.Asset, out.Owner)
		}
		// An account or asset an earlier output named was found then; the
		// state has not changed since.
		if !slices.Contains(c.targets, out.Owner) {
			acct, err := loadAccount(r, out.Owner)
			if err != nil {
				return err
			}
			if acct == nil {
				return rejectf(ErrUnknownAccount, "output %d: account %s is not registered", i, out.Owner)
			}
			c.targets = append(c.targets, out.Owner)
			c.targetAccts = append(c.targetAccts, acct)
		}
		if !slices.Contains(c.assets, out.Asset) {
			asset, err := loadAsset(r, out.Asset)
			if err != nil {
				return err
			}
			if asset == nil {
				return rejectf(ErrUnknownAsset, "output %d: asset %s does not exist", i, out.Asset)
			}
			c.assets = append(c.assets, out.Asset)
		}
	}
	return nil
}

func (c *checkedTransfer) checkInputs(r Reader, spent SpentFunc) error {
	inputs := c.tx.Body.Spends() // a transfer's or a burn's
	var seen map[Outpoint]bool
	if len(inputs) > smallList {
		seen = make(map[Outpoint]bool, len(inputs))
	}
	if len(inputs) <= len(c.inputsBuf) {
		c.inputs = c.inputsBuf[:len(inputs)]
	} else {
		c.inputs = make([]Output, len(inputs))
	}
	for i, in := range inputs {
		dup := false
		if seen != nil {
			dup = seen[in]
			seen[in] = true
		} else {
			dup = slices.Contains(inputs[:i], in)
		}
		if dup {
			return rejectf(ErrDuplicateInput, "input %d spends %s twice", i, in)
		}
		if spent != nil && spent(in) {
			return rejectf(ErrMempoolConflict, "input %d (%s)", i, in)
		}
		utxo, found, err := getUTXO(r, in)
		if err != nil {
			return err
		}
		if !found {
			return rejectf(ErrInputNotFound, "input %d (%s)", i, in)
		}
		c.inputs[i] = utxo
		c.owners = appendNew(c.owners, utxo.Owner)
	}
	return nil
}

// checkBalanced sums per asset, in order of first appearance, with overflow
// checks, and requires inputs = outputs for every asset on either side.
func (c *checkedTransfer) checkBalanced() error {
	for _, u := range c.inputs {
		c.assets = appendNew(c.assets, u.Asset)
	}
	// sums[i] are the inputs and outputs of c.assets[i].
	var buf [4][2]uint64
	sums := buf[:0]
	if len(c.assets) <= len(buf) {
		sums = buf[:len(c.assets)]
	} else {
		sums = make([][2]uint64, len(c.assets))
	}
	for _, u := range c.inputs {
		i := slices.Index(c.assets, u.Asset)
		sum, ok := addAmount(sums[i][0], u.Amount)
		if !ok {
			return rejectf(ErrOverflow, "inputs of %s exceed 2^64-1", u.Asset)
		}
		sums[i][0] = sum
	}
	for _, o := range c.tx.Body.Transfer.Outputs {
		i := slices.Index(c.assets, o.Asset)
		sum, ok := addAmount(sums[i][1], o.Amount)
		if !ok {
			return rejectf(ErrOverflow, "outputs of %s exceed 2^64-1", o.Asset)
		}
		sums[i][1] = sum
	}
	for i, asset := range c.assets {
		if sums[i][0] != sums[i][1] {
			return rejectf(ErrUnbalanced, "%s: inputs %d, outputs %d (base units)", asset, sums[i][0], sums[i][1])
		}
	}
	return nil
}

// checkSignatures checks each input owner's threshold (the signature
// module verifies the signatures themselves). Every signature must belong to some input owner: otherwise
// anyone could pad a transaction with extra bytes.
func (c *checkedTransfer) checkSignatures(r Reader) error {
	sigs := c.tx.Signatures // DecodeTx refused a key that signs twice
	var buf [8]bool
	used := buf[:0]
	if len(sigs) <= len(buf) {
		used = buf[:len(sigs)]
	} else {
		used = make([]bool, len(sigs))
	}
	c.ownerAccts = c.ownerAccts[:0]
	for _, owner := range c.owners {
		var acct *Account
		if i := slices.Index(c.targets, owner); i >= 0 {
			acct = c.targetAccts[i] // loaded from the same state by checkOutputs
		} else {
			var err error
			if acct, err = loadAccount(r, owner); err != nil {
				return err
			}
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
	// The balance changes per (owner, asset), in order of first
	// appearance: deterministic. A transfer touches few pairs.
	type delta struct {
		owner, asset string
		add, sub     uint64
	}
	var buf [4]delta
	deltas := buf[:0]
	find := func(owner, asset string) *delta {
		for i := range deltas {
			if deltas[i].owner == owner && deltas[i].asset == asset {
				return &deltas[i]
			}
		}
		deltas = append(deltas, delta{owner: owner, asset: asset})
		return &deltas[len(deltas)-1]
	}
	for i, in := range c.tx.Body.Transfer.Inputs {
		u := c.inputs[i]
		if err := spendUTXO(kv, in, u.Owner); err != nil {
			return err
		}
		find(u.Owner, u.Asset).sub += u.Amount
	}
	for i, out := range c.tx.Body.Transfer.Outputs {
		if err := addUTXO(kv, Outpoint{TxID: c.id, Index: uint32(i)}, out); err != nil {
			return err
		}
		find(out.Owner, out.Asset).add += out.Amount
	}
	for _, d := range deltas {
		if err := adjustBalance(kv, d.owner, d.asset, d.add, d.sub); err != nil {
			return err
		}
	}
	return nil
}

// events describe an applied transfer for indexers and websocket clients:
// one "transfer" event with every sender, recipient and asset (the txid is
// in the "consort" event of every result).
func (c *checkedTransfer) events() []Event {
	// The event and the attributes of a transfer from one account to one
	// or two come in one allocation.
	all := &struct {
		event [1]Event
		attrs [4]Attribute
	}{}
	attrs := all.attrs[:0]
	if n := len(c.owners) + len(c.targets) + len(c.assets); n > len(all.attrs) {
		attrs = make([]Attribute, 0, n)
	}
	for _, o := range c.owners {
		attrs = append(attrs, Attribute{Key: "sender", Value: o})
	}
	for _, o := range c.targets {
		attrs = append(attrs, Attribute{Key: "recipient", Value: o})
	}
	assets := c.assets
	if !slices.IsSorted(assets) {
		assets = slices.Sorted(slices.Values(assets))
	}
	for _, a := range assets {
		attrs = append(attrs, Attribute{Key: "asset", Value: a})
	}
	all.event[0] = Event{Type: "transfer", Attributes: attrs}
	return all.event[:]
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
