package app

import (
	"encoding/binary"
	"fmt"

	corestore "cosmossdk.io/core/store"
)

// Reader reads state: the working tree during a block, a committed version
// for CheckTx and queries.
type Reader interface {
	// Get returns the value at key, or nil when the key is absent.
	Get(key []byte) ([]byte, error)
}

// KV is state that a block may change.
type KV interface {
	Reader
	// Set writes value at key.
	Set(key, value []byte) error
	// Delete removes key; removing an absent key is not an error.
	Delete(key []byte) error
}

type emptyReader struct{}

func (emptyReader) Get([]byte) ([]byte, error) { return nil, nil }

// workingKV is the store's working tree as KV. Reads see the block's own
// writes first, then the committed values (through the value cache): a key
// the block has not written holds its committed value.
type workingKV struct{ store *Store }

func (w *workingKV) Iterator(start, end []byte, ascending bool) (corestore.Iterator, error) {
	w.store.workMu.Lock()
	defer w.store.workMu.Unlock()
	return w.store.tree.Iterator(start, end, ascending)
}

func (w *workingKV) Get(k []byte) ([]byte, error) {
	s := w.store
	s.workMu.Lock()
	defer s.workMu.Unlock()
	if v, ok := s.writes[string(k)]; ok {
		return v, nil
	}
	if indexed(k) {
		return s.cachedGet(s.tree.Version(), k, s.readIndex)
	}
	return s.cachedGet(s.tree.Version(), k, s.tree.Get)
}

func (w *workingKV) Set(k, v []byte) error {
	if len(v) == 0 {
		// ICS-23 cannot prove an empty value: an empty record is stored as
		// an absent key instead (see saveValidatorSet, encodePause). And a
		// nil value in writes means deleted.
		return fmt.Errorf("%w: empty value for key %q", ErrInternal, k)
	}
	w.store.workMu.Lock()
	defer w.store.workMu.Unlock()
	if !indexed(k) {
		if _, err := w.store.tree.Set(k, v); err != nil {
			return err
		}
	}
	w.store.writes[string(k)] = v
	return nil
}

func (w *workingKV) Delete(k []byte) error {
	w.store.workMu.Lock()
	defer w.store.workMu.Unlock()
	if !indexed(k) {
		if _, _, err := w.store.tree.Remove(k); err != nil {
			return err
		}
	}
	w.store.writes[string(k)] = nil
	return nil
}

// committedReader reads a committed version through the value cache.
type committedReader struct {
	version int64
	store   *Store
}

func (r committedReader) Get(k []byte) ([]byte, error) {
	if indexed(k) {
		return r.store.IndexGet(r.version, k)
	}
	return r.store.cachedGet(r.version, k, func(k []byte) ([]byte, error) { return r.store.readTree(r.version, k) })
}

func (r committedReader) Iterator(start, end []byte, ascending bool) (corestore.Iterator, error) {
	tree, err := r.store.Version(r.version)
	if err != nil {
		return nil, err
	}
	return tree.Iterator(start, end, ascending)
}

// scanPrefix calls fn for every key under prefix, in key order. Only rare
// governance checks scan; transactions read single keys.
func scanPrefix(r Reader, prefix string, fn func(key, value []byte) error) error {
	it, ok := r.(interface {
		Iterator(start, end []byte, ascending bool) (corestore.Iterator, error)
	})
	if !ok {
		return nil // the empty state before genesis
	}
	end := []byte(prefix)
	end[len(end)-1]++
	iter, err := it.Iterator([]byte(prefix), end, true)
	if err != nil {
		return internal(err, "scan "+prefix)
	}
	defer iter.Close()
	for ; iter.Valid(); iter.Next() {
		if err := fn(iter.Key(), iter.Value()); err != nil {
			return err
		}
	}
	if err := iter.Error(); err != nil {
		return internal(err, "scan "+prefix)
	}
	return nil
}

// Store keys. Names and asset ids cannot contain '/', so every prefix is
// unambiguous. They are documented in docs/wire-format.md for clients that
// verify query proofs.
const (
	prefixAccount = "account/"
	prefixAsset   = "asset/"
	prefixUTXO    = "utxo/"    // + txid(32) ‖ index(4, big-endian) → Output
	prefixOwner   = "owner/"   // + owner + "/" + txid ‖ index → empty marker
	prefixBalance = "balance/" // + owner + "/" + asset → Balance
	keyParams     = "params"
	keyChainID    = "chain_id"
	keyValidators = "validators" // → ValidatorSet, sorted by public key
)

func accountKey(name string) []byte { return []byte(prefixAccount + name) }
func assetKey(id string) []byte     { return []byte(prefixAsset + id) }
func utxoKey(o Outpoint) []byte {
	return appendOutpoint(make([]byte, 0, len(prefixUTXO)+36), prefixUTXO, o)
}
func ownerPrefix(owner string) []byte {
	return []byte(prefixOwner + owner + "/")
}

// ownerKey is ownerPrefix(owner) + the outpoint, built in one allocation:
// a transfer builds three (docs/benchmarks.md).
func ownerKey(owner string, o Outpoint) []byte {
	k := make([]byte, 0, len(prefixOwner)+len(owner)+1+36)
	k = append(append(append(k, prefixOwner...), owner...), '/')
	return appendOutpoint(k, "", o)
}

// appendOutpoint appends prefix and the outpoint's key bytes (txid ‖
// index, big-endian) to k.
func appendOutpoint(k []byte, prefix string, o Outpoint) []byte {
	k = append(append(k, prefix...), o.TxID[:]...)
	return binary.BigEndian.AppendUint32(k, o.Index)
}
func balanceKey(owner, asset string) []byte {
	return []byte(prefixBalance + owner + "/" + asset)
}

// ownerMarker is the value of an owner-index entry; IAVL needs a non-nil value.
var ownerMarker = []byte{1}

// Keys added with governance.
const (
	prefixRole   = "role/"   // + name → Role
	prefixNode   = "node/"   // + p2p node id → marker: the peer allowlist
	prefixPause  = "pause/"  // + asset id, or "*" for everything → Pause
	prefixUsed   = "used/"   // + txid → marker: a coinless transaction already included
	prefixSigner = "signer/" // + key type byte ‖ public key → the accounts holding that key
	globalPause  = "*"
)

func roleKey(name string) []byte { return []byte(prefixRole + name) }
func nodeKey(id string) []byte   { return []byte(prefixNode + id) }
func pauseKey(asset string) []byte {
	if asset == "" {
		asset = globalPause
	}
	return []byte(prefixPause + asset)
}
func usedKey(id TxID) []byte { return append([]byte(prefixUsed), id[:]...) }
func signerKey(kt KeyType, pub []byte) []byte {
	return append(append([]byte(prefixSigner), byte(kt)), pub...)
}
