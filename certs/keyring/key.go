package keyring

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
)

// KeyType names a signature scheme.
type KeyType string

// The supported key types.
const (
	Ed25519 KeyType = "ed25519" // CometBFT ed25519
	P256    KeyType = "p256"    // ECDSA over NIST P-256, low-S
)

// SignatureSize is the size in bytes of a signature, for both key types.
const SignatureSize = cmted25519.SignatureSize

// Sizes of keys, in bytes, and of names, in characters.
const (
	ed25519PubSize  = cmted25519.PubKeySize     // 32
	ed25519PrivSize = cmted25519.PrivateKeySize // 64: seed ‖ public key
	p256PubSize     = 33                        // SEC 1 compressed point
	p256PrivSize    = 32                        // scalar D, big-endian
	maxNameLen      = 64
)

// ParseKeyType returns the key type named s ("ed25519" or "p256").
func ParseKeyType(s string) (KeyType, error) {
	switch t := KeyType(s); t {
	case Ed25519, P256:
		return t, nil
	}
	return "", unknownType(s)
}

// PublicKey is a public key of a given type, in the ledger's byte form:
// 32 bytes for ed25519, a 33-byte compressed point for p256.
//
// Its text form (String, MarshalText) is "<type>:<standard base64>".
type PublicKey struct {
	Type  KeyType
	Bytes []byte
}

// ParsePublicKey parses the text form "<type>:<base64>" of a public key.
func ParsePublicKey(s string) (PublicKey, error) {
	typ, b64, ok := strings.Cut(s, ":")
	if !ok {
		return PublicKey{}, fmt.Errorf("invalid public key %q: want <type>:<base64>", s)
	}
	t, err := ParseKeyType(typ)
	if err != nil {
		return PublicKey{}, fmt.Errorf("invalid public key %q: %w", s, err)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return PublicKey{}, fmt.Errorf("invalid public key %q: %w", s, err)
	}
	pub := PublicKey{Type: t, Bytes: b}
	if want := pubSize(t); len(b) != want {
		return PublicKey{}, fmt.Errorf("invalid public key %q: got %d bytes, want %d for %s", s, len(b), want, t)
	}
	return pub, nil
}

// String returns "<type>:<base64>".
func (p PublicKey) String() string {
	return string(p.Type) + ":" + base64.StdEncoding.EncodeToString(p.Bytes)
}

// MarshalText encodes the key as "<type>:<base64>".
func (p PublicKey) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText decodes the form written by MarshalText.
func (p *PublicKey) UnmarshalText(text []byte) error {
	pub, err := ParsePublicKey(string(text))
	if err != nil {
		return err
	}
	*p = pub
	return nil
}

// Backends: where a key's private part lives.
const (
	BackendFile  = "file"  // in the key file
	BackendVault = "vault" // in a Vault transit key; the file has the public part
)

// Info describes a key of the keyring without its private part. It is what
// `keys list` and `keys show` print; its JSON form is
// {"name":"alice","public_key":"ed25519:<base64>","backend":"file"}, with
// "vault":{"mount":...,"key":...,"version":N} for a Vault key.
type Info struct {
	Name      string    `json:"name"`
	PublicKey PublicKey `json:"public_key"`
	Backend   string    `json:"backend"`
	Vault     *VaultRef `json:"vault,omitempty"`
}

// VaultRef locates a key version in a Vault transit engine: the account's
// key is the public key of that version.
type VaultRef struct {
	Mount   string `json:"mount"`   // the transit engine's mount, e.g. "transit"
	Key     string `json:"key"`     // the transit key's name
	Version int    `json:"version"` // the key version that signs, from 1
}

// String returns "MOUNT/keys/KEY version N".
func (r VaultRef) String() string {
	return fmt.Sprintf("%s/keys/%s version %d", r.Mount, r.Key, r.Version)
}

func (r VaultRef) validate() error {
	if r.Mount == "" || r.Key == "" || strings.Contains(r.Key, "/") || r.Version < 1 {
		return fmt.Errorf("invalid Vault key reference %q/%q version %d: want a mount, a key name and a version from 1", r.Mount, r.Key, r.Version)
	}
	return nil
}

// Verify reports whether sig is a valid signature of msg by pub, under the
// conventions of the package documentation. It is the reference verifier:
// p256 signatures must be exactly 64 bytes and low-S.
func Verify(pub PublicKey, msg, sig []byte) bool {
	if len(sig) != SignatureSize || len(pub.Bytes) != pubSize(pub.Type) {
		return false
	}
	switch pub.Type {
	case Ed25519:
		return cmted25519.PubKey(pub.Bytes).VerifySignature(msg, sig)
	case P256:
		key, err := decompressP256(pub.Bytes)
		if err != nil {
			return false
		}
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		if s.Cmp(p256HalfOrder()) > 0 {
			return false
		}
		digest := sha256.Sum256(msg)
		return ecdsa.Verify(key, digest[:], r, s)
	}
	return false
}

// ValidateName reports whether name is a valid key name: 1–64 characters of
// lowercase letters, digits, '.' and '-', starting with a letter or digit.
func ValidateName(name string) error {
	valid := len(name) >= 1 && len(name) <= maxNameLen
	for i := 0; valid && i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		valid = alnum || i > 0 && (c == '.' || c == '-')
	}
	if !valid {
		return fmt.Errorf("invalid key name %q: want 1-%d lowercase letters, digits, '.' or '-', starting with a letter or digit", name, maxNameLen)
	}
	return nil
}

func unknownType(s string) error {
	return fmt.Errorf("unknown key type %q: want %q or %q", s, Ed25519, P256)
}

func pubSize(t KeyType) int {
	switch t {
	case Ed25519:
		return ed25519PubSize
	case P256:
		return p256PubSize
	}
	return -1
}

// p256HalfOrder returns n/2 for the order n of P-256: the largest low-S s.
func p256HalfOrder() *big.Int {
	return new(big.Int).Rsh(elliptic.P256().Params().N, 1)
}

// compressP256 returns the 33-byte SEC 1 compressed form of key.
func compressP256(key *ecdsa.PublicKey) ([]byte, error) {
	raw, err := key.Bytes() // 0x04 ‖ X ‖ Y, 32 bytes each
	if err != nil {
		return nil, err
	}
	out := make([]byte, p256PubSize)
	out[0] = 0x02 | raw[64]&1
	copy(out[1:], raw[1:33])
	return out, nil
}

// decompressP256 parses a 33-byte SEC 1 compressed P-256 point.
func decompressP256(b []byte) (*ecdsa.PublicKey, error) {
	x, y := elliptic.UnmarshalCompressed(elliptic.P256(), b)
	if x == nil {
		return nil, fmt.Errorf("invalid p256 public key: not a compressed point on the curve")
	}
	raw := make([]byte, 65)
	raw[0] = 0x04
	x.FillBytes(raw[1:33])
	y.FillBytes(raw[33:])
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
}
