package main

import (
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/certs/keyring"
	"github.com/consort-ledger/consort/client"
	"github.com/consort-ledger/consort/policy"
)

// Parsers for the values of tx flags. Each error names the flag and says
// what was expected.

// parseKeyFlags reads --key TYPE:BASE64[:WEIGHT] values (flag names the
// flag) and --key-from KEYRING_NAME[:WEIGHT] values (fromFlag), the latter
// taking the public key from the keyring kr.
func parseKeyFlags(flag string, specs []string, fromFlag string, fromSpecs []string, kr func() (*keyring.Keyring, error)) ([]app.AccountKey, error) {
	var keys []app.AccountKey
	for _, s := range specs {
		k, err := client.ParseAccountKey(s)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", flag, err)
		}
		keys = append(keys, k)
	}
	if len(fromSpecs) == 0 {
		return keys, nil
	}
	ring, err := kr()
	if err != nil {
		return nil, err
	}
	for _, s := range fromSpecs {
		k, err := keyFromKeyring(ring, s)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", fromFlag, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// keyFromKeyring reads NAME[:WEIGHT] and returns the public key the
// keyring holds under NAME, with that weight (default 1).
func keyFromKeyring(kr *keyring.Keyring, spec string) (app.AccountKey, error) {
	name, weight, hasWeight := strings.Cut(spec, ":")
	info, err := kr.Show(name)
	if err != nil {
		return app.AccountKey{}, fmt.Errorf("%q: want KEYRING_NAME[:WEIGHT]: %w", spec, err)
	}
	s := info.PublicKey.String()
	if hasWeight {
		s += ":" + weight
	}
	k, err := client.ParseAccountKey(s)
	if err != nil {
		return app.AccountKey{}, fmt.Errorf("%q: %w", spec, err)
	}
	return k, nil
}

// parseCap reads an issuer's cap in the asset's units, or "unlimited".
func parseCap(s string, decimals uint32) (uint64, error) {
	if s == "unlimited" {
		return math.MaxUint64, nil
	}
	v, err := app.ParseAmount(s, decimals)
	if err != nil {
		return 0, fmt.Errorf("%w, or \"unlimited\"", err)
	}
	return v, nil
}

// parseIssuerFlags reads --issuer ACCOUNT[:CAP] values; a missing cap is
// unlimited. An account may be listed once.
func parseIssuerFlags(specs []string, decimals uint32) ([]app.Issuer, error) {
	var out []app.Issuer
	for _, s := range specs {
		name, capText, hasCap := strings.Cut(s, ":")
		if err := app.ValidateAccountName(name); err != nil {
			return nil, fmt.Errorf("--issuer %q: want ACCOUNT[:CAP]: %w", s, err)
		}
		iss := app.Issuer{Account: name, Cap: math.MaxUint64}
		if hasCap {
			c, err := parseCap(capText, decimals)
			if err != nil {
				return nil, fmt.Errorf("--issuer %q: cap: %w", s, err)
			}
			if c == 0 {
				return nil, fmt.Errorf("--issuer %q: a cap of 0 lets the issuer mint nothing; leave the issuer out", s)
			}
			iss.Cap = c
		}
		if slices.ContainsFunc(out, func(x app.Issuer) bool { return x.Account == name }) {
			return nil, fmt.Errorf("--issuer %q: %s is listed twice", s, name)
		}
		out = append(out, iss)
	}
	return out, nil
}

// parseRoleFlags reads --role ROLE[:EXPIRES_AT_HEIGHT] values into grants
// sorted by role, as the ledger keeps them.
func parseRoleFlags(specs []string) ([]app.Grant, error) {
	var out []app.Grant
	for _, s := range specs {
		role, exp, hasExp := strings.Cut(s, ":")
		if err := validateRoleName(role); err != nil {
			return nil, fmt.Errorf("--role %q: want ROLE[:EXPIRES_AT_HEIGHT]: %w", s, err)
		}
		g := app.Grant{Role: role}
		if hasExp {
			h, err := strconv.ParseInt(exp, 10, 64)
			if err != nil || h <= 0 {
				return nil, fmt.Errorf("--role %q: expiry %q: want a block height above 0", s, exp)
			}
			g.ExpiresAt = h
		}
		if slices.ContainsFunc(out, func(x app.Grant) bool { return x.Role == role }) {
			return nil, fmt.Errorf("--role %q: role %s is listed twice", s, role)
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b app.Grant) int { return strings.Compare(a.Role, b.Role) })
	return out, nil
}

func validateRoleName(name string) error {
	return policy.ValidateRole(policy.Role{Name: name})
}

// parsePermissions reads --permissions values and checks them as a role
// definition would be checked.
func parsePermissions(role string, values []string) ([]string, error) {
	r := policy.Role{Name: role}
	for _, v := range values {
		p, err := policy.ParsePermission(v)
		if err != nil {
			return nil, fmt.Errorf("--permissions: %w; want some of %s", err, permissionList())
		}
		r.Permissions = append(r.Permissions, p)
	}
	if err := policy.ValidateRole(r); err != nil {
		return nil, fmt.Errorf("--permissions: %w", err)
	}
	out := make([]string, len(r.Permissions))
	for i, p := range r.Permissions {
		out[i] = string(p)
	}
	return out, nil
}

func permissionList() string {
	var ps []string
	for _, p := range policy.AllPermissions() {
		ps = append(ps, string(p))
	}
	return strings.Join(ps, ", ")
}

// parseValidatorKey reads a validator's ed25519 public key as base64,
// optionally written ed25519:BASE64.
func parseValidatorKey(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "ed25519:"))
	if err != nil {
		return nil, fmt.Errorf("--pubkey %q: want the validator's ed25519 public key in standard base64", s)
	}
	if len(b) != cmted25519.PubKeySize {
		return nil, fmt.Errorf("--pubkey %q: %d bytes, want a %d-byte ed25519 key", s, len(b), cmted25519.PubKeySize)
	}
	return b, nil
}

// accountArg checks an account named by a positional argument.
func accountArg(what, name string) error {
	if err := app.ValidateAccountName(name); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
