package certs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cometbft/cometbft/privval"

	"github.com/consort-ledger/consort/certs"
)

func TestFileKey(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "priv_validator_key.json")
	pv := privval.GenFilePV(keyFile, filepath.Join(dir, "state.json"))
	pv.Save()
	k, err := certs.LoadFileKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if v, _ := k.LatestVersion(ctx); v != 1 {
		t.Fatalf("latest version %d", v)
	}
	pub, err := k.PubKey(ctx, 1)
	if err != nil || !pub.Equals(pv.Key.PubKey) {
		t.Fatalf("public key %v, %v; want the file's", pub, err)
	}
	sig, err := k.Sign(ctx, 1, []byte("vote"))
	if err != nil || !pv.Key.PubKey.VerifySignature([]byte("vote"), sig) {
		t.Fatalf("signature does not verify: %v", err)
	}
	if _, err := k.Sign(ctx, 2, []byte("vote")); err == nil {
		t.Error("version 2 of a key file signed")
	}
	if s := fmt.Sprintf("%v %+v %#v %s", k, k, k, k); strings.Contains(s, fmt.Sprintf("%X", pv.Key.PrivKey.Bytes())) {
		t.Error("formatting a FileKey printed its private key")
	}

	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := certs.LoadFileKey(keyFile); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a world-readable key file: %v", err)
	}
	if err := os.WriteFile(keyFile, []byte(`{"address":"00"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := certs.LoadFileKey(keyFile); err == nil {
		t.Error("a key file without priv_key loaded")
	}
}
