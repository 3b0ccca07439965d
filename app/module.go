package app

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

// Validation modules: after the ledger's own rules (encoding, chain id,
// coins exist and balance, actions apply), every transaction passes each
// module named in params.Modules, in that order. The order decides which
// rejection a transaction gets first, and lets cheap checks (pow) run
// before costly ones (signature); a transaction is valid only if all pass.
//
// Adding a module is one type implementing Module and one line in
// DefaultModules (or New(store, WithModule(m)) for a module of your own).

// Module is one validation step.
type Module interface {
	// Name is how params.Modules refers to the module.
	Name() string
	// Codes are the result codes the module may reject with.
	Codes() []Code
	// Check passes or rejects a transaction; it must not change state and
	// must be deterministic (see the package documentation).
	Check(c *TxContext) error
}

// TxContext is what a module sees of a transaction.
type TxContext struct {
	State  Reader
	Tx     *Tx
	ID     TxID
	Params Params
	Height int64

	authorize func() error // the policy rules prepared for this message
}

// The built-in modules.
const (
	ModuleSignature = "signature"
	ModulePoW       = "pow"
	ModulePolicy    = "policy"
)

// DefaultModules are the modules every node has. Genesis names which run.
func DefaultModules() []Module {
	return []Module{signatureModule{}, powModule{}, policyModule{}}
}

// MaxPowBits bounds pow.difficulty_bits: beyond it a stamp takes a client
// hours to mine, which no chain means to ask.
const MaxPowBits = 32

// DefaultModuleOrder is the module list of a genesis that names none.
func DefaultModuleOrder() []string { return []string{ModulePoW, ModuleSignature, ModulePolicy} }

// requiredModules cannot be left out: without signature anyone could forge
// a signature, without policy anyone could spend anyone's coins.
var requiredModules = []string{ModuleSignature, ModulePolicy}

// validateModuleList checks a module list against the modules this node has.
func validateModuleList(list []string, have func(string) bool) error {
	for i, name := range list {
		if !have(name) {
			return fmt.Errorf("module %s is not built into this node", quote(name))
		}
		if slices.Contains(list[:i], name) {
			return fmt.Errorf("module %s is listed twice", name)
		}
	}
	for _, name := range requiredModules {
		if !slices.Contains(list, name) {
			return fmt.Errorf("module list %v lacks %s, which every chain needs", list, name)
		}
	}
	return nil
}

// signatureModule verifies every signature: ed25519 (ZIP-215, as CometBFT)
// or ECDSA P-256 with low S, over the body bytes. With a cache (App's own
// module has one), a transaction whose signatures verified before is not
// verified again.
type signatureModule struct{ verified *sigCache }

func (signatureModule) Name() string  { return ModuleSignature }
func (signatureModule) Codes() []Code { return []Code{CodeInvalidSignature} }
func (m signatureModule) Check(c *TxContext) error {
	var key [32]byte
	if m.verified != nil {
		if key = sigCacheKey(c.Tx); m.verified.has(key) {
			return nil
		}
	}
	for i, s := range c.Tx.Signatures {
		if err := verifySignature(s, c.Tx.BodyBytes); err != nil {
			return rejectf(ErrInvalidSignature, "signature %d: %v", i, err)
		}
	}
	if m.verified != nil {
		m.verified.add(key)
	}
	return nil
}

// powModule is the classic proof-of-work core kept as an anti-spam stamp:
// sha256(txid ‖ nonce as 8 bytes big-endian) must start with
// params.PowDifficultyBits zero bits. Difficulty 0 turns it off, and then
// the nonce must be 0: nothing outside the body may be changeable.
type powModule struct{}

func (powModule) Name() string  { return ModulePoW }
func (powModule) Codes() []Code { return []Code{CodePoW} }
func (powModule) Check(c *TxContext) error {
	bits := c.Params.PowDifficultyBits
	if bits == 0 {
		if c.Tx.PowNonce != 0 {
			return rejectf(ErrPoW, "pow_nonce is set but this chain requires no proof of work")
		}
		return nil
	}
	if got := PowZeroBits(c.ID, c.Tx.PowNonce); got < bits {
		return rejectf(ErrPoW, "stamp has %d leading zero bits, the chain requires %d (mine a pow_nonce)", got, bits)
	}
	return nil
}

// PowZeroBits is the number of leading zero bits of sha256(txid ‖ nonce).
func PowZeroBits(id TxID, nonce uint64) uint32 {
	var buf [40]byte
	copy(buf[:], id[:])
	binary.BigEndian.PutUint64(buf[32:], nonce)
	h := sha256.Sum256(buf[:])
	n := uint32(0)
	for i := 0; i < len(h); i += 8 {
		w := binary.BigEndian.Uint64(h[i:])
		if w != 0 {
			return n + uint32(bits.LeadingZeros64(w))
		}
		n += 64
	}
	return n
}

// policyModule applies roles, thresholds, freezes, pauses, issuer caps and
// governance approval: the rules of package policy.
type policyModule struct{}

func (policyModule) Name() string { return ModulePolicy }
func (policyModule) Codes() []Code {
	return []Code{CodeThresholdNotMet, CodeUnexpectedSigner, CodeAccountFrozen, CodePaused, CodeNotPermitted, CodeNotApproved, CodeCapExceeded}
}
func (policyModule) Check(c *TxContext) error { return c.authorize() }
