package policy

import "errors"

// Sentinel errors. Functions wrap them with %w and a detail, so callers
// compare with errors.Is and map each to a result code.
var (
	// Roles and permissions.
	ErrUnknownPermission = errors.New("unknown permission")
	ErrInvalidRole       = errors.New("invalid role")
	ErrDuplicateRole     = errors.New("duplicate role")
	ErrUnknownRole       = errors.New("unknown role")
	ErrInvalidGrant      = errors.New("invalid grant")

	// Governance.
	ErrInvalidThreshold = errors.New("invalid governance threshold")
	ErrNotApproved      = errors.New("governance threshold not met")

	// Pause.
	ErrInvalidPause = errors.New("invalid pause")
	ErrPaused       = errors.New("paused")

	// Validator-set changes.
	ErrInvalidValidator    = errors.New("invalid validator")
	ErrDuplicateValidator  = errors.New("duplicate validator")
	ErrNegativePower       = errors.New("negative voting power")
	ErrUnknownValidator    = errors.New("unknown validator")
	ErrPowerChangeTooLarge = errors.New("voting power change too large")
	ErrTooFewValidators    = errors.New("too few validators")
	ErrTotalPowerTooLarge  = errors.New("total voting power too large")
)
