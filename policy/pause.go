package policy

import "fmt"

// Pause stops transfers, mints and burns: of every asset when Asset is "",
// of one asset otherwise. It is in force while the height is below Until,
// or until it is lifted when Until is 0. Governance transactions are never
// paused, so a pause can always be lifted.
type Pause struct {
	Asset string // "" = every asset
	Until int64  // first height at which the pause is over; 0 = until lifted
}

// Global reports whether p covers every asset.
func (p Pause) Global() bool { return p.Asset == "" }

// Active reports whether p is in force at height.
func (p Pause) Active(height int64) bool {
	return p.Until == 0 || height < p.Until
}

// Covers reports whether p applies to asset (ignoring its expiry).
func (p Pause) Covers(asset string) bool {
	return p.Global() || p.Asset == asset
}

// ValidatePause checks a pause about to be set at height: Until must be 0
// or a height after height. The asset id's syntax and existence are the
// ledger's to check.
func ValidatePause(p Pause, height int64) error {
	if p.Until < 0 {
		return fmt.Errorf("%w: until height %d is negative", ErrInvalidPause, p.Until)
	}
	if !p.Active(height) {
		return fmt.Errorf("%w: until height %d is not after the current height %d", ErrInvalidPause, p.Until, height)
	}
	return nil
}

// Paused reports whether asset is paused at height, and by which pause.
// When several pauses are in force it returns the one that lasts longest —
// an indefinite one before any with a height, a later Until before an
// earlier one, a global pause before a per-asset one — so the answer does
// not depend on the order of pauses.
func Paused(pauses []Pause, asset string, height int64) (Pause, bool) {
	var best Pause
	found := false
	for _, p := range pauses {
		if !p.Covers(asset) || !p.Active(height) {
			continue
		}
		if !found || outlasts(p, best) {
			best, found = p, true
		}
	}
	return best, found
}

// CheckNotPaused returns an error wrapping ErrPaused, naming the pause, if
// any of assets is paused at height. Assets are checked in the given order;
// with no assets, only a global pause is looked for.
func CheckNotPaused(pauses []Pause, assets []string, height int64) error {
	if len(assets) == 0 {
		assets = []string{""}
	}
	for _, asset := range assets {
		p, ok := Paused(pauses, asset, height)
		if !ok {
			continue
		}
		scope := "all assets"
		if !p.Global() {
			scope = fmt.Sprintf("asset %s", p.Asset)
		}
		if p.Until == 0 {
			return fmt.Errorf("%w: %s paused until lifted", ErrPaused, scope)
		}
		return fmt.Errorf("%w: %s paused until height %d", ErrPaused, scope, p.Until)
	}
	return nil
}

// outlasts reports whether p ends later than q, or ends with it and is
// broader.
func outlasts(p, q Pause) bool {
	switch {
	case p.Until == q.Until:
		return p.Global() && !q.Global()
	case p.Until == 0:
		return true
	case q.Until == 0:
		return false
	default:
		return p.Until > q.Until
	}
}
