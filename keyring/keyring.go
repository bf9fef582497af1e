// Package keyring loads, validates and generates the server's key material:
// the Ed25519 keys that sign access tokens, the AES-256 keys that encrypt
// personal data at rest, and the HMAC key behind blind indexes.
//
// Keys live in one JSON file whose byte values are standard base64:
//
//	{"jwt": {"active": "<kid>", "keys": {"<kid>": "<32-byte Ed25519 seed>"}},
//	 "pii": {"active": "<kid>", "keys": {"<kid>": "<32-byte AES-256 key>"}},
//	 "blindIndex": "<HMAC key, at least 32 bytes>"}
//
// Signing and encryption keys are sets with one active key so they can be
// rotated: new tokens and ciphertexts use the active key while older ones
// still verify or decrypt with the key named by their kid. The blind index key
// cannot rotate that way, because every stored index would have to be
// recomputed, so it is a single key.
//
// Error messages name the offending part of the file but never include key
// bytes, so they are safe to log.
package keyring

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

const (
	aesKeySize        = 32
	minBlindIndexSize = 32
)

// Keys is the server's complete key material.
type Keys struct {
	// JWT signs and verifies access tokens.
	JWT SigningKeys
	// PII encrypts personal data at rest.
	PII AEADKeys
	// BlindIndex keys the HMAC that makes encrypted values searchable by
	// equality.
	BlindIndex []byte
}

// SigningKeys is a rotatable set of Ed25519 keys indexed by key ID.
type SigningKeys struct {
	// Active is the ID of the key that signs new tokens.
	Active string
	// Keys holds every key that may still verify, including Active.
	Keys map[string]ed25519.PrivateKey
}

// AEADKeys is a rotatable set of AES-256 keys indexed by key ID.
type AEADKeys struct {
	// Active is the ID of the key that encrypts new data.
	Active string
	// Keys holds every key that may still decrypt, including Active.
	Keys map[string][]byte
}

// file is the on-disk JSON layout. Key bytes are kept as base64 strings here
// rather than []byte so that a decoding error can name the key it came from.
type file struct {
	JWT        keySet `json:"jwt"`
	PII        keySet `json:"pii"`
	BlindIndex string `json:"blindIndex"`
}

type keySet struct {
	Active string            `json:"active"`
	Keys   map[string]string `json:"keys"`
}

// Parse decodes and validates a key file.
func Parse(data []byte) (*Keys, error) {
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("decoding key file: %w", err)
	}

	jwtKeys, err := decodeSet("jwt", f.JWT, ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	piiKeys, err := decodeSet("pii", f.PII, aesKeySize)
	if err != nil {
		return nil, err
	}
	if f.BlindIndex == "" {
		return nil, errors.New("blindIndex: missing")
	}
	blind, err := base64.StdEncoding.DecodeString(f.BlindIndex)
	if err != nil {
		return nil, fmt.Errorf("blindIndex: decoding base64: %w", err)
	}
	if len(blind) < minBlindIndexSize {
		return nil, fmt.Errorf("blindIndex: key is %d bytes, want at least %d", len(blind), minBlindIndexSize)
	}

	k := &Keys{
		JWT:        SigningKeys{Active: f.JWT.Active, Keys: make(map[string]ed25519.PrivateKey, len(jwtKeys))},
		PII:        AEADKeys{Active: f.PII.Active, Keys: piiKeys},
		BlindIndex: blind,
	}
	for kid, seed := range jwtKeys {
		k.JWT.Keys[kid] = ed25519.NewKeyFromSeed(seed)
	}
	return k, nil
}

// decodeSet decodes and validates one key set. section names the set in
// error messages.
func decodeSet(section string, s keySet, size int) (map[string][]byte, error) {
	if len(s.Keys) == 0 {
		return nil, fmt.Errorf("%s: no keys", section)
	}
	if s.Active == "" {
		return nil, fmt.Errorf("%s: active key ID missing", section)
	}
	if _, ok := s.Keys[s.Active]; !ok {
		return nil, fmt.Errorf("%s: active key %q not in keys", section, s.Active)
	}
	out := make(map[string][]byte, len(s.Keys))
	for kid, encoded := range s.Keys {
		if kid == "" {
			return nil, fmt.Errorf("%s: empty key ID", section)
		}
		b, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			return nil, fmt.Errorf("%s key %q: decoding base64: %w", section, kid, err)
		}
		if len(b) != size {
			return nil, fmt.Errorf("%s key %q: key is %d bytes, want %d", section, kid, len(b), size)
		}
		out[kid] = b
	}
	return out, nil
}

// MarshalJSON encodes k in the key file format that Parse reads. It has a
// value receiver so that both Keys and *Keys encode in that format.
func (k Keys) MarshalJSON() ([]byte, error) {
	f := file{
		JWT:        keySet{Active: k.JWT.Active, Keys: make(map[string]string, len(k.JWT.Keys))},
		PII:        keySet{Active: k.PII.Active, Keys: make(map[string]string, len(k.PII.Keys))},
		BlindIndex: base64.StdEncoding.EncodeToString(k.BlindIndex),
	}
	for kid, key := range k.JWT.Keys {
		f.JWT.Keys[kid] = base64.StdEncoding.EncodeToString(key.Seed())
	}
	for kid, key := range k.PII.Keys {
		f.PII.Keys[kid] = base64.StdEncoding.EncodeToString(key)
	}
	return json.Marshal(f)
}

// Load reads and parses the key file at path.
func Load(path string) (*Keys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading keys: %w", err)
	}
	k, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("loading keys from %s: %w", path, err)
	}
	return k, nil
}

// Generate returns fresh random keys, each set holding a single active key.
func Generate() (*Keys, error) {
	jwtKID, err := newKID()
	if err != nil {
		return nil, err
	}
	_, signer, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, fmt.Errorf("generating jwt key: %w", err)
	}
	piiKID, err := newKID()
	if err != nil {
		return nil, err
	}
	pii, err := randomBytes(aesKeySize)
	if err != nil {
		return nil, fmt.Errorf("generating pii key: %w", err)
	}
	blind, err := randomBytes(minBlindIndexSize)
	if err != nil {
		return nil, fmt.Errorf("generating blind index key: %w", err)
	}
	return &Keys{
		JWT:        SigningKeys{Active: jwtKID, Keys: map[string]ed25519.PrivateKey{jwtKID: signer}},
		PII:        AEADKeys{Active: piiKID, Keys: map[string][]byte{piiKID: pii}},
		BlindIndex: blind,
	}, nil
}

// newKID returns a random key ID. Random rather than sequential IDs let
// keys be generated independently without coordinating a counter.
func newKID() (string, error) {
	b, err := randomBytes(4)
	if err != nil {
		return "", fmt.Errorf("generating key ID: %w", err)
	}
	return "k" + hex.EncodeToString(b), nil
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return b, nil
}

// LoadOrCreate loads the key file at path, first creating it with fresh keys
// and mode 0600 if it does not exist. It reports whether it created the file.
// It is meant for development; production should provision keys and use Load.
//
// Concurrent callers are safe: the keys are written to a temporary file that
// is then hard-linked into place, which, like O_EXCL, fails if path already
// exists, so a process that loses the race loads the winner's keys instead of
// overwriting them. Unlike creating path itself with O_EXCL, the link makes
// the file appear fully written, so the loser can never read a half-written
// file.
func LoadOrCreate(path string) (keys *Keys, created bool, err error) {
	if k, err := Load(path); !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}

	k, err := Generate()
	if err != nil {
		return nil, false, fmt.Errorf("creating keys: %w", err)
	}
	data, err := k.MarshalJSON()
	if err != nil {
		return nil, false, fmt.Errorf("creating keys: %w", err)
	}
	switch err := createExclusive(path, data); {
	case errors.Is(err, fs.ErrExist):
		k, err := Load(path)
		return k, false, err
	case err != nil:
		return nil, false, fmt.Errorf("creating keys: %w", err)
	}
	return k, true, nil
}

// createExclusive writes data to a new file at path with mode 0600. It fails
// with an error wrapping fs.ErrExist if path already exists.
func createExclusive(path string, data []byte) error {
	// CreateTemp opens with O_EXCL and mode 0600, and the temporary file must
	// be in the same directory because hard links cannot cross file systems.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())

	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	// Flush before linking so the file is complete once it is visible at path.
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Link(tmp.Name(), path)
}
