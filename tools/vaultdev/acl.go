package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/vault/sdk/logical"
)

// capSet is a set of Vault policy capabilities.
type capSet uint32

const (
	capDeny capSet = 1 << iota
	capCreate
	capRead
	capUpdate
	capDelete
	capList
	capSudo
	capPatch
)

var capNames = []struct {
	name string
	bit  capSet
}{
	{"deny", capDeny}, {"create", capCreate}, {"read", capRead}, {"update", capUpdate},
	{"delete", capDelete}, {"list", capList}, {"sudo", capSudo}, {"patch", capPatch},
}

func (c capSet) names() []string {
	if c&capDeny != 0 {
		return []string{"deny"}
	}
	var out []string
	for _, n := range capNames {
		if c&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	if len(out) == 0 {
		return []string{"deny"}
	}
	sort.Strings(out)
	return out
}

// The pre-0.9 "policy = ..." shorthand, still accepted by Vault.
var policyShorthand = map[string]capSet{
	"deny":  capDeny,
	"read":  capRead | capList,
	"write": capRead | capList | capCreate | capUpdate | capDelete,
	"sudo":  capRead | capList | capCreate | capUpdate | capDelete | capSudo,
}

// pathRule is one `path "PATTERN" { capabilities = [...] }` block.
type pathRule struct {
	pattern string
	caps    capSet
}

// parsePolicy reads a Vault ACL policy (HCL or JSON). The supported subset:
// `path` blocks with `capabilities` (create, read, update, patch, delete,
// list, sudo, deny) or the old `policy` shorthand; a pattern may end in `*`
// (prefix) and contain `+` (one whole segment). Parameter constraints
// (allowed_parameters, denied_parameters, required_parameters), wrapping TTL
// bounds and templated paths are refused with an error rather than ignored,
// so a policy never grants more here than it would in Vault.
func parsePolicy(raw string) ([]pathRule, error) {
	root, err := hcl.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("failed to parse policy: %w", err)
	}
	list, ok := root.Node.(*ast.ObjectList)
	if !ok {
		return nil, fmt.Errorf("failed to parse policy: does not contain a root object")
	}
	for _, item := range list.Items {
		key := itemKey(item)
		if key != "path" && key != "name" {
			return nil, fmt.Errorf("failed to parse policy: invalid key %q", key)
		}
	}
	var rules []pathRule
	for _, item := range list.Filter("path").Items {
		if len(item.Keys) == 0 {
			return nil, fmt.Errorf("failed to parse policy: path block without a path")
		}
		pattern, ok := item.Keys[0].Token.Value().(string)
		if !ok {
			return nil, fmt.Errorf("failed to parse policy: path must be a string")
		}
		pattern = strings.TrimPrefix(pattern, "/")
		if strings.Contains(pattern, "{{") {
			return nil, fmt.Errorf("path %q: templated policies are not supported by vaultdev", pattern)
		}
		if i := strings.Index(pattern, "*"); i >= 0 && i != len(pattern)-1 {
			return nil, fmt.Errorf("path %q: '*' is only allowed at the end of a path", pattern)
		}
		obj, ok := item.Val.(*ast.ObjectType)
		if !ok {
			return nil, fmt.Errorf("path %q: expected a block", pattern)
		}
		for _, f := range obj.List.Items {
			switch k := itemKey(f); k {
			case "capabilities", "policy":
			default:
				return nil, fmt.Errorf("path %q: %q is not supported by vaultdev (it supports capabilities and policy only)", pattern, k)
			}
		}
		var body struct {
			Policy       string   `hcl:"policy"`
			Capabilities []string `hcl:"capabilities"`
		}
		if err := hcl.DecodeObject(&body, item.Val); err != nil {
			return nil, fmt.Errorf("path %q: %w", pattern, err)
		}
		var caps capSet
		if body.Policy != "" {
			c, ok := policyShorthand[body.Policy]
			if !ok {
				return nil, fmt.Errorf("path %q: invalid policy %q", pattern, body.Policy)
			}
			caps |= c
		}
		for _, name := range body.Capabilities {
			found := false
			for _, n := range capNames {
				if n.name == name {
					caps |= n.bit
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("path %q: invalid capability %q", pattern, name)
			}
		}
		rules = append(rules, pathRule{pattern: pattern, caps: caps})
	}
	return rules, nil
}

func itemKey(item *ast.ObjectItem) string {
	if len(item.Keys) == 0 {
		return ""
	}
	switch v := item.Keys[0].Token.Value().(type) {
	case string:
		return v
	default:
		return item.Keys[0].Token.Text
	}
}

// acl is the merged rules of a token's policies. Rules for the same pattern
// from several policies add up; deny wins over everything.
type acl struct {
	rules map[string]capSet
}

func newACL(sets ...[]pathRule) *acl {
	a := &acl{rules: map[string]capSet{}}
	for _, rs := range sets {
		for _, r := range rs {
			a.rules[r.pattern] |= r.caps
		}
	}
	return a
}

func isGlob(p string) bool { return strings.HasSuffix(p, "*") || strings.Contains(p, "+") }

// capabilities returns what the ACL grants on path, choosing the rule the way
// Vault does: an exact pattern first (for a list, also the path without its
// trailing slash); otherwise the highest-priority matching glob or segment
// pattern.
func (a *acl) capabilities(path string, op logical.Operation) capSet {
	if c, ok := a.rules[path]; ok && !isGlob(path) {
		return c
	}
	if op == logical.ListOperation {
		if c, ok := a.rules[strings.TrimSuffix(path, "/")]; ok && !isGlob(path) {
			return c
		}
	}
	best := ""
	found := false
	for p := range a.rules {
		if !isGlob(p) || !globMatch(p, path) {
			continue
		}
		if !found || higherPriority(p, best) {
			best, found = p, true
		}
	}
	if !found {
		return 0
	}
	return a.rules[best]
}

// globMatch reports whether path matches a pattern with `+` segments and an
// optional trailing `*`.
func globMatch(pattern, path string) bool {
	prefix, glob := strings.CutSuffix(pattern, "*")
	ps := strings.Split(prefix, "/")
	xs := strings.Split(path, "/")
	if glob {
		if len(xs) < len(ps) {
			return false
		}
	} else if len(xs) != len(ps) {
		return false
	}
	for i, seg := range ps {
		last := glob && i == len(ps)-1
		switch {
		case seg == "+":
			if xs[i] == "" && !last {
				return false
			}
		case last:
			if !strings.HasPrefix(xs[i], seg) {
				return false
			}
		case seg != xs[i]:
			return false
		}
	}
	return true
}

// higherPriority reports whether pattern p1 beats p2 when both match, by
// Vault's documented rules: the later first wildcard wins; not ending in `*`
// wins; fewer `+` segments win; the longer pattern wins; then the
// lexicographically larger.
func higherPriority(p1, p2 string) bool {
	w1, w2 := firstWildcard(p1), firstWildcard(p2)
	if w1 != w2 {
		return w1 > w2
	}
	g1, g2 := strings.HasSuffix(p1, "*"), strings.HasSuffix(p2, "*")
	if g1 != g2 {
		return !g1
	}
	s1, s2 := strings.Count(p1, "+"), strings.Count(p2, "+")
	if s1 != s2 {
		return s1 < s2
	}
	if len(p1) != len(p2) {
		return len(p1) > len(p2)
	}
	return p1 > p2
}

func firstWildcard(p string) int {
	i := strings.IndexAny(p, "+*")
	if i < 0 {
		return len(p)
	}
	return i
}

// policyStore keeps ACL policies in storage under sys/policy/. "root" is
// built in and cannot be written; "default" is Vault's default policy
// (the parts that apply to vaultdev) until someone writes it.
type policyStore struct {
	store *store
}

type storedPolicy struct {
	Name  string `json:"name"`
	Rules string `json:"rules"`
}

const policyPrefix = "sys/policy/"

const defaultPolicy = `
# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# Allow tokens to renew themselves
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Allow a token to look up its resultant ACL from all policies
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}
`

func normalizePolicyName(name string) (string, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		return "", errStatus(http.StatusBadRequest, "policy name must be provided")
	}
	if strings.ContainsAny(name, "/ ") {
		return "", errStatus(http.StatusBadRequest, "invalid policy name %q", name)
	}
	return name, nil
}

func (ps *policyStore) get(ctx context.Context, name string) (string, bool, error) {
	if name == "root" {
		return "", true, nil
	}
	e, err := ps.store.Get(ctx, policyPrefix+name)
	if err != nil {
		return "", false, err
	}
	if e == nil {
		if name == "default" {
			return defaultPolicy, true, nil
		}
		return "", false, nil
	}
	var sp storedPolicy
	if err := json.Unmarshal(e.Value, &sp); err != nil {
		return "", false, fmt.Errorf("policy %q is corrupt: %w", name, err)
	}
	return sp.Rules, true, nil
}

func (ps *policyStore) put(ctx context.Context, name, rules string) error {
	if name == "root" {
		return errStatus(http.StatusBadRequest, "cannot update \"root\" policy")
	}
	if _, err := parsePolicy(rules); err != nil {
		return errStatus(http.StatusBadRequest, "%v", err)
	}
	raw, err := json.Marshal(storedPolicy{Name: name, Rules: rules})
	if err != nil {
		return err
	}
	return ps.store.Put(ctx, &logical.StorageEntry{Key: policyPrefix + name, Value: raw})
}

func (ps *policyStore) delete(ctx context.Context, name string) error {
	if name == "root" || name == "default" {
		return errStatus(http.StatusBadRequest, "cannot delete %q policy", name)
	}
	return ps.store.Delete(ctx, policyPrefix+name)
}

func (ps *policyStore) list(ctx context.Context) ([]string, error) {
	keys, err := ps.store.List(ctx, policyPrefix)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{"root": true, "default": true}
	for _, k := range keys {
		set[k] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// acl builds the ACL of a token's policies. A policy that does not exist
// grants nothing, as in Vault.
func (ps *policyStore) acl(ctx context.Context, names []string) (*acl, error) {
	var sets [][]pathRule
	for _, n := range names {
		raw, ok, err := ps.get(ctx, n)
		if err != nil {
			return nil, err
		}
		if !ok || n == "root" {
			continue
		}
		rules, err := parsePolicy(raw)
		if err != nil {
			return nil, fmt.Errorf("policy %q: %w", n, err)
		}
		sets = append(sets, rules)
	}
	return newACL(sets...), nil
}
