package app

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/crypto/tmhash"

	"github.com/consort-ledger/consort/policy"
)

// Validator keys leave the set two ways besides governance: the validator's
// operator rotates to a new key, or CometBFT reports misbehaviour by the
// key and the ledger takes its power away. Either way the ledger keeps a
// record of the retired key under its CometBFT address, so evidence about
// an old key still finds its validator.

const prefixValidatorKey = "valkey/" // + hex(validator address) → RetiredKey

func validatorKeyKey(addr []byte) []byte {
	return []byte(prefixValidatorKey + hex.EncodeToString(addr))
}

// ValidatorAddress is CometBFT's address of an ed25519 validator key: the
// first 20 bytes of its SHA-256.
func ValidatorAddress(pub []byte) []byte { return tmhash.SumTruncated(pub) }

// RetiredKey is the ledger's record of a validator key that left the set
// by rotation or for misbehaviour.
type RetiredKey struct {
	Validator string // the validator's name when the key retired
	KeyType   string
	PublicKey []byte
	Successor []byte // the key it was rotated to; empty when removed for misbehaviour
	Height    int64  // the block that retired it
	Reason    string // "rotated", or the misbehaviour, e.g. "duplicate_vote at height 41"
}

func encodeRetiredKey(k *RetiredKey) []byte {
	var e encoder
	e.string(1, k.Validator)
	e.string(2, k.KeyType)
	e.bytes(3, k.PublicKey)
	e.bytes(4, k.Successor)
	e.uint(5, uint64(k.Height))
	e.string(6, k.Reason)
	return e.buf
}

// DecodeRetiredKey parses the value of a /validator_key query.
func DecodeRetiredKey(b []byte) (*RetiredKey, error) {
	k := &RetiredKey{}
	err := decodeFields(b, func(d *decoder, num int) (err error) {
		switch num {
		case 1:
			k.Validator, err = d.string("retired_key.validator")
		case 2:
			k.KeyType, err = d.string("retired_key.key_type")
		case 3:
			k.PublicKey, err = d.bytes("retired_key.public_key")
		case 4:
			k.Successor, err = d.bytes("retired_key.successor")
		case 5:
			k.Height, err = d.int64("retired_key.height")
		case 6:
			k.Reason, err = d.string("retired_key.reason")
		default:
			err = unknownField("RetiredKey", num)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

func loadRetiredKey(r Reader, addr []byte) (*RetiredKey, error) {
	b, err := r.Get(validatorKeyKey(addr))
	if err != nil {
		return nil, internal(err, "retired validator key")
	}
	if b == nil {
		return nil, nil
	}
	k, err := DecodeRetiredKey(b)
	if err != nil {
		return nil, internal(err, "retired validator key")
	}
	return k, nil
}

// RotateValidatorKey replaces a validator's consensus key with a new one at
// the same power. The validator's operator account signs it (or governance
// approves it); Proof is the new key's signature of
// RotationProofMessage, so nobody can move a validator to a key they do
// not hold.
type RotateValidatorKey struct {
	CurrentKey []byte // ed25519, in the set now
	NewKey     []byte // ed25519, never used by a validator before
	Proof      []byte
}

func (*RotateValidatorKey) fieldNum() int { return 36 }

func (a *RotateValidatorKey) encode(e *encoder) {
	e.bytes(1, a.CurrentKey)
	e.bytes(2, a.NewKey)
	e.bytes(3, a.Proof)
}

func (a *RotateValidatorKey) decode(b []byte) error {
	return decodeFields(b, func(d *decoder, num int) (err error) {
		switch num {
		case 1:
			a.CurrentKey, err = d.bytes("rotate_validator_key.current_key")
		case 2:
			a.NewKey, err = d.bytes("rotate_validator_key.new_key")
		case 3:
			a.Proof, err = d.bytes("rotate_validator_key.proof")
		default:
			err = unknownField("RotateValidatorKey", num)
		}
		return err
	})
}

// RotationProofMessage is what the new key signs to prove it is held by
// whoever asks for the rotation: bound to the chain and to both keys, so a
// proof cannot be replayed elsewhere.
func RotationProofMessage(chainID string, currentKey, newKey []byte) []byte {
	var e encoder
	e.string(1, "consort/rotate-validator-key/v1")
	e.string(2, chainID)
	e.bytes(3, currentKey)
	e.bytes(4, newKey)
	return e.buf
}

// operator names the account that may rotate the key on its own.
func (a *RotateValidatorKey) operator(r Reader) (string, error) {
	set, err := LoadValidators(r)
	if err != nil {
		return "", err
	}
	i := slices.IndexFunc(set, func(v Validator) bool { return bytes.Equal(v.PublicKey, a.CurrentKey) })
	if i < 0 {
		return "", nil
	}
	return set[i].Operator, nil
}

func (a *RotateValidatorKey) check(r Reader, blk *blockContext, _ Params) (func(KV) error, string, error) {
	for _, k := range [][]byte{a.CurrentKey, a.NewKey} {
		if len(k) != cmted25519.PubKeySize {
			return nil, "", rejectf(ErrInvalidAction, "validator key is %d bytes, want a %d-byte ed25519 key", len(k), cmted25519.PubKeySize)
		}
	}
	if bytes.Equal(a.CurrentKey, a.NewKey) {
		return nil, "", rejectf(ErrInvalidAction, "the new validator key is the current one")
	}
	chainID, err := LoadChainID(r)
	if err != nil {
		return nil, "", err
	}
	if !cmted25519.PubKey(a.NewKey).VerifySignature(RotationProofMessage(chainID, a.CurrentKey, a.NewKey), a.Proof) {
		return nil, "", rejectf(ErrInvalidAction, "the proof of possession does not verify with the new key %X", a.NewKey)
	}
	set, err := LoadValidators(r)
	if err != nil {
		return nil, "", err
	}
	i := slices.IndexFunc(set, func(v Validator) bool { return bytes.Equal(v.PublicKey, a.CurrentKey) })
	if i < 0 {
		return nil, "", rejectf(ErrValidatorChange, "%X is not a validator (now)", a.CurrentKey)
	}
	if slices.ContainsFunc(set, func(v Validator) bool { return bytes.Equal(v.PublicKey, a.NewKey) }) {
		return nil, "", rejectf(ErrValidatorChange, "%X is already a validator's key", a.NewKey)
	}
	if old, err := loadRetiredKey(r, ValidatorAddress(a.NewKey)); err != nil {
		return nil, "", err
	} else if old != nil {
		return nil, "", rejectf(ErrValidatorChange, "%X was a validator key before (%s at height %d): a retired key cannot return", a.NewKey, old.Reason, old.Height)
	}
	if blk.fixed[string(a.CurrentKey)] || changedInBlock(blk, a.CurrentKey) {
		return nil, "", rejectf(ErrValidatorChange, "validator %X already changed in this block; rotate it in a later block", a.CurrentKey)
	}
	v := set[i]
	return func(kv KV) error {
		set[i].PublicKey = a.NewKey
		if err := saveValidatorSet(kv, set); err != nil {
			return err
		}
		retired := &RetiredKey{Validator: v.Name, KeyType: v.KeyType, PublicKey: a.CurrentKey, Successor: a.NewKey, Height: blk.height, Reason: "rotated"}
		if err := kv.Set(validatorKeyKey(ValidatorAddress(a.CurrentKey)), encodeRetiredKey(retired)); err != nil {
			return err
		}
		// The power moves from one key to the other of the same
		// validator: not a change the one-third rule counts, so the
		// block's start set is read as if it had the new key already.
		if blk.started {
			for j := range blk.startSet {
				if blk.startSet[j].Key == string(a.CurrentKey) {
					blk.startSet[j].Key = string(a.NewKey)
				}
			}
		}
		blk.fix(policy.ValidatorPower{Key: string(a.CurrentKey), Power: 0}, policy.ValidatorPower{Key: string(a.NewKey), Power: v.Power})
		return nil
	}, fmt.Sprintf("%s %X", v.Name, a.NewKey), nil
}

func changedInBlock(blk *blockContext, key []byte) bool {
	return slices.ContainsFunc(blk.valChanges, func(c policy.ValidatorPower) bool { return c.Key == string(key) })
}

// fix records validator updates decided outside the one-third rule
// (rotations, misbehaviour); no other change may touch those keys in the
// same block, since CometBFT takes one update per key.
func (blk *blockContext) fix(updates ...policy.ValidatorPower) {
	if blk.fixed == nil {
		blk.fixed = map[string]bool{}
	}
	for _, u := range updates {
		blk.fixed[u.Key] = true
		blk.fixedUpdates = append(blk.fixedUpdates, u)
	}
}

// validatorUpdates merges the block's governance changes with its fixed
// updates, sorted by key.
func (blk *blockContext) validatorUpdates() []ValidatorUpdate {
	all := append(slices.Clone(blk.netUpdates), blk.fixedUpdates...)
	if len(all) == 0 {
		return nil
	}
	slices.SortFunc(all, func(a, b policy.ValidatorPower) int { return bytes.Compare([]byte(a.Key), []byte(b.Key)) })
	out := make([]ValidatorUpdate, len(all))
	for i, u := range all {
		out[i] = ValidatorUpdate{PublicKey: []byte(u.Key), Power: u.Power}
	}
	return out
}

// Misbehaviour is evidence CometBFT committed in a block against a
// validator address.
type Misbehaviour struct {
	Kind    string // "duplicate_vote" or "light_client_attack"
	Address []byte // the validator's 20-byte address
	Height  int64  // the height of the offence
}

// Punishment is what the ledger did about one misbehaviour.
type Punishment struct {
	Validator string
	PublicKey []byte // the key whose power was taken away; empty if none
	Reason    string
	Applied   bool   // false: the validator was already gone, or is the last one
	Note      string // why not applied
}

// punish takes the power of each misbehaving validator away before the
// block's transactions run. Evidence against a rotated-out key follows the
// rotation to the validator's current key. The last validator keeps its
// power: an empty set would halt the chain for good.
func punish(kv KV, blk *blockContext, evidence []Misbehaviour) ([]Punishment, error) {
	var out []Punishment
	for _, m := range evidence {
		reason := fmt.Sprintf("%s at height %d", m.Kind, m.Height)
		set, err := LoadValidators(kv)
		if err != nil {
			return nil, err
		}
		key, err := currentKeyOf(kv, set, m.Address)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(set, func(v Validator) bool { return key != nil && bytes.Equal(v.PublicKey, key) })
		switch {
		case i < 0:
			out = append(out, Punishment{Reason: reason, Note: fmt.Sprintf("no validator holds address %X any more", m.Address)})
			continue
		case len(set) == 1:
			out = append(out, Punishment{Validator: set[i].Name, PublicKey: key, Reason: reason, Note: "the last validator keeps its power: an empty set halts the chain"})
			continue
		}
		v := set[i]
		set = slices.Delete(set, i, i+1)
		if err := saveValidatorSet(kv, set); err != nil {
			return nil, err
		}
		retired := &RetiredKey{Validator: v.Name, KeyType: v.KeyType, PublicKey: v.PublicKey, Height: blk.height, Reason: reason}
		if err := kv.Set(validatorKeyKey(ValidatorAddress(v.PublicKey)), encodeRetiredKey(retired)); err != nil {
			return nil, err
		}
		blk.fix(policy.ValidatorPower{Key: string(v.PublicKey), Power: 0})
		out = append(out, Punishment{Validator: v.Name, PublicKey: v.PublicKey, Reason: reason, Applied: true})
	}
	return out, nil
}

// currentKeyOf finds the key now in set for a validator address, following
// rotations; nil when the address belongs to no validator in set.
func currentKeyOf(r Reader, set []Validator, addr []byte) ([]byte, error) {
	seen := map[string]bool{}
	for !seen[string(addr)] { // a retired key never returns, so no cycle; seen guards anyway
		seen[string(addr)] = true
		for _, v := range set {
			if bytes.Equal(ValidatorAddress(v.PublicKey), addr) {
				return v.PublicKey, nil
			}
		}
		old, err := loadRetiredKey(r, addr)
		if err != nil || old == nil || len(old.Successor) == 0 {
			return nil, err
		}
		addr = ValidatorAddress(old.Successor)
	}
	return nil, nil
}
