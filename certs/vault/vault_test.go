package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/certs"
	"github.com/consort-ledger/consort/certs/keyring"
	"github.com/consort-ledger/consort/internal/vaulttest"
)

// These tests run against a Vault dev server (internal/vaulttest), or a
// real Vault when VAULT_ADDR and VAULT_TOKEN are set. Names are random so
// that runs against one Vault do not meet.

func unique(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

func rootClient(t *testing.T, srv *vaulttest.Server) *Client {
	t.Helper()
	srv.EnsureMounts(t)
	c, err := New(context.Background(), Config{Address: srv.Addr(), Token: srv.Token()}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestTransitSignVersions(t *testing.T) {
	srv := vaulttest.Start(t)
	c := rootClient(t, srv)
	ctx := context.Background()
	for _, typ := range []keyring.KeyType{keyring.Ed25519, keyring.P256} {
		t.Run(string(typ), func(t *testing.T) {
			k := c.Transit(unique("acct"))
			if ok, err := k.Exists(ctx); err != nil || ok {
				t.Fatalf("Exists before Create = %v, %v", ok, err)
			}
			if _, err := k.Info(ctx); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), k.Path()) {
				t.Fatalf("Info of a missing key: got %v, want ErrNotFound naming %s", err, k.Path())
			}
			if err := k.Create(ctx, typ); err != nil {
				t.Fatalf("Create: %v", err)
			}
			if err := k.Create(ctx, typ); err != nil {
				t.Fatalf("Create again (same type): %v", err)
			}
			other := keyring.P256
			if typ == keyring.P256 {
				other = keyring.Ed25519
			}
			if err := k.Create(ctx, other); err == nil || !strings.Contains(err.Error(), "exists with type") {
				t.Fatalf("Create with another type: got %v", err)
			}
			info, err := k.Info(ctx)
			if err != nil || info.Type != typ || info.LatestVersion != 1 || info.Exportable {
				t.Fatalf("Info = %+v, %v; want type %s, version 1, not exportable", info, err, typ)
			}

			msg := []byte("consort tx body")
			pub1 := signAndVerify(t, k, 1, msg)
			if typ == keyring.Ed25519 {
				pk, err := k.PubKey(ctx, 1)
				if err != nil {
					t.Fatal(err)
				}
				sig, _ := k.Sign(ctx, 1, msg)
				if _, ok := pk.(cmted25519.PubKey); !ok || !pk.VerifySignature(msg, sig) {
					t.Fatalf("PubKey(1) = %T does not verify the signature", pk)
				}
			} else if _, err := k.PubKey(ctx, 1); err == nil || !strings.Contains(err.Error(), "consensus key must be ed25519") {
				t.Fatalf("PubKey of a p256 key: got %v", err)
			}

			v, err := k.Rotate(ctx)
			if err != nil || v != 2 {
				t.Fatalf("Rotate = %d, %v; want 2", v, err)
			}
			if v, err := k.LatestVersion(ctx); err != nil || v != 2 {
				t.Fatalf("LatestVersion = %d, %v; want 2", v, err)
			}
			pub2 := signAndVerify(t, k, 2, msg)
			if pub1.String() == pub2.String() {
				t.Fatal("rotation kept the public key")
			}
			sig2, _ := k.Sign(ctx, 2, msg)
			if keyring.Verify(pub1, msg, sig2) {
				t.Fatal("a version 2 signature verifies under version 1's key")
			}
			signAndVerify(t, k, 1, msg) // the old version still signs
			if _, err := k.Sign(ctx, 3, msg); err == nil {
				t.Fatal("Sign with a version that does not exist: no error")
			}

			// Retire version 1: Vault refuses it, version 2 goes on.
			if err := k.SetMinEncryptionVersion(ctx, 2); err != nil {
				t.Fatalf("SetMinEncryptionVersion: %v", err)
			}
			if _, err := k.Sign(ctx, 1, msg); err == nil || !strings.Contains(err.Error(), "minimum encryption key version") {
				t.Fatalf("Sign(1) after min_encryption_version 2: got %v, want Vault's refusal", err)
			}
			signAndVerify(t, k, 2, msg)
			if p, err := k.PublicKey(ctx, 1); err != nil || p.String() != pub1.String() {
				t.Fatalf("PublicKey(1) after retirement = %v, %v", p, err)
			}

			s, err := k.Signer(ctx, 2)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := s.Sign(ctx, msg)
			if err != nil || !keyring.Verify(s.PublicKey(), msg, sig) || s.PublicKey().String() != pub2.String() {
				t.Fatalf("Signer(2): %v", err)
			}
		})
	}
}

// signAndVerify signs several messages with version and checks each with
// the keyring's reference verifier (which takes only low-S p256
// signatures); it returns the version's public key.
func signAndVerify(t *testing.T, k *TransitKey, version int, msg []byte) keyring.PublicKey {
	t.Helper()
	ctx := context.Background()
	pub, err := k.PublicKey(ctx, version)
	if err != nil {
		t.Fatalf("PublicKey(%d): %v", version, err)
	}
	for i := 0; i < 8; i++ {
		m := append(append([]byte(nil), msg...), byte(i))
		sig, err := k.Sign(ctx, version, m)
		if err != nil {
			t.Fatalf("Sign(%d): %v", version, err)
		}
		if !keyring.Verify(pub, m, sig) {
			t.Fatalf("Sign(%d): signature does not verify", version)
		}
	}
	return pub
}

func TestKVCheckAndSet(t *testing.T) {
	srv := vaulttest.Start(t)
	c := rootClient(t, srv)
	ctx := context.Background()
	kv := c.KV("secret")
	key := unique("watermark")
	v, ver, err := kv.Read(ctx, key)
	if err != nil || v != nil || ver != 0 {
		t.Fatalf("Read of a new key = %q, %d, %v; want nil, 0, nil", v, ver, err)
	}
	if ver, err = kv.WriteCAS(ctx, key, []byte("h=10"), 0); err != nil || ver != 1 {
		t.Fatalf("first WriteCAS = %d, %v", ver, err)
	}
	if _, err := kv.WriteCAS(ctx, key, []byte("h=11"), 0); !errors.Is(err, certs.ErrCASMismatch) {
		t.Fatalf("WriteCAS(0) over an existing key: got %v, want ErrCASMismatch", err)
	}
	if ver, err = kv.WriteCAS(ctx, key, []byte("h=12"), 1); err != nil || ver != 2 {
		t.Fatalf("WriteCAS(1) = %d, %v", ver, err)
	}
	if _, err := kv.WriteCAS(ctx, key, []byte("h=13"), 1); !errors.Is(err, certs.ErrCASMismatch) {
		t.Fatalf("stale WriteCAS: got %v, want ErrCASMismatch", err)
	}
	v, ver, err = kv.Read(ctx, key)
	if err != nil || string(v) != "h=12" || ver != 2 {
		t.Fatalf("Read = %q, %d, %v; want h=12, 2", v, ver, err)
	}
	// Binary values survive.
	bin := []byte{0, 1, 2, 255}
	if _, err := kv.WriteCAS(ctx, key, bin, 2); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := kv.Read(ctx, key); string(v) != string(bin) {
		t.Fatalf("Read = %x, want %x", v, bin)
	}
}

// TestPermissionDenied uses a token whose policy lets it read the key but
// not sign with it.
func TestPermissionDenied(t *testing.T) {
	srv := vaulttest.Start(t)
	root := rootClient(t, srv)
	ctx := context.Background()
	name := unique("denied")
	if err := root.Transit(name).Create(ctx, keyring.Ed25519); err != nil {
		t.Fatal(err)
	}
	policy := unique("readonly")
	if _, err := root.write(ctx, "write policy", "sys/policies/acl/"+policy, map[string]any{
		"policy": `path "transit/keys/` + name + `" { capabilities = ["read"] }`,
	}); err != nil {
		t.Fatal(err)
	}
	tok, err := root.write(ctx, "create token", "auth/token/create", map[string]any{"policies": []string{policy}, "ttl": "5m"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(ctx, Config{Address: srv.Addr(), Token: tok.Auth.ClientToken}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k := c.Transit(name)
	if _, err := k.PublicKey(ctx, 1); err != nil {
		t.Fatalf("read allowed by policy: %v", err)
	}
	_, err = k.Sign(ctx, 1, []byte("m"))
	if !errors.Is(err, ErrPermissionDenied) || !strings.Contains(err.Error(), "transit/sign/"+name) {
		t.Fatalf("Sign without the capability: got %v, want ErrPermissionDenied naming transit/sign/%s", err, name)
	}
	if strings.Contains(err.Error(), tok.Auth.ClientToken) {
		t.Fatalf("error shows the token: %v", err)
	}
}

// TestAppRoleRenewal logs in with AppRole to a role whose tokens live 2 s
// (at most 4 s) and signs for longer than that: renewal and fresh logins
// must keep the client working.
func TestAppRoleRenewal(t *testing.T) {
	srv := vaulttest.Start(t)
	root := rootClient(t, srv)
	ctx := context.Background()
	name := unique("approle")
	if err := root.Transit(name).Create(ctx, keyring.Ed25519); err != nil {
		t.Fatal(err)
	}
	roleID, secretFile := appRole(t, root, name, "2s", "4s")

	// A wrong SecretID fails at New, with a permission error.
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, []byte("not-the-secret"), 0o600)
	if _, err := New(ctx, Config{Address: srv.Addr(), RoleID: roleID, SecretIDFile: bad}, zerolog.Nop()); err == nil || strings.Contains(err.Error(), "not-the-secret") {
		t.Fatalf("New with a wrong SecretID: got %v, want an error without the SecretID", err)
	}

	var logs syncBuffer
	c, err := New(ctx, Config{Address: srv.Addr(), RoleID: roleID, SecretIDFile: secretFile}, zerolog.New(&logs).Level(zerolog.DebugLevel))
	if err != nil {
		t.Fatalf("AppRole login: %v", err)
	}
	defer c.Close()
	k := c.Transit(name)
	deadline := time.Now().Add(7 * time.Second) // past the token's 4 s maximum
	n := 0
	for time.Now().Before(deadline) {
		sig, err := k.Sign(ctx, 1, []byte{byte(n)})
		if err != nil {
			t.Fatalf("Sign after %d signatures: %v", n, err)
		}
		if len(sig) != 64 {
			t.Fatalf("signature of %d bytes", len(sig))
		}
		n++
		time.Sleep(250 * time.Millisecond)
	}
	c.Close()
	t.Logf("%d signatures over 7 s with 2 s tokens; log:\n%s", n, logs.String())
	// The background loop kept the token valid: renewals, fresh logins
	// before the maximum TTL, and no call ever met an expired token.
	out := logs.String()
	if strings.Count(out, "logged in to Vault with AppRole") < 2 || !strings.Contains(out, "renewed the Vault token") {
		t.Errorf("want renewals and at least one fresh login in the log")
	}
	if strings.Contains(out, "Vault refused the token") {
		t.Errorf("a call met an expired token: the renewal came too late")
	}
	sidText, _ := os.ReadFile(secretFile)
	if strings.Contains(out, strings.TrimSpace(string(sidText))) || strings.Contains(out, "hvs.") || strings.Contains(out, "client_token") {
		t.Errorf("the log shows a secret")
	}
}

// TestAppRoleReloginOnDenied revokes the client's token behind its back: the
// next call logs in again and succeeds.
func TestAppRoleReloginOnDenied(t *testing.T) {
	srv := vaulttest.Start(t)
	root := rootClient(t, srv)
	ctx := context.Background()
	name := unique("relogin")
	if err := root.Transit(name).Create(ctx, keyring.P256); err != nil {
		t.Fatal(err)
	}
	roleID, secretFile := appRole(t, root, name, "1h", "2h")
	c, err := New(ctx, Config{Address: srv.Addr(), RoleID: roleID, SecretIDFile: secretFile}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k := c.Transit(name)
	if _, err := k.Sign(ctx, 1, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := root.write(ctx, "revoke", "auth/token/revoke", map[string]any{"token": c.api.Token()}); err != nil {
		t.Fatal(err)
	}
	sig, err := k.Sign(ctx, 1, []byte("b"))
	if err != nil {
		t.Fatalf("Sign after the token was revoked: %v", err)
	}
	pub, _ := k.PublicKey(ctx, 1)
	if !keyring.Verify(pub, []byte("b"), sig) {
		t.Fatal("signature does not verify")
	}
}

// appRole makes a policy that may read and sign with transit key name, and
// an AppRole role with it; it returns the role id and a 0600 file holding a
// SecretID.
func appRole(t *testing.T, root *Client, name, ttl, maxTTL string) (roleID, secretFile string) {
	t.Helper()
	ctx := context.Background()
	policy := unique("signer")
	if _, err := root.write(ctx, "write policy", "sys/policies/acl/"+policy, map[string]any{
		"policy": `path "transit/keys/` + name + `" { capabilities = ["read"] }
path "transit/sign/` + name + `" { capabilities = ["update"] }`,
	}); err != nil {
		t.Fatal(err)
	}
	role := unique("role")
	if _, err := root.write(ctx, "write role", "auth/approle/role/"+role, map[string]any{
		"token_policies": []string{policy}, "token_ttl": ttl, "token_max_ttl": maxTTL,
	}); err != nil {
		t.Fatal(err)
	}
	rid, err := root.read(ctx, "read role id", "auth/approle/role/"+role+"/role-id")
	if err != nil {
		t.Fatal(err)
	}
	sid, err := root.write(ctx, "make secret id", "auth/approle/role/"+role+"/secret-id", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	secretFile = filepath.Join(t.TempDir(), "secret-id")
	if err := os.WriteFile(secretFile, []byte(sid.Data["secret_id"].(string)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return rid.Data["role_id"].(string), secretFile
}

// syncBuffer is a bytes.Buffer safe for the log's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestVaultGone checks that a Vault that dies gives ErrUnreachable within
// the timeout.
func TestVaultGone(t *testing.T) {
	srv := vaulttest.Start(t)
	if srv.Real() {
		t.Skip("a real Vault is not killed by tests")
	}
	c := rootClient(t, srv)
	ctx := context.Background()
	k := c.Transit(unique("gone"))
	if err := k.Create(ctx, keyring.Ed25519); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Sign(ctx, 1, []byte("m")); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	start := time.Now()
	_, err := k.Sign(ctx, 1, []byte("m"))
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Sign with Vault gone: got %v, want ErrUnreachable", err)
	}
	if took := time.Since(start); took > DefaultTimeout+time.Second {
		t.Fatalf("took %v, want within the %v timeout", took, DefaultTimeout)
	}
}
