// Package token issues and verifies access tokens.
//
// Access tokens are JWTs signed with Ed25519 (EdDSA), following the JWT best
// current practices of RFC 8725 and the access-token profile of RFC 9068:
// the header's typ is "at+jwt" so that no other kind of JWT signed with the
// same keys can pass as an access token, the kid names the signing key so
// keys can rotate, and only EdDSA is accepted so that an attacker cannot pick
// a weaker algorithm (alg "none", or HMAC keyed with the public key).
package token

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tillpos/till/keyring"
)

const (
	issuer   = "till"
	audience = "till-api"

	// typ is the JWT header type of access tokens (RFC 9068 section 2.1).
	typ = "at+jwt"

	// defaultTTL keeps access tokens short-lived because they cannot be
	// revoked before they expire.
	defaultTTL = 15 * time.Minute

	// leeway tolerates clock skew between servers when checking exp, nbf
	// and iat.
	leeway = 30 * time.Second
)

// ErrInvalidToken is wrapped by every error Verify returns, whatever the
// reason, so callers can map all of them to UNAUTHENTICATED.
var ErrInvalidToken = errors.New("invalid access token")

var (
	errWrongType        = errors.New(`typ header is not "at+jwt"`)
	errUnknownKey       = errors.New("unknown key ID")
	errMissingSubject   = errors.New("sub claim missing")
	errMissingSessionID = errors.New("sid claim missing")
)

// Claims are the access-token claims.
type Claims struct {
	jwt.RegisteredClaims

	// SessionID identifies the login session the token belongs to.
	SessionID string `json:"sid"`
	// Kind is the kind of principal: "staff" or "operator".
	Kind string `json:"knd"`
	// MerchantID is the merchant a staff member belongs to; operators have
	// none.
	MerchantID string `json:"mid,omitempty"`
	// Role is the principal's role.
	Role string `json:"role"`
}

// Issuer signs and verifies access tokens with a keyring's signing keys.
// It is safe for concurrent use.
type Issuer struct {
	activeKID  string
	signingKey ed25519.PrivateKey
	// verifyKeys holds the public key of every key in the keyring, not just
	// the active one, so tokens signed before a rotation stay valid until
	// they expire.
	verifyKeys map[string]ed25519.PublicKey
	ttl        time.Duration
	now        func() time.Time
	parser     *jwt.Parser
}

// Option configures an Issuer.
type Option func(*Issuer)

// WithTTL sets how long issued tokens are valid. The default is 15 minutes.
func WithTTL(d time.Duration) Option {
	return func(i *Issuer) { i.ttl = d }
}

// WithClock sets the source of the current time, both for stamping issued
// tokens and for checking them. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(i *Issuer) { i.now = now }
}

// NewIssuer returns an Issuer that signs with the keyring's active key and
// verifies with any of its keys.
func NewIssuer(keys keyring.SigningKeys, opts ...Option) (*Issuer, error) {
	i := &Issuer{
		activeKID:  keys.Active,
		verifyKeys: make(map[string]ed25519.PublicKey, len(keys.Keys)),
		ttl:        defaultTTL,
		now:        time.Now,
	}
	for _, opt := range opts {
		opt(i)
	}
	if i.ttl <= 0 {
		return nil, fmt.Errorf("creating token issuer: ttl %v is not positive", i.ttl)
	}
	for kid, key := range keys.Keys {
		if len(key) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("creating token issuer: key %q is %d bytes, want %d", kid, len(key), ed25519.PrivateKeySize)
		}
		i.verifyKeys[kid] = key.Public().(ed25519.PublicKey)
	}
	var ok bool
	if i.signingKey, ok = keys.Keys[keys.Active]; !ok {
		return nil, fmt.Errorf("creating token issuer: active key %q not in keyring", keys.Active)
	}
	i.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(i.now),
	)
	return i, nil
}

// Issue signs claims with the active key. It sets iss="till",
// aud=["till-api"], iat, nbf, exp=now+ttl and a random jti; the caller sets
// Subject, SessionID, Kind, MerchantID and Role. It returns the signed token
// and its expiry.
func (i *Issuer) Issue(c Claims) (token string, expiresAt time.Time, err error) {
	if c.Subject == "" {
		return "", time.Time{}, fmt.Errorf("issuing access token: %w", errMissingSubject)
	}
	if c.SessionID == "" {
		return "", time.Time{}, fmt.Errorf("issuing access token: %w", errMissingSessionID)
	}
	jti, err := newJTI()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issuing access token: %w", err)
	}

	now := i.now()
	c.Issuer = issuer
	c.Audience = jwt.ClaimStrings{audience}
	c.IssuedAt = jwt.NewNumericDate(now)
	c.NotBefore = jwt.NewNumericDate(now)
	c.ExpiresAt = jwt.NewNumericDate(now.Add(i.ttl))
	c.ID = jti

	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	t.Header["typ"] = typ
	t.Header["kid"] = i.activeKID
	token, err = t.SignedString(i.signingKey)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issuing access token: %w", err)
	}
	// ExpiresAt is truncated to whole seconds, as encoded in the token.
	return token, c.ExpiresAt.Time, nil
}

// newJTI returns a random token ID, which lets a token be told apart from
// others issued in the same second, e.g. in logs or a deny list.
func newJTI() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating jti: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Verify parses token, checks its signature and claims, and returns the
// claims. Every error it returns wraps ErrInvalidToken.
func (i *Issuer) Verify(token string) (*Claims, error) {
	var c Claims
	if _, err := i.parser.ParseWithClaims(token, &c, i.verificationKey); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Subject == "" {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, errMissingSubject)
	}
	if c.SessionID == "" {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, errMissingSessionID)
	}
	return &c, nil
}

// verificationKey is the jwt.Keyfunc for Verify. It runs before the
// signature is checked, so the header it reads is still untrusted; it only
// picks the key and rejects tokens that are not access tokens.
func (i *Issuer) verificationKey(t *jwt.Token) (any, error) {
	// RFC 9068 allows the media type with or without its "application/"
	// prefix, and RFC 7515 makes media types case-insensitive.
	got, _ := t.Header["typ"].(string)
	if strings.TrimPrefix(strings.ToLower(got), "application/") != typ {
		return nil, fmt.Errorf("%w: got %q", errWrongType, got)
	}
	kid, _ := t.Header["kid"].(string)
	key, ok := i.verifyKeys[kid]
	if !ok {
		return nil, fmt.Errorf("%w %q", errUnknownKey, kid)
	}
	return key, nil
}
