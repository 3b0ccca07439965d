package consensus

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/rs/zerolog"
)

// Log formats accepted by NewZerolog.
const (
	LogFormatJSON    = "json"
	LogFormatConsole = "console"
)

// missingValue stands in for the value of a trailing key without one; it is
// the marker go-kit (and so CometBFT's own logger) uses.
const missingValue = "(MISSING)"

// cometLogger implements CometBFT's logger interface on top of zerolog.
type cometLogger struct {
	zl zerolog.Logger
}

var _ cmtlog.Logger = cometLogger{}

// NewCometLogger returns a CometBFT logger that writes through zl. CometBFT
// levels map one to one onto zerolog levels, so zl's level filters both.
func NewCometLogger(zl zerolog.Logger) cmtlog.Logger {
	return cometLogger{zl: zl}
}

// NewZerolog returns a timestamped logger writing to w in format ("json" or
// "console") at level ("debug", "info", "warn" or "error"). Writes are
// serialised because CometBFT logs from many goroutines and w need not be
// safe for concurrent use.
func NewZerolog(w io.Writer, format, level string) (zerolog.Logger, error) {
	lvl, err := parseLevel(level)
	if err != nil {
		return zerolog.Nop(), err
	}
	var out io.Writer
	switch format {
	case LogFormatJSON:
		out = w
	case LogFormatConsole:
		out = zerolog.ConsoleWriter{Out: w, NoColor: !isTerminal(w)}
	default:
		return zerolog.Nop(), fmt.Errorf("unknown log format %q: want %q or %q",
			format, LogFormatJSON, LogFormatConsole)
	}
	return zerolog.New(zerolog.SyncWriter(out)).Level(lvl).With().Timestamp().Logger(), nil
}

// Timestamps carry milliseconds: blocks are about a second apart, and the
// steps of one block (proposal, execution, commit, save) must be told apart.
// zerolog reads the format from this package-level variable.
func init() { zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00" }

// Debug implements cmtlog.Logger.
func (l cometLogger) Debug(msg string, keyvals ...any) { write(l.zl.Debug(), msg, keyvals) }

// perRequestInfo are CometBFT's info lines written once per RPC request.
// They are logged at debug: under load they were most of a node's log (one
// line per broadcast_tx over a websocket, 160,000 a minute in the
// benchmark) and cost CPU on the path that admits transactions.
var perRequestInfo = map[string]bool{"WSJSONRPC": true}

// Info implements cmtlog.Logger.
func (l cometLogger) Info(msg string, keyvals ...any) {
	if perRequestInfo[msg] {
		write(l.zl.Debug(), msg, keyvals)
		return
	}
	write(l.zl.Info(), msg, keyvals)
}

// Warn implements cmtlog.Logger.
func (l cometLogger) Warn(msg string, keyvals ...any) { write(l.zl.Warn(), msg, keyvals) }

// Error implements cmtlog.Logger.
func (l cometLogger) Error(msg string, keyvals ...any) { write(l.zl.Error(), msg, keyvals) }

// With implements cmtlog.Logger: keyvals become fields of every later entry.
func (l cometLogger) With(keyvals ...any) cmtlog.Logger {
	return cometLogger{zl: l.zl.With().Fields(fields(keyvals)).Logger()}
}

// write sends one entry. A disabled level returns before any conversion,
// which matters because CometBFT logs a lot at debug.
func write(e *zerolog.Event, msg string, keyvals []any) {
	if !e.Enabled() {
		return
	}
	e.Fields(fields(keyvals)).Msg(msg)
}

// fields turns CometBFT's alternating key/value list into the one zerolog
// accepts: string keys, an even length, values rendered for reading.
func fields(keyvals []any) []any {
	out := make([]any, 0, len(keyvals)+1)
	for i := 0; i < len(keyvals); i += 2 {
		key, ok := keyvals[i].(string)
		if !ok {
			key = fmt.Sprint(keyvals[i])
		}
		var val any = missingValue
		if i+1 < len(keyvals) {
			val = render(keyvals[i+1])
		}
		out = append(out, key, val)
	}
	return out
}

// render converts values whose zerolog default is unhelpful: byte slices
// (hashes, addresses) become upper-case hex as CometBFT prints them, and
// errors and Stringers (including CometBFT's lazy formatters) become text.
// Anything else zerolog encodes itself, as JSON.
func render(v any) any {
	if isNilPointer(v) {
		return nil
	}
	switch v := v.(type) {
	case []byte:
		return strings.ToUpper(hex.EncodeToString(v))
	case error:
		return v.Error()
	case fmt.Stringer:
		return v.String()
	default:
		return v
	}
}

// isNilPointer reports a typed nil, on which calling Error or String would
// usually panic inside the logger.
func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// parseLevel accepts exactly the levels consort documents; zerolog.ParseLevel
// would also take trace, fatal, panic and disabled.
func parseLevel(level string) (zerolog.Level, error) {
	switch level {
	case "debug":
		return zerolog.DebugLevel, nil
	case "info":
		return zerolog.InfoLevel, nil
	case "warn":
		return zerolog.WarnLevel, nil
	case "error":
		return zerolog.ErrorLevel, nil
	default:
		return zerolog.NoLevel, fmt.Errorf("unknown log level %q: want debug, info, warn or error", level)
	}
}

// isTerminal reports whether w is a character device, so colour codes are
// only written where a person reads them.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
