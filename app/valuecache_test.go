package app

import (
	"bytes"
	"fmt"
	"testing"
)

// TestValueCacheAnswersWhatTheTreeHolds reads keys through the cache
// before, during and after blocks that change and delete them, with a cache
// that holds everything and one so small that its generations turn over,
// and compares every answer with what was written.
func TestValueCacheAnswersWhatTheTreeHolds(t *testing.T) {
	for _, limit := range []int{1000, 7} {
		t.Run(fmt.Sprintf("entries=%d", limit), func(t *testing.T) { testValueCache(t, limit) })
	}
}

func testValueCache(t *testing.T, limit int) {
	cfg := DefaultStoreConfig()
	cfg.ValueCacheEntries = limit
	dir := t.TempDir()
	s, err := OpenStore(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	key := func(i int) []byte { return []byte(fmt.Sprintf("k/%03d", i)) }
	want := map[int][]byte{}
	check := func(stage string, r Reader) {
		t.Helper()
		for i := range 40 {
			for pass := range 2 { // the second read is a cache hit
				got, err := r.Get(key(i))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want[i]) || (got == nil) != (want[i] == nil) {
					t.Fatalf("%s, key %d, read %d: got %q, want %q", stage, i, pass, got, want[i])
				}
			}
		}
	}
	for block := 1; block <= 6; block++ {
		before := s.Committed()
		beforeWant := map[int][]byte{}
		for k, v := range want {
			beforeWant[k] = v
		}
		w := s.Working()
		for i := block; i < 40; i += block + 1 {
			if i%3 == 0 && want[i] != nil {
				if err := w.Delete(key(i)); err != nil {
					t.Fatal(err)
				}
				delete(want, i)
				continue
			}
			v := []byte(fmt.Sprintf("v%d/%d", block, i))
			if err := w.Set(key(i), v); err != nil {
				t.Fatal(err)
			}
			want[i] = v
		}
		check(fmt.Sprintf("block %d, working", block), w)
		if _, _, err := s.Commit(); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("block %d, committed", block), s.Committed())
		// A reader of the previous version still sees that version.
		now := want
		want = beforeWant
		check(fmt.Sprintf("block %d, previous version", block), before)
		want = now
	}
	// Reopened, the cache starts empty and fills again from the tree.
	s.Close()
	if s, err = OpenStore(dir, cfg); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check("reopened", s.Committed())
}
