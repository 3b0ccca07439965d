package vault

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/consort-ledger/consort/certs"
)

// KVStore is a KV version 2 engine as a certs.VersionedStore. Each key
// holds {"value": "<base64>"}; the store's version is KV's version of the
// secret.
type KVStore struct {
	c     *Client
	mount string
}

var _ certs.VersionedStore = (*KVStore)(nil)

// KV returns the KV v2 engine mounted at mount (e.g. "secret").
func (c *Client) KV(mount string) *KVStore {
	return &KVStore{c: c, mount: strings.Trim(mount, "/")}
}

func (s *KVStore) dataPath(key string) string { return s.mount + "/data/" + strings.Trim(key, "/") }

// kvData is the data of GET MOUNT/data/KEY.
type kvData struct {
	Data     map[string]any `json:"data"`
	Metadata struct {
		Version      int    `json:"version"`
		DeletionTime string `json:"deletion_time"`
		Destroyed    bool   `json:"destroyed"`
	} `json:"metadata"`
}

// Read returns the value under key and its version; (nil, 0, nil) when
// the key was never written. When the newest version was deleted or
// destroyed, the value is nil and the version that newest one's, so that a
// WriteCAS still has to name it.
func (s *KVStore) Read(ctx context.Context, key string) ([]byte, int, error) {
	path := s.dataPath(key)
	resp, verr := s.c.roundTrip(ctx, "read", path, func(cctx context.Context) (*api.Response, error) {
		return s.c.api.Logical().ReadRawWithContext(cctx, path)
	})
	if verr != nil {
		if !errors.Is(verr, ErrNotFound) || len(verr.Messages) > 0 {
			// A key never written gets a 404 without messages; a
			// missing mount gets one with "no handler for route".
			return nil, 0, verr
		}
		// KV answers 404 for a deleted newest version too, with its
		// metadata.
		var body struct {
			Data kvData `json:"data"`
		}
		if resp != nil && json.NewDecoder(resp.Body).Decode(&body) == nil && body.Data.Metadata.Version > 0 {
			return nil, body.Data.Metadata.Version, nil
		}
		return nil, 0, nil
	}
	var body struct {
		Data kvData `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, 0, &Error{Op: "read", Path: path, Status: resp.StatusCode, Err: fmt.Errorf("unreadable answer: %w", err)}
	}
	ver := body.Data.Metadata.Version
	if ver < 1 {
		return nil, 0, &Error{Op: "read", Path: path, Status: resp.StatusCode, Err: errors.New("answer has no version: is the mount KV version 2?")}
	}
	raw, ok := body.Data.Data["value"].(string)
	if !ok {
		return nil, 0, fmt.Errorf("vault: read %s: version %d holds no \"value\" string", path, ver)
	}
	value, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, 0, fmt.Errorf("vault: read %s: version %d: value is not base64: %w", path, ver, err)
	}
	return value, ver, nil
}

// WriteCAS writes value under key if the key's current version is cas (0:
// only if it was never written) and returns the new version. Losing to
// another writer gives certs.ErrCASMismatch.
//
// A write whose answer is lost (timeout) may still have been applied; its
// retry then loses with ErrCASMismatch, and the caller reads again.
func (s *KVStore) WriteCAS(ctx context.Context, key string, value []byte, cas int) (int, error) {
	if cas < 0 {
		return 0, fmt.Errorf("vault: write %s: invalid cas version %d", s.dataPath(key), cas)
	}
	path := s.dataPath(key)
	secret, err := s.c.write(ctx, "write", path, map[string]any{
		"options": map[string]any{"cas": cas},
		"data":    map[string]any{"value": base64.StdEncoding.EncodeToString(value)},
	})
	var verr *Error
	if errors.As(err, &verr) && verr.Status == 400 && verr.hasMessage("check-and-set parameter did not match") {
		return 0, fmt.Errorf("vault: write %s with cas %d: %w", path, cas, certs.ErrCASMismatch)
	}
	if err != nil {
		return 0, err
	}
	var meta struct {
		Version int `json:"version"`
	}
	if secret == nil || remarshal(secret.Data, &meta) != nil || meta.Version < 1 {
		return 0, &Error{Op: "write", Path: path, Err: errors.New("answer has no version: is the mount KV version 2?")}
	}
	return meta.Version, nil
}
