package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	cmtcrypto "github.com/cometbft/cometbft/crypto"
	"github.com/spf13/cobra"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/certs/keyring"
	"github.com/consort-ledger/consort/consensus"
)

// initOptions describe a new single-validator home and its genesis ledger.
type initOptions struct {
	chainID       string
	moniker       string
	accounts      []string // the first one issues every asset
	admins        []string // accounts with the admin role (default: the first account)
	govThreshold  uint32   // organisations whose admins must approve governance (default 1)
	powBits       uint32   // pow.difficulty_bits: leading zero bits of the stamp (0 = off)
	assets        []string // ID:DECIMALS
	funds         []string // ACCOUNT=ASSET:AMOUNT
	rpcListen     string
	p2pListen     string
	metricsListen string
	timeoutCommit time.Duration
	// validatorKey is the genesis validator's key when it is not the home's
	// key file (start --dev --signer vault: the Vault key's version 1).
	validatorKey cmtcrypto.PubKey
}

// devOptions is the dev chain of DESIGN.md: chain consort-dev, USD with 2
// decimals, admin (admin + issuer), alice and bob; alice holds 1,000,000.00.
func devOptions() initOptions {
	return initOptions{
		chainID:  "consort-dev",
		moniker:  "dev-validator",
		accounts: []string{"admin", "alice", "bob"},
		admins:   []string{"admin"},
		assets:   []string{"USD:2"},
		funds:    []string{"alice=USD:1000000.00"},
	}
}

func newInitCmd(g *globals) *cobra.Command {
	o := initOptions{}
	cmd := &cobra.Command{
		Use:   "init --chain-id ID",
		Short: "Make a node home: config, genesis, validator and node keys, account keys",
		Long: `init makes a one-validator node home in --home: CometBFT's config/ and data/,
a genesis whose ledger registers --accounts (their ed25519 keys are created in
the home's keyring, or reused if already there), declares --asset and funds
--fund, and the validator and node keys (files readable by their owner only).
Each account is its own organisation. --admins hold the admin role (every
governance permission); the first account issues every asset; the others are
members (they may transfer). Governance actions need admins of
--gov-threshold organisations.

Example:
  consort init --home ./h --chain-id bank-net --accounts admin,alice,bob \
      --asset USD:2 --fund alice=USD:1000.00`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.chainID == "" {
				return fmt.Errorf("--chain-id is required")
			}
			if _, err := initHome(g.home, o); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "initialised %s for chain %s\n", g.home, o.chainID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.chainID, "chain-id", "", "chain id, bound into every transaction (required)")
	f.StringVar(&o.moniker, "moniker", "", "this node's name (default: host name)")
	f.StringSliceVar(&o.accounts, "accounts", []string{"admin"}, "accounts to register; the first issues every asset")
	f.StringSliceVar(&o.admins, "admins", nil, "accounts that hold the admin role (default: the first account)")
	f.Uint32Var(&o.govThreshold, "gov-threshold", 1, "how many organisations' admins must approve a governance action")
	f.Uint32Var(&o.powBits, "pow-bits", 0, "proof-of-work stamp every transaction needs, in leading zero bits (0 = off)")
	f.StringArrayVar(&o.assets, "asset", nil, "asset to declare as ID:DECIMALS, e.g. USD:2 (repeatable)")
	f.StringArrayVar(&o.funds, "fund", nil, "genesis coin as ACCOUNT=ASSET:AMOUNT, e.g. alice=USD:1000.00 (repeatable)")
	addListenFlags(f, &o)
	return cmd
}

type flagSet interface {
	Uint32Var(p *uint32, name string, value uint32, usage string)
	StringVar(p *string, name, value, usage string)
	DurationVar(p *time.Duration, name string, value time.Duration, usage string)
}

func addListenFlags(f flagSet, o *initOptions) {
	f.StringVar(&o.rpcListen, "rpc-laddr", "", "RPC listen address (default "+consensus.DefaultRPCListen+")")
	f.StringVar(&o.p2pListen, "p2p-laddr", "", "P2P listen address (default "+consensus.DefaultP2PListen+")")
	f.StringVar(&o.metricsListen, "metrics-laddr", "", "Prometheus listen address (default "+consensus.DefaultPrometheusListen+")")
	f.DurationVar(&o.timeoutCommit, "timeout-commit", 0, "pause after each block (default: CometBFT's 1s)")
}

// initHome creates the keys and the home. It writes nothing if the genesis
// cannot be built.
func initHome(home string, o initOptions) (string, error) {
	if homeExists(home) {
		return "", fmt.Errorf("%s is already initialised; use another --home or `consort start --home %s`", home, home)
	}
	kr, err := keyring.Open(keyringDir(home))
	if err != nil {
		return "", err
	}
	genesis, err := buildGenesis(kr, o)
	if err != nil {
		return "", err
	}
	// This node is on the genesis allowlist, for networks that filter peers.
	nodeID, err := consensus.EnsureNodeKey(home)
	if err != nil {
		return "", err
	}
	genesis.Nodes = append(genesis.Nodes, nodeID)
	// The validator key is made now (InitHome keeps it) so that the ledger's
	// validator record can name the validator and the account that runs it.
	valKey, err := consensus.EnsureValidatorKey(home)
	if err != nil {
		return "", err
	}
	if o.validatorKey != nil {
		valKey = o.validatorKey
	}
	name := o.moniker
	if name == "" {
		name = "validator"
	}
	operator := o.accounts[0]
	if len(o.admins) > 0 {
		operator = o.admins[0]
	}
	genesis.Validators = append(genesis.Validators, app.GenesisValidator{Name: name, PublicKey: base64.StdEncoding.EncodeToString(valKey.Bytes()), Operator: operator})
	appState, err := json.MarshalIndent(genesis, "", "  ")
	if err != nil {
		return "", err
	}
	_, err = consensus.InitHome(consensus.HomeConfig{
		Home: home, ChainID: o.chainID, Moniker: o.moniker,
		RPCListen: o.rpcListen, P2PListen: o.p2pListen, PrometheusListen: o.metricsListen,
		TimeoutCommit: o.timeoutCommit, AppState: appState, ValidatorKey: o.validatorKey,
	})
	return o.chainID, err
}

func buildGenesis(kr *keyring.Keyring, o initOptions) (*app.Genesis, error) {
	if len(o.accounts) == 0 {
		return nil, fmt.Errorf("--accounts: at least one account is needed")
	}
	g := &app.Genesis{Params: &app.GenesisParams{GovernanceThreshold: o.govThreshold, Pow: &app.GenesisPow{DifficultyBits: o.powBits}}}
	if o.powBits > app.MaxPowBits {
		return nil, fmt.Errorf("--pow-bits %d: at most %d", o.powBits, app.MaxPowBits)
	}
	issuer := o.accounts[0]
	admins := o.admins
	if len(admins) == 0 {
		admins = []string{issuer}
	}
	for _, a := range admins {
		if !slices.Contains(o.accounts, a) {
			return nil, fmt.Errorf("--admins: %s is not one of --accounts", a)
		}
	}
	for _, name := range o.accounts {
		info, err := kr.Show(name)
		if err != nil {
			if info, err = kr.Add(name, keyring.Ed25519); err != nil {
				return nil, fmt.Errorf("account %s: %w", name, err)
			}
		}
		roles := []string{"member"}
		if slices.Contains(admins, name) {
			roles = []string{"admin"}
		}
		if name == issuer {
			roles = append(roles, "issuer")
		}
		g.Accounts = append(g.Accounts, app.GenesisAccount{
			Name: name, Organization: name, Roles: roles,
			Keys: []app.GenesisKey{{Type: string(info.PublicKey.Type), PublicKey: base64.StdEncoding.EncodeToString(info.PublicKey.Bytes), Weight: 1}},
		})
	}
	decimals := map[string]uint32{}
	for _, spec := range o.assets {
		id, dec, ok := strings.Cut(spec, ":")
		var d uint32
		if _, err := fmt.Sscanf(dec, "%d", &d); !ok || err != nil {
			return nil, fmt.Errorf("--asset %q: want ID:DECIMALS, e.g. USD:2", spec)
		}
		if err := app.ValidateAssetID(id); err != nil {
			return nil, fmt.Errorf("--asset %q: %w", spec, err)
		}
		decimals[id] = d
		g.Assets = append(g.Assets, app.GenesisAsset{ID: id, Decimals: d, Issuers: []app.GenesisIssuer{{Account: issuer}}})
	}
	for _, spec := range o.funds {
		owner, rest, ok1 := strings.Cut(spec, "=")
		asset, amount, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("--fund %q: want ACCOUNT=ASSET:AMOUNT, e.g. alice=USD:1000.00", spec)
		}
		d, known := decimals[asset]
		if !known {
			return nil, fmt.Errorf("--fund %q: asset %s is not declared with --asset", spec, asset)
		}
		units, err := app.ParseAmount(amount, d)
		if err != nil {
			return nil, fmt.Errorf("--fund %q: %w", spec, err)
		}
		g.UTXOs = append(g.UTXOs, app.GenesisUTXO{Owner: owner, Asset: asset, Amount: fmt.Sprint(units)})
	}
	return g, nil
}

// printDevBanner tells a new user where the chain is and what to try.
func printDevBanner(w io.Writer, home, chainID, rpc string) {
	fmt.Fprintf(w, `consort dev chain
  home:     %s
  chain id: %s
  rpc:      %s
try, in another shell:
  consort tx send --home %s --from alice --to bob --asset USD --amount 100.00
  consort query balance bob --asset USD --home %s
`, home, chainID, rpc, home, home)
}
