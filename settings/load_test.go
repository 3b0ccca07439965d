package settings

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// env returns a Getenv reading only vars.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// writeSettings writes a settings file into a temporary folder and returns
// its path.
func writeSettings(tb testing.TB, text string) string {
	tb.Helper()
	file := filepath.Join(tb.TempDir(), FileName)
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	return file
}

// values drops the origins, leaving what a Config says.
func values(c Config) Config {
	c.from = nil
	return c
}

func TestLoadPrecedence(t *testing.T) {
	file := writeSettings(t, `
[log]
level = "warn"
[mempool]
rate_limit = 10
rate_burst = 20.5
[vault]
timeout = "5s"
[profile.testnet]
log.level = "error"
mempool.rate_limit = 7
[profile.mainnet.metrics]
allow_public = true
`)
	tests := []struct {
		name    string
		src     Source
		env     map[string]string
		flags   map[string]string // key → text, applied with Set
		want    func(*Config)
		origins map[string]string
	}{
		{
			name: "no file: defaults",
			src:  Source{File: filepath.Join(t.TempDir(), "missing.toml")},
			want: func(*Config) {},
		},
		{
			name: "no file, local profile: built-in console logs",
			src:  Source{Profile: ProfileLocal},
			want: func(c *Config) { c.Profile, c.Log.Format = ProfileLocal, "console" },
			origins: map[string]string{
				"profile": "--profile", "log.format": "the built-in local profile",
			},
		},
		{
			name: "file base over defaults",
			src:  Source{File: file},
			want: func(c *Config) {
				c.Log.Level, c.Mempool.RateLimit, c.Mempool.RateBurst, c.Vault.Timeout = "warn", 10, 20.5, 5*time.Second
			},
			origins: map[string]string{"log.level": file, "mempool.rate_limit": file, "log.format": ""},
		},
		{
			name: "profile over base",
			src:  Source{File: file, Profile: ProfileTestnet},
			want: func(c *Config) {
				c.Profile = ProfileTestnet
				c.Log.Level, c.Mempool.RateLimit, c.Mempool.RateBurst, c.Vault.Timeout = "error", 7, 20.5, 5*time.Second
			},
			origins: map[string]string{"log.level": file + " [profile.testnet]", "mempool.rate_burst": file},
		},
		{
			name: "a profile the file has no table for keeps the base",
			src:  Source{File: file, Profile: ProfileLocal},
			want: func(c *Config) {
				c.Profile = ProfileLocal
				c.Log.Level, c.Mempool.RateLimit, c.Mempool.RateBurst, c.Vault.Timeout = "warn", 10, 20.5, 5*time.Second
			},
		},
		{
			name: "dotted sub-table in a profile",
			src:  Source{File: file, Profile: ProfileMainnet},
			want: func(c *Config) {
				c.Profile = ProfileMainnet
				c.Log.Level, c.Mempool.RateLimit, c.Mempool.RateBurst, c.Vault.Timeout = "warn", 10, 20.5, 5*time.Second
				c.Metrics.AllowPublic = true
			},
		},
		{
			name: "environment over profile",
			src:  Source{File: file, Profile: ProfileTestnet},
			env: map[string]string{
				EnvLogLevel: "debug", EnvMempoolRateLimit: "3.5", EnvMetricsAllowPublic: "true",
				EnvVaultTimeout: "750ms", EnvSignerBackend: "vault", EnvSignerKey: "node0",
				EnvVaultTokenFile: "/run/secrets/vault-token", EnvVaultRoleID: "r", EnvVaultSecretIDFile: "/run/secrets/sid",
				EnvMetricsListen: "127.0.0.1:9", EnvLogFormat: "console", EnvMempoolRateBurst: "4",
			},
			want: func(c *Config) {
				c.Profile = ProfileTestnet
				c.Log = Log{Level: "debug", Format: "console"}
				c.Metrics = Metrics{Listen: "127.0.0.1:9", AllowPublic: true}
				c.Mempool = Mempool{RateLimit: 3.5, RateBurst: 4}
				c.Signer = Signer{Backend: BackendVault, Key: "node0"}
				c.Vault.Timeout, c.Vault.TokenFile, c.Vault.RoleID, c.Vault.SecretIDFile = 750*time.Millisecond, "/run/secrets/vault-token", "r", "/run/secrets/sid"
			},
			origins: map[string]string{"log.level": EnvLogLevel, "vault.timeout": EnvVaultTimeout},
		},
		{
			name:  "flags over environment",
			src:   Source{File: file, Profile: ProfileTestnet},
			env:   map[string]string{EnvLogLevel: "debug", EnvMempoolRateLimit: "3"},
			flags: map[string]string{"log.level": "info", "mempool.rate_limit": "0"},
			want: func(c *Config) {
				c.Profile = ProfileTestnet
				c.Log.Level, c.Mempool.RateLimit, c.Mempool.RateBurst, c.Vault.Timeout = "info", 0, 20.5, 5*time.Second
			},
			origins: map[string]string{"log.level": "--log.level", "mempool.rate_limit": "--mempool.rate_limit"},
		},
		{
			name: "profile from the environment",
			src:  Source{DefaultProfile: ProfileLocal},
			env:  map[string]string{EnvProfile: ProfileTestnet},
			want: func(c *Config) { c.Profile = ProfileTestnet },
			origins: map[string]string{
				"profile": EnvProfile, "log.format": "the built-in testnet profile",
			},
		},
		{
			name: "profile flag over the environment",
			src:  Source{Profile: ProfileLocal},
			env:  map[string]string{EnvProfile: ProfileMainnet},
			want: func(c *Config) { c.Profile, c.Log.Format = ProfileLocal, "console" },
		},
		{
			name:    "default profile when none is chosen",
			src:     Source{DefaultProfile: ProfileLocal},
			want:    func(c *Config) { c.Profile, c.Log.Format = ProfileLocal, "console" },
			origins: map[string]string{"profile": ""},
		},
		{
			name: "Vault CLI variables; CONSORT_ ones win",
			env:  map[string]string{EnvVaultCLIAddr: "http://cli:8200", EnvVaultCLIToken: "cli-token"},
			want: func(c *Config) { c.Vault.Address, c.Vault.Token = "http://cli:8200", "cli-token" },
			origins: map[string]string{
				"vault.address": EnvVaultCLIAddr, "vault.token": EnvVaultCLIToken,
			},
		},
		{
			name: "CONSORT_VAULT_ADDR over VAULT_ADDR",
			env: map[string]string{
				EnvVaultCLIAddr: "http://cli:8200", EnvVaultAddr: "https://consort:8200",
				EnvVaultCLIToken: "cli-token", EnvVaultToken: "consort-token",
			},
			want:    func(c *Config) { c.Vault.Address, c.Vault.Token = "https://consort:8200", "consort-token" },
			origins: map[string]string{"vault.address": EnvVaultAddr, "vault.token": EnvVaultToken},
		},
		{
			name: "empty environment variables count as unset",
			src:  Source{File: file},
			env:  map[string]string{EnvLogLevel: "", EnvProfile: ""},
			want: func(c *Config) {
				c.Log.Level, c.Mempool.RateLimit, c.Mempool.RateBurst, c.Vault.Timeout = "warn", 10, 20.5, 5*time.Second
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.src
			src.Getenv = env(tt.env)
			got, err := Load(src)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			for key, text := range tt.flags {
				if err := got.Set(key, text, "--"+key); err != nil {
					t.Fatalf("Set(%s, %s): %v", key, text, err)
				}
			}
			want := DefaultConfig()
			tt.want(&want)
			if !reflect.DeepEqual(values(got), want) {
				t.Errorf("got %+v\nwant %+v", values(got), want)
			}
			for key, origin := range tt.origins {
				if o := got.Origin(key); o != origin {
					t.Errorf("Origin(%s) = %q, want %q", key, o, origin)
				}
			}
			if err := got.Validate(); err != nil && got.Signer.Backend != BackendVault && got.Profile != ProfileMainnet {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		file string // settings file text; "" for none
		src  Source
		env  map[string]string
		want []string // each must be in the error
		not  []string // none may be
	}{
		{
			name: "unknown key, with a suggestion",
			file: "[log]\nlevle = \"debug\"\n",
			want: []string{"config: log.levle: unknown key in ", "did you mean log.level?"},
		},
		{
			name: "unknown key in a profile",
			file: "[profile.mainnet]\nmetrics.allow_pubic = true\n",
			want: []string{"config: profile.mainnet.metrics.allow_pubic: unknown key in ", "did you mean profile.mainnet.metrics.allow_public?"},
		},
		{
			name: "a fractional number of state versions",
			file: "[state]\nkeep_versions = 2.5\n",
			want: []string{"config: state.keep_versions 2.5: want a whole number"},
		},
		{
			name: "a word for the state versions in the environment",
			env:  map[string]string{EnvStateKeepVersions: "many"},
			want: []string{`config: state.keep_versions "many": want a whole number (from ` + EnvStateKeepVersions + ")"},
		},
		{
			name: "unknown section",
			file: "[telemetry]\nenabled = true\n",
			want: []string{"config: telemetry.enabled: unknown key in "},
		},
		{
			name: "every unknown key is reported",
			file: "colour = \"red\"\n[log]\nlevel = \"info\"\nextra = 1\n",
			want: []string{"config: colour: unknown key", "config: log.extra: unknown key"},
		},
		{
			name: "a Vault token in the file is refused without showing it",
			file: "[vault]\ntoken = \"hvs.CAESIJ7secretsecretsecretsecret\"\n",
			want: []string{"config: vault.token: secrets are refused in ", "vault.token_file", EnvVaultToken},
			not:  []string{"hvs.CAESIJ7"},
		},
		{
			name: "a Vault token in a profile is refused",
			file: "[profile.mainnet.vault]\ntoken = \"s.abc\"\n",
			want: []string{"config: profile.mainnet.vault.token: secrets are refused"},
			not:  []string{"s.abc"},
		},
		{
			name: "a SecretID in the file is refused",
			file: "[vault]\nsecret_id = \"x\"\n",
			want: []string{"config: vault.secret_id: secrets are refused", "vault.secret_id_file"},
		},
		{
			name: "the profile is not chosen in the file",
			file: "profile = \"mainnet\"\n",
			want: []string{"config: profile: set in ", "chosen with --profile or " + EnvProfile},
		},
		{
			name: "unknown profile table",
			file: "[profile.staging]\nlog.level = \"debug\"\n",
			want: []string{"config: profile.staging: unknown profile in ", "want local, testnet or mainnet"},
		},
		{
			name: "unknown profile from the environment",
			env:  map[string]string{EnvProfile: "prod"},
			want: []string{`config: profile "prod": want local, testnet or mainnet (from CONSORT_PROFILE)`},
		},
		{
			name: "unknown profile from the flag",
			src:  Source{Profile: "dev"},
			want: []string{`config: profile "dev": want local, testnet or mainnet (from --profile)`},
		},
		{
			name: "string for a number",
			file: "[mempool]\nrate_limit = \"100\"\n",
			want: []string{`config: mempool.rate_limit "100": want a number (from `},
		},
		{
			name: "number for a string",
			file: "[log]\nlevel = 3\n",
			want: []string{`config: log.level 3: want a string (from `},
		},
		{
			name: "string for a bool",
			file: "[metrics]\nallow_public = \"yes\"\n",
			want: []string{`config: metrics.allow_public "yes": want true or false`},
		},
		{
			name: "bad duration",
			file: "[vault]\ntimeout = 2\n",
			want: []string{`config: vault.timeout 2: want a duration such as "2s"`},
		},
		{
			name: "bad duration text",
			file: "[vault]\ntimeout = \"two seconds\"\n",
			want: []string{`config: vault.timeout "two seconds": want a duration such as "2s"`},
		},
		{
			name: "bad number in the environment",
			env:  map[string]string{EnvMempoolRateBurst: "lots"},
			want: []string{`config: mempool.rate_burst "lots": want a number (from CONSORT_MEMPOOL_RATE_BURST)`},
		},
		{
			name: "bad bool in the environment",
			env:  map[string]string{EnvMetricsAllowPublic: "sure"},
			want: []string{`config: metrics.allow_public "sure": want true or false (from CONSORT_METRICS_ALLOW_PUBLIC)`},
		},
		{
			name: "bad duration in the environment",
			env:  map[string]string{EnvVaultTimeout: "10"},
			want: []string{`config: vault.timeout "10": want a duration such as "2s" (from CONSORT_VAULT_TIMEOUT)`},
		},
		{
			name: "TOML syntax error, with its position, without the line",
			file: "[vault]\ntoken_file = \"hvs.secretsecretsecretsecretsecret\nlevel = \n",
			want: []string{"config: ", "line 2, column"},
			not:  []string{"hvs.secret"},
		},
		{
			name: "a key given twice",
			file: "[log]\nlevel = \"info\"\nlevel = \"debug\"\n",
			want: []string{"config: ", "key level is already defined"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.src
			if tt.file != "" {
				src.File = writeSettings(t, tt.file)
			}
			src.Getenv = env(tt.env)
			_, err := Load(src)
			if err == nil {
				t.Fatalf("Load: no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant it to contain %q", err, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(err.Error(), n) {
					t.Errorf("error %q\nshows %q", err, n)
				}
			}
		})
	}
}

func TestLoadUnreadableFile(t *testing.T) {
	dir := t.TempDir() // a folder where a file is expected
	_, err := Load(Source{File: dir, Getenv: env(nil)})
	if err == nil || !strings.Contains(err.Error(), "config: read "+dir) {
		t.Errorf("got %v, want a read error naming %s", err, dir)
	}
}

func TestSet(t *testing.T) {
	c := DefaultConfig()
	if err := c.Set("log.lvl", "debug", "--x"); err == nil || !strings.Contains(err.Error(), "config: log.lvl: unknown key") {
		t.Errorf("Set of an unknown key: got %v", err)
	}
	if err := c.Set("mempool.rate_limit", "fast", "--rate-limit"); err == nil ||
		err.Error() != `config: mempool.rate_limit "fast": want a number (from --rate-limit)` {
		t.Errorf("Set of a bad number: got %v", err)
	}
	copied := c
	if err := c.Set("log.level", "debug", "--log-level"); err != nil {
		t.Fatal(err)
	}
	if c.Log.Level != "debug" || c.Origin("log.level") != "--log-level" {
		t.Errorf("got level %q from %q, want debug from --log-level", c.Log.Level, c.Origin("log.level"))
	}
	if copied.Origin("log.level") != "" || copied.Log.Level != "info" {
		t.Errorf("Set changed a copy: level %q from %q", copied.Log.Level, copied.Origin("log.level"))
	}
}
