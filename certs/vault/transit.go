package vault

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync"

	"github.com/cometbft/cometbft/crypto"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/consort-ledger/consort/certs"
	"github.com/consort-ledger/consort/certs/keyring"
)

// Vault's names of the transit key types consort uses.
const (
	TransitEd25519 = "ed25519"
	TransitP256    = "ecdsa-p256"
)

// TransitType returns Vault's name of the transit key type for a keyring
// key type.
func TransitType(t keyring.KeyType) (string, error) {
	switch t {
	case keyring.Ed25519:
		return TransitEd25519, nil
	case keyring.P256:
		return TransitP256, nil
	}
	return "", fmt.Errorf("unknown key type %q: want %q or %q", t, keyring.Ed25519, keyring.P256)
}

// keyringType is the inverse of TransitType.
func keyringType(vaultType string) (keyring.KeyType, error) {
	switch vaultType {
	case TransitEd25519:
		return keyring.Ed25519, nil
	case TransitP256:
		return keyring.P256, nil
	}
	return "", fmt.Errorf("transit key type %q cannot sign for consort: want %s or %s", vaultType, TransitEd25519, TransitP256)
}

// ParseTransitPath reads a transit key's location as "MOUNT/keys/NAME"
// (e.g. transit/keys/alice, or a mount with slashes: team/transit/keys/alice)
// or as a bare NAME in the default mount ("" mount).
func ParseTransitPath(s string) (mount, name string, err error) {
	s = strings.Trim(s, "/")
	if i := strings.LastIndex(s, "/keys/"); i >= 0 {
		mount, name = s[:i], s[i+len("/keys/"):]
	} else if !strings.Contains(s, "/") {
		name = s
	} else {
		return "", "", fmt.Errorf("vault key %q: want MOUNT/keys/NAME, e.g. transit/keys/alice", s)
	}
	if name == "" || strings.Contains(name, "/") || mount == "" && strings.Contains(s, "/keys/") {
		return "", "", fmt.Errorf("vault key %q: want MOUNT/keys/NAME, e.g. transit/keys/alice", s)
	}
	return mount, name, nil
}

// TransitKey is one named key of the transit engine. It implements
// certs.KeyProvider for ed25519 keys; PublicKey and Signer serve both
// ed25519 and ecdsa-p256 keys for accounts. Public keys are cached per
// version (a version's key never changes).
type TransitKey struct {
	c           *Client
	mount, name string

	mu   sync.Mutex
	typ  keyring.KeyType // "" until read
	pubs map[int]keyring.PublicKey
}

var _ certs.KeyProvider = (*TransitKey)(nil)

// Transit returns the key called name in the client's transit mount.
func (c *Client) Transit(name string) *TransitKey { return c.TransitAt(c.cfg.TransitMount, name) }

// TransitAt returns the key called name in the transit engine mounted at
// mount ("" for the client's).
func (c *Client) TransitAt(mount, name string) *TransitKey {
	mount = strings.Trim(mount, "/")
	if mount == "" {
		mount = c.cfg.TransitMount
	}
	return &TransitKey{c: c, mount: mount, name: name, pubs: map[int]keyring.PublicKey{}}
}

// Name returns the key's name.
func (k *TransitKey) Name() string { return k.name }

// Mount returns the transit engine's mount.
func (k *TransitKey) Mount() string { return k.mount }

// Path returns "MOUNT/keys/NAME", the form ParseTransitPath reads.
func (k *TransitKey) Path() string { return k.mount + "/keys/" + k.name }

// KeyInfo is what Vault says of a transit key.
type KeyInfo struct {
	Type                 keyring.KeyType // ed25519 or p256
	LatestVersion        int
	MinEncryptionVersion int // 0: every version signs
	MinDecryptionVersion int
	Exportable           bool
	// PublicKeys by version, for the versions Vault still lists.
	PublicKeys map[int]keyring.PublicKey
}

// keyResponse is the data of GET MOUNT/keys/NAME.
type keyResponse struct {
	Type                 string                     `json:"type"`
	LatestVersion        int                        `json:"latest_version"`
	MinEncryptionVersion int                        `json:"min_encryption_version"`
	MinDecryptionVersion int                        `json:"min_decryption_version"`
	Exportable           bool                       `json:"exportable"`
	Keys                 map[string]json.RawMessage `json:"keys"`
}

// Info reads the key from Vault. A missing key is an error of class
// ErrNotFound.
func (k *TransitKey) Info(ctx context.Context) (KeyInfo, error) {
	path := k.Path()
	secret, err := k.c.read(ctx, "read transit key", path)
	if err != nil {
		return KeyInfo{}, err
	}
	if secret == nil || secret.Data == nil {
		return KeyInfo{}, &Error{Op: "read transit key", Path: path, Status: 404, Class: ErrNotFound}
	}
	var kr keyResponse
	if err := remarshal(secret.Data, &kr); err != nil {
		return KeyInfo{}, fmt.Errorf("vault: read transit key %s: %w", path, err)
	}
	t, err := keyringType(kr.Type)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("vault: %s: %w", path, err)
	}
	info := KeyInfo{
		Type: t, LatestVersion: kr.LatestVersion, MinEncryptionVersion: kr.MinEncryptionVersion,
		MinDecryptionVersion: kr.MinDecryptionVersion, Exportable: kr.Exportable,
		PublicKeys: map[int]keyring.PublicKey{},
	}
	for vs, raw := range kr.Keys {
		v, err := strconv.Atoi(vs)
		if err != nil || v < 1 {
			return KeyInfo{}, fmt.Errorf("vault: %s: invalid key version %q", path, vs)
		}
		var entry struct {
			PublicKey string `json:"public_key"`
		}
		if err := json.Unmarshal(raw, &entry); err != nil {
			return KeyInfo{}, fmt.Errorf("vault: %s version %d: %w", path, v, err)
		}
		pub, err := parseTransitPublicKey(t, entry.PublicKey)
		if err != nil {
			return KeyInfo{}, fmt.Errorf("vault: %s version %d: %w", path, v, err)
		}
		info.PublicKeys[v] = pub
	}
	k.mu.Lock()
	k.typ = t
	for v, p := range info.PublicKeys {
		k.pubs[v] = p
	}
	k.mu.Unlock()
	return info, nil
}

// Exists reports whether the key exists in Vault.
func (k *TransitKey) Exists(ctx context.Context) (bool, error) {
	_, err := k.Info(ctx)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// LatestVersion returns the key's newest version, asking Vault each time
// (a rotation elsewhere changes it).
func (k *TransitKey) LatestVersion(ctx context.Context) (int, error) {
	info, err := k.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.LatestVersion, nil
}

// Type returns the key's type.
func (k *TransitKey) Type(ctx context.Context) (keyring.KeyType, error) {
	k.mu.Lock()
	t := k.typ
	k.mu.Unlock()
	if t != "" {
		return t, nil
	}
	info, err := k.Info(ctx)
	return info.Type, err
}

// PublicKey returns the public key of version in the ledger's form, for
// ed25519 and p256 keys alike.
func (k *TransitKey) PublicKey(ctx context.Context, version int) (keyring.PublicKey, error) {
	if version < 1 {
		return keyring.PublicKey{}, fmt.Errorf("vault: %s: invalid key version %d", k.Path(), version)
	}
	k.mu.Lock()
	pub, ok := k.pubs[version]
	k.mu.Unlock()
	if ok {
		return clonePub(pub), nil
	}
	info, err := k.Info(ctx)
	if err != nil {
		return keyring.PublicKey{}, err
	}
	pub, ok = info.PublicKeys[version]
	if !ok {
		return keyring.PublicKey{}, &Error{Op: "read public key", Path: fmt.Sprintf("%s (version %d of %d)", k.Path(), version, info.LatestVersion), Class: ErrNotFound, Status: 404}
	}
	return clonePub(pub), nil
}

// PubKey returns the CometBFT public key of version. Only ed25519 keys
// have one: CometBFT validators do not sign with P-256.
func (k *TransitKey) PubKey(ctx context.Context, version int) (crypto.PubKey, error) {
	pub, err := k.PublicKey(ctx, version)
	if err != nil {
		return nil, err
	}
	if pub.Type != keyring.Ed25519 {
		return nil, fmt.Errorf("vault: %s is a %s key: a consensus key must be %s", k.Path(), TransitP256, TransitEd25519)
	}
	return cmted25519.PubKey(pub.Bytes), nil
}

// Sign signs msg with version of the key, under the ledger's conventions
// (keyring package): ed25519 over msg verbatim; p256 over sha256(msg) as
// r‖s with low S. The signature is checked against the version's public
// key before it is returned.
func (k *TransitKey) Sign(ctx context.Context, version int, msg []byte) ([]byte, error) {
	pub, err := k.PublicKey(ctx, version)
	if err != nil {
		return nil, err
	}
	path := k.mount + "/sign/" + k.name
	req := map[string]any{
		"input":       base64.StdEncoding.EncodeToString(msg),
		"key_version": version,
	}
	if pub.Type == keyring.P256 {
		req["hash_algorithm"] = "sha2-256"
		req["marshaling_algorithm"] = "jws" // raw r‖s, not ASN.1
	}
	secret, err := k.c.write(ctx, "sign", path, req)
	if err != nil {
		return nil, err
	}
	var out struct {
		Signature string `json:"signature"`
	}
	if secret == nil || remarshal(secret.Data, &out) != nil || out.Signature == "" {
		return nil, &Error{Op: "sign", Path: path, Err: errors.New("answer holds no signature")}
	}
	sig, err := parseTransitSignature(out.Signature, version, pub.Type)
	if err != nil {
		return nil, fmt.Errorf("vault: sign %s: %w", path, err)
	}
	if pub.Type == keyring.P256 {
		sig = lowS(sig)
	}
	if !keyring.Verify(pub, msg, sig) {
		return nil, fmt.Errorf("vault: sign %s: the signature does not verify under version %d's public key", path, version)
	}
	return sig, nil
}

// Create makes the key in Vault, of type t, neither exportable nor
// backed up in plaintext. An existing key of type t is fine; one of another
// type is an error.
func (k *TransitKey) Create(ctx context.Context, t keyring.KeyType) error {
	vt, err := TransitType(t)
	if err != nil {
		return err
	}
	info, err := k.Info(ctx)
	switch {
	case err == nil && info.Type == t:
		return nil
	case err == nil:
		return fmt.Errorf("vault: %s exists with type %s, not %s", k.Path(), info.Type, t)
	case !errors.Is(err, ErrNotFound):
		return err
	}
	if _, err := k.c.write(ctx, "create transit key", k.Path(), map[string]any{
		"type":                   vt,
		"exportable":             false,
		"allow_plaintext_backup": false,
	}); err != nil {
		return err
	}
	info, err = k.Info(ctx)
	if err != nil {
		return err
	}
	if info.Type != t {
		return fmt.Errorf("vault: %s exists with type %s, not %s", k.Path(), info.Type, t)
	}
	return nil
}

// Rotate adds a new version of the key and returns it.
func (k *TransitKey) Rotate(ctx context.Context) (int, error) {
	if _, err := k.c.write(ctx, "rotate transit key", k.Path()+"/rotate", map[string]any{}); err != nil {
		return 0, err
	}
	return k.LatestVersion(ctx)
}

// SetMinEncryptionVersion makes the versions below v unable to sign: the
// transit engine refuses to sign with a version under the key's
// min_encryption_version. Their public keys stay readable.
func (k *TransitKey) SetMinEncryptionVersion(ctx context.Context, v int) error {
	if v < 0 {
		return fmt.Errorf("vault: %s: invalid minimum version %d", k.Path(), v)
	}
	_, err := k.c.write(ctx, "configure transit key", k.Path()+"/config", map[string]any{"min_encryption_version": v})
	return err
}

// Signer returns a keyring.Signer that signs with version of the key
// (for accounts, whose key is one version's public key). It reads the
// public key now, so a missing key or version fails here.
func (k *TransitKey) Signer(ctx context.Context, version int) (keyring.Signer, error) {
	pub, err := k.PublicKey(ctx, version)
	if err != nil {
		return nil, err
	}
	return &transitSigner{key: k, version: version, pub: pub}, nil
}

// transitSigner is one version of a transit key as a keyring.Signer.
type transitSigner struct {
	key     *TransitKey
	version int
	pub     keyring.PublicKey
}

func (s *transitSigner) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	return s.key.Sign(ctx, s.version, msg)
}

func (s *transitSigner) PublicKey() keyring.PublicKey { return clonePub(s.pub) }

// parseTransitPublicKey reads the public_key of a version: base64 of the
// 32 raw bytes for ed25519, a PEM PKIX key for ecdsa-p256.
func parseTransitPublicKey(t keyring.KeyType, s string) (keyring.PublicKey, error) {
	switch t {
	case keyring.Ed25519:
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return keyring.PublicKey{}, fmt.Errorf("invalid ed25519 public key from Vault")
		}
		return keyring.PublicKey{Type: t, Bytes: b}, nil
	case keyring.P256:
		block, _ := pem.Decode([]byte(s))
		if block == nil {
			return keyring.PublicKey{}, fmt.Errorf("invalid ecdsa-p256 public key from Vault: not PEM")
		}
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return keyring.PublicKey{}, fmt.Errorf("invalid ecdsa-p256 public key from Vault: %w", err)
		}
		ec, ok := key.(*ecdsa.PublicKey)
		if !ok || ec.Curve != elliptic.P256() {
			return keyring.PublicKey{}, fmt.Errorf("invalid ecdsa-p256 public key from Vault: not a P-256 key")
		}
		raw, err := ec.Bytes() // 0x04 ‖ X ‖ Y
		if err != nil {
			return keyring.PublicKey{}, fmt.Errorf("invalid ecdsa-p256 public key from Vault: %w", err)
		}
		comp := make([]byte, 33)
		comp[0] = 0x02 | raw[64]&1
		copy(comp[1:], raw[1:33])
		return keyring.PublicKey{Type: t, Bytes: comp}, nil
	}
	return keyring.PublicKey{}, fmt.Errorf("unknown key type %q", t)
}

// parseTransitSignature reads "vault:vN:<base64>", checks that N is the
// version asked for, and returns the 64 signature bytes. ed25519
// signatures come in standard base64; jws-marshaled ecdsa ones in
// unpadded URL base64.
func parseTransitSignature(s string, version int, t keyring.KeyType) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, "vault:v")
	if !ok {
		return nil, fmt.Errorf("signature %q: want vault:vN:<base64>", truncate(s))
	}
	vs, b64, ok := strings.Cut(rest, ":")
	v, err := strconv.Atoi(vs)
	if !ok || err != nil {
		return nil, fmt.Errorf("signature %q: want vault:vN:<base64>", truncate(s))
	}
	if v != version {
		return nil, fmt.Errorf("Vault signed with version %d, not the version %d asked for", v, version)
	}
	enc := base64.StdEncoding
	if t == keyring.P256 {
		enc = base64.RawURLEncoding
	}
	sig, err := enc.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("signature: invalid base64: %w", err)
	}
	if len(sig) != keyring.SignatureSize {
		return nil, fmt.Errorf("signature: got %d bytes, want %d", len(sig), keyring.SignatureSize)
	}
	return sig, nil
}

// lowS replaces s by n-s when s > n/2, as the keyring's p256 signer does:
// the ledger accepts the low-S form only.
func lowS(sig []byte) []byte {
	n := elliptic.P256().Params().N
	half := new(big.Int).Rsh(n, 1)
	s := new(big.Int).SetBytes(sig[32:])
	if s.Cmp(half) <= 0 {
		return sig
	}
	out := make([]byte, len(sig))
	copy(out, sig[:32])
	new(big.Int).Sub(n, s).FillBytes(out[32:])
	return out
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func clonePub(p keyring.PublicKey) keyring.PublicKey {
	return keyring.PublicKey{Type: p.Type, Bytes: append([]byte(nil), p.Bytes...)}
}

// remarshal decodes Vault's generic data map into out.
func remarshal(data map[string]any, out any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
