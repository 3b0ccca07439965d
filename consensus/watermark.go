package consensus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/consort-ledger/consort/certs"
)

// StorePrefix is where the shared records of every validator key live in a
// VersionedStore (Vault KV v2: mount "secret", paths
// consort/validators/KEY/watermark and consort/validators/KEY/schedule).
const StorePrefix = "consort/validators/"

// maxCASAttempts bounds how often one request re-reads the watermark after
// losing a check-and-set. Each loss means another signer of the same
// validator advanced it, so a few are plenty; more is a livelock better
// reported than spun on.
const maxCASAttempts = 16

// StorePath is the folder of validator key keyName's shared records in a
// VersionedStore: StorePrefix + keyName.
func StorePath(keyName string) string { return StorePrefix + keyName }

func watermarkKey(keyName string) string { return StorePath(keyName) + "/watermark" }

// watermark is the highest position any signer of one validator has
// claimed, with the exact bytes claimed there. It is shared by every signer
// of the validator (an active one and its standbys) through a
// VersionedStore.
//
// Why two signers sharing it can never release different signatures for
// one height, round and step (HRS):
//
//  1. The store's check-and-set makes its writes a single sequence: a write
//     names the version it read and fails if anyone wrote in between.
//  2. A signer writes the watermark only to a strictly higher HRS than the
//     one it read at that version (claimWatermark). So along that sequence
//     the HRS only goes up, and each HRS is written at most once, with one
//     value of sign bytes: a second write of the same HRS would have had
//     to read a lower HRS at the newest version, but the newest version
//     already holds that HRS or a higher one.
//  3. A signer releases a signature over bytes B at HRS p only after it
//     either wrote (p, B) itself or read (p, B) as the stored value
//     (claimWatermark returns nil in exactly these two cases; a lower
//     stored HRS is written over first, a higher one or the same HRS with
//     other bytes is a refusal). The local sign state may also re-release
//     the signature it stored, but that signature was released under the
//     same rule before.
//  4. By 2, the bytes tied to p in the store are unique, so by 3 every
//     released signature at p, from any signer, signs those same bytes.
//
// Signing the same bytes twice (a retry after the key provider failed, or
// both signers asked for identical bytes) is not a double sign: ed25519
// signatures are deterministic, and equal bytes are one statement anyway.
// The argument needs only that nobody deletes or lowers the stored record;
// operators must never reset it while any signer of the validator runs.
type watermark struct {
	hrs
	SignBytes []byte `json:"sign_bytes"`
}

// watermarkRefusal is a claim the shared watermark refuses, with the
// refusal reason for metrics (RefusalSharedRegression or
// RefusalSharedConflict).
type watermarkRefusal struct{ reason, msg string }

func (e *watermarkRefusal) Error() string { return "shared watermark: " + e.msg }

// claimWatermark makes the shared watermark of keyName (p, signBytes), or
// finds it already there, before a signature over signBytes at p is
// released. It refuses (a *watermarkRefusal) when the
// watermark is past p, or at p with other bytes; other errors are the
// store failing, and also release nothing.
func claimWatermark(ctx context.Context, store certs.VersionedStore, keyName string, p hrs, signBytes []byte) error {
	key := watermarkKey(keyName)
	for range maxCASAttempts {
		raw, version, err := store.Read(ctx, key)
		if err != nil {
			return fmt.Errorf("read shared watermark: %w", err)
		}
		var w watermark
		if version > 0 {
			if err := json.Unmarshal(raw, &w); err != nil {
				// Never write over a record we cannot read: it may be higher.
				return fmt.Errorf("decode shared watermark %s (version %d): %w", key, version, err)
			}
		}
		switch c := p.compare(w.hrs); {
		case c < 0:
			return &watermarkRefusal{RefusalSharedRegression, fmt.Sprintf("a signer of this validator has signed at %s, past %s", w.hrs, p)}
		case c == 0 && bytes.Equal(w.SignBytes, signBytes):
			return nil
		case c == 0:
			return &watermarkRefusal{RefusalSharedConflict, fmt.Sprintf("a signer of this validator has signed other data at %s", p)}
		}
		b, err := json.Marshal(watermark{hrs: p, SignBytes: signBytes})
		if err != nil {
			return fmt.Errorf("encode shared watermark: %w", err)
		}
		_, err = store.WriteCAS(ctx, key, b, version)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, certs.ErrCASMismatch):
			continue // another signer moved it: decide again on what it wrote
		default:
			return fmt.Errorf("write shared watermark: %w", err)
		}
	}
	return fmt.Errorf("write shared watermark: lost the check-and-set %d times in a row", maxCASAttempts)
}

// SignedHeight returns the highest height any signer of validator key
// keyName has claimed in store's shared watermark (0: none yet). A key
// rotation waits for it to pass the new version's from-height before it
// retires the old version (transit min_encryption_version).
func SignedHeight(ctx context.Context, store certs.VersionedStore, keyName string) (int64, error) {
	return readWatermarkHeight(ctx, store, keyName)
}

// readWatermarkHeight returns the height of keyName's shared watermark, 0
// if none was written.
func readWatermarkHeight(ctx context.Context, store certs.VersionedStore, keyName string) (int64, error) {
	raw, version, err := store.Read(ctx, watermarkKey(keyName))
	if err != nil {
		return 0, fmt.Errorf("read shared watermark: %w", err)
	}
	if version == 0 {
		return 0, nil
	}
	var w watermark
	if err := json.Unmarshal(raw, &w); err != nil {
		return 0, fmt.Errorf("decode shared watermark: %w", err)
	}
	return w.Height, nil
}
