package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cosmos/iavl"

	"github.com/consort-ledger/consort/app"
)

// compareLocal compares a node's ledger state (HOME/data/app) with the
// replay: its height with the block store's last height top, and its
// content, key by key, at the last height both the state and the replay
// reached (the replay may have stopped at last, before top).
func (a *auditor) compareLocal(work, dir string, last, top int64) error {
	local, note, err := openLocalCopy(dir, filepath.Join(work, "local"))
	if err != nil {
		return err
	}
	if local == nil {
		a.sum.LocalState = "not compared: " + note
		return nil
	}
	defer local.Close()
	localH := local.Height()
	switch {
	case localH == 0 && top == 0:
		a.sum.LocalState = "empty, as the chain"
		return nil
	case localH == 0:
		a.f.addf(TypeLocalStateHeight, Medium, top, "the node's ledger state (HOME/data/app) has nothing committed, but its block store is at height %d; the node would replay every block on start", top)
		a.sum.LocalState = "empty"
		return nil
	case localH > top:
		ahead := ""
		if last == top && last > 0 {
			keys, n, err := a.diffLatest(local, localH, last)
			if err != nil {
				return err
			}
			ahead = fmt.Sprintf(" (%d keys differ from the chain's state at %d: %s)", n, last, strings.Join(keys, ", "))
		}
		a.f.addf(TypeLocalStateHeight, High, localH, "the node's ledger state is at height %d, beyond the last block %d: it holds state no block produced%s; the node will refuse to start until the state is rebuilt", localH, top, ahead)
	case localH < top-1:
		a.f.addf(TypeLocalStateHeight, Medium, localH, "the node's ledger state is at height %d, %d blocks behind its block store (%d); the node replays them on start", localH, top-localH, top)
	case localH == top-1:
		a.f.addf(TypeLocalStateHeight, Low, localH, "the node's ledger state is one block behind its block store (%d of %d), as after a crash between saving a block and committing it; the node replays it on start", localH, top)
	}
	h := min(localH, last)
	if h <= 0 {
		a.sum.LocalState = fmt.Sprintf("at height %d; not compared, as no block was replayed", localH)
		return nil
	}
	if err := a.compareAt(local, h); err != nil {
		return err
	}
	if localH != h {
		a.sum.LocalState += fmt.Sprintf("; the state itself is at height %d", localH)
	}
	return nil
}

// diffLatest lists keys where the local state's version localH differs
// from the replay at height last.
func (a *auditor) diffLatest(local *app.Store, localH, last int64) ([]string, int, error) {
	latest, err := local.Version(localH)
	if err != nil {
		return nil, 0, fmt.Errorf("local state version %d: %w", localH, err)
	}
	replayed, err := a.replay.store.Version(last)
	if err != nil {
		return nil, 0, err
	}
	return diffKeys(latest, replayed)
}

// compareAt compares the local state and the replay at height h.
func (a *auditor) compareAt(local *app.Store, h int64) error {
	mine, err := local.Version(h)
	if err != nil {
		a.f.addf(TypeLocalStateUnreadable, High, h, "the node's ledger state has no readable version %d: %v", h, err)
		a.sum.LocalState = fmt.Sprintf("unreadable at height %d", h)
		return nil
	}
	chain, err := a.replay.store.Version(h)
	if err != nil {
		return err
	}
	sameHash := bytes.Equal(mine.Hash(), chain.Hash())
	if !sameHash {
		a.f.addf(TypeLocalAppHash, Critical, h, "the node's ledger state at height %d has root hash %X, but the chain's blocks produce %X", h, mine.Hash(), chain.Hash())
	}
	differ := 0
	err = diffTrees(mine, chain, func(key, localVal, chainVal []byte) {
		differ++
		how := ""
		if sameHash {
			how = " The tree's stored hashes were left unchanged, so only a key-by-key comparison shows this: the database was edited below the tree."
		}
		a.f.add(Finding{Type: TypeLocalStateDiverges, Severity: Critical, Height: h, Key: readableKey(key),
			Description: fmt.Sprintf("the node's ledger state holds %s, the chain's blocks produce %s.%s", describeValue(key, localVal), describeValue(key, chainVal), how)})
	})
	if err != nil {
		a.f.addf(TypeLocalStateUnreadable, High, h, "the node's ledger state at height %d cannot be read to the end: %v", h, err)
	}
	if h == local.Height() && h == a.replay.store.Height() {
		// The index (balances, owner index) is kept for the latest height
		// only, beside the tree: compared when both stores are there.
		err = diffIndexes(local, a.replay.store, h, func(key, localVal, chainVal []byte) {
			differ++
			a.f.add(Finding{Type: TypeLocalStateDiverges, Severity: High, Height: h, Key: readableKey(key),
				Description: fmt.Sprintf("the node's index of balances and coins holds %s, the chain's blocks produce %s; queries of balances and coins give wrong answers, transactions are not affected", describeValue(key, localVal), describeValue(key, chainVal))})
		})
		if err != nil {
			a.f.addf(TypeLocalStateUnreadable, High, h, "the node's index of balances and coins at height %d cannot be read to the end: %v", h, err)
		}
	}
	switch {
	case differ > 0 || !sameHash:
		a.sum.LocalState = fmt.Sprintf("diverges from the chain at height %d (%d keys differ)", h, differ)
	default:
		a.sum.LocalState = fmt.Sprintf("matches the chain at height %d", h)
	}
	return nil
}

// openLocalCopy copies a ledger folder and opens the copy, so that neither
// the audit nor the store's own recovery on open changes the original. A
// folder that cannot be compared gives a nil store and a note why.
func openLocalCopy(dir, copyDir string) (*app.Store, string, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Sprintf("%s cannot be read (%v)", dir, err), nil
	}
	// A read-only handle holds the node off while the files are copied, and
	// tells a running node apart.
	lock, err := openReadOnly("state", dir)
	if errors.Is(err, ErrInUse) {
		return nil, dir + " is in use by a running node", nil
	}
	if err != nil {
		return nil, fmt.Sprintf("%s cannot be opened (%v)", dir, err), nil
	}
	err = copyFolder(dir, copyDir)
	lock.Close()
	if err != nil {
		return nil, "", fmt.Errorf("copy the node's ledger state: %w", err)
	}
	st, err := app.OpenStore(copyDir, app.DefaultStoreConfig())
	if err != nil {
		return nil, fmt.Sprintf("%s cannot be opened as a ledger state (%v)", dir, err), nil
	}
	return st, "", nil
}

// copyFolder copies the regular files under src into dst, except
// leveldb's LOCK files.
func copyFolder(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
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
		return copyFile(path, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// diffTrees walks two state versions in key order and calls fn for every
// key whose value differs (nil: absent on that side).
func diffTrees(x, y *iavl.ImmutableTree, fn func(key, xv, yv []byte)) error {
	xi, err := x.Iterator(nil, nil, true)
	if err != nil {
		return err
	}
	defer xi.Close()
	yi, err := y.Iterator(nil, nil, true)
	if err != nil {
		return err
	}
	defer yi.Close()
	for xi.Valid() || yi.Valid() {
		switch c := compareIter(xi.Valid(), yi.Valid(), xi, yi); {
		case c < 0:
			fn(xi.Key(), xi.Value(), nil)
			xi.Next()
		case c > 0:
			fn(yi.Key(), nil, yi.Value())
			yi.Next()
		default:
			if !bytes.Equal(xi.Value(), yi.Value()) {
				fn(xi.Key(), xi.Value(), yi.Value())
			}
			xi.Next()
			yi.Next()
		}
	}
	return errors.Join(xi.Error(), yi.Error())
}

// diffIndexes compares the index (index.go in app) of two stores at their
// common latest height h and calls fn for every key whose value differs,
// in key order.
func diffIndexes(x, y *app.Store, h int64, fn func(key, xv, yv []byte)) error {
	load := func(st *app.Store) (map[string][]byte, error) {
		m := map[string][]byte{}
		for _, prefix := range []string{prefixOwner, prefixBalance} {
			err := st.ScanIndex(h, []byte(prefix), func(k, v []byte) error {
				m[string(k)] = bytes.Clone(v)
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	xm, err := load(x)
	if err != nil {
		return err
	}
	ym, err := load(y)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(xm)+len(ym))
	for k := range xm {
		keys = append(keys, k)
	}
	for k := range ym {
		if _, ok := xm[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if xv, yv := xm[k], ym[k]; !bytes.Equal(xv, yv) || (xv == nil) != (yv == nil) {
			fn([]byte(k), xv, yv)
		}
	}
	return nil
}

// keyer is an iterator's current key.
type keyer interface{ Key() []byte }

// compareIter orders the current keys of two iterators; an exhausted one
// sorts last.
func compareIter(xValid, yValid bool, x, y keyer) int {
	switch {
	case !xValid:
		return 1
	case !yValid:
		return -1
	}
	return bytes.Compare(x.Key(), y.Key())
}

// diffKeys lists up to five keys that differ between two versions and
// counts them all.
func diffKeys(x, y *iavl.ImmutableTree) ([]string, int, error) {
	var keys []string
	n := 0
	err := diffTrees(x, y, func(key, _, _ []byte) {
		if n++; len(keys) < 5 {
			keys = append(keys, readableKey(key))
		}
	})
	return keys, n, err
}

// describeValue says in words what a stored value is, for the records the
// ledger keeps by the documented key layout.
func describeValue(key, val []byte) string {
	if val == nil {
		return "nothing at this key"
	}
	switch {
	case bytes.HasPrefix(key, []byte(prefixUTXO)):
		if o, err := app.DecodeOutput(val); err == nil {
			return fmt.Sprintf("a coin of %d %s owned by %s", o.Amount, o.Asset, o.Owner)
		}
	case bytes.HasPrefix(key, []byte(prefixBalance)):
		if v, err := app.DecodeBalance(val); err == nil {
			return fmt.Sprintf("a balance of %d", v)
		}
	case bytes.HasPrefix(key, []byte(prefixAsset)):
		if as, err := app.DecodeAsset(val); err == nil {
			return fmt.Sprintf("asset %s with supply %d", as.ID, as.Supply)
		}
	case bytes.HasPrefix(key, []byte(prefixAccount)):
		if ac, err := app.DecodeAccount(val); err == nil {
			return fmt.Sprintf("account %s (%s, %d keys, threshold %d, %d roles)", ac.Name, ac.Status, len(ac.Keys), ac.Threshold, len(ac.Grants))
		}
	}
	if len(val) > 32 {
		return fmt.Sprintf("%d bytes %x...", len(val), val[:32])
	}
	return fmt.Sprintf("%d bytes %x", len(val), val)
}
