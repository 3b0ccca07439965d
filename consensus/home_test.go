package consensus

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"
)

func testHomeConfig(t *testing.T) HomeConfig {
	t.Helper()
	return HomeConfig{
		Home:             t.TempDir(),
		ChainID:          "consort-test",
		Moniker:          "node0",
		RPCListen:        "tcp://" + freeAddr(t),
		P2PListen:        "tcp://" + freeAddr(t),
		PrometheusListen: freeAddr(t),
		TimeoutCommit:    100 * time.Millisecond,
		AppState:         json.RawMessage(`{"accounts":["alice","bob"]}`),
	}
}

func TestInitHomeFiles(t *testing.T) {
	hc := testHomeConfig(t)
	conf, err := InitHome(hc)
	if err != nil {
		t.Fatalf("InitHome: %v", err)
	}
	modes := map[string]os.FileMode{
		filepath.Join(hc.Home, "config", "config.toml"):             0o644,
		filepath.Join(hc.Home, "config", "genesis.json"):            0o644,
		filepath.Join(hc.Home, "config", "node_key.json"):           0o600,
		filepath.Join(hc.Home, "config", "priv_validator_key.json"): 0o600,
		filepath.Join(hc.Home, "data", "priv_validator_state.json"): 0o600,
	}
	for file, want := range modes {
		info, err := os.Stat(file)
		if err != nil {
			t.Errorf("stat: %v", err)
			continue
		}
		// The umask may clear bits, never add them.
		if got := info.Mode().Perm(); got&^want != 0 || (want == 0o600 && got != 0o600) {
			t.Errorf("%s: got mode %o, want %o", filepath.Base(file), got, want)
		}
	}

	doc, err := cmttypes.GenesisDocFromFile(conf.GenesisFile())
	if err != nil {
		t.Fatalf("read genesis: %v", err)
	}
	if doc.ChainID != hc.ChainID {
		t.Errorf("got chain id %q, want %q", doc.ChainID, hc.ChainID)
	}
	if len(doc.Validators) != 1 {
		t.Fatalf("got %d validators, want 1", len(doc.Validators))
	}
	pv, err := loadFilePV(conf)
	if err != nil {
		t.Fatalf("load validator key: %v", err)
	}
	v := doc.Validators[0]
	if !v.PubKey.Equals(pv.Key.PubKey) || v.Power != validatorPower || v.Name != hc.Moniker {
		t.Errorf("got validator %+v, want the home's key with power %d named %q", v, validatorPower, hc.Moniker)
	}
	var got, want bytes.Buffer
	if err := json.Compact(&got, doc.AppState); err != nil {
		t.Fatalf("compact app state: %v", err)
	}
	if err := json.Compact(&want, hc.AppState); err != nil {
		t.Fatalf("compact app state: %v", err)
	}
	if got.String() != want.String() {
		t.Errorf("got app state %s, want %s", got.String(), want.String())
	}
}

func TestInitHomeTwiceFails(t *testing.T) {
	hc := testHomeConfig(t)
	if _, err := InitHome(hc); err != nil {
		t.Fatalf("first InitHome: %v", err)
	}
	before, err := os.ReadFile(filepath.Join(hc.Home, "config", "genesis.json"))
	if err != nil {
		t.Fatalf("read genesis: %v", err)
	}
	_, err = InitHome(hc)
	if err == nil || !strings.Contains(err.Error(), "already initialised") {
		t.Fatalf("got error %v, want already initialised", err)
	}
	after, err := os.ReadFile(filepath.Join(hc.Home, "config", "genesis.json"))
	if err != nil {
		t.Fatalf("read genesis: %v", err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("genesis changed by a refused InitHome")
	}
}

func TestInitHomeKeepsProvisionedKey(t *testing.T) {
	hc := testHomeConfig(t)
	keyFile := filepath.Join(hc.Home, "config", "priv_validator_key.json")
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		t.Fatal(err)
	}
	// Only the key: the sign state is left for InitHome to start.
	provisioned := privval.GenFilePV(keyFile, filepath.Join(t.TempDir(), "state.json"))
	provisioned.Key.Save()

	conf, err := InitHome(hc)
	if err != nil {
		t.Fatalf("InitHome: %v", err)
	}
	doc, err := cmttypes.GenesisDocFromFile(conf.GenesisFile())
	if err != nil {
		t.Fatalf("read genesis: %v", err)
	}
	if got, want := doc.Validators[0].PubKey, provisioned.Key.PubKey; !got.Equals(want) {
		t.Errorf("got validator key %v, want the provisioned %v", got, want)
	}
}

func TestInitHomeRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		edit func(*HomeConfig)
		want string
	}{
		{"no home", func(c *HomeConfig) { c.Home = "" }, "home folder is required"},
		{"no chain id", func(c *HomeConfig) { c.ChainID = "" }, "chain id"},
		{"long chain id", func(c *HomeConfig) { c.ChainID = strings.Repeat("c", 51) }, "chain id"},
		{"bad app state", func(c *HomeConfig) { c.AppState = json.RawMessage(`{`) }, "app state"},
		{"negative timeout", func(c *HomeConfig) { c.TimeoutCommit = -time.Second }, "timeout commit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := testHomeConfig(t)
			tt.edit(&hc)
			_, err := InitHome(hc)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestLoadConfigRoundTrip(t *testing.T) {
	hc := testHomeConfig(t)
	if _, err := InitHome(hc); err != nil {
		t.Fatalf("InitHome: %v", err)
	}
	conf, err := LoadConfig(hc.Home)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	checks := []struct {
		field     string
		got, want any
	}{
		{"root", conf.RootDir, hc.Home},
		{"moniker", conf.Moniker, hc.Moniker},
		{"rpc", conf.RPC.ListenAddress, hc.RPCListen},
		{"p2p", conf.P2P.ListenAddress, hc.P2PListen},
		{"prometheus", conf.Instrumentation.Prometheus, true},
		{"prometheus addr", conf.Instrumentation.PrometheusListenAddr, hc.PrometheusListen},
		{"timeout commit", conf.Consensus.TimeoutCommit, hc.TimeoutCommit},
		{"mempool", conf.Mempool.Type, "flood"},
		{"genesis", conf.GenesisFile(), filepath.Join(hc.Home, "config", "genesis.json")},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.field, c.got, c.want)
		}
	}
}

func TestInitHomeDefaults(t *testing.T) {
	conf, err := InitHome(HomeConfig{Home: t.TempDir(), ChainID: "consort-test"})
	if err != nil {
		t.Fatalf("InitHome: %v", err)
	}
	if conf.RPC.ListenAddress != DefaultRPCListen || conf.P2P.ListenAddress != DefaultP2PListen ||
		conf.Instrumentation.PrometheusListenAddr != DefaultPrometheusListen {
		t.Errorf("got rpc %s p2p %s prometheus %s, want the defaults",
			conf.RPC.ListenAddress, conf.P2P.ListenAddress, conf.Instrumentation.PrometheusListenAddr)
	}
	if conf.Consensus.TimeoutCommit != time.Second {
		t.Errorf("got timeout commit %v, want CometBFT's 1s", conf.Consensus.TimeoutCommit)
	}
}

func TestLoadConfigNotInitialised(t *testing.T) {
	tests := []struct {
		name string
		home func(t *testing.T) string
	}{
		{"empty folder", func(t *testing.T) string { return t.TempDir() }},
		{"no genesis", func(t *testing.T) string {
			hc := testHomeConfig(t)
			if _, err := InitHome(hc); err != nil {
				t.Fatalf("InitHome: %v", err)
			}
			if err := os.Remove(filepath.Join(hc.Home, "config", "genesis.json")); err != nil {
				t.Fatal(err)
			}
			return hc.Home
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig(tt.home(t))
			if err == nil || !strings.Contains(err.Error(), "run consort init") {
				t.Fatalf("got error %v, want one telling to run consort init", err)
			}
		})
	}
}
