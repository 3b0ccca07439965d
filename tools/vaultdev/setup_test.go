package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
)

// runSetup runs scripts/vault/setup.sh against d with the root token.
func runSetup(t *testing.T, d *devServer, args ...string) (string, error) {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("setup.sh needs %s (make vaultdev-test installs it)", tool)
		}
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "vault", "setup.sh"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "VAULT_ADDR="+d.http.URL, "VAULT_TOKEN="+testRoot, "VAULT_NAMESPACE=", "VAULT_CACERT=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

func TestSetupScriptPolicies(t *testing.T) {
	d := startDev(t, "")
	root := d.client(t, testRoot)
	// Another validator's key, which val1's signer must not be able to use.
	mustWrite(t, root, "transit/keys/val2", map[string]interface{}{"type": "ed25519"})
	// Without the AppRole auth method, as on a fresh Vault: setup.sh enables it.
	if _, err := root.Logical().Delete("sys/auth/approle"); err != nil {
		t.Fatal(err)
	}

	sidFile := filepath.Join(t.TempDir(), "creds", "val1.secret-id")
	out, err := runSetup(t, d, "--secret-id-file", sidFile, "--account", "acct1:p256", "val1")
	if err != nil {
		t.Fatalf("setup.sh: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^role_id: (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("setup.sh printed no role_id:\n%s", out)
	}
	roleID := m[1]
	fi, err := os.Stat(sidFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret_id file mode %v, want 0600", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(sidFile)
	secretID := strings.TrimSpace(string(raw))
	if secretID == "" || strings.Contains(out, secretID) {
		t.Fatalf("secret_id empty or printed to stdout:\n%s", out)
	}

	s, err := root.Logical().Read("transit/keys/val1")
	if err != nil || s == nil || s.Data["type"] != "ed25519" || s.Data["exportable"] != false {
		t.Fatalf("val1 key: %v %v", s, err)
	}

	// The signer logs in with the AppRole.
	login, err := d.client(t, "").Logical().Write("auth/approle/login", map[string]interface{}{"role_id": roleID, "secret_id": secretID})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(login.Auth.Policies, ","); got != "consort-signer-val1,default" {
		t.Fatalf("signer token policies %s", got)
	}
	signer := d.client(t, login.Auth.ClientToken)
	msg := []byte("prevote h=5")
	if !ed25519.Verify(ed25519Pub(t, publicKey(t, signer, "val1", 1)), msg, signEd25519(t, signer, "val1", 1, msg)) {
		t.Fatal("signer's signature does not verify")
	}
	kv := signer.KVv2("secret")
	if _, err := kv.Put(context.Background(), "consort/validators/val1/watermark", map[string]interface{}{"h": "5"}, api.WithCheckAndSet(0)); err != nil {
		t.Fatalf("signer writing its watermark: %v", err)
	}
	if _, err := kv.Get(context.Background(), "consort/validators/val1/watermark"); err != nil {
		t.Fatalf("signer reading its watermark: %v", err)
	}
	for _, tc := range []struct {
		path string
		data map[string]interface{}
	}{
		{"transit/keys/val1/rotate", nil},
		{"transit/keys/val1/config", map[string]interface{}{"min_encryption_version": 1}},
		{"transit/sign/val2", map[string]interface{}{"input": "aGk="}},
		{"transit/sign/acct1", map[string]interface{}{"input": "aGk="}},
		{"transit/keys/val1", map[string]interface{}{"exportable": true}},
		{"secret/data/consort/validators/val2/watermark", map[string]interface{}{"data": map[string]interface{}{"h": "1"}}},
	} {
		_, err := signer.Logical().Write(tc.path, tc.data)
		wantStatus(t, err, http.StatusForbidden, "signer writing "+tc.path)
	}
	_, err = signer.Logical().Delete("transit/keys/val1")
	wantStatus(t, err, http.StatusForbidden, "signer deleting its key")
	_, err = signer.Logical().Read("transit/export/signing-key/val1")
	wantStatus(t, err, http.StatusForbidden, "signer exporting its key")
	if _, err := signer.Auth().Token().RenewSelf(0); err != nil {
		t.Fatalf("signer renewing its token: %v", err)
	}

	// The operator policy can rotate and retire old versions.
	optok, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"consort-operator-val1"}})
	if err != nil {
		t.Fatal(err)
	}
	op := d.client(t, optok.Auth.ClientToken)
	mustWrite(t, op, "transit/keys/val1/rotate", nil)
	mustWrite(t, op, "transit/keys/val1/config", map[string]interface{}{"min_encryption_version": 2})
	if _, err := op.KVv2("secret").Put(context.Background(), "consort/validators/val1/schedule", map[string]interface{}{"v2_from": "100"}); err != nil {
		t.Fatalf("operator writing the schedule: %v", err)
	}
	_, err = op.Logical().Write("transit/keys/val2/rotate", nil)
	wantStatus(t, err, http.StatusForbidden, "operator rotating another validator's key")
	// The signer sees the new version and signs with it.
	if !ed25519.Verify(ed25519Pub(t, publicKey(t, signer, "val1", 2)), msg, signEd25519(t, signer, "val1", 2, msg)) {
		t.Fatal("signature with the rotated key does not verify")
	}

	// The account policy signs with its key only.
	acctTok, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"consort-account-acct1"}})
	if err != nil {
		t.Fatal(err)
	}
	acct := d.client(t, acctTok.Auth.ClientToken)
	if _, err := acct.Logical().Write("transit/sign/acct1", map[string]interface{}{"input": "aGk="}); err != nil {
		t.Fatalf("account signing: %v", err)
	}
	_, err = acct.Logical().Write("transit/sign/val1", map[string]interface{}{"input": "aGk="})
	wantStatus(t, err, http.StatusForbidden, "account signing with a validator key")

	// Running it again changes no key and issues a new secret_id.
	out, err = runSetup(t, d, "--secret-id-file", sidFile, "val1")
	if err != nil {
		t.Fatalf("second setup.sh: %v\n%s", err, out)
	}
	s, _ = root.Logical().Read("transit/keys/val1")
	if v, _ := s.Data["latest_version"].(json.Number).Int64(); v != 2 {
		t.Fatalf("setup.sh run again changed the key: latest_version %v", s.Data["latest_version"])
	}
	raw, _ = os.ReadFile(sidFile)
	if strings.TrimSpace(string(raw)) == secretID {
		t.Fatal("the second run did not write a new secret_id")
	}
}

func TestSetupScriptRefuses(t *testing.T) {
	d := startDev(t, "")
	root := d.client(t, testRoot)
	if out, err := runSetup(t, d, "bad/name"); err == nil {
		t.Fatalf("setup.sh accepted a key name with a slash:\n%s", out)
	}
	if out, err := runSetup(t, d, "val*"); err == nil {
		t.Fatalf("setup.sh accepted a key name with a glob:\n%s", out)
	}
	// An exportable key of the same name is not silently accepted.
	mustWrite(t, root, "transit/keys/valx", map[string]interface{}{"type": "ed25519", "exportable": true})
	out, err := runSetup(t, d, "valx")
	if err == nil || !strings.Contains(out, "exportable") {
		t.Fatalf("setup.sh accepted an exportable key: %v\n%s", err, out)
	}
	// secret/ as KV version 1 is refused, not changed.
	if _, err := root.Logical().Delete("sys/mounts/secret"); err != nil {
		t.Fatal(err)
	}
	if err := root.Sys().Mount("secret", &api.MountInput{Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		t.Fatal(err)
	}
	out, err = runSetup(t, d, "valy")
	if err == nil || !strings.Contains(out, "KV version 1") {
		t.Fatalf("setup.sh accepted a KV v1 secret/: %v\n%s", err, out)
	}
	if s, _ := root.Logical().Read("transit/keys/valy"); s != nil {
		t.Fatal("setup.sh created a key before refusing")
	}
}
