package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	uuid "github.com/hashicorp/go-uuid"
	"github.com/hashicorp/vault/sdk/logical"
)

// engineVersion is the Vault release whose engines vaultdev runs.
const engineVersion = "1.19.5"

// maxBody bounds a request body, as Vault's default max_request_size (32 MiB).
const maxBody = 32 << 20

// Default and maximum token TTLs, Vault's defaults (32 days).
const (
	defaultLeaseTTL = 768 * time.Hour
	maxLeaseTTL     = 768 * time.Hour
)

type server struct {
	store     *store
	sysView   logical.StaticSystemView
	logger    hclog.Logger
	started   time.Time
	clusterID string

	mu     sync.RWMutex
	mounts map[string]*mount // by path with trailing slash

	tokens   *tokenStore
	policies *policyStore
}

func newServer(ctx context.Context, st *store, rootToken string, logger hclog.Logger) (*server, error) {
	cid, err := uuid.GenerateUUID()
	if err != nil {
		return nil, err
	}
	s := &server{
		store:     st,
		logger:    logger,
		started:   time.Now(),
		clusterID: cid,
		mounts:    map[string]*mount{},
		sysView: logical.StaticSystemView{
			DefaultLeaseTTLVal: defaultLeaseTTL,
			MaxLeaseTTLVal:     maxLeaseTTL,
			VersionString:      engineVersion,
		},
	}
	s.policies = &policyStore{store: st}
	s.tokens, err = newTokenStore(st, rootToken)
	if err != nil {
		return nil, err
	}
	if err := s.loadMounts(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// apiError is an error with the HTTP status Vault gives it.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errStatus(status int, format string, args ...any) error {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

var errDenied = errStatus(http.StatusForbidden, "permission denied")

// request is one parsed API call.
type request struct {
	op      logical.Operation
	path    string // without /v1/
	data    map[string]interface{}
	token   string
	remote  string
	entry   *tokenEntry // nil for unauthenticated paths
	httpReq *http.Request
	reqID   string
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// ServeHTTP logs method, path and status only: never a token, a body or a
// query string.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	start := time.Now()
	s.serve(sw, r)
	s.logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "duration", time.Since(start).Round(time.Microsecond).String())
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/v1/") {
		respondError(w, http.StatusNotFound, nil)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	for _, seg := range strings.Split(path, "/") {
		if seg == ".." || seg == "." {
			respondError(w, http.StatusBadRequest, errors.New("invalid path: relative segments are not allowed"))
			return
		}
	}

	switch path {
	case "sys/health":
		s.handleHealth(w, r)
		return
	case "sys/seal-status":
		s.handleSealStatus(w, r)
		return
	}

	req := &request{path: path, httpReq: r}
	req.reqID, _ = uuid.GenerateUUID()
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		req.remote = host
	}

	switch r.Method {
	case http.MethodGet:
		req.op = logical.ReadOperation
		if v := r.URL.Query().Get("list"); v == "true" || v == "1" {
			req.op = logical.ListOperation
		}
	case "LIST":
		req.op = logical.ListOperation
	case http.MethodPost, http.MethodPut:
		req.op = logical.UpdateOperation
	case http.MethodDelete:
		req.op = logical.DeleteOperation
	case http.MethodPatch:
		req.op = logical.PatchOperation
	default:
		respondError(w, http.StatusMethodNotAllowed, nil)
		return
	}
	if req.op == logical.ListOperation && !strings.HasSuffix(req.path, "/") {
		req.path += "/"
	}
	if ns := r.Header.Get("X-Vault-Namespace"); ns != "" && ns != "root" && ns != "root/" {
		respondError(w, http.StatusBadRequest, errors.New("namespaces are not supported by vaultdev (nor by Vault community edition)"))
		return
	}
	if r.Header.Get("X-Vault-Wrap-TTL") != "" {
		respondError(w, http.StatusBadRequest, errors.New("response wrapping is not supported by vaultdev"))
		return
	}

	data, err := parseData(r, req.op)
	if err != nil {
		respondError(w, http.StatusBadRequest, err)
		return
	}
	req.data = data
	req.token = requestToken(r)

	resp, mountType, err := s.dispatch(r.Context(), req)
	s.respond(w, req, resp, mountType, err)
}

func requestToken(r *http.Request) string {
	if t := r.Header.Get("X-Vault-Token"); t != "" {
		return t
	}
	if a := r.Header.Get("Authorization"); a != "" {
		if t, ok := strings.CutPrefix(a, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
	}
	return ""
}

// parseData reads the JSON body of a write, or the query parameters of a
// read or list (as Vault does: KV v2 reads take ?version=N).
func parseData(r *http.Request, op logical.Operation) (map[string]interface{}, error) {
	data := map[string]interface{}{}
	if op == logical.ReadOperation || op == logical.ListOperation {
		for k, vs := range r.URL.Query() {
			if k == "list" && op == logical.ListOperation {
				continue
			}
			if len(vs) == 1 {
				data[k] = vs[0]
			} else {
				data[k] = vs
			}
		}
		return data, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("failed to read request body: %w", err)
	}
	if len(body) > maxBody {
		return nil, errStatus(http.StatusRequestEntityTooLarge, "http: request body too large")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return data, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&data); err != nil {
		return nil, fmt.Errorf("failed to parse JSON input: %w", err)
	}
	if data == nil {
		data = map[string]interface{}{}
	}
	return data, nil
}

// dispatch authenticates the request, checks its policies and hands it to
// the sys handlers, the token store or the engine mounted at its path.
func (s *server) dispatch(ctx context.Context, req *request) (*logical.Response, string, error) {
	if strings.HasPrefix(req.path, "sys/") {
		if err := s.authorize(ctx, req, nil, ""); err != nil {
			return nil, "", err
		}
		resp, err := s.handleSys(ctx, req)
		return resp, "system", err
	}
	if strings.HasPrefix(req.path, "auth/token/") || req.path == "auth/token" {
		if err := s.authorize(ctx, req, nil, ""); err != nil {
			return nil, "", err
		}
		resp, err := s.handleToken(ctx, req)
		return resp, "token", err
	}

	m, rest := s.route(req.path)
	if m == nil {
		return nil, "", errStatus(http.StatusNotFound, "no handler for route %q. route entry not found.", req.path)
	}
	lreq := &logical.Request{
		ID:            req.reqID,
		Operation:     req.op,
		Path:          rest,
		Data:          req.data,
		Storage:       m.storage,
		ClientToken:   req.token,
		MountPoint:    m.entry.Path,
		MountType:     m.entry.Type,
		MountAccessor: m.entry.Accessor,
		Connection:    &logical.Connection{RemoteAddr: req.remote},
		Headers:       map[string][]string{},
	}
	if ct := req.httpReq.Header.Get("Content-Type"); ct != "" {
		lreq.Headers["Content-Type"] = []string{ct}
	}
	if err := s.authorize(ctx, req, m, rest); err != nil {
		return nil, m.entry.Type, err
	}
	// authorize may have turned an update into a create after the engine's
	// existence check, as Vault does.
	lreq.Operation = req.op
	if req.entry != nil {
		lreq.ClientTokenAccessor = req.entry.Accessor
		lreq.DisplayName = req.entry.DisplayName
		lreq.ClientTokenRemainingUses = req.entry.NumUses
	} else {
		lreq.ClientToken = ""
	}

	resp, err := m.backend.HandleRequest(ctx, lreq)
	if err == nil && resp != nil && resp.Auth != nil && m.entry.isAuth() && !resp.IsError() {
		// A successful login: issue the token the engine asked for.
		if err := s.tokens.issueForLogin(ctx, m, resp.Auth); err != nil {
			return nil, m.entry.Type, err
		}
	}
	return resp, m.entry.Type, err
}

// respond writes resp the way Vault's HTTP layer does: {"errors":[...]} with
// Vault's status codes, raw responses as they are, 204 for no content, and
// otherwise the {"request_id", "lease_id", "data", "auth", ...} envelope.
func (s *server) respond(w http.ResponseWriter, req *request, resp *logical.Response, mountType string, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		respondError(w, ae.status, ae)
		return
	}
	lreq := &logical.Request{Operation: req.op}
	status, rerr := logical.RespondErrorCommon(lreq, resp, err)
	if status != 0 {
		if resp != nil && resp.Data["data"] != nil {
			// Vault keeps an error response's "data" beside the errors.
			logical.RespondErrorAndData(w, status, resp.Data["data"], rerr)
			return
		}
		respondError(w, status, rerr)
		return
	}
	if resp == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if _, ok := resp.Data[logical.HTTPStatusCode]; ok {
		respondRaw(w, resp)
		return
	}
	httpResp := logical.LogicalResponseToHTTPResponse(resp)
	httpResp.RequestID = req.reqID
	httpResp.MountType = mountType
	var body interface{} = httpResp
	if resp.Data != nil && resp.Data[sysInjectKey] == true {
		// sys/mounts, sys/auth and sys/policy answers also carry their data
		// at the top level, as Vault's do, for older clients.
		delete(resp.Data, sysInjectKey)
		body = logical.HTTPSysInjector{Response: httpResp}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(body)
}

const sysInjectKey = "\x00inject"

func respondError(w http.ResponseWriter, status int, err error) {
	logical.RespondError(w, status, err)
}

func respondRaw(w http.ResponseWriter, resp *logical.Response) {
	status := http.StatusOK
	switch v := resp.Data[logical.HTTPStatusCode].(type) {
	case int:
		status = v
	case float64:
		status = int(v)
	case json.Number:
		n, _ := v.Int64()
		status = int(n)
	}
	if ct, ok := resp.Data[logical.HTTPContentType].(string); ok {
		w.Header().Set("Content-Type", ct)
	}
	var body []byte
	switch b := resp.Data[logical.HTTPRawBody].(type) {
	case []byte:
		body = b
	case string:
		body = []byte(b)
	}
	w.WriteHeader(status)
	if status != http.StatusNoContent {
		_, _ = w.Write(body)
	}
}

func (s *server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		respondError(w, http.StatusMethodNotAllowed, nil)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]interface{}{
		"initialized":                  true,
		"sealed":                       false,
		"standby":                      false,
		"performance_standby":          false,
		"replication_performance_mode": "disabled",
		"replication_dr_mode":          "disabled",
		"server_time_utc":              time.Now().Unix(),
		"version":                      engineVersion + "+vaultdev",
		"enterprise":                   false,
		"cluster_name":                 "vaultdev",
		"cluster_id":                   s.clusterID,
		"echo_duration_ms":             0,
		"clock_skew_ms":                0,
	})
}

func (s *server) handleSealStatus(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		respondError(w, http.StatusMethodNotAllowed, nil)
		return
	}
	storage := "inmem"
	if s.store.dir != "" {
		storage = "file"
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]interface{}{
		"type":          "shamir",
		"initialized":   true,
		"sealed":        false,
		"t":             1,
		"n":             1,
		"progress":      0,
		"nonce":         "",
		"version":       engineVersion + "+vaultdev",
		"build_date":    "",
		"migration":     false,
		"cluster_name":  "vaultdev",
		"cluster_id":    s.clusterID,
		"recovery_seal": false,
		"storage_type":  storage,
	})
}
