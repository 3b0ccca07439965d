package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/vault/sdk/logical"
)

// store is the one physical storage under every mount, the token store and
// the policy store. Entries live in memory; with a data directory each entry
// is also one file, written durably (temp file, fsync, rename, fsync of the
// directory) before Put or Delete returns, so a killed server restarted on the
// same directory finds every write it acknowledged.
//
// File names are the SHA-256 of the key, so any key (slashes, dots, long KV
// paths) maps to one flat, safe name; the key itself is inside the file.
// Nothing is encrypted: this is a development server.
type store struct {
	mu      sync.RWMutex
	entries map[string][]byte
	dir     string // "" keeps everything in memory only
}

var _ logical.Storage = (*store)(nil)

// fileEntry is the on-disk form of one storage entry.
type fileEntry struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

const entrySuffix = ".entry"

func openStore(dir string) (*store, error) {
	s := &store{entries: map[string][]byte{}, dir: dir}
	if dir == "" {
		return s, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	// The directory holds key material: keep it private even if it existed.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	for _, de := range names {
		name := de.Name()
		if strings.Contains(name, ".tmp") {
			// A write that was interrupted before its rename never happened.
			_ = os.Remove(filepath.Join(dir, name))
			continue
		}
		if !strings.HasSuffix(name, entrySuffix) {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		var fe fileEntry
		if err := json.Unmarshal(raw, &fe); err != nil {
			return nil, fmt.Errorf("data directory: entry %s is corrupt: %w", name, err)
		}
		if fileName(fe.Key) != name {
			return nil, fmt.Errorf("data directory: entry %s does not hold the key its name says", name)
		}
		s.entries[fe.Key] = fe.Value
	}
	return s, nil
}

func fileName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:]) + entrySuffix
}

func (s *store) List(_ context.Context, prefix string) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	seen := map[string]bool{}
	for k := range s.entries {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		rest := k[len(prefix):]
		if i := strings.Index(rest, "/"); i >= 0 {
			rest = rest[:i+1]
		}
		seen[rest] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

func (s *store) Get(_ context.Context, key string) (*logical.StorageEntry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.entries[key]
	if !ok {
		return nil, nil
	}
	return &logical.StorageEntry{Key: key, Value: append([]byte(nil), v...)}, nil
}

func (s *store) Put(_ context.Context, e *logical.StorageEntry) error {
	if e == nil || e.Key == "" {
		return errors.New("storage: empty key")
	}
	v := append([]byte(nil), e.Value...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir != "" {
		raw, err := json.Marshal(fileEntry{Key: e.Key, Value: v})
		if err != nil {
			return err
		}
		if err := writeDurable(s.dir, fileName(e.Key), raw); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
	}
	s.entries[e.Key] = v
	return nil
}

func (s *store) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[key]; !ok {
		return nil
	}
	if s.dir != "" {
		err := os.Remove(filepath.Join(s.dir, fileName(key)))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("storage: %w", err)
		}
		if err := syncDir(s.dir); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
	}
	delete(s.entries, key)
	return nil
}

// writeDurable replaces dir/name with data so that after it returns the new
// content survives a crash, and a crash before then leaves the old content.
func writeDurable(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, name+".tmp*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	cleanup := func() { _ = os.Remove(tmpName) }
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		cleanup()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		cleanup()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		cleanup()
		return err
	}
	if err := tmp.Close(); err != nil {
		cleanup()
		return err
	}
	if err := os.Rename(tmpName, filepath.Join(dir, name)); err != nil {
		cleanup()
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
