package settings

import "time"

// FileName is the settings file a node reads from its home's config folder,
// HOME/config/consort.toml, beside CometBFT's config.toml.
const FileName = "consort.toml"

// Profiles name the environments a node runs in. Each has a table in the
// settings file that overrides the base values; mainnet also makes Validate
// refuse unsafe settings.
const (
	ProfileLocal   = "local"
	ProfileTestnet = "testnet"
	ProfileMainnet = "mainnet"
)

// Signer backends.
const (
	BackendFile  = "file"  // the key file HOME/config/priv_validator_key.json
	BackendVault = "vault" // a Vault transit key (signer.key), watermark in Vault KV
)

// Environment variables, one per setting. An empty variable counts as unset.
const (
	EnvProfile            = "CONSORT_PROFILE"              // profile: local, testnet or mainnet
	EnvLogLevel           = "CONSORT_LOG_LEVEL"            // log.level
	EnvLogFormat          = "CONSORT_LOG_FORMAT"           // log.format
	EnvMetricsListen      = "CONSORT_METRICS_LISTEN"       // metrics.listen
	EnvMetricsAllowPublic = "CONSORT_METRICS_ALLOW_PUBLIC" // metrics.allow_public
	EnvMempoolRateLimit   = "CONSORT_MEMPOOL_RATE_LIMIT"   // mempool.rate_limit
	EnvMempoolRateBurst   = "CONSORT_MEMPOOL_RATE_BURST"   // mempool.rate_burst
	EnvStateKeepVersions  = "CONSORT_STATE_KEEP_VERSIONS"  // state.keep_versions
	EnvSignerBackend      = "CONSORT_SIGNER_BACKEND"       // signer.backend
	EnvSignerKey          = "CONSORT_SIGNER_KEY"           // signer.key
	EnvVaultAddr          = "CONSORT_VAULT_ADDR"           // vault.address
	EnvVaultToken         = "CONSORT_VAULT_TOKEN"          // the Vault token itself (never in the file)
	EnvVaultTokenFile     = "CONSORT_VAULT_TOKEN_FILE"     // vault.token_file
	EnvVaultTimeout       = "CONSORT_VAULT_TIMEOUT"        // vault.timeout
	EnvVaultRoleID        = "CONSORT_VAULT_ROLE_ID"        // vault.role_id
	EnvVaultSecretIDFile  = "CONSORT_VAULT_SECRET_ID_FILE" // vault.secret_id_file

	// The Vault CLI's names, read when the CONSORT_ variable is unset.
	EnvVaultCLIAddr  = "VAULT_ADDR"  // vault.address
	EnvVaultCLIToken = "VAULT_TOKEN" // the Vault token
)

// Config is a node's app configuration. Build it with DefaultConfig or
// Load, change it with Set, and check it with Validate. Copies are
// independent.
type Config struct {
	// Profile is the profile whose table was applied and whose rules
	// Validate enforces: "" (none), "local", "testnet" or "mainnet".
	// Default "". Chosen by --profile or CONSORT_PROFILE, never by the file.
	Profile string
	Log     Log
	Metrics Metrics
	Mempool Mempool
	State   State
	Signer  Signer
	Vault   Vault

	// from records where each value that is not a default came from (a
	// file, a profile table, an environment variable, a flag), for messages.
	// Written copy-on-write, so that copies of a Config stay independent.
	from map[string]string
}

// Log configures the node's log (the app's and CometBFT's, on stderr).
type Log struct {
	// Level is the lowest level written: "debug", "info", "warn" or
	// "error". Default "info".
	Level string
	// Format is "json" (one object a line) or "console" (for people).
	// Default "json"; the local profile uses "console".
	Format string
}

// Metrics configures the listener that serves /metrics, /healthz and
// /readyz.
type Metrics struct {
	// Listen is the HOST:PORT to serve on; it replaces CometBFT's
	// instrumentation.prometheus_listen_addr. Default "": keep the address
	// in HOME/config/config.toml (consort init writes 127.0.0.1:26660), so
	// that the nodes of one host keep their own ports.
	Listen string
	// AllowPublic states that a listener reachable from other hosts (every
	// interface: an empty host, 0.0.0.0 or ::, a public IP, or a host name)
	// is meant. Default false: such a listener is refused on mainnet and
	// warned about elsewhere.
	AllowPublic bool
}

// Mempool is this node's mempool policy. It is node-local: it never
// changes what a block does.
type Mempool struct {
	// RateLimit is how many transactions per second one account may put
	// into this node's mempool. Default 100; 0 turns the limit off.
	RateLimit float64
	// RateBurst is how many transactions an idle account may send at once.
	// Default 200; at least 1 while RateLimit is on.
	RateBurst float64
}

// State is how much of the ledger state's history this node keeps. It is
// node-local: it never changes what a block does.
type State struct {
	// KeepVersions is how many recent versions of the state (one per
	// height) stay on disk for queries at a past height and their proofs;
	// older ones are deleted after each block. Default 1000; 0 keeps every
	// version; otherwise at least 2.
	KeepVersions int64
}

// Signer chooses where the validator's consensus key lives.
type Signer struct {
	// Backend is "file" (HOME/config/priv_validator_key.json) or "vault"
	// (the Vault transit key Key, with its double-sign watermark and key
	// schedule in Vault KV at secret/consort/validators/KEY). Default
	// "file"; mainnet refuses "file". Flag: start --signer.
	Backend string
	// Key is the name of the Vault transit key that holds this validator's
	// key. Default ""; required with backend "vault" (start --dev uses
	// consort-dev-validator).
	Key string
}

// Vault is how the node reaches Vault. Tokens and SecretIDs are secrets:
// the file names files holding them; only the environment holds a token
// itself.
type Vault struct {
	// Address is the Vault server's URL, e.g. https://vault.example.com:8200.
	// Default ""; required with signer backend "vault"; https on mainnet.
	// Environment: CONSORT_VAULT_ADDR, else VAULT_ADDR.
	Address string
	// TokenFile is a file holding a Vault token. Default "".
	TokenFile string
	// Token is a Vault token. Default "". Only ever from the environment
	// (CONSORT_VAULT_TOKEN, else VAULT_TOKEN): a token in the file is
	// refused.
	Token string
	// Timeout bounds each request to Vault. Default 2s.
	Timeout time.Duration
	// RoleID is the AppRole role id to log in with, together with
	// SecretIDFile. Default "" (no AppRole).
	RoleID string
	// SecretIDFile is a file holding the AppRole SecretID. Default "".
	SecretIDFile string
}

// DefaultConfig returns the defaults stated in Config.
func DefaultConfig() Config {
	return Config{
		Log:     Log{Level: "info", Format: "json"},
		Mempool: Mempool{RateLimit: 100, RateBurst: 200},
		State:   State{KeepVersions: 1000},
		Signer:  Signer{Backend: BackendFile},
		Vault:   Vault{Timeout: 2 * time.Second},
	}
}

// defaultProfiles are the profile tables used when there is no settings
// file; the repository's config.toml states the same ones. Keys are flat
// ("log.format"), values as TOML decodes them.
func defaultProfiles() map[string]map[string]any {
	return map[string]map[string]any{
		ProfileLocal:   {"log.format": "console"},
		ProfileTestnet: {"log.format": "json"},
		ProfileMainnet: {"log.format": "json"},
	}
}

// field is one setting: its key in the file, its environment variables
// (first set one wins) and where it lives in a Config.
type field struct {
	key string
	env []string
	// secret fields come from the environment only and are never shown.
	secret bool
	ptr    func(c *Config) any // *string, *bool, *float64, *int64 or *time.Duration
}

// fields lists every setting, in the order of the documented file.
func fields() []field {
	return []field{
		{key: "log.level", env: []string{EnvLogLevel}, ptr: func(c *Config) any { return &c.Log.Level }},
		{key: "log.format", env: []string{EnvLogFormat}, ptr: func(c *Config) any { return &c.Log.Format }},
		{key: "metrics.listen", env: []string{EnvMetricsListen}, ptr: func(c *Config) any { return &c.Metrics.Listen }},
		{key: "metrics.allow_public", env: []string{EnvMetricsAllowPublic}, ptr: func(c *Config) any { return &c.Metrics.AllowPublic }},
		{key: "mempool.rate_limit", env: []string{EnvMempoolRateLimit}, ptr: func(c *Config) any { return &c.Mempool.RateLimit }},
		{key: "mempool.rate_burst", env: []string{EnvMempoolRateBurst}, ptr: func(c *Config) any { return &c.Mempool.RateBurst }},
		{key: "state.keep_versions", env: []string{EnvStateKeepVersions}, ptr: func(c *Config) any { return &c.State.KeepVersions }},
		{key: "signer.backend", env: []string{EnvSignerBackend}, ptr: func(c *Config) any { return &c.Signer.Backend }},
		{key: "signer.key", env: []string{EnvSignerKey}, ptr: func(c *Config) any { return &c.Signer.Key }},
		{key: "vault.address", env: []string{EnvVaultAddr, EnvVaultCLIAddr}, ptr: func(c *Config) any { return &c.Vault.Address }},
		{key: "vault.token_file", env: []string{EnvVaultTokenFile}, ptr: func(c *Config) any { return &c.Vault.TokenFile }},
		{key: "vault.token", env: []string{EnvVaultToken, EnvVaultCLIToken}, secret: true, ptr: func(c *Config) any { return &c.Vault.Token }},
		{key: "vault.timeout", env: []string{EnvVaultTimeout}, ptr: func(c *Config) any { return &c.Vault.Timeout }},
		{key: "vault.role_id", env: []string{EnvVaultRoleID}, ptr: func(c *Config) any { return &c.Vault.RoleID }},
		{key: "vault.secret_id_file", env: []string{EnvVaultSecretIDFile}, ptr: func(c *Config) any { return &c.Vault.SecretIDFile }},
	}
}

// secretKeys are keys refused in a file because their value is a secret,
// with the settings that take their place.
func secretKeys() map[string]string {
	return map[string]string{
		"vault.token":     "write the token to a file only the node can read and set vault.token_file, or set " + EnvVaultToken,
		"vault.secret_id": "write the SecretID to a file only the node can read and set vault.secret_id_file",
	}
}

// lookupField returns the setting named key.
func lookupField(key string) (field, bool) {
	for _, f := range fields() {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

// Origin says where key's value came from ("CONSORT_LOG_LEVEL",
// "--log-level", a file name, ...); "" for a default.
func (c Config) Origin(key string) string { return c.from[key] }

// setOrigin records where key's value came from, without changing the map
// another copy of c may share.
func (c *Config) setOrigin(key, origin string) {
	m := make(map[string]string, len(c.from)+1)
	for k, v := range c.from {
		m[k] = v
	}
	if origin == "" {
		delete(m, key)
	} else {
		m[key] = origin
	}
	c.from = m
}
