package abci

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"

	cmtabci "github.com/cometbft/cometbft/abci/types"
	cryptoenc "github.com/cometbft/cometbft/crypto/encoding"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/crashpoint"
)

// AppVersion is the ledger protocol version reported to CometBFT.
const AppVersion uint64 = 1

// Config holds this node's mempool policy. None of it can change what a
// block does.
type Config struct {
	// RateLimit bounds transactions per account entering this node's
	// mempool. Default DefaultRateLimit().
	RateLimit RateLimit
}

// DefaultConfig returns the defaults stated in Config.
func DefaultConfig() Config { return Config{RateLimit: DefaultRateLimit()} }

// Application serves the ledger over ABCI++.
type Application struct {
	cmtabci.BaseApplication

	ledger   *app.App
	log      zerolog.Logger
	limiter  *limiter
	refusals refusalLog
	metrics  *Metrics
	gauges   ledgerGauges
	// observing counts the gauge updates running after commits; observeMu
	// runs them one at a time, and lastObserved keeps an update of an older
	// height from overwriting a newer one.
	observing    sync.WaitGroup
	observeMu    sync.Mutex
	lastObserved int64

	// pending holds the inputs spent by transactions admitted to this node's
	// mempool since the last commit, so two transactions spending one coin
	// are not both admitted. Commit clears it; CometBFT's recheck of the
	// remaining mempool after each block fills it again. CheckTx runs
	// beside the block path (consensus.NewNode gives each ABCI connection
	// its own lock): mu orders it against Commit.
	mu      sync.Mutex
	pending map[app.Outpoint][32]byte
	// decoded holds the transactions CheckTx admitted since the last
	// commit, decoded, by the sha256 of their bytes, and decodedBefore
	// those of the height before (for the recheck): PrepareProposal,
	// FinalizeBlock and the recheck take them from here instead of
	// decoding again. Guarded by mu.
	decoded, decodedBefore map[[32]byte]*app.Tx

	// prepared is the proposal this node last built, so that
	// ProcessProposal of its own proposal does not check it a second time.
	prepared struct {
		sync.Mutex
		height int64
		digest [32]byte
	}
}

var _ cmtabci.Application = (*Application)(nil)

// New returns the ABCI application over a ledger.
func New(cfg Config, ledger *app.App, logger zerolog.Logger, opts ...Option) *Application {
	a := &Application{
		ledger: ledger, log: logger, limiter: newLimiter(cfg.RateLimit, time.Now),
		pending: map[app.Outpoint][32]byte{}, metrics: NopMetrics(),
		decoded: map[[32]byte]*app.Tx{}, decodedBefore: map[[32]byte]*app.Tx{},
	}
	for _, opt := range opts {
		opt(a)
	}
	ledger.OnSaved(a.observeSave)
	ledger.OnPruned(a.observePrune)
	return a
}

// Info reports the last committed height and app hash, from which CometBFT's
// handshake decides which blocks to replay.
func (a *Application) Info(context.Context, *cmtabci.RequestInfo) (*cmtabci.ResponseInfo, error) {
	height, hash := a.ledger.Info()
	return &cmtabci.ResponseInfo{
		Data:             "consort",
		AppVersion:       AppVersion,
		LastBlockHeight:  height,
		LastBlockAppHash: hash,
	}, nil
}

// InitChain loads genesis app_state.
func (a *Application) InitChain(_ context.Context, req *cmtabci.RequestInitChain) (*cmtabci.ResponseInitChain, error) {
	vals := make([]app.InitialValidator, 0, len(req.Validators))
	for _, v := range req.Validators {
		pk, err := cryptoenc.PubKeyFromProto(v.PubKey)
		if err != nil {
			return nil, fmt.Errorf("init chain: validator key: %w", err)
		}
		vals = append(vals, app.InitialValidator{KeyType: pk.Type(), PublicKey: pk.Bytes(), Power: v.Power})
	}
	hash, err := a.ledger.InitChain(req.ChainId, req.InitialHeight, req.AppStateBytes, vals)
	if err != nil {
		return nil, fmt.Errorf("init chain: %w", err)
	}
	a.log.Info().Str("chain_id", req.ChainId).Int("validators", len(vals)).Msg("genesis loaded")
	a.observeGenesis(req.AppStateBytes)
	return &cmtabci.ResponseInitChain{AppHash: hash}, nil
}

// CheckTx admits a transaction to the mempool if it is valid against the
// last committed state and spends no input a pending transaction spends.
func (a *Application) CheckTx(_ context.Context, req *cmtabci.RequestCheckTx) (res *cmtabci.ResponseCheckTx, _ error) {
	defer a.metrics.checkTxDone(time.Now(), req, &res)
	a.mu.Lock()
	defer a.mu.Unlock()
	// Reservations are by the hash of the exact bytes: a re-check of the same
	// transaction (RPC check_tx, recheck) is no conflict, but another byte
	// form of the same txid (other signer subset, new ECDSA signature) is.
	self := sha256.Sum256(req.Tx)
	decoded := a.decodedLocked(self)
	if decoded == nil {
		decoded, _ = app.DecodeTx(req.Tx) // nil on error: Check reports it
	}
	// The rate limit comes before the signature checks: they are the
	// expensive part a flood would aim at. Rechecks are not new traffic.
	if req.Type == cmtabci.CheckTxType_New && decoded != nil {
		if sender := a.ledger.Sender(decoded); sender != "" && !a.limiter.allow(sender) {
			return &cmtabci.ResponseCheckTx{Code: uint32(app.CodeRateLimited), Log: fmt.Sprintf("%v: %s sends faster than this node accepts; retry later", app.ErrRateLimited, sender), Info: "mempool", Codespace: Codespace}, nil
		}
	}
	tx, err := a.ledger.CheckDecoded(req.Tx, decoded, func(o app.Outpoint) bool {
		by, taken := a.pending[o]
		return taken && by != self
	})
	if err != nil {
		code := app.CodeOf(err)
		if code == app.CodeInternal {
			a.log.Error().Err(err).Msg("check tx")
		}
		return &cmtabci.ResponseCheckTx{Code: uint32(code), Log: err.Error(), Info: rejectedBy(app.ModuleOf(err)), Codespace: Codespace}, nil
	}
	for _, in := range tx.Body.Spends() {
		a.pending[in] = self
	}
	a.decoded[self] = tx
	return &cmtabci.ResponseCheckTx{Code: cmtabci.CodeTypeOK, GasWanted: 1, Data: idBytes(tx.ID())}, nil
}

// decodedLocked returns the transaction with this hash of its bytes if
// CheckTx decoded it at this height or the one before; a.mu is held.
func (a *Application) decodedLocked(self [32]byte) *app.Tx {
	if tx := a.decoded[self]; tx != nil {
		return tx
	}
	return a.decodedBefore[self]
}

// decodedTxs looks up txs among the transactions CheckTx decoded: nil
// entries for those it did not. One hold of a.mu for the whole list.
func (a *Application) decodedTxs(txs [][]byte) []*app.Tx {
	hashes := hashTxs(txs)
	decoded := make([]*app.Tx, len(txs))
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, h := range hashes {
		decoded[i] = a.decodedLocked(h)
	}
	return decoded
}

func hashTxs(txs [][]byte) [][32]byte {
	hashes := make([][32]byte, len(txs))
	for i, tx := range txs {
		hashes[i] = sha256.Sum256(tx)
	}
	return hashes
}

// PrepareProposal keeps, in mempool order, the transactions that are valid
// together and fit in the block: no invalid transaction and no second spend
// of a coin ever reaches a proposal.
func (a *Application) PrepareProposal(_ context.Context, req *cmtabci.RequestPrepareProposal) (*cmtabci.ResponsePrepareProposal, error) {
	checker := a.ledger.NewProposalChecker()
	admitted := a.admitted(req.Txs)
	txs := make([][]byte, 0, len(req.Txs))
	var size int64
	for i, tx := range req.Txs {
		// CometBFT checks the block against the txs' protobuf size (length
		// prefixes included), not their raw length.
		n := cmttypes.ComputeProtoSizeForTxs([]cmttypes.Tx{tx})
		if size+n > req.MaxTxBytes {
			continue // a smaller one may still fit
		}
		var err error
		if admitted[i] != nil {
			err = checker.AddChecked(admitted[i])
		} else {
			err = checker.Add(tx)
		}
		if err != nil {
			continue
		}
		size += n
		txs = append(txs, tx)
	}
	a.prepared.Lock()
	a.prepared.height, a.prepared.digest = req.Height, proposalDigest(txs)
	a.prepared.Unlock()
	return &cmtabci.ResponsePrepareProposal{Txs: txs}, nil
}

// admitted returns, for each of txs, the transaction decoded if CheckTx
// admitted these exact bytes against the last committed state: every input
// it spends is reserved by it in pending, which Commit empties and only
// CheckTx (new or recheck) against the new state fills. Such a transaction
// is valid on that state and conflicts with no other reserved one;
// PrepareProposal need not check it again. Nil when that is not known (no
// inputs, not reserved, recheck off).
func (a *Application) admitted(txs [][]byte) []*app.Tx {
	hashes := hashTxs(txs)
	out := make([]*app.Tx, len(txs))
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, h := range hashes {
		tx := a.decodedLocked(h)
		if tx == nil {
			continue
		}
		spends := tx.Body.Spends()
		reserved := len(spends) > 0
		for _, in := range spends {
			reserved = reserved && a.pending[in] == h
		}
		if reserved {
			out[i] = tx
		}
	}
	return out
}

// proposalDigest identifies a list of transactions.
func proposalDigest(txs [][]byte) [32]byte {
	h := sha256.New()
	var n [8]byte
	for _, tx := range txs {
		binary.BigEndian.PutUint64(n[:], uint64(len(tx)))
		h.Write(n[:])
		h.Write(tx)
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// ProcessProposal rejects a proposed block that carries an invalid
// transaction or two spends of one coin.
func (a *Application) ProcessProposal(_ context.Context, req *cmtabci.RequestProcessProposal) (*cmtabci.ResponseProcessProposal, error) {
	// This node's own proposal was checked by PrepareProposal against the
	// same committed state (no Commit comes between): the answer is known.
	a.prepared.Lock()
	own := a.prepared.height == req.Height && a.prepared.digest == proposalDigest(req.Txs)
	a.prepared.Unlock()
	if own {
		return &cmtabci.ResponseProcessProposal{Status: cmtabci.ResponseProcessProposal_ACCEPT}, nil
	}
	checker := a.ledger.NewProposalChecker()
	for i, tx := range req.Txs {
		if err := checker.Add(tx); err != nil {
			a.log.Warn().Int64("height", req.Height).Int("tx", i).Err(err).Msg("rejecting proposal")
			return &cmtabci.ResponseProcessProposal{Status: cmtabci.ResponseProcessProposal_REJECT}, nil
		}
	}
	return &cmtabci.ResponseProcessProposal{Status: cmtabci.ResponseProcessProposal_ACCEPT}, nil
}

// FinalizeBlock executes a decided block.
func (a *Application) FinalizeBlock(_ context.Context, req *cmtabci.RequestFinalizeBlock) (*cmtabci.ResponseFinalizeBlock, error) {
	defer since(a.metrics.FinalizeBlockDuration, time.Now())
	crashpoint.Hit(crashpoint.FinalizeStart, req.Height)
	decoded := a.decodedTxs(req.Txs)
	res, err := a.ledger.Execute(app.Block{Height: req.Height, Txs: req.Txs, Misbehaviour: Misbehaviour(req.Misbehavior), Decoded: decoded})
	if err != nil {
		a.log.Error().Err(err).Int64("height", req.Height).Msg("cannot execute block; halting")
		return nil, err
	}
	a.logPunishments(req.Height, res.Punishments)
	a.observeBlock(req.Txs, res.Txs)
	resp := &cmtabci.ResponseFinalizeBlock{AppHash: res.AppHash, TxResults: make([]*cmtabci.ExecTxResult, len(res.Txs))}
	for i, r := range res.Txs {
		resp.TxResults[i] = execResult(r)
		if r.Code != app.CodeOK {
			a.log.Debug().Int64("height", req.Height).Str("txid", r.TxID.String()).Uint32("code", uint32(r.Code)).Str("log", r.Log).Msg("tx rejected")
		}
	}
	for _, u := range res.ValidatorUpdates {
		resp.ValidatorUpdates = append(resp.ValidatorUpdates, cmtabci.Ed25519ValidatorUpdate(u.PublicKey, u.Power))
	}
	crashpoint.Hit(crashpoint.FinalizeEnd, req.Height)
	return resp, nil
}

// Commit saves the block's state and clears the mempool's spent inputs; the
// recheck that follows re-reserves them for transactions still pending.
func (a *Application) Commit(context.Context, *cmtabci.RequestCommit) (*cmtabci.ResponseCommit, error) {
	// Held across the commit: a CheckTx that saw the new state with the old
	// reservations (or the reverse) could admit a double spend. CometBFT
	// runs no CheckTx during Commit, but the app does not rely on it.
	a.mu.Lock()
	height, hash, save, err := a.ledger.CommitDeferred()
	if err == nil {
		a.pending = map[app.Outpoint][32]byte{}
		a.decodedBefore, a.decoded = a.decoded, map[[32]byte]*app.Tx{}
	}
	a.mu.Unlock()
	if err != nil {
		a.log.Error().Err(err).Msg("commit failed; halting")
		return nil, err
	}
	// The version is written to disk beside the next height's work; the
	// next FinalizeBlock waits for it (app/save.go), and observeSave
	// reports it.
	go save()
	crashpoint.Hit(crashpoint.CommitEnd, height)
	a.log.Debug().Int64("height", height).Hex("app_hash", hash).Msg("committed")
	// The gauges read the new state, and a read the value cache misses may
	// wait for the background save: not on the consensus goroutine.
	a.observing.Add(1)
	go func() {
		defer a.observing.Done()
		a.observeCommit(height)
	}()
	return &cmtabci.ResponseCommit{}, nil
}

// observeSave logs and measures a background save of the state. A failed
// save stops the node at its next block (FinalizeBlock returns the error);
// a restart replays the block.
func (a *Application) observeSave(r app.SaveReport) {
	a.metrics.CommitDuration.Observe(r.Duration.Seconds())
	if r.Err != nil {
		a.log.Error().Err(r.Err).Int64("height", r.Version).Msg("saving the state failed; the node stops at the next block, and a restart replays this one")
		return
	}
	a.log.Debug().Int64("height", r.Version).Dur("took", r.Duration).Msg("state saved")
}

// observePrune logs a round of pruning old versions of the state.
func (a *Application) observePrune(r app.PruneReport) {
	if r.Err != nil {
		a.log.Error().Err(r.Err).Msg("pruning old versions of the state failed: they stay on disk and this process prunes no more; the ledger itself is unaffected")
		return
	}
	a.metrics.OldestVersion.Set(float64(r.Oldest)) // observeCommit ran before this prune
	a.log.Debug().Int64("from", r.From).Int64("to", r.To).Dur("took", r.Duration).Msg("old state versions pruned")
}

// Peer filter paths CometBFT queries when config.toml sets filter_peers.
const (
	filterIDPath   = "/p2p/filter/id/"
	filterAddrPath = "/p2p/filter/addr/"
)

// Query answers state queries, with an ICS-23 proof when asked, and
// CometBFT's peer filter: a node id is admitted only if the ledger's node
// allowlist holds it. Addresses are not filtered; the id is the identity.
func (a *Application) Query(_ context.Context, req *cmtabci.RequestQuery) (*cmtabci.ResponseQuery, error) {
	switch {
	case strings.HasPrefix(req.Path, filterIDPath):
		id := strings.TrimPrefix(req.Path, filterIDPath)
		ok, err := a.ledger.NodeAllowed(id)
		if err != nil || !ok {
			if a.refusals.first(id, time.Now()) {
				a.log.Info().Str("node_id", id).Err(err).Msg("peer refused: not on the node allowlist")
			}
			return &cmtabci.ResponseQuery{Code: uint32(app.CodeNotPermitted), Log: fmt.Sprintf("node %s is not on the allowlist", id), Codespace: Codespace}, nil
		}
		return &cmtabci.ResponseQuery{}, nil
	case strings.HasPrefix(req.Path, filterAddrPath):
		return &cmtabci.ResponseQuery{}, nil
	}
	res, err := a.ledger.Query(req.Path, req.Height, req.Prove)
	resp := &cmtabci.ResponseQuery{Codespace: Codespace}
	if res != nil {
		resp.Key, resp.Value, resp.Height = res.Key, res.Value, res.Height
		if res.Proof != nil {
			resp.ProofOps = &cmtcrypto.ProofOps{Ops: []cmtcrypto.ProofOp{{Type: ProofOpType, Key: res.Key, Data: res.Proof}}}
		}
	}
	if err != nil {
		resp.Code, resp.Log = uint32(app.CodeOf(err)), err.Error()
	}
	return resp, nil
}

// Codespace names consort's result codes in responses.
const Codespace = "consort"

// ProofOpType is the proof-op type of state proofs: an ICS-23 commitment
// proof in the IAVL spec, as the Cosmos SDK names it.
const ProofOpType = "ics23:iavl"

func execResult(r app.TxResult) *cmtabci.ExecTxResult {
	res := &cmtabci.ExecTxResult{Code: uint32(r.Code), Log: r.Log, Codespace: Codespace}
	if r.Code != app.CodeOK {
		res.Info = rejectedBy(r.Module)
	}
	if r.TxID != (app.TxID{}) {
		res.Data = idBytes(r.TxID)
		// The txid only: the code is the result's own, and the typed events
		// below do not repeat the txid. Every indexed attribute is a key the
		// tx indexer writes and a field every block_results carries, per
		// transaction (docs/benchmarks.md).
		res.Events = append(res.Events, cmtabci.Event{Type: "consort", Attributes: []cmtabci.EventAttribute{
			{Key: "txid", Value: r.TxID.String(), Index: true},
		}})
	}
	for _, e := range r.Events {
		ev := cmtabci.Event{Type: e.Type}
		for _, at := range e.Attributes {
			ev.Attributes = append(ev.Attributes, cmtabci.EventAttribute{Key: at.Key, Value: at.Value, Index: true})
		}
		res.Events = append(res.Events, ev)
	}
	return res
}

func idBytes(id app.TxID) []byte { return append([]byte(nil), id[:]...) }

// refusalLog remembers when each refused peer was last logged: a refused
// node redials at once, and one line a minute per node is enough to see it.
type refusalLog struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (l *refusalLog) first(id string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil || len(l.last) > 10_000 {
		l.last = map[string]time.Time{}
	}
	if t, ok := l.last[id]; ok && now.Sub(t) < time.Minute {
		return false
	}
	l.last[id] = now
	return true
}

// rejectedBy is the Info of a rejected transaction's result: which part of
// the ledger refused it, "module:NAME" for a validation module or "ledger"
// for the ledger's own rules.
func rejectedBy(module string) string {
	if module == "" {
		return "ledger"
	}
	return "module:" + module
}
