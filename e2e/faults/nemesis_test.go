package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/audit"
	"github.com/consort-ledger/consort/consensus"
	"github.com/consort-ledger/consort/crashpoint"
)

// A nemesis injects one fault during the workload, heals it, and returns a
// violation when the network misbehaved while the fault lasted (the
// checker after the run covers the rest).
type nemesis struct {
	name string
	// needsNetns: partitions cut links between network namespaces.
	needsNetns bool
	// last: it changes the validator set, so it must end the run.
	last bool
	run  func(n *nemesisRun) error
}

// nemesisRun is one injection.
type nemesisRun struct {
	c    *cluster
	rng  *rand.Rand
	name string
}

func (n *nemesisRun) log(step, format string, args ...any) {
	n.c.timeline.add(n.name, step, format, args...)
	n.c.t.Logf("nemesis %s: %s %s", n.name, step, fmt.Sprintf(format, args...))
}

// nemeses is every fault the suite knows, in a fixed order the seed
// shuffles.
var nemeses = []nemesis{
	{name: "kill", run: nemesisKill},
	{name: "kill-twice", run: nemesisKillTwice},
	{name: "crash-in-commit", run: nemesisCrashInCommit},
	{name: "freeze", run: nemesisFreeze},
	{name: "slow", run: nemesisSlow},
	{name: "halt-two-of-four", run: nemesisHaltTwo},
	{name: "truncate-wal", run: nemesisTruncateWAL},
	{name: "truncate-app-store", run: nemesisTruncateStore},
	{name: "partition-1|3", needsNetns: true, run: nemesisPartitionOne},
	{name: "partition-2|2", needsNetns: true, run: nemesisPartitionHalves},
	{name: "clock-skew", run: nemesisClockSkew},
	{name: "vault-outage", run: nemesisVaultOutage},
	{name: "byzantine-double-sign", last: true, run: nemesisByzantine},
}

// Waits, generous for a loaded two-core machine.
const (
	progressTimeout = 90 * time.Second
	catchUpTimeout  = 120 * time.Second
	haltWindow      = 5 * time.Second
)

// waitProgress waits until every node of ps is n blocks past the highest
// height any of them has now (or any node reported before, when none of
// them answers yet).
func (n *nemesisRun) waitProgress(ps []*proc, blocks int64) error {
	base := maxHeight(ps)
	if base < 1 {
		base = n.c.highestSeen()
	}
	if err := n.c.awaitHeights(ps, base+blocks, progressTimeout); err != nil {
		return fmt.Errorf("no progress of %d blocks past %d: %w", blocks, base, err)
	}
	return nil
}

// catchUp waits until p is at the height the other validators have.
func (n *nemesisRun) catchUp(p *proc) error {
	target := maxHeight(n.c.others(p.idx))
	if err := n.c.awaitHeights([]*proc{p}, target, catchUpTimeout); err != nil {
		return fmt.Errorf("%s did not catch up: %w", p.name, err)
	}
	n.log("caught-up", "%s at height %d or more", p.name, target)
	return nil
}

func (n *nemesisRun) pick() *proc { return n.c.nodes[n.rng.IntN(len(n.c.nodes))] }

func nemesisKill(n *nemesisRun) error {
	p := n.pick()
	p.kill()
	n.log("kill -9", "%s", p.name)
	if err := n.waitProgress(n.c.others(p.idx), 2); err != nil {
		return err
	}
	p.start()
	n.log("restart", "%s", p.name)
	return n.catchUp(p)
}

func nemesisKillTwice(n *nemesisRun) error {
	p := n.pick()
	p.kill()
	n.log("kill -9", "%s", p.name)
	p.start()
	// Killed again as soon as it answers: mid-handshake or mid-replay.
	if err := n.c.awaitHeights([]*proc{p}, 0, progressTimeout); err != nil {
		return err
	}
	p.kill()
	n.log("kill -9 again", "%s right after its restart", p.name)
	p.start()
	n.log("restart", "%s", p.name)
	return n.catchUp(p)
}

// nemesisCrashInCommit restarts a node with a crash point set a few blocks
// ahead: the node kills itself at that step of FinalizeBlock/Commit, and is
// restarted without it.
func nemesisCrashInCommit(n *nemesisRun) error {
	return crashAt(n, n.pick(), crashpoint.Points[n.rng.IntN(len(crashpoint.Points))])
}

func nemesisFreeze(n *nemesisRun) error {
	p := n.pick()
	p.freeze()
	n.log("SIGSTOP", "%s", p.name)
	err := n.waitProgress(n.c.others(p.idx), 3)
	p.thaw()
	n.log("SIGCONT", "%s", p.name)
	if err != nil {
		return err
	}
	return n.catchUp(p)
}

// nemesisSlow runs a node at about 40% speed for a while: stopped 300ms,
// running 200ms.
func nemesisSlow(n *nemesisRun) error {
	p := n.pick()
	n.log("slow", "%s: SIGSTOP 300ms / SIGCONT 200ms for 6s", p.name)
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); {
		p.freeze()
		time.Sleep(300 * time.Millisecond)
		p.thaw()
		time.Sleep(200 * time.Millisecond)
	}
	n.log("normal speed", "%s", p.name)
	return n.catchUp(p)
}

// nemesisHaltTwo takes two of four validators away (one killed, one
// frozen): with half the power left nothing may commit. When one returns
// the chain must go on.
func nemesisHaltTwo(n *nemesisRun) error {
	perm := n.rng.Perm(len(n.c.nodes))
	killed, frozen := n.c.nodes[perm[0]], n.c.nodes[perm[1]]
	rest := n.c.others(killed.idx, frozen.idx)
	killed.kill()
	frozen.freeze()
	n.log("two down", "%s killed, %s frozen", killed.name, frozen.name)
	time.Sleep(time.Second) // a block already decided may still be committed
	h0 := maxHeight(rest)
	time.Sleep(haltWindow) // absence of progress takes a window to observe
	h1 := maxHeight(rest)
	n.log("observed", "remaining two at %d, then %d after %s", h0, h1, haltWindow)
	var violation error
	if h1 > h0+1 {
		violation = fmt.Errorf("chain advanced from %d to %d with two of four validators down", h0, h1)
	}
	killed.start()
	n.log("restart", "%s (three of four again)", killed.name)
	if err := n.waitProgress(append(rest, killed), 3); err != nil {
		frozen.thaw()
		return err
	}
	frozen.thaw()
	n.log("SIGCONT", "%s", frozen.name)
	if err := n.catchUp(frozen); err != nil {
		return err
	}
	return violation
}

// nemesisTruncateWAL is a power loss of the whole network that also tears
// one node's consensus WAL: every validator is killed at once, the tail of
// one WAL is cut, and all restart. Killing all matters: a node restarted
// alone behind its peers block-syncs and skips its WAL, so only with nobody
// ahead does the torn WAL get read (and repaired) on the way back.
func nemesisTruncateWAL(n *nemesisRun) error {
	for _, q := range n.c.nodes {
		q.kill()
	}
	// The torn WAL goes to a node no peer is ahead of (the highest block
	// store), so that it has no block to sync and reads its WAL.
	var p *proc
	var best int64 = -1
	for _, i := range n.rng.Perm(len(n.c.nodes)) {
		if h := storedHeight(n.c.nodes[i]); h > best {
			p, best = n.c.nodes[i], h
		}
	}
	wal := filepath.Join(p.home, "data", "cs.wal", "wal")
	cut, err := truncateTail(wal, 2048, n.rng)
	if err != nil {
		return err
	}
	n.log("truncate", "all four killed; cut %d bytes off %s's consensus WAL (its block store at %d, the highest)", cut, p.name, best)
	for _, q := range n.c.nodes {
		q.start()
	}
	n.log("restart", "all four")
	if err := n.waitProgress(n.c.nodes, 3); err != nil {
		return fmt.Errorf("after a power loss of all four: %w", err)
	}
	var seen []string
	for _, phrase := range []string{"data has been corrupted", "WAL file is corrupted; attempting repair", "successful WAL repair", "Catchup by replaying consensus messages", "Replay: Done", "error on catchup replay; proceeding to start state anyway", "Time to switch to consensus mode"} {
		if len(p.logOfLastStart(1, phrase)) > 0 {
			seen = append(seen, phrase)
		}
	}
	n.log("recovery", "%s's log after the restart says: %s", p.name, strings.Join(seen, "; "))
	return nil
}

// nemesisTruncateStore cuts the tail of the app store's newest leveldb
// journal: the last writes of the ledger are lost, as after a disk that
// lied about a sync. The node must reload an older version and replay.
func nemesisTruncateStore(n *nemesisRun) error {
	p := n.pick()
	dir := filepath.Join(p.home, "data", "app", "state.db")
	// The journal a node writes since its last start must hold a few
	// blocks' writes, or there is nothing recent to lose.
	var journal string
	deadline := time.Now().Add(progressTimeout)
	for journal == "" && time.Now().Before(deadline) {
		logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		slices.Sort(logs) // numbered files of one width: the newest sorts last
		if len(logs) > 0 {
			if st, err := os.Stat(logs[len(logs)-1]); err == nil && st.Size() >= 8<<10 {
				journal = logs[len(logs)-1]
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if journal == "" {
		return fmt.Errorf("%s: its app store journal in %s never held 8 KiB", p.name, dir)
	}
	before := p.height()
	p.kill()
	cut, err := truncateTail(journal, 4096, n.rng)
	if err != nil {
		return err
	}
	n.log("truncate", "%s: killed at height %d, cut %d bytes off its app store journal %s", p.name, before, cut, filepath.Base(journal))
	p.start()
	n.log("restart", "%s", p.name)
	err = n.catchUp(p)
	n.log("recovery", "%s reopened its app store at height %d (it had %d before the cut); CometBFT replayed the rest", p.name, p.handshakeHeight(), before)
	return err
}

// storedHeight is the height of a stopped node's block store, -1 if it
// cannot be read.
func storedHeight(p *proc) int64 {
	h, err := audit.OpenHome(audit.HomeConfig{GenesisFile: filepath.Join(p.home, "config", "genesis.json"), DBDir: filepath.Join(p.home, "data")})
	if err != nil {
		return -1
	}
	defer h.Close()
	_, top, err := h.Heights(context.Background())
	if err != nil {
		return -1
	}
	return top
}

// truncateTail cuts between 1 and most bytes off the end of path.
func truncateTail(path string, most int64, rng *rand.Rand) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if st.Size() < 2 {
		return 0, nil
	}
	cut := 1 + rng.Int64N(min(most, st.Size()-1))
	return cut, os.Truncate(path, st.Size()-cut)
}

func nemesisPartitionOne(n *nemesisRun) error {
	p := n.pick()
	rest := n.c.others(p.idx)
	if err := n.c.lab.partition([]int{p.idx}, indexes(rest)); err != nil {
		return err
	}
	h0 := p.height()
	n.log("partition", "%s | the other three", p.name)
	err := n.waitProgress(rest, 3)
	h1 := p.height()
	if herr := n.c.lab.heal(); herr != nil {
		return herr
	}
	n.log("heal", "%s was at %d, then %d; majority moved on", p.name, h0, h1)
	if err != nil {
		return fmt.Errorf("majority side: %w", err)
	}
	if h1 > h0+1 {
		return fmt.Errorf("isolated %s advanced from %d to %d on its own", p.name, h0, h1)
	}
	return n.catchUp(p)
}

func nemesisPartitionHalves(n *nemesisRun) error {
	perm := n.rng.Perm(len(n.c.nodes))
	a, b := perm[:2], perm[2:]
	if err := n.c.lab.partition(a, b); err != nil {
		return err
	}
	n.log("partition", "nodes %v | nodes %v", a, b)
	time.Sleep(time.Second)
	h0 := maxHeight(n.c.nodes)
	time.Sleep(haltWindow)
	h1 := maxHeight(n.c.nodes)
	if err := n.c.lab.heal(); err != nil {
		return err
	}
	n.log("heal", "highest node at %d, then %d after %s", h0, h1, haltWindow)
	if err := n.waitProgress(n.c.nodes, 3); err != nil {
		return fmt.Errorf("after healing 2|2: %w", err)
	}
	if h1 > h0+1 {
		return fmt.Errorf("a half of the network advanced from %d to %d during a 2|2 partition", h0, h1)
	}
	return nil
}

// nemesisClockSkew restarts a validator whose votes carry a clock an hour
// off. Block time is the median of the commit's vote times, so block
// times must stay with the honest clocks while its skewed votes are in the
// commits.
func nemesisClockSkew(n *nemesisRun) error {
	// The test clock skew wraps the file signer only (consensus.NewNode),
	// so the Vault validator is not a target.
	files := n.c.others(n.c.vault.node)
	p := files[n.rng.IntN(len(files))]
	skew := time.Hour
	if n.rng.IntN(2) == 0 {
		skew = -skew
	}
	p.kill()
	p.start(fmt.Sprintf("%s=%s", consensus.ClockSkewEnv, skew))
	n.log("skew", "%s restarted with its clock %s off", p.name, skew)
	if err := n.catchUp(p); err != nil {
		return err
	}
	if err := n.waitProgress(n.c.nodes, 4); err != nil {
		return err
	}
	violation := checkSkewedCommits(n, p, skew)
	p.kill()
	p.start()
	n.log("unskew", "%s restarted with the true clock", p.name)
	if err := n.catchUp(p); err != nil {
		return err
	}
	return violation
}

// checkSkewedCommits reads the last commits: p's signature must carry the
// skewed time (the fault was real) and every block time the true one.
func checkSkewedCommits(n *nemesisRun, p *proc, skew time.Duration) error {
	ref := n.c.others(p.idx)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := p.client.RPC().Status(ctx)
	if err != nil {
		return err
	}
	addr := st.ValidatorInfo.Address
	top := maxHeight([]*proc{ref})
	skewedSeen := 0
	for h := top - 3; h <= top; h++ {
		hh := h
		res, err := ref.client.RPC().Commit(ctx, &hh)
		if err != nil {
			return err
		}
		now := time.Now()
		if bt := res.Header.Time; bt.After(now.Add(5*time.Second)) || bt.Before(now.Add(-2*time.Minute)) {
			return fmt.Errorf("block %d time %s is off the true clock (%s) while %s's clock is skewed %s", h, bt, now.UTC(), p.name, skew)
		}
		for _, sig := range res.Commit.Signatures {
			if sig.ValidatorAddress.String() == addr.String() {
				// The vote follows the block by moments, plus the skew.
				if d := sig.Timestamp.Sub(res.Header.Time); absDur(d-skew) < 10*time.Minute {
					skewedSeen++
				}
			}
		}
	}
	n.log("observed", "%d of the last 4 commits carry %s's skewed vote time; block times stayed true", skewedSeen, p.name)
	if skewedSeen == 0 {
		return fmt.Errorf("no commit of heights %d-%d carries a skewed vote from %s: the skew was not in effect", top-3, top, p.name)
	}
	return nil
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// nemesisByzantine starts a second node with node3's validator key. The
// two sign conflicting votes; CometBFT must commit duplicate-vote evidence
// and the ledger must take node3's power away.
func nemesisByzantine(n *nemesisRun) error {
	twin := n.c.startTwin()
	n.log("twin", "%s started with node3's validator key", twin.name)
	defer func() {
		twin.kill()
		n.log("twin stopped", "%s", twin.name)
	}()
	ref := n.c.nodes[0]
	from := maxHeight([]*proc{ref})
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		top := maxHeight([]*proc{ref})
		for h := from; h <= top; h++ {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			hh := h
			b, err := ref.client.RPC().Block(ctx, &hh)
			cancel()
			if err != nil {
				continue
			}
			if ev := b.Block.Evidence.Evidence; len(ev) > 0 {
				n.log("evidence", "block %d carries %d evidence: %s", h, len(ev), strings.TrimSpace(ev[0].String()))
				return n.checkPowerRemoved(h)
			}
			from = h + 1
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("no duplicate-vote evidence committed within 3 minutes of starting node3's twin")
}

// checkPowerRemoved waits until, after the evidence in block h, the
// ledger has dropped node3 from its validator set and recorded why under
// its address, and CometBFT's own validator set no longer has it.
func (n *nemesisRun) checkPowerRemoved(h int64) error {
	ref, node3 := n.c.nodes[0], n.c.nodes[3]
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st, err := node3.client.RPC().Status(ctx)
	if err != nil {
		return err
	}
	addr := st.ValidatorInfo.Address
	var last string
	for ctx.Err() == nil {
		last = n.punishment(ctx, ref, addr.String())
		if last == "" {
			n.log("punished", "the ledger removed node3 (address %s) after the evidence in block %d, and CometBFT's set no longer holds it", addr, h)
			return nil
		}
		time.Sleep(time.Second)
	}
	return fmt.Errorf("evidence at block %d against node3, but: %s", h, last)
}

// punishment says what is still missing of node3's punishment, "" if
// nothing.
func (n *nemesisRun) punishment(ctx context.Context, ref *proc, addr string) string {
	vals, err := ref.client.Validators(ctx)
	if err != nil {
		return fmt.Sprintf("ledger validators: %v", err)
	}
	for _, v := range vals {
		if v.Name == "node3" && v.Power > 0 {
			return fmt.Sprintf("node3 still has power %d in the ledger's validator set", v.Power)
		}
	}
	b, _, err := ref.client.Query(ctx, "/validator_key/"+addr)
	if err != nil {
		return fmt.Sprintf("no record of node3's key %s: %v", addr, err)
	}
	rk, err := app.DecodeRetiredKey(b)
	if err != nil {
		return fmt.Sprintf("record of node3's key: %v", err)
	}
	if !strings.Contains(rk.Reason, "duplicate_vote") {
		return fmt.Sprintf("node3's key is recorded as retired for %q, want a duplicate vote", rk.Reason)
	}
	cv, err := ref.client.RPC().Validators(ctx, nil, nil, nil)
	if err != nil {
		return fmt.Sprintf("CometBFT validators: %v", err)
	}
	for _, v := range cv.Validators {
		if v.Address.String() == addr {
			return fmt.Sprintf("CometBFT's validator set still holds node3 with power %d", v.VotingPower)
		}
	}
	return ""
}

func indexes(ps []*proc) []int {
	var out []int
	for _, p := range ps {
		out = append(out, p.idx)
	}
	return out
}
