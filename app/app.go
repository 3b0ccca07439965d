package app

import "fmt"

// Event is an indexed fact about an executed transaction.
type Event struct {
	Type       string
	Attributes []Attribute
}

// Attribute is one key/value of an Event.
type Attribute struct{ Key, Value string }

// TxResult is the outcome of one transaction in a block.
type TxResult struct {
	Code   Code
	Log    string // "ok", or what was wrong in words
	Module string // the validation module that rejected it; "" for the ledger's own rules
	TxID   TxID   // zero when the bytes did not decode
	Events []Event
}

// App is the ledger state machine over a Store. Its methods are called by one
// goroutine at a time for the block path (InitChain, ExecuteBlock, Commit);
// Check and queries read only committed versions and may run beside them.
type App struct {
	store   *Store
	modules []Module // DefaultModules plus those given with WithModule
}

// Option configures an App.
type Option func(*App)

// WithModule adds a validation module that genesis or set_params may then
// name. Every validator must run a binary with the same modules.
func WithModule(m Module) Option { return func(a *App) { a.modules = append(a.modules, m) } }

// New returns the ledger over an opened store.
func New(store *Store, opts ...Option) *App {
	a := &App{store: store, modules: DefaultModules()}
	for i, m := range a.modules {
		if _, ok := m.(signatureModule); ok {
			a.modules[i] = signatureModule{verified: newSigCache()}
		}
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

// hasModule reports whether this node has a module of that name.
func (a *App) hasModule(name string) bool { return findModule(a.modules, name) != nil }

// Info returns the last committed height and app hash.
func (a *App) Info() (int64, []byte) { return a.store.Height(), a.store.Hash() }

// InitChain writes genesis into the working tree and returns its hash; the
// first block's Commit saves it together with that block.
func (a *App) InitChain(chainID string, initialHeight int64, appState []byte, vals []InitialValidator) ([]byte, error) {
	if a.store.Height() != 0 {
		return nil, fmt.Errorf("init chain: state already at height %d", a.store.Height())
	}
	g, err := ParseGenesis(appState)
	if err != nil {
		return nil, err
	}
	a.store.Discard()
	kv := &countingKV{KV: a.store.Working()}
	if err := applyGenesis(kv, chainID, g, vals, a.hasModule); err != nil {
		a.store.Discard()
		return nil, err
	}
	if err := kv.flush(); err != nil {
		a.store.Discard()
		return nil, err
	}
	a.store.SetInitialVersion(initialHeight)
	return a.store.WorkingHash(), nil
}

// Check validates a transaction against the last committed state, as the
// next block would include it, for the mempool. spent names inputs already
// taken by pending transactions.
func (a *App) Check(txBytes []byte, spent SpentFunc) (*Tx, error) {
	return a.validate(a.store.Committed(), txBytes, nil, spent, a.store.Height()+1)
}

// CheckDecoded is Check of a transaction the caller already decoded with
// DecodeTx from exactly txBytes.
func (a *App) CheckDecoded(txBytes []byte, tx *Tx, spent SpentFunc) (*Tx, error) {
	return a.validate(a.store.Committed(), txBytes, tx, spent, a.store.Height()+1)
}

// Committed is the last committed state, read-only.
func (a *App) Committed() Reader { return a.store.Committed() }

// NodeAllowed answers CometBFT's peer filter from the last committed node
// allowlist or, before the first block, from genesis: validators connect to
// each other before any block exists.
func (a *App) NodeAllowed(id string) (bool, error) {
	r := a.store.Committed()
	if a.store.Height() == 0 {
		r = a.store.Working()
	}
	return NodeAllowed(r, id)
}

// Sender names the account a transaction is from, for per-account limits:
// the owner of its first input, else the first account holding its first
// signing key. Empty when neither is known.
func (a *App) Sender(tx *Tx) string {
	r := a.store.Committed()
	if spends := tx.Body.Spends(); len(spends) > 0 {
		if u, err := loadUTXO(r, spends[0]); err == nil && u != nil {
			return u.Owner
		}
	}
	if len(tx.Signatures) > 0 {
		s := tx.Signatures[0]
		if names, err := keyHolders(r, s.KeyType, s.PublicKey); err == nil && len(names) > 0 {
			return names[0]
		}
	}
	return ""
}

// BlockResult is what executing a block produced.
type BlockResult struct {
	Txs              []TxResult
	AppHash          []byte
	ValidatorUpdates []ValidatorUpdate // net changes of the block, sorted by key
	Punishments      []Punishment      // what the block's misbehaviour led to
}

// ExecuteBlock applies a decided block's transactions in order to the working
// tree and returns one result per transaction, the resulting app hash and
// the block's validator changes. A rejected transaction changes nothing. An
// error means the node cannot go on (its own state is unreadable or the
// block is out of order) and must halt rather than diverge from the other
// validators.
func (a *App) ExecuteBlock(height int64, txs [][]byte) (*BlockResult, error) {
	return a.Execute(Block{Height: height, Txs: txs})
}

// Block is a decided block as the ledger sees it.
type Block struct {
	Height       int64
	Txs          [][]byte
	Misbehaviour []Misbehaviour // evidence CometBFT committed in the block
	// Decoded optionally holds transactions the caller already decoded
	// with DecodeTx: Decoded[i], when present and not nil, is Txs[i]
	// decoded. It saves decoding again and cannot change a result.
	Decoded []*Tx
}

// Execute is ExecuteBlock with the block's misbehaviour: each misbehaving
// validator loses its power before the transactions run.
func (a *App) Execute(b Block) (*BlockResult, error) {
	height, txs := b.Height, b.Txs
	if err := a.store.Saved(); err != nil {
		return nil, fmt.Errorf("execute block %d: %w", height, err)
	}
	if want := a.store.WorkingVersion(); height != want {
		return nil, fmt.Errorf("execute block %d: state expects block %d", height, want)
	}
	working := &countingKV{KV: a.store.Working()}
	blk := &blockContext{height: height, modules: a.modules}
	res := &BlockResult{Txs: make([]TxResult, len(txs))}
	var err error
	if res.Punishments, err = punish(working, blk, b.Misbehaviour); err != nil {
		return nil, fmt.Errorf("block %d: misbehaviour: %w", height, err)
	}
	for i, txBytes := range txs {
		var decoded *Tx
		if i < len(b.Decoded) {
			decoded = b.Decoded[i]
		}
		ex, err := check(working, txBytes, decoded, nil, blk)
		if err == nil {
			if err := ex.apply(working); err != nil {
				return nil, fmt.Errorf("block %d tx %d: apply: %w", height, i, err)
			}
			res.Txs[i] = TxResult{Code: CodeOK, Log: "ok", TxID: ex.id, Events: ex.events}
			continue
		}
		code := CodeOf(err)
		if code == CodeInternal {
			return nil, fmt.Errorf("block %d tx %d: %w", height, i, err)
		}
		res.Txs[i] = TxResult{Code: code, Log: err.Error(), Module: ModuleOf(err)}
		if tx, derr := DecodeTx(txBytes); derr == nil {
			res.Txs[i].TxID = tx.ID()
		}
	}
	if err := working.flush(); err != nil {
		return nil, fmt.Errorf("block %d: stats: %w", height, err)
	}
	res.ValidatorUpdates = blk.validatorUpdates()
	res.AppHash = a.store.WorkingHash()
	return res, nil
}

// Commit makes the working tree the new committed version and saves it.
func (a *App) Commit() (int64, []byte, error) {
	hash, version, err := a.store.Commit()
	return version, hash, err
}

// CommitDeferred makes the working tree the new committed version and
// returns the save for the caller to run (Store.CommitDeferred).
func (a *App) CommitDeferred() (int64, []byte, func(), error) {
	hash, version, save, err := a.store.CommitDeferred()
	return version, hash, save, err
}

// Saved waits for a save in progress (Store.Saved).
func (a *App) Saved() error { return a.store.Saved() }

// OnSaved makes fn be called after each background save (Store.OnSaved).
func (a *App) OnSaved(fn func(SaveReport)) { a.store.OnSaved(fn) }

// OnPruned makes fn be called after each round of pruning (Store.OnPruned).
func (a *App) OnPruned(fn func(PruneReport)) { a.store.OnPruned(fn) }

// OldestVersion is the oldest height whose state is still on disk.
func (a *App) OldestVersion() int64 { return a.store.Oldest() }

// ProposalChecker validates the transactions of one proposed block in order,
// against committed state plus what earlier transactions of the block spend.
type ProposalChecker struct {
	app      *App
	state    Reader
	height   int64
	spent    map[Outpoint]bool
	coinless map[TxID]bool
}

// NewProposalChecker starts checking a proposal on top of committed state.
func (a *App) NewProposalChecker() *ProposalChecker {
	return &ProposalChecker{app: a, state: a.store.Committed(), height: a.store.Height() + 1, spent: map[Outpoint]bool{}, coinless: map[TxID]bool{}}
}

// AddChecked takes the next transaction of the proposal as valid against
// the proposal's committed state without validating it again: the caller
// knows it is (CheckTx admitted these exact bytes against that state). It
// still refuses a transaction without inputs (only Add tracks those) and
// one that spends an input an earlier transaction of the proposal spends.
func (p *ProposalChecker) AddChecked(tx *Tx) error {
	spends := tx.Body.Spends()
	if len(spends) == 0 {
		return fmt.Errorf("%w: transaction %s spends no input; check it with Add", ErrInternal, tx.ID())
	}
	for i, in := range spends {
		if p.spent[in] {
			return rejectf(ErrMempoolConflict, "input %d (%s)", i, in)
		}
	}
	for _, in := range spends {
		p.spent[in] = true
	}
	return nil
}

// Add validates the next transaction of the proposal and, if it passes,
// reserves its inputs so a later transaction cannot spend them again.
func (p *ProposalChecker) Add(txBytes []byte) error {
	tx, err := p.app.validate(p.state, txBytes, nil, func(o Outpoint) bool { return p.spent[o] }, p.height)
	if err != nil {
		return err
	}
	spends := tx.Body.Spends()
	if len(spends) == 0 { // coinless: its txid is what may appear once
		if p.coinless[tx.ID()] {
			return rejectf(ErrReplay, "transaction %s appears twice in the proposal", tx.ID())
		}
		p.coinless[tx.ID()] = true
	}
	for _, in := range spends {
		p.spent[in] = true
	}
	return nil
}
