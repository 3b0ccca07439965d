package app

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/cosmos/iavl"
	idb "github.com/cosmos/iavl/db"
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/opt"

	"github.com/consort-ledger/consort/crashpoint"
)

// Store is the ledger state: one IAVL tree on goleveldb whose root hash is the
// app hash. Writes go to the working tree; Commit saves them as the next
// version, and version N is the state after block N.
//
// Crash safety: IAVL may split one SaveVersion over several leveldb batches,
// so a process killed inside SaveVersion can leave a partial version behind
// that a plain Load would pick up. Store therefore records the last fully
// saved version itself, with a synced write after SaveVersion returns, and
// on open loads exactly that version for overwriting, which deletes anything
// newer. CometBFT's handshake then replays the blocks the app lacks.
type Store struct {
	db   *idb.GoLevelDB
	tree *iavl.MutableTree
	// reader is a second handle on the same database, from which the
	// committed versions are opened. CheckTx and queries read them while a
	// block is written (each ABCI connection has its own lock), and IAVL's
	// writer changes fields of the saved nodes it copies: through its own
	// handle (own node cache, own node objects) a reader never shares a
	// node with the writer.
	reader *iavl.MutableTree

	mu        sync.RWMutex // guards committed and values, read by queries and CheckTx
	committed *iavl.ImmutableTree
	values    *valueCache

	// workMu guards the working tree and writes: the block path changes
	// them, and before the first commit the peer filter reads them too.
	workMu sync.Mutex
	// writes are this block's writes (nil = deleted), which Commit hands to
	// values.
	writes map[string][]byte
}

// StoreConfig tunes the tree.
type StoreConfig struct {
	// CacheSize is the number of tree nodes kept in memory. Default 400000:
	// a block's writes walk and copy tree paths, and a smaller cache is
	// churned through in a few busy blocks so that the walks read leveldb
	// (docs/benchmarks.md). A node costs a few hundred bytes. The handle
	// that reads committed versions caches an eighth as many: CheckTx and
	// blocks read through the value cache, so that handle serves cache
	// misses, proofs and scans.
	CacheSize int
	// FlushThreshold is the size in bytes at which IAVL writes a leveldb
	// batch while saving a version. Default 100000 (IAVL's own default).
	FlushThreshold int
	// WriteBuffer is leveldb's memtable size in bytes: larger means fewer,
	// larger level-0 tables and less compaction. Default 16 MiB (leveldb's
	// own is 4 MiB).
	WriteBuffer int
	// BlockCache is leveldb's cache of table blocks in bytes. Default 32 MiB
	// (leveldb's own is 8 MiB).
	BlockCache int
	// BloomBits is the bits per key of leveldb's bloom filter, 0 for none.
	// Default 10 (about 1% false positives): once the tree outgrows the
	// node cache, every path walk reads nodes from leveldb, and the filter
	// spares each read the levels that do not hold the node.
	BloomBits int
	// ValueCacheEntries bounds each of the two generations of the cache of
	// committed values (valueCache). Default 200000: a block of 5,000
	// transfers writes about 25,000 keys, so the cache holds several
	// blocks' coins beside the accounts, assets and params; an entry is
	// about 200 bytes, so the cache stays under ~80 MB.
	ValueCacheEntries int

	// wrapTreeDB lets crash tests interpose on the tree's database.
	wrapTreeDB func(idb.DB) idb.DB
}

// DefaultStoreConfig returns the defaults stated in StoreConfig.
func DefaultStoreConfig() StoreConfig {
	return StoreConfig{CacheSize: 400_000, FlushThreshold: 100_000, WriteBuffer: 16 << 20, BlockCache: 32 << 20, BloomBits: 10, ValueCacheEntries: 200_000}
}

var (
	treePrefix = []byte("t/")
	// committedHeightKey lives beside the tree, not in it: it must not
	// change the app hash.
	committedHeightKey = []byte("m/committed_height")
	// stateFormatKey records how the state is laid out: "2" keeps the
	// owner index and balances beside the tree (index.go); a state without
	// it kept them in the tree.
	stateFormatKey = []byte("m/state_format")
	stateFormat    = []byte("2")
)

// OpenStore opens (or creates) the state under dir and loads the last
// committed version.
func OpenStore(dir string, cfg StoreConfig) (*Store, error) {
	opts := &opt.Options{WriteBuffer: cfg.WriteBuffer, BlockCacheCapacity: cfg.BlockCache}
	if cfg.BloomBits > 0 {
		opts.Filter = filter.NewBloomFilter(cfg.BloomBits)
	}
	db, err := idb.NewGoLevelDBWithOpts("state", dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open state database in %s: %w", dir, err)
	}
	s := &Store{db: db, values: newValueCache(cfg.ValueCacheEntries), writes: map[string][]byte{}}
	// Fast storage is skipped: it is a second index written beside each
	// version, one more thing a crash could leave half-written.
	var treeDB idb.DB = idb.NewPrefixDB(db, treePrefix)
	if cfg.wrapTreeDB != nil {
		treeDB = cfg.wrapTreeDB(treeDB)
	}
	s.tree = iavl.NewMutableTree(treeDB, cfg.CacheSize, true, iavl.NewNopLogger(), iavl.FlushThresholdOption(cfg.FlushThreshold))
	s.reader = iavl.NewMutableTree(treeDB, max(1, cfg.CacheSize/8), true, iavl.NewNopLogger())
	if err := s.load(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) load() error {
	height, err := s.committedHeight()
	if err != nil {
		return err
	}
	if height == 0 {
		// Nothing was ever committed: whatever the tree holds is a partial
		// first version, so start from an empty tree.
		return s.wipeTree()
	}
	format, err := s.db.Get(stateFormatKey)
	if err != nil {
		return fmt.Errorf("read state format: %w", err)
	}
	if !bytes.Equal(format, stateFormat) {
		return fmt.Errorf("the state at height %d was written by an earlier consort, which kept balances and the owner index in the tree: this version computes other app hashes and cannot continue that chain; keep running the earlier version for it, or start a new chain (consort init or consort testnet)", height)
	}
	if err := s.tree.LoadVersionForOverwriting(height); err != nil {
		return fmt.Errorf("load state version %d: %w", height, err)
	}
	return s.snapshot(height)
}

func (s *Store) wipeTree() error {
	end := append([]byte(nil), treePrefix...)
	end[len(end)-1]++
	it, err := s.db.Iterator(treePrefix, end)
	if err != nil {
		return fmt.Errorf("scan uncommitted state: %w", err)
	}
	defer it.Close()
	batch := s.db.NewBatch()
	defer batch.Close()
	for ; it.Valid(); it.Next() {
		if err := batch.Delete(it.Key()); err != nil {
			return fmt.Errorf("discard uncommitted state: %w", err)
		}
	}
	if err := batch.WriteSync(); err != nil {
		return fmt.Errorf("discard uncommitted state: %w", err)
	}
	return nil
}

func (s *Store) committedHeight() (int64, error) {
	b, err := s.db.Get(committedHeightKey)
	if err != nil {
		return 0, fmt.Errorf("read committed height: %w", err)
	}
	if b == nil {
		return 0, nil
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("committed height record is %d bytes, want 8", len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

func (s *Store) snapshot(height int64) error {
	imm, err := s.reader.GetImmutable(height)
	if err != nil {
		return fmt.Errorf("open version %d: %w", height, err)
	}
	s.mu.Lock()
	s.committed = imm
	s.values.reset(height)
	s.mu.Unlock()
	return nil
}

// SetInitialVersion makes the first Commit save this version (the chain's
// initial height). Only meaningful before the first commit.
func (s *Store) SetInitialVersion(v int64) {
	if v > 1 {
		s.tree.SetInitialVersion(uint64(v))
	}
}

// Height is the last committed version, 0 before the first commit.
func (s *Store) Height() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.committed == nil {
		return 0
	}
	return s.committed.Version()
}

// Hash is the root hash of the last committed version, nil before the
// first commit.
func (s *Store) Hash() []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.committed == nil {
		return nil
	}
	return s.committed.Hash()
}

// WorkingHash is the root hash including uncommitted writes.
func (s *Store) WorkingHash() []byte { return s.tree.WorkingHash() }

// Working is the uncommitted tree that FinalizeBlock writes.
func (s *Store) Working() KV { return &workingKV{store: s} }

// Committed returns a read-only view of the last committed version, or of
// an empty state before the first commit.
func (s *Store) Committed() Reader {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.committed == nil {
		return emptyReader{}
	}
	return committedReader{tree: s.committed, store: s}
}

// cachedGet reads key at version through the value cache, from read on a
// miss.
func (s *Store) cachedGet(version int64, key []byte, read func([]byte) ([]byte, error)) ([]byte, error) {
	s.mu.RLock()
	v, ok := s.values.get(version, key)
	s.mu.RUnlock()
	if ok {
		return v, nil
	}
	v, err := read(key)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.values.add(version, key, v)
	s.mu.Unlock()
	return v, nil
}

// Version returns a read-only view of a committed version, for queries and
// proofs.
func (s *Store) Version(height int64) (*iavl.ImmutableTree, error) {
	if height == s.Height() {
		s.mu.RLock()
		defer s.mu.RUnlock()
		return s.committed, nil
	}
	if height <= 0 || height > s.Height() {
		return nil, fmt.Errorf("height %d not available: committed height is %d", height, s.Height())
	}
	return s.reader.GetImmutable(height)
}

// Discard drops uncommitted writes.
func (s *Store) Discard() {
	s.workMu.Lock()
	defer s.workMu.Unlock()
	s.tree.Rollback()
	clear(s.writes)
}

// Commit saves the working tree as the next version and records it as
// committed. It returns the new app hash and version.
func (s *Store) Commit() ([]byte, int64, error) {
	s.workMu.Lock()
	defer s.workMu.Unlock()
	crashpoint.Hit(crashpoint.CommitStart, s.tree.WorkingVersion())
	hash, version, err := s.tree.SaveVersion()
	if err != nil {
		return nil, 0, fmt.Errorf("save state version: %w", err)
	}
	crashpoint.Hit(crashpoint.CommitAfterSave, version)
	imm, err := s.reader.GetImmutable(version)
	if err != nil {
		return nil, 0, fmt.Errorf("open version %d: %w", version, err)
	}
	// The index and the height record in one synced batch (index.go), and
	// under mu: an index read sees the height it belongs to.
	batch := s.db.NewBatch()
	defer batch.Close()
	if err := writeIndex(batch, s.writes); err != nil {
		return nil, 0, err
	}
	if err := batch.Set(stateFormatKey, stateFormat); err != nil {
		return nil, 0, fmt.Errorf("record state format: %w", err)
	}
	if err := batch.Set(committedHeightKey, binary.BigEndian.AppendUint64(nil, uint64(version))); err != nil {
		return nil, 0, fmt.Errorf("record committed height %d: %w", version, err)
	}
	s.mu.Lock()
	if err := batch.WriteSync(); err != nil {
		s.mu.Unlock()
		return nil, 0, fmt.Errorf("record committed height %d: %w", version, err)
	}
	s.committed = imm
	s.values.advance(version, s.writes)
	s.mu.Unlock()
	crashpoint.Hit(crashpoint.CommitAfterRecord, version)
	s.writes = map[string][]byte{}
	return hash, version, nil
}

// Close releases the database.
func (s *Store) Close() error { return s.db.Close() }

// WorkingVersion is the version the next Commit will save.
func (s *Store) WorkingVersion() int64 { return s.tree.WorkingVersion() }
