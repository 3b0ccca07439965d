package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/hashicorp/vault/sdk/logical"
)

// handleSys serves the sys/ endpoints vaultdev has: mounts and auth methods
// (list, enable, disable), ACL policies, capabilities-self and the mount
// lookup the vault CLI's kv commands make.
func (s *server) handleSys(ctx context.Context, req *request) (*logical.Response, error) {
	p := strings.TrimPrefix(req.path, "sys/")
	switch {
	case p == "mounts" || p == "mounts/":
		if req.op != logical.ReadOperation {
			return nil, logical.ErrUnsupportedOperation
		}
		return s.listMounts(false), nil
	case strings.HasPrefix(p, "mounts/"):
		return s.mountOp(ctx, req, strings.TrimPrefix(p, "mounts/"), false)
	case p == "auth" || p == "auth/":
		if req.op != logical.ReadOperation {
			return nil, logical.ErrUnsupportedOperation
		}
		return s.listMounts(true), nil
	case strings.HasPrefix(p, "auth/"):
		return s.mountOp(ctx, req, strings.TrimPrefix(p, "auth/"), true)
	case p == "policy" || p == "policy/" || p == "policies/acl" || p == "policies/acl/":
		return s.listPolicies(ctx, req, p == "policy" || p == "policy/")
	case strings.HasPrefix(p, "policy/"):
		return s.policyOp(ctx, req, strings.TrimPrefix(p, "policy/"), true)
	case strings.HasPrefix(p, "policies/acl/"):
		return s.policyOp(ctx, req, strings.TrimPrefix(p, "policies/acl/"), false)
	case p == "capabilities-self" && req.op == logical.UpdateOperation:
		return s.capabilitiesSelf(ctx, req)
	case strings.HasPrefix(p, "internal/ui/mounts/") && req.op == logical.ReadOperation:
		m, _ := s.route(strings.TrimPrefix(p, "internal/ui/mounts/"))
		if m == nil || m.entry.isAuth() {
			return nil, errDenied
		}
		if !req.entry.isRoot() {
			a, err := s.policies.acl(ctx, req.entry.Policies)
			if err != nil {
				return nil, err
			}
			if !a.mountAccess(m.entry.Path) {
				return nil, errDenied
			}
		}
		return &logical.Response{Data: map[string]interface{}{
			"path": m.entry.Path, "type": m.entry.Type, "options": m.entry.Options,
			"description": m.entry.Description, "accessor": m.entry.Accessor, "uuid": m.entry.UUID,
		}}, nil
	}
	return nil, errStatus(http.StatusNotFound, "unsupported path")
}

func mountInfo(me mountEntry) map[string]interface{} {
	var options interface{}
	if len(me.Options) > 0 {
		options = me.Options
	}
	return map[string]interface{}{
		"type":        me.Type,
		"description": me.Description,
		"accessor":    me.Accessor,
		"uuid":        me.UUID,
		"options":     options,
		"local":       false,
		"seal_wrap":   false,
		"config": map[string]interface{}{
			"default_lease_ttl": int64(defaultLeaseTTL.Seconds()),
			"max_lease_ttl":     int64(maxLeaseTTL.Seconds()),
			"force_no_cache":    false,
		},
		"external_entropy_access": false,
		"plugin_version":          "",
		"running_plugin_version":  "v" + engineVersion + "+builtin",
	}
}

func (s *server) listMounts(auth bool) *logical.Response {
	s.mu.RLock()
	defer s.mu.RUnlock()
	data := map[string]interface{}{}
	for p, m := range s.mounts {
		if m.entry.isAuth() != auth {
			continue
		}
		data[strings.TrimPrefix(p, "auth/")] = mountInfo(m.entry)
	}
	if auth {
		data["token/"] = map[string]interface{}{"type": "token", "description": "token based credentials", "accessor": "auth_token_vaultdev", "options": nil, "local": false, "seal_wrap": false}
	} else {
		data["sys/"] = map[string]interface{}{"type": "system", "description": "system endpoints used for control, policy and debugging", "options": nil, "local": false, "seal_wrap": false}
	}
	data[sysInjectKey] = true
	return &logical.Response{Data: data}
}

// mountOp enables (POST), disables (DELETE) or reads (GET) one mount.
func (s *server) mountOp(ctx context.Context, req *request, path string, auth bool) (*logical.Response, error) {
	path = strings.Trim(path, "/")
	if path == "" || strings.HasSuffix(path, "/tune") {
		return nil, errStatus(http.StatusBadRequest, "vaultdev does not support mount tuning")
	}
	full := path + "/"
	if auth {
		full = "auth/" + full
	}
	switch req.op {
	case logical.ReadOperation:
		s.mu.RLock()
		m := s.mounts[full]
		s.mu.RUnlock()
		if m == nil {
			return nil, errStatus(http.StatusBadRequest, "no matching mount")
		}
		return &logical.Response{Data: mountInfo(m.entry)}, nil
	case logical.DeleteOperation:
		s.mu.Lock()
		defer s.mu.Unlock()
		m := s.mounts[full]
		if m == nil {
			return nil, nil // Vault answers 204 for a path that is not mounted
		}
		m.backend.Cleanup(ctx)
		delete(s.mounts, full)
		if err := s.saveMountsLocked(ctx); err != nil {
			return nil, err
		}
		// Vault clears a disabled mount's storage; so do we.
		return nil, clearPrefix(ctx, s.store, m.storage.(*logical.StorageView).Prefix())
	case logical.UpdateOperation, logical.CreateOperation:
	default:
		return nil, logical.ErrUnsupportedOperation
	}

	typ, _ := req.data["type"].(string)
	if typ == "" {
		return logical.ErrorResponse("plugin type must be provided"), logical.ErrInvalidRequest
	}
	desc, _ := req.data["description"].(string)
	options := map[string]string{}
	if raw, ok := req.data["options"].(map[string]interface{}); ok {
		for k, v := range raw {
			options[k] = fmt.Sprint(v)
		}
	}
	if typ == "kv-v2" {
		typ, options["version"] = "kv", "2"
	}
	if typ == "kv" && options["version"] == "" {
		options["version"] = "1"
	}
	if auth {
		if _, ok := authFactories[typ]; !ok {
			return logical.ErrorResponse(fmt.Sprintf("vaultdev cannot enable auth method %q (it has approle only)", typ)), logical.ErrInvalidRequest
		}
	} else {
		if _, ok := secretFactories[typ]; !ok {
			return logical.ErrorResponse(fmt.Sprintf("vaultdev cannot enable secrets engine %q (it has transit and kv only)", typ)), logical.ErrInvalidRequest
		}
		if strings.HasPrefix(full, "sys/") || strings.HasPrefix(full, "auth/") || strings.HasPrefix(full, "cubbyhole/") || strings.HasPrefix(full, "identity/") {
			return logical.ErrorResponse(fmt.Sprintf("cannot mount %q: reserved path", full)), logical.ErrInvalidRequest
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.mounts {
		if strings.HasPrefix(full, p) || strings.HasPrefix(p, full) {
			// Vault's own words, which scripts look for.
			return logical.ErrorResponse(fmt.Sprintf("path is already in use at %s", p)), logical.ErrInvalidRequest
		}
	}
	if _, err := s.mountLocked(ctx, mountEntry{Path: full, Type: typ, Description: desc, Options: options}); err != nil {
		return logical.ErrorResponse(err.Error()), logical.ErrInvalidRequest
	}
	if err := s.saveMountsLocked(ctx); err != nil {
		delete(s.mounts, full)
		return nil, err
	}
	return nil, nil
}

func clearPrefix(ctx context.Context, st *store, prefix string) error {
	keys, err := st.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if strings.HasSuffix(k, "/") {
			if err := clearPrefix(ctx, st, prefix+k); err != nil {
				return err
			}
			continue
		}
		if err := st.Delete(ctx, prefix+k); err != nil {
			return err
		}
	}
	return nil
}

func (s *server) listPolicies(ctx context.Context, req *request, legacy bool) (*logical.Response, error) {
	if req.op != logical.ReadOperation && req.op != logical.ListOperation {
		return nil, logical.ErrUnsupportedOperation
	}
	names, err := s.policies.list(ctx)
	if err != nil {
		return nil, err
	}
	if req.op == logical.ListOperation {
		return logical.ListResponse(names), nil
	}
	data := map[string]interface{}{"policies": names, "keys": names}
	if legacy {
		data[sysInjectKey] = true
	}
	return &logical.Response{Data: data}, nil
}

func (s *server) policyOp(ctx context.Context, req *request, name string, legacy bool) (*logical.Response, error) {
	name, err := normalizePolicyName(name)
	if err != nil {
		return nil, err
	}
	switch req.op {
	case logical.ReadOperation:
		rules, ok, err := s.policies.get(ctx, name)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, nil
		}
		data := map[string]interface{}{"name": name, "rules": rules, "policy": rules}
		if legacy {
			data[sysInjectKey] = true
		}
		return &logical.Response{Data: data}, nil
	case logical.UpdateOperation, logical.CreateOperation:
		rules, _ := req.data["policy"].(string)
		if rules == "" {
			rules, _ = req.data["rules"].(string)
		}
		if strings.TrimSpace(rules) == "" {
			return logical.ErrorResponse("'policy' parameter not supplied or empty"), logical.ErrInvalidRequest
		}
		return nil, s.policies.put(ctx, name, rules)
	case logical.DeleteOperation:
		return nil, s.policies.delete(ctx, name)
	}
	return nil, logical.ErrUnsupportedOperation
}

// capabilitiesSelf answers what the calling token may do on each path.
func (s *server) capabilitiesSelf(ctx context.Context, req *request) (*logical.Response, error) {
	paths, err := stringList(req.data["paths"])
	if err != nil {
		return logical.ErrorResponse("invalid paths"), logical.ErrInvalidRequest
	}
	if p, _ := req.data["path"].(string); p != "" {
		paths = append(paths, p)
	}
	if len(paths) == 0 {
		return logical.ErrorResponse("missing paths"), logical.ErrInvalidRequest
	}
	data := map[string]interface{}{}
	var all []string
	for _, p := range paths {
		p = strings.TrimPrefix(p, "/")
		var names []string
		if req.entry.isRoot() {
			names = []string{"root"}
		} else {
			a, err := s.policies.acl(ctx, req.entry.Policies)
			if err != nil {
				return nil, err
			}
			c := a.capabilities(p, logical.ReadOperation)
			names = c.names()
		}
		data[p] = names
		all = append(all, names...)
	}
	sort.Strings(all)
	data["capabilities"] = dedupe(all)
	return &logical.Response{Data: data}, nil
}

func dedupe(in []string) []string {
	var out []string
	for i, v := range in {
		if i == 0 || v != in[i-1] {
			out = append(out, v)
		}
	}
	return out
}
