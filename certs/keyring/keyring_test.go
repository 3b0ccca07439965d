package keyring

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var keyTypes = []KeyType{Ed25519, P256}

// openTemp opens a keyring in a fresh temp directory.
func openTemp(tb testing.TB) *Keyring {
	tb.Helper()
	k, err := Open(filepath.Join(tb.TempDir(), "keyring"))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return k
}

// readKeyFile decodes the key file of name as stored on disk.
func readKeyFile(tb testing.TB, k *Keyring, name string) keyFile {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(k.Dir(), name+".json"))
	if err != nil {
		tb.Fatalf("read key file: %v", err)
	}
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		tb.Fatalf("decode key file: %v", err)
	}
	return kf
}

func TestRoundTrip(t *testing.T) {
	for _, typ := range keyTypes {
		t.Run(string(typ), func(t *testing.T) {
			k := openTemp(t)
			added := map[string]Info{}
			for _, name := range []string{"bob", "alice", "bank-a.treasury"} {
				info, err := k.Add(name, typ)
				if err != nil {
					t.Fatalf("Add(%q): %v", name, err)
				}
				if info.Name != name || info.PublicKey.Type != typ || len(info.PublicKey.Bytes) != pubSize(typ) {
					t.Fatalf("Add(%q) = %v, want name %q, type %s, %d-byte key", name, info, name, typ, pubSize(typ))
				}
				added[name] = info
			}

			list, err := k.List()
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			var names []string
			for _, info := range list {
				names = append(names, info.Name)
				if want := added[info.Name]; info.PublicKey.String() != want.PublicKey.String() {
					t.Errorf("List: %s has key %s, want %s", info.Name, info.PublicKey, want.PublicKey)
				}
			}
			if got, want := strings.Join(names, ","), "alice,bank-a.treasury,bob"; got != want {
				t.Errorf("List names: got %s, want %s", got, want)
			}

			shown, err := k.Show("alice")
			if err != nil {
				t.Fatalf("Show: %v", err)
			}
			if got, want := shown.PublicKey.String(), added["alice"].PublicKey.String(); got != want {
				t.Errorf("Show: got %s, want %s", got, want)
			}

			kf := readKeyFile(t, k, "alice")
			wantPriv := map[KeyType]int{Ed25519: 64, P256: 32}[typ]
			if kf.Name != "alice" || kf.Type != typ || len(kf.PrivateKey) != wantPriv || !bytes.Equal(kf.PublicKey, shown.PublicKey.Bytes) {
				t.Errorf("key file: got name %q type %q %d-byte private key, want alice %s %d bytes and the shown public key", kf.Name, kf.Type, len(kf.PrivateKey), typ, wantPriv)
			}

			if err := k.Delete("alice"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := k.Show("alice"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Show after Delete: got %v, want ErrNotFound", err)
			}
			if err := k.Delete("alice"); !errors.Is(err, ErrNotFound) {
				t.Errorf("second Delete: got %v, want ErrNotFound", err)
			}
			if list, _ := k.List(); len(list) != 2 {
				t.Errorf("List after Delete: got %d keys, want 2", len(list))
			}
		})
	}
}

func TestNotFoundMessage(t *testing.T) {
	k := openTemp(t)
	_, err := k.Show("carol")
	want := `key "carol" not found in keyring ` + k.Dir()
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestFileModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix permissions")
	}
	for _, typ := range keyTypes {
		t.Run(string(typ), func(t *testing.T) {
			k := openTemp(t)
			if _, err := k.Add("alice", typ); err != nil {
				t.Fatalf("Add: %v", err)
			}
			checkMode(t, k.Dir(), 0o700)
			checkMode(t, filepath.Join(k.Dir(), "alice.json"), 0o600)
			entries, _ := os.ReadDir(k.Dir())
			if len(entries) != 1 {
				t.Errorf("got %d files in keyring dir, want 1 (no temp files left)", len(entries))
			}
		})
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("%s: got mode %04o, want %04o", filepath.Base(path), got, want)
	}
}

func TestRefuseOpenPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix permissions")
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		t.Run(mode.String(), func(t *testing.T) {
			k := openTemp(t)
			if _, err := k.Add("alice", Ed25519); err != nil {
				t.Fatalf("Add: %v", err)
			}
			path := filepath.Join(k.Dir(), "alice.json")
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			for op, call := range map[string]func() error{
				"Show":   func() error { _, err := k.Show("alice"); return err },
				"Signer": func() error { _, err := k.Signer("alice"); return err },
				"List":   func() error { _, err := k.List(); return err },
			} {
				err := call()
				if err == nil {
					t.Fatalf("%s: got nil error, want refusal of mode %04o", op, mode)
				}
				for _, want := range []string{path, `chmod 600 ` + path, "group or others"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%s: got %q, want it to contain %q", op, err, want)
					}
				}
			}
			if err := os.Chmod(path, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := k.Show("alice"); err != nil {
				t.Errorf("Show after chmod 600: got %v, want nil", err)
			}
		})
	}
}

func TestNames(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"0", true},
		{"bank-a.treasury", true},
		{"node-1.validator", true},
		{strings.Repeat("a", 64), true},
		{"", false},
		{strings.Repeat("a", 65), false},
		{"Alice", false},
		{"-alice", false},
		{".alice", false},
		{"a_b", false},
		{"a b", false},
		{"a/b", false},
		{"../alice", false},
		{"alicé", false},
	}
	k := openTemp(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := k.Add(tt.name, Ed25519)
			if got := err == nil; got != tt.ok {
				t.Fatalf("Add(%q): got error %v, want ok=%v", tt.name, err, tt.ok)
			}
			if !tt.ok && !strings.Contains(err.Error(), "invalid key name") {
				t.Errorf("Add(%q): got %q, want an invalid key name error", tt.name, err)
			}
			if !tt.ok {
				for op, err := range map[string]error{
					"Show":   second(k.Show(tt.name)),
					"Signer": second(k.Signer(tt.name)),
					"Delete": k.Delete(tt.name),
				} {
					if err == nil || !strings.Contains(err.Error(), "invalid key name") {
						t.Errorf("%s(%q): got %v, want an invalid key name error", op, tt.name, err)
					}
				}
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }

func TestDuplicateAdd(t *testing.T) {
	for _, typ := range keyTypes {
		t.Run(string(typ), func(t *testing.T) {
			k := openTemp(t)
			first, err := k.Add("alice", typ)
			if err != nil {
				t.Fatalf("Add: %v", err)
			}
			for _, other := range keyTypes {
				if _, err := k.Add("alice", other); !errors.Is(err, ErrExists) {
					t.Errorf("Add %s over %s: got %v, want ErrExists", other, typ, err)
				}
			}
			priv := readKeyFile(t, k, "alice").PrivateKey
			if _, err := k.Import("alice", typ, priv); !errors.Is(err, ErrExists) {
				t.Errorf("Import over existing: got %v, want ErrExists", err)
			}
			got, err := k.Show("alice")
			if err != nil || got.PublicKey.String() != first.PublicKey.String() {
				t.Errorf("Show after duplicates: got %v, %v, want %v unchanged", got, err, first)
			}
		})
	}
}

func TestImport(t *testing.T) {
	// RFC 8032, test 1: seed ‖ public key, signature of the empty message.
	rfcPriv := unhex(t, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"+
		"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
	rfcSig := unhex(t, "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
	// Scalar 1: the public key is the P-256 generator, compressed.
	one := make([]byte, 32)
	one[31] = 1
	generator := unhex(t, "036b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296")

	k := openTemp(t)
	info, err := k.Import("rfc", Ed25519, rfcPriv)
	if err != nil {
		t.Fatalf("Import ed25519: %v", err)
	}
	if !bytes.Equal(info.PublicKey.Bytes, rfcPriv[32:]) {
		t.Errorf("ed25519 public key: got %x, want %x", info.PublicKey.Bytes, rfcPriv[32:])
	}
	s, err := k.Signer("rfc")
	if err != nil {
		t.Fatal(err)
	}
	if sig, err := s.Sign(t.Context(), nil); err != nil || !bytes.Equal(sig, rfcSig) {
		t.Errorf("ed25519 signature: got %x, %v, want %x", sig, err, rfcSig)
	}

	info, err = k.Import("one", P256, one)
	if err != nil {
		t.Fatalf("Import p256: %v", err)
	}
	if !bytes.Equal(info.PublicKey.Bytes, generator) {
		t.Errorf("p256 public key: got %x, want %x", info.PublicKey.Bytes, generator)
	}

	mismatched := bytes.Clone(rfcPriv)
	mismatched[40] ^= 1
	order := unhex(t, "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")
	bad := []struct {
		name string
		typ  KeyType
		priv []byte
		want string
	}{
		{"short-ed25519", Ed25519, rfcPriv[:32], "got 32 bytes, want 64"},
		{"mismatched-ed25519", Ed25519, mismatched, "does not match"},
		{"zero-pub-ed25519", Ed25519, append(bytes.Clone(rfcPriv[:32]), make([]byte, 32)...), "does not match"},
		{"short-p256", P256, one[1:], "got 31 bytes, want 32"},
		{"zero-p256", P256, make([]byte, 32), "out of range"},
		{"order-p256", P256, order, "out of range"},
		{"unknown-type", KeyType("rsa"), one, `unknown key type "rsa"`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := k.Import(tt.name, tt.typ, tt.priv)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want error containing %q", err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(k.Dir(), tt.name+".json")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("key file after failed Import: got %v, want none", err)
			}
		})
	}
}

func TestCorruptKeyFile(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(kf map[string]any)
		want   string
	}{
		{"renamed", func(kf map[string]any) { kf["name"] = "bob" }, `holds key "bob", want "alice"`},
		{"unknown-type", func(kf map[string]any) { kf["type"] = "rsa" }, `unknown key type "rsa"`},
		{"other-public-key", func(kf map[string]any) { kf["public_key"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" }, "public_key does not match"},
		{"unknown-field", func(kf map[string]any) { kf["extra"] = 1 }, "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := openTemp(t)
			if _, err := k.Add("alice", Ed25519); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(k.Dir(), "alice.json")
			data, _ := os.ReadFile(path)
			var kf map[string]any
			if err := json.Unmarshal(data, &kf); err != nil {
				t.Fatal(err)
			}
			tt.mutate(kf)
			data, _ = json.Marshal(kf)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := k.Signer("alice")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("got %v, want error naming %s and containing %q", err, path, tt.want)
			}
		})
	}
}
