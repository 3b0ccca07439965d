package keyring

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAddVault(t *testing.T) {
	k := openTemp(t)
	file, err := k.Add("alice", P256)
	if err != nil {
		t.Fatal(err)
	}
	ref := VaultRef{Mount: "transit", Key: "bob", Version: 1}
	pub := file.PublicKey // any valid p256 key stands for Vault's
	info, err := k.AddVault("bob", pub, ref, false)
	if err != nil {
		t.Fatalf("AddVault: %v", err)
	}
	if info.Backend != BackendVault || info.Vault == nil || *info.Vault != ref || info.PublicKey.String() != pub.String() {
		t.Fatalf("AddVault = %+v", info)
	}
	shown, err := k.Show("bob")
	if err != nil || shown.Backend != BackendVault || *shown.Vault != ref || shown.PublicKey.String() != pub.String() {
		t.Fatalf("Show = %+v, %v", shown, err)
	}
	if fi, _ := k.Show("alice"); fi.Backend != BackendFile || fi.Vault != nil {
		t.Errorf("Show(file key) = %+v, want backend file", fi)
	}
	checkMode(t, filepath.Join(k.Dir(), "bob.json"), 0o600)
	data, _ := os.ReadFile(filepath.Join(k.Dir(), "bob.json"))
	if strings.Contains(string(data), "private") {
		t.Errorf("Vault entry stores a private key field: %s", data)
	}

	// No private key to sign with or export.
	_, err = k.Signer("bob")
	if !errors.Is(err, ErrExternal) || !strings.Contains(err.Error(), "transit/keys/bob version 1") {
		t.Errorf("Signer(vault key): got %v, want ErrExternal naming the Vault key", err)
	}

	// A second add is refused; replace moves the entry to a new version.
	if _, err := k.AddVault("bob", pub, ref, false); !errors.Is(err, ErrExists) {
		t.Errorf("second AddVault: got %v, want ErrExists", err)
	}
	ref2 := VaultRef{Mount: "transit", Key: "bob", Version: 2}
	if _, err := k.AddVault("bob", pub, ref2, true); err != nil {
		t.Fatalf("AddVault replace: %v", err)
	}
	if shown, _ := k.Show("bob"); shown.Vault == nil || shown.Vault.Version != 2 {
		t.Errorf("after replace: %+v, want version 2", shown)
	}
	checkMode(t, filepath.Join(k.Dir(), "bob.json"), 0o600)

	// A file key is never replaced by a Vault entry.
	if _, err := k.AddVault("alice", pub, ref, true); !errors.Is(err, ErrExists) {
		t.Errorf("AddVault over a file key: got %v, want ErrExists", err)
	}
	if _, err := k.Signer("alice"); err != nil {
		t.Errorf("file key damaged: %v", err)
	}

	// Bad references are refused and write nothing.
	for _, bad := range []VaultRef{{Mount: "", Key: "x", Version: 1}, {Mount: "transit", Key: "", Version: 1}, {Mount: "transit", Key: "x", Version: 0}} {
		if _, err := k.AddVault("carol", pub, bad, false); err == nil {
			t.Errorf("AddVault(%+v): no error", bad)
		}
	}
	if _, err := k.Show("carol"); !errors.Is(err, ErrNotFound) {
		t.Errorf("refused AddVault left a key: %v", err)
	}

	list, err := k.List()
	if err != nil || len(list) != 2 || list[1].Backend != BackendVault {
		t.Errorf("List = %+v, %v", list, err)
	}
}

func TestVaultEntryChecked(t *testing.T) {
	k := openTemp(t)
	path := filepath.Join(k.Dir(), "eve.json")
	for body, want := range map[string]string{
		`{"name":"eve","type":"ed25519","public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","private_key":"AAAA","backend":"vault","vault":{"mount":"transit","key":"eve","version":1}}`: "has no private key here",
		`{"name":"eve","type":"ed25519","public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","backend":"vault"}`:                                                                          `needs its "vault" reference`,
		`{"name":"eve","type":"ed25519","public_key":"AAAA","backend":"vault","vault":{"mount":"transit","key":"eve","version":1}}`:                                                              "got 3 bytes",
		`{"name":"eve","type":"ed25519","public_key":"AAAA","backend":"hsm"}`:                                                                                                                    `unknown backend "hsm"`,
	} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Show("eve"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Show(%s): got %v, want %q", body, err, want)
		}
	}
}
