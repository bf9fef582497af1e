// Package pii keeps personal data unreadable at rest: it seals values with
// AES-256-GCM under a rotatable key, makes equality-searchable blind
// indexes with a keyed HMAC, and normalises and masks phones and emails.
//
// It uses the standard library's crypto/aes and crypto/cipher (GCM) and
// crypto/hmac: vetted, constant-time implementations with nothing to add.
package pii

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/tillpos/till/keyring"
)

// ErrUnknownKey is returned for a value sealed under a key the keyring no
// longer holds.
var ErrUnknownKey = errors.New("pii: sealed under an unknown key")

// Box seals, opens and indexes personal data.
type Box struct {
	active string
	aeads  map[string]cipher.AEAD
	index  []byte
}

// New makes a Box from the keyring's PII keys and blind-index key.
func New(keys keyring.AEADKeys, indexKey []byte) (*Box, error) {
	if _, ok := keys.Keys[keys.Active]; !ok {
		return nil, fmt.Errorf("pii: active key %q is not in the keyring", keys.Active)
	}
	if len(indexKey) < 32 {
		return nil, errors.New("pii: the blind-index key must be at least 32 bytes")
	}
	b := &Box{active: keys.Active, aeads: map[string]cipher.AEAD{}, index: indexKey}
	for kid, key := range keys.Keys {
		if strings.Contains(kid, ".") {
			return nil, fmt.Errorf("pii: key id %q must not contain a dot", kid)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("pii: key %q: %w", kid, err)
		}
		if b.aeads[kid], err = cipher.NewGCM(block); err != nil {
			return nil, fmt.Errorf("pii: key %q: %w", kid, err)
		}
	}
	return b, nil
}

// ActiveKeyID is the id of the key new values are sealed under.
func (b *Box) ActiveKeyID() string { return b.active }

// Seal encrypts plaintext under the active key as "<key id>.<base64>".
// context binds the value to where it is stored (say, a customer's id and
// the field), so that a sealed value copied elsewhere does not open.
func (b *Box) Seal(plaintext, context string) string {
	aead := b.aeads[b.active]
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	sealed := aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return b.active + "." + base64.RawURLEncoding.EncodeToString(sealed)
}

// Open decrypts a value made by Seal with the same context.
func (b *Box) Open(sealed, context string) (string, error) {
	kid, body, ok := strings.Cut(sealed, ".")
	if !ok {
		return "", errors.New("pii: malformed sealed value")
	}
	aead, ok := b.aeads[kid]
	if !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownKey, kid)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(raw) < aead.NonceSize() {
		return "", errors.New("pii: malformed sealed value")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(context))
	if err != nil {
		return "", errors.New("pii: sealed value does not open (tampered, or stored under another context)")
	}
	return string(plain), nil
}

// KeyID is the id of the key a sealed value was sealed under.
func KeyID(sealed string) string {
	kid, _, _ := strings.Cut(sealed, ".")
	return kid
}

// Index is the blind index of a normalised value: an HMAC-SHA256 under the
// index key, over the scope (a merchant's id, so the same phone at two
// merchants cannot be linked), the kind ("phone", "email") and the value.
func (b *Box) Index(scope, kind, value string) string {
	mac := hmac.New(sha256.New, b.index)
	for _, part := range []string{scope, kind, value} {
		mac.Write([]byte(part))
		mac.Write([]byte{0}) // separator: no part contains a NUL
	}
	return hex.EncodeToString(mac.Sum(nil)[:16])
}
