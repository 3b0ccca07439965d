package main

import (
	"bytes"
	"encoding/base64"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/certs/keyring"
)

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got error %v, want one containing %q", err, want)
	}
}

func TestParseKeyFlags(t *testing.T) {
	dir := t.TempDir()
	kr, err := keyring.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	carol, err := kr.Add("carol", keyring.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	dave, err := kr.Add("dave", keyring.P256)
	if err != nil {
		t.Fatal(err)
	}
	open := func() (*keyring.Keyring, error) { return kr, nil }
	ed := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	tests := []struct {
		name    string
		keys    []string
		from    []string
		want    []app.AccountKey
		wantErr string
	}{
		{name: "key with weight", keys: []string{"ed25519:" + ed + ":3"},
			want: []app.AccountKey{{KeyType: app.KeyEd25519, PublicKey: bytes.Repeat([]byte{9}, 32), Weight: 3}}},
		{name: "key and keyring keys", keys: []string{"ed25519:" + ed}, from: []string{"carol", "dave:2"},
			want: []app.AccountKey{
				{KeyType: app.KeyEd25519, PublicKey: bytes.Repeat([]byte{9}, 32), Weight: 1},
				{KeyType: app.KeyEd25519, PublicKey: carol.PublicKey.Bytes, Weight: 1},
				{KeyType: app.KeyP256, PublicKey: dave.PublicKey.Bytes, Weight: 2},
			}},
		{name: "bad key", keys: []string{"ed25519"}, wantErr: `--key: key "ed25519": want TYPE:BASE64 or TYPE:BASE64:WEIGHT`},
		{name: "short key", keys: []string{"ed25519:AAAA"}, wantErr: "--key: key \"ed25519:AAAA\": ed25519 public key is 3 bytes, want 32"},
		{name: "unknown keyring key", from: []string{"erin"}, wantErr: `--key-from: "erin": want KEYRING_NAME[:WEIGHT]: key "erin" not found`},
		{name: "bad keyring weight", from: []string{"carol:x"}, wantErr: `--key-from: "carol:x": key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseKeyFlags("key", tt.keys, "key-from", tt.from, open)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr == "" && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCheckKeySet(t *testing.T) {
	k := func(w uint32) app.AccountKey {
		return app.AccountKey{KeyType: app.KeyEd25519, PublicKey: make([]byte, 32), Weight: w}
	}
	tests := []struct {
		name      string
		keys      []app.AccountKey
		threshold uint32
		want      uint32
		wantErr   string
	}{
		{name: "one key defaults to its weight", keys: []app.AccountKey{k(2)}, want: 2},
		{name: "explicit", keys: []app.AccountKey{k(1), k(1)}, threshold: 2, want: 2},
		{name: "several keys need a threshold", keys: []app.AccountKey{k(1), k(1)}, wantErr: "--threshold is required with 2 keys: the key weight that must sign (1 to 2)"},
		{name: "too high", keys: []app.AccountKey{k(1), k(1)}, threshold: 3, wantErr: "--threshold 3: exceeds the total key weight 2"},
		{name: "no keys", wantErr: "--key or --key-from: at least one key is needed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := tt.threshold
			err := checkKeySet(tt.keys, &th, "--key or --key-from")
			checkErr(t, err, tt.wantErr)
			if tt.wantErr == "" && th != tt.want {
				t.Errorf("got threshold %d, want %d", th, tt.want)
			}
		})
	}
}

func TestParseIssuerFlags(t *testing.T) {
	tests := []struct {
		name    string
		specs   []string
		want    []app.Issuer
		wantErr string
	}{
		{name: "none"},
		{name: "unlimited by default", specs: []string{"bank-a"}, want: []app.Issuer{{Account: "bank-a", Cap: math.MaxUint64}}},
		{name: "caps in units", specs: []string{"bank-a:1000.50", "bank-b:unlimited"}, want: []app.Issuer{{Account: "bank-a", Cap: 100050}, {Account: "bank-b", Cap: math.MaxUint64}}},
		{name: "bad account", specs: []string{"Bank"}, wantErr: `--issuer "Bank": want ACCOUNT[:CAP]: invalid field: account name "Bank"`},
		{name: "bad cap", specs: []string{"bank-a:1.234"}, wantErr: `--issuer "bank-a:1.234": cap: amount "1.234": at most 2 decimal places for this asset, or "unlimited"`},
		{name: "zero cap", specs: []string{"bank-a:0"}, wantErr: "a cap of 0 lets the issuer mint nothing"},
		{name: "twice", specs: []string{"bank-a", "bank-a:5"}, wantErr: "bank-a is listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseIssuerFlags(tt.specs, 2)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr == "" && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseRoleFlags(t *testing.T) {
	tests := []struct {
		name    string
		specs   []string
		want    []app.Grant
		wantErr string
	}{
		{name: "sorted by role", specs: []string{"member", "issuer:120"}, want: []app.Grant{{Role: "issuer", ExpiresAt: 120}, {Role: "member"}}},
		{name: "bad name", specs: []string{"Admin"}, wantErr: `--role "Admin": want ROLE[:EXPIRES_AT_HEIGHT]: invalid role: name "Admin"`},
		{name: "bad expiry", specs: []string{"member:soon"}, wantErr: `--role "member:soon": expiry "soon": want a block height above 0`},
		{name: "zero expiry", specs: []string{"member:0"}, wantErr: `expiry "0"`},
		{name: "twice", specs: []string{"member", "member:5"}, wantErr: "role member is listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRoleFlags(tt.specs)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr == "" && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParsePermissions(t *testing.T) {
	got, err := parsePermissions("clerk", []string{"transfer", "pause"})
	checkErr(t, err, "")
	if want := []string{"transfer", "pause"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	got, err = parsePermissions("watcher", nil)
	checkErr(t, err, "")
	if len(got) != 0 {
		t.Errorf("got %v, want no permissions", got)
	}
	_, err = parsePermissions("clerk", []string{"fly"})
	checkErr(t, err, `--permissions: unknown permission "fly"; want some of transfer, mint, burn,`)
	_, err = parsePermissions("clerk", []string{"pause", "pause"})
	checkErr(t, err, `--permissions: invalid role "clerk": permission "pause" listed twice`)
}

func TestParseCapAndValidatorKey(t *testing.T) {
	if v, err := parseCap("unlimited", 2); err != nil || v != math.MaxUint64 {
		t.Errorf("parseCap(unlimited) = %d, %v", v, err)
	}
	if v, err := parseCap("0", 2); err != nil || v != 0 {
		t.Errorf("parseCap(0) = %d, %v; want 0 (removes the issuer)", v, err)
	}
	if v, err := parseCap("12.5", 2); err != nil || v != 1250 {
		t.Errorf("parseCap(12.5) = %d, %v; want 1250", v, err)
	}
	_, err := parseCap("lots", 2)
	checkErr(t, err, `amount "lots": want digits`)

	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{4}, 32))
	for _, s := range []string{key, "ed25519:" + key} {
		if b, err := parseValidatorKey(s); err != nil || len(b) != 32 {
			t.Errorf("parseValidatorKey(%q) = %x, %v", s, b, err)
		}
	}
	_, err = parseValidatorKey("AAAA")
	checkErr(t, err, `--pubkey "AAAA": 3 bytes, want a 32-byte ed25519 key`)
	_, err = parseValidatorKey("%%")
	checkErr(t, err, `--pubkey "%%": want the validator's ed25519 public key in standard base64`)
}

func TestRequireFlags(t *testing.T) {
	checkErr(t, requireFlags("--to", "bob", "--asset", "", "--amount", ""), "--asset is required")
	checkErr(t, requireFlags("--to", "bob"), "")
}
