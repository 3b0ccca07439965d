package keyring

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

const fileExt = ".json"

// Errors returned (wrapped) by the Keyring.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrExternal is asking for the private part of a key that another
	// backend (Vault) holds: the keyring has its public part only.
	ErrExternal = errors.New("is held outside the keyring")
)

// Keyring is the file backend: one JSON key file per key in one directory.
// It keeps no state in memory, so it is safe for concurrent use.
type Keyring struct {
	dir string
}

// keyFile is the on-disk form of a key. []byte fields encode as base64.
type keyFile struct {
	Name       string  `json:"name"`
	Type       KeyType `json:"type"`
	PublicKey  []byte  `json:"public_key"`
	PrivateKey []byte  `json:"private_key,omitempty"`
	// Backend is "" or BackendFile for a key whose private part is in
	// this file, BackendVault for one held by Vault (Vault set).
	Backend string    `json:"backend,omitempty"`
	Vault   *VaultRef `json:"vault,omitempty"`
}

// Open returns the keyring rooted at dir, creating dir with mode 0700 if it
// does not exist.
func Open(dir string) (*Keyring, error) {
	if dir == "" {
		return nil, errors.New("open keyring: empty directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open keyring: %w", err)
	}
	return &Keyring{dir: dir}, nil
}

// Dir returns the directory of the keyring.
func (k *Keyring) Dir() string { return k.dir }

// Add generates a key of type t and saves it under name. It fails with
// ErrExists if the name is taken.
func (k *Keyring) Add(name string, t KeyType) (Info, error) {
	if err := ValidateName(name); err != nil {
		return Info{}, err
	}
	priv, err := generateKey(t)
	if err != nil {
		return Info{}, err
	}
	return k.save(name, t, priv)
}

// Import saves a given private key (in the stored form described in the
// package documentation) under name, for deterministic tests and dev
// chains. It fails with ErrExists if the name is taken.
func (k *Keyring) Import(name string, t KeyType, priv []byte) (Info, error) {
	if err := ValidateName(name); err != nil {
		return Info{}, err
	}
	return k.save(name, t, priv)
}

// List returns the keys of the keyring, sorted by name.
func (k *Keyring) List() ([]Info, error) {
	entries, err := os.ReadDir(k.dir)
	if err != nil {
		return nil, fmt.Errorf("list keyring: %w", err)
	}
	var infos []Info
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), fileExt)
		if !ok || e.IsDir() || ValidateName(name) != nil {
			continue // temp files start with '.', so they are skipped too
		}
		info, err := k.Show(name)
		if err != nil {
			return nil, err
		}
		infos = append(infos, info)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	return infos, nil
}

// Show returns the public description of the key called name.
func (k *Keyring) Show(name string) (Info, error) {
	if err := ValidateName(name); err != nil {
		return Info{}, err
	}
	kf, path, err := k.read(name)
	if err != nil {
		return Info{}, err
	}
	if kf.Backend == BackendVault {
		return vaultInfo(kf, path)
	}
	s, err := fileSigner(kf, path)
	if err != nil {
		return Info{}, err
	}
	return Info{Name: name, PublicKey: s.PublicKey(), Backend: BackendFile}, nil
}

// Signer returns a signer for the key called name. A key held by Vault has
// no private part here: Signer fails with ErrExternal, and the caller signs
// through Vault (certs/vault) with the reference that Show returns.
func (k *Keyring) Signer(name string) (Signer, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	kf, path, err := k.read(name)
	if err != nil {
		return nil, err
	}
	if kf.Backend == BackendVault {
		info, err := vaultInfo(kf, path)
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("key %q %w: Vault holds it (%s); its private key cannot be read or exported", name, ErrExternal, info.Vault)
	}
	return fileSigner(kf, path)
}

// AddVault registers under name a key that Vault holds: its public key pub
// (of the version ref names) and where it lives. No private key is stored.
// With replace, an existing Vault entry of that name is replaced (after a
// key rotation); an existing file key never is.
func (k *Keyring) AddVault(name string, pub PublicKey, ref VaultRef, replace bool) (Info, error) {
	if err := ValidateName(name); err != nil {
		return Info{}, err
	}
	if _, err := ParsePublicKey(pub.String()); err != nil {
		return Info{}, err
	}
	if err := ref.validate(); err != nil {
		return Info{}, err
	}
	kf := keyFile{Name: name, Type: pub.Type, PublicKey: pub.Bytes, Backend: BackendVault, Vault: &ref}
	data, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return Info{}, fmt.Errorf("encode key %q: %w", name, err)
	}
	data = append(data, '\n')
	if replace {
		old, _, err := k.read(name)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return Info{}, err
		case old.Backend != BackendVault:
			return Info{}, fmt.Errorf("key %q %w in keyring %s with its private key; only a Vault entry can be replaced", name, ErrExists, k.dir)
		}
		err = writeReplace(k.path(name), data)
		if err != nil {
			return Info{}, fmt.Errorf("save key %q: %w", name, err)
		}
	} else if err := writeNew(k.path(name), data); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return Info{}, fmt.Errorf("key %q %w in keyring %s", name, ErrExists, k.dir)
		}
		return Info{}, fmt.Errorf("save key %q: %w", name, err)
	}
	return Info{Name: name, PublicKey: clonePub(pub), Backend: BackendVault, Vault: &ref}, nil
}

// Delete removes the key called name.
func (k *Keyring) Delete(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	err := os.Remove(k.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return k.notFound(name)
	}
	if err != nil {
		return fmt.Errorf("delete key %q: %w", name, err)
	}
	return syncDir(k.dir)
}

func (k *Keyring) path(name string) string { return filepath.Join(k.dir, name+fileExt) }

func (k *Keyring) notFound(name string) error {
	return fmt.Errorf("key %q %w in keyring %s", name, ErrNotFound, k.dir)
}

// save validates priv and writes its key file atomically, without ever
// replacing an existing file.
func (k *Keyring) save(name string, t KeyType, priv []byte) (Info, error) {
	s, err := newSigner(t, priv)
	if err != nil {
		return Info{}, err
	}
	pub := s.PublicKey()
	data, err := json.MarshalIndent(keyFile{Name: name, Type: t, PublicKey: pub.Bytes, PrivateKey: priv}, "", "  ")
	if err != nil {
		return Info{}, fmt.Errorf("encode key %q: %w", name, err)
	}
	if err := writeNew(k.path(name), append(data, '\n')); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return Info{}, fmt.Errorf("key %q %w in keyring %s", name, ErrExists, k.dir)
		}
		return Info{}, fmt.Errorf("save key %q: %w", name, err)
	}
	return Info{Name: name, PublicKey: pub, Backend: BackendFile}, nil
}

// read reads the key file of name, refusing one that group or others may
// access, and returns it with its path.
func (k *Keyring) read(name string) (keyFile, string, error) {
	path := k.path(name)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return keyFile{}, path, k.notFound(name)
	}
	if err != nil {
		return keyFile{}, path, fmt.Errorf("load key %q: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return keyFile{}, path, fmt.Errorf("load key %q: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return keyFile{}, path, fmt.Errorf("key file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return keyFile{}, path, fmt.Errorf("key file %s has permissions %04o, which let group or others read it: run \"chmod 600 %s\"", path, perm, path)
	}
	var kf keyFile
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kf); err != nil {
		// json errors name at most one offending character, never a value.
		return keyFile{}, path, fmt.Errorf("key file %s: invalid JSON: %w", path, err)
	}
	if kf.Name != name {
		return keyFile{}, path, fmt.Errorf("key file %s: holds key %q, want %q", path, kf.Name, name)
	}
	if _, err := ParseKeyType(string(kf.Type)); err != nil {
		return keyFile{}, path, fmt.Errorf("key file %s: %w", path, err)
	}
	switch kf.Backend {
	case "", BackendFile:
		if kf.Vault != nil {
			return keyFile{}, path, fmt.Errorf("key file %s: a file key has no vault reference", path)
		}
	case BackendVault:
		if len(kf.PrivateKey) != 0 {
			return keyFile{}, path, fmt.Errorf("key file %s: a Vault key has no private key here", path)
		}
	default:
		return keyFile{}, path, fmt.Errorf("key file %s: unknown backend %q: want %q or %q", path, kf.Backend, BackendFile, BackendVault)
	}
	return kf, path, nil
}

// fileSigner checks the private key of a file key and returns its signer.
func fileSigner(kf keyFile, path string) (Signer, error) {
	s, err := newSigner(kf.Type, kf.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if !bytes.Equal(s.PublicKey().Bytes, kf.PublicKey) {
		return nil, fmt.Errorf("key file %s: public_key does not match private_key", path)
	}
	return s, nil
}

// vaultInfo checks a Vault entry and describes it.
func vaultInfo(kf keyFile, path string) (Info, error) {
	pub := PublicKey{Type: kf.Type, Bytes: kf.PublicKey}
	if _, err := ParsePublicKey(pub.String()); err != nil {
		return Info{}, fmt.Errorf("key file %s: %w", path, err)
	}
	if kf.Vault == nil {
		return Info{}, fmt.Errorf("key file %s: a Vault key needs its \"vault\" reference", path)
	}
	if err := kf.Vault.validate(); err != nil {
		return Info{}, fmt.Errorf("key file %s: %w", path, err)
	}
	ref := *kf.Vault
	return Info{Name: kf.Name, PublicKey: pub, Backend: BackendVault, Vault: &ref}, nil
}

// writeNew writes data to path atomically with mode 0600: a temp file in the
// same directory is written, synced, then linked into place. Linking fails
// with fs.ErrExist if path exists, so an existing key is never replaced.
func writeNew(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := writeTemp(dir, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		// No hard links on this file system: check, then rename.
		if _, serr := os.Lstat(path); serr == nil {
			return fs.ErrExist
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

// writeTemp writes data to a new temp file in dir (mode 0600), synced to
// disk, and returns its name; the caller links or renames it into place.
func writeTemp(dir string, data []byte) (string, error) {
	tmp, err := os.CreateTemp(dir, ".tmp-*") // mode 0600
	if err != nil {
		return "", err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}

// writeReplace writes data to path atomically with mode 0600, replacing
// what is there.
func writeReplace(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := writeTemp(dir, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename, link or remove in dir durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be synced there
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
