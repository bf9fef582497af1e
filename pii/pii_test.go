package pii_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/keyring"
	"github.com/tillpos/till/pii"
)

// newKeys returns a fresh PII key set and blind-index key, as the server
// generates them.
func newKeys(t *testing.T) (keyring.AEADKeys, []byte) {
	t.Helper()
	k, err := keyring.Generate()
	require.NoError(t, err)
	return k.PII, k.BlindIndex
}

func newBox(t *testing.T) *pii.Box {
	t.Helper()
	keys, index := newKeys(t)
	b, err := pii.New(keys, index)
	require.NoError(t, err)
	return b
}

// rotated returns keys whose active key is a new one, still holding every
// key of old.
func rotated(t *testing.T, old keyring.AEADKeys) keyring.AEADKeys {
	t.Helper()
	fresh, _ := newKeys(t)
	require.NotContains(t, old.Keys, fresh.Active)
	out := keyring.AEADKeys{Active: fresh.Active, Keys: map[string][]byte{fresh.Active: fresh.Keys[fresh.Active]}}
	for kid, key := range old.Keys {
		out.Keys[kid] = key
	}
	return out
}

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	tests := []struct{ name, plain, context string }{
		{"phone", "+8613812345678", "cus_1|phone"},
		{"email", "mei.lin@lotus.example", "cus_1|email"},
		{"unicode address", "上海市黄浦区南京东路 1 号", "cus_1|address"},
		{"empty value", "", "cus_1|notes"},
		{"empty context", "secret", ""},
		{"long value", strings.Repeat("x", 10_000), "cus_1|address"},
		{"dots in value and context", "a.b.c", "x.y|z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sealed := b.Seal(tt.plain, tt.context)
			require.Equal(t, b.ActiveKeyID(), pii.KeyID(sealed))
			require.True(t, strings.HasPrefix(sealed, b.ActiveKeyID()+"."), sealed)
			if tt.plain != "" {
				require.NotContains(t, sealed, tt.plain, "the sealed value must not show the plaintext")
			}
			got, err := b.Open(sealed, tt.context)
			require.NoError(t, err)
			require.Equal(t, tt.plain, got)
		})
	}
}

func TestSealUsesAFreshNonce(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	seen := map[string]bool{}
	for range 50 {
		s := b.Seal("+8613812345678", "cus_1|phone")
		require.False(t, seen[s], "two seals of the same value must differ")
		seen[s] = true
		got, err := b.Open(s, "cus_1|phone")
		require.NoError(t, err)
		require.Equal(t, "+8613812345678", got)
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	keys, index := newKeys(t)
	b, err := pii.New(keys, index)
	require.NoError(t, err)
	const plain, ctx = "+8613812345678", "cus_1|phone"
	sealed := b.Seal(plain, ctx)
	kid, body, ok := strings.Cut(sealed, ".")
	require.True(t, ok)
	raw, err := base64.RawURLEncoding.DecodeString(body)
	require.NoError(t, err)
	require.Greater(t, len(raw), 12+16, "nonce, ciphertext and tag")

	flip := func(i int) string {
		r := bytes.Clone(raw)
		r[i] ^= 0x01
		return kid + "." + base64.RawURLEncoding.EncodeToString(r)
	}
	// A second key under another id in the same box: a value relabelled
	// with it must not open.
	other, _ := newKeys(t)
	both := keyring.AEADKeys{Active: keys.Active, Keys: map[string][]byte{keys.Active: keys.Keys[keys.Active], other.Active: other.Keys[other.Active]}}
	b2, err := pii.New(both, index)
	require.NoError(t, err)

	tests := []struct {
		name    string
		box     *pii.Box
		sealed  string
		context string
		unknown bool // want ErrUnknownKey
	}{
		{name: "wrong context (another customer)", box: b, sealed: sealed, context: "cus_2|phone"},
		{name: "wrong context (another field)", box: b, sealed: sealed, context: "cus_1|email"},
		{name: "empty context", box: b, sealed: sealed, context: ""},
		{name: "tampered nonce", box: b, sealed: flip(0), context: ctx},
		{name: "tampered ciphertext", box: b, sealed: flip(12), context: ctx},
		{name: "tampered tag", box: b, sealed: flip(len(raw) - 1), context: ctx},
		{name: "truncated by one byte", box: b, sealed: kid + "." + base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]), context: ctx},
		{name: "truncated to the nonce", box: b, sealed: kid + "." + base64.RawURLEncoding.EncodeToString(raw[:12]), context: ctx},
		{name: "shorter than a nonce", box: b, sealed: kid + "." + base64.RawURLEncoding.EncodeToString(raw[:5]), context: ctx},
		{name: "empty body", box: b, sealed: kid + ".", context: ctx},
		{name: "no key id", box: b, sealed: body, context: ctx, unknown: false},
		{name: "empty string", box: b, sealed: "", context: ctx},
		{name: "not base64", box: b, sealed: kid + ".!!!not*base64!!!", context: ctx},
		{name: "padded base64", box: b, sealed: kid + "." + base64.URLEncoding.EncodeToString(raw) + "==", context: ctx},
		{name: "extra data appended", box: b, sealed: sealed + "AAAA", context: ctx},
		{name: "unknown key id", box: b, sealed: "k00000000." + body, context: ctx, unknown: true},
		{name: "empty key id", box: b, sealed: "." + body, context: ctx, unknown: true},
		{name: "relabelled with another known key", box: b2, sealed: other.Active + "." + body, context: ctx},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.box.Open(tt.sealed, tt.context)
			require.Error(t, err)
			require.Empty(t, got)
			require.Equal(t, tt.unknown, errors.Is(err, pii.ErrUnknownKey), "%v", err)
			require.NotContains(t, err.Error(), plain)
		})
	}
	// The untouched value still opens: the failures above are the changes'.
	got, err := b.Open(sealed, ctx)
	require.NoError(t, err)
	require.Equal(t, plain, got)
}

func TestOpenUnderAnotherKeyringIsUnknownKey(t *testing.T) {
	t.Parallel()
	a, b := newBox(t), newBox(t)
	_, err := b.Open(a.Seal("x", "c"), "c")
	require.ErrorIs(t, err, pii.ErrUnknownKey)
	require.Contains(t, err.Error(), a.ActiveKeyID(), "the error names the missing key")
}

func TestRotation(t *testing.T) {
	t.Parallel()
	oldKeys, index := newKeys(t)
	oldBox, err := pii.New(oldKeys, index)
	require.NoError(t, err)
	newKeys := rotated(t, oldKeys)
	newBox, err := pii.New(newKeys, index)
	require.NoError(t, err)

	require.Equal(t, oldKeys.Active, oldBox.ActiveKeyID())
	require.Equal(t, newKeys.Active, newBox.ActiveKeyID())
	require.NotEqual(t, oldBox.ActiveKeyID(), newBox.ActiveKeyID())

	sealedOld := oldBox.Seal("+8613812345678", "cus_1|phone")
	sealedNew := newBox.Seal("+8613812345678", "cus_1|phone")
	require.Equal(t, oldKeys.Active, pii.KeyID(sealedOld))
	require.Equal(t, newKeys.Active, pii.KeyID(sealedNew))

	// The new box opens both; the old box cannot open what it never had.
	for _, s := range []string{sealedOld, sealedNew} {
		got, err := newBox.Open(s, "cus_1|phone")
		require.NoError(t, err)
		require.Equal(t, "+8613812345678", got)
	}
	_, err = oldBox.Open(sealedNew, "cus_1|phone")
	require.ErrorIs(t, err, pii.ErrUnknownKey)

	// Once the old key is dropped, only values under it stop opening.
	onlyNew := keyring.AEADKeys{Active: newKeys.Active, Keys: map[string][]byte{newKeys.Active: newKeys.Keys[newKeys.Active]}}
	retired, err := pii.New(onlyNew, index)
	require.NoError(t, err)
	_, err = retired.Open(sealedOld, "cus_1|phone")
	require.ErrorIs(t, err, pii.ErrUnknownKey)
	got, err := retired.Open(sealedNew, "cus_1|phone")
	require.NoError(t, err)
	require.Equal(t, "+8613812345678", got)

	// Blind indexes do not depend on the PII keys: lookups keep working
	// across a rotation.
	require.Equal(t, oldBox.Index("mer_1", "phone", "+8613812345678"), newBox.Index("mer_1", "phone", "+8613812345678"))
}

func TestKeyID(t *testing.T) {
	t.Parallel()
	tests := []struct{ sealed, want string }{
		{"k1a2b3c4d.AAAA", "k1a2b3c4d"},
		{"p1.a.b", "p1"},
		{".AAAA", ""},
		{"nodot", "nodot"},
		{"", ""},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, pii.KeyID(tt.sealed), "%q", tt.sealed)
	}
}

func TestIndex(t *testing.T) {
	t.Parallel()
	keys, index := newKeys(t)
	b, err := pii.New(keys, index)
	require.NoError(t, err)
	base := b.Index("mer_1", "phone", "+8613812345678")

	require.Len(t, base, 32, "128 bits, hex")
	require.Equal(t, strings.ToLower(base), base)
	require.Equal(t, base, b.Index("mer_1", "phone", "+8613812345678"), "deterministic")
	require.NotContains(t, base, "8613812345678", "not the plaintext")

	// The same index key in another Box (another process) agrees.
	again, err := pii.New(keys, bytes.Clone(index))
	require.NoError(t, err)
	require.Equal(t, base, again.Index("mer_1", "phone", "+8613812345678"))

	otherKey := make([]byte, 32)
	_, _ = rand.Read(otherKey)
	differentKey, err := pii.New(keys, otherKey)
	require.NoError(t, err)

	differs := []struct {
		name string
		got  string
	}{
		{"another merchant", b.Index("mer_2", "phone", "+8613812345678")},
		{"another kind", b.Index("mer_1", "email", "+8613812345678")},
		{"another value", b.Index("mer_1", "phone", "+8613812345679")},
		{"empty scope", b.Index("", "phone", "+8613812345678")},
		{"parts shifted across the separator", b.Index("mer_1p", "hone", "+8613812345678")},
		{"parts joined", b.Index("mer_1phone", "", "+8613812345678")},
		{"another index key", differentKey.Index("mer_1", "phone", "+8613812345678")},
	}
	seen := map[string]string{base: "base"}
	for _, d := range differs {
		require.NotEqual(t, base, d.got, d.name)
		require.NotContains(t, seen, d.got, "%s collides with %s", d.name, seen[d.got])
		seen[d.got] = d.name
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	keys, index := newKeys(t)
	key := keys.Keys[keys.Active]
	tests := []struct {
		name  string
		keys  keyring.AEADKeys
		index []byte
	}{
		{"active key missing", keyring.AEADKeys{Active: "k2", Keys: map[string][]byte{"k1": key}}, index},
		{"no active key id", keyring.AEADKeys{Keys: map[string][]byte{"k1": key}}, index},
		{"no keys", keyring.AEADKeys{Active: "k1"}, index},
		{"short index key", keys, index[:31]},
		{"no index key", keys, nil},
		{"key id with a dot", keyring.AEADKeys{Active: "k.1", Keys: map[string][]byte{"k.1": key}}, index},
		{"inactive key id with a dot", keyring.AEADKeys{Active: "k1", Keys: map[string][]byte{"k1": key, "old.1": key}}, index},
		{"key of a bad size", keyring.AEADKeys{Active: "k1", Keys: map[string][]byte{"k1": key[:7]}}, index},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := pii.New(tt.keys, tt.index)
			require.Error(t, err)
			require.Nil(t, b)
			require.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString(key), "errors never show key bytes")
		})
	}
	// The same keys with a long enough index key are fine.
	b, err := pii.New(keys, append(bytes.Clone(index), 1, 2, 3))
	require.NoError(t, err)
	require.Equal(t, keys.Active, b.ActiveKeyID())
}
