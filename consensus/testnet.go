package consensus

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmtcrypto "github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/p2p"
	cmttypes "github.com/cometbft/cometbft/types"
	cmttime "github.com/cometbft/cometbft/types/time"
)

// NetworkValidator is one validator of a network's genesis.
type NetworkValidator struct {
	// Name is the validator's name in genesis.json, usually its moniker.
	Name string
	// PubKey is the validator's consensus key, from EnsureValidatorKey.
	PubKey cmtcrypto.PubKey
}

// PeerConfig is how a node of a network finds and admits its peers.
type PeerConfig struct {
	// PersistentPeers are the id@host:port addresses the node dials and keeps
	// connected (config.toml's persistent_peers). Default: none.
	PersistentPeers []string
	// FilterPeers makes the node ask the application about every peer, so
	// only nodes on the ledger's allowlist connect. Default: false.
	FilterPeers bool
	// SharedIP says that every node of the network listens on one IP (a
	// network on loopback): CometBFT then needs addr_book_strict = false and
	// allow_duplicate_ip = true to accept the others. Default: false, which
	// keeps CometBFT's defaults (strict, one peer per IP).
	SharedIP bool
}

// EnsureValidatorKey creates the home's validator key and sign state if
// they do not exist yet and returns the public key, so that a genesis of
// several validators can list every home's key before InitNetworkHome
// writes it into each home. InitNetworkHome (and InitHome) keep the key.
func EnsureValidatorKey(home string) (cmtcrypto.PubKey, error) {
	conf := cmtcfg.DefaultConfig()
	conf.SetRoot(home)
	for _, f := range []string{conf.PrivValidatorKeyFile(), conf.PrivValidatorStateFile()} {
		if err := os.MkdirAll(filepath.Dir(f), cmtcfg.DefaultDirPerm); err != nil {
			return nil, fmt.Errorf("create home folder: %w", err)
		}
	}
	pv, err := loadOrGenFilePV(conf)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(conf.PrivValidatorKeyFile(), keyFileMode); err != nil {
		return nil, fmt.Errorf("restrict key file: %w", err)
	}
	pub, err := pv.GetPubKey()
	if err != nil {
		return nil, fmt.Errorf("read validator public key: %w", err)
	}
	return pub, nil
}

// NetworkGenesis builds the genesis shared by every node of a network:
// chain chainID, vals as validators of equal voting power, and appState as
// the application's state. Every home of the network must get this same
// document (the same genesis time included): InitNetworkHome writes it.
func NetworkGenesis(chainID string, vals []NetworkValidator, appState []byte) (*cmttypes.GenesisDoc, error) {
	if len(vals) == 0 {
		return nil, errors.New("network genesis: no validators")
	}
	doc := &cmttypes.GenesisDoc{
		GenesisTime:     cmttime.Now(),
		ChainID:         chainID,
		ConsensusParams: cmttypes.DefaultConsensusParams(),
		AppState:        appState,
	}
	for _, v := range vals {
		if v.PubKey == nil {
			return nil, fmt.Errorf("network genesis: validator %s has no public key", v.Name)
		}
		doc.Validators = append(doc.Validators, cmttypes.GenesisValidator{
			Address: v.PubKey.Address(), PubKey: v.PubKey, Power: validatorPower, Name: v.Name,
		})
	}
	if err := doc.ValidateAndComplete(); err != nil {
		return nil, fmt.Errorf("invalid network genesis: %w", err)
	}
	return doc, nil
}

// InitNetworkHome is InitHome for one node of a network: it writes the
// home's config (cfg's listen addresses, moniker and timeout commit, with
// peers applied), keeps or creates its node and validator keys, and saves
// genesis as the home's genesis.json. cfg.ChainID must be empty or match
// genesis; cfg.AppState must be empty (genesis carries the app state). Like
// InitHome it refuses a home that already has a genesis.
func InitNetworkHome(cfg HomeConfig, peers PeerConfig, genesis *cmttypes.GenesisDoc) (*cmtcfg.Config, error) {
	switch {
	case genesis == nil:
		return nil, errors.New("network home: genesis is required")
	case cfg.ChainID != "" && cfg.ChainID != genesis.ChainID:
		return nil, fmt.Errorf("network home: chain id %q differs from the genesis chain id %q", cfg.ChainID, genesis.ChainID)
	case len(cfg.AppState) > 0:
		return nil, errors.New("network home: app state comes from the genesis, not the home config")
	}
	cfg.ChainID = genesis.ChainID
	conf, err := homeConfig(cfg)
	if err != nil {
		return nil, err
	}
	for _, p := range peers.PersistentPeers {
		if err := checkPeerAddress(p); err != nil {
			return nil, fmt.Errorf("persistent peer %q: want id@host:port: %w", p, err)
		}
	}
	conf.P2P.PersistentPeers = strings.Join(peers.PersistentPeers, ",")
	conf.FilterPeers = peers.FilterPeers
	if peers.SharedIP {
		conf.P2P.AddrBookStrict = false
		conf.P2P.AllowDuplicateIP = true
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
	if _, err := loadOrGenFilePV(conf); err != nil {
		return nil, err
	}
	for _, f := range []string{conf.NodeKeyFile(), conf.PrivValidatorKeyFile()} {
		if err := os.Chmod(f, keyFileMode); err != nil {
			return nil, fmt.Errorf("restrict key file: %w", err)
		}
	}
	// Genesis is written last: its presence marks a finished home.
	if err := genesis.SaveAs(conf.GenesisFile()); err != nil {
		return nil, fmt.Errorf("write genesis: %w", err)
	}
	return conf, nil
}

// checkPeerAddress checks the form id@host:port without resolving host: a
// network made for containers names hosts that exist only inside the
// containers' network.
func checkPeerAddress(addr string) error {
	id, hostPort, ok := strings.Cut(addr, "@")
	if !ok {
		return errors.New("no node id")
	}
	if b, err := hex.DecodeString(id); err != nil || len(b) != p2p.IDByteLength {
		return fmt.Errorf("node id %q is not %d hex bytes", id, p2p.IDByteLength)
	}
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return err
	}
	if host == "" {
		return errors.New("empty host")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("port %q is not 1 to 65535", port)
	}
	return nil
}
