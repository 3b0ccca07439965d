package app

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	corestore "cosmossdk.io/core/store"
	idb "github.com/cosmos/iavl/db"
)

// countingDB counts the batches written to the tree's database.
type countingDB struct {
	idb.DB
	writes *atomic.Int64
}

func (d countingDB) NewBatch() corestore.Batch { return countingBatch{d.DB.NewBatch(), d.writes} }
func (d countingDB) NewBatchWithSize(n int) corestore.Batch {
	return countingBatch{d.DB.NewBatchWithSize(n), d.writes}
}

type countingBatch struct {
	corestore.Batch
	writes *atomic.Int64
}

func (b countingBatch) Write() error     { b.writes.Add(1); return b.Batch.Write() }
func (b countingBatch) WriteSync() error { b.writes.Add(1); return b.Batch.WriteSync() }

// openPruningStore opens a store in dir keeping keep versions, whose tree
// batch writes are counted in writes (if not nil).
func openPruningStore(t *testing.T, dir string, keep int64, writes *atomic.Int64) *Store {
	t.Helper()
	cfg := DefaultStoreConfig()
	cfg.KeepVersions = keep
	if writes != nil {
		cfg.wrapTreeDB = func(db idb.DB) idb.DB { return countingDB{db, writes} }
	}
	s, err := OpenStore(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// commitChurn writes version v: it rewrites a rolling set of keys, so each
// version orphans nodes of the one before, and returns the value it gave
// key "k/churn/v".
func commitChurn(t *testing.T, s *Store, v int) []byte {
	t.Helper()
	for i := range 200 {
		key := fmt.Sprintf("k/churn/%03d", (v*37+i)%500)
		if err := s.Working().Set([]byte(key), fmt.Appendf(nil, "v%d-%d", v, i)); err != nil {
			t.Fatal(err)
		}
	}
	mine := fmt.Appendf(nil, "version %d", v)
	if err := s.Working().Set(fmt.Appendf(nil, "k/churn/v%d", v), mine); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	return mine
}

// treeKeys counts the keys the tree has on disk.
func treeKeys(t *testing.T, s *Store) int {
	t.Helper()
	end := append([]byte(nil), treePrefix...)
	end[len(end)-1]++
	it, err := s.db.Iterator(treePrefix, end)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for ; it.Valid(); it.Next() {
		n++
	}
	return n
}

// TestPruneKeepsTheLastVersions: with keep 3, after each save exactly the
// last three versions are on disk and readable with their own values, older
// heights are refused with a message naming the setting, the tree's keys on
// disk stay bounded, and a reopened store finds the same window.
func TestPruneKeepsTheLastVersions(t *testing.T) {
	const keep, versions = 3, 40
	dir := t.TempDir()
	s := openPruningStore(t, dir, keep, nil)
	wrote := map[int][]byte{}
	for v := 1; v <= versions; v++ {
		wrote[v] = commitChurn(t, s, v)
		if got, want := s.Oldest(), int64(max(1, v-keep+1)); got != want {
			t.Fatalf("after saving %d: oldest version %d, want %d", v, got, want)
		}
	}
	for v := 1; v <= versions; v++ {
		tree, err := s.Version(int64(v))
		if v <= versions-keep {
			if err == nil || !strings.Contains(err.Error(), "was pruned") || !strings.Contains(err.Error(), "state.keep_versions") {
				t.Fatalf("version %d: got %v, want a pruned-height error", v, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
		got, err := tree.Get(fmt.Appendf(nil, "k/churn/v%d", v))
		if err != nil || !bytes.Equal(got, wrote[v]) {
			t.Fatalf("version %d: got %q, %v, want %q", v, got, err, wrote[v])
		}
	}
	pruned := treeKeys(t, s)
	hash := s.Hash()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	all := openPruningStore(t, t.TempDir(), 0, nil)
	for v := 1; v <= versions; v++ {
		commitChurn(t, all, v)
	}
	if !bytes.Equal(all.Hash(), hash) {
		t.Fatalf("pruning changed the app hash: %X, keeping all gives %X", hash, all.Hash())
	}
	if kept := treeKeys(t, all); pruned*3 > kept {
		t.Fatalf("tree keys on disk: %d with pruning, %d keeping every version: want far fewer", pruned, kept)
	}
	all.Close()

	s = openPruningStore(t, dir, keep, nil)
	defer s.Close()
	if got, want := s.Oldest(), int64(versions-keep+1); got != want {
		t.Fatalf("reopened: oldest version %d, want %d", got, want)
	}
	if _, err := s.Version(versions - keep); err == nil {
		t.Fatalf("reopened: version %d readable, want it pruned", versions-keep)
	}
	wrote[versions+1] = commitChurn(t, s, versions+1)
	if got, want := s.Oldest(), int64(versions-keep+2); got != want {
		t.Fatalf("reopened, one more version: oldest %d, want %d", got, want)
	}
}

// TestPruneSparesHeldVersions: a version held by a reader stays on disk
// while it is held, however far the chain moves, and goes after release.
func TestPruneSparesHeldVersions(t *testing.T) {
	s := openPruningStore(t, t.TempDir(), 2, nil)
	defer s.Close()
	for v := 1; v <= 5; v++ {
		commitChurn(t, s, v)
	}
	tree, release, err := s.HoldVersion(4)
	if err != nil {
		t.Fatal(err)
	}
	for v := 6; v <= 12; v++ {
		commitChurn(t, s, v)
	}
	if got := s.Oldest(); got != 4 {
		t.Fatalf("oldest version while 4 is held: %d, want 4", got)
	}
	if got, err := tree.Get([]byte("k/churn/v4")); err != nil || string(got) != "version 4" {
		t.Fatalf("held version 4: got %q, %v", got, err)
	}
	if _, _, err := s.HoldVersion(3); err == nil || !strings.Contains(err.Error(), "was pruned") {
		t.Fatalf("holding pruned version 3: got %v", err)
	}
	release()
	commitChurn(t, s, 13)
	if got := s.Oldest(); got != 8 { // 4 versions per save, from 4
		t.Fatalf("oldest version after release: %d, want 8", got)
	}
	commitChurn(t, s, 14)
	if got := s.Oldest(); got != 12 {
		t.Fatalf("oldest version two saves after release: %d, want 12", got)
	}
	commitChurn(t, s, 15)
	if got := s.Oldest(); got != 14 {
		t.Fatalf("oldest version three saves after release: %d, want 14", got)
	}
}

// TestPruneCatchesUpGradually: a store that kept everything and is then
// told to keep two versions deletes at most maxPrunedPerSave per save, and
// each version's deletions reach leveldb in one write (what makes a prune
// crash-safe, prune.go).
func TestPruneCatchesUpGradually(t *testing.T) {
	dir := t.TempDir()
	s := openPruningStore(t, dir, 0, nil)
	for v := 1; v <= 20; v++ {
		commitChurn(t, s, v)
	}
	if got := s.Oldest(); got != 1 {
		t.Fatalf("keeping every version: oldest %d, want 1", got)
	}
	s.Close()

	var writes atomic.Int64
	s = openPruningStore(t, dir, 2, &writes)
	defer s.Close()
	var reports []PruneReport
	s.OnPruned(func(r PruneReport) { reports = append(reports, r) })
	writes.Store(0)
	commitChurn(t, s, 21)
	if got := s.Oldest(); got != 1+maxPrunedPerSave {
		t.Fatalf("first save after turning pruning on: oldest %d, want %d", got, 1+maxPrunedPerSave)
	}
	// One write for the version's nodes, one per pruned version.
	if got := writes.Load(); got != 1+maxPrunedPerSave {
		t.Fatalf("tree batch writes in a save that pruned %d versions: %d, want %d", maxPrunedPerSave, got, 1+maxPrunedPerSave)
	}
	if r := reports[0]; len(reports) != 1 || r.From != 1 || r.To != maxPrunedPerSave || r.Err != nil || r.Oldest != 1+maxPrunedPerSave {
		t.Fatalf("prune reports: %+v", reports)
	}
	// 3 more per save than the one the window moves: caught up at 27.
	for v := 22; s.Oldest() < s.Height()-1; v++ {
		if v > 27 {
			t.Fatalf("pruning did not catch up by version 27: oldest %d", s.Oldest())
		}
		commitChurn(t, s, v)
	}
}

// TestKeepVersionsValidated: keeping one version, or a negative number, is
// refused with a message.
func TestKeepVersionsValidated(t *testing.T) {
	for _, keep := range []int64{-1, 1} {
		cfg := DefaultStoreConfig()
		cfg.KeepVersions = keep
		if _, err := OpenStore(t.TempDir(), cfg); err == nil || !strings.Contains(err.Error(), "at least 2") {
			t.Errorf("keep %d: got %v, want an error", keep, err)
		}
	}
}

// TestQueryAtPrunedHeight: a query at a pruned height is refused as not
// found with the reason; one at a kept height answers with its proof.
func TestQueryAtPrunedHeight(t *testing.T) {
	s := openPruningStore(t, t.TempDir(), 2, nil)
	defer s.Close()
	a := New(s)
	for v := 1; v <= 5; v++ {
		if err := s.Working().Set([]byte(keyParams), fmt.Appendf(nil, "params %d", v)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	_, err := a.Query("/params", 3, true)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "height 3 was pruned") {
		t.Fatalf("query at pruned height 3: got %v, want not found, pruned", err)
	}
	res, err := a.Query("/params", 4, true)
	if err != nil || string(res.Value) != "params 4" || res.Proof == nil || res.Height != 4 {
		t.Fatalf("query at kept height 4: got %+v, %v", res, err)
	}
	if len(s.held) != 0 {
		t.Fatalf("versions still held after the queries: %v", s.held)
	}
}

// TestPruneBesideTheNextBlock runs each save in a goroutine of its own, as
// the ABCI layer does, so that pruning overlaps the next block's writes and
// the next save (run it with -race), through the writer's handle (a small
// window) and through one of its own (a wide one): every version kept reads
// back what it was given, and the window keeps up.
func TestPruneBesideTheNextBlock(t *testing.T) {
	for _, keep := range []int64{3, smallPruneWindow + 4} {
		t.Run(fmt.Sprintf("keep=%d", keep), func(t *testing.T) { pruneBesideTheNextBlock(t, keep) })
	}
}

func pruneBesideTheNextBlock(t *testing.T, keep int64) {
	s := openPruningStore(t, t.TempDir(), keep, nil)
	var saves sync.WaitGroup
	for v := 1; v <= 40; v++ {
		for i := range 300 {
			key := fmt.Sprintf("k/churn/%03d", (v*37+i)%700)
			if err := s.Working().Set([]byte(key), fmt.Appendf(nil, "v%d-%d", v, i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Working().Set(fmt.Appendf(nil, "k/churn/v%d", v), fmt.Appendf(nil, "version %d", v)); err != nil {
			t.Fatal(err)
		}
		_, _, save, err := s.CommitDeferred()
		if err != nil {
			t.Fatal(err)
		}
		saves.Add(1)
		go func() {
			defer saves.Done()
			save()
		}()
	}
	saves.Wait()
	if err := s.Saved(); err != nil {
		t.Fatal(err)
	}
	// A save that ended while a round ran pruned nothing; the next ones
	// make it up, four versions a round.
	for i := 0; s.Oldest() < s.Height()-keep+1; i++ {
		if i == 20 {
			t.Fatalf("pruning did not catch up: oldest %d at height %d keeping %d", s.Oldest(), s.Height(), keep)
		}
		if err := s.Working().Set([]byte("k/tick"), fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	for v := s.Oldest(); v <= 40; v++ {
		tree, err := s.Version(v)
		if err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
		if got, err := tree.Get(fmt.Appendf(nil, "k/churn/v%d", v)); err != nil || string(got) != fmt.Sprintf("version %d", v) {
			t.Fatalf("version %d: got %q, %v", v, got, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
