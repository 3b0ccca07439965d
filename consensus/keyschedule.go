package consensus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/consort-ledger/consort/certs"
)

// KeyVersion says that a key version signs from a height on.
type KeyVersion struct {
	// Version is the key provider's version number, from 1.
	Version int `json:"version"`
	// FromHeight is the first height this version signs.
	FromHeight int64 `json:"from_height"`
}

// KeySchedule is which key version signs which heights: entries in
// ascending FromHeight and Version, the first from height 1. It lives in
// the VersionedStore under StorePath(key)+"/schedule"; a store without it
// means version 1 (or the signer's configured initial version) signs
// everything.
type KeySchedule []KeyVersion

func scheduleKey(keyName string) string { return StorePath(keyName) + "/schedule" }

// VersionAt returns the version that signs at height.
func (s KeySchedule) VersionAt(height int64) int {
	v := 0
	for _, e := range s {
		if e.FromHeight > height {
			break
		}
		v = e.Version
	}
	return v
}

// check refuses a schedule that is out of order or does not start at 1.
func (s KeySchedule) check() error {
	if len(s) == 0 || s[0].FromHeight != 1 {
		return errors.New("key schedule must start at height 1")
	}
	for i, e := range s {
		if e.Version < 1 {
			return fmt.Errorf("key schedule entry %d: version %d, want 1 or more", i, e.Version)
		}
		if i > 0 && (e.FromHeight <= s[i-1].FromHeight || e.Version <= s[i-1].Version) {
			return fmt.Errorf("key schedule entry %d (version %d from height %d) is not after the one before", i, e.Version, e.FromHeight)
		}
	}
	return nil
}

// LoadKeySchedule reads the key schedule of keyName from store, with the
// store version it was read at (0: none written, and the schedule returned
// is initialVersion from height 1).
func LoadKeySchedule(ctx context.Context, store certs.VersionedStore, keyName string, initialVersion int) (KeySchedule, int, error) {
	if initialVersion < 1 {
		initialVersion = 1
	}
	raw, version, err := store.Read(ctx, scheduleKey(keyName))
	if err != nil {
		return nil, 0, fmt.Errorf("read key schedule: %w", err)
	}
	if version == 0 {
		return KeySchedule{{Version: initialVersion, FromHeight: 1}}, 0, nil
	}
	var doc struct {
		Versions KeySchedule `json:"versions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, 0, fmt.Errorf("decode key schedule %s: %w", scheduleKey(keyName), err)
	}
	if err := doc.Versions.check(); err != nil {
		return nil, 0, fmt.Errorf("key schedule %s: %w", scheduleKey(keyName), err)
	}
	return doc.Versions, version, nil
}

// ScheduleKeyVersion makes version of validator key keyName sign from
// fromHeight on, in the schedule every signer of the validator reads from
// store (they pick it up at their next height, without a restart). Call it
// after the key provider has the version (a Vault transit rotation) and
// with the height at which the validator set expects the new public key.
//
// It refuses a fromHeight at or below the shared watermark (those heights
// are signed already, by the version scheduled then) and a version lower
// than one already active (a version that signed never goes back). Entries
// not active yet from fromHeight on, or of this version or a higher one,
// are replaced. Calling
// it again with the same arguments is a no-op. A schedule never written
// starts as version 1 from height 1.
func ScheduleKeyVersion(ctx context.Context, store certs.VersionedStore, keyName string, version int, fromHeight int64) error {
	if keyName == "" {
		return errors.New("schedule key version: key name is empty")
	}
	if version < 1 {
		return fmt.Errorf("schedule key version: version %d, want 1 or more", version)
	}
	if fromHeight < 1 {
		return fmt.Errorf("schedule key version: from height %d, want 1 or more", fromHeight)
	}
	for range maxCASAttempts {
		current, cas, err := LoadKeySchedule(ctx, store, keyName, 1)
		if err != nil {
			return fmt.Errorf("schedule key version: %w", err)
		}
		want := KeyVersion{Version: version, FromHeight: fromHeight}
		if slices.Contains(current, want) && current[len(current)-1] == want {
			return nil
		}
		signed, err := readWatermarkHeight(ctx, store, keyName)
		if err != nil {
			return fmt.Errorf("schedule key version: %w", err)
		}
		if fromHeight <= signed {
			return fmt.Errorf("schedule key version %d from height %d: validator key %s has signed up to height %d already; pick a later height",
				version, fromHeight, keyName, signed)
		}
		// Keep what is active (signed already) and what is pending before
		// fromHeight with a lower version; a pending entry of this version
		// or a higher one is replaced.
		var next KeySchedule
		for _, e := range current {
			if e.FromHeight < fromHeight && (e.FromHeight <= signed || e.Version < version) {
				next = append(next, e)
			}
		}
		if len(next) > 0 && next[len(next)-1].Version > version {
			last := next[len(next)-1]
			return fmt.Errorf("schedule key version %d from height %d: version %d already signs from height %d; versions never go back",
				version, fromHeight, last.Version, last.FromHeight)
		}
		if len(next) == 0 || next[len(next)-1].Version < version {
			next = append(next, want)
		}
		if err := next.check(); err != nil {
			return fmt.Errorf("schedule key version %d from height %d: %w", version, fromHeight, err)
		}
		b, err := json.Marshal(struct {
			Versions KeySchedule `json:"versions"`
		}{next})
		if err != nil {
			return err
		}
		_, err = store.WriteCAS(ctx, scheduleKey(keyName), b, cas)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, certs.ErrCASMismatch):
			continue
		default:
			return fmt.Errorf("schedule key version: write: %w", err)
		}
	}
	return fmt.Errorf("schedule key version: lost the check-and-set %d times in a row", maxCASAttempts)
}
