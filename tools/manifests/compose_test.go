package manifests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// composeFile is the compose network, relative to the repository root.
const composeFile = "scripts/docker/compose.yml"

// composeInstall is how to get docker-compose; `make manifests` runs it.
const composeInstall = "apt-get update && apt-get install -y docker-compose"

// composeSecrets are the variables compose.yml requires, with no default.
var composeSecrets = []string{"VAULT_DEV_ROOT_TOKEN_ID", "GRAFANA_ADMIN_PASSWORD"}

// composeConfig is the part of `docker-compose config` output checked here.
type composeConfig struct {
	Services map[string]composeService `json:"services"`
	Networks map[string]struct {
		IPAM struct {
			Config []struct {
				Subnet string `json:"subnet"`
			} `json:"config"`
		} `json:"ipam"`
	} `json:"networks"`
}

type composeService struct {
	Image string `json:"image"`
	Build *struct {
		Context    string `json:"context"`
		Dockerfile string `json:"dockerfile"`
	} `json:"build"`
	User        string            `json:"user"`
	Command     []string          `json:"command"`
	Environment map[string]string `json:"environment"`
	Volumes     []string          `json:"volumes"`
	Ports       []any             `json:"ports"` // "host:published:target" or the long form
	ReadOnly    bool              `json:"read_only"`
	Networks    map[string]struct {
		IPv4Address string `json:"ipv4_address"`
	} `json:"networks"`
}

// runComposeConfig runs `docker-compose -f compose.yml config` from the
// repository root with env (and none of the variables compose.yml reads
// from the caller's environment).
func runComposeConfig(t *testing.T, env map[string]string) ([]byte, error) {
	t.Helper()
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatalf("docker-compose is not installed, so %s cannot be checked: run `%s` (make manifests does this)", composeFile, composeInstall)
	}
	cmd := exec.Command(bin, "-f", composeFile, "config")
	cmd.Dir = repoRoot
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if slices.Contains(composeSecrets, name) || slices.Contains([]string{"TESTNET_DIR", "CONSORT_UID", "CONSORT_GID", "COMPOSE_FILE", "COMPOSE_PROJECT_NAME"}, name) {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("docker-compose config: %w\n%s", err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// composeTestEnv sets the required variables to values that are obviously
// not secrets.
func composeTestEnv() map[string]string {
	env := map[string]string{}
	for _, name := range composeSecrets {
		env[name] = "test-only-" + strings.ToLower(name)
	}
	return env
}

// loadCompose returns the resolved compose configuration.
func loadCompose(t *testing.T, env map[string]string) *composeConfig {
	t.Helper()
	out, err := runComposeConfig(t, env)
	if err != nil {
		t.Fatal(err)
	}
	var cfg composeConfig
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("docker-compose config output: %v", err)
	}
	return &cfg
}

func TestComposeNetwork(t *testing.T) {
	cfg := loadCompose(t, composeTestEnv())
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"grafana", "node0", "node1", "node2", "node3", "prometheus", "vault"}
	var got []string
	for name := range cfg.Services {
		got = append(got, name)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("services %v, want %v", got, want)
	}

	for i := range validators {
		name := fmt.Sprintf("node%d", i)
		svc := cfg.Services[name]
		t.Run(name, func(t *testing.T) {
			if svc.Build == nil || filepath.Clean(svc.Build.Context) != root || svc.Build.Dockerfile != "Dockerfile" {
				t.Errorf("build %+v: want the repository root's Dockerfile", svc.Build)
			}
			if svc.Image != cfg.Services["node0"].Image {
				t.Errorf("image %q differs from node0's %q", svc.Image, cfg.Services["node0"].Image)
			}
			home := filepath.Join(root, "testnet", name) + ":/data"
			if !slices.ContainsFunc(svc.Volumes, func(v string) bool { return v == home || v == home+":rw" }) {
				t.Errorf("volumes %v, want %s (the home made by consort testnet --output ./testnet)", svc.Volumes, home)
			}
			if wantIP := fmt.Sprintf("192.167.10.%d", 2+i); svc.Networks["consort"].IPv4Address != wantIP {
				t.Errorf("address %q, want %s (consort testnet --starting-ip 192.167.10.2 gives node %d this one)", svc.Networks["consort"].IPv4Address, wantIP, i)
			}
			if len(svc.Command) == 0 || svc.Command[0] != "start" || flagValue(svc.Command, "--home") != "/data" {
				t.Errorf("command %q, want start --home /data ...", svc.Command)
			}
			if host, port := splitListen(t, flagValue(svc.Command, "--metrics-laddr")); host != "0.0.0.0" || port != metricsPort {
				t.Errorf("--metrics-laddr %s:%d, want 0.0.0.0:%d so Prometheus can scrape it", host, port, metricsPort)
			}
			for _, flag := range []string{"--p2p-laddr", "--rpc-laddr"} {
				if host, _ := splitListen(t, flagValue(svc.Command, flag)); host != "0.0.0.0" {
					t.Errorf("%s on %s: peers in other containers cannot reach it", flag, host)
				}
			}
			if svc.User == "" || strings.HasPrefix(svc.User, "0:") || svc.User == "0" || strings.HasPrefix(svc.User, "root") {
				t.Errorf("user %q: want a non-root uid:gid", svc.User)
			}
			if !svc.ReadOnly {
				t.Error("read_only false: the node writes only its home")
			}
		})
	}

	t.Run("published ports stay on loopback", func(t *testing.T) {
		for name, svc := range cfg.Services {
			for _, p := range svc.Ports {
				host := ""
				switch p := p.(type) {
				case string:
					host, _, _ = strings.Cut(p, ":")
				case map[string]any:
					host, _ = p["host_ip"].(string)
				}
				if host != "127.0.0.1" {
					t.Errorf("%s publishes %v beyond loopback", name, p)
				}
			}
		}
	})

	t.Run("vault token comes from the environment", func(t *testing.T) {
		vault := cfg.Services["vault"]
		if !strings.HasPrefix(vault.Image, "hashicorp/vault") {
			t.Errorf("vault image %q, want hashicorp/vault", vault.Image)
		}
		if got, want := vault.Environment["VAULT_DEV_ROOT_TOKEN_ID"], composeTestEnv()["VAULT_DEV_ROOT_TOKEN_ID"]; got != want {
			t.Errorf("VAULT_DEV_ROOT_TOKEN_ID %q, want the caller's %q", got, want)
		}
		if !slices.Contains(vault.Command, "-dev") {
			t.Errorf("vault command %q, want server -dev", vault.Command)
		}
	})
}

// TestComposeRequiresSecretsFromEnvironment proves the tokens have no
// default: without each variable, compose refuses the file and names it.
func TestComposeRequiresSecretsFromEnvironment(t *testing.T) {
	for _, name := range composeSecrets {
		t.Run(name, func(t *testing.T) {
			env := composeTestEnv()
			delete(env, name)
			_, err := runComposeConfig(t, env)
			if err == nil {
				t.Fatalf("docker-compose config succeeded without %s: it must have no default", name)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error does not name %s: %v", name, err)
			}
		})
	}
	// And the file itself holds only references, never a value.
	var raw struct {
		Services map[string]struct {
			Environment map[string]string `json:"environment"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, composeFile), &raw); err != nil {
		t.Fatal(err)
	}
	ref := regexp.MustCompile(`^\$\{[A-Z0-9_]+:\?[^}]*\}$`)
	for svc, s := range raw.Services {
		for k, v := range s.Environment {
			if credentialName.MatchString(k) && !ref.MatchString(v) {
				t.Errorf("%s: %s=%q; want ${VAR:?message}, a required variable with no default", svc, k, v)
			}
		}
	}
}

// TestComposeMonitoring checks Prometheus and Grafana against the network:
// the scrape targets are the node services' metrics ports, the rule file and
// dashboard are mounted where the configs look for them.
func TestComposeMonitoring(t *testing.T) {
	cfg := loadCompose(t, composeTestEnv())
	root, _ := filepath.Abs(repoRoot)
	mounts := func(svc string) map[string]string { // target -> source
		m := map[string]string{}
		for _, v := range cfg.Services[svc].Volumes {
			parts := strings.Split(v, ":")
			if len(parts) >= 2 {
				m[parts[1]] = parts[0]
			}
		}
		return m
	}

	var prom struct {
		RuleFiles     []string `json:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `json:"job_name"`
			MetricsPath   string `json:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `json:"targets"`
			} `json:"static_configs"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, "scripts/docker/prometheus.yml"), &prom); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	promMounts := mounts("prometheus")
	if src := promMounts["/etc/prometheus/prometheus.yml"]; src != filepath.Join(root, "scripts/docker/prometheus.yml") {
		t.Errorf("prometheus.yml mounted from %q", src)
	}
	for _, rf := range prom.RuleFiles {
		if promMounts[rf] != filepath.Join(root, "scripts/monitoring/alerts.yml") {
			t.Errorf("rule file %s is not scripts/monitoring/alerts.yml (mounted: %v)", rf, promMounts)
		}
	}
	if len(prom.RuleFiles) == 0 {
		t.Error("prometheus.yml loads no rule_files (scripts/monitoring/alerts.yml)")
	}
	jobs := map[string]bool{}
	for _, sc := range prom.ScrapeConfigs {
		jobs[sc.JobName] = true
	}
	if alerts, err := os.ReadFile(filepath.Join(repoRoot, "scripts", "monitoring", "alerts.yml")); err == nil {
		for _, m := range regexp.MustCompile(`job="([^"]+)"`).FindAllSubmatch(alerts, -1) {
			if !jobs[string(m[1])] {
				t.Errorf("alerts.yml selects job=%q, which prometheus.yml does not scrape (jobs %v)", m[1], jobs)
			}
		}
	}
	var targets []string
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	for i := range validators {
		if want := fmt.Sprintf("node%d:%d", i, metricsPort); !slices.Contains(targets, want) {
			t.Errorf("Prometheus does not scrape %s (targets %v)", want, targets)
		}
	}

	graf := mounts("grafana")
	var ds struct {
		Datasources []struct {
			UID  string `json:"uid"`
			Type string `json:"type"`
			URL  string `json:"url"`
		} `json:"datasources"`
	}
	dsDir := graf["/etc/grafana/provisioning/datasources"]
	if dsDir == "" {
		t.Fatal("grafana: no datasources provisioning mount")
	}
	if err := yaml.Unmarshal(mustRead(t, filepath.Join(dsDir, "prometheus.yml")), &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("datasources %+v, want one prometheus at http://prometheus:9090", ds.Datasources)
	}
	var dp struct {
		Providers []struct {
			Type    string `json:"type"`
			Options struct {
				Path string `json:"path"`
			} `json:"options"`
		} `json:"providers"`
	}
	dpDir := graf["/etc/grafana/provisioning/dashboards"]
	if dpDir == "" {
		t.Fatal("grafana: no dashboards provisioning mount")
	}
	if err := yaml.Unmarshal(mustRead(t, filepath.Join(dpDir, "consort.yml")), &dp); err != nil {
		t.Fatal(err)
	}
	if len(dp.Providers) != 1 || dp.Providers[0].Type != "file" {
		t.Fatalf("dashboard providers %+v, want one of type file", dp.Providers)
	}
	dash := dp.Providers[0].Options.Path + "/dashboard.json"
	if graf[dash] != filepath.Join(root, "scripts/monitoring/dashboard.json") {
		t.Errorf("%s is not scripts/monitoring/dashboard.json (mounted: %v)", dash, graf)
	}
	if uid := ds.Datasources[0].UID; uid != "" {
		checkDashboardDatasources(t, uid)
	}
	checkAlertRules(t)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkDashboardDatasources checks scripts/monitoring/dashboard.json, when
// it exists, against the provisioned datasource: a provisioned dashboard
// cannot ask for a datasource on import, so each reference must be the
// provisioned uid, a datasource template variable, or the default.
func checkDashboardDatasources(t *testing.T, uid string) {
	t.Helper()
	path := filepath.Join(repoRoot, "scripts", "monitoring", "dashboard.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var dash any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	vars := map[string]bool{}
	if m, ok := dash.(map[string]any); ok {
		if tpl, ok := m["templating"].(map[string]any); ok {
			list, _ := tpl["list"].([]any)
			for _, v := range list {
				if v, ok := v.(map[string]any); ok && v["type"] == "datasource" {
					vars[fmt.Sprint(v["name"])] = true
				}
			}
		}
	}
	walkJSON(dash, func(key string, v any) {
		if key != "datasource" {
			return
		}
		ref := ""
		switch v := v.(type) {
		case string:
			ref = v
		case map[string]any:
			ref, _ = v["uid"].(string)
		}
		name := strings.Trim(strings.TrimPrefix(ref, "$"), "{}")
		if ref == "" || ref == uid || ref == "-- Grafana --" || ref == "grafana" || (strings.HasPrefix(ref, "$") && vars[name]) {
			return
		}
		t.Errorf("dashboard.json: datasource %q is neither the provisioned uid %q nor a datasource variable", ref, uid)
	})
}

// walkJSON calls fn for every key and value of a decoded JSON document.
func walkJSON(v any, fn func(key string, v any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			fn(k, child)
			walkJSON(child, fn)
		}
	case []any:
		for _, child := range v {
			walkJSON(child, fn)
		}
	}
}

// checkAlertRules checks scripts/monitoring/alerts.yml, when it exists, is a
// Prometheus rule file.
func checkAlertRules(t *testing.T) {
	t.Helper()
	path := filepath.Join(repoRoot, "scripts", "monitoring", "alerts.yml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string           `json:"name"`
			Rules []map[string]any `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	if len(rules.Groups) == 0 {
		t.Error("alerts.yml has no rule groups")
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r["expr"] == nil || (r["alert"] == nil && r["record"] == nil) {
				t.Errorf("alerts.yml group %s: rule %v needs expr and alert (or record)", g.Name, r)
			}
		}
	}
}

// TestPrometheusConfigWithPromtool checks scripts/docker/prometheus.yml with
// Prometheus's own checker, when promtool is installed (`make monitoring`
// installs it), with the rule file path pointed at the repository's copy.
func TestPrometheusConfigWithPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (make monitoring installs it)")
	}
	rules, err := filepath.Abs(filepath.Join(repoRoot, "scripts", "monitoring", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !fileExists(rules) {
		t.Fatalf("%s is missing: Prometheus would not start without it", rules)
	}
	conf := string(readRepoFile(t, "scripts/docker/prometheus.yml"))
	if !strings.Contains(conf, "/etc/prometheus/alerts.yml") {
		t.Fatal("prometheus.yml does not load /etc/prometheus/alerts.yml")
	}
	path := filepath.Join(t.TempDir(), "prometheus.yml")
	writeFile(t, path, strings.ReplaceAll(conf, "/etc/prometheus/alerts.yml", rules), 0o644)
	if out, err := exec.Command(promtool, "check", "config", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check config: %v\n%s", err, out)
	}
}
