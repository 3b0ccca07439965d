package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/settings"
)

// Defaults, well under CometBFT's privval timeouts.
const (
	DefaultTimeout      = 2 * time.Second
	DefaultMaxRetries   = 1
	DefaultTransitMount = "transit"
	minRetryWait        = 100 * time.Millisecond
	maxRetryWait        = 250 * time.Millisecond
)

// Config says how to reach and authenticate to Vault.
type Config struct {
	// Address is Vault's URL, e.g. https://vault.example.com:8200.
	Address string
	// Token is a Vault token; else TokenFile names a file holding one
	// (owner-only permissions). Ignored when RoleID is set.
	Token     string
	TokenFile string
	// RoleID and SecretIDFile log in with AppRole (auth/approle/login);
	// the token so obtained is renewed in the background.
	RoleID       string
	SecretIDFile string
	// Timeout bounds each call to Vault, its retries included. Default
	// DefaultTimeout.
	Timeout time.Duration
	// MaxRetries is how many times a call that failed on a connection
	// error or a 5xx answer is retried, 100-250 ms apart. Default
	// DefaultMaxRetries; negative: no retry.
	MaxRetries int
	// TransitMount is where the transit engine is mounted. Default
	// DefaultTransitMount.
	TransitMount string
}

// String describes the configuration without any secret.
func (c Config) String() string {
	auth := "no token"
	switch {
	case c.RoleID != "":
		auth = "approle (secret id file " + c.SecretIDFile + ")"
	case c.Token != "":
		auth = "token (from the environment)"
	case c.TokenFile != "":
		auth = "token file " + c.TokenFile
	}
	return fmt.Sprintf("vault %s, %s, timeout %s", c.Address, auth, c.Timeout)
}

// ConfigFromSettings takes the Vault settings of a node or CLI
// (settings.Load has already read CONSORT_VAULT_*, VAULT_ADDR and
// VAULT_TOKEN).
func ConfigFromSettings(v settings.Vault) Config {
	return Config{
		Address:      v.Address,
		Token:        v.Token,
		TokenFile:    v.TokenFile,
		RoleID:       v.RoleID,
		SecretIDFile: v.SecretIDFile,
		Timeout:      v.Timeout,
		MaxRetries:   DefaultMaxRetries,
	}
}

// ConfigFromEnv reads VAULT_ADDR and VAULT_TOKEN, the Vault CLI's
// variables, with getenv (nil: os.Getenv). For tools and tests; a node
// reads its settings with the settings package.
func ConfigFromEnv(getenv func(string) string) Config {
	if getenv == nil {
		getenv = os.Getenv
	}
	return Config{
		Address:    getenv(settings.EnvVaultCLIAddr),
		Token:      getenv(settings.EnvVaultCLIToken),
		MaxRetries: DefaultMaxRetries,
	}
}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.TransitMount == "" {
		c.TransitMount = DefaultTransitMount
	}
	c.TransitMount = strings.Trim(c.TransitMount, "/")
	return c
}

// Client is an authenticated connection to Vault. It is safe for
// concurrent use. Close it to stop the token renewal.
type Client struct {
	cfg Config
	api *api.Client
	log zerolog.Logger

	loginMu sync.Mutex // one AppRole login at a time

	stop     context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

// New connects to Vault as cfg says. With AppRole it logs in now (so a
// wrong role or SecretID fails here) and keeps the token renewed until
// Close; with a token it makes no call.
func New(ctx context.Context, cfg Config, log zerolog.Logger) (*Client, error) {
	cfg = cfg.withDefaults()
	if cfg.Address == "" {
		return nil, errors.New("vault: no address: set vault.address, CONSORT_VAULT_ADDR or VAULT_ADDR")
	}
	// TLS settings come from the Vault CLI's variables (VAULT_CACERT,
	// VAULT_CLIENT_CERT, ...); address, token, timeout and retries from
	// cfg only.
	apiCfg := api.DefaultConfig()
	if apiCfg.Error != nil {
		return nil, fmt.Errorf("vault: client configuration from the environment: %w", apiCfg.Error)
	}
	apiCfg.Address = cfg.Address
	apiCfg.AgentAddress = "" // VAULT_AGENT_ADDR would take precedence over Address
	apiCfg.Timeout = cfg.Timeout
	apiCfg.MaxRetries = cfg.MaxRetries
	apiCfg.MinRetryWait = minRetryWait
	apiCfg.MaxRetryWait = maxRetryWait
	apiCfg.HttpClient.Timeout = cfg.Timeout
	cl, err := api.NewClient(apiCfg)
	if err != nil {
		return nil, fmt.Errorf("vault: client for %s: %w", cfg.Address, err)
	}
	cl.ClearToken() // NewClient takes VAULT_TOKEN by itself; only cfg decides
	c := &Client{cfg: cfg, api: cl, log: log.With().Str("module", "vault").Logger(), done: make(chan struct{})}

	switch {
	case cfg.RoleID != "":
		if cfg.SecretIDFile == "" {
			return nil, errors.New("vault: AppRole role id given without a SecretID file (vault.secret_id_file)")
		}
		lease, err := c.login(ctx)
		if err != nil {
			return nil, err
		}
		rctx, cancel := context.WithCancel(context.Background())
		c.stop = cancel
		go c.renewLoop(rctx, lease)
		return c, nil
	case cfg.Token != "":
		cl.SetToken(strings.TrimSpace(cfg.Token))
	case cfg.TokenFile != "":
		tok, err := readSecretFile(cfg.TokenFile, "token")
		if err != nil {
			return nil, err
		}
		cl.SetToken(tok)
	default:
		return nil, errors.New("vault: no credentials: set a token (VAULT_TOKEN, CONSORT_VAULT_TOKEN or vault.token_file) or AppRole (vault.role_id and vault.secret_id_file)")
	}
	close(c.done)
	return c, nil
}

// Close stops the token renewal. The client must not be used afterwards.
func (c *Client) Close() {
	c.stopOnce.Do(func() {
		if c.stop != nil {
			c.stop()
		}
	})
	<-c.done
}

// Config returns the configuration in force, defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// readSecretFile reads a token or SecretID from path, refusing a file that
// group or others may read. what names the secret for messages.
func readSecretFile(path, what string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("vault: %s file: %w", what, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("vault: %s file: %w", what, err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("vault: %s file %s is not a regular file", what, path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("vault: %s file %s has permissions %04o, which let group or others read it: run \"chmod 600 %s\"", what, path, perm, path)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return "", fmt.Errorf("vault: %s file %s: %w", what, path, err)
	}
	s := strings.TrimSpace(buf.String())
	if s == "" {
		return "", fmt.Errorf("vault: %s file %s is empty", what, path)
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return "", fmt.Errorf("vault: %s file %s holds more than one word; want the %s alone", what, path, what)
	}
	return s, nil
}

// read GETs path and parses the answer. A 404 is an *Error of class
// ErrNotFound.
func (c *Client) read(ctx context.Context, op, path string) (*api.Secret, error) {
	resp, err := c.roundTrip(ctx, op, path, func(cctx context.Context) (*api.Response, error) {
		return c.api.Logical().ReadRawWithContext(cctx, path)
	})
	return c.finish(op, path, resp, err)
}

// write sends data to path (Vault treats PUT and POST alike) and parses the
// answer, which may be empty (204).
func (c *Client) write(ctx context.Context, op, path string, data map[string]any) (*api.Secret, error) {
	return c.writeWith(ctx, c.api, op, path, data)
}

func (c *Client) writeWith(ctx context.Context, cl *api.Client, op, path string, data map[string]any) (*api.Secret, error) {
	body, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("vault: %s %s: encode request: %w", op, path, err)
	}
	resp, verr := c.roundTrip(ctx, op, path, func(cctx context.Context) (*api.Response, error) {
		return cl.Logical().WriteRawWithContext(cctx, path, body)
	})
	return c.finish(op, path, resp, verr)
}

// roundTrip runs one request, fn, within the timeout and returns the
// answer with its body read into memory, or the classified failure (with
// the answer, when Vault gave one). With AppRole, a permission error (the
// token expired or was revoked before its renewal) makes the client log in
// again and retry once.
func (c *Client) roundTrip(ctx context.Context, op, path string, fn func(context.Context) (*api.Response, error)) (*api.Response, *Error) {
	tok := c.api.Token()
	resp, verr := c.attempt(ctx, op, path, fn)
	if verr == nil || verr.Class != ErrPermissionDenied || c.cfg.RoleID == "" || path == approleLoginPath {
		return resp, verr
	}
	if err := c.relogin(ctx, tok); err != nil {
		c.log.Warn().Err(err).Str("path", path).Msg("logging in to Vault again after a permission error failed")
		return resp, verr
	}
	c.log.Info().Str("path", path).Msg("Vault refused the token; logged in again with AppRole and retried")
	return c.attempt(ctx, op, path, fn)
}

func (c *Client) attempt(ctx context.Context, op, path string, fn func(context.Context) (*api.Response, error)) (*api.Response, *Error) {
	cctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	resp, err := fn(cctx)
	if resp != nil {
		// Read the body before cancel ends the request.
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if err == nil && rerr != nil {
			err = rerr
		}
	}
	if err != nil {
		return resp, classify(ctx, op, path, resp, err)
	}
	return resp, nil
}

// relogin logs in with AppRole again, unless another caller already
// replaced the token old since it failed.
func (c *Client) relogin(ctx context.Context, old string) error {
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	if c.api.Token() != old {
		return nil
	}
	_, err := c.loginLocked(ctx)
	return err
}

// finish parses a successful answer; a failure passes through.
func (c *Client) finish(op, path string, resp *api.Response, verr *Error) (*api.Secret, error) {
	if verr != nil {
		return nil, verr
	}
	if resp.StatusCode == http.StatusNoContent {
		return nil, nil
	}
	secret, err := api.ParseSecret(resp.Body)
	if err != nil {
		return nil, &Error{Op: op, Path: path, Status: resp.StatusCode, Err: fmt.Errorf("unreadable answer: %w", err)}
	}
	return secret, nil
}
