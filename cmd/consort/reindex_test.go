package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	txidxkv "github.com/cometbft/cometbft/state/txindex/kv"
)

// TestReindexRestoresLostIndex commits transfers on a real dev node, kills
// it, deletes its whole tx index (data/tx_index.db holds both of CometBFT's
// kv indexes, tx and block) and checks that:
//   - `consort reindex` refuses while the node runs, and rebuilds the index
//     offline (read back from the index database itself);
//   - `consort start` alone rebuilds the recent heights before it serves
//     RPC: /tx?hash= finds every acknowledged transfer, tx_search by height
//     finds them in their blocks, block_search finds their heights.
func TestReindexRestoresLostIndex(t *testing.T) {
	bin := buildConsort(t)
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	ports := newNodePorts(t)
	listen := ports.listenFlags()
	node := startNode(t, bin, dir, "node-0", append([]string{"start", "--dev", "--home", home, "--timeout-commit", "100ms"}, listen...)...)
	rpc := newRPC(t, ports.rpcURL())
	waitHeight(t, rpc, 2, 60*time.Second)

	var sent []sentTransfer
	hashes := map[string]string{} // txid -> CometBFT tx hash
	for i := range 4 {
		res := sendTransfer(t, bin, home, uint64(100+i), false)
		if res.Code != 0 || res.Height <= 0 {
			t.Fatalf("transfer %d: got code %d at height %d, want code 0 in a block (log %q)", i, res.Code, res.Height, res.Log)
		}
		sent = append(sent, sentTransfer{txid: res.TxID, units: uint64(100 + i), acked: true, height: res.Height})
		hashes[res.TxID] = res.Hash
	}

	_, stderr, err := runCLI(t, bin, "reindex", "--home", home)
	if err == nil || !strings.Contains(stderr, "running") {
		t.Fatalf("reindex on a running node: got err %v, stderr %q; want a refusal saying the node is running", err, stderr)
	}

	node.kill(t)
	dropTxIndex(t, home)
	if missing := offlineIndexMisses(t, home, sent, hashes); len(missing) != len(sent) {
		t.Fatalf("after deleting the index: %d of %d transfers still indexed, want none", len(sent)-len(missing), len(sent))
	}
	stdout, stderr, err := runCLI(t, bin, "reindex", "--home", home)
	if err != nil || !strings.Contains(stdout, "re-indexed heights 1 to ") {
		t.Fatalf("reindex: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
	}
	if missing := offlineIndexMisses(t, home, sent, hashes); len(missing) > 0 {
		t.Fatalf("after `consort reindex`: not indexed: %v", missing)
	}

	// Again without the command: start alone must bring them back.
	dropTxIndex(t, home)
	node = startNode(t, bin, dir, "node-1", append([]string{"start", "--home", home}, listen...)...)
	waitHeight(t, rpc, sent[len(sent)-1].height+1, 60*time.Second)
	ctx := context.Background()
	for _, s := range sent {
		hash, err := hex.DecodeString(hashes[s.txid])
		if err != nil {
			t.Fatalf("tx hash %q: %v", hashes[s.txid], err)
		}
		res, err := rpc.Tx(ctx, hash, false)
		if err != nil {
			t.Fatalf("after restart: /tx?hash=%s (tx %s): %v", hashes[s.txid], s.txid, err)
		}
		if res.Height != s.height || res.TxResult.Code != 0 {
			t.Fatalf("after restart: tx %s at height %d code %d, want height %d code 0", s.txid, res.Height, res.TxResult.Code, s.height)
		}
		if !heightIndexHas(t, rpc, s.height, hashes[s.txid]) {
			t.Fatalf("after restart: tx_search tx.height=%d does not list tx %s", s.height, s.txid)
		}
		blocks, err := rpc.BlockSearch(ctx, fmt.Sprintf("block.height=%d", s.height), nil, nil, "asc")
		if err != nil || len(blocks.Blocks) != 1 {
			t.Fatalf("after restart: block_search block.height=%d: %v (%+v)", s.height, err, blocks)
		}
	}
	checkAcked(t, rpc, sent) // and by the app's event, consort.txid
	log, err := os.ReadFile(node.stderr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "re-indexed heights") {
		t.Errorf("the restarted node's log has no re-index line")
	}
}

// dropTxIndex deletes the home's tx and block index.
func dropTxIndex(t *testing.T, home string) {
	t.Helper()
	db := filepath.Join(home, "data", "tx_index.db")
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("the tx index is not where expected: %v", err)
	}
	if err := os.RemoveAll(db); err != nil {
		t.Fatal(err)
	}
}

// offlineIndexMisses opens the stopped node's tx index and returns the
// transfers it does not hold at their height with code 0.
func offlineIndexMisses(t *testing.T, home string, sent []sentTransfer, hashes map[string]string) []string {
	t.Helper()
	db, err := dbm.NewDB("tx_index", dbm.GoLevelDBBackend, filepath.Join(home, "data"))
	if err != nil {
		t.Fatalf("open tx index: %v", err)
	}
	defer db.Close()
	idx := txidxkv.NewTxIndex(db)
	var missing []string
	for _, s := range sent {
		hash, err := hex.DecodeString(hashes[s.txid])
		if err != nil {
			t.Fatal(err)
		}
		res, err := idx.Get(hash)
		if err != nil {
			t.Fatalf("tx index get %s: %v", s.txid, err)
		}
		if res == nil || res.Height != s.height || res.Result.Code != 0 {
			missing = append(missing, s.txid)
		}
	}
	return missing
}

// heightIndexHas reports whether tx_search by height lists the tx hash.
func heightIndexHas(t *testing.T, rpc *rpchttp.HTTP, h int64, hash string) bool {
	t.Helper()
	res, err := rpc.TxSearch(context.Background(), fmt.Sprintf("tx.height=%d", h), false, nil, nil, "asc")
	if err != nil {
		t.Fatalf("tx_search tx.height=%d: %v", h, err)
	}
	for _, tx := range res.Txs {
		if strings.EqualFold(tx.Hash.String(), hash) {
			return true
		}
	}
	return false
}
