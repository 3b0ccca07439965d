package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	kv "github.com/hashicorp/vault-plugin-secrets-kv"
	"github.com/hashicorp/vault/builtin/credential/approle"
	"github.com/hashicorp/vault/builtin/logical/transit"
	"github.com/hashicorp/vault/sdk/logical"

	uuid "github.com/hashicorp/go-uuid"
)

// mountEntry is one row of the mount table, persisted so that mounts enabled
// through sys/mounts or sys/auth (and the KV mount's UUID, which names its
// storage) survive a restart.
type mountEntry struct {
	Path        string            `json:"path"` // with trailing slash; "auth/approle/" for auth mounts
	Type        string            `json:"type"` // transit, kv, approle
	UUID        string            `json:"uuid"`
	Accessor    string            `json:"accessor"`
	Description string            `json:"description"`
	Options     map[string]string `json:"options"`
}

func (e *mountEntry) isAuth() bool { return strings.HasPrefix(e.Path, "auth/") }

type mount struct {
	entry   mountEntry
	backend logical.Backend
	storage logical.Storage
}

const mountTableKey = "core/mounts"

// factories are the only engines vaultdev can mount: Vault's own transit,
// KV (version 2 is what consort uses; version 1 also works) and AppRole.
var secretFactories = map[string]logical.Factory{
	"transit": transit.Factory,
	"kv":      kv.Factory,
}

var authFactories = map[string]logical.Factory{
	"approle": approle.Factory,
}

// defaultMounts are present on a fresh server, as `vault server -dev` has
// secret/ (KV v2) and as consort's Vault signer expects transit/ and AppRole.
func defaultMounts() []mountEntry {
	return []mountEntry{
		{Path: "secret/", Type: "kv", Description: "key/value secret storage", Options: map[string]string{"version": "2"}},
		{Path: "transit/", Type: "transit", Description: "transit engine"},
		{Path: "auth/approle/", Type: "approle", Description: "AppRole auth"},
	}
}

func (s *server) loadMounts(ctx context.Context) error {
	e, err := s.store.Get(ctx, mountTableKey)
	if err != nil {
		return err
	}
	var table []mountEntry
	if e == nil {
		table = defaultMounts()
	} else if err := json.Unmarshal(e.Value, &table); err != nil {
		return fmt.Errorf("mount table is corrupt: %w", err)
	}
	for _, me := range table {
		if _, err := s.mountLocked(ctx, me); err != nil {
			return fmt.Errorf("mount %s: %w", me.Path, err)
		}
	}
	return s.saveMountsLocked(ctx)
}

func (s *server) saveMountsLocked(ctx context.Context) error {
	table := make([]mountEntry, 0, len(s.mounts))
	for _, m := range s.mounts {
		table = append(table, m.entry)
	}
	sort.Slice(table, func(i, j int) bool { return table[i].Path < table[j].Path })
	raw, err := json.Marshal(table)
	if err != nil {
		return err
	}
	return s.store.Put(ctx, &logical.StorageEntry{Key: mountTableKey, Value: raw})
}

// mountLocked creates the backend for me and adds it to the router; the
// caller holds s.mu (or is still starting).
func (s *server) mountLocked(ctx context.Context, me mountEntry) (*mount, error) {
	var factory logical.Factory
	if me.isAuth() {
		factory = authFactories[me.Type]
	} else {
		factory = secretFactories[me.Type]
	}
	if factory == nil {
		return nil, fmt.Errorf("vaultdev cannot mount engine type %q (it has transit, kv and approle only)", me.Type)
	}
	if me.UUID == "" {
		id, err := uuid.GenerateUUID()
		if err != nil {
			return nil, err
		}
		me.UUID = id
	}
	if me.Accessor == "" {
		id, err := uuid.GenerateUUID()
		if err != nil {
			return nil, err
		}
		me.Accessor = me.Type + "_" + id[:8]
	}
	if me.Options == nil {
		me.Options = map[string]string{}
	}
	prefix := "logical/"
	if me.isAuth() {
		prefix = "auth/"
	}
	view := logical.NewStorageView(s.store, prefix+me.UUID+"/")
	config := map[string]string{}
	for k, v := range me.Options {
		config[k] = v
	}
	b, err := factory(ctx, &logical.BackendConfig{
		StorageView: view,
		Logger:      s.logger.Named(strings.TrimSuffix(me.Path, "/")),
		System:      s.sysView,
		BackendUUID: me.UUID,
		Config:      config,
	})
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("engine type %q with options %v is not available", me.Type, me.Options)
	}
	if err := b.Initialize(ctx, &logical.InitializationRequest{Storage: view}); err != nil {
		return nil, err
	}
	m := &mount{entry: me, backend: b, storage: view}
	s.mounts[me.Path] = m
	return m, nil
}

// route finds the mount owning path (longest mount prefix), and the path
// relative to it.
func (s *server) route(path string) (*mount, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var best *mount
	for p, m := range s.mounts {
		if (strings.HasPrefix(path, p) || path+"/" == p) && (best == nil || len(p) > len(best.entry.Path)) {
			best = m
		}
	}
	if best == nil {
		return nil, ""
	}
	rest := strings.TrimPrefix(path, best.entry.Path)
	if path+"/" == best.entry.Path {
		rest = ""
	}
	return best, rest
}

// rollbackLoop gives each engine its periodic call, as Vault's rollback
// manager does (transit's auto-rotation and AppRole's tidy live there).
func (s *server) rollbackLoop(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.RLock()
		ms := make([]*mount, 0, len(s.mounts))
		for _, m := range s.mounts {
			ms = append(ms, m)
		}
		s.mu.RUnlock()
		for _, m := range ms {
			_, err := m.backend.HandleRequest(ctx, &logical.Request{
				Operation:  logical.RollbackOperation,
				Path:       "",
				Storage:    m.storage,
				MountPoint: m.entry.Path,
				MountType:  m.entry.Type,
			})
			if err != nil && ctx.Err() == nil {
				s.logger.Warn("periodic function failed", "mount", m.entry.Path, "error", err)
			}
		}
	}
}
