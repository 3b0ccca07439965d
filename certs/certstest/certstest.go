// Package certstest holds in-memory implementations of the certs
// interfaces for tests: a KeyProvider with several ed25519 versions and a
// VersionedStore with check-and-set, both safe for concurrent use and able
// to fail on demand (a Vault outage without a Vault).
package certstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/consort-ledger/consort/certs"
)

// ErrDown is what a provider or store returns while it is made to fail.
var ErrDown = errors.New("certstest: backend down")

// KeyProvider is an in-memory certs.KeyProvider over ed25519 keys.
type KeyProvider struct {
	mu    sync.Mutex
	keys  []ed25519.PrivKey // keys[v-1] is version v
	down  bool
	signs int
}

var _ certs.KeyProvider = (*KeyProvider)(nil)

// NewKeyProvider returns a provider holding the given keys as versions 1,
// 2, ...; with none, it holds one fresh key.
func NewKeyProvider(keys ...ed25519.PrivKey) *KeyProvider {
	if len(keys) == 0 {
		keys = []ed25519.PrivKey{ed25519.GenPrivKey()}
	}
	return &KeyProvider{keys: append([]ed25519.PrivKey(nil), keys...)}
}

// Rotate adds a fresh version and returns its number.
func (p *KeyProvider) Rotate() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = append(p.keys, ed25519.GenPrivKey())
	return len(p.keys)
}

// SetDown makes every call fail with ErrDown (true) or work again (false).
func (p *KeyProvider) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

// Signs returns how many signatures the provider has made.
func (p *KeyProvider) Signs() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.signs
}

// PrivKey returns the private key of version (tests compare with FilePV).
func (p *KeyProvider) PrivKey(version int) ed25519.PrivKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[version-1]
}

// LatestVersion implements certs.KeyProvider.
func (p *KeyProvider) LatestVersion(context.Context) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return 0, ErrDown
	}
	return len(p.keys), nil
}

// PubKey implements certs.KeyProvider.
func (p *KeyProvider) PubKey(_ context.Context, version int) (crypto.PubKey, error) {
	k, err := p.key(version)
	if err != nil {
		return nil, err
	}
	return k.PubKey(), nil
}

// Sign implements certs.KeyProvider.
func (p *KeyProvider) Sign(_ context.Context, version int, msg []byte) ([]byte, error) {
	k, err := p.key(version)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.signs++
	p.mu.Unlock()
	return k.Sign(msg)
}

func (p *KeyProvider) key(version int) (ed25519.PrivKey, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return nil, ErrDown
	}
	if version < 1 || version > len(p.keys) {
		return nil, fmt.Errorf("certstest: no key version %d (have 1 to %d)", version, len(p.keys))
	}
	return p.keys[version-1], nil
}

// Store is an in-memory certs.VersionedStore with check-and-set.
type Store struct {
	mu   sync.Mutex
	data map[string]entry
	down bool
	// BeforeWrite, if set, runs (without the lock) at the start of every
	// WriteCAS: tests use it to widen race windows.
	BeforeWrite func()
}

type entry struct {
	value   []byte
	version int
}

var _ certs.VersionedStore = (*Store)(nil)

// NewStore returns an empty store.
func NewStore() *Store { return &Store{data: map[string]entry{}} }

// SetDown makes every call fail with ErrDown (true) or work again (false).
func (s *Store) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Read implements certs.VersionedStore.
func (s *Store) Read(_ context.Context, key string) ([]byte, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return nil, 0, ErrDown
	}
	e, ok := s.data[key]
	if !ok {
		return nil, 0, nil
	}
	return bytes.Clone(e.value), e.version, nil
}

// WriteCAS implements certs.VersionedStore.
func (s *Store) WriteCAS(_ context.Context, key string, value []byte, cas int) (int, error) {
	if s.BeforeWrite != nil {
		s.BeforeWrite()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return 0, ErrDown
	}
	if s.data[key].version != cas {
		return 0, fmt.Errorf("key %s at version %d, not %d: %w", key, s.data[key].version, cas, certs.ErrCASMismatch)
	}
	e := entry{value: bytes.Clone(value), version: cas + 1}
	s.data[key] = e
	return e.version, nil
}
