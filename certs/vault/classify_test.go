package vault

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/certs"
)

// TestRetries checks that a 5xx answer is retried MaxRetries times, once
// by default, and not at all with a negative MaxRetries.
func TestRetries(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	for retries, want := range map[int]int32{0: 2, -1: 1, 2: 3} {
		n.Store(0)
		c, err := New(context.Background(), Config{Address: srv.URL, Token: "t", MaxRetries: retries}, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Transit("a").Info(context.Background()); err == nil {
			t.Fatal("no error from a 500")
		}
		if got := n.Load(); got != want {
			t.Errorf("MaxRetries %d: %d attempts, want %d", retries, got, want)
		}
	}
}

// TestClassify checks the sorting of Vault's answers into the error classes
// (against a stand-in server; the Vault tests check real answers).
func TestClassify(t *testing.T) {
	status := map[string]int{
		"/v1/transit/keys/denied": 403, "/v1/transit/keys/missing": 404, "/v1/transit/keys/sealed": 503,
		"/v1/transit/keys/bad": 400, "/v1/secret/data/w": 400,
	}
	body := map[string]string{
		"/v1/transit/keys/denied": `{"errors":["1 error occurred:\n\t* permission denied\n\n"]}`,
		"/v1/transit/keys/bad":    `{"errors":["invalid request"]}`,
		"/v1/secret/data/w":       `{"errors":["check-and-set parameter did not match the current version"]}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Vault-Token") != "secret-token" {
			t.Errorf("request without the token")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status[r.URL.Path])
		w.Write([]byte(body[r.URL.Path]))
	}))
	defer srv.Close()
	c, err := New(context.Background(), Config{Address: srv.URL, Token: "secret-token", MaxRetries: -1}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]error{"denied": ErrPermissionDenied, "missing": ErrNotFound, "sealed": ErrUnreachable, "bad": nil} {
		_, err := c.Transit(name).Info(context.Background())
		var verr *Error
		if !errors.As(err, &verr) || verr.Class != want {
			t.Errorf("%s: got %v, want class %v", name, err, want)
			continue
		}
		for _, other := range []error{ErrPermissionDenied, ErrNotFound, ErrUnreachable} {
			if other != want && errors.Is(err, other) {
				t.Errorf("%s: %v is also %v", name, err, other)
			}
		}
		if !strings.Contains(err.Error(), "transit/keys/"+name) || strings.Contains(err.Error(), "secret-token") {
			t.Errorf("%s: message %q should name the path and not the token", name, err)
		}
	}
	_, err = c.Transit("denied").Info(context.Background())
	if got, want := err.Error(), "vault: read transit key transit/keys/denied: vault permission denied (HTTP 403): permission denied"; got != want {
		t.Errorf("message:\n got %s\nwant %s", got, want)
	}
	_, err = c.KV("secret").WriteCAS(context.Background(), "w", []byte("x"), 3)
	if !errors.Is(err, certs.ErrCASMismatch) {
		t.Errorf("CAS refusal: got %v, want ErrCASMismatch", err)
	}
}
