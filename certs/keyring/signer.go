package keyring

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
)

// Signer signs messages with one key. File keys implement it; keys held
// elsewhere (Vault transit) implement it too.
type Signer interface {
	// Sign returns the SignatureSize-byte signature of msg under the
	// conventions of the package documentation.
	Sign(ctx context.Context, msg []byte) ([]byte, error)
	// PublicKey returns the public key that verifies the signatures.
	PublicKey() PublicKey
}

var (
	_ Signer = (*ed25519Signer)(nil)
	_ Signer = (*p256Signer)(nil)
)

// signerPub gives a signer its public half: PublicKey, and a Format that
// prints the public key only, whatever the verb, so that no fmt call can
// reveal the private key next to it.
type signerPub struct{ pub PublicKey }

func (s signerPub) PublicKey() PublicKey { return clonePub(s.pub) }

func (s signerPub) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "Signer{%s}", s.pub) }

// ed25519Signer signs with a CometBFT ed25519 private key.
type ed25519Signer struct {
	signerPub
	priv cmted25519.PrivKey
}

func (s *ed25519Signer) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.priv.Sign(msg)
}

// p256Signer signs with an ECDSA P-256 private key, normalising to low-S.
type p256Signer struct {
	signerPub
	priv *ecdsa.PrivateKey
}

func (s *p256Signer) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	digest := sha256.Sum256(msg)
	r, sv, err := ecdsa.Sign(rand.Reader, s.priv, digest[:])
	if err != nil {
		return nil, fmt.Errorf("p256 sign: %w", err)
	}
	if sv.Cmp(p256HalfOrder()) > 0 {
		sv.Sub(elliptic.P256().Params().N, sv)
	}
	sig := make([]byte, SignatureSize)
	r.FillBytes(sig[:32])
	sv.FillBytes(sig[32:])
	return sig, nil
}

// generateKey returns a new private key of type t in its stored form.
func generateKey(t KeyType) ([]byte, error) {
	switch t {
	case Ed25519:
		return cmted25519.GenPrivKey().Bytes(), nil
	case P256:
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate p256 key: %w", err)
		}
		return key.Bytes()
	}
	return nil, unknownType(string(t))
}

// newSigner checks a private key in its stored form and returns its signer.
// Errors never include the key bytes.
func newSigner(t KeyType, priv []byte) (Signer, error) {
	switch t {
	case Ed25519:
		if len(priv) != ed25519PrivSize {
			return nil, fmt.Errorf("invalid ed25519 private key: got %d bytes, want %d", len(priv), ed25519PrivSize)
		}
		key := cmted25519.PrivKey(bytes.Clone(priv))
		pub := PublicKey{Type: Ed25519, Bytes: bytes.Clone(priv[32:])}
		// The stored key is seed ‖ public key. A signature made with it
		// verifies under that public key only if the two halves match, so
		// this catches a corrupt or hand-edited key with CometBFT's own code.
		probe := []byte("consort keyring self-check")
		if sig, err := key.Sign(probe); err != nil || !Verify(pub, probe, sig) {
			return nil, fmt.Errorf("invalid ed25519 private key: public half does not match the seed")
		}
		return &ed25519Signer{signerPub{pub}, key}, nil
	case P256:
		if len(priv) != p256PrivSize {
			return nil, fmt.Errorf("invalid p256 private key: got %d bytes, want %d", len(priv), p256PrivSize)
		}
		key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), priv)
		if err != nil {
			return nil, fmt.Errorf("invalid p256 private key: scalar out of range")
		}
		pub, err := compressP256(&key.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("invalid p256 private key: %w", err)
		}
		return &p256Signer{signerPub{PublicKey{Type: P256, Bytes: pub}}, key}, nil
	}
	return nil, unknownType(string(t))
}

func clonePub(p PublicKey) PublicKey {
	return PublicKey{Type: p.Type, Bytes: bytes.Clone(p.Bytes)}
}
