package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/client"
)

// crashSeed makes the kill delays reproducible; change it to explore others.
const crashSeed = 20240611

// genesisUSD is alice's dev-chain genesis coin, in base units.
const genesisUSD = 1_000_000_00

// sentTransfer is one alice→bob transfer the test submitted.
type sentTransfer struct {
	txid   string
	units  uint64
	acked  bool  // the CLI reported it committed with code 0
	height int64 // the height the CLI reported, when acked
}

// blockRecord is what a height looked like before a kill.
type blockRecord struct {
	blockHash string
	appHash   string
}

// TestCrashRecovery kills a real node with SIGKILL at seeded random moments
// while transfers are in flight, restarts it without --dev and checks that:
//   - every block seen before a kill has the same block hash and header app
//     hash after the restart (no history is rewritten);
//   - every transfer the CLI reported as committed is still committed, once,
//     at the same height, with code 0 (nothing acknowledged is lost);
//   - bob's balance is exactly the sum of the transfers the chain reports as
//     committed with code 0, alice's is the genesis coin minus that sum, and
//     the supply is unchanged (nothing is double-counted or lost in flight);
//   - the app's committed state answers queries, and its committed app hash
//     is the one the next block header carries.
func TestCrashRecovery(t *testing.T) {
	bin := buildConsort(t)
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	ports := newNodePorts(t)

	args := append([]string{"start", "--dev", "--home", home, "--timeout-commit", "100ms"}, ports.listenFlags()...)
	node := startNode(t, bin, dir, "node-0", args...)
	rpc := newRPC(t, ports.rpcURL())
	waitHeight(t, rpc, 2, 60*time.Second)

	rng := rand.New(rand.NewPCG(crashSeed, crashSeed))
	t.Logf("seed %d", crashSeed)
	var sent []sentTransfer
	recorded := map[int64]blockRecord{}
	const rounds = 3
	for round := range rounds {
		// Two transfers the CLI waits for: acknowledged as committed.
		for i := range 2 {
			units := uint64(100*(round+1) + i + 1) // distinct: 1.01, 1.02, 2.01, ...
			res := sendTransfer(t, bin, home, units, false)
			if res.Code != 0 || res.Height <= 0 {
				t.Fatalf("round %d: transfer %d: got code %d at height %d, want code 0 in a block (log %q)", round, i, res.Code, res.Height, res.Log)
			}
			sent = append(sent, sentTransfer{txid: res.TxID, units: units, acked: true, height: res.Height})
		}
		// One more left in flight: admitted to the mempool, maybe in a
		// block by the time of the kill, maybe not.
		units := uint64(100*(round+1) + 50)
		res := sendTransfer(t, bin, home, units, true)
		if res.Code != 0 {
			t.Fatalf("round %d: async transfer: got CheckTx code %d, want 0 (log %q)", round, res.Code, res.Log)
		}
		sent = append(sent, sentTransfer{txid: res.TxID, units: units})

		recordChain(t, rpc, recorded)
		delay := time.Duration(rng.IntN(300)) * time.Millisecond
		time.Sleep(delay) // the deliberate, seeded kill delay: lands anywhere in a block's life
		preKill := latestHeight(t, rpc)
		node.kill(t)
		t.Logf("round %d: killed at height ~%d after %s; %d heights recorded", round, preKill, delay, len(recorded))

		node = startNode(t, bin, dir, fmt.Sprintf("node-%d", round+1), "start", "--home", home)
		// +2: a block being committed at the kill may be finished from the
		// WAL first; after it, the chain must move on.
		waitHeight(t, rpc, preKill+2, 60*time.Second)

		checkHistory(t, rpc, recorded)
		checkAcked(t, rpc, sent)
	}

	// The ledger agrees with what the chain says was committed.
	var committed uint64
	for _, s := range sent {
		n, code := findTx(t, rpc, s.txid)
		if n == 1 && code == 0 {
			committed += s.units
		}
		if !s.acked {
			t.Logf("in-flight transfer %s (%d units): found %d time(s)", s.txid[:12], s.units, n)
		}
	}
	if got := queryBaseUnits(t, bin, home, "balance", "bob", "--asset", "USD"); got != committed {
		t.Errorf("bob's balance: got %d base units, want %d (the sum of committed transfers)", got, committed)
	}
	if got, want := queryBaseUnits(t, bin, home, "balance", "alice", "--asset", "USD"), uint64(genesisUSD)-committed; got != want {
		t.Errorf("alice's balance: got %d base units, want %d", got, want)
	}
	if got := queryBaseUnits(t, bin, home, "asset", "USD"); got != genesisUSD {
		t.Errorf("USD supply: got %d base units, want %d", got, genesisUSD)
	}

	checkAppHash(t, rpc)
	checkStatusAppHash(t, bin, home, rpc)
}

// sendTransfer pays units of USD from alice to bob with the CLI.
func sendTransfer(t *testing.T, bin, home string, units uint64, async bool) client.Result {
	t.Helper()
	args := []string{"tx", "send", "--home", home, "--from", "alice", "--to", "bob", "--asset", "USD",
		"--amount", app.FormatAmount(units, 2), "--output", "json"}
	if async {
		args = append(args, "--async")
	}
	stdout, stderr, err := runCLI(t, bin, args...)
	var res client.Result
	if jerr := json.Unmarshal([]byte(stdout), &res); jerr != nil {
		t.Fatalf("tx send %d units: %v: %s\nstdout: %s\nstderr: %s", units, err, jerr, stdout, stderr)
	}
	if err != nil && res.Code == 0 {
		t.Fatalf("tx send %d units: exit %v with code 0: %s", units, err, stderr)
	}
	return res
}

// recordChain notes the block and app hash of every height not yet recorded.
func recordChain(t *testing.T, rpc *rpchttp.HTTP, recorded map[int64]blockRecord) {
	t.Helper()
	top := latestHeight(t, rpc)
	for h := int64(1); h <= top; h++ {
		if _, ok := recorded[h]; !ok {
			recorded[h] = blockAt(t, rpc, h)
		}
	}
}

// checkHistory asserts every recorded height reads the same after a restart.
func checkHistory(t *testing.T, rpc *rpchttp.HTTP, recorded map[int64]blockRecord) {
	t.Helper()
	for h, want := range recorded {
		if got := blockAt(t, rpc, h); got != want {
			t.Fatalf("height %d rewritten after restart: got block %s app hash %s, want block %s app hash %s",
				h, got.blockHash, got.appHash, want.blockHash, want.appHash)
		}
	}
}

// checkAcked asserts every acknowledged transfer is committed exactly once,
// where the CLI said, with code 0.
func checkAcked(t *testing.T, rpc *rpchttp.HTTP, sent []sentTransfer) {
	t.Helper()
	for _, s := range sent {
		if !s.acked {
			continue
		}
		res, err := rpc.TxSearch(context.Background(), fmt.Sprintf("consort.txid='%s'", s.txid), false, nil, nil, "asc")
		if err != nil {
			t.Fatalf("search tx %s: %v", s.txid, err)
		}
		if len(res.Txs) != 1 {
			t.Fatalf("acknowledged tx %s: found %d times, want once", s.txid, len(res.Txs))
		}
		if got := res.Txs[0]; got.Height != s.height || got.TxResult.Code != 0 {
			t.Fatalf("acknowledged tx %s: got height %d code %d, want height %d code 0", s.txid, got.Height, got.TxResult.Code, s.height)
		}
	}
}

// findTx says how many times the chain indexes txid and the first result code.
func findTx(t *testing.T, rpc *rpchttp.HTTP, txid string) (int, uint32) {
	t.Helper()
	res, err := rpc.TxSearch(context.Background(), fmt.Sprintf("consort.txid='%s'", txid), false, nil, nil, "asc")
	if err != nil {
		t.Fatalf("search tx %s: %v", txid, err)
	}
	if len(res.Txs) > 1 {
		t.Errorf("tx %s committed %d times, want at most once", txid, len(res.Txs))
	}
	if len(res.Txs) == 0 {
		return 0, 0
	}
	return len(res.Txs), res.Txs[0].TxResult.Code
}

// checkAppHash asserts the app's last committed app hash (abci_info) is the
// app hash in the header of the next block: a block header at height h
// carries the state after block h-1.
func checkAppHash(t *testing.T, rpc *rpchttp.HTTP) {
	t.Helper()
	info, err := rpc.ABCIInfo(context.Background())
	if err != nil {
		t.Fatalf("abci_info: %v", err)
	}
	h := info.Response.LastBlockHeight
	want := fmt.Sprintf("%X", info.Response.LastBlockAppHash)
	waitHeight(t, rpc, h+1, 30*time.Second)
	if got := blockAt(t, rpc, h+1).appHash; got != want {
		t.Errorf("header app hash of block %d: got %s, want the app's committed hash after block %d, %s", h+1, got, h, want)
	}
}

// checkStatusAppHash asserts `consort status` reports the app hash of the
// header of the latest block, as CometBFT's status does (the state after the
// block before it), not some other hash.
func checkStatusAppHash(t *testing.T, bin, home string, rpc *rpchttp.HTTP) {
	t.Helper()
	stdout, stderr, err := runCLI(t, bin, "status", "--home", home, "--output", "json")
	if err != nil {
		t.Fatalf("consort status: %v: %s", err, stderr)
	}
	var st client.Status
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("consort status output: %v: %s", err, stdout)
	}
	if st.ChainID != "consort-dev" {
		t.Errorf("status chain id: got %q, want consort-dev", st.ChainID)
	}
	if got, want := st.AppHash, blockAt(t, rpc, st.Height).appHash; got != want {
		t.Errorf("status app hash at height %d: got %s, want the header's %s", st.Height, got, want)
	}
}

// queryBaseUnits runs `consort query KIND ARGS -o json` and returns its base
// units (balance) or supply base units (asset).
func queryBaseUnits(t *testing.T, bin, home string, kind string, args ...string) uint64 {
	t.Helper()
	stdout, stderr, err := runCLI(t, bin, append(append([]string{"query", kind}, args...), "--home", home, "--output", "json")...)
	if err != nil {
		t.Fatalf("query %s %s: %v: %s", kind, strings.Join(args, " "), err, stderr)
	}
	var out struct {
		BaseUnits       string `json:"base_units"`
		SupplyBaseUnits string `json:"supply_base_units"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("query %s output: %v: %s", kind, err, stdout)
	}
	n := out.BaseUnits
	if kind == "asset" {
		n = out.SupplyBaseUnits
	}
	var v uint64
	if _, err := fmt.Sscan(n, &v); err != nil {
		t.Fatalf("query %s: base units %q: %v", kind, n, err)
	}
	return v
}

func latestHeight(t *testing.T, rpc *rpchttp.HTTP) int64 {
	t.Helper()
	st, err := rpc.Status(context.Background())
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	return st.SyncInfo.LatestBlockHeight
}

func blockAt(t *testing.T, rpc *rpchttp.HTTP, h int64) blockRecord {
	t.Helper()
	b, err := rpc.Block(context.Background(), &h)
	if err != nil {
		t.Fatalf("block %d: %v", h, err)
	}
	return blockRecord{blockHash: b.BlockID.Hash.String(), appHash: b.Block.Header.AppHash.String()}
}
