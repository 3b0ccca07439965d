package consensus

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Steps of a height and round, in the order a validator signs them; the
// numbers are FilePV's, so the two kinds of state compare directly.
const (
	stepNone      int8 = 0
	stepPropose   int8 = 1
	stepPrevote   int8 = 2
	stepPrecommit int8 = 3
)

// signStateFileMode keeps the sign state readable by its owner only: it
// holds no secret, but another user editing it could make the signer
// double-sign.
const signStateFileMode fs.FileMode = 0o600

// hrs is a height, round and step: the position of one signature.
type hrs struct {
	Height int64 `json:"height"`
	Round  int32 `json:"round"`
	Step   int8  `json:"step"`
}

// compare returns -1, 0 or 1 as a is before, at or after b.
func (a hrs) compare(b hrs) int {
	switch {
	case a.Height != b.Height:
		return cmpInt(a.Height, b.Height)
	case a.Round != b.Round:
		return cmpInt(int64(a.Round), int64(b.Round))
	default:
		return cmpInt(int64(a.Step), int64(b.Step))
	}
}

func (a hrs) String() string {
	return fmt.Sprintf("height %d round %d step %s", a.Height, a.Round, stepName(a.Step))
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func stepName(s int8) string {
	switch s {
	case stepNone:
		return "none"
	case stepPropose:
		return "propose"
	case stepPrevote:
		return "prevote"
	case stepPrecommit:
		return "precommit"
	}
	return fmt.Sprintf("%d", s)
}

// signState is the last thing a signer signed: where, the exact bytes and
// the signature. It answers a repeated request without signing again.
type signState struct {
	hrs
	SignBytes []byte `json:"sign_bytes,omitempty"`
	Signature []byte `json:"signature,omitempty"`
	// KeyVersion is the key version that made Signature, for operators.
	KeyVersion int `json:"key_version,omitempty"`
}

// loadSignState reads the state file; a file that does not exist is a
// signer that never signed. A file that exists but cannot be decoded is an
// error: starting from zero would forget what was signed.
func loadSignState(file string) (signState, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return signState{}, nil
	}
	if err != nil {
		return signState{}, fmt.Errorf("read sign state: %w", err)
	}
	var s signState
	if err := json.Unmarshal(b, &s); err != nil {
		return signState{}, fmt.Errorf("decode sign state %s: %w", file, err)
	}
	if err := s.check(); err != nil {
		return signState{}, fmt.Errorf("sign state %s: %w", file, err)
	}
	return s, nil
}

// check refuses a state that cannot have been written by saveSignState.
func (s signState) check() error {
	switch {
	case s.Height < 0 || s.Round < 0 || s.Step < stepNone || s.Step > stepPrecommit:
		return fmt.Errorf("bad position %s", s.hrs)
	case s.Height > 0 && (len(s.SignBytes) == 0 || len(s.Signature) == 0):
		return fmt.Errorf("at %s without the signed bytes and signature", s.hrs)
	}
	return nil
}

// saveSignState writes s durably before the signature it records is given
// out: a temporary file in the same folder, synced, renamed over the old
// one and the folder synced, so that after a crash the file holds either
// the old state or the new one, never a mix.
func saveSignState(file string, s signState) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode sign state: %w", err)
	}
	dir := filepath.Dir(file)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write sign state: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Chmod(signStateFileMode); err != nil {
		tmp.Close()
		return fmt.Errorf("write sign state: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write sign state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync sign state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write sign state: %w", err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("replace sign state: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync sign state folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync sign state folder: %w", err)
	}
	return nil
}
