package e2e

import (
	"testing"
	"time"
)

// refusedMsg is what the app logs when CometBFT's peer filter asks about a
// node id that is not on the ledger's node allowlist.
const refusedMsg = "peer refused: not on the node allowlist"

// TestPeerFilterAdmitsOnlyAllowlistedNodes runs a validator and two full
// nodes, all with filter_peers = true and the validator as persistent peer.
// The genesis allowlist holds the validator and one full node: that node
// connects and syncs; the other is refused by the validator's filter and
// never gets a block.
func TestPeerFilterAdmitsOnlyAllowlistedNodes(t *testing.T) {
	validator := newNetNode(t, "validator")
	listed := newNetNode(t, "listed")
	unlisted := newNetNode(t, "unlisted")
	appState := allowlistAppState(t, validator.id, listed.id)

	initNode(t, validator, nodeSetup{appState: appState, filterPeers: true})
	genesis := validator.genesisFile(t)
	for _, n := range []*netNode{listed, unlisted} {
		initNode(t, n, nodeSetup{appState: appState, genesis: genesis, persistentPeers: validator.peerAddr(), filterPeers: true})
	}

	startNetNode(t, validator)
	waitFor(t, 20*time.Second, "the validator's second block", func() bool { return validator.height() >= 2 })

	// The listed node is admitted on both sides and syncs the chain.
	startNetNode(t, listed)
	waitFor(t, 15*time.Second, "the listed node and the validator to be peers", func() bool {
		return validator.hasPeer(listed.id) && listed.hasPeer(validator.id)
	})
	target := validator.height()
	waitFor(t, 15*time.Second, "the listed node to sync to the validator's height", func() bool {
		return listed.height() >= target
	})

	// The unlisted node reaches the validator (the handshake authenticates
	// its id) and the validator's filter refuses it.
	startNetNode(t, unlisted)
	waitFor(t, 15*time.Second, "the validator to refuse the unlisted node", func() bool {
		return validator.logged(refusedMsg, "node_id", unlisted.id)
	})
	if validator.logged(refusedMsg, "node_id", listed.id) {
		t.Errorf("the validator refused the listed node %s", listed.id)
	}

	// For the next seconds the unlisted node stays out while the chain goes
	// on. Its own side briefly counts the validator as a peer on each dial,
	// until the validator closes the refused connection; so it may list the
	// validator, but never on a connection that lives.
	const window, maxRefusedAge = 4 * time.Second, time.Second
	from := validator.height()
	answered := 0
	for deadline := time.Now().Add(window); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if vp, ok := validator.peers(); ok {
			for _, p := range vp {
				if p.id == unlisted.id {
					t.Fatalf("the validator's peers include the unlisted node %s", unlisted.id)
				}
			}
		}
		if up, ok := unlisted.peers(); ok {
			answered++
			for _, p := range up {
				if p.age > maxRefusedAge {
					t.Fatalf("the unlisted node holds a connection to %s for %s, want none older than %s", p.id, p.age, maxRefusedAge)
				}
			}
		}
		if h := unlisted.height(); h > 0 {
			t.Fatalf("the unlisted node's height: got %d, want 0 (it must not sync)", h)
		}
	}
	if answered == 0 {
		t.Fatal("the unlisted node's RPC never answered")
	}
	if to := validator.height(); to <= from {
		t.Errorf("the validator's height: got %d, want above %d (the chain must go on)", to, from)
	}
	if !listed.hasPeer(validator.id) {
		t.Errorf("the listed node lost its peer, the validator %s", validator.id)
	}
}
