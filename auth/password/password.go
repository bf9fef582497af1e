// Package password hashes and checks staff passwords and PINs.
//
// Secrets are hashed with bcrypt. Because bcrypt is deliberately slow, the
// time a login takes reveals whether a hash was compared at all; Hasher
// therefore offers Waste for logins whose account does not exist, and
// Verify itself burns the same time when the stored hash is unusable, so
// that response times do not reveal which accounts exist.
package password

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

const (
	minPasswordRunes = 10
	// maxSecretBytes is the most bcrypt uses: it ignores anything after it,
	// so a longer secret would match any secret sharing its first 72 bytes.
	maxSecretBytes = 72
	minPINDigits   = 4
	maxPINDigits   = 8
)

// Hasher hashes secrets with bcrypt at a fixed cost. It is safe for
// concurrent use.
type Hasher struct {
	cost int
	// dummy is a hash of the same cost as real ones, so comparing against it
	// takes as long as a real comparison.
	dummy []byte
}

// NewHasher returns a Hasher using the given bcrypt cost: bcrypt.DefaultCost
// in production, bcrypt.MinCost in tests. It panics if cost is outside
// [bcrypt.MinCost, bcrypt.MaxCost], since the cost is a programming-time
// constant and bcrypt would otherwise silently substitute its default for a
// low one.
func NewHasher(cost int) *Hasher {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		panic(fmt.Sprintf("password: bcrypt cost %d outside [%d, %d]", cost, bcrypt.MinCost, bcrypt.MaxCost))
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("dummy password for timing"), cost)
	if err != nil {
		// bcrypt fails only for a bad cost, which was checked above, a
		// secret over 72 bytes, or a broken random source, which would make
		// every later Hash fail too.
		panic(fmt.Sprintf("password: hashing dummy secret: %v", err))
	}
	return &Hasher{cost: cost, dummy: dummy}
}

// Hash returns the bcrypt hash of secret. It fails if secret is longer than
// 72 bytes, the most bcrypt can use.
func (h *Hasher) Hash(secret string) (string, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(secret), h.cost)
	if err != nil {
		return "", fmt.Errorf("hashing secret: %w", err)
	}
	return string(hash), nil
}

// Verify reports whether secret matches hash. An empty or malformed hash, or
// a secret longer than Hash accepts, never matches; Verify still takes as
// long as a real comparison then.
func (h *Hasher) Verify(hash, secret string) bool {
	if len(secret) > maxSecretBytes {
		// bcrypt would compare only the first 72 bytes and so could accept
		// a secret that was never set.
		h.Waste(secret)
		return false
	}
	if _, err := bcrypt.Cost([]byte(hash)); err != nil {
		h.Waste(secret)
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(secret)) == nil
}

// Waste runs one comparison against a fixed dummy hash of the hasher's cost,
// so a login for an unknown account takes as long as for a known one (no
// user enumeration by timing).
func (h *Hasher) Waste(secret string) {
	_ = bcrypt.CompareHashAndPassword(h.dummy, []byte(secret))
}

// PolicyError says why a password or PIN was rejected.
type PolicyError struct {
	// Reason is a sentence fragment suitable for showing to the user.
	Reason string
}

// Error returns the reason.
func (e *PolicyError) Error() string {
	return e.Reason
}

// CheckPassword enforces the password policy: at least 10 characters, at
// most 72 bytes (the bcrypt limit), not the email address or its local part
// (case-insensitively), and not one character repeated. It returns a
// *PolicyError if the password breaks a rule.
func CheckPassword(password, email string) error {
	switch {
	case utf8.RuneCountInString(password) < minPasswordRunes:
		return &PolicyError{Reason: fmt.Sprintf("password must be at least %d characters", minPasswordRunes)}
	case len(password) > maxSecretBytes:
		return &PolicyError{Reason: fmt.Sprintf("password must be at most %d bytes; characters outside ASCII take several bytes each", maxSecretBytes)}
	case strings.EqualFold(password, email):
		return &PolicyError{Reason: "password must not be your email address"}
	case strings.EqualFold(password, localPart(email)):
		return &PolicyError{Reason: "password must not be the name part of your email address"}
	case repeatsOneRune(password):
		return &PolicyError{Reason: "password must not repeat a single character"}
	}
	return nil
}

// localPart returns the part of email before its last "@", or "" if it has
// none. The last "@" is used because a quoted local part may contain "@".
func localPart(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return ""
	}
	return email[:at]
}

func repeatsOneRune(s string) bool {
	first, _ := utf8.DecodeRuneInString(s)
	return strings.Trim(s, string(first)) == ""
}

// CheckPIN enforces the PIN policy: 4 to 8 ASCII digits, not one digit
// repeated (1111), and not an ascending or descending run of consecutive
// digits (1234, 4321, 98765). It returns a *PolicyError if the PIN breaks a
// rule.
func CheckPIN(pin string) error {
	if len(pin) < minPINDigits || len(pin) > maxPINDigits || strings.Trim(pin, "0123456789") != "" {
		return &PolicyError{Reason: fmt.Sprintf("PIN must be %d to %d digits", minPINDigits, maxPINDigits)}
	}
	switch {
	case hasStep(pin, 0):
		return &PolicyError{Reason: "PIN must not repeat a single digit"}
	case hasStep(pin, 1), hasStep(pin, -1):
		return &PolicyError{Reason: "PIN must not be a run of consecutive digits"}
	}
	return nil
}

// hasStep reports whether each byte of s differs from the one before it by
// exactly d.
func hasStep(s string, d int) bool {
	for i := 1; i < len(s); i++ {
		if int(s[i])-int(s[i-1]) != d {
			return false
		}
	}
	return true
}
