package vault

import (
	"context"
	"fmt"
	"time"
)

const (
	approleLoginPath = "auth/approle/login"
	renewSelfPath    = "auth/token/renew-self"
	// Bounds of the wait before retrying a failed login.
	minLoginRetry = 250 * time.Millisecond
	maxLoginRetry = 10 * time.Second
)

// lease is what Vault said of a token: its TTL (0: never expires) and
// whether it can be renewed.
type lease struct {
	ttl       time.Duration
	renewable bool
}

// login logs in with AppRole and makes the new token the client's.
func (c *Client) login(ctx context.Context) (lease, error) {
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	return c.loginLocked(ctx)
}

// loginLocked is login with loginMu held.
func (c *Client) loginLocked(ctx context.Context) (lease, error) {
	secretID, err := readSecretFile(c.cfg.SecretIDFile, "AppRole SecretID")
	if err != nil {
		return lease{}, err
	}
	// A login needs no token; an expired one must not be sent along.
	anon, err := c.api.Clone()
	if err != nil {
		return lease{}, fmt.Errorf("vault: login: %w", err)
	}
	anon.ClearToken()
	secret, err := c.writeWith(ctx, anon, "AppRole login", approleLoginPath, map[string]any{
		"role_id":   c.cfg.RoleID,
		"secret_id": secretID,
	})
	if err != nil {
		return lease{}, err
	}
	if secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "" {
		return lease{}, &Error{Op: "AppRole login", Path: approleLoginPath, Err: fmt.Errorf("answer holds no token")}
	}
	c.api.SetToken(secret.Auth.ClientToken)
	l := lease{ttl: time.Duration(secret.Auth.LeaseDuration) * time.Second, renewable: secret.Auth.Renewable}
	c.log.Info().Dur("ttl", l.ttl).Bool("renewable", l.renewable).Msg("logged in to Vault with AppRole")
	return l, nil
}

// renew extends the client's token by its own renew-self.
func (c *Client) renew(ctx context.Context) (lease, error) {
	secret, err := c.write(ctx, "renew token", renewSelfPath, map[string]any{})
	if err != nil {
		return lease{}, err
	}
	if secret == nil || secret.Auth == nil {
		return lease{}, &Error{Op: "renew token", Path: renewSelfPath, Err: fmt.Errorf("answer holds no lease")}
	}
	return lease{ttl: time.Duration(secret.Auth.LeaseDuration) * time.Second, renewable: secret.Auth.Renewable}, nil
}

// renewLoop keeps the AppRole token alive: it renews the token when two
// thirds of its TTL have passed, and logs in again at once when the token
// cannot be renewed, renewal fails, or the TTL granted has shrunk to half
// the login's or less (the token nears its maximum TTL; Vault then grants
// what is left, down to 0). A failed login is retried with a growing wait.
func (c *Client) renewLoop(ctx context.Context, l lease) {
	defer close(c.done)
	if l.ttl <= 0 {
		// A login token without a TTL never expires.
		<-ctx.Done()
		return
	}
	full := l.ttl
	for {
		if !sleep(ctx, l.ttl*2/3) {
			return
		}
		if l.renewable {
			nl, err := c.renew(ctx)
			switch {
			case err == nil && nl.ttl*2 > full:
				c.log.Debug().Dur("ttl", nl.ttl).Msg("renewed the Vault token")
				l = nl
				continue
			case err == nil:
				c.log.Debug().Dur("ttl", nl.ttl).Msg("the Vault token nears its maximum TTL; logging in again")
			case ctx.Err() != nil:
				return
			default:
				c.log.Warn().Err(err).Msg("renewing the Vault token failed; logging in again")
			}
		}
		nl, ok := c.loginUntilDone(ctx)
		if !ok {
			return
		}
		if nl.ttl <= 0 {
			<-ctx.Done()
			return
		}
		l, full = nl, nl.ttl
	}
}

// loginUntilDone logs in with AppRole, retrying with a growing wait until
// it succeeds or ctx ends (ok false).
func (c *Client) loginUntilDone(ctx context.Context) (l lease, ok bool) {
	retry := minLoginRetry
	for {
		nl, err := c.login(ctx)
		if err == nil {
			return nl, true
		}
		if ctx.Err() != nil {
			return lease{}, false
		}
		c.log.Error().Err(err).Dur("retry_in", retry).Msg("logging in to Vault with AppRole failed")
		if !sleep(ctx, retry) {
			return lease{}, false
		}
		retry = min(retry*2, maxLoginRetry)
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
