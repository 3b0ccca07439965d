package certs

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/cometbft/cometbft/crypto"
	_ "github.com/cometbft/cometbft/crypto/ed25519" // registers the key type for cmtjson
	cmtjson "github.com/cometbft/cometbft/libs/json"
)

// FileKey is the file key provider: CometBFT's validator key file
// (priv_validator_key.json), one key, version 1. A node with the file
// signer uses CometBFT's own FilePV over the same file; FileKey lets the
// key-provider signer (consensus.Signer) and tools use that key too.
type FileKey struct {
	priv crypto.PrivKey
}

var _ KeyProvider = (*FileKey)(nil)

// LoadFileKey reads a CometBFT validator key file. A file that group or
// others may read is refused: it holds a private key.
func LoadFileKey(path string) (*FileKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("validator key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("validator key file %s has mode %04o: it holds a private key, make it readable by its owner only (chmod 600)", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("validator key file: %w", err)
	}
	var doc struct {
		PrivKey crypto.PrivKey `json:"priv_key"`
	}
	if err := cmtjson.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("validator key file %s: %w", path, err)
	}
	if doc.PrivKey == nil {
		return nil, fmt.Errorf("validator key file %s has no priv_key", path)
	}
	return &FileKey{priv: doc.PrivKey}, nil
}

// LatestVersion is always 1: a key file has one key.
func (k *FileKey) LatestVersion(context.Context) (int, error) { return 1, nil }

// PubKey returns the public key of version 1.
func (k *FileKey) PubKey(_ context.Context, version int) (crypto.PubKey, error) {
	if err := fileVersion(version); err != nil {
		return nil, err
	}
	return k.priv.PubKey(), nil
}

// Sign signs msg with the key of version 1.
func (k *FileKey) Sign(ctx context.Context, version int, msg []byte) ([]byte, error) {
	if err := fileVersion(version); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return k.priv.Sign(msg)
}

// Format prints the public key only, whatever the verb, so that no fmt call
// can reveal the private key.
func (k *FileKey) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "FileKey{%X}", k.priv.PubKey().Bytes()) }

var errFileVersion = errors.New("a key file holds version 1 only: rotate a file key by replacing the file (or keep the key in Vault)")

func fileVersion(v int) error {
	if v != 1 {
		return fmt.Errorf("key version %d: %w", v, errFileVersion)
	}
	return nil
}
