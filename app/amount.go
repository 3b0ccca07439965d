package app

import (
	"fmt"
	"math/bits"
	"strings"
)

// MaxDecimals is the most decimal places an asset may have.
const MaxDecimals = 18

// ParseAmount reads a decimal amount ("100.00", "5", "0.5") as base units of
// an asset with the given decimals. It rejects signs, exponents, more
// fractional digits than the asset has, zero-length parts and overflow.
func ParseAmount(s string, decimals uint32) (uint64, error) {
	if decimals > MaxDecimals {
		return 0, fmt.Errorf("asset has %d decimals, at most %d supported", decimals, MaxDecimals)
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && frac == "") {
		return 0, fmt.Errorf("amount %q: want digits, optionally with a decimal point, e.g. 100.00", s)
	}
	if len(frac) > int(decimals) {
		return 0, fmt.Errorf("amount %q: at most %d decimal places for this asset", s, decimals)
	}
	digits := whole + frac + strings.Repeat("0", int(decimals)-len(frac))
	var v uint64
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			if c == '-' {
				return 0, fmt.Errorf("amount %q: must not be negative", s)
			}
			return 0, fmt.Errorf("amount %q: want digits, optionally with a decimal point, e.g. 100.00", s)
		}
		hi, lo := bits.Mul64(v, 10)
		sum, carry := bits.Add64(lo, uint64(c-'0'), 0)
		if hi != 0 || carry != 0 {
			return 0, fmt.Errorf("amount %q: too large (max %s)", s, FormatAmount(^uint64(0), decimals))
		}
		v = sum
	}
	return v, nil
}

// FormatAmount writes base units as a decimal string with exactly decimals
// fractional digits: FormatAmount(10000, 2) = "100.00".
func FormatAmount(v uint64, decimals uint32) string {
	s := fmt.Sprintf("%0*d", int(decimals)+1, v)
	if decimals == 0 {
		return s
	}
	cut := len(s) - int(decimals)
	return s[:cut] + "." + s[cut:]
}

// addAmount adds with overflow detection.
func addAmount(a, b uint64) (uint64, bool) {
	sum, carry := bits.Add64(a, b, 0)
	return sum, carry == 0
}
