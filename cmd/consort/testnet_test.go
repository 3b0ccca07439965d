package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/certs/keyring"
	"github.com/consort-ledger/consort/consensus"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/testnet/*.golden from the current output")

// TestTestnetGolden writes networks with `consort testnet` and compares
// everything that is not random (ports, peers, config flags, genesis params,
// accounts, validators, allowlist, file layout and key file modes) with
// testdata/testnet/NAME.golden. Node ids and keys are replaced by names
// such as <node1-id>, resolved from each home's own key files, so the golden
// file also proves that every reference points at the right node.
// `go test ./cmd/consort -run TestnetGolden -update` rewrites the files.
func TestTestnetGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"loopback", []string{"--validators", "4", "--base-port", "30000", "--asset", "USD:2", "--fund", "admin0=USD:1000.00", "--timeout-commit", "200ms"}},
		{"single", []string{"--validators", "1"}},
		{"starting_ip", []string{"--validators", "3", "--starting-ip", "192.168.10.2", "--chain-id", "bank-net", "--gov-threshold", "3", "--min-validators", "2", "--pow-bits", "4"}},
		{"hostnames", []string{"--validators", "2", "--hostnames", "consort-0.consort,consort-1.consort", "--base-port", "36656"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "net")
			stdout := runTestnet(t, append(tt.args, "--output", out)...)
			got := describeTestnet(t, out, stdout)
			golden := filepath.Join("testdata", "testnet", tt.name+".golden")
			if *updateGolden {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("testnet %s differs from %s (run with -update to accept):\n%s", tt.name, golden, lineDiff(string(want), got))
			}
		})
	}
}

// TestTestnetGenesisLoads checks that the shared genesis is one file in
// every home and that the ledger accepts it: the governance threshold, the
// accounts' organisations, the validators' operators and the allowlist all
// pass InitChain.
func TestTestnetGenesisLoads(t *testing.T) {
	out := filepath.Join(t.TempDir(), "net")
	runTestnet(t, "--validators", "5", "--output", out, "--asset", "USD:2", "--asset", "EUR:2",
		"--fund", "admin0=USD:10.00", "--fund", "admin4=EUR:0.01", "--pow-bits", "1")
	first, err := os.ReadFile(filepath.Join(out, "node0", "config", "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 5; i++ {
		b, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("node%d", i), "config", "genesis.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, first) {
			t.Errorf("node%d genesis.json differs from node0's", i)
		}
	}
	doc, err := cmttypes.GenesisDocFromJSON(first)
	if err != nil {
		t.Fatal(err)
	}
	var vals []app.InitialValidator
	for _, v := range doc.Validators {
		vals = append(vals, app.InitialValidator{KeyType: v.PubKey.Type(), PublicKey: v.PubKey.Bytes(), Power: v.Power})
	}
	store, err := app.OpenStore(t.TempDir(), app.DefaultStoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := app.New(store).InitChain(doc.ChainID, doc.InitialHeight, doc.AppState, vals); err != nil {
		t.Fatalf("the ledger refuses the testnet genesis: %v", err)
	}
	g, err := app.ParseGenesis(doc.AppState)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := g.Params.GovernanceThreshold, uint32(3); got != want {
		t.Errorf("governance threshold of 5 organisations: got %d, want %d", got, want)
	}
}

// TestTestnetMajority: the default governance threshold is a strict
// majority of the organisations.
func TestTestnetMajority(t *testing.T) {
	for n, want := range map[int]uint32{1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4, 7: 4, 10: 6} {
		if got := majority(n); got != want {
			t.Errorf("majority(%d): got %d, want %d", n, got, want)
		}
	}
}

// TestTestnetErrors: bad flags name the flag and what was expected, and
// write no node home.
func TestTestnetErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no validators", []string{"--validators", "0"}, "--validators 0: want at least 1"},
		{"threshold above organisations", []string{"--validators", "4", "--gov-threshold", "5"}, "--gov-threshold 5: want 1 to 4"},
		{"min validators above validators", []string{"--validators", "3", "--min-validators", "4"}, "--min-validators 4: want 1 to 3"},
		{"min validators zero", []string{"--min-validators", "0"}, "--min-validators 0"},
		{"bad starting ip", []string{"--starting-ip", "10.0.0"}, `--starting-ip "10.0.0": want an IPv4 address`},
		{"ipv6 starting ip", []string{"--starting-ip", "fd00::2"}, "want an IPv4 address"},
		{"starting ip past the /24", []string{"--validators", "4", "--starting-ip", "10.0.0.252"}, "past .254"},
		{"ip and hostnames", []string{"--validators", "2", "--starting-ip", "10.0.0.2", "--hostnames", "a,b"}, "give one or the other"},
		{"hostnames count", []string{"--validators", "3", "--hostnames", "a,b"}, "--hostnames: 2 names for 3 validators"},
		{"ports past 65535", []string{"--validators", "4", "--base-port", "65300"}, "--base-port 65300: the ports of 4 nodes would run to 65604"},
		{"long chain id", []string{"--chain-id", strings.Repeat("c", 51)}, "want 1 to 50 characters"},
		{"pow bits", []string{"--pow-bits", "300"}, "--pow-bits 300"},
		{"bad asset", []string{"--asset", "USD"}, `--asset "USD": want ID:DECIMALS`},
		{"asset twice", []string{"--asset", "USD:2", "--asset", "USD:0"}, "USD is declared twice"},
		{"fund unknown account", []string{"--asset", "USD:2", "--fund", "alice=USD:1.00"}, "account alice is not one of admin0 … admin3"},
		{"fund undeclared asset", []string{"--fund", "admin0=EUR:1.00"}, "asset EUR is not declared"},
		{"fund bad amount", []string{"--asset", "USD:2", "--fund", "admin0=USD:1.001"}, `--fund "admin0=USD:1.001"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "net")
			var stdout, stderr bytes.Buffer
			root := newRootCmd(&stdout, &stderr)
			root.SetArgs(append([]string{"testnet", "--output", out}, tt.args...))
			err := root.Execute()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s was written despite the error", out)
			}
		})
	}

	t.Run("no output", func(t *testing.T) {
		root := newRootCmd(&bytes.Buffer{}, &bytes.Buffer{})
		root.SetArgs([]string{"testnet", "--validators", "2"})
		if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "--output is required") {
			t.Fatalf("got error %v, want --output is required", err)
		}
	})
	t.Run("existing network", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "net")
		runTestnet(t, "--validators", "2", "--output", out)
		before, err := os.ReadFile(filepath.Join(out, "node1", "config", "genesis.json"))
		if err != nil {
			t.Fatal(err)
		}
		root := newRootCmd(&bytes.Buffer{}, &bytes.Buffer{})
		root.SetArgs([]string{"testnet", "--validators", "2", "--output", out})
		if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "is already a node home") {
			t.Fatalf("got error %v, want the existing home refused", err)
		}
		after, _ := os.ReadFile(filepath.Join(out, "node1", "config", "genesis.json"))
		if !bytes.Equal(before, after) {
			t.Error("a refused testnet changed an existing genesis")
		}
	})
}

// runTestnet runs `consort testnet args...` in this process and returns
// what it printed.
func runTestnet(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRootCmd(&stdout, &stderr)
	root.SetArgs(append([]string{"testnet"}, args...))
	if err := root.Execute(); err != nil {
		t.Fatalf("consort testnet %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// describeTestnet renders the network in out as stable text: the command's
// output, each node's files and config, and the genesis, with every id and
// key replaced by the name of the node it belongs to.
func describeTestnet(t *testing.T, out, stdout string) string {
	t.Helper()
	homes, err := filepath.Glob(filepath.Join(out, "node*"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string // old, new pairs for strings.NewReplacer
	for i := range homes {
		home := filepath.Join(out, fmt.Sprintf("node%d", i))
		node := fmt.Sprintf("node%d", i)
		nk, err := p2p.LoadNodeKey(filepath.Join(home, "config", "node_key.json"))
		if err != nil {
			t.Fatal(err)
		}
		var pvKey privval.FilePVKey
		b, err := os.ReadFile(filepath.Join(home, "config", "priv_validator_key.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := cmtjson.Unmarshal(b, &pvKey); err != nil {
			t.Fatal(err)
		}
		kr, err := keyring.Open(filepath.Join(home, "keyring"))
		if err != nil {
			t.Fatal(err)
		}
		account := fmt.Sprintf("admin%d", i)
		info, err := kr.Show(account)
		if err != nil {
			t.Fatalf("%s keyring: %v", node, err)
		}
		names = append(names,
			string(nk.ID()), "<"+node+"-id>",
			base64.StdEncoding.EncodeToString(pvKey.PubKey.Bytes()), "<"+node+"-validator-key>",
			pvKey.PubKey.Address().String(), "<"+node+"-validator-address>",
			base64.StdEncoding.EncodeToString(info.PublicKey.Bytes), "<"+account+"-key>",
		)
	}
	names = append(names, out, "$OUT")
	norm := strings.NewReplacer(names...)

	var w strings.Builder
	fmt.Fprintf(&w, "## output\n%s", norm.Replace(stdout))
	for i := range homes {
		home := filepath.Join(out, fmt.Sprintf("node%d", i))
		fmt.Fprintf(&w, "\n## node%d files\n", i)
		describeFiles(t, &w, home)
		fmt.Fprintf(&w, "\n## node%d keyring\n", i)
		kr, err := keyring.Open(filepath.Join(home, "keyring"))
		if err != nil {
			t.Fatal(err)
		}
		keys, err := kr.List()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			fmt.Fprintf(&w, "%s %s %s\n", k.Name, k.PublicKey.Type, norm.Replace(base64.StdEncoding.EncodeToString(k.PublicKey.Bytes)))
		}
		conf, err := consensus.LoadConfig(home)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&w, "\n## node%d config.toml\n", i)
		for _, kv := range [][2]any{
			{"moniker", conf.Moniker},
			{"filter_peers", conf.FilterPeers},
			{"rpc.laddr", conf.RPC.ListenAddress},
			{"p2p.laddr", conf.P2P.ListenAddress},
			{"p2p.persistent_peers", strings.ReplaceAll(norm.Replace(conf.P2P.PersistentPeers), ",", ",\n    ")},
			{"p2p.pex", conf.P2P.PexReactor},
			{"p2p.addr_book_strict", conf.P2P.AddrBookStrict},
			{"p2p.allow_duplicate_ip", conf.P2P.AllowDuplicateIP},
			{"mempool.type", conf.Mempool.Type},
			{"consensus.timeout_commit", conf.Consensus.TimeoutCommit},
			{"instrumentation.prometheus", conf.Instrumentation.Prometheus},
			{"instrumentation.prometheus_listen_addr", conf.Instrumentation.PrometheusListenAddr},
		} {
			if kv[1] == "" {
				kv[1] = `""`
			}
			fmt.Fprintf(&w, "%s = %v\n", kv[0], kv[1])
		}
	}

	b, err := os.ReadFile(filepath.Join(out, "node0", "config", "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := cmttypes.GenesisDocFromJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&w, "\n## genesis\nchain_id = %s\ninitial_height = %d\n", doc.ChainID, doc.InitialHeight)
	for _, v := range doc.Validators {
		fmt.Fprintf(&w, "validator %s power %d address %s key %s\n", v.Name, v.Power,
			norm.Replace(v.Address.String()), norm.Replace(base64.StdEncoding.EncodeToString(v.PubKey.Bytes())))
	}
	var appState bytes.Buffer
	if err := json.Indent(&appState, doc.AppState, "", "  "); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&w, "\n## genesis app_state\n%s\n", norm.Replace(appState.String()))
	return w.String()
}

// describeFiles lists the files under home, with the permission bits of the
// key files (which must be readable by their owner only).
func describeFiles(t *testing.T, w *strings.Builder, home string) {
	t.Helper()
	err := filepath.WalkDir(home, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(home, path)
		rel = filepath.ToSlash(rel)
		secret := strings.HasPrefix(rel, "keyring/") || slices.Contains([]string{
			"config/node_key.json", "config/priv_validator_key.json", "data/priv_validator_state.json",
		}, rel)
		if !secret {
			fmt.Fprintln(w, rel)
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s %04o\n", rel, info.Mode().Perm())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// lineDiff shows the lines of got that differ from want, with their number.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(wl), len(gl)) {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			fmt.Fprintf(&b, "line %d:\n  want: %s\n  got:  %s\n", i+1, w, g)
		}
	}
	return b.String()
}
