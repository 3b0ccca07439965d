package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/certs/keyring"
	"github.com/consort-ledger/consort/certs/vault"
	"github.com/consort-ledger/consort/consensus"
	"github.com/consort-ledger/consort/internal/vaulttest"
)

// vaultFor connects to the test Vault and makes the consort processes the
// test starts use it (VAULT_ADDR and VAULT_TOKEN in their environment).
func vaultFor(t *testing.T, srv *vaulttest.Server) *vault.Client {
	t.Helper()
	t.Setenv("VAULT_ADDR", srv.Addr())
	t.Setenv("VAULT_TOKEN", srv.Token())
	c, err := vault.New(t.Context(), vault.Config{Address: srv.Addr(), Token: srv.Token()}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// onlyValidatorIs fails unless the node's validator set is pub alone.
func onlyValidatorIs(t *testing.T, rpc *rpchttp.HTTP, pub crypto.PubKey) {
	t.Helper()
	vals, err := rpc.Validators(t.Context(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(vals.Validators) != 1 || !vals.Validators[0].PubKey.Equals(pub) {
		t.Fatalf("validators %v, want the Vault key's version 1 (%X) alone", vals.Validators, pub.Bytes())
	}
}

// stalls waits until the chain has made no block for a while and returns
// its height.
func stalls(t *testing.T, rpc *rpchttp.HTTP, quiet time.Duration) int64 {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	last, since := latestHeight(t, rpc), time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		if h := latestHeight(t, rpc); h != last {
			last, since = h, time.Now()
		} else if time.Since(since) >= quiet {
			return last
		}
	}
	t.Fatalf("the chain did not stop (height %d)", last)
	return 0
}

// signPosition is the position part of a sign state or watermark record.
type signPosition struct {
	Height    int64  `json:"height"`
	Round     int32  `json:"round"`
	Step      int8   `json:"step"`
	SignBytes []byte `json:"sign_bytes"`
}

func (p signPosition) before(q signPosition) bool {
	if p.Height != q.Height {
		return p.Height < q.Height
	}
	if p.Round != q.Round {
		return p.Round < q.Round
	}
	return p.Step < q.Step
}

// stateWithinWatermark checks a signer's local state against the shared
// watermark in Vault KV: never past it, and at the same position the same
// bytes (so nothing was signed twice differently).
func stateWithinWatermark(t *testing.T, vc *vault.Client, home, key string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(home, "data", signerStateFileName))
	if err != nil {
		t.Fatal(err)
	}
	var local signPosition
	if err := json.Unmarshal(b, &local); err != nil {
		t.Fatal(err)
	}
	raw, _, err := vc.KV(validatorKVMount).Read(t.Context(), consensus.StorePath(key)+"/watermark")
	if err != nil {
		t.Fatal(err)
	}
	var shared signPosition
	if err := json.Unmarshal(raw, &shared); err != nil {
		t.Fatalf("watermark %q: %v", raw, err)
	}
	switch {
	case local.Height == 0:
		t.Fatal("the local sign state records nothing signed")
	case shared.before(local):
		t.Errorf("local sign state at %d/%d/%d is past the shared watermark at %d/%d/%d",
			local.Height, local.Round, local.Step, shared.Height, shared.Round, shared.Step)
	case !local.before(shared) && !bytes.Equal(local.SignBytes, shared.SignBytes):
		t.Errorf("local sign state and shared watermark disagree at height %d", local.Height)
	}
}

// startDevVaultNode starts a Vault dev server and `consort start --dev
// --signer vault` against it, and waits for height 3.
func startDevVaultNode(t *testing.T) (srv *vaulttest.Server, vc *vault.Client, bin, home string, rpc *rpchttp.HTTP) {
	t.Helper()
	srv = vaulttest.Start(t)
	vc = vaultFor(t, srv)
	bin = buildConsort(t)
	dir := t.TempDir()
	home = filepath.Join(dir, "home")
	ports := newNodePorts(t)
	args := append([]string{"start", "--dev", "--signer", "vault", "--home", home, "--timeout-commit", "200ms"}, ports.listenFlags()...)
	startNode(t, bin, dir, "node", args...)
	rpc = newRPC(t, ports.rpcURL())
	waitHeight(t, rpc, 3, 60*time.Second)
	return srv, vc, bin, home, rpc
}

// TestStartDevVaultSigner: `start --dev --signer vault` creates the transit
// key consort-dev-validator, makes its version 1 the chain's validator and
// commits blocks signing through Vault. Vault going away stops the chain
// without a double sign; Vault coming back restarts it by itself.
func TestStartDevVaultSigner(t *testing.T) {
	srv, vc, bin, home, rpc := startDevVaultNode(t)

	key := vc.Transit(devValidatorKey)
	pub, err := key.PubKey(t.Context(), 1)
	if err != nil {
		t.Fatalf("the dev validator key was not created in Vault: %v", err)
	}
	onlyValidatorIs(t, rpc, pub)
	out, stderr, err := runCLI(t, bin, "query", "validators", "--home", home, "--output", "json")
	if err != nil {
		t.Fatalf("query validators: %v\n%s", err, stderr)
	}
	if want := base64.StdEncoding.EncodeToString(pub.Bytes()); !bytes.Contains([]byte(out), []byte(want)) {
		t.Errorf("query validators does not show the Vault key %s:\n%s", want, out)
	}

	srv.Stop()
	stalled := stalls(t, rpc, 3*time.Second)
	t.Logf("Vault stopped: chain stalled at height %d", stalled)
	srv.Restart()
	waitHeight(t, rpc, stalled+3, 60*time.Second)
	stateWithinWatermark(t, vc, home, devValidatorKey)
}

// TestRemoteSignerProcess: a node with priv_validator_laddr set commits
// blocks signed by a `consort signer` process holding its key in Vault.
// When that signer dies, a standby signer (its own home, the same key and
// shared watermark) takes over and the chain goes on.
func TestRemoteSignerProcess(t *testing.T) {
	srv := vaulttest.Start(t)
	vc := vaultFor(t, srv)
	const keyName, chainID = "remote-validator", "remote-test"
	key := vc.Transit(keyName)
	if err := key.Create(t.Context(), keyring.Ed25519); err != nil {
		t.Fatal(err)
	}
	pub, err := key.PubKey(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	bin := buildConsort(t)
	dir := t.TempDir()
	home := filepath.Join(dir, "node")
	ports := newNodePorts(t)
	o := devOptions()
	o.chainID, o.validatorKey, o.timeoutCommit = chainID, pub, 200*time.Millisecond
	o.rpcListen = fmt.Sprintf("tcp://127.0.0.1:%d", ports.rpc)
	o.p2pListen = fmt.Sprintf("tcp://127.0.0.1:%d", ports.p2p)
	o.metricsListen = fmt.Sprintf("127.0.0.1:%d", ports.metrics)
	if _, err := initHome(home, o); err != nil {
		t.Fatal(err)
	}
	laddr := fmt.Sprintf("tcp://127.0.0.1:%d", freePorts(t, 1)[0])
	setPrivValidatorLaddr(t, home, laddr)

	signer := func(label string) *nodeProcess {
		return startNode(t, bin, dir, label, "signer", "--home", filepath.Join(dir, label), "--key", keyName,
			"--addr", laddr, "--chain-id", chainID, "--node", ports.rpcURL())
	}
	active := signer("signer-a")
	startNode(t, bin, dir, "node", "start", "--home", home)
	rpc := newRPC(t, ports.rpcURL())
	waitHeight(t, rpc, 3, 60*time.Second)
	onlyValidatorIs(t, rpc, pub)

	active.kill(t)
	stalled := stalls(t, rpc, 2*time.Second)
	signer("signer-b")
	waitHeight(t, rpc, stalled+3, 60*time.Second)
	stateWithinWatermark(t, vc, filepath.Join(dir, "signer-b"), keyName)
}

// setPrivValidatorLaddr makes the node in home wait for a remote signer.
func setPrivValidatorLaddr(t *testing.T, home, laddr string) {
	t.Helper()
	file := filepath.Join(home, "config", "config.toml")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^priv_validator_laddr = ".*"$`)
	if !re.Match(b) {
		t.Fatalf("%s has no priv_validator_laddr line", file)
	}
	b = re.ReplaceAll(b, []byte(`priv_validator_laddr = "`+laddr+`"`))
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestMainnetStartsWithVaultSigner: the mainnet profile refuses the file
// signer and plain-http Vault, and starts a node with the Vault signer
// over https (a TLS proxy in front of the test Vault, trusted through
// VAULT_CACERT).
func TestMainnetStartsWithVaultSigner(t *testing.T) {
	srv := vaulttest.Start(t)
	vc := vaultFor(t, srv)
	const keyName = "mainnet-validator"
	key := vc.Transit(keyName)
	if err := key.Create(t.Context(), keyring.Ed25519); err != nil {
		t.Fatal(err)
	}
	pub, err := key.PubKey(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
	t.Cleanup(proxy.Close)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "vault-ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw})
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}

	bin := buildConsort(t)
	home := filepath.Join(dir, "home")
	ports := newNodePorts(t)
	o := devOptions()
	o.chainID, o.validatorKey, o.timeoutCommit = "mainnet-test", pub, 200*time.Millisecond
	o.rpcListen = fmt.Sprintf("tcp://127.0.0.1:%d", ports.rpc)
	o.p2pListen = fmt.Sprintf("tcp://127.0.0.1:%d", ports.p2p)
	o.metricsListen = fmt.Sprintf("127.0.0.1:%d", ports.metrics)
	if _, err := initHome(home, o); err != nil {
		t.Fatal(err)
	}

	if _, stderr, err := runCLI(t, bin, "start", "--home", home, "--profile", "mainnet"); err == nil || !strings.Contains(stderr, `signer.backend "file" is not allowed on mainnet`) {
		t.Fatalf("mainnet with the file signer: got %v\n%s\nwant a refusal", err, stderr)
	}
	t.Setenv("CONSORT_SIGNER_KEY", keyName)
	if _, stderr, err := runCLI(t, bin, "start", "--home", home, "--profile", "mainnet", "--signer", "vault"); err == nil || !strings.Contains(stderr, "want https on mainnet") {
		t.Fatalf("mainnet with http Vault: got %v\n%s\nwant a refusal", err, stderr)
	}
	t.Setenv("VAULT_ADDR", proxy.URL)
	t.Setenv("VAULT_CACERT", caFile)
	// Outside --dev a missing key is never created.
	t.Setenv("CONSORT_SIGNER_KEY", "no-such-key")
	if _, stderr, err := runCLI(t, bin, "start", "--home", home, "--profile", "mainnet", "--signer", "vault"); err == nil ||
		!strings.Contains(stderr, "transit/keys/no-such-key does not exist in Vault at "+proxy.URL+" (vault.address / VAULT_ADDR)") {
		t.Fatalf("missing key: got %v\n%s\nwant an error naming the key and the Vault address", err, stderr)
	}
	if ok, err := vc.Transit("no-such-key").Exists(t.Context()); err != nil || ok {
		t.Fatalf("start created the missing key outside --dev (exists %v, %v)", ok, err)
	}
	t.Setenv("CONSORT_SIGNER_KEY", keyName)
	startNode(t, bin, dir, "node", "start", "--home", home, "--profile", "mainnet", "--signer", "vault")
	rpc := newRPC(t, ports.rpcURL())
	waitHeight(t, rpc, 3, 60*time.Second)
	onlyValidatorIs(t, rpc, pub)
	if m := httpGetText(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", ports.metrics)); !strings.Contains(m, "consort_signer_last_signed_height") {
		t.Error("the node's metrics lack consort_signer_last_signed_height")
	}
}

func httpGetText(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
