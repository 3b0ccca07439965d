package app

import "fmt"

// Limits on identifiers.
const (
	maxNameLen    = 64
	maxAssetIDLen = 32
)

// ValidateAccountName checks an account name: 1–64 of a-z, 0-9, '.', '-',
// starting with a letter or digit (e.g. "bank-a.treasury").
func ValidateAccountName(name string) error {
	if len(name) == 0 || len(name) > maxNameLen {
		return rejectf(ErrInvalidField, "account name %q: want 1 to %d characters", name, maxNameLen)
	}
	for i, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (i > 0 && (c == '.' || c == '-'))
		if !ok {
			return rejectf(ErrInvalidField, "account name %q: want lowercase letters, digits, '.' and '-', starting with a letter or digit", name)
		}
	}
	return nil
}

// ValidateAssetID checks an asset id: 1–32 of A-Z, 0-9, '-', starting with a
// letter (e.g. "USD", "BOND-2031").
func ValidateAssetID(id string) error {
	if len(id) == 0 || len(id) > maxAssetIDLen {
		return rejectf(ErrInvalidField, "asset id %q: want 1 to %d characters", id, maxAssetIDLen)
	}
	for i, c := range []byte(id) {
		ok := c >= 'A' && c <= 'Z' || (i > 0 && (c >= '0' && c <= '9' || c == '-'))
		if !ok {
			return rejectf(ErrInvalidField, "asset id %q: want uppercase letters, digits and '-', starting with a letter", id)
		}
	}
	return nil
}

// quote shortens untrusted strings in logs.
func quote(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%q…", s[:80])
	}
	return fmt.Sprintf("%q", s)
}
