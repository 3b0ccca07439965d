package main

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/hashicorp/vault/sdk/logical"
)

// sysSudoPaths are the sys/ paths Vault protects with sudo (among those
// vaultdev serves).
var sysSudoPaths = []string{"sys/auth/*", "sys/audit", "sys/audit/*", "sys/raw", "sys/raw/*", "sys/rotate"}

func matchSpecial(patterns []string, path string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(path, prefix) {
				return true
			}
		} else if p == path || p+"/" == path {
			return true
		}
	}
	return false
}

// authorize resolves the request's token and checks it against the token's
// policies, as Vault's core does before routing: an engine's unauthenticated
// paths (AppRole's login) need no token; a write to a path with an existence
// check becomes a create when the resource does not exist yet, so policies
// can tell create from update; the root token may do anything; everyone else
// needs the capability for the operation, and sudo on root-protected paths.
func (s *server) authorize(ctx context.Context, req *request, m *mount, rest string) error {
	var special *logical.Paths
	if m != nil {
		special = m.backend.SpecialPaths()
		if special != nil && matchSpecial(special.Unauthenticated, rest) {
			return nil
		}
	}
	if req.token == "" {
		return errDenied
	}
	te, err := s.tokens.use(ctx, req.token)
	if err != nil {
		return err
	}
	if te == nil {
		return errDenied
	}
	req.entry = te

	if m != nil && req.op == logical.UpdateOperation {
		found, exists, err := m.backend.HandleExistenceCheck(ctx, &logical.Request{
			Operation:  logical.UpdateOperation,
			Path:       rest,
			Data:       req.data,
			Storage:    m.storage,
			MountPoint: m.entry.Path,
			MountType:  m.entry.Type,
		})
		switch {
		case err != nil && !errors.Is(err, logical.ErrUnsupportedPath):
			return errStatus(http.StatusInternalServerError, "existence check failed: %v", err)
		case err == nil && found && !exists:
			req.op = logical.CreateOperation
		}
	}

	if te.isRoot() {
		return nil
	}
	if m == nil && strings.HasPrefix(req.path, "sys/internal/ui/mounts/") {
		// As in Vault, this lookup checks access to the mount itself.
		return nil
	}
	acl, err := s.policies.acl(ctx, te.Policies)
	if err != nil {
		return err
	}
	caps := acl.capabilities(req.path, req.op)
	need := capForOperation(req.op)
	if caps&capDeny != 0 || caps&need == 0 {
		return errDenied
	}
	sudo := (special != nil && matchSpecial(special.Root, rest)) || (m == nil && matchSpecial(sysSudoPaths, req.path))
	if sudo && caps&capSudo == 0 {
		return errDenied
	}
	return nil
}

func capForOperation(op logical.Operation) capSet {
	switch op {
	case logical.ReadOperation:
		return capRead
	case logical.ListOperation:
		return capList
	case logical.CreateOperation:
		return capCreate
	case logical.UpdateOperation:
		return capUpdate
	case logical.DeleteOperation:
		return capDelete
	case logical.PatchOperation:
		return capPatch
	}
	return 0
}

// mountAccess reports whether any of the ACL's rules grants something under
// the mount at prefix, which is what Vault asks before telling a token about
// a mount.
func (a *acl) mountAccess(prefix string) bool {
	for p, c := range a.rules {
		if c&capDeny != 0 || c == 0 {
			continue
		}
		lit := p
		if i := strings.IndexAny(p, "+*"); i >= 0 {
			lit = p[:i]
		}
		if strings.HasPrefix(lit, prefix) || strings.HasPrefix(prefix, lit) && lit != p {
			return true
		}
	}
	return false
}
