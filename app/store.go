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

	// mu guards the fields below, read by queries and CheckTx.
	mu sync.RWMutex
	// version and hash are the last committed version and its root hash.
	// Commit sets them at once; the version is written to disk in the
	// background (save.go).
	version int64
	hash    []byte
	// saved is the last version on disk, nil before the first save ends.
	// It is version, or version-1 while version is being saved.
	saved *iavl.ImmutableTree
	// unsaved holds the writes of version (nil = deleted) while it is
	// being saved, nil otherwise. With saved (version-1) it answers any
	// read of version: a key version did not write holds its earlier value.
	unsaved map[string][]byte
	// saving is closed when the save of version ends; saveErr is how the
	// last save failed. After a failure the store refuses further blocks.
	saving  chan struct{}
	saveErr error
	values  *valueCache
	onSaved func(SaveReport)
	// keep is StoreConfig.KeepVersions; oldest is the oldest version on
	// disk (0 before the first commit); held counts the readers of each
	// held version; pruneErr stops pruning after a failure (prune.go).
	keep     int64
	oldest   int64
	held     map[int64]int
	pruneErr error
	onPruned func(PruneReport)
	closed   bool

	// pruneMu is held by a round of pruning (prune.go). treeBatchMu keeps
	// a prune through the writer's handle and SaveVersion, which share the
	// handle's batch, apart. A wide window is pruned through a handle of
	// its own on treeDB, with flush as its FlushThreshold.
	pruneMu     sync.Mutex
	treeBatchMu sync.Mutex
	treeDB      idb.DB
	flush       int

	// workMu guards the working tree and writes: the block path changes
	// them, the background save holds it until the version is on disk, and
	// before the first commit the peer filter reads them too.
	workMu sync.Mutex
	// writes are this block's writes (nil = deleted), which Commit hands to
	// the save and to values.
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
	// batch while saving or pruning a version. Default 8 MiB (IAVL's own
	// is 100 kB): pruning one version must reach leveldb in one write to be
	// crash-safe (prune.go), and it takes ~20 bytes per deleted node, about
	// 1.5 MB for a block of 5,000 transfers; a save writes few large
	// batches instead of a hundred small ones.
	FlushThreshold int
	// KeepVersions is how many recent versions stay on disk; older ones are
	// pruned after each save (prune.go). Default 0: keep every version. At
	// least MinKeepVersions otherwise.
	KeepVersions int64
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
	return StoreConfig{CacheSize: 400_000, FlushThreshold: 8 << 20, WriteBuffer: 16 << 20, BlockCache: 32 << 20, BloomBits: 10, ValueCacheEntries: 200_000}
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
	if cfg.KeepVersions < 0 || (cfg.KeepVersions > 0 && cfg.KeepVersions < MinKeepVersions) {
		return nil, fmt.Errorf("keep %d versions of the state: want 0 (all) or at least %d", cfg.KeepVersions, MinKeepVersions)
	}
	opts := &opt.Options{WriteBuffer: cfg.WriteBuffer, BlockCacheCapacity: cfg.BlockCache}
	if cfg.BloomBits > 0 {
		opts.Filter = filter.NewBloomFilter(cfg.BloomBits)
	}
	db, err := idb.NewGoLevelDBWithOpts("state", dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open state database in %s: %w", dir, err)
	}
	s := &Store{db: db, values: newValueCache(cfg.ValueCacheEntries), writes: map[string][]byte{}, keep: cfg.KeepVersions, held: map[int64]int{}}
	// Fast storage is skipped: it is a second index written beside each
	// version, one more thing a crash could leave half-written.
	var treeDB idb.DB = idb.NewPrefixDB(db, treePrefix)
	if cfg.wrapTreeDB != nil {
		treeDB = cfg.wrapTreeDB(treeDB)
	}
	s.treeDB, s.flush = treeDB, cfg.FlushThreshold
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
	s.findOldest(height)
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
	s.saved, s.version, s.hash = imm, height, imm.Hash()
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
	return s.version
}

// Hash is the root hash of the last committed version, nil before the
// first commit.
func (s *Store) Hash() []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.hash
}

// WorkingHash is the root hash including uncommitted writes.
func (s *Store) WorkingHash() []byte {
	s.workMu.Lock()
	defer s.workMu.Unlock()
	return s.tree.WorkingHash()
}

// Working is the uncommitted tree that FinalizeBlock writes.
func (s *Store) Working() KV { return &workingKV{store: s} }

// Committed returns a read-only view of the last committed version, or of
// an empty state before the first commit.
func (s *Store) Committed() Reader {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.version == 0 {
		return emptyReader{}
	}
	return committedReader{version: s.version, store: s}
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

// readTree reads key at a committed version from the tree, without
// waiting for a save in progress: a key the unsaved version did not write
// has the value it had in the version before, which is on disk.
func (s *Store) readTree(version int64, key []byte) ([]byte, error) {
	s.mu.RLock()
	unsaved, latest, saved := s.unsaved, s.version, s.saved
	s.mu.RUnlock()
	if unsaved != nil && version == latest {
		if v, ok := unsaved[string(key)]; ok {
			return v, nil
		}
		if saved == nil {
			return nil, nil // the first version: nothing before it
		}
		return saved.Get(key)
	}
	tree, err := s.Version(version)
	if err != nil {
		return nil, err
	}
	return tree.Get(key)
}

// Version returns a read-only view of a committed version, for queries,
// proofs and scans. For a version still being saved it waits for the save.
func (s *Store) Version(height int64) (*iavl.ImmutableTree, error) {
	s.mu.RLock()
	latest, pending, saving := s.version, s.unsaved != nil, s.saving
	s.mu.RUnlock()
	if height <= 0 || height > latest {
		return nil, fmt.Errorf("height %d not available: committed height is %d", height, latest)
	}
	s.mu.RLock()
	err := s.prunedErr(height)
	s.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	if pending && height == latest {
		<-saving
	}
	s.mu.RLock()
	saved, saveErr := s.saved, s.saveErr
	s.mu.RUnlock()
	if saved != nil && saved.Version() == height {
		return saved, nil
	}
	if saved == nil || height > saved.Version() {
		return nil, fmt.Errorf("height %d not available: saving it failed: %w", height, saveErr)
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

// Close waits for a save and a prune in progress and releases the
// database; no prune starts after it. It returns the error the last save
// failed with, if any.
func (s *Store) Close() error {
	saveErr := s.Saved()
	s.pruneMu.Lock() // a prune still running
	defer s.pruneMu.Unlock()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	if err := s.db.Close(); err != nil {
		return err
	}
	return saveErr
}

// WorkingVersion is the version the next Commit will save.
func (s *Store) WorkingVersion() int64 {
	s.workMu.Lock()
	defer s.workMu.Unlock()
	return s.tree.WorkingVersion()
}
