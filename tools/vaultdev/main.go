// Command vaultdev is a development and test server for consort's Vault
// integration. It serves Vault's HTTP API (the /v1/ paths, token headers,
// response envelope and status codes that github.com/hashicorp/vault/api
// expects) in front of Vault's own engines used as libraries: transit, KV
// version 2 and AppRole from Vault 1.19.5. It is not Vault: no seal, no HA,
// no audit device, and its storage is not encrypted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	hclog "github.com/hashicorp/go-hclog"
)

const usage = `vaultdev: a development and test server for consort's Vault integration.

Usage:
  vaultdev --listen 127.0.0.1:8200 --root-token TOKEN [--data DIR]

vaultdev serves Vault's HTTP API (/v1/..., X-Vault-Token, Vault's JSON
envelope and status codes) in front of Vault's own engines, used as Go
libraries from Vault ` + engineVersion + `: transit (mounted at transit/), KV version 2
(secret/) and AppRole (auth/approle/). More transit and kv mounts and approle
auth mounts can be enabled through sys/mounts and sys/auth. It also has a token
store (the root token, AppRole logins, auth/token/create, lookup, renew,
revoke) and ACL policies (sys/policy) that are enforced for every non-root
token.

It is NOT Vault and not for production: there is no seal and no unseal, no HA,
no audit device, no response wrapping, no namespaces, and the storage is NOT
encrypted (with --data every entry is a plain file, mode 0600, in DIR).
Without --data everything is kept in memory and lost on exit.

It prints "vaultdev listening on http://ADDR" once it accepts requests, logs
each request's method, path and status (never tokens or bodies) to stderr,
and stops cleanly on SIGTERM or SIGINT.

Flags:
`

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("vaultdev", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	listen := fs.String("listen", "127.0.0.1:8200", "address to listen on (host:port; port 0 picks a free port)")
	rootToken := fs.String("root-token", "", "the root token (required); also read from VAULTDEV_ROOT_TOKEN")
	dataDir := fs.String("data", "", "directory keeping every storage entry durably (default: memory only)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "vaultdev: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *rootToken == "" {
		*rootToken = os.Getenv("VAULTDEV_ROOT_TOKEN")
	}
	if *rootToken == "" {
		fmt.Fprintln(os.Stderr, "vaultdev: --root-token is required")
		return 2
	}

	logger := hclog.New(&hclog.LoggerOptions{Name: "vaultdev", Output: os.Stderr, Level: hclog.Info})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	st, err := openStore(*dataDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vaultdev: %v\n", err)
		return 1
	}
	srv, err := newServer(ctx, st, *rootToken, logger)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vaultdev: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vaultdev: %v\n", err)
		return 1
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go srv.rollbackLoop(ctx)

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Printf("vaultdev listening on http://%s\n", ln.Addr().String())

	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGTERM, syscall.SIGINT)
	select {
	case sig := <-sigc:
		logger.Info("stopping", "signal", sig.String())
	case err := <-errc:
		fmt.Fprintf(os.Stderr, "vaultdev: %v\n", err)
		return 1
	}
	shutdownCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		logger.Warn("shutdown", "error", err)
	}
	cancel()
	srv.mu.Lock()
	for _, m := range srv.mounts {
		m.backend.Cleanup(context.Background())
	}
	srv.mu.Unlock()
	return 0
}
