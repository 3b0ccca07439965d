package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/certs/vault"
	"github.com/consort-ledger/consort/internal/vaulttest"
)

// TestVaultScripts runs the scenarios of testdata/vault against a Vault dev
// server (or the real Vault named by VAULT_ADDR and VAULT_TOKEN), which the
// scripts reach through VAULT_ADDR and VAULT_TOKEN like the CLI's users.
func TestVaultScripts(t *testing.T) {
	srv := vaulttest.Start(t)
	srv.EnsureMounts(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/vault",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			names := []string{"RPC_PORT", "P2P_PORT", "METRICS_PORT", "DEAD_PORT"}
			ports, err := listenFreePorts(len(names))
			if err != nil {
				return err
			}
			for i, name := range names {
				env.Setenv(name, strconv.Itoa(ports[i]))
			}
			env.Setenv("CONSORT_HOME", env.WorkDir+"/default-home")
			env.Setenv("VAULT_ADDR", srv.Addr())
			env.Setenv("VAULT_TOKEN", srv.Token())
			b := make([]byte, 4)
			rand.Read(b)
			env.Setenv("SUFFIX", hex.EncodeToString(b))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitrpc": cmdWaitRPC,
			"mode":    cmdMode,
			"vault":   cmdVault,
		},
	})
}

// cmdVault: vault rotate MOUNT/keys/KEY | vault min-version MOUNT/keys/KEY N
// does what an operator does with the Vault CLI, as $VAULT_TOKEN.
func cmdVault(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: vault rotate KEY | vault min-version KEY N")
	}
	cfg := vault.ConfigFromEnv(ts.Getenv)
	c, err := vault.New(context.Background(), cfg, zerolog.Nop())
	ts.Check(err)
	defer c.Close()
	mount, name, err := vault.ParseTransitPath(args[1])
	ts.Check(err)
	key := c.TransitAt(mount, name)
	switch {
	case args[0] == "rotate" && len(args) == 2:
		v, err := key.Rotate(context.Background())
		ts.Check(err)
		ts.Logf("%s: version %d", key.Path(), v)
	case args[0] == "min-version" && len(args) == 3:
		v, err := strconv.Atoi(args[2])
		ts.Check(err)
		ts.Check(key.SetMinEncryptionVersion(context.Background(), v))
	default:
		ts.Fatalf("usage: vault rotate KEY | vault min-version KEY N")
	}
}
