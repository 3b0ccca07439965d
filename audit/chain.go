package audit

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	cmtabci "github.com/cometbft/cometbft/abci/types"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	sm "github.com/cometbft/cometbft/state"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/consort-ledger/consort/app"
)

// chainState is what checking the next block needs to know about the
// blocks before it.
type chainState struct {
	initial int64
	// vals holds the validator sets of the heights still needed: the
	// previous block's (for its commit), this one's and the next one's.
	vals map[int64]*cmttypes.ValidatorSet
	// appHash is the app hash the next header must carry: the replay's
	// after the previous block (InitChain's for the first).
	appHash []byte
	// prev is the previous block as stored, nil before the first.
	prev *blockSeen
	// prevResults are the previous block's recorded results, nil if none.
	prevResults *cmtabci.ResponseFinalizeBlock
	// diverged is the run of consecutive heights whose header app hash
	// differs from the replay's: once state diverges every later hash
	// differs too, so the run is reported as its first height plus a count.
	diverged struct {
		first, last int64
		open        bool
	}
}

// blockSeen is what later checks need of a block.
type blockSeen struct {
	height int64
	id     cmttypes.BlockID // computed from the block's content
	time   time.Time
}

func newChainState(g *cmttypes.GenesisDoc, initHash []byte) (*chainState, error) {
	vals := make([]*cmttypes.Validator, len(g.Validators))
	for i, v := range g.Validators {
		vals[i] = cmttypes.NewValidator(v.PubKey, v.Power)
	}
	set := cmttypes.NewValidatorSet(vals)
	if err := set.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("genesis validators: %w", err)
	}
	// The app returns no validators from InitChain, so genesis's set is
	// the set of the first two heights.
	return &chainState{
		initial: g.InitialHeight,
		vals:    map[int64]*cmttypes.ValidatorSet{g.InitialHeight: set, g.InitialHeight + 1: set.Copy()},
		appHash: initHash,
	}, nil
}

// blockID computes a block's id from its content: the header hash and the
// header of its parts.
func blockID(b *cmttypes.Block) (cmttypes.BlockID, error) {
	ps, err := b.MakePartSet(cmttypes.BlockPartSizeBytes)
	if err != nil {
		return cmttypes.BlockID{}, err
	}
	return cmttypes.BlockID{Hash: b.Hash(), PartSetHeader: ps.Header()}, nil
}

// checkBlock checks a block's integrity and its links to the blocks before
// it, including the commit of the previous block it carries.
func (a *auditor) checkBlock(h int64, b *cmttypes.Block, recorded cmttypes.BlockID) {
	c := a.chain
	before := a.f.byTypeTotal()
	if b.Height != h {
		a.f.addf(TypeBlockHeader, Critical, h, "the block stored at height %d says it is block %d", h, b.Height)
	}
	if b.ChainID != a.chainID {
		a.f.addf(TypeBlockHeader, Critical, h, "block %d names chain %q, not %q", h, b.ChainID, a.chainID)
	}
	if got := cmttypes.Txs(b.Txs).Hash(); !bytes.Equal(got, b.DataHash) {
		a.f.addf(TypeBlockDataHash, Critical, h, "the transactions of block %d hash to %X, but its header commits to %X: the stored transactions are not the ones the validators signed", h, got, []byte(b.DataHash))
	}
	if b.LastCommit != nil && !bytes.Equal(b.LastCommit.Hash(), b.LastCommitHash) {
		a.f.addf(TypeLastCommitHash, Critical, h, "the last commit stored in block %d hashes to %X, but its header commits to %X", h, []byte(b.LastCommit.Hash()), []byte(b.LastCommitHash))
	}
	if got := b.Evidence.Hash(); !bytes.Equal(got, b.EvidenceHash) {
		a.f.addf(TypeBlockHeader, Critical, h, "the evidence in block %d hashes to %X, but its header commits to %X", h, got, []byte(b.EvidenceHash))
	}
	if err := b.ValidateBasic(); err != nil && a.f.byTypeTotal() == before {
		a.f.addf(TypeBlockHeader, Critical, h, "block %d fails CometBFT's validation: %v", h, err)
	}
	id, err := blockID(b)
	if err != nil {
		a.f.addf(TypeBlockHeader, Critical, h, "block %d cannot be split into parts: %v", h, err)
		id = recorded
	}

	if h == c.initial {
		if !b.LastBlockID.IsZero() {
			a.f.addf(TypeBlockLink, Critical, h, "the first block links to a previous block %v; it must link to none", b.LastBlockID)
		}
	} else if c.prev != nil {
		a.checkLink(c.prev, b.LastBlockID, b.LastCommit)
		if !b.Time.After(c.prev.time) {
			a.f.addf(TypeBlockTime, Medium, h, "block %d has time %s, not after block %d's %s", h, b.Time.UTC().Format(time.RFC3339Nano), h-1, c.prev.time.UTC().Format(time.RFC3339Nano))
		}
		if c.prevResults != nil {
			if got := sm.TxResultsHash(c.prevResults.TxResults); !bytes.Equal(got, b.LastResultsHash) {
				a.f.addf(TypeResultsHash, High, h-1, "the recorded results of block %d hash to %X, but block %d's header commits to %X: the node's stored results were altered, and the transaction findings at height %d compare with the altered results", h-1, got, h, []byte(b.LastResultsHash), h-1)
			}
		}
	}

	vals, next := c.vals[h], c.vals[h+1]
	if !bytes.Equal(vals.Hash(), b.ValidatorsHash) {
		a.f.addf(TypeValidatorSet, Critical, h, "block %d's header names validator set %X, but genesis and the validator updates replayed give %X", h, []byte(b.ValidatorsHash), vals.Hash())
	}
	if !bytes.Equal(next.Hash(), b.NextValidatorsHash) {
		a.f.addf(TypeValidatorSet, Critical, h, "block %d's header names next validator set %X, but genesis and the validator updates replayed give %X", h, []byte(b.NextValidatorsHash), next.Hash())
	}
	if !vals.HasAddress(b.ProposerAddress) {
		a.f.addf(TypeValidatorSet, Critical, h, "block %d was proposed by %X, which is not a validator at that height", h, []byte(b.ProposerAddress))
	}
	switch d := &c.diverged; {
	case bytes.Equal(b.AppHash, c.appHash):
		a.endDivergence()
	case d.open:
		d.last = h
	default:
		a.f.addf(TypeAppHash, Critical, h, "block %d's header carries app hash %X, but replaying the blocks before it gives %X: the chain's state diverged from its own transactions", h, []byte(b.AppHash), c.appHash)
		d.first, d.last, d.open = h, h, true
	}
	if c.prevResults != nil && !bytes.Equal(c.prevResults.AppHash, b.AppHash) {
		a.f.addf(TypeRecordedResults, High, h-1, "the node recorded app hash %X after block %d, but block %d's header carries %X: the node's stored results were altered", c.prevResults.AppHash, h-1, h, []byte(b.AppHash))
	}
	c.prev = &blockSeen{height: h, id: id, time: b.Time}
}

// endDivergence reports the rest of a run of app hash mismatches.
func (a *auditor) endDivergence() {
	d := &a.chain.diverged
	if d.open && d.last > d.first {
		a.f.addf(TypeAppHash, Critical, d.first+1, "the app hash also differs at the %d heights after %d (%d to %d): every later state builds on the divergence", d.last-d.first, d.first, d.first+1, d.last)
	}
	d.open = false
}

// checkLink checks that the block id a later block (or the last commit)
// names for block prev is prev's content, and that the commit proves the
// validators of prev's height signed that id.
func (a *auditor) checkLink(prev *blockSeen, signed cmttypes.BlockID, commit *cmttypes.Commit) {
	h := prev.height
	switch {
	case !bytes.Equal(signed.Hash, prev.id.Hash):
		a.f.addf(TypeBlockLink, Critical, h, "the chain links block %d as %X, but the stored block %d's header hashes to %X: the header was altered or replaced", h, []byte(signed.Hash), h, []byte(prev.id.Hash))
	case !signed.PartSetHeader.Equals(prev.id.PartSetHeader):
		a.f.addf(TypeBlockID, Critical, h, "the validators signed block %d with parts %X (%d), but the stored block's content makes parts %X (%d): its body was altered after commit", h, []byte(signed.PartSetHeader.Hash), signed.PartSetHeader.Total, []byte(prev.id.PartSetHeader.Hash), prev.id.PartSetHeader.Total)
	}
	if commit == nil {
		a.f.addf(TypeCommitMissing, High, h, "no commit for block %d", h)
		return
	}
	if err := a.chain.vals[h].VerifyCommit(a.chainID, signed, h, commit); err != nil {
		a.f.addf(TypeCommitInvalid, Critical, h, "the commit for block %d does not prove that +2/3 of its validators signed it: %v", h, err)
		return
	}
	for _, s := range commit.Signatures {
		if s.BlockIDFlag != cmttypes.BlockIDFlagAbsent {
			a.sum.CommitSignatures++
		}
	}
}

// checkLastCommit checks the commit of the last block, which no later block
// carries: the node's seen commit.
func (a *auditor) checkLastCommit(ctx context.Context, top int64) {
	prev := a.chain.prev
	if prev == nil || prev.height != top {
		return
	}
	commit, err := a.src.Commit(ctx, top)
	if err != nil {
		a.f.addf(TypeCommitMissing, High, top, "the commit for the last block %d cannot be read: %v", top, err)
		return
	}
	a.checkLink(prev, commit.BlockID, commit)
}

// advanceValidators applies the validator updates of block h to the set of
// height h+2, as CometBFT does, and forgets sets no longer needed.
func (a *auditor) advanceValidators(h int64, updates []app.ValidatorUpdate) {
	c := a.chain
	next := c.vals[h+1].Copy()
	if len(updates) > 0 {
		changes := make([]*cmttypes.Validator, len(updates))
		for i, u := range updates {
			changes[i] = cmttypes.NewValidator(cmted25519.PubKey(u.PublicKey), u.Power)
		}
		if err := next.UpdateWithChangeSet(changes); err != nil {
			a.f.addf(TypeValidatorUpdates, Critical, h, "the validator updates of block %d cannot be applied to the validator set: %v", h, err)
			next = c.vals[h+1].Copy()
		}
		a.sum.ValidatorUpdates += int64(len(updates))
	}
	c.vals[h+2] = next
	delete(c.vals, h-1)
}

// compareValidatorUpdates compares the replay's validator updates of a
// block with the ones the node recorded.
func (a *auditor) compareValidatorUpdates(h int64, replayed []app.ValidatorUpdate, recorded []cmtabci.ValidatorUpdate) {
	type update struct {
		Key   string // hex
		Power int64
	}
	var got, want []update
	for _, u := range replayed {
		got = append(got, update{hex.EncodeToString(u.PublicKey), u.Power})
	}
	for _, u := range recorded {
		v, err := cmttypes.PB2TM.ValidatorUpdates([]cmtabci.ValidatorUpdate{u})
		if err != nil {
			a.f.addf(TypeValidatorUpdates, High, h, "block %d's recorded validator update cannot be read: %v", h, err)
			return
		}
		want = append(want, update{hex.EncodeToString(v[0].PubKey.Bytes()), v[0].VotingPower})
	}
	order := func(x, y update) int {
		if c := strings.Compare(x.Key, y.Key); c != 0 {
			return c
		}
		return cmp.Compare(x.Power, y.Power)
	}
	slices.SortFunc(got, order)
	slices.SortFunc(want, order)
	if !slices.Equal(got, want) {
		a.f.addf(TypeValidatorUpdates, High, h, "block %d: the node recorded %d validator updates %v, the replay produces %d %v", h, len(want), want, len(got), got)
	}
}

// byTypeTotal counts the findings so far, listed or not.
func (fs *findings) byTypeTotal() int {
	n := 0
	for _, c := range fs.byType {
		n += c
	}
	return n
}
