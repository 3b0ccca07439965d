package app

import (
	"bytes"
	"fmt"
	"slices"
	"sync/atomic"
)

// Typed access to the records in state. A read error is never the sender's
// fault, so it is wrapped as ErrInternal: FinalizeBlock halts on it instead of
// turning a disk problem into a result code that other nodes would not share.

func internal(err error, what string) error {
	return fmt.Errorf("%w: read %s: %v", ErrInternal, what, err)
}

func loadAccount(r Reader, name string) (*Account, error) {
	b, err := r.Get(accountKey(name))
	if err != nil {
		return nil, internal(err, "account "+name)
	}
	if b == nil {
		return nil, nil
	}
	a, err := DecodeAccount(b)
	if err != nil {
		return nil, internal(err, "account "+name)
	}
	return a, nil
}

func loadAsset(r Reader, id string) (*Asset, error) {
	b, err := r.Get(assetKey(id))
	if err != nil {
		return nil, internal(err, "asset "+id)
	}
	if b == nil {
		return nil, nil
	}
	a, err := DecodeAsset(b)
	if err != nil {
		return nil, internal(err, "asset "+id)
	}
	return a, nil
}

func loadUTXO(r Reader, o Outpoint) (*Output, error) {
	out, found, err := getUTXO(r, o)
	if !found || err != nil {
		return nil, err
	}
	return &out, nil
}

// getUTXO is loadUTXO for callers that keep the coin by value (no
// allocation for it); found is false when the coin does not exist.
func getUTXO(r Reader, o Outpoint) (out Output, found bool, err error) {
	b, err := r.Get(utxoKey(o))
	if err != nil {
		return Output{}, false, internal(err, "utxo "+o.String())
	}
	if b == nil {
		return Output{}, false, nil
	}
	if out, err = DecodeOutput(b); err != nil {
		return Output{}, false, internal(err, "utxo "+o.String())
	}
	return out, true, nil
}

func loadBalance(r Reader, owner, asset string) (uint64, error) {
	b, err := r.Get(balanceKey(owner, asset))
	if err != nil {
		return 0, internal(err, "balance "+owner+"/"+asset)
	}
	v, err := DecodeBalance(b)
	if err != nil {
		return 0, internal(err, "balance "+owner+"/"+asset)
	}
	return v, nil
}

// LoadParams reads the consensus params.
func LoadParams(r Reader) (Params, error) {
	p, err := loadParams(r)
	p.Modules = slices.Clone(p.Modules)
	return p, err
}

// lastParams is the last params record loadParams decoded, with its
// bytes: every transaction reads the params, which only governance
// changes. Decoding is a pure function of the bytes, so a hit cannot
// change a result. Shared by every App of the process (they may run on
// separate goroutines); an entry is never changed once stored.
var lastParams atomic.Pointer[decodedParams]

type decodedParams struct {
	raw    []byte
	params Params
}

// loadParams is LoadParams whose Modules may be shared with other
// callers: they must not change its elements. (Its capacity is its
// length, so an append copies it.)
func loadParams(r Reader) (Params, error) {
	b, err := r.Get([]byte(keyParams))
	if err != nil {
		return Params{}, internal(err, "params")
	}
	if b == nil {
		return Params{}, fmt.Errorf("%w: params missing: chain not initialised", ErrInternal)
	}
	if last := lastParams.Load(); last != nil && bytes.Equal(last.raw, b) {
		return last.params, nil
	}
	p, err := DecodeParams(b)
	if err != nil {
		return Params{}, internal(err, "params")
	}
	p.Modules = slices.Clip(p.Modules)
	lastParams.Store(&decodedParams{raw: bytes.Clone(b), params: *p})
	return *p, nil
}

// LoadChainID reads the chain id fixed at genesis.
func LoadChainID(r Reader) (string, error) {
	b, err := loadChainIDBytes(r)
	return string(b), err
}

// loadChainIDBytes is LoadChainID as the stored bytes, which the caller
// must not change: comparing them with a string needs no copy.
func loadChainIDBytes(r Reader) ([]byte, error) {
	b, err := r.Get([]byte(keyChainID))
	if err != nil {
		return nil, internal(err, "chain id")
	}
	return b, nil
}

func saveAccount(kv KV, a *Account) error { return kv.Set(accountKey(a.Name), encodeAccount(a)) }
func saveAsset(kv KV, a *Asset) error     { return kv.Set(assetKey(a.ID), encodeAsset(a)) }

// addUTXO creates an unspent output and its owner-index entry.
func addUTXO(kv KV, o Outpoint, out Output) error {
	if err := kv.Set(utxoKey(o), EncodeOutput(out)); err != nil {
		return err
	}
	return kv.Set(ownerKey(out.Owner, o), ownerMarker)
}

// spendUTXO removes an unspent output and its owner-index entry.
func spendUTXO(kv KV, o Outpoint, owner string) error {
	if err := kv.Delete(utxoKey(o)); err != nil {
		return err
	}
	return kv.Delete(ownerKey(owner, o))
}

// adjustBalance adds delta (which may be negative through sub) to a balance.
// Balances are kept beside the UTXOs so that a balance query can carry one
// Merkle proof; an empty balance is removed rather than stored as zero.
func adjustBalance(kv KV, owner, asset string, add, sub uint64) error {
	key := balanceKey(owner, asset)
	b, err := kv.Get(key)
	if err != nil {
		return internal(err, "balance "+owner+"/"+asset)
	}
	cur, err := DecodeBalance(b)
	if err != nil {
		return internal(err, "balance "+owner+"/"+asset)
	}
	next, ok := addAmount(cur, add)
	if !ok || next < sub {
		return fmt.Errorf("%w: balance of %s in %s would leave 0..2^64-1", ErrInternal, owner, asset)
	}
	next -= sub
	if next == 0 {
		return kv.Delete(key)
	}
	return kv.Set(key, encodeBalance(next))
}
