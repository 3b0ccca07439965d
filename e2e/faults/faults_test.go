package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consort-ledger/consort/crashpoint"
)

// Environment of the fault-injection suite.
const (
	// E2E_DURATION runs the long form: random faults for this long (a Go
	// duration). Unset, the short form injects each fault once.
	envDuration = "E2E_DURATION"
	// E2E_SEED replays a run: the fault order, targets and workload.
	envSeed = "E2E_SEED"
	// E2E_FAULTS limits a run to the faults whose names start with one of
	// these comma-separated prefixes (e.g. "truncate-wal,partition").
	envFaults = "E2E_FAULTS"
	// E2E_ARTIFACTS is where a run writes its history: always when set, and
	// on failure into a new temporary folder (kept) when not.
	envArtifacts = "E2E_ARTIFACTS"
)

// shortFormSeed fixes the short form, so that `make test` is repeatable.
const shortFormSeed = 20261126

// TestFaults runs four validators as real processes under a transfer
// workload (with deliberate conflicting spends sent to different nodes at
// once) while a nemesis injects faults on a seeded schedule, then checks:
// every acknowledged transaction is in the chain on every node, no coin is
// spent twice, the supply is conserved, all nodes hold the same blocks and
// app hashes, every node caught up, and `consort audit` finds nothing.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four node processes under faults for minutes")
	}
	seed, duration := faultSettings(t)
	rng := rand.New(rand.NewPCG(seed, seed))
	tl := newTimeline()
	c := newCluster(t, buildConsortBinary(t), tl)

	var schedule []nemesis
	var final []nemesis
	for _, n := range nemeses {
		switch {
		case n.needsNetns && c.lab == nil:
			t.Logf("nemesis %s skipped: no network namespaces on this machine (needs root and iproute2)", n.name)
		case n.last:
			final = append(final, n)
		case n.name == "crash-in-commit" && duration == 0:
			// The short form crashes at every point once, on a seeded node.
			for _, point := range crashpoint.Points {
				node := rng.IntN(faultValidators)
				schedule = append(schedule, nemesis{name: "crash-at-" + point, run: func(n *nemesisRun) error {
					return crashAt(n, n.c.nodes[node], point)
				}})
			}
		default:
			schedule = append(schedule, n)
		}
	}
	if only := os.Getenv(envFaults); only != "" {
		keep := func(ns []nemesis) []nemesis {
			var out []nemesis
			for _, n := range ns {
				for _, name := range strings.Split(only, ",") {
					if strings.HasPrefix(n.name, strings.TrimSpace(name)) {
						out = append(out, n)
						break
					}
				}
			}
			return out
		}
		schedule, final = keep(schedule), keep(final)
		t.Logf("only the faults named in %s=%s", envFaults, only)
	}
	rng.Shuffle(len(schedule), func(i, j int) { schedule[i], schedule[j] = schedule[j], schedule[i] })
	next := func(i int) (nemesis, bool) {
		if i < len(schedule) {
			return schedule[i], true
		}
		return nemesis{}, false
	}
	if duration > 0 {
		// Random faults, with replacement, until runFaults says the time is up.
		next = func(int) (nemesis, bool) { return schedule[rng.IntN(len(schedule))], true }
	}
	runFaults(t, c, seed, duration, next, final, rng)
}

// TestCrashPoints (long form only) kills a validator at each named step between
// FinalizeBlock and the end of Commit (CONSORT_CRASH_AT), under the
// workload, restarts it without the crash point, and runs the checker: the
// node must come back to the same blocks and app hashes as the others.
func TestCrashPoints(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four node processes")
	}
	if os.Getenv(envDuration) == "" {
		t.Skipf("long form only (make e2e, %s set): the short form of TestFaults already crashes a node at every point", envDuration)
	}
	seed := uint64(shortFormSeed)
	if s := os.Getenv(envSeed); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want an unsigned integer", envSeed, s)
		}
		seed = v
	}
	t.Logf("seed %d (replay with %s=%d)", seed, envSeed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	c := newCluster(t, buildConsortBinary(t), newTimeline())
	runFaults(t, c, seed, 0, func(i int) (nemesis, bool) {
		if i >= len(crashpoint.Points) {
			return nemesis{}, false
		}
		point := crashpoint.Points[i]
		return nemesis{name: "crash-at-" + point, run: func(n *nemesisRun) error { return crashAt(n, n.c.nodes[i%len(n.c.nodes)], point) }}, true
	}, nil, rng)
}

// faultSettings reads E2E_SEED and E2E_DURATION and logs the seed.
func faultSettings(t *testing.T) (uint64, time.Duration) {
	t.Helper()
	var duration time.Duration
	if s := os.Getenv(envDuration); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("%s=%q: want a positive duration such as 3m", envDuration, s)
		}
		duration = d
	}
	seed := uint64(shortFormSeed)
	if duration > 0 {
		seed = uint64(time.Now().UnixNano())
	}
	if s := os.Getenv(envSeed); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want an unsigned integer", envSeed, s)
		}
		seed = v
	}
	form := "short form: each fault once"
	if duration > 0 {
		form = "long form: random faults for " + duration.String()
	}
	t.Logf("seed %d, %s (replay with %s=%d)", seed, form, envSeed, seed)
	fmt.Fprintf(os.Stderr, "e2e faults: seed %d, %s\n", seed, form)
	return seed, duration
}

// runFaults runs the workload while next(i) supplies the i-th fault, until
// next has none or the duration (if any) is up; then the final faults run.
// Then the checker runs, and a failure leaves the history file.
func runFaults(t *testing.T, c *cluster, seed uint64, duration time.Duration, next func(i int) (nemesis, bool), final []nemesis, rng *rand.Rand) {
	started := time.Now()
	h := &history{}
	ctx, stopWorkload := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		runWorkload(ctx, c, seed, h)
	}()
	var violations []string
	faults := 0
	inject := func(n nemesis) {
		faults++
		run := &nemesisRun{c: c, rng: rng, name: n.name}
		run.log("begin", "")
		if err := n.run(run); err != nil {
			violations = append(violations, fmt.Sprintf("%s: %v", n.name, err))
			run.log("violation", "%v", err)
		}
		// Let the workload run on a healthy network between faults.
		pause(context.Background(), time.Duration(500+rng.IntN(1000))*time.Millisecond)
	}
	for i := 0; ; i++ {
		if duration > 0 && time.Since(started) > duration {
			break
		}
		n, ok := next(i)
		if !ok {
			break
		}
		inject(n)
	}
	for _, n := range final {
		inject(n)
	}
	stopWorkload()
	wg.Wait()

	k := &checker{c: c, ops: h.snapshot()}
	k.violations = violations
	top := k.settle()
	if top > 0 {
		k.run(top)
		// The nodes are stopped now: the Vault validator's last word.
		if err := c.vault.checkSignState(c.nodes[c.vault.node]); err != nil {
			k.fail("%v", err)
		}
	}
	r := k.rep
	t.Logf("run took %s: %d faults injected; %d transactions sent, %d acknowledged (each in every node's chain), %d rejected with a code, %d unanswered; %d committed in %d blocks; %d conflicting pairs (%d with one winner, none with two); %d homes audited clean",
		time.Since(started).Round(time.Second), faults, r.Sent, r.Acked, r.Rejected, r.Unknown, r.CommittedTxs, r.Heights, r.Pairs, r.PairsOneWon, r.Audited)
	if r.Acked == 0 {
		k.violations = append(k.violations, "the workload had no transaction acknowledged: the run proved nothing")
	}
	dir := os.Getenv(envArtifacts)
	if len(k.violations) == 0 && dir == "" {
		return
	}
	for _, v := range k.violations {
		t.Errorf("violation: %s", v)
	}
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "consort-e2e-"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The whole logs beside the history, their tails inside it.
	logs := map[string]string{}
	for _, p := range append(append([]*proc(nil), c.nodes...), c.twin) {
		if p == nil {
			continue
		}
		b, _ := os.ReadFile(p.log)
		logs[p.name] = string(tail(b, 20000))
		_ = os.WriteFile(filepath.Join(dir, p.name+".log"), b, 0o644)
	}
	path, err := writeHistory(dir, historyFile{Seed: seed, Duration: time.Since(started).String(), Violations: k.violations,
		Nemesis: c.timeline.snapshot(), Ops: k.ops, Nodes: logs})
	if err != nil {
		t.Fatalf("write history: %v", err)
	}
	if len(k.violations) > 0 {
		t.Errorf("history of the failed run: %s (replay with %s=%d)", path, envSeed, seed)
	} else {
		t.Logf("history of the run: %s", path)
	}
}

// crashAt restarts p with a crash point a few blocks ahead, waits for it
// to kill itself there, and restarts it clean.
func crashAt(n *nemesisRun, p *proc, point string) error {
	at := maxHeight(n.c.nodes) + 3
	p.kill()
	p.start(fmt.Sprintf("%s=%s@%d", crashpoint.EnvVar, point, at))
	n.log("arm", "%s restarted to crash at %s of block %d", p.name, point, at)
	if !p.waitExit(progressTimeout) {
		return fmt.Errorf("%s did not reach crash point %s at height %d", p.name, point, at)
	}
	want := fmt.Sprintf("crashpoint: killing the process at %s, height %d", point, at)
	if b, _ := os.ReadFile(p.log); !strings.Contains(string(b), want) {
		return fmt.Errorf("%s exited, but not at its crash point: its log lacks %q", p.name, want)
	}
	n.log("crashed", "%s killed itself at %s of block %d", p.name, point, at)
	p.start()
	n.log("restart", "%s", p.name)
	err := n.catchUp(p)
	n.log("recovery", "%s reopened its app store at height %d after crashing in block %d", p.name, p.handshakeHeight(), at)
	return err
}

// buildConsortBinary builds cmd/consort once for the test.
func buildConsortBinary(t *testing.T) string {
	t.Helper()
	return goBuild(t, t.TempDir(), "github.com/consort-ledger/consort/cmd/consort", "consort")
}
