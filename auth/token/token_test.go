package token

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/keyring"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func key(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// fixture is an Issuer whose clock the test controls.
type fixture struct {
	keys   keyring.SigningKeys
	now    time.Time
	issuer *Issuer
}

func newFixture(t *testing.T, keys keyring.SigningKeys, opts ...Option) *fixture {
	t.Helper()
	fx := &fixture{keys: keys, now: t0}
	opts = append(opts, WithClock(func() time.Time { return fx.now }))
	var err error
	fx.issuer, err = NewIssuer(keys, opts...)
	require.NoError(t, err)
	return fx
}

func defaultKeys() keyring.SigningKeys {
	return keyring.SigningKeys{Active: "k1", Keys: map[string]ed25519.PrivateKey{"k1": key(1)}}
}

func staffClaims() Claims {
	c := Claims{SessionID: "sess-1", Kind: "staff", MerchantID: "m-1", Role: "CASHIER"}
	c.Subject = "staff-1"
	return c
}

// sign builds a token the way Issue does, lets edit change its header and
// claims, and signs it with method and signingKey. Each forged token in the
// tests below differs from a valid one in exactly one way, so its rejection
// can only come from the rule under test.
func (fx *fixture) sign(t *testing.T, method jwt.SigningMethod, signingKey any, edit func(h map[string]any, c *Claims)) string {
	t.Helper()
	c := staffClaims()
	c.Issuer = "till"
	c.Audience = jwt.ClaimStrings{"till-api"}
	c.IssuedAt = jwt.NewNumericDate(fx.now)
	c.NotBefore = jwt.NewNumericDate(fx.now)
	c.ExpiresAt = jwt.NewNumericDate(fx.now.Add(time.Minute))
	c.ID = "0123456789abcdef0123456789abcdef"

	tok := jwt.NewWithClaims(method, &c)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = fx.keys.Active
	if edit != nil {
		edit(tok.Header, &c)
	}
	s, err := tok.SignedString(signingKey)
	require.NoError(t, err)
	return s
}

// signActive is sign with the method and key that Issue uses.
func (fx *fixture) signActive(t *testing.T, edit func(h map[string]any, c *Claims)) string {
	t.Helper()
	return fx.sign(t, jwt.SigningMethodEdDSA, fx.keys.Keys[fx.keys.Active], edit)
}

func (fx *fixture) issue(t *testing.T) string {
	t.Helper()
	s, _, err := fx.issuer.Issue(staffClaims())
	require.NoError(t, err)
	return s
}

// tamper replaces the token's role claim without re-signing.
func tamper(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(payload, &claims))
	claims["role"] = "OWNER"
	payload, err = json.Marshal(claims)
	require.NoError(t, err)
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func TestVerify(t *testing.T) {
	issued := func(t *testing.T, fx *fixture) string { return fx.issue(t) }
	tests := []struct {
		name string
		// token builds the token at time t0.
		token func(t *testing.T, fx *fixture) string
		// verifyAfter is how long after t0 the token is verified.
		verifyAfter time.Duration
		// wantErr is nil for a valid token; otherwise the error must wrap
		// both ErrInvalidToken and wantErr.
		wantErr error
		// wantMsg, if set, must appear in the error. It pins down the rule
		// where the library would also reject the token for another reason.
		wantMsg string
	}{
		{
			name:  "valid",
			token: issued,
		},
		{
			name:        "valid within leeway after expiry",
			token:       issued,
			verifyAfter: 15*time.Minute + 29*time.Second,
		},
		{
			name:        "expired beyond leeway",
			token:       issued,
			verifyAfter: 15*time.Minute + 30*time.Second,
			wantErr:     jwt.ErrTokenExpired,
		},
		{
			name:        "not yet valid",
			token:       issued,
			verifyAfter: -31 * time.Second,
			wantErr:     jwt.ErrTokenNotValidYet,
		},
		{
			name: "nbf in the future",
			token: func(t *testing.T, fx *fixture) string {
				return fx.signActive(t, func(_ map[string]any, c *Claims) {
					c.NotBefore = jwt.NewNumericDate(t0.Add(time.Minute))
				})
			},
			wantErr: jwt.ErrTokenNotValidYet,
		},
		{
			name: "iat in the future",
			token: func(t *testing.T, fx *fixture) string {
				return fx.signActive(t, func(_ map[string]any, c *Claims) {
					c.IssuedAt = jwt.NewNumericDate(t0.Add(time.Minute))
				})
			},
			wantErr: jwt.ErrTokenUsedBeforeIssued,
		},
		{
			name: "missing exp",
			token: func(t *testing.T, fx *fixture) string {
				return fx.signActive(t, func(_ map[string]any, c *Claims) { c.ExpiresAt = nil })
			},
			wantErr: jwt.ErrTokenRequiredClaimMissing,
		},
		{
			name: "tampered payload",
			token: func(t *testing.T, fx *fixture) string {
				return tamper(t, fx.issue(t))
			},
			wantErr: jwt.ErrTokenSignatureInvalid,
		},
		{
			name: "signed by another key with the same kid",
			token: func(t *testing.T, fx *fixture) string {
				return fx.sign(t, jwt.SigningMethodEdDSA, key(99), nil)
			},
			wantErr: jwt.ErrTokenSignatureInvalid,
		},
		{
			name: "unknown kid",
			token: func(t *testing.T, fx *fixture) string {
				return fx.signActive(t, func(h map[string]any, _ *Claims) { h["kid"] = "k-unknown" })
			},
			wantErr: errUnknownKey,
		},
		{
			name: "missing kid",
			token: func(t *testing.T, fx *fixture) string {
				return fx.signActive(t, func(h map[string]any, _ *Claims) { delete(h, "kid") })
			},
			wantErr: errUnknownKey,
		},
		{
			name: "alg none",
			token: func(t *testing.T, fx *fixture) string {
				return fx.sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil)
			},
			wantErr: jwt.ErrTokenSignatureInvalid,
			wantMsg: "signing method none is invalid",
		},
		{
			name: "HS256 keyed with the public key",
			token: func(t *testing.T, fx *fixture) string {
				pub := fx.keys.Keys[fx.keys.Active].Public().(ed25519.PublicKey)
				return fx.sign(t, jwt.SigningMethodHS256, []byte(pub), nil)
			},
			wantErr: jwt.ErrTokenSignatureInvalid,
			wantMsg: "signing method HS256 is invalid",
		},
		{
			name: "wrong iss",
			token: func(t *testing.T, fx *fixture) string {
				return fx.signActive(t, func(_ map[string]any, c *Claims) { c.Issuer = "someone-else" })
			},
			wantErr: jwt.ErrTokenInvalidIssuer,
		},
		{
			name: "wrong aud",
			token: func(t *testing.T, fx *fixture) string {
				return fx.signActive(t, func(_ map[string]any, c *Claims) { c.Audience = jwt.ClaimStrings{"other-api"} })
			},
			wantErr: jwt.ErrTokenInvalidAudience,
		},
		{
			name: "typ JWT",
			token: func(t *testing.T, fx *fixture) string {
				return fx.signActive(t, func(h map[string]any, _ *Claims) { h["typ"] = "JWT" })
			},
			wantErr: errWrongType,
		},
		{
			name: "typ missing",
			token: func(t *testing.T, fx *fixture) string {
				return fx.signActive(t, func(h map[string]any, _ *Claims) { delete(h, "typ") })
			},
			wantErr: errWrongType,
		},
		{
			name: "typ with media type prefix",
			token: func(t *testing.T, fx *fixture) string {
				return fx.signActive(t, func(h map[string]any, _ *Claims) { h["typ"] = "application/AT+JWT" })
			},
		},
		{
			name: "missing sub",
			token: func(t *testing.T, fx *fixture) string {
				return fx.signActive(t, func(_ map[string]any, c *Claims) { c.Subject = "" })
			},
			wantErr: errMissingSubject,
		},
		{
			name: "missing sid",
			token: func(t *testing.T, fx *fixture) string {
				return fx.signActive(t, func(_ map[string]any, c *Claims) { c.SessionID = "" })
			},
			wantErr: errMissingSessionID,
		},
		{
			name:    "malformed",
			token:   func(*testing.T, *fixture) string { return "not.a.jwt" },
			wantErr: jwt.ErrTokenMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, defaultKeys())
			token := tt.token(t, fx)
			fx.now = t0.Add(tt.verifyAfter)

			got, err := fx.issuer.Verify(token)
			if tt.wantErr == nil {
				require.NoError(t, err)
				require.Equal(t, "staff-1", got.Subject)
				require.Equal(t, "sess-1", got.SessionID)
				return
			}
			require.ErrorIs(t, err, ErrInvalidToken)
			require.ErrorIs(t, err, tt.wantErr)
			if tt.wantMsg != "" {
				require.ErrorContains(t, err, tt.wantMsg)
			}
			require.Nil(t, got)
		})
	}
}

func TestIssue(t *testing.T) {
	fx := newFixture(t, defaultKeys(), WithTTL(5*time.Minute))
	fx.now = t0.Add(500 * time.Millisecond)

	token, expiresAt, err := fx.issuer.Issue(staffClaims())
	require.NoError(t, err)
	require.Equal(t, t0.Add(5*time.Minute), expiresAt.UTC())

	got, err := fx.issuer.Verify(token)
	require.NoError(t, err)
	want := staffClaims()
	want.Issuer = "till"
	want.Audience = jwt.ClaimStrings{"till-api"}
	want.IssuedAt = jwt.NewNumericDate(t0)
	want.NotBefore = jwt.NewNumericDate(t0)
	want.ExpiresAt = jwt.NewNumericDate(expiresAt)
	require.Regexp(t, `^[0-9a-f]{32}$`, got.ID)
	want.ID = got.ID
	// Compare times as instants: the decoded ones are in the local zone.
	for _, d := range []*jwt.NumericDate{got.IssuedAt, got.NotBefore, got.ExpiresAt} {
		d.Time = d.UTC()
	}
	for _, d := range []*jwt.NumericDate{want.IssuedAt, want.NotBefore, want.ExpiresAt} {
		d.Time = d.UTC()
	}
	require.Equal(t, &want, got)

	parsed, _, err := jwt.NewParser().ParseUnverified(token, &Claims{})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": "k1"}, parsed.Header)

	other, _, err := fx.issuer.Issue(staffClaims())
	require.NoError(t, err)
	otherClaims, err := fx.issuer.Verify(other)
	require.NoError(t, err)
	require.NotEqual(t, got.ID, otherClaims.ID)
}

func TestIssueRequiresSubjectAndSession(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(c *Claims)
		wantErr error
	}{
		{name: "missing sub", edit: func(c *Claims) { c.Subject = "" }, wantErr: errMissingSubject},
		{name: "missing sid", edit: func(c *Claims) { c.SessionID = "" }, wantErr: errMissingSessionID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, defaultKeys())
			c := staffClaims()
			tt.edit(&c)
			token, _, err := fx.issuer.Issue(c)
			require.ErrorIs(t, err, tt.wantErr)
			require.Empty(t, token)
		})
	}
}

func TestRotation(t *testing.T) {
	old := newFixture(t, defaultKeys())
	oldToken := old.issue(t)

	rotated := newFixture(t, keyring.SigningKeys{
		Active: "k2",
		Keys:   map[string]ed25519.PrivateKey{"k1": key(1), "k2": key(2)},
	})
	_, err := rotated.issuer.Verify(oldToken)
	require.NoError(t, err, "token signed by the previous key must still verify")

	newToken := rotated.issue(t)
	parsed, _, err := jwt.NewParser().ParseUnverified(newToken, &Claims{})
	require.NoError(t, err)
	require.Equal(t, "k2", parsed.Header["kid"], "only the active key signs")
	_, err = rotated.issuer.Verify(newToken)
	require.NoError(t, err)

	retired := newFixture(t, keyring.SigningKeys{
		Active: "k2",
		Keys:   map[string]ed25519.PrivateKey{"k2": key(2)},
	})
	_, err = retired.issuer.Verify(oldToken)
	require.ErrorIs(t, err, ErrInvalidToken)
	require.ErrorIs(t, err, errUnknownKey)
}

func TestNewIssuer(t *testing.T) {
	tests := []struct {
		name    string
		keys    keyring.SigningKeys
		opts    []Option
		wantErr string
	}{
		{name: "valid", keys: defaultKeys()},
		{name: "no keys", keys: keyring.SigningKeys{}, wantErr: `active key "" not in keyring`},
		{
			name:    "active key missing",
			keys:    keyring.SigningKeys{Active: "k2", Keys: map[string]ed25519.PrivateKey{"k1": key(1)}},
			wantErr: `active key "k2" not in keyring`,
		},
		{
			name:    "truncated key",
			keys:    keyring.SigningKeys{Active: "k1", Keys: map[string]ed25519.PrivateKey{"k1": key(1)[:32]}},
			wantErr: `key "k1" is 32 bytes, want 64`,
		},
		{name: "zero ttl", keys: defaultKeys(), opts: []Option{WithTTL(0)}, wantErr: "ttl 0s is not positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i, err := NewIssuer(tt.keys, tt.opts...)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, i)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.Nil(t, i)
		})
	}
}
