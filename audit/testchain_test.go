package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	cmtabci "github.com/cometbft/cometbft/abci/types"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	sm "github.com/cometbft/cometbft/state"
	"github.com/cometbft/cometbft/store"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/abci"
	"github.com/consort-ledger/consort/app"
)

// testChain builds a node home block by block the way a CometBFT node
// stores it — blocks and seen commits in data/blockstore.db, FinalizeBlock
// responses in data/state.db, the ledger in data/app — without running
// consensus: blocks are made from the state as a proposer would, executed
// by the real ABCI application and signed by every validator. Tests then
// audit the home, or a tampered copy.
type testChain struct {
	t       testing.TB
	home    string
	chainID string
	powBits uint32

	doc        *cmttypes.GenesisDoc
	state      sm.State
	valKeys    map[string]cmted25519.PrivKey // by validator address
	blockDB    dbm.DB
	stateDB    dbm.DB
	blocks     *store.BlockStore
	states     sm.Store
	appStore   *app.Store
	node       *abci.Application
	lastCommit *cmttypes.Commit

	keys  map[string]cmted25519.PrivKey // account keys by name
	nonce uint64
	txs   int // transactions included so far
}

const testChainID = "consort-audit-test"

// chainOptions describe the genesis of a test chain.
type chainOptions struct {
	validators int      // genesis validators, power 10 each
	members    []string // accounts with role member
	coins      int      // genesis USD coins per member
	coinAmount uint64   // base units per genesis coin
	powBits    uint32   // proof-of-work difficulty; 0 = off
}

// newTestChain writes genesis into a new home under dir and executes
// InitChain. The account admin holds roles admin and issuer (of USD).
func newTestChain(t testing.TB, dir string, o chainOptions) *testChain {
	t.Helper()
	c := &testChain{t: t, home: filepath.Join(dir, "home"), chainID: testChainID, powBits: o.powBits,
		valKeys: map[string]cmted25519.PrivKey{}, keys: map[string]cmted25519.PrivKey{}}
	for _, dir := range []string{"config", "data/app"} {
		if err := os.MkdirAll(filepath.Join(c.home, dir), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	g := app.Genesis{Assets: []app.GenesisAsset{{ID: "USD", Decimals: 2, Issuers: []app.GenesisIssuer{{Account: "admin"}}}}}
	if o.powBits > 0 {
		g.Params = &app.GenesisParams{Pow: &app.GenesisPow{DifficultyBits: o.powBits}}
	}
	g.Accounts = append(g.Accounts, c.account("admin", "admin", "issuer"))
	for _, name := range o.members {
		g.Accounts = append(g.Accounts, c.account(name, "member"))
		for range o.coins {
			g.UTXOs = append(g.UTXOs, app.GenesisUTXO{Owner: name, Asset: "USD", Amount: strconv.FormatUint(o.coinAmount, 10)})
		}
	}
	appState, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	c.doc = &cmttypes.GenesisDoc{
		ChainID: c.chainID, GenesisTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), InitialHeight: 1,
		ConsensusParams: cmttypes.DefaultConsensusParams(), AppState: appState,
	}
	for i := range o.validators {
		key := c.validatorKey(fmt.Sprintf("val-%d", i))
		c.doc.Validators = append(c.doc.Validators, cmttypes.GenesisValidator{PubKey: key.PubKey(), Power: 10, Name: fmt.Sprintf("val-%d", i)})
	}
	if err := c.doc.ValidateAndComplete(); err != nil {
		t.Fatal(err)
	}
	if err := c.doc.SaveAs(filepath.Join(c.home, "config", "genesis.json")); err != nil {
		t.Fatal(err)
	}
	if c.state, err = sm.MakeGenesisState(c.doc); err != nil {
		t.Fatal(err)
	}
	c.open()
	res, err := c.node.InitChain(context.Background(), &cmtabci.RequestInitChain{
		ChainId: c.chainID, InitialHeight: 1, AppStateBytes: appState,
		Validators: cmttypes.TM2PB.ValidatorUpdates(c.state.Validators),
	})
	if err != nil {
		t.Fatal(err)
	}
	c.state.AppHash = res.AppHash
	c.lastCommit = &cmttypes.Commit{}
	return c
}

func (c *testChain) open() {
	c.t.Helper()
	data := filepath.Join(c.home, "data")
	var err error
	if c.blockDB, err = dbm.NewGoLevelDB("blockstore", data); err != nil {
		c.t.Fatal(err)
	}
	if c.stateDB, err = dbm.NewGoLevelDB("state", data); err != nil {
		c.t.Fatal(err)
	}
	c.blocks = store.NewBlockStore(c.blockDB)
	c.states = sm.NewStore(c.stateDB, sm.StoreOptions{})
	if c.appStore, err = app.OpenStore(filepath.Join(data, "app"), app.DefaultStoreConfig()); err != nil {
		c.t.Fatal(err)
	}
	c.node = abci.New(abci.DefaultConfig(), app.New(c.appStore), zerolog.Nop())
}

// close stops "the node": its databases are released for the audit.
func (c *testChain) close() {
	if c.blockDB == nil {
		return
	}
	c.blockDB.Close()
	c.stateDB.Close()
	c.appStore.Close()
	c.blockDB = nil
}

func (c *testChain) validatorKey(name string) cmted25519.PrivKey {
	key := cmted25519.GenPrivKeyFromSecret([]byte("audit-test-" + name))
	c.valKeys[string(key.PubKey().Address())] = key
	return key
}

func (c *testChain) account(name string, roles ...string) app.GenesisAccount {
	key := cmted25519.GenPrivKeyFromSecret([]byte("audit-test-account-" + name))
	c.keys[name] = key
	return app.GenesisAccount{Name: name, Organization: "org-" + name, Roles: roles,
		Keys: []app.GenesisKey{{Type: "ed25519", PublicKey: base64.StdEncoding.EncodeToString(key.PubKey().Bytes())}}}
}

// genesisCoin is the outpoint of genesis coin i.
func genesisCoin(i int) app.Outpoint {
	return app.Outpoint{TxID: app.GenesisTxID(testChainID), Index: uint32(i)}
}

// sign encodes body, signs it with the named accounts' keys and mines the
// chain's proof-of-work stamp.
func (c *testChain) sign(body *app.Body, signers ...string) []byte {
	c.t.Helper()
	body.Version, body.ChainID = app.TxVersion, c.chainID
	tx := &app.Tx{BodyBytes: app.EncodeBody(body), Body: *body}
	for _, name := range signers {
		key := c.keys[name]
		sig, err := key.Sign(tx.BodyBytes)
		if err != nil {
			c.t.Fatal(err)
		}
		tx.AddSignature(app.Signature{KeyType: app.KeyEd25519, PublicKey: key.PubKey().Bytes(), Signature: sig})
	}
	if c.powBits > 0 {
		id := tx.ID()
		for tx.PowNonce = 1; app.PowZeroBits(id, tx.PowNonce) < c.powBits; tx.PowNonce++ {
		}
	}
	return tx.Encode()
}

// pay spends coin (worth have) of from: amount to to, the rest back to from
// as output 1.
func (c *testChain) pay(from, to string, coin app.Outpoint, have, amount uint64) []byte {
	outs := []app.Output{{Owner: to, Asset: "USD", Amount: amount}}
	if have > amount {
		outs = append(outs, app.Output{Owner: from, Asset: "USD", Amount: have - amount})
	}
	return c.sign(&app.Body{Transfer: &app.Transfer{Inputs: []app.Outpoint{coin}, Outputs: outs}}, from)
}

// govern signs a governance action (or a mint) by admin with a fresh nonce.
func (c *testChain) govern(body *app.Body) []byte {
	c.nonce++
	body.Nonce = c.nonce
	return c.sign(body, "admin")
}

// block makes, executes, signs and stores the next block with txs, and
// returns the results as the node recorded them.
func (c *testChain) block(txs ...[]byte) *cmtabci.ResponseFinalizeBlock {
	c.t.Helper()
	ctx := context.Background()
	h := c.state.LastBlockHeight + 1
	proposer := c.state.Validators.GetProposer().Address
	block, err := c.state.MakeBlock(h, cmttypes.ToTxs(txs), c.lastCommit, nil, proposer)
	if err != nil {
		c.t.Fatal(err)
	}
	parts, err := block.MakePartSet(cmttypes.BlockPartSizeBytes)
	if err != nil {
		c.t.Fatal(err)
	}
	id := cmttypes.BlockID{Hash: block.Hash(), PartSetHeader: parts.Header()}
	res, err := c.node.FinalizeBlock(ctx, &cmtabci.RequestFinalizeBlock{
		Txs: txs, Height: h, Hash: id.Hash, Time: block.Time, ProposerAddress: proposer,
		NextValidatorsHash: block.NextValidatorsHash,
	})
	if err != nil {
		c.t.Fatalf("finalize block %d: %v", h, err)
	}
	if _, err := c.node.Commit(ctx, &cmtabci.RequestCommit{}); err != nil {
		c.t.Fatal(err)
	}
	if err := c.states.SaveFinalizeBlockResponse(h, res); err != nil {
		c.t.Fatal(err)
	}
	commit := c.commit(id, h, block.Time.Add(time.Second))
	c.blocks.SaveBlock(block, parts, commit)

	// The state update of CometBFT's BlockExecutor.
	updates, err := cmttypes.PB2TM.ValidatorUpdates(res.ValidatorUpdates)
	if err != nil {
		c.t.Fatal(err)
	}
	next := c.state.NextValidators.Copy()
	if err := next.UpdateWithChangeSet(updates); err != nil {
		c.t.Fatal(err)
	}
	next.IncrementProposerPriority(1)
	c.state.LastValidators = c.state.Validators.Copy()
	c.state.Validators = c.state.NextValidators.Copy()
	c.state.NextValidators = next
	c.state.LastBlockHeight, c.state.LastBlockID, c.state.LastBlockTime = h, id, block.Time
	c.state.LastResultsHash = sm.TxResultsHash(res.TxResults)
	c.state.AppHash = res.AppHash
	c.lastCommit = commit
	c.txs += len(txs)
	return res
}

// commit has every validator of height h sign block id.
func (c *testChain) commit(id cmttypes.BlockID, h int64, at time.Time) *cmttypes.Commit {
	c.t.Helper()
	vals := c.state.Validators
	sigs := make([]cmttypes.CommitSig, vals.Size())
	for i, v := range vals.Validators {
		vote := &cmttypes.Vote{Type: cmtproto.PrecommitType, Height: h, BlockID: id, Timestamp: at,
			ValidatorAddress: v.Address, ValidatorIndex: int32(i)}
		key, ok := c.valKeys[string(v.Address)]
		if !ok {
			c.t.Fatalf("no key for validator %X", v.Address)
		}
		sig, err := key.Sign(cmttypes.VoteSignBytes(c.chainID, vote.ToProto()))
		if err != nil {
			c.t.Fatal(err)
		}
		sigs[i] = cmttypes.CommitSig{BlockIDFlag: cmttypes.BlockIDFlagCommit, ValidatorAddress: v.Address, Timestamp: at, Signature: sig}
	}
	return &cmttypes.Commit{Height: h, BlockID: id, Signatures: sigs}
}
