package vault

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/certs/keyring"
)

func TestParseTransitPath(t *testing.T) {
	for in, want := range map[string][2]string{
		"transit/keys/alice":      {"transit", "alice"},
		"/transit/keys/alice/":    {"transit", "alice"},
		"team/transit/keys/bob":   {"team/transit", "bob"},
		"alice":                   {"", "alice"},
		"transit/keys/keys/alice": {"transit/keys", "alice"},
	} {
		m, n, err := ParseTransitPath(in)
		if err != nil || m != want[0] || n != want[1] {
			t.Errorf("ParseTransitPath(%q) = %q, %q, %v; want %q, %q", in, m, n, err, want[0], want[1])
		}
	}
	for _, bad := range []string{"", "transit/alice", "keys/alice", "transit/keys/", "/keys/alice"} {
		if m, n, err := ParseTransitPath(bad); err == nil {
			t.Errorf("ParseTransitPath(%q) = %q, %q; want an error", bad, m, n)
		}
	}
}

// TestP256SignatureConventions checks the parsing of a jws-marshaled
// transit signature and the low-S normalisation against the keyring's
// reference verifier, with a local key standing in for Vault's.
func TestP256SignatureConventions(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	pub, err := parseTransitPublicKey(keyring.P256, pemText)
	if err != nil {
		t.Fatal(err)
	}
	n := elliptic.P256().Params().N
	half := new(big.Int).Rsh(n, 1)
	msg := []byte("consort transfer")
	digest := sha256.Sum256(msg)
	var sawHigh, sawLow bool
	for i := 0; i < 64 && !(sawHigh && sawLow); i++ {
		r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		raw := make([]byte, 64)
		r.FillBytes(raw[:32])
		s.FillBytes(raw[32:])
		high := s.Cmp(half) > 0
		sawHigh, sawLow = sawHigh || high, sawLow || !high
		text := "vault:v3:" + base64.RawURLEncoding.EncodeToString(raw)
		sig, err := parseTransitSignature(text, 3, keyring.P256)
		if err != nil {
			t.Fatal(err)
		}
		if high && keyring.Verify(pub, msg, sig) {
			t.Fatal("the reference verifier accepts a high-S signature; the test is void")
		}
		if got := lowS(sig); !keyring.Verify(pub, msg, got) {
			t.Fatalf("low-S form of %x does not verify", raw)
		}
		if _, err := parseTransitSignature(text, 2, keyring.P256); err == nil || !strings.Contains(err.Error(), "version 3, not the version 2") {
			t.Fatalf("version mismatch: got %v", err)
		}
	}
	if !sawHigh || !sawLow {
		t.Fatalf("64 signatures were all high-S or all low-S")
	}
	for _, bad := range []string{"", "vault:3:AAAA", "vault:vx:AAAA", "vault:v3:!!!!", "vault:v3:" + base64.RawURLEncoding.EncodeToString(make([]byte, 63))} {
		if _, err := parseTransitSignature(bad, 3, keyring.P256); err == nil {
			t.Errorf("parseTransitSignature(%q): no error", bad)
		}
	}
}

func TestSecretFileMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	if err := os.WriteFile(path, []byte("  hvs.example-token\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(context.Background(), Config{Address: "http://127.0.0.1:1", TokenFile: path}, zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), "permissions 0644") || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("New with a 0644 token file: got %v, want a permissions error", err)
	}
	if strings.Contains(err.Error(), "hvs.example-token") {
		t.Fatalf("the error shows the token: %v", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := readSecretFile(path, "token")
	if err != nil || tok != "hvs.example-token" {
		t.Fatalf("readSecretFile = %q, %v; want the trimmed token", tok, err)
	}
	c, err := New(context.Background(), Config{Address: "http://127.0.0.1:1", TokenFile: path}, zerolog.Nop())
	if err != nil {
		t.Fatalf("New with a 0600 token file: %v", err)
	}
	c.Close()
	// The SecretID file of AppRole is checked the same way.
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	_, err = New(context.Background(), Config{Address: "http://127.0.0.1:1", RoleID: "role", SecretIDFile: path}, zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), "SecretID file") || !strings.Contains(err.Error(), "permissions 0640") {
		t.Fatalf("New with a 0640 SecretID file: got %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readSecretFile(filepath.Join(dir, "empty"), "token"); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty token file: got %v", err)
	}
}

func TestNoCredentials(t *testing.T) {
	t.Setenv("VAULT_TOKEN", "from-the-environment")
	_, err := New(context.Background(), Config{Address: "http://127.0.0.1:1"}, zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), "no credentials") {
		t.Fatalf("New without a token: got %v; VAULT_TOKEN must not be picked up behind the caller's back", err)
	}
	if _, err := New(context.Background(), Config{Token: "x"}, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "no address") {
		t.Fatalf("New without an address: got %v", err)
	}
}

// TestUnreachable checks that a Vault that refuses connections, or accepts
// them and never answers, gives ErrUnreachable within the timeout, not the
// client library's 60 seconds.
func TestUnreachable(t *testing.T) {
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()

	// A listener that accepts and then says nothing.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()

	const timeout = 700 * time.Millisecond
	for name, addr := range map[string]string{"refused": dead, "silent": silent.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			c, err := New(context.Background(), Config{Address: "http://" + addr, Token: "root", Timeout: timeout}, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			_, err = c.Transit("alice").Sign(context.Background(), 1, []byte("m"))
			took := time.Since(start)
			if !errors.Is(err, ErrUnreachable) {
				t.Fatalf("got %v, want ErrUnreachable", err)
			}
			if errors.Is(err, ErrPermissionDenied) || errors.Is(err, ErrNotFound) {
				t.Fatalf("%v is classed as more than unreachable", err)
			}
			if !strings.Contains(err.Error(), "transit/keys/alice") {
				t.Errorf("error does not name the Vault path: %v", err)
			}
			if strings.Contains(err.Error(), "root") {
				t.Errorf("error shows the token: %v", err)
			}
			if took > timeout+500*time.Millisecond {
				t.Errorf("took %v, want within the %v timeout", took, timeout)
			}
			t.Logf("%v after %v", err, took)
			_, _, err = c.KV("secret").Read(context.Background(), "w")
			if !errors.Is(err, ErrUnreachable) {
				t.Fatalf("KV read: got %v, want ErrUnreachable", err)
			}
		})
	}
}
