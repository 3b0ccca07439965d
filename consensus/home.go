package consensus

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmtcrypto "github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/p2p"
	cmttypes "github.com/cometbft/cometbft/types"
	cmttime "github.com/cometbft/cometbft/types/time"
	"github.com/spf13/viper"
)

// Defaults applied by InitHome to empty HomeConfig fields.
const (
	DefaultRPCListen        = "tcp://127.0.0.1:26657"
	DefaultP2PListen        = "tcp://127.0.0.1:26656"
	DefaultPrometheusListen = "127.0.0.1:26660"
)

// validatorPower is the voting power of the single genesis validator. Its
// value does not matter alone; later validators are weighed against it.
const validatorPower = 10

// keyFileMode keeps key files readable by their owner only.
const keyFileMode fs.FileMode = 0o600

// HomeConfig describes a node home for InitHome.
type HomeConfig struct {
	// Home is the node's root folder; config/ and data/ go under it. Required.
	Home string
	// ChainID names the chain; it goes into genesis and every signature.
	// Required, at most 50 characters.
	ChainID string
	// Moniker is the node's human-readable name, also used as the genesis
	// validator's name. Default: CometBFT's default (the host name).
	Moniker string
	// RPCListen is where the CometBFT RPC listens.
	// Default: DefaultRPCListen ("tcp://127.0.0.1:26657").
	RPCListen string
	// P2PListen is where the node listens for peers. Default: DefaultP2PListen
	// ("tcp://127.0.0.1:26656"), loopback so a dev node is not reachable from
	// the network; a real validator sets "tcp://0.0.0.0:26656".
	P2PListen string
	// PrometheusListen is where /metrics is served.
	// Default: DefaultPrometheusListen ("127.0.0.1:26660").
	PrometheusListen string
	// TimeoutCommit is how long the node waits after a commit before the next
	// height. Default (0): CometBFT's default (1s).
	TimeoutCommit time.Duration
	// AppState is the application's genesis state, stored as genesis.json's
	// app_state (re-indented, otherwise unchanged). Default: empty (none).
	AppState json.RawMessage
	// ValidatorKey is the genesis validator's public key when the key lives
	// elsewhere (a Vault transit key). Default nil: the home's key file.
	// The key file is made either way.
	ValidatorKey cmtcrypto.PubKey
}

// InitHome creates a node home: config/config.toml, the node key, the
// validator key and state, and a genesis with this node as sole validator.
// It refuses a home that already has a genesis, so it never replaces the
// identity of an existing chain. It returns the config it wrote.
func InitHome(cfg HomeConfig) (*cmtcfg.Config, error) {
	conf, err := homeConfig(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(conf.GenesisFile()); err == nil {
		return nil, fmt.Errorf("home %s is already initialised: %s exists", conf.RootDir, conf.GenesisFile())
	}
	for _, dir := range []string{conf.RootDir, filepath.Dir(conf.GenesisFile()), conf.DBDir()} {
		if err := os.MkdirAll(dir, cmtcfg.DefaultDirPerm); err != nil {
			return nil, fmt.Errorf("create home folder: %w", err)
		}
	}
	if err := writeConfigFile(conf); err != nil {
		return nil, err
	}
	if _, err := p2p.LoadOrGenNodeKey(conf.NodeKeyFile()); err != nil {
		return nil, fmt.Errorf("create node key: %w", err)
	}
	pv, err := loadOrGenFilePV(conf)
	if err != nil {
		return nil, err
	}
	// The key writers use 0600 on create only; a key file that was already
	// there keeps its old mode, so tighten it.
	for _, f := range []string{conf.NodeKeyFile(), conf.PrivValidatorKeyFile()} {
		if err := os.Chmod(f, keyFileMode); err != nil {
			return nil, fmt.Errorf("restrict key file: %w", err)
		}
	}
	valKey := cfg.ValidatorKey
	if valKey == nil {
		if valKey, err = pv.GetPubKey(); err != nil {
			return nil, fmt.Errorf("read validator public key: %w", err)
		}
	}
	// Genesis is written last: its presence marks a finished home.
	if err := writeGenesis(conf, cfg, valKey); err != nil {
		return nil, err
	}
	return conf, nil
}

// EnsureNodeKey creates the home's p2p node key if it does not exist yet
// and returns the node id, so that a genesis can list the node on its
// allowlist before InitHome writes it. InitHome keeps the key.
func EnsureNodeKey(home string) (string, error) {
	conf := cmtcfg.DefaultConfig()
	conf.SetRoot(home)
	if err := os.MkdirAll(filepath.Dir(conf.NodeKeyFile()), cmtcfg.DefaultDirPerm); err != nil {
		return "", fmt.Errorf("create home folder: %w", err)
	}
	key, err := p2p.LoadOrGenNodeKey(conf.NodeKeyFile())
	if err != nil {
		return "", fmt.Errorf("create node key: %w", err)
	}
	if err := os.Chmod(conf.NodeKeyFile(), keyFileMode); err != nil {
		return "", fmt.Errorf("restrict key file: %w", err)
	}
	return string(key.ID()), nil
}

// LoadConfig reads the config of a home made by InitHome.
func LoadConfig(home string) (*cmtcfg.Config, error) {
	root, err := filepath.Abs(home)
	if err != nil {
		return nil, fmt.Errorf("resolve home %q: %w", home, err)
	}
	file := filepath.Join(root, cmtcfg.DefaultConfigDir, cmtcfg.DefaultConfigFileName)
	if err := mustExist(root, file); err != nil {
		return nil, err
	}
	// A private viper instance: the global one is shared process state.
	v := viper.New()
	v.SetConfigFile(file)
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	conf := cmtcfg.DefaultConfig()
	if err := v.Unmarshal(conf); err != nil {
		return nil, fmt.Errorf("decode %s: %w", file, err)
	}
	conf.SetRoot(root)
	if err := conf.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("invalid %s: %w", file, err)
	}
	// InitHome writes genesis last, so without it the home is unfinished.
	if err := mustExist(root, conf.GenesisFile()); err != nil {
		return nil, err
	}
	return conf, nil
}

// mustExist reports a missing file of home as an uninitialised home.
func mustExist(home, file string) error {
	if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("home %s is not initialised (no %s): run consort init", home, file)
	}
	return nil
}

// homeConfig checks cfg and turns it into the CometBFT config to write.
func homeConfig(cfg HomeConfig) (*cmtcfg.Config, error) {
	if cfg.Home == "" {
		return nil, errors.New("home folder is required")
	}
	if cfg.ChainID == "" || len(cfg.ChainID) > cmttypes.MaxChainIDLen {
		return nil, fmt.Errorf("chain id %q must be 1 to %d characters", cfg.ChainID, cmttypes.MaxChainIDLen)
	}
	if cfg.TimeoutCommit < 0 {
		return nil, fmt.Errorf("timeout commit %v must not be negative", cfg.TimeoutCommit)
	}
	if len(cfg.AppState) > 0 && !json.Valid(cfg.AppState) {
		return nil, errors.New("app state is not valid json")
	}
	root, err := filepath.Abs(cfg.Home)
	if err != nil {
		return nil, fmt.Errorf("resolve home %q: %w", cfg.Home, err)
	}
	conf := cmtcfg.DefaultConfig().SetRoot(root)
	if cfg.Moniker != "" {
		conf.Moniker = cfg.Moniker
	}
	conf.RPC.ListenAddress = orDefault(cfg.RPCListen, DefaultRPCListen)
	conf.P2P.ListenAddress = orDefault(cfg.P2PListen, DefaultP2PListen)
	conf.Mempool.Type = cmtcfg.MempoolTypeFlood
	conf.Instrumentation.Prometheus = true
	conf.Instrumentation.PrometheusListenAddr = orDefault(cfg.PrometheusListen, DefaultPrometheusListen)
	if cfg.TimeoutCommit > 0 {
		conf.Consensus.TimeoutCommit = cfg.TimeoutCommit
	}
	if err := conf.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("invalid node config: %w", err)
	}
	return conf, nil
}

// writeConfigFile writes config.toml. cmtcfg.WriteConfigFile exits the
// process if the write fails, so the file is created here first: a folder we
// cannot write to becomes an error instead.
func writeConfigFile(conf *cmtcfg.Config) error {
	file := filepath.Join(conf.RootDir, cmtcfg.DefaultConfigDir, cmtcfg.DefaultConfigFileName)
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create config file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create config file: %w", err)
	}
	cmtcfg.WriteConfigFile(file, conf)
	return nil
}

// writeGenesis writes a genesis with pubKey as the only validator.
func writeGenesis(conf *cmtcfg.Config, cfg HomeConfig, pubKey cmtcrypto.PubKey) error {
	doc := cmttypes.GenesisDoc{
		GenesisTime:     cmttime.Now(),
		ChainID:         cfg.ChainID,
		ConsensusParams: cmttypes.DefaultConsensusParams(),
		Validators: []cmttypes.GenesisValidator{{
			Address: pubKey.Address(),
			PubKey:  pubKey,
			Power:   validatorPower,
			Name:    conf.Moniker,
		}},
		AppState: cfg.AppState,
	}
	if err := doc.ValidateAndComplete(); err != nil {
		return fmt.Errorf("invalid genesis: %w", err)
	}
	if err := doc.SaveAs(conf.GenesisFile()); err != nil {
		return fmt.Errorf("write genesis: %w", err)
	}
	return nil
}

// orDefault returns v, or def when v is empty.
func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
