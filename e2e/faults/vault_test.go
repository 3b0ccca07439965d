package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cometbft/cometbft/crypto"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/certs/keyring"
	"github.com/consort-ledger/consort/certs/vault"
	"github.com/consort-ledger/consort/consensus"
	"github.com/consort-ledger/consort/internal/vaulttest"
)

// The Vault validator of the fault network.
const (
	// vaultNode signs through Vault. Not node3: its key is copied to the
	// Byzantine twin, which needs a file key.
	vaultNode = 1
	// vaultKeyName is its transit key.
	vaultKeyName = "faults-node1"
	// vaultKVMount is the KV v2 mount where `consort start` keeps the
	// signers' shared watermark (secret/, as in cmd/consort).
	vaultKVMount = "secret"
	// vaultSignStateFile is the signer's local sign state in HOME/data.
	vaultSignStateFile = "consort_signer_state.json"
	// vaultDownFor is the least time the vault-outage nemesis keeps Vault
	// down, beyond the blocks it waits for.
	vaultDownFor = 3 * time.Second
	// vaultResignTimeout bounds how long after Vault's restart the Vault
	// validator may take to sign a commit again by itself.
	vaultResignTimeout = 60 * time.Second
)

// vaultSigner is the vaultdev server one validator of the network signs
// through, and that validator's key in it.
type vaultSigner struct {
	srv    *vaulttest.Server
	client *vault.Client
	pub    crypto.PubKey // the transit key's version 1: the validator's key in genesis
	node   int
}

// startVault starts a vaultdev server the Vault validator's namespace can
// reach (the bridge's address, or loopback without namespaces) and creates
// the validator's transit key in it.
func (c *cluster) startVault() *vaultSigner {
	t := c.t
	listen := "127.0.0.1:0"
	if c.lab != nil {
		// A node's namespace has its own loopback; the bridge's address is
		// the test's side of every veth pair.
		listen = c.lab.hostAddr() + ":0"
	}
	srv := vaulttest.StartDev(t, listen)
	srv.EnsureMounts(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vc, err := vault.New(ctx, vault.Config{Address: srv.Addr(), Token: srv.Token()}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vc.Close)
	key := vc.Transit(vaultKeyName)
	if err := key.Create(ctx, keyring.Ed25519); err != nil {
		t.Fatal(err)
	}
	pub, err := key.PubKey(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("signer: node%d signs with the Vault transit key %s at %s", vaultNode, vaultKeyName, srv.Addr())
	return &vaultSigner{srv: srv, client: vc, pub: pub, node: vaultNode}
}

// configureNode makes home sign with the transit key: [signer] and [vault]
// in its consort.toml; the token goes in the process environment only.
func (v *vaultSigner) configureNode(p *proc) {
	conf := fmt.Sprintf("[signer]\nbackend = \"vault\"\nkey = %q\n\n[vault]\naddress = %q\n", vaultKeyName, v.srv.Addr())
	if err := os.WriteFile(filepath.Join(p.home, "config", "consort.toml"), []byte(conf), 0o600); err != nil {
		p.c.t.Fatal(err)
	}
	// VAULT_ADDR too, or one in the test's own environment would win.
	p.secretEnv = v.srv.Env()
}

// address is the Vault validator's address.
func (v *vaultSigner) address() cmttypes.Address { return v.pub.Address() }

// nemesisVaultOutage stops the Vault validator's Vault server (SIGTERM or
// SIGKILL) while the workload runs: the other three must keep finalising
// while that validator signs nothing. After Vault's restart the validator
// must sign again by itself, and its local sign state must agree with the
// shared watermark.
func nemesisVaultOutage(n *nemesisRun) error {
	v := n.c.vault
	p := n.c.nodes[v.node]
	rest := n.c.others(v.node)
	how := "SIGTERM"
	if n.rng.IntN(2) == 0 {
		v.srv.Kill()
		how = "SIGKILL"
	} else {
		v.srv.Stop()
	}
	down := time.Now()
	h0 := maxHeight(n.c.nodes)
	n.log("vault down", "%s of %s's Vault at height %d", how, p.name, h0)
	err := n.waitProgress(rest, 4)
	if left := vaultDownFor - time.Since(down); left > 0 {
		time.Sleep(left)
	}
	h1 := maxHeight(rest)
	v.srv.Restart()
	up := time.Now()
	n.log("vault up", "restarted after %s; the other three at %d", up.Sub(down).Round(100*time.Millisecond), h1)
	if err != nil {
		return fmt.Errorf("with %s's Vault down: %w", p.name, err)
	}
	ref := rest[0]
	// The fault was real: every signature of the commits of h0+2 … h1-1
	// was made while Vault was down (h0+1 may have been signed before, h1's
	// commit could be completed later).
	if h1-1 < h0+2 {
		return fmt.Errorf("the chain moved only from %d to %d while %s's Vault was down", h0, h1, p.name)
	}
	for h := h0 + 2; h <= h1-1; h++ {
		signed, err := signedCommit(ref, h, v.address())
		if err != nil {
			return err
		}
		if signed {
			return fmt.Errorf("%s signed the commit of block %d while its Vault was down (heights %d-%d): the outage was not real", p.name, h, h0, h1)
		}
	}
	// It signs again by itself.
	from := h1 + 1
	deadline := up.Add(vaultResignTimeout)
	for {
		top := maxHeight([]*proc{ref}) - 1 // canonical commits only
		for ; from <= top; from++ {
			signed, err := signedCommit(ref, from, v.address())
			if err != nil {
				return err
			}
			if signed {
				n.log("signing again", "%s's signature is in the commit of block %d, %s after Vault restarted; none in %d-%d", p.name, from, time.Since(up).Round(100*time.Millisecond), h0+2, h1-1)
				return v.checkSignState(p)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s signed no commit of blocks %d-%d within %s of its Vault's restart", p.name, h1+1, top, vaultResignTimeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// signedCommit reports whether the canonical commit of block h, as ref
// has it, holds a commit signature by addr.
func signedCommit(ref *proc, h int64, addr cmttypes.Address) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := ref.client.RPC().Commit(ctx, &h)
	if err != nil {
		return false, fmt.Errorf("%s: commit of block %d: %w", ref.name, h, err)
	}
	for _, s := range res.Commit.Signatures {
		if s.BlockIDFlag == cmttypes.BlockIDFlagCommit && bytes.Equal(s.ValidatorAddress, addr) {
			return true, nil
		}
	}
	return false, nil
}

// signPosition is the part of the signer's local state and of the shared
// watermark that says what was signed where.
type signPosition struct {
	Height    int64  `json:"height"`
	Round     int32  `json:"round"`
	Step      int8   `json:"step"`
	SignBytes []byte `json:"sign_bytes"`
}

func (a signPosition) before(b signPosition) bool {
	if a.Height != b.Height {
		return a.Height < b.Height
	}
	if a.Round != b.Round {
		return a.Round < b.Round
	}
	return a.Step < b.Step
}

func (a signPosition) String() string {
	return fmt.Sprintf("%d/%d/%d", a.Height, a.Round, a.Step)
}

// checkSignState compares the Vault validator's local sign state with the
// shared watermark in Vault: every signature is claimed in the watermark
// before the local state records it, so the local state can never be past
// the watermark, and at the same height, round and step both must hold the
// same bytes (two different ones would be two signatures for one
// position). The local state is read first: the watermark only moves up,
// so this holds with the node running too.
func (v *vaultSigner) checkSignState(p *proc) error {
	b, err := os.ReadFile(filepath.Join(p.home, "data", vaultSignStateFile))
	if err != nil {
		return fmt.Errorf("%s's sign state: %w", p.name, err)
	}
	var local signPosition
	if err := json.Unmarshal(b, &local); err != nil {
		return fmt.Errorf("%s's sign state: %w", p.name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	raw, _, err := v.client.KV(vaultKVMount).Read(ctx, consensus.StorePath(vaultKeyName)+"/watermark")
	if err != nil {
		return fmt.Errorf("%s's shared watermark: %w", p.name, err)
	}
	var shared signPosition
	if err := json.Unmarshal(raw, &shared); err != nil {
		return fmt.Errorf("%s's shared watermark %q: %w", p.name, raw, err)
	}
	switch {
	case local.Height == 0:
		return fmt.Errorf("%s's sign state records nothing signed", p.name)
	case shared.before(local):
		return fmt.Errorf("%s's sign state at %s is past the shared watermark at %s", p.name, local, shared)
	case !local.before(shared) && !bytes.Equal(local.SignBytes, shared.SignBytes):
		return fmt.Errorf("%s's sign state and the shared watermark hold different sign bytes at %s", p.name, local)
	}
	p.c.timeline.add("vault", "sign state", "%s: local sign state at %s, shared watermark at %s: no conflict", p.name, local, shared)
	return nil
}
