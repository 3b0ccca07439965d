package crashpoint

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// EnvVar names the point to crash at: POINT or POINT@HEIGHT.
const EnvVar = "CONSORT_CRASH_AT"

// The named points, in the order a block passes them.
const (
	FinalizeStart     = "finalize-start"      // FinalizeBlock called, nothing executed
	FinalizeEnd       = "finalize-end"        // block executed in the working tree, response not yet returned
	CommitStart       = "commit-start"        // Commit called, nothing saved
	CommitAfterSave   = "commit-after-save"   // IAVL version saved, committed height not yet recorded
	CommitAfterRecord = "commit-after-record" // committed height recorded and synced
	CommitEnd         = "commit-end"          // the app's Commit done, CometBFT not yet told
)

// Points lists every point, in block order.
var Points = []string{FinalizeStart, FinalizeEnd, CommitStart, CommitAfterSave, CommitAfterRecord, CommitEnd}

// target is the parsed CONSORT_CRASH_AT, read once: a test sets it in the
// node's environment before start, never later.
type target struct {
	point  string
	height int64 // 0: the first time the point is reached
}

var loadTarget = sync.OnceValue(func() target {
	t, err := parse(os.Getenv(EnvVar))
	if err != nil {
		// A typo must not silently run a node that never crashes: the test
		// that set it would pass for the wrong reason.
		fmt.Fprintf(os.Stderr, "%s: %v\n", EnvVar, err)
		os.Exit(2)
	}
	return t
})

// parse reads POINT or POINT@HEIGHT; "" is no crash point.
func parse(s string) (target, error) {
	if s == "" {
		return target{}, nil
	}
	point, h, hasHeight := strings.Cut(s, "@")
	if !slices.Contains(Points, point) {
		return target{}, fmt.Errorf("unknown crash point %q; want one of %s", point, strings.Join(Points, ", "))
	}
	t := target{point: point}
	if hasHeight {
		n, err := strconv.ParseInt(h, 10, 64)
		if err != nil || n < 1 {
			return target{}, fmt.Errorf("crash height %q: want a positive block height", h)
		}
		t.height = n
	}
	return t, nil
}

// Hit kills the process with SIGKILL if point at height is the configured
// crash point. It is one comparison when no crash point is set.
func Hit(point string, height int64) {
	t := loadTarget()
	if t.point != point || height < t.height {
		return
	}
	fmt.Fprintf(os.Stderr, "crashpoint: killing the process at %s, height %d\n", point, height)
	p, err := os.FindProcess(os.Getpid())
	if err == nil {
		_ = p.Kill() // SIGKILL: no deferred function or buffered write runs
	}
	os.Exit(2) // only if the kill did not land at once
}
