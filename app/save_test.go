package app

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	corestore "cosmossdk.io/core/store"
	idb "github.com/cosmos/iavl/db"
)

// gatedDB holds every batch write of the tree until the gate opens, or
// fails them once broken: it stops a background save half-way.
type gatedDB struct {
	idb.DB
	g *gate
}

type gate struct {
	mu      sync.Mutex
	closed  bool
	open    chan struct{}
	entered chan struct{} // receives once per write that waits
	broken  error
}

func newGate() *gate { return &gate{open: make(chan struct{}), entered: make(chan struct{}, 100)} }

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

func (g *gate) release() {
	g.mu.Lock()
	g.closed = false
	g.mu.Unlock()
	close(g.open)
}

func (g *gate) pass() error {
	g.mu.Lock()
	closed, broken := g.closed, g.broken
	g.mu.Unlock()
	if broken != nil {
		return broken
	}
	if closed {
		g.entered <- struct{}{}
		<-g.open
	}
	return nil
}

func (d gatedDB) NewBatch() corestore.Batch { return gatedBatch{d.DB.NewBatch(), d.g} }
func (d gatedDB) NewBatchWithSize(n int) corestore.Batch {
	return gatedBatch{d.DB.NewBatchWithSize(n), d.g}
}

type gatedBatch struct {
	corestore.Batch
	g *gate
}

func (b gatedBatch) Write() error {
	if err := b.g.pass(); err != nil {
		return err
	}
	return b.Batch.Write()
}

func (b gatedBatch) WriteSync() error {
	if err := b.g.pass(); err != nil {
		return err
	}
	return b.Batch.WriteSync()
}

// openGatedStore opens a store whose tree writes go through g, flushing
// IAVL's batch every flush bytes.
func openGatedStore(t *testing.T, dir string, g *gate, flush int) *Store {
	t.Helper()
	cfg := DefaultStoreConfig()
	cfg.FlushThreshold = flush
	cfg.wrapTreeDB = func(db idb.DB) idb.DB { return gatedDB{db, g} }
	s, err := OpenStore(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustGet(t *testing.T, r Reader, key string) []byte {
	t.Helper()
	v, err := r.Get([]byte(key))
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return v
}

// TestReadsWhileVersionIsSaved stops a background save half-way and reads
// the version being saved: Height, Hash and every kind of key (written by
// the block, deleted by it, untouched, in the index) answer as they will
// once it is on disk, and whatever needs the whole version waits for it.
func TestReadsWhileVersionIsSaved(t *testing.T) {
	g := newGate()
	s := openGatedStore(t, t.TempDir(), g, 2000) // held at the first flush
	defer s.Close()

	writeVersion(t, s, "a", 300)
	setIndexed(t, s, "a")
	if err := s.Working().Set([]byte("k/doomed"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Saved(); err != nil {
		t.Fatal(err)
	}

	// Version 2 rewrites some keys, deletes one, leaves the rest.
	writeVersion(t, s, "b", 100) // new keys
	if err := s.Working().Set([]byte("k/a/00007"), []byte("rewritten")); err != nil {
		t.Fatal(err)
	}
	if err := s.Working().Delete([]byte("k/doomed")); err != nil {
		t.Fatal(err)
	}
	setIndexed(t, s, "b")
	g.close()
	hash2, v, save, err := s.CommitDeferred()
	if err != nil || v != 2 {
		t.Fatalf("commit 2: version %d, %v", v, err)
	}
	go save()   // as the ABCI layer runs it
	<-g.entered // the save is inside SaveVersion, held

	if got := s.Height(); got != 2 {
		t.Fatalf("height while saving: got %d, want 2", got)
	}
	if got := s.Hash(); !bytes.Equal(got, hash2) {
		t.Fatalf("hash while saving: got %X, want %X", got, hash2)
	}
	r := s.Committed()
	for key, want := range map[string]string{
		"k/a/00007": "rewritten",                           // written by version 2
		"k/b/00042": string(bytes.Repeat([]byte("b"), 20)), // created by version 2
		"k/a/00100": string(bytes.Repeat([]byte("a"), 20)), // untouched since version 1
		"k/doomed":  "",                                    // deleted by version 2
		"k/never":   "",                                    // never written
	} {
		if got := string(mustGet(t, r, key)); got != want {
			t.Errorf("read %s while version 2 is saved: got %q, want %q", key, got, want)
		}
	}
	if got, err := s.IndexGet(2, indexedTestKey); err != nil || string(got) != "b" {
		t.Errorf("index while saving: got %q (%v), want %q", got, err, "b")
	}
	if _, err := s.IndexGet(1, indexedTestKey); !errors.Is(err, ErrNotLatest) {
		t.Errorf("index at height 1 while 2 is saved: got %v, want ErrNotLatest", err)
	}

	// A proof needs the whole version: it waits for the save.
	type opened struct {
		hash []byte
		err  error
	}
	done := make(chan opened, 1)
	go func() {
		tree, err := s.Version(2)
		if err != nil {
			done <- opened{err: err}
			return
		}
		done <- opened{hash: tree.Hash()}
	}()
	g.release()
	got := <-done
	if got.err != nil || !bytes.Equal(got.hash, hash2) {
		t.Fatalf("version 2 after its save: hash %X, %v; want %X", got.hash, got.err, hash2)
	}
	if err := s.Saved(); err != nil {
		t.Fatal(err)
	}
	// The same reader, now answered from disk.
	if got := string(mustGet(t, r, "k/doomed")); got != "" {
		t.Errorf("deleted key after the save: got %q", got)
	}
	var scanned []string
	if err := s.ScanIndex(2, []byte(prefixBalance), func(k, v []byte) error {
		scanned = append(scanned, string(k)+"="+string(v))
		return nil
	}); err != nil || len(scanned) != 1 || scanned[0] != string(indexedTestKey)+"=b" {
		t.Fatalf("index scan after the save: %v, %v", scanned, err)
	}
}

// TestFailedSaveStopsTheStore: a save that fails leaves the previous
// version on disk; the store refuses the next block and says why, and
// reopens at the previous version.
func TestFailedSaveStopsTheStore(t *testing.T) {
	dir := t.TempDir()
	g := newGate()
	// One batch per save: IAVL's flusher mishandles its lock when a flush
	// inside SaveVersion fails (the process dies with "unlock of unlocked
	// mutex"), so the failure here is that of the version's last write.
	s := openGatedStore(t, dir, g, DefaultStoreConfig().FlushThreshold)
	writeVersion(t, s, "a", 50)
	hash1, _, err := s.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Saved(); err != nil {
		t.Fatal(err)
	}
	var reports []SaveReport
	var mu sync.Mutex
	s.OnSaved(func(r SaveReport) {
		mu.Lock()
		defer mu.Unlock()
		reports = append(reports, r)
	})

	writeVersion(t, s, "b", 300)
	g.mu.Lock()
	g.broken = errors.New("disk on fire")
	g.mu.Unlock()
	if _, _, err := s.Commit(); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("commit 2 on a failing disk: got %v", err)
	}
	err = s.Saved()
	if err == nil || !strings.Contains(err.Error(), "disk on fire") || !strings.Contains(err.Error(), "restart") {
		t.Fatalf("Saved after a failed save: got %v", err)
	}
	mu.Lock()
	if len(reports) != 1 || reports[0].Version != 2 || reports[0].Err == nil {
		t.Errorf("save reports: got %+v, want one failure of version 2", reports)
	}
	mu.Unlock()
	if _, _, _, err := s.CommitDeferred(); err == nil {
		t.Fatal("commit after a failed save succeeded")
	}
	l := New(s)
	if _, err := l.ExecuteBlock(3, nil); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("execute after a failed save: got %v", err)
	}
	if _, err := s.Version(2); err == nil {
		t.Fatal("version 2 opened although its save failed")
	}
	if err := s.Close(); err == nil {
		t.Fatal("Close hid the failed save")
	}

	s, err = OpenStore(dir, DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Height() != 1 || !bytes.Equal(s.Hash(), hash1) {
		t.Fatalf("reopened at height %d hash %X, want 1 and %X", s.Height(), s.Hash(), hash1)
	}
}
