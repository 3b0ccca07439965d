// Package certs defines where consensus keys live. A KeyProvider holds the
// versions of one validator key and signs with them; the private key never
// leaves it. The file provider (the validator key file in the node home) is
// the default; certs/vault keeps the key in a Vault transit engine.
package certs

import (
	"context"
	"errors"

	"github.com/cometbft/cometbft/crypto"
)

// KeyProvider holds the versions of one signing key. Versions count from 1;
// a rotation adds a new version and never changes an old one.
type KeyProvider interface {
	// LatestVersion returns the newest version of the key.
	LatestVersion(ctx context.Context) (int, error)
	// PubKey returns the public key of version.
	PubKey(ctx context.Context, version int) (crypto.PubKey, error)
	// Sign signs msg with the key of version.
	Sign(ctx context.Context, version int, msg []byte) ([]byte, error)
}

// VersionedStore is a small key-value store whose writes succeed only when
// the caller names the version it last read (check-and-set): Vault KV v2 in
// production. Signers share their double-sign watermark through it.
type VersionedStore interface {
	// Read returns the value under key and its version; version 0 and a
	// nil value when the key was never written.
	Read(ctx context.Context, key string) (value []byte, version int, err error)
	// WriteCAS writes value under key if its current version is cas (0:
	// only if it does not exist) and returns the new version. Another
	// writer having moved on first gives ErrCASMismatch.
	WriteCAS(ctx context.Context, key string, value []byte, cas int) (version int, err error)
}

// ErrCASMismatch is WriteCAS losing to another writer.
var ErrCASMismatch = errors.New("check-and-set version mismatch: another writer moved on")
