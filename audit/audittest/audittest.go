// Package audittest alters a stopped node's stored data the way an attacker
// or a failing disk would, for tests that check the audit finds it. Every
// helper edits raw database values, below the APIs that would keep them
// consistent, and fails the test if it cannot.
package audittest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	dbm "github.com/cometbft/cometbft-db"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	sm "github.com/cometbft/cometbft/state"
	"github.com/cometbft/cometbft/store"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/consort-ledger/consort/app"
)

// CopyHome copies a node home into a new temporary folder (leveldb LOCK
// files left out) and returns the copy's path.
func CopyHome(tb testing.TB, src string) string {
	tb.Helper()
	dst := filepath.Join(tb.TempDir(), "home")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o700)
		case !d.Type().IsRegular() || d.Name() == "LOCK":
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		tb.Fatalf("copy home: %v", err)
	}
	return dst
}

// withDB opens a CometBFT database of a home's data folder for writing.
func withDB(tb testing.TB, dataDir, name string, fn func(dbm.DB)) {
	tb.Helper()
	db, err := dbm.NewGoLevelDB(name, dataDir)
	if err != nil {
		tb.Fatalf("open %s: %v", name, err)
	}
	defer db.Close()
	fn(db)
}

// editBlockPart rewrites the raw bytes of part 0 of the block at height.
func editBlockPart(tb testing.TB, db dbm.DB, height int64, edit func(part []byte)) {
	tb.Helper()
	key := []byte(fmt.Sprintf("P:%d:0", height))
	raw, err := db.Get(key)
	if err != nil || raw == nil {
		tb.Fatalf("block %d part 0: %v (found %v)", height, err, raw != nil)
	}
	var part cmtproto.Part
	if err := part.Unmarshal(raw); err != nil {
		tb.Fatalf("block %d part 0: %v", height, err)
	}
	edit(part.Bytes)
	out, err := part.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.SetSync(key, out); err != nil {
		tb.Fatal(err)
	}
}

// flipIn flips the first bit of the first occurrence of needle in b.
func flipIn(tb testing.TB, b, needle []byte, what string) {
	tb.Helper()
	i := bytes.Index(b, needle)
	if i < 0 || len(needle) == 0 {
		tb.Fatalf("%s not found in the stored block", what)
	}
	b[i] ^= 0x01
}

// RewriteTx changes one byte of a signature of transaction index of the
// block at height in HOME/data/blockstore.db, keeping the transaction's
// length, so the block still decodes but no longer is what was signed. It
// returns the transaction's id.
func RewriteTx(tb testing.TB, dataDir string, height int64, index int) app.TxID {
	tb.Helper()
	var id app.TxID
	withDB(tb, dataDir, "blockstore", func(db dbm.DB) {
		block := store.NewBlockStore(db).LoadBlock(height)
		if block == nil || index >= len(block.Txs) {
			tb.Fatalf("block %d has no transaction %d", height, index)
		}
		tx, err := app.DecodeTx(block.Txs[index])
		if err != nil || len(tx.Signatures) == 0 {
			tb.Fatalf("block %d tx %d: %v", height, index, err)
		}
		id = tx.ID()
		editBlockPart(tb, db, height, func(part []byte) {
			flipIn(tb, part, tx.Signatures[0].Signature, "the transaction's signature")
		})
	})
	return id
}

// RewriteCommitSignature changes one byte of the first validator signature
// on the commit for block height, as block height+1 stores it.
func RewriteCommitSignature(tb testing.TB, dataDir string, height int64) {
	tb.Helper()
	withDB(tb, dataDir, "blockstore", func(db dbm.DB) {
		next := store.NewBlockStore(db).LoadBlock(height + 1)
		if next == nil || next.LastCommit == nil || len(next.LastCommit.Signatures) == 0 {
			tb.Fatalf("block %d carries no commit for %d", height+1, height)
		}
		editBlockPart(tb, db, height+1, func(part []byte) {
			flipIn(tb, part, next.LastCommit.Signatures[0].Signature, "the commit signature")
		})
	})
}

// SetRecordedCode changes the result code the node recorded for
// transaction index of block height in HOME/data/state.db.
func SetRecordedCode(tb testing.TB, dataDir string, height int64, index int, code uint32) {
	tb.Helper()
	withDB(tb, dataDir, "state", func(db dbm.DB) {
		states := sm.NewStore(db, sm.StoreOptions{})
		res, err := states.LoadFinalizeBlockResponse(height)
		if err != nil {
			tb.Fatalf("results of block %d: %v", height, err)
		}
		if index >= len(res.TxResults) {
			tb.Fatalf("block %d has %d results, not %d", height, len(res.TxResults), index+1)
		}
		res.TxResults[index].Code = code
		if err := states.SaveFinalizeBlockResponse(height, res); err != nil {
			tb.Fatal(err)
		}
	})
}

// EditStateValue rewrites, in a ledger state folder (HOME/data/app), the
// value stored at key in the newest tree node holding it, directly in the
// database: the tree's stored hashes stay as they were, so the app hash the
// node reports does not change. edit must keep the value's length. It
// returns the old and the new value.
func EditStateValue(tb testing.TB, appDir string, key []byte, edit func(value []byte)) (old, changed []byte) {
	tb.Helper()
	withDB(tb, appDir, "state", func(db dbm.DB) {
		// Tree nodes live under "t/" + 's' + version (8 bytes) + nonce (4);
		// a leaf is varint height 0, varint size 1, then the key and the
		// value, each with a uvarint length.
		prefix := []byte("t/s")
		end := []byte("t/t")
		it, err := db.Iterator(prefix, end)
		if err != nil {
			tb.Fatal(err)
		}
		var nodeKey, node []byte
		var valueAt int
		for ; it.Valid(); it.Next() {
			v := it.Value()
			if len(v) < 3 || v[0] != 0 || v[1] != 2 {
				continue
			}
			n, w := binary.Uvarint(v[2:])
			start := 2 + w
			if w <= 0 || start+int(n) > len(v) || !bytes.Equal(v[start:start+int(n)], key) {
				continue
			}
			nodeKey, node = bytes.Clone(it.Key()), bytes.Clone(v)
			_, vw := binary.Uvarint(v[start+int(n):])
			valueAt = start + int(n) + vw
		}
		it.Close()
		if node == nil {
			tb.Fatalf("no tree leaf holds key %q", key)
		}
		old = bytes.Clone(node[valueAt:])
		edit(node[valueAt:])
		changed = bytes.Clone(node[valueAt:])
		if err := db.SetSync(nodeKey, node); err != nil {
			tb.Fatal(err)
		}
	})
	return old, changed
}

// EditIndexValue rewrites, in a ledger state folder (HOME/data/app), the
// value of key in the index kept beside the tree (owner/ and balance/
// keys, stored under "x/"). It returns the old and the new value.
func EditIndexValue(tb testing.TB, appDir string, key []byte, edit func(value []byte)) (old, changed []byte) {
	tb.Helper()
	withDB(tb, appDir, "state", func(db dbm.DB) {
		dbKey := append([]byte("x/"), key...)
		v, err := db.Get(dbKey)
		if err != nil || v == nil {
			tb.Fatalf("index key %q: value %x, error %v", key, v, err)
		}
		old = bytes.Clone(v)
		edit(v)
		changed = bytes.Clone(v)
		if err := db.SetSync(dbKey, v); err != nil {
			tb.Fatal(err)
		}
	})
	return old, changed
}

// CommitExtraVersion opens a ledger state folder, writes value at key and
// commits it as a new version that no block produced.
func CommitExtraVersion(tb testing.TB, appDir string, key, value []byte) int64 {
	tb.Helper()
	st, err := app.OpenStore(appDir, app.DefaultStoreConfig())
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	if err := st.Working().Set(key, value); err != nil {
		tb.Fatal(err)
	}
	_, version, err := st.Commit()
	if err != nil {
		tb.Fatal(err)
	}
	return version
}

// LastHeight returns the height of the last block in a home's block store.
func LastHeight(tb testing.TB, dataDir string) int64 {
	tb.Helper()
	var h int64
	withDB(tb, dataDir, "blockstore", func(db dbm.DB) { h = store.NewBlockStore(db).Height() })
	return h
}

// BlockTxs returns the transactions of the block at height.
func BlockTxs(tb testing.TB, dataDir string, height int64) cmttypes.Txs {
	tb.Helper()
	var txs cmttypes.Txs
	withDB(tb, dataDir, "blockstore", func(db dbm.DB) {
		b := store.NewBlockStore(db).LoadBlock(height)
		if b == nil {
			tb.Fatalf("no block %d", height)
		}
		txs = b.Txs
	})
	return txs
}
