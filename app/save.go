package app

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/consort-ledger/consort/crashpoint"
)

// Saving a version to disk can run beside the next height's work.
//
// Why: the app hash of block N is computed in FinalizeBlock, and writing
// the version's new tree nodes to leveldb (IAVL's SaveVersion) was about
// 40% of the time CometBFT's consensus goroutine spent applying a block
// (docs/benchmarks.md). CometBFT counts its timeout_commit from the moment
// the precommits are in, so anything the block path does beyond that second
// lengthens every block interval. CommitDeferred makes the version the
// committed one and returns the save for the caller to run (the ABCI layer
// runs it in a goroutine of its own: this package starts none); the next
// block's execution waits for it, as save holds workMu.
//
// What a reader sees: the new version is the committed one at once
// (Height, Hash, Committed). A read of it that the value cache does not
// answer looks in the version's own writes, then in the version before it,
// which is on disk: a key the block did not write holds its earlier value.
// Anything that needs the whole version (a proof, a scan, an iterator, the
// index of balances) waits for the save.
//
// Crash safety is unchanged: the committed-height record is written, synced,
// after SaveVersion, so a crash before it leaves the previous version on
// disk and the store reopens there. CometBFT may by then have saved its own
// state for the block; its handshake then finds the app one block behind
// and replays that block, as it does after a crash inside Commit.

// SaveReport describes one background save, for logs and metrics.
type SaveReport struct {
	Version  int64
	Duration time.Duration
	Err      error
}

// OnSaved makes fn be called after each version is saved to disk (or fails
// to be), in the goroutine that ran the save, for logs and metrics.
func (s *Store) OnSaved(fn func(SaveReport)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onSaved = fn
}

// Commit makes the working tree the next committed version and saves it
// to disk. It returns the version's app hash and number.
func (s *Store) Commit() ([]byte, int64, error) {
	hash, version, save, err := s.CommitDeferred()
	if err != nil {
		return nil, 0, err
	}
	save()
	if err := s.lastSaveErr(); err != nil {
		return nil, 0, err
	}
	return hash, version, nil
}

// CommitDeferred makes the working tree the next committed version and
// returns its app hash and number, and save, which writes it to disk. The
// caller must call save exactly once, from any goroutine; the next block
// waits until the version is on disk, and save then prunes old versions
// (prune.go) before it returns. A save that failed is reported by the next
// commit or block, by Saved and by Close, and the store takes no more
// blocks.
func (s *Store) CommitDeferred() (hash []byte, version int64, save func(), err error) {
	s.workMu.Lock() // released by save, once the version is on disk
	if err := s.lastSaveErr(); err != nil {
		s.workMu.Unlock()
		return nil, 0, nil, err
	}
	version = s.tree.WorkingVersion()
	crashpoint.Hit(crashpoint.CommitStart, version)
	hash = s.tree.WorkingHash()
	writes := s.writes
	s.writes = map[string][]byte{}
	saving := make(chan struct{})
	s.mu.Lock()
	s.version, s.hash, s.unsaved, s.saving = version, hash, writes, saving
	if s.oldest == 0 {
		s.oldest = version // the first version
	}
	s.values.advance(version, writes)
	s.mu.Unlock()
	var once sync.Once
	return hash, version, func() { once.Do(func() { s.save(version, hash, writes, saving) }) }, nil
}

// save writes version to disk, then makes it the saved one, and releases
// workMu, which CommitDeferred took.
func (s *Store) save(version int64, hash []byte, writes map[string][]byte, saving chan struct{}) {
	start := time.Now()
	err := s.persist(version, hash, writes)
	if err == nil {
		crashpoint.Hit(crashpoint.CommitAfterRecord, version)
	}
	s.mu.RLock()
	onSaved := s.onSaved
	s.mu.RUnlock()
	if onSaved != nil { // before waiters are released: Saved means reported too
		onSaved(SaveReport{Version: version, Duration: time.Since(start), Err: err})
	}
	s.mu.Lock()
	if err != nil {
		s.saveErr = err
	}
	s.unsaved = nil
	s.mu.Unlock()
	close(saving)
	s.workMu.Unlock()
	if err == nil {
		s.prune(version) // beside the next block (prune.go)
	}
}

// persist saves the tree's version, then records it as committed together
// with its index writes in one synced batch (index.go).
func (s *Store) persist(version int64, hash []byte, writes map[string][]byte) error {
	s.treeBatchMu.Lock() // not beside a prune through this handle (prune.go)
	savedHash, savedVersion, err := s.tree.SaveVersion()
	s.treeBatchMu.Unlock()
	if err != nil {
		return fmt.Errorf("save state version %d: %w", version, err)
	}
	if savedVersion != version || !bytes.Equal(savedHash, hash) {
		return fmt.Errorf("save state version %d: IAVL saved version %d with hash %X, the block's app hash is %X", version, savedVersion, savedHash, hash)
	}
	crashpoint.Hit(crashpoint.CommitAfterSave, version)
	imm, err := s.reader.GetImmutable(version)
	if err != nil {
		return fmt.Errorf("open version %d: %w", version, err)
	}
	batch := s.db.NewBatchWithSize(indexBatchSize(writes))
	defer batch.Close()
	if err := writeIndex(batch, writes); err != nil {
		return err
	}
	if err := batch.Set(stateFormatKey, stateFormat); err != nil {
		return fmt.Errorf("record state format: %w", err)
	}
	if err := batch.Set(committedHeightKey, binary.BigEndian.AppendUint64(nil, uint64(version))); err != nil {
		return fmt.Errorf("record committed height %d: %w", version, err)
	}
	// Under mu: an index read at the latest height sees either the
	// unsaved writes over the previous index, or this index.
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := batch.WriteSync(); err != nil {
		return fmt.Errorf("record committed height %d: %w", version, err)
	}
	s.saved = imm
	return nil
}

// Saved waits until no version is being saved (and its OnSaved report is
// made) and returns the error the last save failed with, nil if it
// succeeded.
func (s *Store) Saved() error {
	s.mu.RLock()
	saving := s.saving
	s.mu.RUnlock()
	if saving != nil {
		<-saving
	}
	return s.lastSaveErr()
}

func (s *Store) lastSaveErr() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.saveErr != nil {
		return fmt.Errorf("the state could not be saved; restart the node to replay the block: %w", s.saveErr)
	}
	return nil
}
