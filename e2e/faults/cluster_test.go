package faults

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/client"
	"github.com/consort-ledger/consort/consensus"
	"github.com/consort-ledger/consort/internal/ports"
)

// Shape of the fault-injection network.
const (
	faultValidators = 4
	faultAccounts   = 24      // workload accounts user00 … user23
	faultCoins      = 8       // genesis coins per workload account
	faultCoinUnits  = 100_000 // 1000.00 USD each
	faultChainID    = "consort-testnet"
	faultTwin       = faultValidators // index of the Byzantine twin's namespace / ports
)

// cluster is four real `consort start` processes from `consort testnet`,
// each in its own network namespace when the machine allows it (else all on
// loopback), with the workload accounts added to the shared genesis.
type cluster struct {
	t        *testing.T
	bin, dir string
	lab      *netLab // nil: loopback, no partitions
	basePort int     // loopback only
	nodes    []*proc
	twin     *proc // the Byzantine twin of node3, once made
	vault    *vaultSigner
	// valAddrs are the validators' addresses (hex) by name, from genesis.
	valAddrs map[string]string
	accounts []workAccount
	supply   uint64 // USD in genesis, all of it in workload accounts
	timeline *timeline

	mu      sync.Mutex
	highest int64 // the highest height any node reported
}

// workAccount is a workload account and its key.
type workAccount struct {
	name string
	key  ed25519.PrivateKey
}

func (a workAccount) PublicKey() (app.KeyType, []byte) {
	return app.KeyEd25519, append([]byte(nil), a.key.Public().(ed25519.PublicKey)...)
}

func (a workAccount) Sign(_ context.Context, msg []byte) ([]byte, error) {
	return ed25519.Sign(a.key, msg), nil
}

// proc is one node process, restartable.
type proc struct {
	c      *cluster
	idx    int
	name   string
	home   string
	rpcURL string
	log    string
	client *client.Client
	// quick waits 6s for a block: for conflicting pairs, whose loser is
	// never committed and would hold a worker for the full wait.
	quick *client.Client
	flags []string // extra start flags (loopback ports of the twin)
	// secretEnv is added to every start's environment and never logged
	// (the Vault validator's VAULT_TOKEN).
	secretEnv []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	frozen bool
	starts int
}

// newCluster writes the network, starts it and waits for blocks.
func newCluster(t *testing.T, bin string, tl *timeline) *cluster {
	t.Helper()
	c := &cluster{t: t, bin: bin, dir: t.TempDir(), timeline: tl}
	lab, why := newNetLab(t, faultValidators+1)
	c.lab = lab
	args := []string{"testnet", "--validators", strconv.Itoa(faultValidators), "--output", c.dir,
		"--chain-id", faultChainID, "--asset", "USD:2", "--timeout-commit", "300ms"}
	if lab != nil {
		args = append(args, "--starting-ip", lab.addr(0))
		t.Logf("network: one namespace per node on bridge %s (%s0/24)", lab.bridge, lab.subnet)
	} else {
		c.basePort = ports.TestnetLayout(t, faultValidators+1)
		args = append(args, "--base-port", strconv.Itoa(c.basePort))
		t.Logf("network: loopback (partitions will be skipped: %s)", why)
	}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("consort testnet: %v\n%s", err, out)
	}
	twinID := c.prepareTwinHome()
	c.vault = c.startVault()
	c.addWorkloadGenesis(twinID)
	for i := range faultValidators {
		c.nodes = append(c.nodes, c.newProc(i, filepath.Join(c.dir, fmt.Sprintf("node%d", i))))
	}
	c.vault.configureNode(c.nodes[c.vault.node])
	for _, p := range c.nodes {
		p.start()
	}
	t.Cleanup(c.stopAll)
	c.waitHeights(c.nodes, 2, 90*time.Second)
	return c
}

func (c *cluster) newProc(i int, home string) *proc {
	p := &proc{c: c, idx: i, name: fmt.Sprintf("node%d", i), home: home, log: home + ".log"}
	if i == faultTwin {
		p.name = "twin3"
	}
	switch {
	case c.lab != nil:
		p.rpcURL = fmt.Sprintf("http://%s:26657", c.lab.addr(i))
	default:
		p.rpcURL = fmt.Sprintf("http://127.0.0.1:%d", c.basePort+100*i+1)
	}
	cl, err := client.New(client.Config{Node: p.rpcURL, CommitTimeout: 20 * time.Second})
	if err != nil {
		c.t.Fatal(err)
	}
	p.client = cl
	if p.quick, err = client.New(client.Config{Node: p.rpcURL, CommitTimeout: 6 * time.Second}); err != nil {
		c.t.Fatal(err)
	}
	return p
}

// addWorkloadGenesis adds the workload accounts, their coins and the twin's
// node id (so the peer filter admits it) to every home's genesis, and makes
// the Vault validator's key the transit key's version 1.
func (c *cluster) addWorkloadGenesis(twinID string) {
	t := c.t
	path := filepath.Join(c.dir, "node0", "config", "genesis.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var g app.Genesis
	if err := json.Unmarshal(doc["app_state"], &g); err != nil {
		t.Fatal(err)
	}
	for i := range faultAccounts {
		seed := make([]byte, ed25519.SeedSize)
		copy(seed, fmt.Sprintf("fault-account-%02d", i))
		a := workAccount{name: fmt.Sprintf("user%02d", i), key: ed25519.NewKeyFromSeed(seed)}
		c.accounts = append(c.accounts, a)
		_, pub := a.PublicKey()
		g.Accounts = append(g.Accounts, app.GenesisAccount{Name: a.name, Organization: fmt.Sprintf("org%d", i%faultValidators),
			Roles: []string{"member"}, Keys: []app.GenesisKey{{Type: "ed25519", PublicKey: base64.StdEncoding.EncodeToString(pub), Weight: 1}}})
		for range faultCoins {
			g.UTXOs = append(g.UTXOs, app.GenesisUTXO{Owner: a.name, Asset: "USD", Amount: strconv.Itoa(faultCoinUnits)})
			c.supply += faultCoinUnits
		}
	}
	g.Nodes = append(g.Nodes, twinID)
	c.setVaultValidatorKey(doc, &g)
	if doc["app_state"], err = json.Marshal(g); err != nil {
		t.Fatal(err)
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for i := range faultValidators + 1 {
		home := filepath.Join(c.dir, fmt.Sprintf("node%d", i))
		if i == faultTwin {
			home = c.twinHome()
		}
		if err := os.WriteFile(filepath.Join(home, "config", "genesis.json"), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// setVaultValidatorKey puts the Vault validator's key in CometBFT's
// validator list and the ledger's, and notes every validator's address.
func (c *cluster) setVaultValidatorKey(doc map[string]json.RawMessage, g *app.Genesis) {
	t := c.t
	name := fmt.Sprintf("node%d", c.vault.node)
	pub := base64.StdEncoding.EncodeToString(c.vault.pub.Bytes())
	var vals []map[string]any
	if err := json.Unmarshal(doc["validators"], &vals); err != nil {
		t.Fatal(err)
	}
	found := 0
	c.valAddrs = map[string]string{}
	for _, v := range vals {
		if v["name"] == name {
			v["address"] = c.vault.address().String()
			v["pub_key"].(map[string]any)["value"] = pub
			found++
		}
		n, _ := v["name"].(string)
		c.valAddrs[n], _ = v["address"].(string)
	}
	for i := range g.Validators {
		if g.Validators[i].Name == name {
			g.Validators[i].PublicKey = pub
			found++
		}
	}
	if found != 2 {
		t.Fatalf("genesis: validator %s found %d times, want twice (CometBFT's list and the ledger's)", name, found)
	}
	var err error
	if doc["validators"], err = json.Marshal(vals); err != nil {
		t.Fatal(err)
	}
}

func (c *cluster) twinHome() string { return filepath.Join(c.dir, "twin3") }

// prepareTwinHome makes a home for a second node holding node3's validator
// key (the Byzantine twin), with a node key of its own, and returns that
// node id. Its timeout_propose is 1ms: it prevotes nil before node3's
// proposals reach it while node3 prevotes them, so the two sign conflicting
// votes at one height and round, the double-sign CometBFT must turn into
// evidence.
func (c *cluster) prepareTwinHome() string {
	t := c.t
	src, dst := filepath.Join(c.dir, "node3"), c.twinHome()
	for _, d := range []string{"config", "data"} {
		if err := os.MkdirAll(filepath.Join(dst, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	conf, err := os.ReadFile(filepath.Join(src, "config", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	conf = regexp.MustCompile(`(?m)^timeout_propose = .*$`).ReplaceAll(conf, []byte(`timeout_propose = "1ms"`))
	conf = regexp.MustCompile(`(?m)^moniker = .*$`).ReplaceAll(conf, []byte(`moniker = "twin3"`))
	conf = regexp.MustCompile(`(?m)^external_address = .*$`).ReplaceAll(conf, []byte(`external_address = ""`))
	if err := os.WriteFile(filepath.Join(dst, "config", "config.toml"), conf, 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(src, "config", "priv_validator_key.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "config", "priv_validator_key.json"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	// A fresh sign state: the twin does not know what node3 signed.
	state := `{"height": "0", "round": 0, "step": 0}`
	if err := os.WriteFile(filepath.Join(dst, "data", "priv_validator_state.json"), []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := consensus.EnsureNodeKey(dst)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// startTwin starts the Byzantine twin of node3.
func (c *cluster) startTwin() *proc {
	p := c.newProc(faultTwin, c.twinHome())
	if c.lab == nil {
		base := c.basePort + 100*faultTwin
		p.flags = []string{"--p2p-laddr", fmt.Sprintf("tcp://127.0.0.1:%d", base), "--rpc-laddr", fmt.Sprintf("tcp://127.0.0.1:%d", base+1),
			"--metrics-laddr", fmt.Sprintf("127.0.0.1:%d", base+4)}
	}
	c.twin = p
	p.start()
	return p
}

// start runs `consort start` for this home, appending to its log, with env
// added to the test's environment.
func (p *proc) start(env ...string) {
	t := p.c.t
	p.mu.Lock()
	defer p.mu.Unlock()
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"start", "--home", p.home, "--log-level", "info"}, p.flags...)
	var cmd *exec.Cmd
	if p.c.lab != nil {
		cmd = p.c.lab.command(p.idx, p.c.bin, args...)
	} else {
		cmd = exec.Command(p.c.bin, args...)
	}
	cmd.Env = append(append(os.Environ(), p.secretEnv...), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	fmt.Fprintf(logf, "\n=== start %d at %s env %v\n", p.starts+1, time.Now().UTC().Format(time.RFC3339Nano), env)
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	p.cmd, p.done, p.frozen = cmd, done, false
	p.starts++
}

// running reports whether the process exists (frozen or not).
func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// live reports whether the process runs and is not frozen.
func (p *proc) live() bool {
	if !p.running() {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.frozen
}

// kill sends SIGKILL and waits until the process is gone.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		p.c.t.Fatalf("%s did not exit after SIGKILL", p.name)
	}
	p.mu.Lock()
	p.frozen = false
	p.mu.Unlock()
}

// logOfLastStart returns the lines of the node's log since its last start
// that contain any of words, at most max of them.
func (p *proc) logOfLastStart(max int, words ...string) []string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return nil
	}
	text := string(b)
	if i := strings.LastIndex(text, "\n=== start "); i >= 0 {
		text = text[i:]
	}
	var out []string
	for _, line := range strings.Split(text, "\n") {
		for _, w := range words {
			if strings.Contains(line, w) && len(out) < max {
				if len(line) > 300 {
					line = line[:300]
				}
				out = append(out, strings.TrimSpace(line))
				break
			}
		}
	}
	return out
}

// handshakeHeight is the app height CometBFT's handshake found at the
// node's last start (from its log), -1 if the log does not say.
func (p *proc) handshakeHeight() int64 {
	for _, line := range p.logOfLastStart(1, "ABCI Handshake App Info") {
		var rec struct {
			Height int64 `json:"height"`
		}
		if i := strings.IndexByte(line, '{'); i >= 0 && json.Unmarshal([]byte(line[i:]), &rec) == nil {
			return rec.Height
		}
	}
	return -1
}

// waitExit waits for the process to end by itself (a crash point).
func (p *proc) waitExit(timeout time.Duration) bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// freeze sends SIGSTOP, thaw SIGCONT.
func (p *proc) freeze() { p.signal(syscall.SIGSTOP, true) }
func (p *proc) thaw()   { p.signal(syscall.SIGCONT, false) }

func (p *proc) signal(sig syscall.Signal, frozen bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	if err := p.cmd.Process.Signal(sig); err == nil {
		p.frozen = frozen
	}
}

// height is the node's latest block height, or -1 if it does not answer
// within two seconds.
func (p *proc) height() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := p.client.Status(ctx)
	if err != nil {
		return -1
	}
	p.c.saw(st.Height)
	return st.Height
}

// saw notes a height some node reported.
func (c *cluster) saw(h int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.highest = max(c.highest, h)
}

// highestSeen is the highest height any node has reported so far.
func (c *cluster) highestSeen() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.highest
}

// stopAll ends every process: SIGCONT first so that a frozen one can die.
func (c *cluster) stopAll() {
	for _, p := range append(append([]*proc(nil), c.nodes...), c.twin) {
		if p != nil && p.running() {
			p.thaw()
			p.kill()
		}
	}
}

// waitHeights waits until each of ps reports at least min.
func (c *cluster) waitHeights(ps []*proc, min int64, timeout time.Duration) {
	c.t.Helper()
	if err := c.awaitHeights(ps, min, timeout); err != nil {
		c.t.Fatal(err)
	}
}

// awaitHeights is waitHeights returning the failure instead.
func (c *cluster) awaitHeights(ps []*proc, min int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var behind []string
		for _, p := range ps {
			if h := p.height(); h < min {
				behind = append(behind, fmt.Sprintf("%s at %d", p.name, h))
			}
		}
		if len(behind) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("within %s, want every node at height %d or more; behind: %v", timeout, min, behind)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// maxHeight is the highest height any of ps reports.
func maxHeight(ps []*proc) int64 {
	var m int64 = -1
	for _, p := range ps {
		m = max(m, p.height())
	}
	return m
}

// others is every validator but the given indexes.
func (c *cluster) others(except ...int) []*proc {
	var out []*proc
	for _, p := range c.nodes {
		skip := false
		for _, e := range except {
			skip = skip || p.idx == e
		}
		if !skip {
			out = append(out, p)
		}
	}
	return out
}

// liveNodes are the validators that run and are not frozen.
func (c *cluster) liveNodes() []*proc {
	var out []*proc
	for _, p := range c.nodes {
		if p.live() {
			out = append(out, p)
		}
	}
	return out
}
