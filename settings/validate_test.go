package settings

import (
	"math"
	"strings"
	"testing"
	"time"
)

// vaultReady is a Vault signer setup that passes every check but the last:
// the Vault signer is not in this build.
func vaultReady(c *Config) {
	c.Signer = Signer{Backend: BackendVault, Key: "node0"}
	c.Vault.Address = "https://vault.example.com:8200"
	c.Vault.TokenFile = "/run/secrets/vault-token"
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		profile string
		change  func(*Config)
		want    []string // each must be a line of the error; none: valid
	}{
		{name: "defaults", change: func(*Config) {}},
		{name: "defaults on local", profile: ProfileLocal, change: func(*Config) {}},
		{name: "defaults on testnet", profile: ProfileTestnet, change: func(*Config) {}},
		{
			name:   "bad log level",
			change: func(c *Config) { c.Log.Level = "verbose" },
			want:   []string{`config: log.level "verbose": want debug, info, warn or error`},
		},
		{
			name:   "bad log format",
			change: func(c *Config) { c.Log.Format = "text" },
			want:   []string{`config: log.format "text": want json or console`},
		},
		{
			name:   "bad metrics address",
			change: func(c *Config) { c.Metrics.Listen = "26660" },
			want:   []string{`config: metrics.listen "26660": want HOST:PORT, e.g. 127.0.0.1:26660`},
		},
		{
			name:   "bad metrics port",
			change: func(c *Config) { c.Metrics.Listen = "127.0.0.1:99999" },
			want:   []string{`config: metrics.listen "127.0.0.1:99999": want HOST:PORT, e.g. 127.0.0.1:26660`},
		},
		{name: "metrics on loopback with tcp://", change: func(c *Config) { c.Metrics.Listen = "tcp://127.0.0.1:26660" }},
		{name: "public metrics outside mainnet: a warning only", change: func(c *Config) { c.Metrics.Listen = "0.0.0.0:26660" }},
		{name: "every state version kept", change: func(c *Config) { c.State.KeepVersions = 0 }},
		{name: "two state versions kept", change: func(c *Config) { c.State.KeepVersions = 2 }},
		{
			name:   "one state version kept",
			change: func(c *Config) { c.State.KeepVersions = 1 },
			want:   []string{`config: state.keep_versions 1: want 0 (keep every version) or at least 2: while a version is saved, reads fall back to the one before it`},
		},
		{
			name:   "negative rate limit",
			change: func(c *Config) { c.Mempool.RateLimit = -1 },
			want:   []string{`config: mempool.rate_limit -1: want 0 (off) or more transactions per second`},
		},
		{
			name:   "NaN rate limit",
			change: func(c *Config) { c.Mempool.RateLimit = math.NaN() },
			want:   []string{`config: mempool.rate_limit NaN: want 0 (off) or more transactions per second`},
		},
		{
			name:   "burst below 1 while limiting",
			change: func(c *Config) { c.Mempool.RateBurst = 0.5 },
			want:   []string{`config: mempool.rate_burst 0.5: want at least 1 while mempool.rate_limit is on`},
		},
		{
			name:   "negative burst",
			change: func(c *Config) { c.Mempool.RateLimit, c.Mempool.RateBurst = 0, -2 },
			want:   []string{`config: mempool.rate_burst -2: want 0 or more transactions`},
		},
		{name: "no limit, no burst", change: func(c *Config) { c.Mempool.RateLimit, c.Mempool.RateBurst = 0, 0 }},
		{
			name:   "unknown signer backend",
			change: func(c *Config) { c.Signer.Backend = "hsm" },
			want:   []string{`config: signer.backend "hsm": want file or vault`},
		},
		{
			name:   "vault signer with its settings",
			change: vaultReady,
		},
		{
			name:   "vault signer without its settings",
			change: func(c *Config) { c.Signer.Backend = BackendVault },
			want: []string{
				`config: signer.key is empty: name the Vault transit key that holds this validator's key (needed with signer.backend "vault")`,
				`config: vault.address is empty: set it (or CONSORT_VAULT_ADDR) to the Vault server, e.g. https://vault.example.com:8200 (needed with signer.backend "vault")`,
				`config: vault.token_file is empty and neither CONSORT_VAULT_TOKEN nor VAULT_TOKEN is set: the Vault signer needs a token, or AppRole (vault.role_id with vault.secret_id_file)`,
			},
		},
		{
			name:   "a token from the environment is a token source",
			change: func(c *Config) { vaultReady(c); c.Vault.TokenFile, c.Vault.Token = "", "t" },
		},
		{
			name: "AppRole is a token source",
			change: func(c *Config) {
				vaultReady(c)
				c.Vault.TokenFile, c.Vault.RoleID, c.Vault.SecretIDFile = "", "role", "/run/sid"
			},
		},
		{
			name:   "AppRole needs a SecretID file",
			change: func(c *Config) { c.Vault.RoleID = "role" },
			want:   []string{`config: vault.role_id "role" is set without vault.secret_id_file: AppRole needs both`},
		},
		{
			name:   "AppRole needs a role id",
			change: func(c *Config) { c.Vault.SecretIDFile = "/run/sid" },
			want:   []string{`config: vault.secret_id_file "/run/sid" is set without vault.role_id: AppRole needs both`},
		},
		{
			name:   "bad signer key",
			change: func(c *Config) { vaultReady(c); c.Signer.Key = "transit/keys/node0" },
			want:   []string{`config: signer.key "transit/keys/node0": want a Vault transit key name, without "/" or spaces`},
		},
		{
			name:   "bad vault address",
			change: func(c *Config) { c.Vault.Address = "vault:8200" },
			want:   []string{`config: vault.address "vault:8200": want a URL such as https://vault.example.com:8200`},
		},
		{
			name:   "vault address with credentials is not shown",
			change: func(c *Config) { c.Vault.Address = "https://admin:hunter2@vault:8200" },
			want:   []string{`config: vault.address holds credentials: keep them out of the URL`},
		},
		{
			name:   "a token where a token file belongs",
			change: func(c *Config) { c.Vault.TokenFile = "hvs.CAESIJsecretsecretsecretsecret" },
			want:   []string{`config: vault.token_file holds what looks like a Vault token, not a file path: a token is a secret; write it to a file only the node can read and name that file here`},
		},
		{
			name: "a SecretID where its file belongs",
			change: func(c *Config) {
				c.Vault.RoleID, c.Vault.SecretIDFile = "role", "0f9e3b1a-6c2d-4e8f-9a7b-1c2d3e4f5a6b"
			},
			want: []string{`config: vault.secret_id_file holds what looks like a SecretID, not a file path: write it to a file only the node can read and name that file here`},
		},
		{
			name:   "zero vault timeout",
			change: func(c *Config) { c.Vault.Timeout = 0 },
			want:   []string{`config: vault.timeout "0s": want a duration above 0, such as "2s"`},
		},
		{
			name:   "bad profile set directly",
			change: func(c *Config) { c.Profile = "prod" },
			want:   []string{`config: profile "prod": want local, testnet or mainnet`},
		},

		// mainnet
		{
			name:    "mainnet refuses the file signer",
			profile: ProfileMainnet,
			change:  func(*Config) {},
			want:    []string{`config: signer.backend "file" is not allowed on mainnet: keep the validator key in Vault`},
		},
		{
			name:    "mainnet with a Vault signer",
			profile: ProfileMainnet,
			change:  vaultReady,
		},
		{
			name:    "mainnet refuses public metrics without intent",
			profile: ProfileMainnet,
			change:  func(c *Config) { vaultReady(c); c.Metrics.Listen = "0.0.0.0:26660" },
			want: []string{
				`config: metrics.listen "0.0.0.0:26660" binds every interface, so /metrics, /healthz and /readyz are reachable from other hosts, which mainnet refuses without intent: set metrics.allow_public = true if that is meant, else listen on 127.0.0.1 or a private address`,
			},
		},
		{
			name:    "mainnet refuses metrics on ::",
			profile: ProfileMainnet,
			change:  func(c *Config) { vaultReady(c); c.Metrics.Listen = "[::]:26660" },
			want:    []string{`config: metrics.listen "[::]:26660" binds every interface`},
		},
		{
			name:    "mainnet refuses metrics on an empty host",
			profile: ProfileMainnet,
			change:  func(c *Config) { vaultReady(c); c.Metrics.Listen = ":26660" },
			want:    []string{`config: metrics.listen ":26660" binds every interface`},
		},
		{
			name:    "mainnet refuses metrics on a public IP",
			profile: ProfileMainnet,
			change:  func(c *Config) { vaultReady(c); c.Metrics.Listen = "203.0.113.7:26660" },
			want:    []string{`config: metrics.listen "203.0.113.7:26660" binds a public address`},
		},
		{
			name:    "mainnet refuses metrics on a host name",
			profile: ProfileMainnet,
			change:  func(c *Config) { vaultReady(c); c.Metrics.Listen = "node0.example.com:26660" },
			want:    []string{`config: metrics.listen "node0.example.com:26660" binds a host name, which may resolve to a public address`},
		},
		{
			name:    "mainnet takes public metrics with intent",
			profile: ProfileMainnet,
			change:  func(c *Config) { vaultReady(c); c.Metrics.Listen, c.Metrics.AllowPublic = "0.0.0.0:26660", true },
		},
		{
			name:    "mainnet takes metrics on a private address",
			profile: ProfileMainnet,
			change:  func(c *Config) { vaultReady(c); c.Metrics.Listen = "10.1.2.3:26660" },
		},
		{
			name:    "mainnet takes metrics on localhost",
			profile: ProfileMainnet,
			change:  func(c *Config) { vaultReady(c); c.Metrics.Listen = "localhost:26660" },
		},
		{
			name:    "mainnet refuses plain http to Vault",
			profile: ProfileMainnet,
			change:  func(c *Config) { vaultReady(c); c.Vault.Address = "http://vault:8200" },
			want: []string{
				`config: vault.address "http://vault:8200": want https on mainnet: a token and every signature would cross the network in clear`,
			},
		},
		{
			name:    "mainnet refuses a Vault signer without a token source",
			profile: ProfileMainnet,
			change:  func(c *Config) { vaultReady(c); c.Vault.TokenFile = "" },
			want:    []string{`config: vault.token_file is empty and neither CONSORT_VAULT_TOKEN nor VAULT_TOKEN is set`},
		},
		{
			name:    "mainnet reports every problem",
			profile: ProfileMainnet,
			change: func(c *Config) {
				c.Metrics.Listen, c.Vault.Address, c.Log.Level = "0.0.0.0:1", "http://v:8200", "loud"
			},
			want: []string{
				`config: log.level "loud"`,
				`config: metrics.listen "0.0.0.0:1" binds every interface`,
				`config: signer.backend "file" is not allowed on mainnet`,
				`config: vault.address "http://v:8200": want https on mainnet`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Profile = tt.profile
			tt.change(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: no error, want %q", tt.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%s", len(lines), len(tt.want), err)
			}
			for i, w := range tt.want {
				if i < len(lines) && !strings.HasPrefix(lines[i], w) {
					t.Errorf("problem %d:\n got %s\nwant %s", i, lines[i], w)
				}
			}
			for _, secret := range []string{"hunter2", "hvs.CAES", "0f9e3b1a"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows the secret %q: %s", secret, err)
				}
			}
		})
	}
}

func TestValidateNamesOrigin(t *testing.T) {
	file := writeSettings(t, "[profile.mainnet]\nlog.level = \"verbose\"\n")
	c, err := Load(Source{File: file, Profile: ProfileMainnet, Getenv: env(map[string]string{EnvMetricsListen: "0.0.0.0:26660"})})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	for _, want := range []string{
		`config: log.level "verbose": want debug, info, warn or error (from ` + file + ` [profile.mainnet])`,
		`(from CONSORT_METRICS_LISTEN)`,
		`config: signer.backend "file" is not allowed on mainnet: keep the validator key in Vault` + "\n",
	} {
		if err == nil || !strings.Contains(err.Error()+"\n", want) {
			t.Errorf("got %v\nwant it to contain %q", err, want)
		}
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   []string
	}{
		{name: "defaults", change: func(*Config) {}},
		{
			name:   "public metrics without intent",
			change: func(c *Config) { c.Metrics.Listen = "0.0.0.0:26660" },
			want:   []string{`metrics.listen "0.0.0.0:26660" binds every interface, so /metrics, /healthz and /readyz are reachable from other hosts; set metrics.allow_public = true if that is meant (mainnet refuses it otherwise)`},
		},
		{name: "public metrics with intent", change: func(c *Config) { c.Metrics.Listen, c.Metrics.AllowPublic = ":26660", true }},
		{name: "private metrics", change: func(c *Config) { c.Metrics.Listen = "192.168.1.5:26660" }},
		{
			name:   "plain http to a remote Vault",
			change: func(c *Config) { vaultReady(c); c.Vault.Address = "http://vault:8200" },
			want:   []string{`vault.address "http://vault:8200" is plain http: the token and every signature cross the network in clear (refused on mainnet)`},
		},
		{name: "plain http to a local Vault", change: func(c *Config) { vaultReady(c); c.Vault.Address = "http://127.0.0.1:8200" }},
		{name: "mainnet warns of nothing: it refuses", change: func(c *Config) { c.Profile, c.Metrics.Listen = ProfileMainnet, "0.0.0.0:1" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.change(&c)
			got := c.Warnings()
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestDefaultConfigIsValid(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Vault.Timeout != 2*time.Second || c.Mempool != (Mempool{RateLimit: 100, RateBurst: 200}) {
		t.Errorf("defaults drifted from the documented ones: %+v", c)
	}
}
