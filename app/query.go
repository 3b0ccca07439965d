package app

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/cosmos/iavl"
)

// CodeNotFound answers a query for an account or asset that does not exist.
const CodeNotFound Code = 20

// ErrNotFound is the sentinel for CodeNotFound.
var ErrNotFound = newError(CodeNotFound, "not found")

// MaxUTXOsPerQuery bounds one /utxos answer; More says when there are more.
const MaxUTXOsPerQuery = 10_000

// QueryResult is the answer to a state query. For single-key paths Value is
// the stored record (schema in docs/proto) and Key its store key, so Proof
// (an ICS-23 commitment proof, membership or absence) can be checked against
// the app hash of block Height+1.
type QueryResult struct {
	Key    []byte
	Value  []byte
	Height int64
	Proof  []byte
}

// UTXOEntry is one unspent output with its outpoint.
type UTXOEntry struct {
	Outpoint Outpoint
	Output   Output
}

// Query answers path at a committed height (0 = latest):
//
//	/account/NAME          Account
//	/asset/ID              Asset
//	/balance/NAME/ASSET    Balance (absent = 0)
//	/params                Params
//	/validators            ValidatorSet
//	/validator_key/ADDRESS RetiredKey: a key that left the set by rotation or
//	                       for misbehaviour (ADDRESS: 40 hex digits)
//	/stats                 Stats (unspent outputs, accounts)
//	/role/NAME             Role
//	/node/ID               allowlist marker (absent: not allowed)
//	/pause/ASSET or /pause/*  Pause (absent: not paused)
//	/utxos/NAME[/ASSET]    UTXOList, no proof (it spans many keys)
//
// With prove, single-key answers carry a proof.
func (a *App) Query(path string, height int64, prove bool) (*QueryResult, error) {
	for attempt := 1; ; attempt++ {
		res, err := a.query(path, height, prove)
		if !errors.Is(err, ErrNotLatest) {
			return res, err
		}
		if height == 0 && attempt < 3 {
			continue // a block was committed between reading the height and the index
		}
		return nil, rejectf(ErrNotFound, "%v", err)
	}
}

func (a *App) query(path string, height int64, prove bool) (*QueryResult, error) {
	if height == 0 {
		height = a.store.Height()
	}
	if height == 0 {
		return nil, fmt.Errorf("%w: nothing committed yet", ErrNotFound)
	}
	tree, release, err := a.store.HoldVersion(height)
	if err != nil {
		return nil, rejectf(ErrNotFound, "%v", err)
	}
	defer release() // not pruned while it is read
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var key []byte
	switch {
	case len(parts) == 2 && parts[0] == "account":
		if err := ValidateAccountName(parts[1]); err != nil {
			return nil, err
		}
		key = accountKey(parts[1])
	case len(parts) == 2 && parts[0] == "asset":
		if err := ValidateAssetID(parts[1]); err != nil {
			return nil, err
		}
		key = assetKey(parts[1])
	case len(parts) == 3 && parts[0] == "balance":
		return a.queryBalance(tree, parts[1], parts[2])
	case len(parts) == 1 && parts[0] == "params":
		key = []byte(keyParams)
	case len(parts) == 1 && parts[0] == "validators":
		key = []byte(keyValidators)
	case len(parts) == 2 && parts[0] == "validator_key":
		addr, err := hex.DecodeString(parts[1])
		if err != nil || len(addr) != 20 {
			return nil, rejectf(ErrInvalidField, "validator address %s: want 40 hex digits", quote(parts[1]))
		}
		key = validatorKeyKey(addr)
	case len(parts) == 1 && parts[0] == "stats":
		key = []byte(keyStats)
	case len(parts) == 2 && parts[0] == "role":
		key = roleKey(parts[1])
	case len(parts) == 2 && parts[0] == "node":
		if err := ValidateNodeID(parts[1]); err != nil {
			return nil, err
		}
		key = nodeKey(parts[1])
	case len(parts) == 2 && parts[0] == "pause":
		if parts[1] != globalPause {
			if err := ValidateAssetID(parts[1]); err != nil {
				return nil, err
			}
		}
		key = []byte(prefixPause + parts[1])
	case (len(parts) == 2 || len(parts) == 3) && parts[0] == "utxos":
		asset := ""
		if len(parts) == 3 {
			asset = parts[2]
		}
		return a.queryUTXOs(tree, parts[1], asset)
	default:
		return nil, rejectf(ErrInvalidField, "unknown query path %s; want /account/NAME, /asset/ID, /balance/NAME/ASSET, /params, /utxos/NAME[/ASSET], /validators, /validator_key/ADDRESS, /stats, /role/NAME, /node/ID or /pause/ASSET|*", quote(path))
	}
	value, err := tree.Get(key)
	if err != nil {
		return nil, internal(err, path)
	}
	res := &QueryResult{Key: key, Value: value, Height: height}
	if prove {
		if res.Proof, err = proveKey(tree, key, value != nil); err != nil {
			return nil, err
		}
	}
	// An absent pause is "not paused", an absent validator set is empty:
	// answers, not errors.
	if value == nil && parts[0] != "pause" && parts[0] != "validators" {
		return res, rejectf(ErrNotFound, "%s", strings.Replace(strings.TrimPrefix(path, "/"), "/", " ", 1))
	}
	return res, nil
}

func mustExist(tree *iavl.ImmutableTree, key []byte, what string) error {
	ok, err := tree.Has(key)
	if err != nil {
		return internal(err, what)
	}
	if !ok {
		return rejectf(ErrNotFound, "%s", what)
	}
	return nil
}

func proveKey(tree *iavl.ImmutableTree, key []byte, exists bool) ([]byte, error) {
	var proof interface{ Marshal() ([]byte, error) }
	var err error
	if exists {
		proof, err = tree.GetMembershipProof(key)
	} else {
		proof, err = tree.GetNonMembershipProof(key)
	}
	if err != nil {
		return nil, internal(err, "proof")
	}
	b, err := proof.Marshal()
	if err != nil {
		return nil, internal(err, "proof")
	}
	return b, nil
}

// queryBalance answers from the index (index.go), for the latest height
// only and without a proof: an absent balance is 0.
func (a *App) queryBalance(tree *iavl.ImmutableTree, owner, asset string) (*QueryResult, error) {
	if err := ValidateAccountName(owner); err != nil {
		return nil, err
	}
	if err := ValidateAssetID(asset); err != nil {
		return nil, err
	}
	if err := mustExist(tree, accountKey(owner), "account "+owner); err != nil {
		return nil, err
	}
	if err := mustExist(tree, assetKey(asset), "asset "+asset); err != nil {
		return nil, err
	}
	key := balanceKey(owner, asset)
	value, err := a.store.IndexGet(tree.Version(), key)
	if errors.Is(err, ErrNotLatest) {
		return nil, err
	}
	if err != nil {
		return nil, internal(err, "balance of "+owner)
	}
	return &QueryResult{Key: key, Value: value, Height: tree.Version()}, nil
}

func (a *App) queryUTXOs(tree *iavl.ImmutableTree, owner, asset string) (*QueryResult, error) {
	if err := ValidateAccountName(owner); err != nil {
		return nil, err
	}
	if asset != "" {
		if err := ValidateAssetID(asset); err != nil {
			return nil, err
		}
		if err := mustExist(tree, assetKey(asset), "asset "+asset); err != nil {
			return nil, err
		}
	}
	if err := mustExist(tree, accountKey(owner), "account "+owner); err != nil {
		return nil, err
	}
	prefix := ownerPrefix(owner)
	var list []UTXOEntry
	more := false
	errEnough := errors.New("enough")
	err := a.store.ScanIndex(tree.Version(), prefix, func(key, _ []byte) error {
		k := key[len(prefix):]
		if len(k) != 36 {
			return internal(errors.New("bad owner index key"), "utxos of "+owner)
		}
		var o Outpoint
		copy(o.TxID[:], k[:32])
		o.Index = binary.BigEndian.Uint32(k[32:])
		out, err := loadUTXO(tree, o)
		if err != nil || out == nil {
			return internal(fmt.Errorf("owner index names missing utxo %s", o), "utxos of "+owner)
		}
		if asset != "" && out.Asset != asset {
			return nil
		}
		if len(list) == MaxUTXOsPerQuery {
			more = true
			return errEnough
		}
		list = append(list, UTXOEntry{Outpoint: o, Output: *out})
		return nil
	})
	switch {
	case errors.Is(err, ErrNotLatest), errors.Is(err, ErrInternal):
		return nil, err
	case err != nil && err != errEnough:
		return nil, internal(err, "utxos of "+owner)
	}
	return &QueryResult{Value: EncodeUTXOList(list, more), Height: tree.Version()}, nil
}

// EncodeUTXOList writes message UTXOList { repeated UTXOEntry utxos = 1; bool more = 2; }.
func EncodeUTXOList(list []UTXOEntry, more bool) []byte {
	var e encoder
	for _, u := range list {
		e.message(1, true, func(e *encoder) {
			e.message(1, true, func(e *encoder) { encodeOutpoint(e, u.Outpoint) })
			e.message(2, true, func(e *encoder) { encodeOutput(e, u.Output) })
		})
	}
	if more {
		e.uint(2, 1)
	}
	return e.buf
}

// DecodeUTXOList parses the value of a /utxos query.
func DecodeUTXOList(b []byte) (list []UTXOEntry, more bool, err error) {
	err = decodeFields(b, func(d *decoder, num int) error {
		switch num {
		case 1:
			return d.message("utxo_list.utxos", func(raw []byte) error {
				u, err := decodeUTXOEntry(raw)
				list = append(list, u)
				return err
			})
		case 2:
			v, err := d.uint("utxo_list.more")
			more = v != 0
			return err
		}
		return unknownField("UTXOList", num)
	})
	if err != nil {
		return nil, false, err
	}
	return list, more, nil
}

func decodeUTXOEntry(b []byte) (UTXOEntry, error) {
	var u UTXOEntry
	err := decodeFields(b, func(d *decoder, num int) error {
		return d.message("utxo_entry", func(raw []byte) (err error) {
			switch num {
			case 1:
				u.Outpoint, err = decodeOutpoint(raw)
			case 2:
				u.Output, err = DecodeOutput(raw)
			default:
				err = unknownField("UTXOEntry", num)
			}
			return err
		})
	})
	return u, err
}
