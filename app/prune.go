package app

import (
	"fmt"
	"time"

	"github.com/cosmos/iavl"
)

// Pruning keeps the last StoreConfig.KeepVersions versions of the tree on
// disk and deletes older ones: without it the state database grows with
// every block, by ~70 MiB a minute at 1,000 transfers/s (docs/benchmarks.md),
// although the node only ever needs the latest version. Old versions serve
// queries at a past height and their proofs; a pruned height is refused
// with a message; the blocks themselves stay in CometBFT's block store, so
// `consort audit` still replays and checks every height.
//
// When: after each save, in the save's goroutine once the version is on
// disk and the next block may go on (save.go), so a prune runs beside the
// next block. Deleting a version means walking its nodes and the next
// version's (IAVL v1 records no orphans), about the work of saving one.
// Which tree handle walks them depends on the window:
//   - up to smallPruneWindow versions, the writer's own: the nodes of a
//     version saved a few blocks ago are still in its node cache. Such a
//     prune shares the handle's batch with SaveVersion, so the two take
//     turns (treeBatchMu): the next save waits for a prune in progress.
//   - a wider window, a handle of its own, opened for each round with a
//     small cache: the nodes of a version hundreds of blocks old come from
//     leveldb either way, and read through the writer's handle they would
//     evict from its cache the nodes the next blocks need (measured: the
//     rate fell to a third within ten minutes, docs/benchmarks.md). Its
//     batch is its own, so it also runs beside the next save.
// One round runs at a time; a save that ends while one runs prunes nothing,
// and the next catches up. At most maxPrunedPerSave versions go per round:
// a node that starts pruning with a long history behind it catches up over
// many blocks instead of stalling.
//
// Crash safety: IAVL deletes a version's nodes through the handle's batch
// and writes it at the end of DeleteVersionsTo; each version is pruned by
// one call, and the flush threshold (StoreConfig.FlushThreshold) is far
// above what one version's deletions take, so the deletions of one version
// reach leveldb in one atomic write: a crash leaves a version whole or gone.
// Were a version left half-deleted all the same, IAVL could not walk it
// again: the prune error is logged and pruning stops (after a restart it
// fails again at the same version); nothing the ledger reads is affected,
// as only versions older than every reader's are touched.
//
// Readers: queries hold the version they read (HoldVersion), and a held
// version is not pruned until it is released. Version refuses heights
// already pruned, and the oldest version is moved up before the deletion
// starts, so no new reader opens a version being deleted.

// maxPrunedPerSave bounds the versions deleted in one round.
const maxPrunedPerSave = 4

// smallPruneWindow is the widest window pruned through the writer's handle:
// it deletes versions saved a few blocks ago, whose nodes the writer's cache
// of 400,000 still holds unless blocks change more than ~50,000 nodes each
// (a few thousand transfers).
const smallPruneWindow = 8

// pruneCacheSize is the node cache of a prune's own tree handle: its walks
// read each node about once.
const pruneCacheSize = 10_000

// MinKeepVersions is the fewest versions pruning may keep: while version N
// is being saved, reads of it fall back to version N-1 on disk (save.go).
const MinKeepVersions = 2

// PruneReport describes the versions deleted after one save.
type PruneReport struct {
	// From and To are the first and last version deleted; none when To < From.
	From, To int64
	// Oldest is the oldest version left on disk.
	Oldest   int64
	Duration time.Duration
	// Err is why pruning failed; the store prunes no more after it.
	Err error
}

// Oldest is the oldest version the store still has, 0 before the first
// commit.
func (s *Store) Oldest() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.version == 0 {
		return 0
	}
	return s.oldest
}

// HoldVersion opens a committed version like Version, and keeps it from
// being pruned until release is called. Call release exactly once.
func (s *Store) HoldVersion(height int64) (tree *iavl.ImmutableTree, release func(), err error) {
	s.mu.Lock()
	if err := s.prunedErr(height); err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	s.held[height]++
	s.mu.Unlock()
	release = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.held[height]--; s.held[height] <= 0 {
			delete(s.held, height)
		}
	}
	t, err := s.Version(height)
	if err != nil {
		release()
		return nil, nil, err
	}
	return t, release, nil
}

// prunedErr refuses a height below the oldest kept version. Call with mu
// held.
func (s *Store) prunedErr(height int64) error {
	if height > 0 && height < s.oldest {
		return fmt.Errorf("height %d was pruned: this node keeps the last %d versions of the state (state.keep_versions), the oldest it has is %d", height, s.keep, s.oldest)
	}
	return nil
}

// findOldest sets oldest to the first version on disk, after load.
func (s *Store) findOldest(latest int64) {
	lo, hi := int64(1), latest
	for lo < hi { // the versions on disk are one run ending at latest
		mid := lo + (hi-lo)/2
		if s.tree.VersionExists(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	s.mu.Lock()
	s.oldest = lo
	s.mu.Unlock()
}

// OnPruned makes fn be called after each round of pruning that deleted
// versions or failed, in the goroutine that ran the save, for logs and
// metrics.
func (s *Store) OnPruned(fn func(PruneReport)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onPruned = fn
}

// prune deletes the versions that fall out of the kept window after latest
// was saved, oldest first, sparing held ones, unless a round from an
// earlier save still runs. Call without workMu.
func (s *Store) prune(latest int64) {
	if !s.pruneMu.TryLock() {
		return
	}
	defer s.pruneMu.Unlock()
	s.mu.Lock()
	if s.keep == 0 || s.pruneErr != nil || s.closed {
		s.mu.Unlock()
		return
	}
	from, to := s.oldest, latest-s.keep
	for h := range s.held { // any order: the lowest counts
		to = min(to, h-1)
	}
	to = min(to, from+maxPrunedPerSave-1)
	if to < from {
		s.mu.Unlock()
		return
	}
	s.oldest = to + 1 // no new reader opens what is being deleted
	onPruned := s.onPruned
	s.mu.Unlock()

	start := time.Now()
	rep := PruneReport{From: from, To: to, Oldest: to + 1}
	rep.Err = s.deleteVersions(from, to)
	if rep.Err != nil {
		s.mu.Lock()
		s.pruneErr = rep.Err
		s.mu.Unlock()
	}
	rep.Duration = time.Since(start)
	if onPruned != nil {
		onPruned(rep)
	}
}

// deleteVersions deletes versions from..to, one DeleteVersionsTo (one
// batch write) each, through the handle the window calls for.
func (s *Store) deleteVersions(from, to int64) error {
	if s.keep <= smallPruneWindow {
		for v := from; v <= to; v++ {
			s.treeBatchMu.Lock()
			err := s.tree.DeleteVersionsTo(v)
			s.treeBatchMu.Unlock()
			if err != nil {
				return fmt.Errorf("prune state version %d: %w", v, err)
			}
		}
		return nil
	}
	// A fresh handle: it finds the latest version on disk itself, which
	// IAVL checks the deleted ones against.
	pruner := iavl.NewMutableTree(s.treeDB, pruneCacheSize, true, iavl.NewNopLogger(), iavl.FlushThresholdOption(s.flush))
	defer pruner.Close()
	for v := from; v <= to; v++ {
		if err := pruner.DeleteVersionsTo(v); err != nil {
			return fmt.Errorf("prune state version %d: %w", v, err)
		}
	}
	return nil
}
