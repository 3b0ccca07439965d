package app

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	corestore "cosmossdk.io/core/store"
	"github.com/cosmos/iavl"
	idb "github.com/cosmos/iavl/db"
)

const crashDirEnv = "CONSORT_TEST_STORE_CRASH_DIR"

// writeVersion sets n keys derived from tag in the working tree.
func writeVersion(t testing.TB, s *Store, tag string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := s.Working().Set([]byte(fmt.Sprintf("k/%s/%05d", tag, i)), bytes.Repeat([]byte(tag), 20)); err != nil {
			t.Fatal(err)
		}
	}
}

// indexedTestKey is a key the store keeps in its index, beside the tree.
var indexedTestKey = []byte(prefixBalance + "x/USD")

// setIndexed writes tag at indexedTestKey in the working state.
func setIndexed(t testing.TB, s *Store, tag string) {
	t.Helper()
	if err := s.Working().Set(indexedTestKey, []byte(tag)); err != nil {
		t.Fatal(err)
	}
}

// killingDB kills its own process with SIGKILL on the third batch write,
// which is inside IAVL's SaveVersion when the flush threshold is small.
type killingDB struct{ idb.DB }

var batchWrites int

func (k killingDB) NewBatch() corestore.Batch { return killingBatch{k.DB.NewBatch()} }
func (k killingDB) NewBatchWithSize(n int) corestore.Batch {
	return killingBatch{k.DB.NewBatchWithSize(n)}
}

type killingBatch struct{ corestore.Batch }

func (b killingBatch) Write() error {
	if batchWrites++; batchWrites == 3 {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
	return b.Batch.Write()
}
func (b killingBatch) WriteSync() error { return b.Write() }

// TestCrashInsideSaveVersion kills a real process in the middle of
// SaveVersion, leaving a partial version on disk, and checks that the store
// reopens at the last committed version with the same hash and can then
// commit the next version as if nothing had happened.
func TestCrashInsideSaveVersion(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		cfg := DefaultStoreConfig()
		cfg.FlushThreshold = 2000
		cfg.wrapTreeDB = func(db idb.DB) idb.DB { return killingDB{db} }
		s, err := OpenStore(dir, cfg)
		if err != nil {
			t.Fatal(err)
		}
		writeVersion(t, s, "c", 500)
		setIndexed(t, s, "c")
		s.Commit()
		t.Fatal("process survived its own SIGKILL")
	}

	dir := t.TempDir()
	s, err := OpenStore(dir, DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	writeVersion(t, s, "a", 300)
	if _, _, err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	writeVersion(t, s, "b", 300)
	setIndexed(t, s, "b")
	hash2, _, err := s.Commit()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashInsideSaveVersion$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL: %v\n%s", err, out)
	}

	// The trap is real: IAVL itself sees a version 3 that was never committed.
	raw, err := idb.NewGoLevelDB("state", dir)
	if err != nil {
		t.Fatal(err)
	}
	naive := iavl.NewMutableTree(idb.NewPrefixDB(raw, treePrefix), 0, true, iavl.NewNopLogger())
	if latest, _ := naive.GetLatestVersion(); latest != 3 {
		t.Fatalf("IAVL's latest version after the crash: got %d, want the partial version 3", latest)
	}
	raw.Close()

	s, err = OpenStore(dir, DefaultStoreConfig())
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer s.Close()
	if got := s.Height(); got != 2 {
		t.Fatalf("height after crash: got %d, want 2", got)
	}
	if got := s.Hash(); !bytes.Equal(got, hash2) {
		t.Fatalf("hash after crash: got %X, want %X", got, hash2)
	}
	// The index beside the tree is that of height 2 too: the crashed
	// block's index writes never landed.
	if got, err := s.IndexGet(2, indexedTestKey); err != nil || string(got) != "b" {
		t.Fatalf("index after crash: got %q (%v), want %q, written at height 2", got, err, "b")
	}
	writeVersion(t, s, "c", 500)
	got3, v, err := s.Commit()
	if err != nil || v != 3 {
		t.Fatalf("commit version 3 after crash: version %d, %v", v, err)
	}

	// A store that never crashed reaches the same hash.
	control, err := OpenStore(t.TempDir(), DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer control.Close()
	for _, tag := range []string{"a", "b", "c"} {
		n := 300
		if tag == "c" {
			n = 500
		}
		writeVersion(t, control, tag, n)
		if _, _, err := control.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if want := control.Hash(); !bytes.Equal(got3, want) {
		t.Fatalf("version 3 after crash: hash %X, control %X", got3, want)
	}
}

// TestUncommittedFirstVersionDiscarded covers a crash before the first
// commit completes: nothing of it may survive.
func TestUncommittedFirstVersionDiscarded(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir, DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	writeVersion(t, s, "a", 50)
	if _, _, err := s.tree.SaveVersion(); err != nil { // saved, but never recorded as committed
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenStore(dir, DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Height() != 0 {
		t.Fatalf("height: got %d, want 0", s.Height())
	}
	if v, _ := s.Working().Get([]byte("k/a/00001")); v != nil {
		t.Fatalf("uncommitted key survived: %q", v)
	}
	writeVersion(t, s, "b", 5)
	if _, v, err := s.Commit(); err != nil || v != 1 {
		t.Fatalf("first commit after discard: version %d, %v", v, err)
	}
}

// TestStoreRefusesEarlierFormat: a state whose format record is missing (as
// one written before the index moved beside the tree) does not open, and the
// error says why and what to do.
func TestStoreRefusesEarlierFormat(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir, DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	writeVersion(t, s, "a", 3)
	if _, _, err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Delete(stateFormatKey); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = OpenStore(dir, DefaultStoreConfig())
	if err == nil || !strings.Contains(err.Error(), "earlier consort") || !strings.Contains(err.Error(), "start a new chain") {
		t.Fatalf("open a state without format record: got %v, want an error naming the earlier format and what to do", err)
	}
}
