package app

import (
	"errors"
	"fmt"
	"strings"
)

// Code is a stable result code. The abci package returns it unchanged as the
// ABCI result code, so clients can rely on the numbers in docs/wire-format.md.
type Code uint32

// The result codes. Never renumber: clients and indexed blocks depend on them.
const (
	CodeOK                 Code = 0
	CodeMalformed          Code = 1  // bytes do not decode as a canonical transaction
	CodeUnsupportedVersion Code = 2  // body.version is not one this node executes
	CodeWrongChainID       Code = 3  // body.chain_id names another chain
	CodeTooLarge           Code = 4  // transaction or one of its lists exceeds a limit in params
	CodeUnknownAccount     Code = 5  // an output owner or input owner is not a registered account
	CodeUnknownAsset       Code = 6  // an output names an asset that does not exist
	CodeInputNotFound      Code = 7  // an input is unknown or already spent
	CodeDuplicateInput     Code = 8  // the same outpoint appears twice among the inputs
	CodeInvalidSignature   Code = 9  // a signature does not verify, or is malleable (high-S, bad length)
	CodeThresholdNotMet    Code = 10 // an input owner's signature weight is below its threshold
	CodeUnbalanced         Code = 11 // per asset, inputs do not equal outputs
	CodeOverflow           Code = 12 // a sum of amounts exceeds 2^64-1
	CodeZeroAmount         Code = 13 // an output amount is zero
	CodeEmptyTransfer      Code = 14 // a transfer has no inputs or no outputs
	CodeMempoolConflict    Code = 15 // another transaction in this node's mempool spends the same input (CheckTx only)
	CodeDuplicateOutput    Code = 16 // two outputs pay the same asset to the same owner
	CodeUnexpectedSigner   Code = 17 // a signature is by a key of no input owner, or the same key signs twice
	CodeAccountFrozen      Code = 18 // an input owner's account is frozen
	CodeInvalidField       Code = 19 // a field is syntactically invalid (account name, asset id, memo)
	// CodeNotFound (20) is in query.go: queries only.
	CodePaused          Code = 21 // the asset (or everything) is paused
	CodeReplay          Code = 22 // a transaction that spends no coin was already included
	CodeNotPermitted    Code = 23 // no signing account holds the permission the transaction needs
	CodeNotApproved     Code = 24 // governance: admins of too few organisations approved
	CodeRateLimited     Code = 25 // this node's per-account rate limit (CheckTx only)
	CodeInvalidAction   Code = 26 // a governance action that cannot apply (exists already, unknown role, ...)
	CodeValidatorChange Code = 27 // a validator change that could halt the chain
	CodeCapExceeded     Code = 28 // a mint beyond the issuer's cap
	CodePoW             Code = 29 // the proof-of-work stamp is missing or too weak
	CodeInternal        Code = 99 // the node could not read its own state; not the sender's fault
)

// Error is a rejection with a stable code. Sentinels below are wrapped with
// %w to add the detail a user needs to fix the transaction.
type Error struct {
	Code Code
	msg  string
}

func (e *Error) Error() string { return e.msg }

func newError(code Code, msg string) *Error { return &Error{Code: code, msg: msg} }

// NewError makes a sentinel with its own code, for validation modules
// outside this package; wrap it with %w to add detail.
func NewError(code Code, msg string) *Error { return newError(code, msg) }

// Sentinel errors, one per code.
var (
	ErrMalformed          = newError(CodeMalformed, "malformed transaction")
	ErrUnsupportedVersion = newError(CodeUnsupportedVersion, "unsupported transaction version")
	ErrWrongChainID       = newError(CodeWrongChainID, "wrong chain id")
	ErrTooLarge           = newError(CodeTooLarge, "transaction too large")
	ErrUnknownAccount     = newError(CodeUnknownAccount, "unknown account")
	ErrUnknownAsset       = newError(CodeUnknownAsset, "unknown asset")
	ErrInputNotFound      = newError(CodeInputNotFound, "input not found or already spent")
	ErrDuplicateInput     = newError(CodeDuplicateInput, "duplicate input")
	ErrInvalidSignature   = newError(CodeInvalidSignature, "invalid signature")
	ErrThresholdNotMet    = newError(CodeThresholdNotMet, "signature threshold not met")
	ErrUnbalanced         = newError(CodeUnbalanced, "inputs and outputs do not balance")
	ErrOverflow           = newError(CodeOverflow, "amount overflow")
	ErrZeroAmount         = newError(CodeZeroAmount, "zero amount")
	ErrEmptyTransfer      = newError(CodeEmptyTransfer, "empty transfer")
	ErrMempoolConflict    = newError(CodeMempoolConflict, "input already spent by a pending transaction")
	ErrDuplicateOutput    = newError(CodeDuplicateOutput, "duplicate output")
	ErrUnexpectedSigner   = newError(CodeUnexpectedSigner, "unexpected signer")
	ErrAccountFrozen      = newError(CodeAccountFrozen, "account frozen")
	ErrInvalidField       = newError(CodeInvalidField, "invalid field")
	ErrPaused             = newError(CodePaused, "paused")
	ErrReplay             = newError(CodeReplay, "already included")
	ErrNotPermitted       = newError(CodeNotPermitted, "not permitted")
	ErrNotApproved        = newError(CodeNotApproved, "not approved")
	ErrRateLimited        = newError(CodeRateLimited, "rate limited")
	ErrInvalidAction      = newError(CodeInvalidAction, "invalid action")
	ErrValidatorChange    = newError(CodeValidatorChange, "unsafe validator change")
	ErrCapExceeded        = newError(CodeCapExceeded, "issuer cap exceeded")
	ErrPoW                = newError(CodePoW, "proof of work")
	ErrInternal           = newError(CodeInternal, "internal error")
)

// CodeOf maps an error to its result code: nil is CodeOK, an error wrapping
// one of the sentinels has that sentinel's code, anything else is internal.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// rejectf wraps a sentinel with a formatted detail: "sentinel: detail".
func rejectf(sentinel *Error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}

// policyReason is the detail of an error from package policy without the
// policy sentinel's own words, which the ledger's sentinel repeats.
func policyReason(err error) string {
	msg := err.Error()
	if inner := errors.Unwrap(err); inner != nil {
		msg = strings.TrimPrefix(msg, inner.Error()+": ")
	}
	return msg
}
