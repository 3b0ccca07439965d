package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/certs/keyring"
	"github.com/consort-ledger/consort/certs/vault"
	"github.com/consort-ledger/consort/client"
	"github.com/consort-ledger/consort/internal/ports"
	"github.com/consort-ledger/consort/internal/vaulttest"
)

// TestVaultValidatorsRotateKeys runs four validator processes on loopback:
// node0 signs in-process with a Vault transit key, node1 through a
// `consort signer` process dialing its priv_validator_laddr, nodes 2 and 3
// with file keys. While transfers flow, `consort validator rotate-key`
// rotates node0's key and then node1's. Each rotated validator must sign
// every block around the switch (old key through H+1, new key from H+2),
// the chain must not stall, every transfer must commit, and the old key
// version must no longer be able to sign.
func TestVaultValidatorsRotateKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Vault dev server, four nodes and a remote signer")
	}
	v := vaulttest.Start(t)
	v.EnsureMounts(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	vc, err := vault.New(ctx, vault.Config{Address: v.Addr(), Token: v.Token()}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36) // unique keys on a shared real Vault
	keyNames := []string{"e2e-val0-" + suffix, "e2e-val1-" + suffix}
	for _, k := range keyNames {
		if err := vc.Transit(k).Create(ctx, keyring.Ed25519); err != nil {
			t.Fatal(err)
		}
	}
	pubV1 := func(k string) crypto.PubKey {
		p, err := vc.Transit(k).PubKey(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	bin := goBuild(t, t.TempDir(), "github.com/consort-ledger/consort/cmd/consort", "consort")
	dir := t.TempDir()
	base := ports.TestnetLayout(t, 4)
	run := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("consort %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run(nil, "testnet", "--validators", "4", "--output", dir, "--base-port", strconv.Itoa(base),
		"--timeout-commit", "300ms", "--asset", "USD:2", "--fund", "admin0=USD:100000.00")
	home := func(i int) string { return filepath.Join(dir, fmt.Sprintf("node%d", i)) }

	// node0 and node1 become Vault validators: their genesis keys are the
	// transit keys' version 1, in every node's genesis.
	for i := range 4 {
		setGenesisValidatorKey(t, home(i), "node0", pubV1(keyNames[0]))
		setGenesisValidatorKey(t, home(i), "node1", pubV1(keyNames[1]))
	}
	writeFile(t, filepath.Join(home(0), "config", "consort.toml"),
		fmt.Sprintf("[signer]\nbackend = \"vault\"\nkey = %q\n\n[vault]\naddress = %q\n", keyNames[0], v.Addr()))
	signerPort := freePort(t)
	setConfigValue(t, home(1), "priv_validator_laddr", fmt.Sprintf("tcp://127.0.0.1:%d", signerPort))

	env := v.Env()
	for i := range 4 {
		startProcessWith(t, filepath.Join(dir, fmt.Sprintf("node%d.log", i)), env, bin, "start", "--home", home(i))
	}
	signerHome := filepath.Join(dir, "signer1")
	for _, d := range []string{"config", "data"} {
		if err := os.MkdirAll(filepath.Join(signerHome, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, filepath.Join(home(1), "config", "genesis.json"), filepath.Join(signerHome, "config", "genesis.json"))
	writeFile(t, filepath.Join(signerHome, "config", "consort.toml"), fmt.Sprintf("[vault]\naddress = %q\n", v.Addr()))
	startProcessWith(t, filepath.Join(dir, "signer1.log"), env, bin, "signer", "--home", signerHome, "--key", keyNames[1],
		"--addr", fmt.Sprintf("tcp://127.0.0.1:%d", signerPort), "--node", fmt.Sprintf("http://127.0.0.1:%d", base+100+1))

	nodes := make([]*client.Client, 4)
	for i := range nodes {
		c, err := client.New(client.Config{Node: fmt.Sprintf("http://127.0.0.1:%d", base+100*i+1), CommitTimeout: 30 * time.Second, PollInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = c
	}
	waitFor(t, 90*time.Second, "all four nodes past height 3", func() bool {
		for _, c := range nodes {
			if latestHeight(ctx, c) < 3 {
				return false
			}
		}
		return true
	})

	// Transfers flow from node0's admin for the whole test.
	load := startTransferLoad(t, ctx, nodes[0], home(0))

	rotate := func(i int) (oldAddr, newAddr []byte, h int64) {
		t.Helper()
		before := pubV1(keyNames[i])
		out := run(env, "validator", "rotate-key", "--home", home(i), "--key", keyNames[i], "--node", fmt.Sprintf("http://127.0.0.1:%d", base+100*i+1), "--output", "json")
		var res struct {
			Version      int   `json:"version"`
			Height       int64 `json:"height"`
			SwitchHeight int64 `json:"switch_height"`
		}
		if err := json.Unmarshal([]byte(out[strings.LastIndex(out, "{"):]), &res); err != nil {
			t.Fatalf("rotate-key output: %v\n%s", err, out)
		}
		if res.Version != 2 || res.SwitchHeight != res.Height+2 {
			t.Fatalf("rotate-key node%d: %+v\n%s", i, res, out)
		}
		after, err := vc.Transit(keyNames[i]).PubKey(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("node%d rotated at height %d:\n%s", i, res.Height, out)
		return before.Address(), after.Address(), res.Height
	}
	type rotation struct {
		old, new []byte
		h        int64
	}
	var rotations []rotation
	for i := range 2 {
		o, n, h := rotate(i)
		rotations = append(rotations, rotation{o, n, h})
	}
	last := rotations[len(rotations)-1].h + 6
	waitFor(t, 60*time.Second, fmt.Sprintf("height %d", last+1), func() bool { return latestHeight(ctx, nodes[2]) > last })
	load.stop(t)

	// Every rotated validator signed the blocks from two before its
	// rotation to four after its switch with the key of that height, and
	// never with the other one. A block's commit holds only the precommits
	// its proposer had in time (3 of 4 are enough), so on a busy machine a
	// late one can be missing: one missing signature per validator is
	// tolerated, a signature by the wrong key never.
	for i, r := range rotations {
		var missing []int64
		for h := r.h - 2; h <= r.h+6; h++ {
			want, other, which := r.old, r.new, "old"
			if h >= r.h+2 {
				want, other, which = r.new, r.old, "new"
			}
			if signedCommit(t, ctx, nodes[2], h, other) {
				t.Errorf("node%d (rotated at %d): the commit of block %d holds a signature by the key it should not use there (want its %s key)", i, r.h, h, which)
			}
			if !signedCommit(t, ctx, nodes[2], h, want) {
				missing = append(missing, h)
			}
		}
		if len(missing) > 1 {
			t.Errorf("node%d (rotated at %d): no signature by the key of that height in the commits of blocks %v", i, r.h, missing)
		} else if len(missing) == 1 {
			t.Logf("node%d (rotated at %d): its precommit for block %d is not in the commit (late; tolerated once)", i, r.h, missing[0])
		}
		// The old version can no longer sign.
		if _, err := vc.Transit(keyNames[i]).Sign(ctx, 1, []byte("after rotation")); err == nil {
			t.Errorf("node%d: Vault still signs with version 1 after the rotation", i)
		}
	}
	// No block was skipped or stalled: heights are consecutive by
	// construction, so check the chain kept committing and every node agrees.
	hashes := map[string]bool{}
	for _, c := range nodes {
		h := last
		blk, err := c.RPC().Block(ctx, &h)
		if err != nil {
			t.Fatal(err)
		}
		hashes[fmt.Sprintf("%X", blk.Block.AppHash)] = true
	}
	if len(hashes) != 1 {
		t.Errorf("nodes disagree on the app hash at height %d: %v", last, hashes)
	}
	t.Logf("%d transfers committed during the rotations", load.committed)
	if load.committed < 5 {
		t.Errorf("only %d transfers committed while rotating", load.committed)
	}
}

// signedCommit reports whether the canonical commit of block h holds a
// commit signature by addr.
func signedCommit(t *testing.T, ctx context.Context, c *client.Client, h int64, addr []byte) bool {
	t.Helper()
	res, err := c.RPC().Commit(ctx, &h)
	if err != nil {
		t.Fatalf("commit %d: %v", h, err)
	}
	for _, s := range res.Commit.Signatures {
		if s.BlockIDFlag == cmttypes.BlockIDFlagCommit && bytes.Equal(s.ValidatorAddress, addr) {
			return true
		}
	}
	return false
}

// transferLoad sends one transfer after another from admin0 until stopped.
type transferLoad struct {
	cancel    context.CancelFunc
	done      chan struct{}
	mu        sync.Mutex
	committed int
	failures  []string
}

func startTransferLoad(t *testing.T, ctx context.Context, c *client.Client, home string) *transferLoad {
	t.Helper()
	kr, err := keyring.Open(filepath.Join(home, "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := kr.Signer("admin0")
	if err != nil {
		t.Fatal(err)
	}
	chainID, err := c.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &transferLoad{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for i := 0; ctx.Err() == nil; i++ {
			to := fmt.Sprintf("admin%d", 1+i%3)
			body, err := c.BuildTransfer(ctx, chainID, client.TransferRequest{From: "admin0", To: to, Asset: "USD", Amount: 1})
			if err == nil {
				var tx *app.Tx
				if tx, err = client.Sign(ctx, body, signer{ks}); err == nil {
					var res *client.Result
					res, err = c.Broadcast(ctx, tx.Encode(), true)
					if err == nil && res.Code != 0 {
						err = fmt.Errorf("code %d: %s", res.Code, res.Log)
					}
				}
			}
			l.mu.Lock()
			if err == nil {
				l.committed++
			} else if ctx.Err() == nil {
				l.failures = append(l.failures, err.Error())
			}
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *transferLoad) stop(t *testing.T) {
	t.Helper()
	l.cancel()
	<-l.done
	if len(l.failures) > 0 {
		t.Errorf("%d transfers failed, first: %s", len(l.failures), l.failures[0])
	}
}

// setGenesisValidatorKey replaces the key of validator name in home's
// genesis: in CometBFT's validator list and in the ledger's app state.
func setGenesisValidatorKey(t *testing.T, home, name string, pub crypto.PubKey) {
	t.Helper()
	path := filepath.Join(home, "config", "genesis.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(pub.Bytes())
	found := 0
	for _, v := range doc["validators"].([]any) {
		m := v.(map[string]any)
		if m["name"] == name {
			m["address"] = pub.Address().String()
			m["pub_key"].(map[string]any)["value"] = b64
			found++
		}
	}
	appState := doc["app_state"].(map[string]any)
	for _, v := range appState["validators"].([]any) {
		m := v.(map[string]any)
		if m["name"] == name {
			m["public_key"] = b64
			found++
		}
	}
	if found != 2 {
		t.Fatalf("%s: validator %s found %d times in genesis, want 2", path, name, found)
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(out))
}

// setConfigValue sets a top-level key of home's CometBFT config.toml.
func setConfigValue(t *testing.T, home, key, value string) {
	t.Helper()
	path := filepath.Join(home, "config", "config.toml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, key+" = ") {
			lines[i] = fmt.Sprintf("%s = %q", key, value)
			writeFile(t, path, strings.Join(lines, "\n"))
			return
		}
	}
	t.Fatalf("%s has no %s", path, key)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(b))
}
