package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"fmt"
	"math/big"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
)

// Ed25519 verification uses CometBFT's package (ZIP-215 rules, the same one
// its batch verifier follows) in CheckTx and FinalizeBlock alike: Go's
// crypto/ed25519 is stricter, and mixing the two would let a transaction pass
// one check and fail the other.

var (
	p256Order     = elliptic.P256().Params().N
	p256HalfOrder = new(big.Int).Rsh(p256Order, 1)
)

// verifySignature checks one signature over msg (the body bytes).
func verifySignature(s Signature, msg []byte) error {
	if len(s.Signature) != 64 {
		return rejectf(ErrInvalidSignature, "%s signature is %d bytes, want 64", s.KeyType, len(s.Signature))
	}
	switch s.KeyType {
	case KeyEd25519:
		if len(s.PublicKey) != cmted25519.PubKeySize {
			return rejectf(ErrInvalidSignature, "ed25519 public key is %d bytes, want %d", len(s.PublicKey), cmted25519.PubKeySize)
		}
		if !cmted25519.PubKey(s.PublicKey).VerifySignature(msg, s.Signature) {
			return rejectf(ErrInvalidSignature, "ed25519 signature by %x does not verify", s.PublicKey)
		}
		return nil
	case KeyP256:
		return verifyP256(s.PublicKey, msg, s.Signature)
	}
	return rejectf(ErrInvalidSignature, "unknown key type %d", uint32(s.KeyType))
}

// verifyP256 checks a fixed-width r‖s ECDSA P-256 signature over sha256(msg).
// High-S signatures are rejected: (r, n-s) is an equally valid signature, and
// accepting both would let anyone change a transaction's bytes.
func verifyP256(pub, msg, sig []byte) error {
	if len(pub) != 33 {
		return rejectf(ErrInvalidSignature, "p256 public key is %d bytes, want 33 (compressed)", len(pub))
	}
	x, y := elliptic.UnmarshalCompressed(elliptic.P256(), pub)
	if x == nil {
		return rejectf(ErrInvalidSignature, "p256 public key %x is not a point on the curve", pub)
	}
	r, sv := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if r.Sign() == 0 || sv.Sign() == 0 || r.Cmp(p256Order) >= 0 || sv.Cmp(p256Order) >= 0 {
		return rejectf(ErrInvalidSignature, "p256 signature values out of range")
	}
	if sv.Cmp(p256HalfOrder) > 0 {
		return rejectf(ErrInvalidSignature, "p256 signature has high S (malleable); normalise S to n-S")
	}
	digest := sha256.Sum256(msg)
	if !ecdsa.Verify(&ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}, digest[:], r, sv) {
		return rejectf(ErrInvalidSignature, "p256 signature by %x does not verify", pub)
	}
	return nil
}

// ValidatePublicKey checks that pub is a well-formed key of type t.
func ValidatePublicKey(t KeyType, pub []byte) error {
	switch t {
	case KeyEd25519:
		if len(pub) != cmted25519.PubKeySize {
			return fmt.Errorf("ed25519 public key is %d bytes, want %d", len(pub), cmted25519.PubKeySize)
		}
		return nil
	case KeyP256:
		if len(pub) != 33 {
			return fmt.Errorf("p256 public key is %d bytes, want 33 (compressed)", len(pub))
		}
		if x, _ := elliptic.UnmarshalCompressed(elliptic.P256(), pub); x == nil {
			return fmt.Errorf("p256 public key is not a point on the curve")
		}
		return nil
	}
	return fmt.Errorf("unknown key type %d", uint32(t))
}
