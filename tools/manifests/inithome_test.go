package manifests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
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

	corev1 "k8s.io/api/core/v1"
)

// consortBin is the consort binary the tests run: $CONSORT_BIN, else one
// built from the repository once per test run.
var consortBin struct {
	once sync.Once
	path string
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if consortBin.dir != "" {
		os.RemoveAll(consortBin.dir)
	}
	os.Exit(code)
}

func consortBinary(t *testing.T) string {
	t.Helper()
	consortBin.once.Do(func() {
		if p := os.Getenv("CONSORT_BIN"); p != "" {
			consortBin.path, consortBin.err = filepath.Abs(p)
			return
		}
		dir, err := os.MkdirTemp("", "consort-manifests-")
		if err != nil {
			consortBin.err = err
			return
		}
		consortBin.dir, consortBin.path = dir, filepath.Join(dir, "consort")
		cmd := exec.Command("go", "build", "-o", consortBin.path, "./cmd/consort")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			consortBin.err = fmt.Errorf("go build ./cmd/consort: %w\n%s", err, out)
		}
	})
	if consortBin.err != nil {
		t.Fatal(consortBin.err)
	}
	return consortBin.path
}

// run runs the consort binary and returns its combined output.
func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("consort %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// freePort returns a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// withFlag returns args with the value of flag replaced.
func withFlag(t *testing.T, args []string, flag, value string) []string {
	t.Helper()
	out := append([]string(nil), args...)
	for i := range out {
		if out[i] == flag && i+1 < len(out) {
			out[i+1] = value
			return out
		}
	}
	t.Fatalf("args %q have no %s", args, flag)
	return nil
}

// TestStatefulSetInitPlacesARunnableHome does what Kubernetes does for pod
// consort-0, on loopback: it fills the ConfigMap and Secret the documented
// way from a home made by consort init, runs the place-home script with the
// manifest's environment, then the node container's arguments, and waits
// for blocks and for the probe endpoints. A restart keeps the sign state.
func TestStatefulSetInitPlacesARunnableHome(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	objs := loadK8s(t)
	sts := objs.validatorSet(t)
	spec := &sts.Spec.Template.Spec
	places, node := container(t, spec, "place-home"), container(t, spec, "consort")
	cm := objs.configMap(volume(spec, mountedAt(places, envValue(t, places, "CONFIG_SRC"))).ConfigMap.Name)
	bin := consortBinary(t)
	pod := sts.Name + "-0"

	// A one-validator network stands in for the testnet: its keys become
	// node0's entries of the Secret, its genesis replaces the placeholder.
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	run(t, bin, "init", "--home", src, "--chain-id", "manifests-test")
	var genesis struct {
		AppState struct {
			Nodes []string `json:"nodes"`
		} `json:"app_state"`
	}
	genesisJSON := mustRead(t, filepath.Join(src, "config", "genesis.json"))
	if err := json.Unmarshal(genesisJSON, &genesis); err != nil || len(genesis.AppState.Nodes) != 1 {
		t.Fatalf("genesis of consort init: want one node id in app_state.nodes, got %v (%v)", genesis.AppState.Nodes, err)
	}

	cmDir, keysDir, home := filepath.Join(tmp, "configmap"), filepath.Join(tmp, "secret"), filepath.Join(tmp, "home")
	for _, d := range []string{cmDir, keysDir, home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// The documented replacements: node ids into persistent_peers (the
	// other validators point at closed loopback ports here, so no lookup
	// leaves the machine), the network's genesis over the placeholder.
	conf := strings.ReplaceAll(cm.Data["config.toml"], "REPLACE_NODE0_ID", genesis.AppState.Nodes[0])
	for i := 1; i < validators; i++ {
		conf = strings.ReplaceAll(conf, fmt.Sprintf("REPLACE_NODE%d_ID@%s-%d.%s:%d", i, sts.Name, i, sts.Spec.ServiceName, p2pPort),
			fmt.Sprintf("%040d@127.0.0.1:%d", i, freePort(t)))
	}
	writeFile(t, filepath.Join(cmDir, "config.toml"), conf, 0o644)
	writeFile(t, filepath.Join(cmDir, "genesis.json"), string(genesisJSON), 0o644)
	for _, f := range []string{"node_key.json", "priv_validator_key.json"} {
		writeFile(t, filepath.Join(keysDir, "node0."+f), string(mustRead(t, filepath.Join(src, "config", f))), 0o440)
	}

	env := map[string]string{"POD_NAME": pod, "CONSORT_HOME": home, "CONFIG_SRC": cmDir, "KEYS_SRC": keysDir}
	placeHome(t, places, env)

	placed := string(mustRead(t, filepath.Join(home, "config", "config.toml")))
	if !strings.Contains(placed, fmt.Sprintf("moniker = %q", pod)) {
		t.Errorf("placed config.toml has no moniker %q", pod)
	}
	peers := regexp.MustCompile(`(?m)^persistent_peers = "(.*)"$`).FindStringSubmatch(placed)
	if peers == nil || strings.Contains(peers[1], "@"+pod+".") || len(strings.FieldsFunc(peers[1], func(r rune) bool { return r == ',' })) != validators-1 {
		t.Errorf("placed persistent_peers %q: want the %d other validators, not the pod itself", peers, validators-1)
	}
	for _, f := range []string{"node_key.json", "priv_validator_key.json"} {
		if fi, err := os.Stat(filepath.Join(home, "config", f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("placed %s: %v, mode %v; want 0600", f, err, fi)
		}
	}

	rpc, metrics := freePort(t), freePort(t)
	args := withFlag(t, node.Args, "--home", home)
	args = withFlag(t, args, "--p2p-laddr", fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)))
	args = withFlag(t, args, "--rpc-laddr", fmt.Sprintf("tcp://127.0.0.1:%d", rpc))
	args = withFlag(t, args, "--metrics-laddr", fmt.Sprintf("127.0.0.1:%d", metrics))

	height := runNodeUntilBlocks(t, bin, args, rpc, metrics, pod, node)

	// A pod restart runs place-home again: the sign state on the volume
	// must survive it, or the validator could sign twice at one height.
	placeHome(t, places, env)
	var state struct {
		Height string `json:"height"`
	}
	if err := json.Unmarshal(mustRead(t, filepath.Join(home, "data", "priv_validator_state.json")), &state); err != nil {
		t.Fatal(err)
	}
	if h, _ := strconv.ParseInt(state.Height, 10, 64); h < height-1 || h == 0 {
		t.Errorf("sign state height %s after restart, want about %d: place-home must keep it", state.Height, height)
	}
	runNodeUntilBlocks(t, bin, args, rpc, metrics, pod, node)
}

// placeHome runs the init container's command with env, as the kubelet would.
func placeHome(t *testing.T, c *corev1.Container, env map[string]string) {
	t.Helper()
	argv := append(append([]string(nil), c.Command...), c.Args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("place-home: %v\n%s", err, out)
	}
}

// runNodeUntilBlocks starts the node with args, waits until it has made two
// blocks and its probe endpoints answer, stops it with SIGTERM as the kubelet
// does and returns the last height seen.
func runNodeUntilBlocks(t *testing.T, bin string, args []string, rpc, metrics int, moniker string, node *corev1.Container) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
	}()

	client := &http.Client{Timeout: 2 * time.Second}
	var height int64
	deadline := time.Now().Add(90 * time.Second)
	for height < 2 {
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("node exited: %v\n%s", err, logs.String())
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no block 2 within 90s\n%s", logs.String())
		}
		var status struct {
			Result struct {
				NodeInfo struct {
					Moniker string `json:"moniker"`
				} `json:"node_info"`
				SyncInfo struct {
					Height string `json:"latest_block_height"`
				} `json:"sync_info"`
			} `json:"result"`
		}
		if getJSON(client, fmt.Sprintf("http://127.0.0.1:%d/status", rpc), &status) != nil {
			continue
		}
		if status.Result.NodeInfo.Moniker != moniker {
			t.Fatalf("moniker %q, want %q (set by place-home)", status.Result.NodeInfo.Moniker, moniker)
		}
		height, _ = strconv.ParseInt(status.Result.SyncInfo.Height, 10, 64)
	}

	// The probes of the manifest, against the metrics listener.
	probed := map[string]bool{}
	for _, p := range []*corev1.Probe{node.StartupProbe, node.LivenessProbe, node.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || probed[p.HTTPGet.Path] {
			continue
		}
		probed[p.HTTPGet.Path] = true
		url := fmt.Sprintf("http://127.0.0.1:%d%s", metrics, p.HTTPGet.Path)
		resp, err := client.Get(url)
		if err != nil {
			t.Errorf("probe %s: %v", p.HTTPGet.Path, err)
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		switch {
		case bytes.Contains(body, []byte("# HELP ")):
			// CometBFT's metrics server answers every path with the metrics.
			t.Errorf("probe %s: answered with the Prometheus metrics, so the probe passes whatever the node's state; the metrics listener must serve %s itself", p.HTTPGet.Path, p.HTTPGet.Path)
		case resp.StatusCode == http.StatusNotFound:
			t.Errorf("probe %s: 404, the metrics listener does not serve it", p.HTTPGet.Path)
		case p.HTTPGet.Path == "/healthz" && resp.StatusCode != http.StatusOK:
			t.Errorf("probe /healthz: %s, want 200 from a running node", resp.Status)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("node did not stop cleanly on SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Errorf("node still running 30s after SIGTERM (terminationGracePeriodSeconds %v)", node.Name)
	}
	return height
}

func getJSON(c *http.Client, url string, v any) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

// TestComposeMatchesTestnetOutput makes the homes the documented way,
// `consort testnet --validators 4 --output DIR --starting-ip 192.167.10.2`,
// and checks that compose mounts them and that each node's peers are the
// addresses compose gives the other nodes.
func TestComposeMatchesTestnetOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds consort")
	}
	bin := consortBinary(t)
	if out, err := exec.Command(bin, "testnet", "--help").CombinedOutput(); err != nil || !strings.Contains(string(out), "--starting-ip") {
		t.Fatalf("consort testnet has no --starting-ip: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "testnet")
	run(t, bin, "testnet", "--validators", strconv.Itoa(validators), "--output", dir, "--starting-ip", "192.167.10.2")

	env := composeTestEnv()
	env["TESTNET_DIR"] = dir
	cfg := loadCompose(t, env)
	addrs := map[string]bool{}
	for i := range validators {
		addrs[cfg.Services[fmt.Sprintf("node%d", i)].Networks["consort"].IPv4Address] = true
	}
	var genesis0 []byte
	for i := range validators {
		name := fmt.Sprintf("node%d", i)
		home := filepath.Join(dir, name)
		if !strings.HasPrefix(strings.Join(cfg.Services[name].Volumes, " "), home+":/data") {
			t.Errorf("%s volumes %v, want %s:/data", name, cfg.Services[name].Volumes, home)
		}
		genesis := mustRead(t, filepath.Join(home, "config", "genesis.json"))
		if i == 0 {
			genesis0 = genesis
		} else if !bytes.Equal(genesis, genesis0) {
			t.Errorf("%s has another genesis than node0", name)
		}
		conf := string(mustRead(t, filepath.Join(home, "config", "config.toml")))
		m := regexp.MustCompile(`(?m)^persistent_peers = "(.*)"$`).FindStringSubmatch(conf)
		if m == nil || m[1] == "" {
			t.Errorf("%s: no persistent_peers", name)
			continue
		}
		own := cfg.Services[name].Networks["consort"].IPv4Address
		for _, p := range strings.Split(m[1], ",") {
			_, hostPort, _ := strings.Cut(strings.TrimSpace(p), "@")
			host, port, err := net.SplitHostPort(hostPort)
			if err != nil || !addrs[host] || host == own || port != strconv.Itoa(p2pPort) {
				t.Errorf("%s: peer %q is not another compose node's %d", name, p, p2pPort)
			}
		}
	}
}

// TestK8sTestnetHostnamesFillConfigMap follows docs/deploy.md for
// Kubernetes: homes made with --hostnames consort-<i>.consort-p2p give, for
// every placeholder of the ConfigMap, the peer address that replaces it, and
// the key files the Secret is made from.
func TestK8sTestnetHostnamesFillConfigMap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds consort")
	}
	bin := consortBinary(t)
	if out, err := exec.Command(bin, "testnet", "--help").CombinedOutput(); err != nil || !strings.Contains(string(out), "--hostnames") {
		t.Fatalf("consort testnet has no --hostnames: %v", err)
	}
	objs := loadK8s(t)
	sts := objs.validatorSet(t)
	var hosts []string
	for i := range validators {
		hosts = append(hosts, fmt.Sprintf("%s-%d.%s", sts.Name, i, sts.Spec.ServiceName))
	}
	dir := filepath.Join(t.TempDir(), "k8s-net")
	run(t, bin, "testnet", "--validators", strconv.Itoa(validators), "--output", dir, "--hostnames", strings.Join(hosts, ","))

	// The union of the nodes' persistent_peers: each lists all but itself.
	peers := map[string]bool{}
	for i := range validators {
		conf := string(mustRead(t, filepath.Join(dir, fmt.Sprintf("node%d", i), "config", "config.toml")))
		m := regexp.MustCompile(`(?m)^persistent_peers = "(.*)"$`).FindStringSubmatch(conf)
		if m == nil {
			t.Fatalf("node%d: no persistent_peers", i)
		}
		for _, p := range strings.Split(m[1], ",") {
			peers[strings.TrimSpace(p)] = true
		}
		for _, f := range []string{"node_key.json", "priv_validator_key.json"} {
			if !fileExists(filepath.Join(dir, fmt.Sprintf("node%d", i), "config", f)) {
				t.Errorf("node%d has no config/%s for the Secret's node%d.%s", i, f, i, f)
			}
		}
	}
	placeholders := regexp.MustCompile(`REPLACE_NODE(\d+)_ID@([^,"]+)`).FindAllStringSubmatch(objs.configMap("consort-config").Data["config.toml"], -1)
	if len(placeholders) != validators {
		t.Fatalf("ConfigMap has %d peer placeholders, want %d", len(placeholders), validators)
	}
	for _, ph := range placeholders {
		found := 0
		for p := range peers {
			if _, hostPort, _ := strings.Cut(p, "@"); hostPort == ph[2] {
				found++
			}
		}
		if found != 1 {
			t.Errorf("placeholder of node %s (%s): %d matching testnet peers, want 1 (peers %v)", ph[1], ph[2], found, peers)
		}
	}
	if len(peers) != validators {
		t.Errorf("testnet peers %v: want %d distinct addresses", peers, validators)
	}
}
