package app

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// The owner index (owner/ keys) and the balances (balance/ keys) are kept
// beside the IAVL tree, not in it. Nothing a transaction is decided on
// reads them: they are derived from the coins, which are in the tree, so
// the app hash still commits to every coin, its owner and amount. Out of
// the tree they cost a plain leveldb write each instead of an IAVL path of
// new nodes, hashed and saved: of the eight keys a 1-input, 2-output
// transfer wrote to the tree, five were these (docs/benchmarks.md).
//
// What that gives up: a balance or a list of an account's coins carries
// no Merkle proof of its own (each coin still has one, under utxo/), and
// both are answered for the latest committed height only.
//
// Crash safety: a block's index writes go into the same synced leveldb
// batch as the committed-height record, after the tree's SaveVersion. A
// crash before that batch leaves the previous height's record and index,
// and the tree is reloaded at that height; after it, all three agree.
var indexPrefix = []byte("x/")

// indexed reports whether key lives in the index rather than the tree.
func indexed(key []byte) bool {
	return bytes.HasPrefix(key, []byte(prefixOwner)) || bytes.HasPrefix(key, []byte(prefixBalance))
}

func indexDBKey(key []byte) []byte { return append(bytes.Clone(indexPrefix), key...) }

// ErrNotLatest is returned for index reads at a height other than the
// latest committed one, the only height the index describes.
var ErrNotLatest = errors.New("balances and coin lists are kept for the latest height only")

// readIndex reads the committed index.
func (s *Store) readIndex(key []byte) ([]byte, error) {
	v, err := s.db.Get(indexDBKey(key))
	if err != nil {
		return nil, fmt.Errorf("read index %q: %w", key, err)
	}
	return v, nil
}

// IndexGet reads key of the index (an owner/ or balance/ key) as of
// version, which must be the latest committed height. While that version
// is being saved, its own writes answer first, then the index on disk,
// which is that of the version before (save.go).
func (s *Store) IndexGet(version int64, key []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.checkLatest(version); err != nil {
		return nil, err
	}
	if s.saveErr != nil {
		return nil, fmt.Errorf("read index at height %d: saving it failed: %w", version, s.saveErr)
	}
	if v, ok := s.values.get(version, key); ok {
		return v, nil
	}
	if v, ok := s.unsaved[string(key)]; ok {
		return v, nil
	}
	return s.readIndex(key)
}

// ScanIndex calls fn for each index entry under prefix (owner/ or
// balance/, and more of the key), in key order, with the key as the tree
// would hold it. version must be the latest committed height; if it is
// being saved, the scan waits for its index. fn sees a snapshot of that
// height even if a block is committed meanwhile.
func (s *Store) ScanIndex(version int64, prefix []byte, fn func(key, value []byte) error) error {
	s.mu.RLock()
	if err := s.checkLatest(version); err != nil {
		s.mu.RUnlock()
		return err
	}
	if s.unsaved != nil {
		saving := s.saving
		s.mu.RUnlock()
		<-saving
		s.mu.RLock()
		if err := s.checkLatest(version); err != nil {
			s.mu.RUnlock()
			return err
		}
		if s.saveErr != nil {
			s.mu.RUnlock()
			return fmt.Errorf("scan index at height %d: saving it failed: %w", version, s.saveErr)
		}
	}
	start := indexDBKey(prefix)
	end := bytes.Clone(start)
	end[len(end)-1]++
	it, err := s.db.Iterator(start, end) // a leveldb iterator reads one snapshot
	s.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("scan index %q: %w", prefix, err)
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		if err := fn(it.Key()[len(indexPrefix):], it.Value()); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("scan index %q: %w", prefix, err)
	}
	return nil
}

// checkLatest requires version to be the latest committed height; s.mu is
// held.
func (s *Store) checkLatest(version int64) error {
	if version != s.version {
		return fmt.Errorf("%w (%d), not %d", ErrNotLatest, s.version, version)
	}
	return nil
}

// indexBatchSize is the room in bytes a batch needs for the index writes
// among writes, and the height records. Sized up front: a leveldb batch
// that grows one record at a time copies itself over and over once it
// holds a few thousand records (a genesis of 200,000 coins spent seconds
// copying).
func indexBatchSize(writes map[string][]byte) int {
	size := 256
	for k, v := range writes {
		if indexed([]byte(k)) {
			size += 2*binary.MaxVarintLen32 + 1 + len(indexPrefix) + len(k) + len(v)
		}
	}
	return size
}

// writeIndex adds a block's index writes (nil = deleted) to batch.
func writeIndex(batch interface {
	Set(key, value []byte) error
	Delete(key []byte) error
}, writes map[string][]byte) error {
	for k, v := range writes { // each key once: order does not matter
		key := []byte(k)
		if !indexed(key) {
			continue
		}
		var err error
		if v == nil {
			err = batch.Delete(indexDBKey(key))
		} else {
			err = batch.Set(indexDBKey(key), v)
		}
		if err != nil {
			return fmt.Errorf("write index %q: %w", k, err)
		}
	}
	return nil
}
