package consensus

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// A home whose node keeps no index, or no block results, has nothing to
// rebuild: start goes on with a log line, the command refuses clearly.
// (The rebuild itself is tested on a real node in cmd/consort.)
func TestReindexRespectsConfig(t *testing.T) {
	tests := []struct {
		name    string
		indexer string
		discard bool
		want    error
	}{
		{"null indexer", "null", false, ErrNoIndexer},
		{"discarded responses", "kv", true, ErrResponsesDiscarded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf, err := InitHome(testHomeConfig(t))
			if err != nil {
				t.Fatalf("InitHome: %v", err)
			}
			conf.TxIndex.Indexer = tt.indexer
			conf.Storage.DiscardABCIResponses = tt.discard
			logs := newLogBuffer(t)
			n, err := ReindexRecent(conf, RecentReindexHeights, zerolog.New(logs))
			if err != nil || n != 0 {
				t.Fatalf("ReindexRecent: got %d heights, %v; want 0, nil", n, err)
			}
			if !strings.Contains(logs.String(), "not re-indexing") || !strings.Contains(logs.String(), strings.ReplaceAll(tt.want.Error(), `"`, `\"`)) {
				t.Errorf("log %q does not say why nothing was re-indexed", logs.String())
			}
			if _, err := Reindex(context.Background(), conf, 0, 0); !errors.Is(err, tt.want) {
				t.Errorf("Reindex: got %v, want %v", err, tt.want)
			}
			if _, err := os.Stat(conf.DBDir() + "/tx_index.db"); !os.IsNotExist(err) {
				t.Errorf("tx_index.db was created (stat: %v)", err)
			}
		})
	}
}

// A home whose chain has no block yet re-indexes nothing, without error.
func TestReindexNewHome(t *testing.T) {
	conf, err := InitHome(testHomeConfig(t))
	if err != nil {
		t.Fatalf("InitHome: %v", err)
	}
	if n, err := ReindexRecent(conf, RecentReindexHeights, zerolog.Nop()); err != nil || n != 0 {
		t.Fatalf("ReindexRecent: got %d heights, %v; want 0, nil", n, err)
	}
	r, err := Reindex(context.Background(), conf, 0, 0)
	if err != nil || r.Len() != 0 {
		t.Fatalf("Reindex: got %+v, %v; want an empty range", r, err)
	}
	if _, err := Reindex(context.Background(), conf, -1, 0); err == nil {
		t.Errorf("Reindex from -1: no error")
	}
}
