package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/client"
)

// Account is a ledger account whose key the harness can sign with.
type Account struct {
	Name   string
	Signer client.Signer
}

// ConsortConfig says how to prepare the consort workload.
type ConsortConfig struct {
	// Accounts is how many fresh accounts send the load. Each node limits
	// how fast one account may enter its mempool (100 tx/s by default), so
	// the load must spread over at least rate/limit accounts. Default 128.
	Accounts int
	// CoinsPerAccount is how many coins each account starts with, at most
	// Accounts (one setup transaction pays one coin to each of its
	// recipients). A coin is in flight from submission to commit, so
	// Accounts*CoinsPerAccount bounds the transactions in flight. Default
	// Accounts.
	CoinsPerAccount int
	// Asset is the asset transferred. Default "USD".
	Asset string
	// Admin registers the accounts: a governance action, so the chain's
	// governance threshold must be 1.
	Admin Account
	// Funder pays the accounts' coins from its own.
	Funder Account
	// Log receives one line per setup step; nil discards them.
	Log io.Writer
}

// Consort sends 1-input, 2-output transfers between the accounts it
// prepared: each spends one coin of an account, pays 1 base unit to another
// account and returns the change to the sender, whose change coin is spent
// again once committed. No two transactions in flight spend one coin.
type Consort struct {
	chainID  string
	asset    string
	accounts []benchAccount
	coins    chan coin
	next     atomic.Uint64
	lost     atomic.Int64
}

type benchAccount struct {
	name string
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

type coin struct {
	outpoint app.Outpoint
	owner    int // index into accounts
	amount   uint64
}

type consortToken struct {
	spent coin
	id    app.TxID
}

// minCoin is the smallest coin a transfer spends: 1 unit paid, at least 1
// returned as change.
const minCoin = 2

// PrepareConsort registers and funds cfg.Accounts fresh accounts on the
// chain c talks to (setup transactions, not measured) and returns the
// workload over their coins.
func PrepareConsort(ctx context.Context, c *client.Client, cfg ConsortConfig) (*Consort, error) {
	if cfg.Accounts == 0 {
		cfg.Accounts = 128
	}
	if cfg.CoinsPerAccount == 0 {
		cfg.CoinsPerAccount = cfg.Accounts
	}
	if cfg.Asset == "" {
		cfg.Asset = "USD"
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	n, k := cfg.Accounts, cfg.CoinsPerAccount
	switch {
	case n < 2:
		return nil, fmt.Errorf("accounts %d: want at least 2", n)
	case k < 1 || k > n:
		return nil, fmt.Errorf("coins per account %d: want 1 to the number of accounts (%d)", k, n)
	case cfg.Admin.Signer == nil || cfg.Funder.Signer == nil:
		return nil, errors.New("an admin account and a funding account with keys are needed")
	}
	chainID, err := c.ChainID(ctx)
	if err != nil {
		return nil, err
	}
	params, err := c.Params(ctx)
	if err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	switch {
	case params.PowDifficultyBits > 0:
		return nil, fmt.Errorf("the chain asks for a %d-bit proof-of-work stamp on every transaction; bench measures chains without one", params.PowDifficultyBits)
	case params.GovernanceThreshold > 1:
		return nil, fmt.Errorf("registering accounts needs admins of %d organisations; bench signs with one admin (%s), so it needs a chain whose governance threshold is 1", params.GovernanceThreshold, cfg.Admin.Name)
	case int(params.MaxOutputs) < n+1:
		return nil, fmt.Errorf("funding %d accounts needs %d outputs in one transaction, the chain allows %d", n, n+1, params.MaxOutputs)
	}
	w := &Consort{chainID: chainID, asset: cfg.Asset, accounts: make([]benchAccount, n)}
	var run [3]byte
	if _, err := rand.Read(run[:]); err != nil {
		return nil, err
	}
	for i := range w.accounts {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		w.accounts[i] = benchAccount{name: fmt.Sprintf("bench-%s-%d", hex.EncodeToString(run[:]), i), pub: pub, priv: priv}
	}
	if err := w.register(ctx, c, cfg); err != nil {
		return nil, err
	}
	fundID, perAccount, perCoin, err := w.fund(ctx, c, cfg)
	if err != nil {
		return nil, err
	}
	if err := w.split(ctx, c, cfg, fundID, perAccount, perCoin); err != nil {
		return nil, err
	}
	return w, nil
}

// Name implements Workload.
func (*Consort) Name() string { return "consort" }

// Accounts is how many accounts send the load.
func (w *Consort) Accounts() int { return len(w.accounts) }

// LostCoins counts coins whose transaction was rejected for good.
func (w *Consort) LostCoins() int64 { return w.lost.Load() }

// Next implements Workload: it spends the next free coin.
func (w *Consort) Next(ctx context.Context) ([]byte, any, error) {
	var c coin
	select {
	case c = <-w.coins:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	n := len(w.accounts)
	// Recipients rotate over the other accounts.
	to := (c.owner + 1 + int(w.next.Add(1)%uint64(n-1))) % n
	from := &w.accounts[c.owner]
	body := &app.Body{Version: app.TxVersion, ChainID: w.chainID, Transfer: &app.Transfer{
		Inputs:  []app.Outpoint{c.outpoint},
		Outputs: []app.Output{{Owner: w.accounts[to].name, Asset: w.asset, Amount: 1}, {Owner: from.name, Asset: w.asset, Amount: c.amount - 1}},
	}}
	tx := from.sign(body)
	return tx.Encode(), consortToken{spent: c, id: tx.ID()}, nil
}

// Outcome implements Workload: a committed transfer's change is the
// sender's next coin; a refused one's coin is tried again.
func (w *Consort) Outcome(token any, o Outcome) {
	t := token.(consortToken)
	switch o {
	case Committed:
		if change := t.spent.amount - 1; change >= minCoin {
			w.coins <- coin{outpoint: app.Outpoint{TxID: t.id, Index: 1}, owner: t.spent.owner, amount: change}
		}
	case Refused:
		w.coins <- t.spent
	default:
		w.lost.Add(1)
	}
}

func (a *benchAccount) sign(body *app.Body) *app.Tx {
	tx := &app.Tx{BodyBytes: app.EncodeBody(body), Body: *body}
	tx.AddSignature(app.Signature{KeyType: app.KeyEd25519, PublicKey: a.pub, Signature: ed25519.Sign(a.priv, tx.BodyBytes)})
	return tx
}

// register makes each account a member with its one key.
func (w *Consort) register(ctx context.Context, c *client.Client, cfg ConsortConfig) error {
	fmt.Fprintf(cfg.Log, "setup: registering %d accounts (signed by %s)\n", len(w.accounts), cfg.Admin.Name)
	txs := make([][]byte, len(w.accounts))
	for i, a := range w.accounts {
		acct := app.Account{Name: a.name, Status: app.StatusActive, Threshold: 1, Grants: []app.Grant{{Role: "member"}},
			Keys: []app.AccountKey{{KeyType: app.KeyEd25519, PublicKey: a.pub, Weight: 1}}}
		body, err := client.BuildAction(w.chainID, "bench", &app.RegisterAccount{Account: acct})
		if err != nil {
			return err
		}
		tx, err := client.Sign(ctx, body, cfg.Admin.Signer)
		if err != nil {
			return err
		}
		txs[i] = tx.Encode()
	}
	return broadcastAll(ctx, c, txs, "register account")
}

// fund pays each account its share of the funder's coins in one
// transaction, output i to account i.
func (w *Consort) fund(ctx context.Context, c *client.Client, cfg ConsortConfig) (app.TxID, uint64, uint64, error) {
	coins, _, err := c.UTXOs(ctx, cfg.Funder.Name, cfg.Asset)
	if err != nil {
		return app.TxID{}, 0, 0, fmt.Errorf("coins of %s: %w", cfg.Funder.Name, err)
	}
	params, err := c.Params(ctx)
	if err != nil {
		return app.TxID{}, 0, 0, err
	}
	var inputs []app.Outpoint
	var total uint64
	for _, u := range coins {
		if len(inputs) == int(params.MaxInputs) {
			break
		}
		inputs = append(inputs, u.Outpoint)
		total += u.Output.Amount
	}
	n, k := uint64(len(w.accounts)), uint64(cfg.CoinsPerAccount)
	// Half of the funder's coins, so it can fund another run.
	perCoin := total / 2 / n / k
	if perCoin < 100 {
		return app.TxID{}, 0, 0, fmt.Errorf("%s holds %d base units of %s in its first %d coins: too little for %d accounts x %d coins of at least 100 units each; fund it or use fewer accounts", cfg.Funder.Name, total, cfg.Asset, len(inputs), n, k)
	}
	perAccount := perCoin * k
	outputs := make([]app.Output, 0, n+1)
	for _, a := range w.accounts {
		outputs = append(outputs, app.Output{Owner: a.name, Asset: cfg.Asset, Amount: perAccount})
	}
	outputs = append(outputs, app.Output{Owner: cfg.Funder.Name, Asset: cfg.Asset, Amount: total - perAccount*n})
	body := &app.Body{Version: app.TxVersion, ChainID: w.chainID, Memo: "bench funding", Transfer: &app.Transfer{Inputs: inputs, Outputs: outputs}}
	tx, err := client.Sign(ctx, body, cfg.Funder.Signer)
	if err != nil {
		return app.TxID{}, 0, 0, err
	}
	fmt.Fprintf(cfg.Log, "setup: %s pays %d accounts %d base units of %s each\n", cfg.Funder.Name, n, perAccount, cfg.Asset)
	if err := broadcastAll(ctx, c, [][]byte{tx.Encode()}, "fund accounts"); err != nil {
		return app.TxID{}, 0, 0, err
	}
	return tx.ID(), perAccount, perCoin, nil
}

// split turns each account's funding coin into CoinsPerAccount coins: it
// keeps one and pays one to each of the next accounts, so each ends with
// one coin from itself and one from each of k-1 others.
func (w *Consort) split(ctx context.Context, c *client.Client, cfg ConsortConfig, fundID app.TxID, perAccount, perCoin uint64) error {
	n, k := len(w.accounts), cfg.CoinsPerAccount
	w.coins = make(chan coin, n*k)
	fmt.Fprintf(cfg.Log, "setup: splitting into %d coins of %d base units\n", n*k, perCoin)
	txs := make([][]byte, n)
	var pool []coin
	for i := range w.accounts {
		outputs := []app.Output{{Owner: w.accounts[i].name, Asset: cfg.Asset, Amount: perAccount - perCoin*uint64(k-1)}}
		owners := []int{i}
		for j := 1; j < k; j++ {
			to := (i + j) % n
			outputs = append(outputs, app.Output{Owner: w.accounts[to].name, Asset: cfg.Asset, Amount: perCoin})
			owners = append(owners, to)
		}
		body := &app.Body{Version: app.TxVersion, ChainID: w.chainID, Transfer: &app.Transfer{Inputs: []app.Outpoint{{TxID: fundID, Index: uint32(i)}}, Outputs: outputs}}
		tx := w.accounts[i].sign(body)
		txs[i] = tx.Encode()
		for j, o := range outputs {
			pool = append(pool, coin{outpoint: app.Outpoint{TxID: tx.ID(), Index: uint32(j)}, owner: owners[j], amount: o.Amount})
		}
	}
	if err := broadcastAll(ctx, c, txs, "split coins"); err != nil {
		return err
	}
	// Interleave owners so that consecutive transactions come from
	// different accounts: the per-account mempool limit is then reached
	// last.
	for j := range k {
		for i := range n {
			w.coins <- pool[i*k+j]
		}
	}
	return nil
}

// broadcastAll submits txs concurrently, waits for each to be committed and
// fails on the first that is not.
func broadcastAll(ctx context.Context, c *client.Client, txs [][]byte, what string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, tx := range txs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			res, err := c.Broadcast(ctx, tx, true)
			if err == nil && res.Code != 0 {
				err = fmt.Errorf("code %d: %s", res.Code, res.Log)
			}
			if err != nil {
				once.Do(func() { first = fmt.Errorf("setup: %s: %w", what, err); cancel() })
			}
		}()
	}
	wg.Wait()
	return first
}

// TransferSize is the encoded size of a typical load transaction (what
// the kvstore workload mimics): a 1-input, 2-output ed25519 transfer
// between two bench accounts on chainID.
func TransferSize(chainID string) int {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	a := benchAccount{name: "bench-000000-10", pub: pub, priv: priv}
	body := &app.Body{Version: app.TxVersion, ChainID: chainID, Transfer: &app.Transfer{
		Inputs:  []app.Outpoint{{Index: 1}},
		Outputs: []app.Output{{Owner: "bench-000000-100", Asset: "USD", Amount: 1}, {Owner: a.name, Asset: "USD", Amount: 2_500_000}},
	}}
	return len(a.sign(body).Encode())
}
