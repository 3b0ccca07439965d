package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/helper/parseutil"
	"github.com/hashicorp/vault/sdk/logical"
)

// tokenEntry is a service token. The token itself is never stored: entries
// are keyed by its SHA-256, so the data directory holds no usable token.
type tokenEntry struct {
	Hash           string                 `json:"hash"`
	Accessor       string                 `json:"accessor"`
	Parent         string                 `json:"parent,omitempty"` // hash of the parent; "" for orphans
	Policies       []string               `json:"policies"`
	Path           string                 `json:"path"`
	DisplayName    string                 `json:"display_name"`
	Meta           map[string]string      `json:"meta,omitempty"`
	CreationTime   time.Time              `json:"creation_time"`
	CreationTTL    time.Duration          `json:"creation_ttl"`
	ExpireTime     time.Time              `json:"expire_time"` // zero: never
	LastRenewal    time.Time              `json:"last_renewal,omitempty"`
	ExplicitMaxTTL time.Duration          `json:"explicit_max_ttl"`
	MaxTTL         time.Duration          `json:"max_ttl"` // from the auth engine; 0: system maximum
	Period         time.Duration          `json:"period"`
	Renewable      bool                   `json:"renewable"`
	NumUses        int                    `json:"num_uses"`
	Mount          string                 `json:"mount,omitempty"` // auth mount that issued it
	InternalData   map[string]interface{} `json:"internal_data,omitempty"`
	root           bool
}

func (te *tokenEntry) isRoot() bool {
	if te.root {
		return true
	}
	for _, p := range te.Policies {
		if p == "root" {
			return true
		}
	}
	return false
}

const (
	tokenIDPrefix       = "sys/token/id/"
	tokenAccessorPrefix = "sys/token/accessor/"
	tokenParentPrefix   = "sys/token/parent/"
)

// tokenStore issues, checks, renews and revokes tokens. The root token given
// on the command line is not stored; it is compared in constant time.
type tokenStore struct {
	mu           sync.Mutex
	store        *store
	rootHash     string
	rootAccessor string
	rootCreated  time.Time
	now          func() time.Time
}

// setClock replaces the clock (tests move time forward to expire tokens).
func (ts *tokenStore) setClock(now func() time.Time) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.now = now
}

func newTokenStore(st *store, root string) (*tokenStore, error) {
	acc, err := randomString(24)
	if err != nil {
		return nil, err
	}
	return &tokenStore{store: st, rootHash: hashToken(root), rootAccessor: acc, rootCreated: time.Now(), now: time.Now}, nil
}

func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

const base62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

func randomString(n int) (string, error) {
	var b strings.Builder
	max := big.NewInt(int64(len(base62)))
	for i := 0; i < n; i++ {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		b.WriteByte(base62[v.Int64()])
	}
	return b.String(), nil
}

func (ts *tokenStore) rootEntry() *tokenEntry {
	return &tokenEntry{
		Hash: ts.rootHash, Accessor: ts.rootAccessor, Policies: []string{"root"},
		Path: "auth/token/root", DisplayName: "root", CreationTime: ts.rootCreated, root: true,
	}
}

func (ts *tokenStore) loadLocked(ctx context.Context, hash string) (*tokenEntry, error) {
	if subtle.ConstantTimeCompare([]byte(hash), []byte(ts.rootHash)) == 1 {
		return ts.rootEntry(), nil
	}
	e, err := ts.store.Get(ctx, tokenIDPrefix+hash)
	if err != nil || e == nil {
		return nil, err
	}
	var te tokenEntry
	if err := json.Unmarshal(e.Value, &te); err != nil {
		return nil, fmt.Errorf("token entry is corrupt: %w", err)
	}
	if !te.ExpireTime.IsZero() && !ts.now().Before(te.ExpireTime) {
		// Expired: gone for good, with its children, as Vault's expiration
		// manager would have revoked it.
		if err := ts.revokeTreeLocked(ctx, &te); err != nil {
			return nil, err
		}
		return nil, nil
	}
	return &te, nil
}

func (ts *tokenStore) saveLocked(ctx context.Context, te *tokenEntry) error {
	raw, err := json.Marshal(te)
	if err != nil {
		return err
	}
	if err := ts.store.Put(ctx, &logical.StorageEntry{Key: tokenIDPrefix + te.Hash, Value: raw}); err != nil {
		return err
	}
	if err := ts.store.Put(ctx, &logical.StorageEntry{Key: tokenAccessorPrefix + te.Accessor, Value: []byte(te.Hash)}); err != nil {
		return err
	}
	if te.Parent != "" {
		return ts.store.Put(ctx, &logical.StorageEntry{Key: tokenParentPrefix + te.Parent + "/" + te.Hash, Value: []byte{1}})
	}
	return nil
}

// use returns the live entry for token and counts one use of a limited-use
// token (revoking it after its last use); nil means unknown or expired.
func (ts *tokenStore) use(ctx context.Context, token string) (*tokenEntry, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	te, err := ts.loadLocked(ctx, hashToken(token))
	if err != nil || te == nil {
		return nil, err
	}
	if te.NumUses > 0 {
		te.NumUses--
		if te.NumUses == 0 {
			// The last use: this request goes through; the token is gone.
			if err := ts.revokeTreeLocked(ctx, te); err != nil {
				return nil, err
			}
			te.NumUses = -1
		} else if err := ts.saveLocked(ctx, te); err != nil {
			return nil, err
		}
	}
	return te, nil
}

func (ts *tokenStore) revokeTreeLocked(ctx context.Context, te *tokenEntry) error {
	if te.root {
		return errStatus(http.StatusBadRequest, "vaultdev does not revoke the root token given on its command line")
	}
	children, err := ts.store.List(ctx, tokenParentPrefix+te.Hash+"/")
	if err != nil {
		return err
	}
	for _, ch := range children {
		e, err := ts.store.Get(ctx, tokenIDPrefix+ch)
		if err != nil {
			return err
		}
		if e != nil {
			var cte tokenEntry
			if err := json.Unmarshal(e.Value, &cte); err == nil {
				if err := ts.revokeTreeLocked(ctx, &cte); err != nil {
					return err
				}
			}
		}
		if err := ts.store.Delete(ctx, tokenParentPrefix+te.Hash+"/"+ch); err != nil {
			return err
		}
	}
	if te.Parent != "" {
		if err := ts.store.Delete(ctx, tokenParentPrefix+te.Parent+"/"+te.Hash); err != nil {
			return err
		}
	}
	if err := ts.store.Delete(ctx, tokenAccessorPrefix+te.Accessor); err != nil {
		return err
	}
	return ts.store.Delete(ctx, tokenIDPrefix+te.Hash)
}

// sanitizePolicies sorts and de-duplicates, adds "default" unless asked not
// to, and reduces anything holding "root" to just "root", as Vault does.
func sanitizePolicies(in []string, addDefault bool) []string {
	set := map[string]bool{}
	for _, p := range in {
		p = strings.ToLower(strings.TrimSpace(p))
		if p != "" {
			set[p] = true
		}
	}
	if set["root"] {
		return []string{"root"}
	}
	if addDefault {
		set["default"] = true
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// newToken creates and stores a token; it returns the token itself, which is
// only ever handed to the caller.
func (ts *tokenStore) newTokenLocked(ctx context.Context, te *tokenEntry) (string, error) {
	r, err := randomString(24)
	if err != nil {
		return "", err
	}
	id := "hvs." + r
	acc, err := randomString(24)
	if err != nil {
		return "", err
	}
	te.Hash = hashToken(id)
	te.Accessor = acc
	te.CreationTime = ts.now()
	if te.CreationTTL > 0 {
		te.ExpireTime = te.CreationTime.Add(te.CreationTTL)
	}
	if err := ts.saveLocked(ctx, te); err != nil {
		return "", err
	}
	return id, nil
}

// issueForLogin turns the Auth an engine returned for a login into a real
// token and fills in the client token fields of the response.
func (ts *tokenStore) issueForLogin(ctx context.Context, m *mount, auth *logical.Auth) error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	policies := auth.TokenPolicies
	if len(policies) == 0 {
		policies = auth.Policies
	}
	policies = sanitizePolicies(policies, !auth.NoDefaultPolicy)
	ttl := ts.loginTTL(auth)
	te := &tokenEntry{
		Policies:       policies,
		Path:           m.entry.Path + "login",
		DisplayName:    strings.TrimSuffix(strings.TrimPrefix(m.entry.Path, "auth/"), "/"),
		Meta:           auth.Metadata,
		CreationTTL:    ttl,
		ExplicitMaxTTL: auth.ExplicitMaxTTL,
		MaxTTL:         auth.MaxTTL,
		Period:         auth.Period,
		Renewable:      auth.Renewable || auth.LeaseOptions.Renewable,
		NumUses:        auth.NumUses,
		Mount:          m.entry.Path,
		InternalData:   auth.InternalData,
	}
	if auth.DisplayName != "" {
		te.DisplayName += "-" + auth.DisplayName
	}
	id, err := ts.newTokenLocked(ctx, te)
	if err != nil {
		return err
	}
	auth.ClientToken = id
	auth.Accessor = te.Accessor
	auth.Policies = policies
	auth.TokenPolicies = policies
	auth.TTL = ttl
	auth.Renewable = te.Renewable
	auth.Orphan = true
	auth.TokenType = logical.TokenTypeService
	auth.InternalData = nil
	return nil
}

// loginTTL is the TTL Vault gives a token from a login: the period for a
// periodic token, else the engine's TTL or the system default, within the
// engine's or the system's maximum and any explicit maximum.
func (ts *tokenStore) loginTTL(auth *logical.Auth) time.Duration {
	ttl := auth.TTL
	if auth.Period > 0 {
		ttl = auth.Period
	}
	if ttl == 0 {
		ttl = defaultLeaseTTL
	}
	max := auth.MaxTTL
	if max == 0 || max > maxLeaseTTL {
		max = maxLeaseTTL
	}
	if auth.Period == 0 && ttl > max {
		ttl = max
	}
	if auth.ExplicitMaxTTL > 0 && ttl > auth.ExplicitMaxTTL {
		ttl = auth.ExplicitMaxTTL
	}
	return ttl
}

// handleToken serves the auth/token/ endpoints vaultdev has.
func (s *server) handleToken(ctx context.Context, req *request) (*logical.Response, error) {
	ts := s.tokens
	p := strings.TrimPrefix(strings.TrimPrefix(req.path, "auth/token"), "/")
	switch {
	case p == "lookup-self" && (req.op == logical.ReadOperation || req.op == logical.UpdateOperation):
		return ts.lookupResponse(req.entry, req.token), nil
	case p == "lookup" && req.op == logical.UpdateOperation:
		tok, _ := req.data["token"].(string)
		if tok == "" {
			return logical.ErrorResponse("missing token"), logical.ErrInvalidRequest
		}
		ts.mu.Lock()
		te, err := ts.loadLocked(ctx, hashToken(tok))
		ts.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if te == nil {
			return logical.ErrorResponse("bad token"), logical.ErrPermissionDenied
		}
		return ts.lookupResponse(te, tok), nil
	case p == "renew-self" && req.op == logical.UpdateOperation:
		return s.renew(ctx, req.entry, req.token, req.data)
	case p == "renew" && req.op == logical.UpdateOperation:
		tok, _ := req.data["token"].(string)
		if tok == "" {
			return logical.ErrorResponse("missing token"), logical.ErrInvalidRequest
		}
		ts.mu.Lock()
		te, err := ts.loadLocked(ctx, hashToken(tok))
		ts.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if te == nil {
			return logical.ErrorResponse("invalid token"), logical.ErrInvalidRequest
		}
		return s.renew(ctx, te, tok, req.data)
	case p == "revoke-self" && req.op == logical.UpdateOperation:
		ts.mu.Lock()
		defer ts.mu.Unlock()
		if req.entry.NumUses < 0 {
			return nil, nil // already revoked by its last use
		}
		return nil, ts.revokeTreeLocked(ctx, req.entry)
	case p == "revoke" && req.op == logical.UpdateOperation:
		tok, _ := req.data["token"].(string)
		if tok == "" {
			return logical.ErrorResponse("missing token"), logical.ErrInvalidRequest
		}
		ts.mu.Lock()
		defer ts.mu.Unlock()
		te, err := ts.loadLocked(ctx, hashToken(tok))
		if err != nil || te == nil {
			return nil, err
		}
		return nil, ts.revokeTreeLocked(ctx, te)
	case (p == "create" || p == "create-orphan") && req.op == logical.UpdateOperation:
		return s.createToken(ctx, req.entry, req.data, p == "create-orphan")
	}
	return nil, errStatus(http.StatusNotFound, "unsupported path")
}

func (ts *tokenStore) lookupResponse(te *tokenEntry, token string) *logical.Response {
	ts.mu.Lock()
	now := ts.now()
	ts.mu.Unlock()
	var ttl int64
	var expire interface{}
	if !te.ExpireTime.IsZero() {
		ttl = int64(te.ExpireTime.Sub(now).Seconds())
		if ttl < 0 {
			ttl = 0
		}
		expire = te.ExpireTime.UTC().Format(time.RFC3339Nano)
	}
	var meta interface{}
	if len(te.Meta) > 0 {
		meta = te.Meta
	}
	uses := te.NumUses
	if uses < 0 {
		uses = 0
	}
	data := map[string]interface{}{
		"accessor":         te.Accessor,
		"creation_time":    te.CreationTime.Unix(),
		"creation_ttl":     int64(te.CreationTTL.Seconds()),
		"display_name":     te.DisplayName,
		"entity_id":        "",
		"expire_time":      expire,
		"explicit_max_ttl": int64(te.ExplicitMaxTTL.Seconds()),
		"id":               token,
		"issue_time":       te.CreationTime.UTC().Format(time.RFC3339Nano),
		"meta":             meta,
		"num_uses":         uses,
		"orphan":           te.Parent == "",
		"path":             te.Path,
		"policies":         te.Policies,
		"renewable":        te.Renewable,
		"ttl":              ttl,
		"type":             "service",
	}
	if te.Period > 0 {
		data["period"] = int64(te.Period.Seconds())
	}
	if !te.LastRenewal.IsZero() {
		data["last_renewal"] = te.LastRenewal.UTC().Format(time.RFC3339Nano)
		data["last_renewal_time"] = te.LastRenewal.Unix()
	}
	return &logical.Response{Data: data}
}

func durationField(data map[string]interface{}, key string) (time.Duration, error) {
	v, ok := data[key]
	if !ok || v == nil || v == "" {
		return 0, nil
	}
	d, err := parseutil.ParseDurationSecond(v)
	if err != nil {
		return 0, fmt.Errorf("invalid %s: %v", key, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid %s: must not be negative", key)
	}
	return d, nil
}

// renew extends a token's TTL as Vault does: an auth engine's token asks the
// engine first (AppRole refuses if the role is gone and reports the role's
// current TTLs); the new TTL is the increment asked for, or the token's TTL,
// never past the maximum TTL from its creation nor its explicit maximum.
func (s *server) renew(ctx context.Context, te *tokenEntry, token string, data map[string]interface{}) (*logical.Response, error) {
	ts := s.tokens
	if te.root || te.ExpireTime.IsZero() {
		return logical.ErrorResponse("lease is not renewable"), logical.ErrInvalidRequest
	}
	if !te.Renewable {
		return logical.ErrorResponse("lease is not renewable"), logical.ErrInvalidRequest
	}
	increment, err := durationField(data, "increment")
	if err != nil {
		return logical.ErrorResponse(err.Error()), logical.ErrInvalidRequest
	}
	ttl, maxTTL, period := te.CreationTTL, te.MaxTTL, te.Period
	if te.Mount != "" {
		s.mu.RLock()
		m := s.mounts[te.Mount]
		s.mu.RUnlock()
		if m == nil {
			return logical.ErrorResponse("the auth mount that issued this token is gone"), logical.ErrInvalidRequest
		}
		resp, err := m.backend.HandleRequest(ctx, &logical.Request{
			Operation: logical.RenewOperation,
			Path:      "login",
			Storage:   m.storage,
			Auth: &logical.Auth{
				InternalData: te.InternalData,
				Metadata:     te.Meta,
				Policies:     te.Policies,
				Period:       te.Period,
				LeaseOptions: logical.LeaseOptions{TTL: te.CreationTTL, Renewable: true, Increment: increment, IssueTime: te.CreationTime},
			},
			MountPoint: m.entry.Path,
			MountType:  m.entry.Type,
		})
		if err != nil {
			return logical.ErrorResponse(err.Error()), logical.ErrInvalidRequest
		}
		if resp != nil && resp.IsError() {
			return resp, logical.ErrInvalidRequest
		}
		if resp != nil && resp.Auth != nil {
			ttl, maxTTL, period = resp.Auth.TTL, resp.Auth.MaxTTL, resp.Auth.Period
		}
	}

	ts.mu.Lock()
	defer ts.mu.Unlock()
	now := ts.now()
	var newTTL time.Duration
	if period > 0 {
		newTTL = period
	} else {
		newTTL = increment
		if newTTL == 0 {
			newTTL = ttl
		}
		if newTTL == 0 {
			newTTL = defaultLeaseTTL
		}
		if maxTTL == 0 || maxTTL > maxLeaseTTL {
			maxTTL = maxLeaseTTL
		}
		if limit := te.CreationTime.Add(maxTTL).Sub(now); newTTL > limit {
			newTTL = limit
		}
	}
	if te.ExplicitMaxTTL > 0 {
		if limit := te.CreationTime.Add(te.ExplicitMaxTTL).Sub(now); newTTL > limit {
			newTTL = limit
		}
	}
	if newTTL < 0 {
		newTTL = 0
	}
	te.ExpireTime = now.Add(newTTL)
	te.LastRenewal = now
	if err := ts.saveLocked(ctx, te); err != nil {
		return nil, err
	}
	var warnings []string
	if increment > 0 && newTTL < increment {
		warnings = append(warnings, fmt.Sprintf("TTL of %q exceeded the effective max_ttl of %q; TTL value is capped accordingly", increment, newTTL))
	}
	return &logical.Response{Auth: ts.authFor(te, token, newTTL), Warnings: warnings}, nil
}

func (ts *tokenStore) authFor(te *tokenEntry, token string, ttl time.Duration) *logical.Auth {
	return &logical.Auth{
		ClientToken:   token,
		Accessor:      te.Accessor,
		Policies:      te.Policies,
		TokenPolicies: te.Policies,
		Metadata:      te.Meta,
		LeaseOptions:  logical.LeaseOptions{TTL: ttl, Renewable: te.Renewable},
		Orphan:        te.Parent == "",
		TokenType:     logical.TokenTypeService,
		NumUses:       te.NumUses,
	}
}

func stringList(v interface{}) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		if x == "" {
			return nil, nil
		}
		return strings.Split(x, ","), nil
	case []interface{}:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("expected a list of strings")
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("expected a list of strings")
}

func boolField(data map[string]interface{}, key string, def bool) (bool, error) {
	v, ok := data[key]
	if !ok || v == nil {
		return def, nil
	}
	b, err := parseutil.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("invalid %s: %v", key, err)
	}
	return b, nil
}

// createToken serves auth/token/create: a child of the calling token (an
// orphan when asked by the root token), whose policies must be a subset of
// the caller's unless the caller is root, and whose TTL cannot outlive a
// non-root parent.
func (s *server) createToken(ctx context.Context, parent *tokenEntry, data map[string]interface{}, orphan bool) (*logical.Response, error) {
	ts := s.tokens
	bad := func(format string, args ...any) (*logical.Response, error) {
		return logical.ErrorResponse(fmt.Sprintf(format, args...)), logical.ErrInvalidRequest
	}
	for k, v := range data {
		switch k {
		case "policies", "ttl", "explicit_max_ttl", "period", "renewable", "no_parent",
			"no_default_policy", "display_name", "meta", "num_uses", "type", "lease":
		case "id", "entity_alias", "role_name":
			// The official client always sends some of these, empty.
			if v != nil && v != "" {
				return bad("vaultdev does not support the token parameter %q", k)
			}
		default:
			return bad("vaultdev does not support the token parameter %q", k)
		}
	}
	if _, ok := data["ttl"]; !ok {
		// "lease" is the deprecated name of ttl.
		if l, ok := data["lease"]; ok {
			data["ttl"] = l
		}
	}
	if t, _ := data["type"].(string); t != "" && t != "service" {
		return bad("vaultdev issues service tokens only")
	}
	policies, err := stringList(data["policies"])
	if err != nil {
		return bad("invalid policies: %v", err)
	}
	ttl, err := durationField(data, "ttl")
	if err != nil {
		return bad("%v", err)
	}
	explicitMax, err := durationField(data, "explicit_max_ttl")
	if err != nil {
		return bad("%v", err)
	}
	period, err := durationField(data, "period")
	if err != nil {
		return bad("%v", err)
	}
	renewable, err := boolField(data, "renewable", true)
	if err != nil {
		return bad("%v", err)
	}
	noParent, err := boolField(data, "no_parent", false)
	if err != nil {
		return bad("%v", err)
	}
	noDefault, err := boolField(data, "no_default_policy", false)
	if err != nil {
		return bad("%v", err)
	}
	numUses := 0
	if v, ok := data["num_uses"]; ok && v != nil {
		n, err := parseutil.ParseInt(v)
		if err != nil || n < 0 || n > 1<<30 {
			return bad("invalid num_uses")
		}
		numUses = int(n)
	}
	meta := map[string]string{}
	if m, ok := data["meta"].(map[string]interface{}); ok {
		for k, v := range m {
			sv, ok := v.(string)
			if !ok {
				return bad("meta values must be strings")
			}
			meta[k] = sv
		}
	}
	displayName, _ := data["display_name"].(string)

	parentRoot := parent.isRoot()
	if len(policies) == 0 {
		policies = parent.Policies
	}
	policies = sanitizePolicies(policies, !noDefault)
	if !parentRoot {
		have := map[string]bool{}
		for _, p := range parent.Policies {
			have[p] = true
		}
		for _, p := range policies {
			if p == "default" && !noDefault {
				continue
			}
			if !have[p] {
				return nil, errStatus(http.StatusBadRequest, "child policies must be subset of parent")
			}
		}
		if noParent || orphan {
			return nil, errStatus(http.StatusBadRequest, "root or sudo privileges required to create orphan token")
		}
	}

	if period > 0 {
		ttl = period
	}
	if ttl == 0 {
		ttl = defaultLeaseTTL
	}
	if ttl > maxLeaseTTL && period == 0 {
		ttl = maxLeaseTTL
	}
	if explicitMax > 0 && ttl > explicitMax {
		ttl = explicitMax
	}

	ts.mu.Lock()
	defer ts.mu.Unlock()
	te := &tokenEntry{
		Policies:       policies,
		Path:           "auth/token/create",
		DisplayName:    "token",
		Meta:           meta,
		CreationTTL:    ttl,
		ExplicitMaxTTL: explicitMax,
		Period:         period,
		Renewable:      renewable,
		NumUses:        numUses,
	}
	if displayName != "" {
		te.DisplayName = "token-" + displayName
	}
	if !(noParent || orphan) {
		te.Parent = parent.Hash
		if !parent.ExpireTime.IsZero() {
			// A child cannot outlive its parent.
			if limit := parent.ExpireTime.Sub(ts.now()); ttl > limit {
				te.CreationTTL = limit
			}
		}
	}
	id, err := ts.newTokenLocked(ctx, te)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Auth: ts.authFor(te, id, te.CreationTTL)}, nil
}
