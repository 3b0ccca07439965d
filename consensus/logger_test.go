package consensus

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	cmtlog "github.com/cometbft/cometbft/libs/log"
)

type name string

func (n *name) String() string { return "name:" + string(*n) }

// logOne logs through the bridge at debug level and decodes the single line.
func logOne(t *testing.T, log func(cmtlog.Logger)) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	zl, err := NewZerolog(&buf, LogFormatJSON, "debug")
	if err != nil {
		t.Fatalf("NewZerolog: %v", err)
	}
	log(NewCometLogger(zl))
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("decode log line %q: %v", buf.String(), err)
	}
	return got
}

func TestCometLoggerFields(t *testing.T) {
	n := name("alice")
	got := logOne(t, func(l cmtlog.Logger) {
		l.With("module", "p2p").Info("hello",
			"height", 5,
			"hash", []byte{0xab, 0xcd},
			"err", errors.New("boom"),
			"who", &n,
			"nilptr", (*name)(nil),
			42, "int key")
	})
	want := map[string]any{
		"level":   "info",
		"message": "hello",
		"module":  "p2p",
		"height":  float64(5),
		"hash":    "ABCD",
		"err":     "boom",
		"who":     "name:alice",
		"nilptr":  nil,
		"42":      "int key",
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("field %q: got %v (present %v), want %v", k, g, ok, w)
		}
	}
	if ts, ok := got["time"].(string); !ok {
		t.Errorf("no time field in %v", got)
	} else if _, err := time.Parse("2006-01-02T15:04:05.000Z07:00", ts); err != nil {
		t.Errorf("time %q is not RFC 3339 with milliseconds: %v", ts, err)
	}
}

// TestPerRequestLinesAtDebug: CometBFT's one info line per websocket
// request is logged at debug; other info lines stay at info.
func TestPerRequestLinesAtDebug(t *testing.T) {
	if got := logOne(t, func(l cmtlog.Logger) { l.Info("WSJSONRPC", "method", "broadcast_tx_sync") })["level"]; got != "debug" {
		t.Errorf("WSJSONRPC logged at %v, want debug", got)
	}
	if got := logOne(t, func(l cmtlog.Logger) { l.Info("committed state", "height", 3) })["level"]; got != "info" {
		t.Errorf("committed state logged at %v, want info", got)
	}
}

func TestCometLoggerLevels(t *testing.T) {
	tests := []struct {
		want string
		log  func(cmtlog.Logger)
	}{
		{"debug", func(l cmtlog.Logger) { l.Debug("m") }},
		{"info", func(l cmtlog.Logger) { l.Info("m") }},
		{"warn", func(l cmtlog.Logger) { l.Warn("m") }},
		{"error", func(l cmtlog.Logger) { l.Error("m") }},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := logOne(t, tt.log)["level"]; got != tt.want {
				t.Errorf("got level %v, want %s", got, tt.want)
			}
		})
	}
}

func TestCometLoggerOddKeyvals(t *testing.T) {
	got := logOne(t, func(l cmtlog.Logger) {
		l.With("dangling").Info("m", "a", 1, "b")
	})
	for _, k := range []string{"dangling", "b"} {
		if got[k] != missingValue {
			t.Errorf("field %q: got %v, want %q", k, got[k], missingValue)
		}
	}
	if got["a"] != float64(1) {
		t.Errorf("field a: got %v, want 1", got["a"])
	}
}

func TestCometLoggerFiltersByLevel(t *testing.T) {
	var buf bytes.Buffer
	zl, err := NewZerolog(&buf, LogFormatJSON, "warn")
	if err != nil {
		t.Fatalf("NewZerolog: %v", err)
	}
	l := NewCometLogger(zl)
	l.Debug("d")
	l.Info("i")
	if buf.Len() != 0 {
		t.Fatalf("got %q below warn, want nothing", buf.String())
	}
	l.Warn("w")
	if !strings.Contains(buf.String(), `"message":"w"`) {
		t.Errorf("got %q, want the warn entry", buf.String())
	}
}

func TestNewZerologConsole(t *testing.T) {
	var buf bytes.Buffer
	zl, err := NewZerolog(&buf, LogFormatConsole, "info")
	if err != nil {
		t.Fatalf("NewZerolog: %v", err)
	}
	zl.Info().Str("k", "v").Msg("hello")
	out := buf.String()
	if !strings.Contains(out, "hello") || !strings.Contains(out, "k=v") || strings.Contains(out, "\x1b[") {
		t.Errorf("got %q, want plain text with hello and k=v", out)
	}
}

func TestNewZerologErrors(t *testing.T) {
	tests := []struct {
		format, level, want string
	}{
		{"json", "verbose", `"verbose"`},
		{"json", "trace", `"trace"`},
		{"json", "", `log level ""`},
		{"xml", "info", `"xml"`},
	}
	for _, tt := range tests {
		t.Run(tt.format+"/"+tt.level, func(t *testing.T) {
			_, err := NewZerolog(&bytes.Buffer{}, tt.format, tt.level)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one naming %s", err, tt.want)
			}
		})
	}
}
