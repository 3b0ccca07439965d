package app

import (
	"errors"
	"fmt"
	"slices"

	"github.com/consort-ledger/consort/policy"
)

// SpentFunc reports whether an outpoint is already spent by something the
// state does not show yet: another mempool transaction in CheckTx, an earlier
// transaction of the same proposal in Prepare/ProcessProposal. Nil means
// nothing is pending.
type SpentFunc func(Outpoint) bool

// ValidatorUpdate is a change of the validator set for CometBFT.
type ValidatorUpdate struct {
	PublicKey []byte // ed25519
	Power     int64  // 0 removes
}

// execution is a transaction that passed the ledger's own rules, with the
// policy rules its message needs (run by the policy module) and how to
// apply it.
type execution struct {
	tx        *Tx
	id        TxID
	authorize func() error
	apply     func(kv KV) error
	events    []Event
}

// blockContext is what the rules need beyond state: the height the
// transaction is included at, and the validator set as the block found it
// with the changes its earlier transactions made (the one-third rule counts
// all changes of a block together).
type blockContext struct {
	height     int64
	modules    []Module                // the modules this node has
	startSet   []policy.ValidatorPower // loaded at the first validator change
	started    bool
	valChanges []policy.ValidatorPower
	netUpdates []policy.ValidatorPower // what the changes so far amount to, per key
	// Updates decided outside the one-third rule (rotations, misbehaviour)
	// and the keys they touch, which nothing else may change in the block.
	fixedUpdates []policy.ValidatorPower
	fixed        map[string]bool
	// checkOnly is set when the transaction is only validated (mempool,
	// proposals): nothing reads the events of its execution.
	checkOnly bool
}

// validate decodes txBytes and checks every rule against r as if included
// at height, without changing anything. The error wraps one of the
// sentinels, whose code is the result.
func (a *App) validate(r Reader, txBytes []byte, decoded *Tx, spent SpentFunc, height int64) (*Tx, error) {
	ex, err := check(r, txBytes, decoded, spent, &blockContext{height: height, modules: a.modules, checkOnly: true})
	if err != nil {
		return nil, err
	}
	return ex.tx, nil
}

// ModuleError is a rejection by a validation module.
type ModuleError struct {
	Module string
	Err    error
}

func (e *ModuleError) Error() string { return e.Err.Error() }
func (e *ModuleError) Unwrap() error { return e.Err }

// ModuleOf names the module that rejected a transaction, or "" when the
// ledger's own rules did.
func ModuleOf(err error) string {
	var me *ModuleError
	if errors.As(err, &me) {
		return me.Module
	}
	return ""
}

// check runs the rules common to every transaction and then those of its
// message. decoded, when not nil, is txBytes already decoded by DecodeTx
// (a pure function of the bytes): the caller saves decoding again.
func check(r Reader, txBytes []byte, decoded *Tx, spent SpentFunc, blk *blockContext) (*execution, error) {
	params, err := loadParams(r) // shared: read only
	if err != nil {
		return nil, err
	}
	if len(txBytes) > int(params.MaxTxBytes) {
		return nil, rejectf(ErrTooLarge, "%d bytes, limit %d", len(txBytes), params.MaxTxBytes)
	}
	tx := decoded
	if tx == nil {
		if tx, err = DecodeTx(txBytes); err != nil {
			return nil, err
		}
	}
	chainID, err := loadChainIDBytes(r)
	if err != nil {
		return nil, err
	}
	if tx.Body.ChainID != string(chainID) {
		return nil, rejectf(ErrWrongChainID, "transaction is for chain %s, this is %s", quote(tx.Body.ChainID), quote(string(chainID)))
	}
	rememberChainID(tx.Body.ChainID)
	switch {
	case len(tx.Body.Memo) > int(params.MaxMemoBytes):
		return nil, rejectf(ErrTooLarge, "memo is %d bytes, limit %d", len(tx.Body.Memo), params.MaxMemoBytes)
	case len(tx.Signatures) > int(params.MaxSignatures):
		return nil, rejectf(ErrTooLarge, "%d signatures, limit %d", len(tx.Signatures), params.MaxSignatures)
	}
	var ex *execution
	coinless := tx.Body.Transfer == nil && tx.Body.Burn == nil
	switch b := tx.Body; {
	case b.Transfer != nil:
		ex, err = checkTransfer(r, tx, params, spent, blk)
	case b.Burn != nil:
		ex, err = checkBurn(r, tx, params, spent, blk)
	default:
		// Mint and governance spend no coin: only the record of their txid
		// stops a second inclusion (the chain id in the body stops it
		// elsewhere).
		used, gerr := r.Get(usedKey(tx.ID()))
		switch {
		case gerr != nil:
			return nil, internal(gerr, "used txids")
		case used != nil:
			return nil, rejectf(ErrReplay, "transaction %s was already included; use a new nonce to repeat the action", tx.ID())
		case b.Mint != nil:
			ex, err = checkMint(r, tx, blk)
		default:
			ex, err = checkAction(r, tx, params, blk)
		}
	}
	if err != nil {
		return nil, err
	}
	// The modules get params of their own: a module that changed them
	// must not change what the next transaction is checked with. The
	// context and (when short) its module list are one allocation.
	all := &struct {
		ctx     TxContext
		modules [4]string
	}{}
	ctx := &all.ctx
	*ctx = TxContext{State: r, Tx: tx, ID: ex.id, Params: params, Height: blk.height, authorize: ex.authorize}
	if n := len(params.Modules); n > 0 && n <= len(all.modules) {
		ctx.Params.Modules = all.modules[:n:n]
		copy(ctx.Params.Modules, params.Modules)
	} else {
		ctx.Params.Modules = slices.Clone(params.Modules)
	}
	for _, name := range params.Modules {
		m := findModule(blk.modules, name)
		if m == nil {
			return nil, fmt.Errorf("%w: params name module %s, which this node lacks", ErrInternal, quote(name))
		}
		if err := m.Check(ctx); err != nil {
			if CodeOf(err) == CodeInternal {
				return nil, err
			}
			return nil, &ModuleError{Module: name, Err: err}
		}
	}
	if coinless {
		apply, id := ex.apply, ex.id
		ex.apply = func(kv KV) error {
			if err := kv.Set(usedKey(id), ownerMarker); err != nil {
				return err
			}
			return apply(kv)
		}
	}
	return ex, nil
}

func findModule(modules []Module, name string) Module {
	for _, m := range modules {
		if m.Name() == name {
			return m
		}
	}
	return nil
}

// signers are the accounts that signed a coinless transaction: every
// account holding a signing key, with the weight of its keys that signed.
type signers struct {
	approving []*Account // threshold met and not frozen, sorted by name
}

// resolveSigners finds, through the key index, the accounts whose
// threshold the signatures meet. Each signature must count for at least one
// of them. (The signature module verifies the signatures themselves.)
func resolveSigners(r Reader, tx *Tx) (*signers, error) {
	seen := map[string]bool{}
	var names []string
	holders := make([][]string, len(tx.Signatures))
	for i, s := range tx.Signatures {
		hs, err := keyHolders(r, s.KeyType, s.PublicKey)
		if err != nil {
			return nil, err
		}
		if len(hs) == 0 {
			return nil, rejectf(ErrUnexpectedSigner, "signature %d is by %x, a key of no account", i, s.PublicKey)
		}
		holders[i] = hs
		for _, h := range hs {
			if !seen[h] {
				seen[h] = true
				names = append(names, h)
			}
		}
	}
	slices.Sort(names)
	out := &signers{}
	approved := map[string]bool{}
	frozen := map[string]bool{}
	for _, name := range names {
		acct, err := loadAccount(r, name)
		if err != nil {
			return nil, err
		}
		if acct == nil {
			return nil, internal(fmt.Errorf("indexed account %s does not exist", name), "key index")
		}
		var w uint64
		for _, s := range tx.Signatures {
			if kw, ok := keyWeight(acct, s); ok {
				w += uint64(kw)
			}
		}
		switch {
		case acct.Status == StatusFrozen:
			frozen[name] = true
		case w >= uint64(acct.Threshold):
			out.approving = append(out.approving, acct)
			approved[name] = true
		}
	}
	for i, hs := range holders {
		counted := false
		for _, h := range hs {
			counted = counted || approved[h]
		}
		if !counted && slices.ContainsFunc(hs, func(h string) bool { return frozen[h] }) {
			return nil, rejectf(ErrAccountFrozen, "signature %d is by a key of frozen account(s) %v, which cannot sign", i, hs)
		}
		if !counted {
			return nil, rejectf(ErrUnexpectedSigner, "signature %d (%x) completes no account's threshold (accounts %v, frozen or short of signatures)", i, tx.Signatures[i].PublicKey, hs)
		}
	}
	if len(out.approving) == 0 {
		return nil, rejectf(ErrThresholdNotMet, "no account's signature threshold is met")
	}
	return out, nil
}

// approvers returns the signing accounts in policy's terms, and the set of
// roles they hold.
func (s *signers) approvers(r Reader) ([]policy.Approver, policy.RoleSet, error) {
	roles, err := rolesOf(r, s.approving)
	if err != nil {
		return nil, policy.RoleSet{}, err
	}
	out := make([]policy.Approver, len(s.approving))
	for i, a := range s.approving {
		out[i] = approverOf(a)
	}
	return out, roles, nil
}
