package vault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/hashicorp/vault/api"
)

// Classes of failure, for errors.Is on the errors of this package.
var (
	// ErrUnreachable is Vault not answering in time, refusing or dropping
	// the connection, or answering that it is sealed or unavailable.
	ErrUnreachable = errors.New("vault unreachable")
	// ErrPermissionDenied is Vault refusing the token (missing, expired,
	// revoked, or lacking a policy for the path).
	ErrPermissionDenied = errors.New("vault permission denied")
	// ErrNotFound is a path with nothing at it (no such key or secret, or
	// no engine mounted there).
	ErrNotFound = errors.New("not found in vault")
)

// Error is a failed Vault call. Its text names the operation and the Vault
// path, and carries Vault's own messages, never a token or SecretID.
type Error struct {
	Op     string // what was being done: "sign", "read key", ...
	Path   string // the Vault API path, e.g. transit/sign/alice
	Status int    // the HTTP status, 0 when Vault did not answer
	// Class is ErrUnreachable, ErrPermissionDenied, ErrNotFound, or nil
	// for any other failure.
	Class error
	// Messages are Vault's error messages, if it answered.
	Messages []string
	// Err is the transport error when Vault did not answer.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "vault: %s %s: ", e.Op, e.Path)
	switch {
	case e.Class == ErrUnreachable && e.Status == 0:
		fmt.Fprintf(&b, "vault unreachable: %v", e.Err)
		return b.String()
	case e.Class != nil:
		fmt.Fprintf(&b, "%v (HTTP %d)", e.Class, e.Status)
	case e.Status != 0:
		fmt.Fprintf(&b, "HTTP %d", e.Status)
	default:
		fmt.Fprintf(&b, "%v", e.Err)
		return b.String()
	}
	if len(e.Messages) > 0 {
		fmt.Fprintf(&b, ": %s", strings.Join(e.Messages, "; "))
	}
	return b.String()
}

// Unwrap lets errors.Is see the class and the transport error.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Class != nil {
		errs = append(errs, e.Class)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// hasMessage reports whether one of Vault's messages contains s.
func (e *Error) hasMessage(s string) bool {
	for _, m := range e.Messages {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// classify turns the outcome of one HTTP exchange into an *Error. parent is
// the caller's context: its own cancellation is reported as such, not as
// Vault being unreachable.
func classify(parent context.Context, op, path string, resp *api.Response, err error) *Error {
	e := &Error{Op: op, Path: path}
	var re *api.ResponseError
	if errors.As(err, &re) {
		e.Status = re.StatusCode
		e.Messages = cleanMessages(re.Errors)
	} else if resp != nil && resp.StatusCode >= 400 {
		e.Status = resp.StatusCode
	}
	if e.Status != 0 {
		switch e.Status {
		case 401, 403:
			e.Class = ErrPermissionDenied
		case 404:
			e.Class = ErrNotFound
		case 502, 503, 504:
			e.Class = ErrUnreachable
		}
		return e
	}
	e.Err = err
	if parent.Err() != nil && errors.Is(err, context.Canceled) {
		return e // the caller gave up; Vault is not to blame
	}
	if isTransportError(err) {
		e.Class = ErrUnreachable
	}
	return e
}

// isTransportError reports errors of reaching Vault at all: deadlines,
// refused or reset connections, name resolution, a connection closed
// mid-answer.
func isTransportError(err error) bool {
	var netErr net.Error
	var dnsErr *net.DNSError
	var opErr *net.OpError
	return errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.As(err, &netErr) || errors.As(err, &dnsErr) || errors.As(err, &opErr)
}

// cleanMessages drops empty messages and Vault's "1 error occurred:"
// wrapping, keeping its words.
func cleanMessages(msgs []string) []string {
	var out []string
	for _, m := range msgs {
		m = strings.TrimSpace(m)
		if rest, ok := strings.CutPrefix(m, "1 error occurred:"); ok {
			m = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), "*"))
		}
		if m != "" {
			out = append(out, strings.Join(strings.Fields(m), " "))
		}
	}
	return out
}
