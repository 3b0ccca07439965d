package client

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/consort-ledger/consort/app"
)

func testKey(b byte, weight uint32) app.AccountKey {
	return app.AccountKey{KeyType: app.KeyEd25519, PublicKey: bytes.Repeat([]byte{b}, 32), Weight: weight}
}

func TestParseAccountKey(t *testing.T) {
	ed := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256 := elliptic.MarshalCompressed(elliptic.P256(), priv.X, priv.Y)
	p256b64 := base64.StdEncoding.EncodeToString(p256)
	tests := []struct {
		in      string
		want    app.AccountKey
		wantErr string
	}{
		{in: "ed25519:" + ed, want: app.AccountKey{KeyType: app.KeyEd25519, PublicKey: bytes.Repeat([]byte{7}, 32), Weight: 1}},
		{in: "ed25519:" + ed + ":3", want: app.AccountKey{KeyType: app.KeyEd25519, PublicKey: bytes.Repeat([]byte{7}, 32), Weight: 3}},
		{in: "p256:" + p256b64 + ":2", want: app.AccountKey{KeyType: app.KeyP256, PublicKey: p256, Weight: 2}},
		{in: ed, wantErr: "want TYPE:BASE64 or TYPE:BASE64:WEIGHT"},
		{in: "ed25519:" + ed + ":1:2", wantErr: "want TYPE:BASE64 or TYPE:BASE64:WEIGHT"},
		{in: "rsa:" + ed, wantErr: `key type "rsa": want ed25519 or p256`},
		{in: "ed25519:not base64!", wantErr: "public key: want standard base64"},
		{in: "ed25519:AAAA", wantErr: "ed25519 public key is 3 bytes, want 32"},
		{in: "p256:" + ed, wantErr: "p256 public key is 32 bytes, want 33"},
		{in: "ed25519:" + ed + ":0", wantErr: `weight "0": want a whole number from 1 to 4294967295`},
		{in: "ed25519:" + ed + ":-1", wantErr: `weight "-1"`},
		{in: "ed25519:" + ed + ":4294967296", wantErr: `weight "4294967296"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAccountKey(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.KeyType != tt.want.KeyType || !bytes.Equal(got.PublicKey, tt.want.PublicKey) || got.Weight != tt.want.Weight {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			// The text form round-trips.
			if s := FormatPublicKey(got.KeyType, got.PublicKey); !strings.HasPrefix(tt.in, s) {
				t.Errorf("FormatPublicKey = %q, want a prefix of %q", s, tt.in)
			}
		})
	}
}

func TestEditKeys(t *testing.T) {
	a, b, c := testKey(1, 1), testKey(2, 1), testKey(3, 2)
	tests := []struct {
		name             string
		current, add, rm []app.AccountKey
		want             []app.AccountKey
		wantErr          string
	}{
		{name: "add", current: []app.AccountKey{a}, add: []app.AccountKey{b}, want: []app.AccountKey{a, b}},
		{name: "remove", current: []app.AccountKey{a, b}, rm: []app.AccountKey{a}, want: []app.AccountKey{b}},
		{name: "rotate", current: []app.AccountKey{a}, add: []app.AccountKey{b}, rm: []app.AccountKey{a}, want: []app.AccountKey{b}},
		{name: "reweigh: removal matches whatever the weight", current: []app.AccountKey{a}, add: []app.AccountKey{testKey(1, 5)}, rm: []app.AccountKey{testKey(1, 9)}, want: []app.AccountKey{testKey(1, 5)}},
		{name: "remove unknown", current: []app.AccountKey{a}, rm: []app.AccountKey{c}, wantErr: "not a key of the account"},
		{name: "add existing", current: []app.AccountKey{a}, add: []app.AccountKey{a}, wantErr: "already a key of the account"},
		{name: "remove all", current: []app.AccountKey{a}, rm: []app.AccountKey{a}, wantErr: "no key left"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := append([]app.AccountKey(nil), tt.current...)
			got, err := EditKeys(tt.current, tt.add, tt.rm)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d keys, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if !bytes.Equal(got[i].PublicKey, tt.want[i].PublicKey) || got[i].Weight != tt.want[i].Weight {
					t.Errorf("key %d: got %+v, want %+v", i, got[i], tt.want[i])
				}
			}
			for i := range before {
				if !bytes.Equal(tt.current[i].PublicKey, before[i].PublicKey) {
					t.Errorf("EditKeys changed its input")
				}
			}
		})
	}
	if got, want := TotalWeight([]app.AccountKey{a, b, c}), uint64(4); got != want {
		t.Errorf("TotalWeight: got %d, want %d", got, want)
	}
}
