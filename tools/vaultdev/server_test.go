package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/sdk/logical"
)

const testRoot = "root-token-for-tests"

// devServer is an in-process vaultdev over real HTTP.
type devServer struct {
	srv  *server
	http *httptest.Server
	dir  string
}

func startDev(t *testing.T, dir string) *devServer {
	t.Helper()
	st, err := openStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	logger := hclog.New(&hclog.LoggerOptions{Output: io.Discard})
	srv, err := newServer(context.Background(), st, testRoot, logger)
	if err != nil {
		t.Fatal(err)
	}
	d := &devServer{srv: srv, dir: dir}
	d.http = newHTTPTestServer(t, srv)
	return d
}

func newHTTPTestServer(t *testing.T, h http.Handler) *httptest.Server {
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs
}

func (d *devServer) close() { d.http.Close() }

func (d *devServer) client(t *testing.T, token string) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = d.http.URL
	cfg.MaxRetries = 0
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	return c
}

func mustWrite(t *testing.T, c *api.Client, path string, data map[string]interface{}) *api.Secret {
	t.Helper()
	s, err := c.Logical().Write(path, data)
	if err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return s
}

// wantStatus asserts err is a Vault API error with the given status.
func wantStatus(t *testing.T, err error, status int, what string) {
	t.Helper()
	var re *api.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("%s: got %v, want an API error with status %d", what, err, status)
	}
	if re.StatusCode != status {
		t.Fatalf("%s: status %d (%v), want %d", what, re.StatusCode, re.Errors, status)
	}
}

func TestHealth(t *testing.T) {
	d := startDev(t, "")
	h, err := d.client(t, "").Sys().Health()
	if err != nil {
		t.Fatal(err)
	}
	if !h.Initialized || h.Sealed || h.Standby || !strings.HasPrefix(h.Version, engineVersion) {
		t.Fatalf("health: %+v", h)
	}
	resp, err := http.Head(d.http.URL + "/v1/sys/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD sys/health: %d", resp.StatusCode)
	}
}

func signEd25519(t *testing.T, c *api.Client, key string, version int, msg []byte) []byte {
	t.Helper()
	s := mustWrite(t, c, "transit/sign/"+key, map[string]interface{}{
		"input":       base64.StdEncoding.EncodeToString(msg),
		"key_version": version,
	})
	return decodeSig(t, s, version)
}

func decodeSig(t *testing.T, s *api.Secret, version int) []byte {
	t.Helper()
	sig, _ := s.Data["signature"].(string)
	prefix := "vault:v" + json.Number(itoa(version)).String() + ":"
	if !strings.HasPrefix(sig, prefix) {
		t.Fatalf("signature %q does not start with %q", sig, prefix)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sig, prefix))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func publicKey(t *testing.T, c *api.Client, key string, version int) string {
	t.Helper()
	s, err := c.Logical().Read("transit/keys/" + key)
	if err != nil || s == nil {
		t.Fatalf("read key %s: %v", key, err)
	}
	keys, _ := s.Data["keys"].(map[string]interface{})
	k, _ := keys[itoa(version)].(map[string]interface{})
	pk, _ := k["public_key"].(string)
	if pk == "" {
		t.Fatalf("key %s version %d has no public key: %v", key, version, s.Data)
	}
	return pk
}

func ed25519Pub(t *testing.T, b64 string) ed25519.PublicKey {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		t.Fatalf("bad ed25519 public key %q: %v", b64, err)
	}
	return ed25519.PublicKey(raw)
}

func TestTransitEd25519RotateAndMinVersion(t *testing.T) {
	d := startDev(t, "")
	c := d.client(t, testRoot)
	mustWrite(t, c, "transit/keys/val1", map[string]interface{}{"type": "ed25519", "exportable": false})

	s, err := c.Logical().Read("transit/keys/val1")
	if err != nil {
		t.Fatal(err)
	}
	if s.Data["type"] != "ed25519" || s.Data["exportable"] != false || s.Data["supports_signing"] != true {
		t.Fatalf("key: %v", s.Data)
	}
	if _, err := c.Logical().Read("transit/export/signing-key/val1"); err == nil {
		t.Fatal("a non-exportable key was exported")
	} else {
		wantStatus(t, err, http.StatusBadRequest, "export")
	}

	msg := []byte("block 7 round 0")
	pub1 := ed25519Pub(t, publicKey(t, c, "val1", 1))
	if !ed25519.Verify(pub1, msg, signEd25519(t, c, "val1", 1, msg)) {
		t.Fatal("version 1 signature does not verify with version 1's public key")
	}

	mustWrite(t, c, "transit/keys/val1/rotate", nil)
	s, _ = c.Logical().Read("transit/keys/val1")
	if v, _ := s.Data["latest_version"].(json.Number).Int64(); v != 2 {
		t.Fatalf("latest_version after rotate: %v", s.Data["latest_version"])
	}
	pub2 := ed25519Pub(t, publicKey(t, c, "val1", 2))
	if pub2.Equal(pub1) {
		t.Fatal("rotation kept the same key")
	}
	if !ed25519.Verify(pub2, msg, signEd25519(t, c, "val1", 2, msg)) {
		t.Fatal("version 2 signature does not verify")
	}
	// Version 1 still signs until min_encryption_version says otherwise.
	if !ed25519.Verify(pub1, msg, signEd25519(t, c, "val1", 1, msg)) {
		t.Fatal("version 1 no longer signs after rotation")
	}
	mustWrite(t, c, "transit/keys/val1/config", map[string]interface{}{"min_encryption_version": 2})
	_, err = c.Logical().Write("transit/sign/val1", map[string]interface{}{
		"input": base64.StdEncoding.EncodeToString(msg), "key_version": 1,
	})
	// Transit returns this as a bare user error, which Vault itself answers
	// with 500; vaultdev keeps Vault's status so clients see the same thing.
	wantStatus(t, err, http.StatusInternalServerError, "signing below min_encryption_version")
	if !strings.Contains(err.Error(), "less than the minimum encryption key version") {
		t.Fatalf("error %v does not say why", err)
	}

	_, err = c.Logical().Write("transit/sign/nokey", map[string]interface{}{"input": "aGk="})
	if err == nil {
		t.Fatal("signing with a missing key succeeded")
	}
}

func TestTransitECDSAP256(t *testing.T) {
	d := startDev(t, "")
	c := d.client(t, testRoot)
	mustWrite(t, c, "transit/keys/acct", map[string]interface{}{"type": "ecdsa-p256", "exportable": false})
	block, _ := pem.Decode([]byte(publicKey(t, c, "acct", 1)))
	if block == nil {
		t.Fatal("ecdsa public key is not PEM")
	}
	pubAny, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub := pubAny.(*ecdsa.PublicKey)
	msg := []byte("transfer 10 USD")
	digest := sha256.Sum256(msg)
	s := mustWrite(t, c, "transit/sign/acct", map[string]interface{}{
		"input":          base64.StdEncoding.EncodeToString(digest[:]),
		"prehashed":      true,
		"hash_algorithm": "sha2-256",
		"key_version":    1,
	})
	if !ecdsa.VerifyASN1(pub, digest[:], decodeSig(t, s, 1)) {
		t.Fatal("ecdsa-p256 signature does not verify")
	}
}

func TestKVv2CAS(t *testing.T) {
	d := startDev(t, "")
	c := d.client(t, testRoot)
	ctx := context.Background()
	kv := c.KVv2("secret")
	if _, err := kv.Put(ctx, "consort/validators/val1/watermark", map[string]interface{}{"height": "10"}, api.WithCheckAndSet(0)); err != nil {
		t.Fatal(err)
	}
	_, err := kv.Put(ctx, "consort/validators/val1/watermark", map[string]interface{}{"height": "11"}, api.WithCheckAndSet(0))
	wantStatus(t, err, http.StatusBadRequest, "CAS mismatch")
	if _, err := kv.Put(ctx, "consort/validators/val1/watermark", map[string]interface{}{"height": "11"}, api.WithCheckAndSet(1)); err != nil {
		t.Fatal(err)
	}
	got, err := kv.Get(ctx, "consort/validators/val1/watermark")
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["height"] != "11" || got.VersionMetadata.Version != 2 {
		t.Fatalf("read back %v version %d", got.Data, got.VersionMetadata.Version)
	}
	if _, err := kv.Get(ctx, "consort/validators/none"); !errors.Is(err, api.ErrSecretNotFound) {
		t.Fatalf("missing secret: %v, want ErrSecretNotFound", err)
	}
}

const signerPolicy = `
path "transit/sign/val1" { capabilities = ["update"] }
path "transit/keys/val1" { capabilities = ["read"] }
path "secret/data/consort/validators/val1/*" { capabilities = ["create", "read", "update"] }
`

// appRoleLogin makes a role with the signer policy and logs in with it.
func appRoleLogin(t *testing.T, root *api.Client, ttl string) *api.Secret {
	t.Helper()
	if err := root.Sys().PutPolicy("signer", signerPolicy); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, root, "auth/approle/role/signer", map[string]interface{}{
		"token_policies": []string{"signer"}, "token_ttl": ttl, "token_max_ttl": "2h",
	})
	rid, err := root.Logical().Read("auth/approle/role/signer/role-id")
	if err != nil {
		t.Fatal(err)
	}
	sid := mustWrite(t, root, "auth/approle/role/signer/secret-id", nil)
	login, err := root.Logical().Write("auth/approle/login", map[string]interface{}{
		"role_id": rid.Data["role_id"], "secret_id": sid.Data["secret_id"],
	})
	if err != nil {
		t.Fatal(err)
	}
	if login.Auth == nil || login.Auth.ClientToken == "" {
		t.Fatalf("login gave no token: %+v", login)
	}
	return login
}

func TestAppRoleLoginPoliciesAndRenew(t *testing.T) {
	d := startDev(t, "")
	root := d.client(t, testRoot)
	mustWrite(t, root, "transit/keys/val1", map[string]interface{}{"type": "ed25519"})
	mustWrite(t, root, "transit/keys/val2", map[string]interface{}{"type": "ed25519"})
	login := appRoleLogin(t, root, "1h")
	if login.Auth.LeaseDuration != 3600 || !login.Auth.Renewable {
		t.Fatalf("login auth: ttl %d renewable %v", login.Auth.LeaseDuration, login.Auth.Renewable)
	}
	if strings.Join(login.Auth.Policies, ",") != "default,signer" {
		t.Fatalf("login policies %v", login.Auth.Policies)
	}

	signer := d.client(t, login.Auth.ClientToken)
	self, err := signer.Auth().Token().LookupSelf()
	if err != nil {
		t.Fatal(err)
	}
	ttl, _ := self.TokenTTL()
	if ttl < 3590*time.Second || ttl > 3600*time.Second {
		t.Fatalf("token ttl %s", ttl)
	}
	if pols, _ := self.TokenPolicies(); strings.Join(pols, ",") != "default,signer" {
		t.Fatalf("token policies %v", pols)
	}

	// Allowed: sign and read its own key, its KV paths.
	msg := []byte("vote")
	if !ed25519.Verify(ed25519Pub(t, publicKey(t, signer, "val1", 1)), msg, signEd25519(t, signer, "val1", 1, msg)) {
		t.Fatal("signer's signature does not verify")
	}
	if _, err := signer.KVv2("secret").Put(context.Background(), "consort/validators/val1/watermark", map[string]interface{}{"h": "1"}); err != nil {
		t.Fatalf("signer writing its watermark: %v", err)
	}
	// Denied: rotate, config, another key, another KV path, policies, mounts.
	for _, tc := range []struct {
		path string
		data map[string]interface{}
	}{
		{"transit/keys/val1/rotate", nil},
		{"transit/keys/val1/config", map[string]interface{}{"min_encryption_version": 1}},
		{"transit/sign/val2", map[string]interface{}{"input": "aGk="}},
		{"transit/keys/val3", map[string]interface{}{"type": "ed25519"}},
		{"secret/data/consort/validators/val2/watermark", map[string]interface{}{"data": map[string]interface{}{"h": "1"}}},
		{"sys/policy/signer", map[string]interface{}{"policy": `path "*" { capabilities = ["sudo","update","create","read"] }`}},
		{"sys/mounts/other", map[string]interface{}{"type": "transit"}},
		{"auth/token/create", map[string]interface{}{"policies": []string{"signer"}}},
	} {
		_, err := signer.Logical().Write(tc.path, tc.data)
		wantStatus(t, err, http.StatusForbidden, "signer writing "+tc.path)
	}
	if _, err := signer.Logical().Read("transit/keys/val2"); err == nil {
		t.Fatal("signer read another validator's key")
	} else {
		wantStatus(t, err, http.StatusForbidden, "reading val2")
	}
	// The vault CLI's mount lookup: told about mounts it has rules in only.
	if s, err := signer.Logical().Read("sys/internal/ui/mounts/transit/sign/val1"); err != nil || s == nil || s.Data["type"] != "transit" {
		t.Fatalf("mount lookup of transit/: %v %v", s, err)
	}
	if err := root.Sys().Mount("other", &api.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	_, err = signer.Logical().Read("sys/internal/ui/mounts/other/keys")
	wantStatus(t, err, http.StatusForbidden, "mount lookup without access")
	caps, err := signer.Sys().CapabilitiesSelf("transit/keys/val1/rotate")
	if err != nil || strings.Join(caps, ",") != "deny" {
		t.Fatalf("capabilities on rotate: %v %v", caps, err)
	}

	// Renew: back to the role's TTL; an increment beyond token_max_ttl is capped.
	d.srv.tokens.setClock(func() time.Time { return time.Now().Add(30 * time.Minute) })
	r, err := signer.Auth().Token().RenewSelf(0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Auth.LeaseDuration != 3600 {
		t.Fatalf("renewed ttl %d, want 3600", r.Auth.LeaseDuration)
	}
	r, err = signer.Auth().Token().RenewSelf(int((10 * time.Hour).Seconds()))
	if err != nil {
		t.Fatal(err)
	}
	if r.Auth.LeaseDuration > int((90*time.Minute).Seconds()) || r.Auth.LeaseDuration < int((89*time.Minute).Seconds()) {
		t.Fatalf("renewal past token_max_ttl gave %ds, want about 90m", r.Auth.LeaseDuration)
	}

	// Past its expiry the token is gone.
	d.srv.tokens.setClock(func() time.Time { return time.Now().Add(3 * time.Hour) })
	_, err = signer.Auth().Token().LookupSelf()
	wantStatus(t, err, http.StatusForbidden, "expired token")
	d.srv.tokens.setClock(time.Now)
	_, err = signer.Auth().Token().LookupSelf()
	wantStatus(t, err, http.StatusForbidden, "expired token stays revoked")

	// Bad credentials get no token.
	_, err = root.Logical().Write("auth/approle/login", map[string]interface{}{"role_id": "x", "secret_id": "y"})
	wantStatus(t, err, http.StatusBadRequest, "login with bad credentials")
}

func TestOperatorPolicyRotatesAndTokenCreate(t *testing.T) {
	d := startDev(t, "")
	root := d.client(t, testRoot)
	mustWrite(t, root, "transit/keys/val1", map[string]interface{}{"type": "ed25519"})
	if err := root.Sys().PutPolicy("operator", `
path "transit/keys/val1/rotate" { capabilities = ["update"] }
path "transit/keys/val1/config" { capabilities = ["update"] }
path "transit/keys/+"           { capabilities = ["read"] }
path "transit/keys/val2"        { capabilities = ["deny"] }
path "auth/token/create"        { capabilities = ["update"] }
`); err != nil {
		t.Fatal(err)
	}
	tok, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"operator"}, TTL: "10m"})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Auth.LeaseDuration != 600 {
		t.Fatalf("created token ttl %d", tok.Auth.LeaseDuration)
	}
	op := d.client(t, tok.Auth.ClientToken)
	mustWrite(t, op, "transit/keys/val1/rotate", nil)
	mustWrite(t, op, "transit/keys/val1/config", map[string]interface{}{"min_encryption_version": 2})
	if _, err := op.Logical().Read("transit/keys/val1"); err != nil {
		t.Fatalf("segment wildcard read: %v", err)
	}
	_, err = op.Logical().Read("transit/keys/val2")
	wantStatus(t, err, http.StatusForbidden, "deny beats the + wildcard")
	_, err = op.Logical().Write("transit/sign/val1", map[string]interface{}{"input": "aGk="})
	wantStatus(t, err, http.StatusForbidden, "operator signing")

	// A child token: only a subset of the parent's policies; revoked with it.
	_, err = op.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"root"}})
	wantStatus(t, err, http.StatusBadRequest, "child asking for root")
	child, err := op.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"operator"}, TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	if child.Auth.LeaseDuration > 600 {
		t.Fatalf("child outlives parent: ttl %d", child.Auth.LeaseDuration)
	}
	cc := d.client(t, child.Auth.ClientToken)
	if _, err := cc.Auth().Token().LookupSelf(); err != nil {
		t.Fatal(err)
	}
	if err := op.Auth().Token().RevokeSelf(""); err != nil {
		t.Fatal(err)
	}
	_, err = cc.Auth().Token().LookupSelf()
	wantStatus(t, err, http.StatusForbidden, "child of a revoked token")
	_, err = op.Auth().Token().LookupSelf()
	wantStatus(t, err, http.StatusForbidden, "revoked token")
}

func TestMountsAndErrors(t *testing.T) {
	d := startDev(t, "")
	root := d.client(t, testRoot)
	err := root.Sys().Mount("transit", &api.MountInput{Type: "transit"})
	wantStatus(t, err, http.StatusBadRequest, "enabling transit/ twice")
	if !strings.Contains(err.Error(), "path is already in use") {
		t.Fatalf("error %v does not say the path is in use", err)
	}
	if err := root.Sys().Mount("kv2", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.KVv2("kv2").Put(context.Background(), "a", map[string]interface{}{"b": "c"}); err != nil {
		t.Fatal(err)
	}
	if err := root.Sys().Mount("pki", &api.MountInput{Type: "pki"}); err == nil {
		t.Fatal("mounted an engine vaultdev does not have")
	}
	err = root.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"})
	wantStatus(t, err, http.StatusBadRequest, "enabling approle twice")
	mounts, err := root.Sys().ListMounts()
	if err != nil {
		t.Fatal(err)
	}
	if mounts["secret/"] == nil || mounts["secret/"].Options["version"] != "2" || mounts["transit/"] == nil || mounts["kv2/"] == nil {
		t.Fatalf("mounts: %v", mounts)
	}

	_, err = root.Logical().Write("nothing/here", map[string]interface{}{"a": "b"})
	wantStatus(t, err, http.StatusNotFound, "unmounted path")
	_, err = root.Logical().Write("transit/keys/bad", map[string]interface{}{"type": "no-such-type"})
	wantStatus(t, err, http.StatusBadRequest, "bad key type")
	if err := root.Sys().PutPolicy("broken", `path "x" { capabilities = ["fly"] }`); err == nil {
		t.Fatal("a policy with an unknown capability was stored")
	}
	if err := root.Sys().PutPolicy("params", `path "x" { capabilities = ["read"] allowed_parameters = { "a" = [] } }`); err == nil {
		t.Fatal("a policy with parameter constraints was stored though vaultdev cannot enforce them")
	}

	// Bearer tokens work too.
	req, _ := http.NewRequest("GET", d.http.URL+"/v1/auth/token/lookup-self", nil)
	req.Header.Set("Authorization", "Bearer "+testRoot)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bearer lookup-self: %d", resp.StatusCode)
	}
	// No token at all.
	_, err = d.client(t, "").Logical().Read("secret/data/x")
	wantStatus(t, err, http.StatusForbidden, "no token")
}

func TestRestartWithDataKeepsKeysTokensPolicies(t *testing.T) {
	dir := t.TempDir()
	d := startDev(t, dir)
	root := d.client(t, testRoot)
	mustWrite(t, root, "transit/keys/val1", map[string]interface{}{"type": "ed25519"})
	login := appRoleLogin(t, root, "1h")
	pub := publicKey(t, root, "val1", 1)
	if _, err := root.KVv2("secret").Put(context.Background(), "consort/validators/val1/schedule", map[string]interface{}{"next": "2"}); err != nil {
		t.Fatal(err)
	}
	if err := root.Sys().Mount("transit-b", &api.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, root, "transit-b/keys/other", map[string]interface{}{"type": "ed25519"})
	d.close()

	d2 := startDev(t, dir)
	root = d2.client(t, testRoot)
	if got := publicKey(t, root, "val1", 1); got != pub {
		t.Fatalf("public key after restart %s, want %s", got, pub)
	}
	if s, err := root.Logical().Read("transit-b/keys/other"); err != nil || s == nil {
		t.Fatalf("a key in a mount enabled through sys/mounts is gone after restart: %v", err)
	}
	kv, err := root.KVv2("secret").Get(context.Background(), "consort/validators/val1/schedule")
	if err != nil || kv.Data["next"] != "2" {
		t.Fatalf("KV after restart: %v %v", kv, err)
	}
	signer := d2.client(t, login.Auth.ClientToken)
	msg := []byte("after restart")
	if !ed25519.Verify(ed25519Pub(t, pub), msg, signEd25519(t, signer, "val1", 1, msg)) {
		t.Fatal("the signer's token or key did not survive the restart")
	}
	_, err = signer.Logical().Write("transit/keys/val1/rotate", nil)
	wantStatus(t, err, http.StatusForbidden, "policy after restart")
}

func TestGlobPriority(t *testing.T) {
	a := newACL([]pathRule{
		{"secret/*", capRead},
		{"secret/data/+/x", capUpdate},
		{"secret/data/a/*", capList},
		{"secret/data/a/x", capCreate},
		{"secret/data/b*", capDelete},
	})
	for _, tc := range []struct {
		path string
		want capSet
	}{
		{"secret/data/a/x", capCreate}, // exact wins
		{"secret/data/c/x", capUpdate}, // + segment beats the earlier glob
		{"secret/data/a/y", capList},   // later wildcard wins
		{"secret/data/b/x", capDelete}, // first wildcard later than the + one
		{"secret/data/bz", capDelete},  // prefix glob within a segment
		{"secret/other", capRead},      // only the broad glob
		{"transit/keys/x", 0},          // nothing
		{"secret/data/c/x/y", capRead}, // + matches exactly one segment
		{"secret/data/a/x/", capList},  // trailing slash is another path
	} {
		if got := a.capabilities(tc.path, logical.ReadOperation); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.path, got.names(), tc.want.names())
		}
	}
}
