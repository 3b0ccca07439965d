package client

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/consort-ledger/consort/app"
)

// ParseAccountKey reads a key of an account's key set written as
// TYPE:BASE64[:WEIGHT] — the keyring's text form of a public key
// (ed25519:…, p256:…) with an optional weight, 1 when left out.
func ParseAccountKey(s string) (app.AccountKey, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return app.AccountKey{}, fmt.Errorf("key %q: want TYPE:BASE64 or TYPE:BASE64:WEIGHT, e.g. ed25519:<base64>:1", s)
	}
	t, err := app.ParseKeyType(parts[0])
	if err != nil {
		return app.AccountKey{}, fmt.Errorf("key %q: %w", s, err)
	}
	pub, err := base64.StdEncoding.DecodeString(parts[1])
	if err != nil {
		return app.AccountKey{}, fmt.Errorf("key %q: public key: want standard base64", s)
	}
	if err := app.ValidatePublicKey(t, pub); err != nil {
		return app.AccountKey{}, fmt.Errorf("key %q: %w", s, err)
	}
	k := app.AccountKey{KeyType: t, PublicKey: pub, Weight: 1}
	if len(parts) == 3 {
		w, err := strconv.ParseUint(parts[2], 10, 32)
		if err != nil || w == 0 {
			return app.AccountKey{}, fmt.Errorf("key %q: weight %q: want a whole number from 1 to %d", s, parts[2], uint32(1<<32-1))
		}
		k.Weight = uint32(w)
	}
	return k, nil
}

// FormatPublicKey writes a key as TYPE:BASE64, the form ParseAccountKey reads.
func FormatPublicKey(t app.KeyType, pub []byte) string {
	return t.String() + ":" + base64.StdEncoding.EncodeToString(pub)
}

// EditKeys returns the key set current without the keys of remove (matched
// by type and public key; their weights are ignored) and with add appended,
// in that order, so removing and adding one key changes its weight. It
// refuses to remove a key that is not in the set, to add one that is, and
// to leave the set empty.
func EditKeys(current, add, remove []app.AccountKey) ([]app.AccountKey, error) {
	keys := slices.Clone(current)
	for _, r := range remove {
		i := indexKey(keys, r)
		if i < 0 {
			return nil, fmt.Errorf("remove %s: not a key of the account", FormatPublicKey(r.KeyType, r.PublicKey))
		}
		keys = slices.Delete(keys, i, i+1)
	}
	for _, a := range add {
		if indexKey(keys, a) >= 0 {
			return nil, fmt.Errorf("add %s: already a key of the account (remove it too, to change its weight)", FormatPublicKey(a.KeyType, a.PublicKey))
		}
		keys = append(keys, a)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("the account would have no key left")
	}
	return keys, nil
}

// TotalWeight sums the weights of keys.
func TotalWeight(keys []app.AccountKey) uint64 {
	var w uint64
	for _, k := range keys {
		w += uint64(k.Weight)
	}
	return w
}

func indexKey(keys []app.AccountKey, k app.AccountKey) int {
	return slices.IndexFunc(keys, func(x app.AccountKey) bool {
		return x.KeyType == k.KeyType && bytes.Equal(x.PublicKey, k.PublicKey)
	})
}
