package keyring

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	stded25519 "crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// addSigner adds a key of type typ under name and returns its signer.
func addSigner(tb testing.TB, k *Keyring, name string, typ KeyType) Signer {
	tb.Helper()
	if _, err := k.Add(name, typ); err != nil {
		tb.Fatalf("Add(%q, %s): %v", name, typ, err)
	}
	s, err := k.Signer(name)
	if err != nil {
		tb.Fatalf("Signer(%q): %v", name, err)
	}
	return s
}

func TestSignVerify(t *testing.T) {
	k := openTemp(t)
	msg := []byte(`{"chain_id":"consort-dev","inputs":[]}`)
	for _, typ := range keyTypes {
		t.Run(string(typ), func(t *testing.T) {
			s := addSigner(t, k, "alice-"+string(typ), typ)
			other := addSigner(t, k, "bob-"+string(typ), typ)
			sig, err := s.Sign(t.Context(), msg)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if len(sig) != SignatureSize {
				t.Fatalf("got %d-byte signature, want %d", len(sig), SignatureSize)
			}
			flipped := bytes.Clone(sig)
			flipped[10] ^= 1
			wrongType := s.PublicKey()
			wrongType.Type = map[KeyType]KeyType{Ed25519: P256, P256: Ed25519}[typ]
			tests := []struct {
				name string
				pub  PublicKey
				msg  []byte
				sig  []byte
				want bool
			}{
				{"valid", s.PublicKey(), msg, sig, true},
				{"changed message", s.PublicKey(), append(bytes.Clone(msg), ' '), sig, false},
				{"empty message", s.PublicKey(), nil, sig, false},
				{"other key", other.PublicKey(), msg, sig, false},
				{"flipped bit", s.PublicKey(), msg, flipped, false},
				{"short signature", s.PublicKey(), msg, sig[:63], false},
				{"long signature", s.PublicKey(), msg, append(bytes.Clone(sig), 0), false},
				{"wrong type", wrongType, msg, sig, false},
				{"no key", PublicKey{}, msg, sig, false},
			}
			for _, tt := range tests {
				if got := Verify(tt.pub, tt.msg, tt.sig); got != tt.want {
					t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
				}
			}
		})
	}
}

// TestIndependentVerify checks signatures with verifiers that do not share
// this package's code: Go's crypto/ed25519, and ecdsa over Go's own
// decoding of the compressed point.
func TestIndependentVerify(t *testing.T) {
	k := openTemp(t)
	msg := []byte("verbatim body bytes")

	s := addSigner(t, k, "ed", Ed25519)
	sig, _ := s.Sign(t.Context(), msg)
	if !stded25519.Verify(s.PublicKey().Bytes, msg, sig) {
		t.Errorf("ed25519: crypto/ed25519 rejects the signature")
	}

	s = addSigner(t, k, "p", P256)
	sig, _ = s.Sign(t.Context(), msg)
	x, y := elliptic.UnmarshalCompressed(elliptic.P256(), s.PublicKey().Bytes)
	if x == nil {
		t.Fatalf("p256: public key %x is not a compressed point", s.PublicKey().Bytes)
	}
	pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}
	digest := sha256.Sum256(msg)
	r, sv := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, sv) {
		t.Errorf("p256: ecdsa.Verify rejects the signature over sha256(msg)")
	}
}

func TestP256LowS(t *testing.T) {
	k := openTemp(t)
	s := addSigner(t, k, "alice", P256)
	n := elliptic.P256().Params().N
	half := new(big.Int).Rsh(n, 1)
	for i := range 200 {
		msg := []byte(fmt.Sprintf("message %d", i))
		sig, err := s.Sign(t.Context(), msg)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if len(sig) != 64 {
			t.Fatalf("message %d: got %d-byte signature, want 64", i, len(sig))
		}
		sv := new(big.Int).SetBytes(sig[32:])
		if sv.Cmp(half) > 0 {
			t.Fatalf("message %d: got s = %x, want s <= n/2", i, sv)
		}
		if !Verify(s.PublicKey(), msg, sig) {
			t.Fatalf("message %d: signature does not verify", i)
		}
		// The high-S twin is a valid ECDSA signature that Verify must refuse.
		high := bytes.Clone(sig)
		new(big.Int).Sub(n, sv).FillBytes(high[32:])
		if Verify(s.PublicKey(), msg, high) {
			t.Fatalf("message %d: Verify accepts the high-S signature", i)
		}
	}
}

func TestSignCanceled(t *testing.T) {
	k := openTemp(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, typ := range keyTypes {
		s := addSigner(t, k, string(typ), typ)
		if _, err := s.Sign(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: got %v, want context.Canceled", typ, err)
		}
	}
}

func TestNoPrivateKeyInOutput(t *testing.T) {
	k := openTemp(t)
	for _, typ := range keyTypes {
		t.Run(string(typ), func(t *testing.T) {
			info, err := k.Add("alice-"+string(typ), typ)
			if err != nil {
				t.Fatal(err)
			}
			s, err := k.Signer(info.Name)
			if err != nil {
				t.Fatal(err)
			}
			priv := readKeyFile(t, k, info.Name).PrivateKey
			infoJSON, _ := json.Marshal(info)
			out := fmt.Sprintf("%v %+v %#v %s %x %X %q|%v %+v %#v %s %x %X %d %q|%s",
				info, info, info, info, info, info, info,
				s, s, s, s, s, s, s, s, infoJSON)
			seed := priv[:32]
			for _, leak := range []string{
				base64.StdEncoding.EncodeToString(seed),
				base64.StdEncoding.EncodeToString(seed)[:20],
				hex.EncodeToString(seed)[:20],
				strings.ToUpper(hex.EncodeToString(seed))[:20],
				strings.Trim(fmt.Sprint(seed[:8]), "[]"),
			} {
				if strings.Contains(out, leak) {
					t.Errorf("private key material %q appears in output %q", leak, out)
				}
			}
			if !strings.Contains(out, info.PublicKey.String()) {
				t.Errorf("got %q, want it to show the public key %s", out, info.PublicKey)
			}
		})
	}
}

func TestPublicKeyText(t *testing.T) {
	k := openTemp(t)
	for _, typ := range keyTypes {
		info, err := k.Add("alice-"+string(typ), typ)
		if err != nil {
			t.Fatal(err)
		}
		s := info.PublicKey.String()
		if want := string(typ) + ":" + base64.StdEncoding.EncodeToString(info.PublicKey.Bytes); s != want {
			t.Errorf("String: got %s, want %s", s, want)
		}
		data, err := json.Marshal(info)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"name":"` + info.Name + `","public_key":"` + s + `","backend":"file"}`; string(data) != want {
			t.Errorf("JSON: got %s, want %s", data, want)
		}
		var back Info
		if err := json.Unmarshal(data, &back); err != nil || back.Name != info.Name || back.PublicKey.String() != s {
			t.Errorf("JSON round trip: got %v, %v, want %v", back, err, info)
		}
	}
	for _, bad := range []string{"", "ed25519", "rsa:AAAA", "ed25519:!!", "ed25519:AAAA", "p256:" + base64.StdEncoding.EncodeToString(make([]byte, 32))} {
		if _, err := ParsePublicKey(bad); err == nil {
			t.Errorf("ParsePublicKey(%q): got nil error, want one", bad)
		}
	}
}

func TestParseKeyType(t *testing.T) {
	tests := []struct {
		in      string
		want    KeyType
		wantErr bool
	}{
		{"ed25519", Ed25519, false},
		{"p256", P256, false},
		{"P256", "", true},
		{"secp256k1", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := ParseKeyType(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseKeyType(%q): got %q, %v, want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
