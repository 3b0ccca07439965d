package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/spf13/cobra"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/certs/keyring"
	"github.com/consort-ledger/consort/consensus"
)

// Port layout of a testnet. Node 0 uses CometBFT's default ports; on one
// host, node i adds testnetPortStride*i to each, so that nodes never collide.
const (
	defaultTestnetBasePort = 26656 // P2P; RPC and metrics are offsets from it
	testnetRPCOffset       = 1     // 26657
	testnetMetricsOffset   = 4     // 26660
	testnetPortStride      = 100
	defaultTestnetChainID  = "consort-testnet"
)

// testnetOptions describe an N-validator network.
type testnetOptions struct {
	validators    int
	output        string
	chainID       string
	startingIP    string   // node i on startingIP+i, default ports
	hostnames     []string // node i on hostnames[i], default ports
	basePort      int      // P2P port of node 0; RPC +1, metrics +4
	govThreshold  uint32   // 0: a majority of the organisations
	minValidators uint32
	powBits       uint32   // pow.difficulty_bits (0 = off)
	assets        []string // ID:DECIMALS, issued by admin0
	funds         []string // ACCOUNT=ASSET:AMOUNT
	timeoutCommit time.Duration
}

// testnetNode is where one node of the network lives and listens.
type testnetNode struct {
	name    string // moniker and validator name: node0
	account string // its organisation's admin account: admin0
	org     string // its organisation: org0
	home    string
	host    string // what the other nodes dial: an IP or a host name
	listen  string // the IP its listeners bind
	p2p     int
	rpc     int
	metrics int
}

func (n testnetNode) p2pAddr() string { return net.JoinHostPort(n.host, strconv.Itoa(n.p2p)) }
func (n testnetNode) rpcListen() string {
	return "tcp://" + net.JoinHostPort(n.listen, strconv.Itoa(n.rpc))
}
func (n testnetNode) p2pListen() string {
	return "tcp://" + net.JoinHostPort(n.listen, strconv.Itoa(n.p2p))
}
func (n testnetNode) metricsListen() string {
	return net.JoinHostPort(n.listen, strconv.Itoa(n.metrics))
}
func (n testnetNode) metricsURL() string {
	return "http://" + net.JoinHostPort(n.host, strconv.Itoa(n.metrics)) + "/metrics"
}
func (n testnetNode) rpcURL() string {
	return "http://" + net.JoinHostPort(n.host, strconv.Itoa(n.rpc))
}

func newTestnetCmd(g *globals) *cobra.Command {
	o := testnetOptions{}
	cmd := &cobra.Command{
		Use:   "testnet --validators N --output DIR",
		Short: "Write the node homes of an N-validator network that shares one genesis",
		Long: `testnet writes N node homes, DIR/node0 … DIR/node{N-1}, for one chain. Each
home is a validator with its own validator and node keys; all share one
genesis in which:

  - each node has an organisation (org0, org1, …) whose account admin0,
    admin1, … holds the admin role, with its key in that node's keyring;
    admin0 also issues every --asset;
  - governance needs the admins of --gov-threshold organisations (default a
    majority, N/2+1), and a validator change may leave no fewer than
    --min-validators validators (default 1; CometBFT's rule that one change
    removes less than 1/3 of the voting power applies on top);
  - the p2p allowlist holds the N node ids, and every node filters peers
    against it (filter_peers = true) and keeps the other N-1 nodes as
    persistent peers.

Ports. On one host (the default, loopback) node i listens on 127.0.0.1 with
P2P 26656+100*i, RPC 26657+100*i and Prometheus 26660+100*i; --base-port
moves node 0's P2P port and the rest with it. Since every node shares one IP,
addr_book_strict is off and allow_duplicate_ip on.

For containers, --starting-ip puts node i on starting IP + i (or --hostnames
names each node's host), every node on the same ports (26656, 26657, 26660,
or from --base-port) and listening on 0.0.0.0: its RPC and metrics are then
open to whoever reaches the container.

Start each node with: consort start --home DIR/nodeI

Examples:
  consort testnet --validators 4 --output ./localnet --asset USD:2 --fund admin0=USD:1000.00
  consort testnet --validators 4 --output ./net --starting-ip 192.168.10.2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nodes, err := writeTestnet(o)
			if err != nil {
				return err
			}
			printTestnet(g.stdout, o, nodes)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.validators, "validators", 4, "number of validators, one node home each")
	// --output names a folder here; it shadows the global --output format.
	f.StringVar(&o.output, "output", "", "folder to write node0 … node{N-1} into (required)")
	f.StringVar(&o.chainID, "chain-id", defaultTestnetChainID, "chain id")
	f.StringVar(&o.startingIP, "starting-ip", "", "IPv4 address of node0; node i gets the i-th next address, all nodes the default ports (for containers)")
	f.StringSliceVar(&o.hostnames, "hostnames", nil, "host name of each node, in order (for containers; instead of --starting-ip)")
	f.IntVar(&o.basePort, "base-port", defaultTestnetBasePort, "P2P port of node0; RPC is base+1 and Prometheus base+4, and on one host node i adds 100*i")
	f.Uint32Var(&o.govThreshold, "gov-threshold", 0, "how many organisations' admins must approve a governance action (default: a majority, N/2+1)")
	f.Uint32Var(&o.minValidators, "min-validators", 1, "the fewest validators a validator change may leave")
	f.Uint32Var(&o.powBits, "pow-bits", 0, "proof-of-work stamp every transaction needs, in leading zero bits (0 = off)")
	f.StringArrayVar(&o.assets, "asset", nil, "asset to declare as ID:DECIMALS, issued by admin0, e.g. USD:2 (repeatable)")
	f.StringArrayVar(&o.funds, "fund", nil, "genesis coin as ACCOUNT=ASSET:AMOUNT, e.g. admin0=USD:1000.00 (repeatable)")
	f.DurationVar(&o.timeoutCommit, "timeout-commit", 0, "pause after each block (default: CometBFT's 1s)")
	return cmd
}

// majority is the default governance threshold of n organisations.
func majority(n int) uint32 { return uint32(n/2 + 1) }

// planTestnet checks o and lays out its nodes; it writes nothing.
func planTestnet(o testnetOptions) ([]testnetNode, error) {
	n := o.validators
	switch {
	case n < 1:
		return nil, fmt.Errorf("--validators %d: want at least 1", n)
	case o.output == "":
		return nil, fmt.Errorf("--output is required: the folder to write the node homes into")
	case o.chainID == "" || len(o.chainID) > cmttypes.MaxChainIDLen:
		return nil, fmt.Errorf("--chain-id %q: want 1 to %d characters", o.chainID, cmttypes.MaxChainIDLen)
	case o.startingIP != "" && len(o.hostnames) > 0:
		return nil, fmt.Errorf("--starting-ip and --hostnames: give one or the other")
	case len(o.hostnames) > 0 && len(o.hostnames) != n:
		return nil, fmt.Errorf("--hostnames: %d names for %d validators; want one per node", len(o.hostnames), n)
	case o.minValidators < 1 || int(o.minValidators) > n:
		return nil, fmt.Errorf("--min-validators %d: want 1 to %d (the number of validators)", o.minValidators, n)
	case o.powBits > app.MaxPowBits:
		return nil, fmt.Errorf("--pow-bits %d: at most %d", o.powBits, app.MaxPowBits)
	}
	threshold := o.govThreshold
	if threshold == 0 {
		threshold = majority(n)
	}
	if maxSigs := app.DefaultParams().MaxSignatures; int(threshold) > n || threshold > maxSigs {
		return nil, fmt.Errorf("--gov-threshold %d: want 1 to %d (one admin per organisation, at most %d signatures a transaction)", threshold, min(uint32(n), maxSigs), maxSigs)
	}
	sameHost := o.startingIP == "" && len(o.hostnames) == 0
	last := o.basePort + testnetMetricsOffset
	if sameHost {
		last += testnetPortStride * (n - 1)
	}
	if o.basePort < 1 || last > 65535 {
		return nil, fmt.Errorf("--base-port %d: the ports of %d nodes would run to %d; want ports 1 to 65535", o.basePort, n, last)
	}
	var ip net.IP
	if o.startingIP != "" {
		if ip = net.ParseIP(o.startingIP).To4(); ip == nil {
			return nil, fmt.Errorf("--starting-ip %q: want an IPv4 address, e.g. 192.168.10.2", o.startingIP)
		}
		if end := int(ip[3]) + n - 1; end > 254 {
			return nil, fmt.Errorf("--starting-ip %s: %d nodes would run past .254 of its /24", o.startingIP, n)
		}
	}
	nodes := make([]testnetNode, n)
	for i := range nodes {
		nd := testnetNode{
			name:    fmt.Sprintf("node%d", i),
			account: fmt.Sprintf("admin%d", i),
			org:     fmt.Sprintf("org%d", i),
			home:    filepath.Join(o.output, fmt.Sprintf("node%d", i)),
			host:    "127.0.0.1", listen: "127.0.0.1",
			p2p: o.basePort,
		}
		switch {
		case sameHost:
			nd.p2p += testnetPortStride * i
		case ip != nil:
			next := slices.Clone(ip)
			next[3] += byte(i)
			nd.host, nd.listen = next.String(), "0.0.0.0"
		default:
			nd.host, nd.listen = o.hostnames[i], "0.0.0.0"
		}
		nd.rpc, nd.metrics = nd.p2p+testnetRPCOffset, nd.p2p+testnetMetricsOffset
		if homeExists(nd.home) {
			return nil, fmt.Errorf("%s is already a node home; choose another --output or remove it", nd.home)
		}
		nodes[i] = nd
	}
	return nodes, nil
}

// writeTestnet writes the node homes of o. Everything that can be checked is
// checked before the first file is written.
func writeTestnet(o testnetOptions) ([]testnetNode, error) {
	nodes, err := planTestnet(o)
	if err != nil {
		return nil, err
	}
	accounts := make([]string, len(nodes))
	for i, n := range nodes {
		accounts[i] = n.account
	}
	assets, coins, err := genesisCoins(accounts[0], accounts, o.assets, o.funds)
	if err != nil {
		return nil, err
	}
	threshold := o.govThreshold
	if threshold == 0 {
		threshold = majority(len(nodes))
	}
	g := &app.Genesis{
		Params: &app.GenesisParams{GovernanceThreshold: threshold, MinValidators: o.minValidators},
		Assets: assets, UTXOs: coins,
	}
	if o.powBits > 0 {
		g.Params.Pow = &app.GenesisPow{DifficultyBits: o.powBits}
	}
	ids := make([]string, len(nodes))
	vals := make([]consensus.NetworkValidator, len(nodes))
	for i, n := range nodes {
		if ids[i], err = consensus.EnsureNodeKey(n.home); err != nil {
			return nil, err
		}
		pub, err := consensus.EnsureValidatorKey(n.home)
		if err != nil {
			return nil, err
		}
		vals[i] = consensus.NetworkValidator{Name: n.name, PubKey: pub}
		key, err := accountKey(n.home, n.account)
		if err != nil {
			return nil, err
		}
		roles := []string{"admin"}
		if i == 0 {
			roles = append(roles, "issuer")
		}
		g.Accounts = append(g.Accounts, app.GenesisAccount{Name: n.account, Organization: n.org, Roles: roles, Keys: []app.GenesisKey{key}})
		g.Validators = append(g.Validators, app.GenesisValidator{Name: n.name, PublicKey: base64.StdEncoding.EncodeToString(pub.Bytes()), Operator: n.account})
	}
	g.Nodes = ids
	appState, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return nil, err
	}
	doc, err := consensus.NetworkGenesis(o.chainID, vals, appState)
	if err != nil {
		return nil, err
	}
	for i, n := range nodes {
		var peers []string
		for j, other := range nodes {
			if j != i {
				peers = append(peers, ids[j]+"@"+other.p2pAddr())
			}
		}
		_, err := consensus.InitNetworkHome(consensus.HomeConfig{
			Home: n.home, Moniker: n.name,
			RPCListen: n.rpcListen(), P2PListen: n.p2pListen(), PrometheusListen: n.metricsListen(),
			TimeoutCommit: o.timeoutCommit,
		}, consensus.PeerConfig{
			PersistentPeers: peers, FilterPeers: true,
			SharedIP: o.startingIP == "" && len(o.hostnames) == 0,
		}, doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.name, err)
		}
	}
	return nodes, nil
}

// accountKey returns the public key of account in home's keyring, creating
// an ed25519 key if the keyring has none of that name.
func accountKey(home, account string) (app.GenesisKey, error) {
	kr, err := keyring.Open(keyringDir(home))
	if err != nil {
		return app.GenesisKey{}, err
	}
	info, err := kr.Show(account)
	if err != nil {
		if info, err = kr.Add(account, keyring.Ed25519); err != nil {
			return app.GenesisKey{}, fmt.Errorf("account %s: %w", account, err)
		}
	}
	return app.GenesisKey{Type: string(info.PublicKey.Type), PublicKey: base64.StdEncoding.EncodeToString(info.PublicKey.Bytes), Weight: 1}, nil
}

// genesisCoins parses --asset (ID:DECIMALS, issued by issuer) and --fund
// (ACCOUNT=ASSET:AMOUNT, owned by one of accounts).
func genesisCoins(issuer string, accounts, assetSpecs, fundSpecs []string) ([]app.GenesisAsset, []app.GenesisUTXO, error) {
	var assets []app.GenesisAsset
	decimals := map[string]uint32{}
	for _, spec := range assetSpecs {
		id, dec, ok := strings.Cut(spec, ":")
		d, err := strconv.ParseUint(dec, 10, 32)
		if !ok || err != nil {
			return nil, nil, fmt.Errorf("--asset %q: want ID:DECIMALS, e.g. USD:2", spec)
		}
		if err := app.ValidateAssetID(id); err != nil {
			return nil, nil, fmt.Errorf("--asset %q: %w", spec, err)
		}
		if _, dup := decimals[id]; dup {
			return nil, nil, fmt.Errorf("--asset %q: %s is declared twice", spec, id)
		}
		decimals[id] = uint32(d)
		assets = append(assets, app.GenesisAsset{ID: id, Decimals: uint32(d), Issuers: []app.GenesisIssuer{{Account: issuer}}})
	}
	var coins []app.GenesisUTXO
	for _, spec := range fundSpecs {
		owner, rest, ok1 := strings.Cut(spec, "=")
		asset, amount, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 {
			return nil, nil, fmt.Errorf("--fund %q: want ACCOUNT=ASSET:AMOUNT, e.g. admin0=USD:1000.00", spec)
		}
		if !slices.Contains(accounts, owner) {
			return nil, nil, fmt.Errorf("--fund %q: account %s is not one of %s … %s", spec, owner, accounts[0], accounts[len(accounts)-1])
		}
		d, known := decimals[asset]
		if !known {
			return nil, nil, fmt.Errorf("--fund %q: asset %s is not declared with --asset", spec, asset)
		}
		units, err := app.ParseAmount(amount, d)
		if err != nil {
			return nil, nil, fmt.Errorf("--fund %q: %w", spec, err)
		}
		coins = append(coins, app.GenesisUTXO{Owner: owner, Asset: asset, Amount: strconv.FormatUint(units, 10)})
	}
	return assets, coins, nil
}

// printTestnet tells where each node is and how to start it.
func printTestnet(w io.Writer, o testnetOptions, nodes []testnetNode) {
	threshold := o.govThreshold
	if threshold == 0 {
		threshold = majority(len(nodes))
	}
	fmt.Fprintf(w, "wrote %d validator homes of chain %s in %s\n", len(nodes), o.chainID, o.output)
	fmt.Fprintf(w, "governance: admins of %d of %d organisations; min validators %d\n", threshold, len(nodes), o.minValidators)
	for _, n := range nodes {
		fmt.Fprintf(w, "  %s  rpc %s  p2p %s  metrics %s  account %s (%s)\n", n.name, n.rpcURL(), n.p2pAddr(), n.metricsURL(), n.account, n.org)
	}
	fmt.Fprintf(w, "start each node with: consort start --home %s\n", filepath.Join(o.output, "node<i>"))
}
