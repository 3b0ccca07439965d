package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/consort-ledger/consort/certs/keyring"
	"github.com/consort-ledger/consort/client"
	"github.com/consort-ledger/consort/consensus"
)

// The parts of a node home that consort adds to CometBFT's config/ and data/.
func keyringDir(home string) string { return filepath.Join(home, "keyring") }
func appDataDir(home string) string { return filepath.Join(home, "data", "app") }

func homeExists(home string) bool {
	_, err := os.Stat(filepath.Join(home, "config", "genesis.json"))
	return err == nil
}

func (g *globals) keyring() (*keyring.Keyring, error) { return keyring.Open(keyringDir(g.home)) }

// client connects to --node, else to the RPC address in the home's config,
// else to the default address.
func (g *globals) client() (*client.Client, error) {
	cfg := client.DefaultConfig()
	cfg.Node = g.node
	if cfg.Node == "" && homeExists(g.home) {
		if conf, err := consensus.LoadConfig(g.home); err == nil {
			cfg.Node = rpcURL(conf.RPC.ListenAddress)
		}
	}
	if cfg.Node == "" {
		cfg.Node = client.DefaultNode
	}
	return client.New(cfg)
}

// rpcURL turns a listen address (tcp://0.0.0.0:26657) into a URL to dial.
func rpcURL(laddr string) string {
	u, err := url.Parse(laddr)
	if err != nil || u.Host == "" {
		return client.DefaultNode
	}
	host := u.Host
	if strings.HasPrefix(host, "0.0.0.0:") {
		host = "127.0.0.1:" + strings.TrimPrefix(host, "0.0.0.0:")
	}
	return fmt.Sprintf("http://%s", host)
}
