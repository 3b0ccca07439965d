package vaulttest

import (
	"net/http"
	"os"
	"testing"
)

// A dev server starts healthy, answers with its root token, refuses a wrong
// token, and keeps a KV v2 value across a graceful stop, a kill and restarts.
func TestStartStopRestartKeepsKV(t *testing.T) {
	v := Start(t)
	v.EnsureMounts(t)

	resp, err := http.Get(v.Addr() + "/v1/sys/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sys/health: status %d", resp.StatusCode)
	}

	if st, out, err := request(v.Addr(), "not-the-token", "GET", "secret/data/nothing", nil); err != nil || st != http.StatusForbidden {
		t.Fatalf("a wrong token: status %d, %v %v; want 403", st, err, out)
	}

	st, out, err := v.Request("POST", "secret/data/vaulttest/kept", map[string]any{"data": map[string]any{"height": "42"}})
	if err != nil || st != http.StatusOK {
		t.Fatalf("KV write: status %d, %v %v", st, err, out)
	}

	read := func() string {
		t.Helper()
		st, out, err := v.Request("GET", "secret/data/vaulttest/kept", nil)
		if err != nil || st != http.StatusOK {
			t.Fatalf("KV read: status %d, %v %v", st, err, out)
		}
		data, _ := out["data"].(map[string]any)
		inner, _ := data["data"].(map[string]any)
		s, _ := inner["height"].(string)
		return s
	}
	if got := read(); got != "42" {
		t.Fatalf("KV read: height %q, want 42", got)
	}
	if v.Real() {
		t.Skip("the rest needs the dev server")
	}
	addr := v.Addr()

	v.Stop()
	if _, err := http.Get(addr + "/v1/sys/health"); err == nil {
		t.Fatal("the server still answers after Stop")
	}
	v.Restart()
	if v.Addr() != addr {
		t.Fatalf("restarted on %s, want the same address %s", v.Addr(), addr)
	}
	if got := read(); got != "42" {
		t.Fatalf("after a restart: height %q, want 42", got)
	}

	st, out, err = v.Request("POST", "secret/data/vaulttest/kept", map[string]any{"data": map[string]any{"height": "43"}})
	if err != nil || st != http.StatusOK {
		t.Fatalf("KV write: status %d, %v %v", st, err, out)
	}
	v.Kill()
	v.Restart()
	if got := read(); got != "43" {
		t.Fatalf("after a kill and restart: height %q, want 43", got)
	}
}

// With VAULT_ADDR and VAULT_TOKEN set, Start uses that Vault (here another
// dev server standing in for a real one) and skips what needs the dev
// server.
func TestRealVaultFromEnvironment(t *testing.T) {
	if os.Getenv("VAULT_ADDR") != "" && os.Getenv("VAULT_TOKEN") != "" {
		t.Skip("already running against a real Vault")
	}
	backing := Start(t)
	t.Setenv("VAULT_ADDR", backing.Addr()+"/")
	t.Setenv("VAULT_TOKEN", backing.Token())
	ok := t.Run("real", func(t *testing.T) {
		v := Start(t)
		if !v.Real() || v.Addr() != backing.Addr() || v.Token() != backing.Token() {
			t.Fatalf("Start did not use VAULT_ADDR/VAULT_TOKEN: real %v addr %s", v.Real(), v.Addr())
		}
		v.EnsureMounts(t)
		if st, _, err := v.Request("GET", "transit/keys?list=true", nil); err != nil || (st != http.StatusOK && st != http.StatusNotFound) {
			t.Fatalf("request through the real Vault: %d %v", st, err)
		}
		v.Restart()
		t.Fatal("Restart of a real Vault did not skip")
	})
	if !ok {
		t.Fatal("the real-Vault subtest failed")
	}
}

// EnsureMounts enables what is missing and leaves what is there.
func TestEnsureMountsEnablesMissing(t *testing.T) {
	v := Start(t)
	if v.Real() {
		t.Skip("would disable mounts of a real Vault")
	}
	for _, p := range []string{"sys/mounts/secret", "sys/mounts/transit", "sys/auth/approle"} {
		if st, out, err := v.Request("DELETE", p, nil); err != nil || st/100 != 2 {
			t.Fatalf("DELETE %s: %d %v %v", p, st, err, out)
		}
	}
	if st, _, _ := v.Request("POST", "transit/keys/k", map[string]any{"type": "ed25519"}); st != http.StatusNotFound {
		t.Fatalf("transit/ still answers after being disabled: %d", st)
	}
	v.EnsureMounts(t)
	v.EnsureMounts(t) // a second call finds them all and changes nothing
	if st, out, err := v.Request("POST", "transit/keys/k", map[string]any{"type": "ed25519"}); err != nil || st != http.StatusOK {
		t.Fatalf("transit/ after EnsureMounts: %d %v %v", st, err, out)
	}
	if st, out, err := v.Request("POST", "secret/data/a", map[string]any{"data": map[string]any{"b": "c"}, "options": map[string]any{"cas": 0}}); err != nil || st != http.StatusOK {
		t.Fatalf("secret/ (KV v2) after EnsureMounts: %d %v %v", st, err, out)
	}
	if st, out, err := v.Request("POST", "auth/approle/role/r", map[string]any{"token_ttl": "1h"}); err != nil || st != http.StatusNoContent {
		t.Fatalf("auth/approle/ after EnsureMounts: %d %v %v", st, err, out)
	}
}
