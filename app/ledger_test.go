package app

import (
	"slices"
	"testing"
)

// loadParams remembers the last params it decoded by their bytes: two
// states with different params each get their own, whichever was read
// last, and LoadParams hands out Modules that its caller may change.
func TestLoadParamsByBytes(t *testing.T) {
	f := newFixture(t)
	committed := f.store.Committed()
	want := DefaultParams()
	changed := want
	changed.MaxInputs, changed.Modules = 255, []string{ModuleSignature, ModulePoW, ModulePolicy} // as long as want
	if err := f.store.Working().Set([]byte(keyParams), encodeParams(&changed)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		for _, c := range []struct {
			name string
			r    Reader
			want Params
		}{{"committed", committed, want}, {"working", f.store.Working(), changed}} {
			p, err := loadParams(c.r)
			if err != nil {
				t.Fatal(err)
			}
			if p.MaxInputs != c.want.MaxInputs || !slices.Equal(p.Modules, c.want.Modules) {
				t.Fatalf("%s state: params %+v, want %+v", c.name, p, c.want)
			}
		}
	}
	p, err := LoadParams(committed)
	if err != nil {
		t.Fatal(err)
	}
	p.Modules[0] = "changed-by-caller"
	if again, _ := loadParams(committed); !slices.Equal(again.Modules, want.Modules) {
		t.Fatalf("a caller's change reached the remembered params: %v", again.Modules)
	}
	if shared, _ := loadParams(committed); cap(shared.Modules) != len(shared.Modules) {
		t.Fatalf("shared Modules has room to append into: len %d, cap %d", len(shared.Modules), cap(shared.Modules))
	}
}
