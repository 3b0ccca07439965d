package audit

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/bits"
	"slices"
	"strconv"

	cmtabci "github.com/cometbft/cometbft/abci/types"
	cmttypes "github.com/cometbft/cometbft/types"

	consortabci "github.com/consort-ledger/consort/abci"
	"github.com/consort-ledger/consort/app"
)

// Store key prefixes, as documented in docs/wire-format.md.
const (
	prefixAccount = "account/"
	prefixAsset   = "asset/"
	prefixUTXO    = "utxo/"
	prefixOwner   = "owner/"
	prefixBalance = "balance/"
	outpointSize  = 36 // txid ‖ index (big-endian uint32)
)

// replay is a fresh ledger re-executing the chain.
type replay struct {
	store    *app.Store
	ledger   *app.App
	initHash []byte
}

func newReplay(dir string, g *cmttypes.GenesisDoc, opts []app.Option) (*replay, error) {
	store, err := app.OpenStore(dir, app.DefaultStoreConfig())
	if err != nil {
		return nil, fmt.Errorf("replay state: %w", err)
	}
	vals := make([]app.InitialValidator, len(g.Validators))
	for i, v := range g.Validators {
		vals[i] = app.InitialValidator{KeyType: v.PubKey.Type(), PublicKey: v.PubKey.Bytes(), Power: v.Power}
	}
	ledger := app.New(store, opts...)
	hash, err := ledger.InitChain(g.ChainID, g.InitialHeight, g.AppState, vals)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("the ledger rejects this chain's genesis: %w", err)
	}
	return &replay{store: store, ledger: ledger, initHash: hash}, nil
}

func (r *replay) close() { r.store.Close() }

// ledgerState is what the audit tracks of the ledger besides the replayed
// state: coins spent by transactions the chain recorded as successful, and
// the supply each asset should have.
type ledgerState struct {
	spent    map[app.Outpoint]spend
	coinless map[app.TxID]int64 // coinless transactions applied, by height
	expected map[string]uint64  // genesis + minted - burned, per asset
}

// spend is the transaction that spent a coin.
type spend struct {
	height int64
	txid   app.TxID
}

func newLedgerState(g *cmttypes.GenesisDoc) (*ledgerState, error) {
	gen, err := app.ParseGenesis(g.AppState)
	if err != nil {
		return nil, err
	}
	l := &ledgerState{spent: map[app.Outpoint]spend{}, coinless: map[app.TxID]int64{}, expected: map[string]uint64{}}
	for _, a := range gen.Assets {
		l.expected[a.ID] = 0
	}
	for i, u := range gen.UTXOs {
		v, err := strconv.ParseUint(u.Amount, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("genesis coin %d: amount %q: %w", i, u.Amount, err)
		}
		sum, carry := bits.Add64(l.expected[u.Asset], v, 0)
		if carry != 0 {
			return nil, fmt.Errorf("genesis coins of %s exceed 2^64-1", u.Asset)
		}
		l.expected[u.Asset] = sum
	}
	return l, nil
}

// replayBlock executes block h on the replay and compares the outcome with
// what the node recorded. It reports false when the ledger cannot execute
// the block, which ends the replay.
func (a *auditor) replayBlock(h int64, b *cmttypes.Block, recorded *cmtabci.ResponseFinalizeBlock, haveResults bool) (bool, error) {
	txs := make([][]byte, len(b.Txs))
	decoded := make([]*app.Tx, len(b.Txs))
	for i, tx := range b.Txs {
		txs[i] = tx
		decoded[i], _ = app.DecodeTx(tx)
	}
	res, err := a.replay.ledger.Execute(app.Block{Height: h, Txs: txs, Misbehaviour: consortabci.Misbehaviour(b.Evidence.Evidence.ToABCI())})
	if err != nil {
		a.f.addf(TypeReplayHalted, Critical, h, "the ledger cannot execute block %d (%v): a node with this state would halt here; later heights are unchecked", h, err)
		return false, nil
	}
	if _, _, err := a.replay.ledger.Commit(); err != nil {
		return false, fmt.Errorf("replay of block %d: %w", h, err)
	}
	a.sum.Txs += int64(len(txs))
	for i, r := range res.Txs {
		if r.Code != app.CodeOK {
			a.sum.TxsRejected++
			continue
		}
		a.sum.TxsAccepted++
		if tx := decoded[i]; tx != nil {
			a.sum.TxSignatures += int64(len(tx.Signatures))
			a.ledger.applied(a.f, h, tx)
		}
	}

	var codes []uint32 // the chain's codes, when recorded
	if haveResults {
		codes = a.compareResults(h, res, recorded)
	} else {
		a.missing.add(h)
	}
	for i, tx := range decoded {
		ok := res.Txs[i].Code == app.CodeOK
		if codes != nil {
			ok = codes[i] == uint32(app.CodeOK)
		}
		if ok && tx != nil {
			a.ledger.spend(a.f, h, tx)
		}
	}

	a.advanceValidators(h, res.ValidatorUpdates)
	a.chain.appHash = res.AppHash
	a.chain.prevResults = nil
	if haveResults {
		a.chain.prevResults = recorded
	}
	return true, nil
}

// compareResults compares the replay of block h with the results the node
// recorded, and returns the recorded code of each transaction (nil when
// their number is wrong).
func (a *auditor) compareResults(h int64, res *app.BlockResult, recorded *cmtabci.ResponseFinalizeBlock) []uint32 {
	a.compareValidatorUpdates(h, res.ValidatorUpdates, recorded.ValidatorUpdates)
	if len(recorded.TxResults) != len(res.Txs) {
		a.f.addf(TypeRecordedResults, High, h, "block %d has %d transactions but the node recorded %d results", h, len(res.Txs), len(recorded.TxResults))
		return nil
	}
	codes := make([]uint32, len(res.Txs))
	for i, r := range res.Txs {
		chain, replayed := recorded.TxResults[i].Code, uint32(r.Code)
		codes[i] = chain
		id, why := txidText(r.TxID), rejection(r)
		switch {
		case chain == replayed:
		case chain == uint32(app.CodeOK):
			a.f.add(Finding{Type: TypeTxAcceptedButInvalid, Severity: Critical, Height: h, TxID: id,
				Description: fmt.Sprintf("transaction %d of block %d was accepted by the chain (code 0), but the ledger rules reject it: %s", i, h, why)})
		case replayed == uint32(app.CodeOK):
			a.f.add(Finding{Type: TypeTxRejectedButValid, Severity: Critical, Height: h, TxID: id,
				Description: fmt.Sprintf("transaction %d of block %d was rejected by the chain (code %d: %s), but the ledger rules accept it", i, h, chain, recorded.TxResults[i].Log)})
		default:
			a.f.add(Finding{Type: TypeTxCodeMismatch, Severity: Medium, Height: h, TxID: id,
				Description: fmt.Sprintf("transaction %d of block %d was rejected by the chain with code %d, by the replay with %s", i, h, chain, why)})
		}
	}
	return codes
}

// rejection says why the replay rejected a transaction.
func rejection(r app.TxResult) string {
	by := "the ledger's rules"
	if r.Module != "" {
		by = "the " + r.Module + " module"
	}
	return fmt.Sprintf("code %d from %s (%s)", r.Code, by, r.Log)
}

// applied records what an accepted transaction does to supply.
func (l *ledgerState) applied(f *findings, h int64, tx *app.Tx) {
	switch {
	case tx.Body.Mint != nil:
		m := tx.Body.Mint
		sum, carry := bits.Add64(l.expected[m.Asset], m.Amount, 0)
		if carry != 0 {
			f.add(Finding{Type: TypeSupply, Severity: Critical, Height: h, TxID: tx.ID().String(), Description: fmt.Sprintf("minting %d %s overflows its supply", m.Amount, m.Asset)})
		}
		l.expected[m.Asset] = sum
	case tx.Body.Burn != nil:
		b := tx.Body.Burn
		diff, borrow := bits.Sub64(l.expected[b.Asset], b.Amount, 0)
		if borrow != 0 {
			f.add(Finding{Type: TypeSupply, Severity: Critical, Height: h, TxID: tx.ID().String(), Description: fmt.Sprintf("burning %d %s takes its supply below zero", b.Amount, b.Asset)})
		}
		l.expected[b.Asset] = diff
	case tx.Body.Action != nil:
		if c, ok := tx.Body.Action.(*app.CreateAsset); ok {
			if _, exists := l.expected[c.ID]; !exists {
				l.expected[c.ID] = 0
			}
		}
	}
}

// spend records the coins a transaction the chain applied spends, and
// reports a coin (or a coinless transaction) used twice.
func (l *ledgerState) spend(f *findings, h int64, tx *app.Tx) {
	id := tx.ID()
	spends := tx.Body.Spends()
	if len(spends) == 0 {
		if at, seen := l.coinless[id]; seen {
			f.add(Finding{Type: TypeDoubleSpend, Severity: Critical, Height: h, TxID: id.String(),
				Description: fmt.Sprintf("this transaction spends no coin and was already applied at height %d: the chain applied it twice (a replay)", at)})
			return
		}
		l.coinless[id] = h
		return
	}
	for _, o := range spends {
		if first, seen := l.spent[o]; seen {
			f.add(Finding{Type: TypeDoubleSpend, Severity: Critical, Height: h, TxID: id.String(),
				Description: fmt.Sprintf("coin %s was already spent by transaction %s at height %d: the chain spent it twice", o, first.txid, first.height)})
			continue
		}
		l.spent[o] = spend{height: h, txid: id}
	}
}

// checkSupply checks supply conservation and the ledger's indexes on the
// replayed state after height v, the replay's latest: every coin belongs to a registered account
// and a declared asset and is in its owner's index; every index entry names
// a coin of that owner; every balance is the sum of the owner's coins; every
// asset's supply is the sum of its coins and equals genesis + minted -
// burned.
func (a *auditor) checkSupply(v int64) error {
	tree, err := a.replay.store.Version(v)
	if err != nil {
		return fmt.Errorf("replayed state at %d: %w", v, err)
	}
	accounts := map[string]bool{}
	err = scan(tree, prefixAccount, func(k, _ []byte) error {
		accounts[string(k)] = true
		return nil
	})
	if err != nil {
		return err
	}
	assets := map[string]*app.Asset{}
	err = scan(tree, prefixAsset, func(k, val []byte) error {
		asset, err := app.DecodeAsset(val)
		if err != nil {
			a.f.add(Finding{Type: TypeSupply, Severity: Critical, Height: v, Key: prefixAsset + string(k), Description: fmt.Sprintf("asset record does not decode: %v", err)})
			return nil
		}
		assets[string(k)] = asset
		return nil
	})
	if err != nil {
		return err
	}

	type holding struct{ owner, asset string }
	sums := map[string]uint64{}
	held := map[holding]uint64{}
	coinsPerAsset := map[string]int{}
	coins := 0
	err = scan(tree, prefixUTXO, func(k, val []byte) error {
		coins++
		key := readableKey(append([]byte(prefixUTXO), k...))
		out, err := app.DecodeOutput(val)
		if err != nil || len(k) != outpointSize {
			a.f.add(Finding{Type: TypeCoinIndex, Severity: High, Height: v, Key: key, Description: "coin record does not decode"})
			return nil
		}
		if !accounts[out.Owner] {
			a.f.add(Finding{Type: TypeCoinIndex, Severity: High, Height: v, Key: key, Description: fmt.Sprintf("coin belongs to %q, which is not a registered account", out.Owner)})
		}
		if assets[out.Asset] == nil {
			a.f.add(Finding{Type: TypeCoinIndex, Severity: High, Height: v, Key: key, Description: fmt.Sprintf("coin is of %q, which is not a declared asset", out.Asset)})
		}
		if entry, err := a.replay.store.IndexGet(v, append([]byte(prefixOwner+out.Owner+"/"), k...)); err != nil {
			return err
		} else if entry == nil {
			a.f.add(Finding{Type: TypeCoinIndex, Severity: High, Height: v, Key: key, Description: fmt.Sprintf("coin of %s is missing from its owner's index: queries for %s's coins do not show it", out.Owner, out.Owner)})
		}
		var carry uint64
		sums[out.Asset], carry = bits.Add64(sums[out.Asset], out.Amount, 0)
		if carry != 0 {
			a.f.add(Finding{Type: TypeSupply, Severity: Critical, Height: v, Key: key, Description: fmt.Sprintf("the coins of %s add up to more than 2^64-1", out.Asset)})
		}
		held[holding{out.Owner, out.Asset}] += out.Amount
		coinsPerAsset[out.Asset]++
		return nil
	})
	if err != nil {
		return err
	}
	err = scanIndex(a.replay.store, v, prefixOwner, func(k, _ []byte) error {
		key := readableKey(append([]byte(prefixOwner), k...))
		if len(k) < outpointSize+2 || k[len(k)-outpointSize-1] != '/' {
			a.f.add(Finding{Type: TypeCoinIndex, Severity: High, Height: v, Key: key, Description: "owner index entry is malformed"})
			return nil
		}
		owner := string(k[:len(k)-outpointSize-1])
		val, err := tree.Get(append([]byte(prefixUTXO), k[len(k)-outpointSize:]...))
		if err != nil {
			return err
		}
		if out, derr := app.DecodeOutput(val); val == nil || derr != nil || out.Owner != owner {
			a.f.add(Finding{Type: TypeCoinIndex, Severity: High, Height: v, Key: key, Description: fmt.Sprintf("the owner index lists a coin for %s that is spent or belongs to someone else", owner)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	balances := map[holding]bool{}
	err = scanIndex(a.replay.store, v, prefixBalance, func(k, val []byte) error {
		owner, asset, ok := bytes.Cut(k, []byte("/"))
		amount, err := app.DecodeBalance(val)
		key := prefixBalance + string(k)
		if !ok || err != nil {
			a.f.add(Finding{Type: TypeBalance, Severity: High, Height: v, Key: key, Description: "balance record is malformed"})
			return nil
		}
		hd := holding{string(owner), string(asset)}
		balances[hd] = true
		if amount != held[hd] {
			a.f.add(Finding{Type: TypeBalance, Severity: High, Height: v, Key: key, Description: fmt.Sprintf("the balance of %s in %s is recorded as %d, but its coins add up to %d", owner, asset, amount, held[hd])})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for hd, amount := range held {
		if !balances[hd] && amount != 0 {
			a.f.add(Finding{Type: TypeBalance, Severity: High, Height: v, Key: prefixBalance + hd.owner + "/" + hd.asset, Description: fmt.Sprintf("%s holds coins of %s worth %d but has no balance record", hd.owner, hd.asset, amount)})
		}
	}

	ids := make([]string, 0, len(assets))
	for id := range assets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	a.sum.Assets = a.sum.Assets[:0]
	for _, id := range ids {
		asset := assets[id]
		if asset.Supply != sums[id] {
			a.f.add(Finding{Type: TypeSupply, Severity: Critical, Height: v, Key: prefixAsset + id, Description: fmt.Sprintf("%s's recorded supply is %d, but its coins add up to %d", id, asset.Supply, sums[id])})
		}
		want, known := a.ledger.expected[id]
		switch {
		case !known:
			a.f.add(Finding{Type: TypeSupply, Severity: Critical, Height: v, Key: prefixAsset + id, Description: fmt.Sprintf("asset %s exists, but neither genesis nor an accepted create_asset declared it", id)})
		case asset.Supply != want:
			a.f.add(Finding{Type: TypeSupply, Severity: Critical, Height: v, Key: prefixAsset + id, Description: fmt.Sprintf("%s's supply is %d, but genesis plus the accepted mints minus burns give %d", id, asset.Supply, want)})
		}
		a.sum.Assets = append(a.sum.Assets, AssetSupply{Asset: id, Supply: asset.Supply, Coins: coinsPerAsset[id]})
	}
	for id, want := range a.ledger.expected {
		if assets[id] == nil {
			a.f.add(Finding{Type: TypeSupply, Severity: Critical, Height: v, Key: prefixAsset + id, Description: fmt.Sprintf("asset %s (expected supply %d) is missing from the state", id, want)})
		}
	}
	for id, sum := range sums {
		if assets[id] == nil {
			a.f.add(Finding{Type: TypeSupply, Severity: Critical, Height: v, Key: prefixAsset + id, Description: fmt.Sprintf("coins worth %d of undeclared asset %s exist", sum, id)})
		}
	}
	a.sum.Accounts, a.sum.Coins = len(accounts), coins
	return nil
}

// rangeIterator is a state version that can walk a key range.
type rangeIterator interface {
	IterateRange(start, end []byte, ascending bool, fn func(key, value []byte) bool) bool
}

// scan calls fn with the key (without prefix) and value of every entry under
// prefix, in key order.
func scan(t rangeIterator, prefix string, fn func(k, v []byte) error) error {
	end := []byte(prefix)
	end[len(end)-1]++
	var err error
	t.IterateRange([]byte(prefix), end, true, func(k, v []byte) bool {
		err = fn(k[len(prefix):], v)
		return err != nil
	})
	return err
}

// scanIndex is scan over the store's index (owner/ and balance/ keys, kept
// beside the tree for the latest height v).
func scanIndex(st *app.Store, v int64, prefix string, fn func(k, v []byte) error) error {
	return st.ScanIndex(v, []byte(prefix), func(key, value []byte) error {
		return fn(key[len(prefix):], value)
	})
}

// readableKey shows a store key with its binary parts (outpoints, txids,
// keys) in hex.
func readableKey(k []byte) string {
	s := string(k)
	switch {
	case bytes.HasPrefix(k, []byte(prefixUTXO)) && len(k) == len(prefixUTXO)+outpointSize:
		return prefixUTXO + outpointText(k[len(prefixUTXO):])
	case bytes.HasPrefix(k, []byte(prefixOwner)) && len(k) > len(prefixOwner)+outpointSize:
		return string(k[:len(k)-outpointSize]) + outpointText(k[len(k)-outpointSize:])
	case bytes.HasPrefix(k, []byte("used/")), bytes.HasPrefix(k, []byte("signer/")):
		i := bytes.IndexByte(k, '/') + 1
		return string(k[:i]) + hex.EncodeToString(k[i:])
	}
	if !isPrintable(s) {
		return hex.EncodeToString(k)
	}
	return s
}

func outpointText(b []byte) string {
	idx := uint32(b[32])<<24 | uint32(b[33])<<16 | uint32(b[34])<<8 | uint32(b[35])
	return fmt.Sprintf("%x:%d", b[:32], idx)
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return false
		}
	}
	return true
}
