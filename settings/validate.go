package settings

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// exposure says who can reach a listen address.
type exposure int

const (
	exposureLocal   exposure = iota // loopback only
	exposurePrivate                 // a private or link-local address
	exposurePublic                  // every interface, a public IP, or a host name
)

// vaultTokenPattern matches Vault tokens (service, batch and recovery,
// current and legacy prefixes), which must never be a setting's value.
var vaultTokenPattern = regexp.MustCompile(`^(hv[sbr]|[sbr])\.[A-Za-z0-9_-]{20,}$`)

// uuidPattern matches AppRole SecretIDs (and role ids, which are no secret).
var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Validate reports every bad value and every setting the profile forbids,
// one line each, naming the key and where its value came from. On mainnet
// it refuses the file signer, a metrics listener reachable from other hosts
// without metrics.allow_public, and a Vault address that is not https.
func (c Config) Validate() error {
	var errs []error
	// bad reports key (and value, unless nil): "config: KEY VALUE: want
	// ..." or, for a message that goes on from the key, "config: KEY VALUE
	// is ...".
	bad := func(key string, value any, format string, args ...any) {
		shown := ""
		if value != nil {
			shown = " " + formatValue(value)
		}
		msg, sep := fmt.Sprintf(format, args...), " "
		if strings.HasPrefix(msg, "want ") {
			sep = ": "
		}
		errs = append(errs, fmt.Errorf("config: %s%s%s%s%s", key, shown, sep, msg, fromSuffix(c.Origin(key))))
	}
	mainnet := c.Profile == ProfileMainnet

	if err := c.checkProfile(); err != nil {
		errs = append(errs, err)
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", c.Log.Level, "want debug, info, warn or error")
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		bad("log.format", c.Log.Format, "want json or console")
	}

	if c.Metrics.Listen != "" {
		exp, what, err := listenExposure(c.Metrics.Listen)
		switch {
		case err != nil:
			bad("metrics.listen", c.Metrics.Listen, "want HOST:PORT, e.g. 127.0.0.1:26660")
		case exp == exposurePublic && !c.Metrics.AllowPublic && mainnet:
			bad("metrics.listen", c.Metrics.Listen,
				"%s, so /metrics, /healthz and /readyz are reachable from other hosts, which mainnet refuses without intent: set metrics.allow_public = true if that is meant, else listen on 127.0.0.1 or a private address", what)
		}
	}

	r, b := c.Mempool.RateLimit, c.Mempool.RateBurst
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0) || r < 0:
		bad("mempool.rate_limit", r, "want 0 (off) or more transactions per second")
	case math.IsNaN(b) || math.IsInf(b, 0) || b < 0:
		bad("mempool.rate_burst", b, "want 0 or more transactions")
	case r > 0 && b < 1:
		bad("mempool.rate_burst", b, "want at least 1 while mempool.rate_limit is on")
	}

	if k := c.State.KeepVersions; k < 0 || k == 1 {
		bad("state.keep_versions", k, "want 0 (keep every version) or at least 2: while a version is saved, reads fall back to the one before it")
	}

	vault := c.Signer.Backend == BackendVault
	switch c.Signer.Backend {
	case BackendFile:
		if mainnet {
			bad("signer.backend", c.Signer.Backend, "is not allowed on mainnet: keep the validator key in Vault")
		}
	case BackendVault:
	default:
		bad("signer.backend", c.Signer.Backend, "want file or vault")
	}
	switch {
	case vault && c.Signer.Key == "":
		bad("signer.key", nil, `is empty: name the Vault transit key that holds this validator's key (needed with signer.backend "vault")`)
	case c.Signer.Key != "" && strings.ContainsAny(c.Signer.Key, "/ \t\r\n"):
		bad("signer.key", c.Signer.Key, `want a Vault transit key name, without "/" or spaces`)
	}

	if c.Vault.Address == "" {
		if vault {
			bad("vault.address", nil, `is empty: set it (or %s) to the Vault server, e.g. https://vault.example.com:8200 (needed with signer.backend "vault")`, EnvVaultAddr)
		}
	} else if problem, show := vaultAddressProblem(c.Vault.Address, mainnet); problem != "" {
		var v any
		if show {
			v = c.Vault.Address
		}
		bad("vault.address", v, "%s", problem)
	}

	if looksSecret(c.Vault.TokenFile) {
		bad("vault.token_file", nil, "holds what looks like a Vault token, not a file path: a token is a secret; write it to a file only the node can read and name that file here")
	}
	if looksSecret(c.Vault.SecretIDFile) {
		bad("vault.secret_id_file", nil, "holds what looks like a SecretID, not a file path: write it to a file only the node can read and name that file here")
	}
	switch {
	case c.Vault.RoleID != "" && c.Vault.SecretIDFile == "":
		bad("vault.role_id", c.Vault.RoleID, "is set without vault.secret_id_file: AppRole needs both")
	case c.Vault.RoleID == "" && c.Vault.SecretIDFile != "":
		bad("vault.secret_id_file", c.Vault.SecretIDFile, "is set without vault.role_id: AppRole needs both")
	}
	if vault && c.Vault.TokenFile == "" && c.Vault.Token == "" && c.Vault.RoleID == "" && c.Vault.SecretIDFile == "" {
		bad("vault.token_file", nil, "is empty and neither %s nor %s is set: the Vault signer needs a token, or AppRole (vault.role_id with vault.secret_id_file)",
			EnvVaultToken, EnvVaultCLIToken)
	}
	if c.Vault.Timeout <= 0 {
		bad("vault.timeout", c.Vault.Timeout, `want a duration above 0, such as "2s"`)
	}

	return errors.Join(errs...)
}

// Warnings lists settings that are allowed but probably not meant: outside
// mainnet, a metrics listener reachable from other hosts without
// metrics.allow_public, and a Vault signer over plain http to another host.
// Call it on a Config that Validate accepted.
func (c Config) Warnings() []string {
	var out []string
	if c.Profile == ProfileMainnet {
		return nil // Validate refuses what would be warned about
	}
	if c.Metrics.Listen != "" && !c.Metrics.AllowPublic {
		if exp, what, err := listenExposure(c.Metrics.Listen); err == nil && exp == exposurePublic {
			out = append(out, fmt.Sprintf("metrics.listen %q %s, so /metrics, /healthz and /readyz are reachable from other hosts; set metrics.allow_public = true if that is meant (mainnet refuses it otherwise)%s",
				c.Metrics.Listen, what, fromSuffix(c.Origin("metrics.listen"))))
		}
	}
	if c.Signer.Backend == BackendVault {
		if u, err := url.Parse(c.Vault.Address); err == nil && u.Scheme == "http" {
			if exp, _ := hostExposure(u.Hostname()); exp != exposureLocal {
				out = append(out, fmt.Sprintf("vault.address %q is plain http: the token and every signature cross the network in clear (refused on mainnet)%s",
					c.Vault.Address, fromSuffix(c.Origin("vault.address"))))
			}
		}
	}
	return out
}

// vaultAddressProblem says what is wrong with a Vault address, and whether
// the message may show it (not when it holds credentials).
func vaultAddressProblem(addr string, mainnet bool) (string, bool) {
	u, err := url.Parse(addr)
	switch {
	case err == nil && u.User != nil:
		return "holds credentials: keep them out of the URL", false
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
		return "want a URL such as https://vault.example.com:8200", true
	case mainnet && u.Scheme != "https":
		return "want https on mainnet: a token and every signature would cross the network in clear", true
	}
	return "", false
}

// listenExposure parses a HOST:PORT listen address (CometBFT's tcp://
// prefix allowed) and says who can reach it, and in words why.
func listenExposure(addr string) (exposure, string, error) {
	host, port, err := net.SplitHostPort(trimScheme(addr))
	if err != nil {
		return 0, "", err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return 0, "", fmt.Errorf("port %q: %w", port, err)
	}
	exp, what := hostExposure(host)
	return exp, what, nil
}

// hostExposure says who can reach a listener bound to host.
func hostExposure(host string) (exposure, string) {
	if host == "" {
		return exposurePublic, "binds every interface"
	}
	if strings.EqualFold(host, "localhost") {
		return exposureLocal, "binds loopback"
	}
	ip := net.ParseIP(host)
	switch {
	case ip == nil:
		return exposurePublic, "binds a host name, which may resolve to a public address"
	case ip.IsUnspecified():
		return exposurePublic, "binds every interface"
	case ip.IsLoopback():
		return exposureLocal, "binds loopback"
	case ip.IsPrivate() || ip.IsLinkLocalUnicast():
		return exposurePrivate, "binds a private address"
	default:
		return exposurePublic, "binds a public address"
	}
}

// looksSecret reports a value that is a Vault token or a SecretID rather
// than the path of a file holding one.
func looksSecret(v string) bool {
	return vaultTokenPattern.MatchString(v) || uuidPattern.MatchString(v)
}

// trimScheme drops the tcp:// CometBFT's addresses may carry.
func trimScheme(addr string) string { return strings.TrimPrefix(addr, "tcp://") }
