package password

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

func TestHashVerify(t *testing.T) {
	h := NewHasher(bcrypt.MinCost)
	const secret = "correct horse battery"
	hash, err := h.Hash(secret)
	require.NoError(t, err)
	cost, err := bcrypt.Cost([]byte(hash))
	require.NoError(t, err)
	require.Equal(t, bcrypt.MinCost, cost)

	other, err := h.Hash(secret)
	require.NoError(t, err)
	require.NotEqual(t, hash, other, "hashes must be salted")

	longest := strings.Repeat("m", 72)
	maxHash, err := h.Hash(longest)
	require.NoError(t, err)

	tests := []struct {
		name   string
		hash   string
		secret string
		want   bool
	}{
		{name: "match", hash: hash, secret: secret, want: true},
		{name: "wrong secret", hash: hash, secret: "correct horse battery!"},
		{name: "case differs", hash: hash, secret: "Correct horse battery"},
		{name: "empty secret", hash: hash, secret: ""},
		{name: "empty hash", hash: "", secret: secret},
		{name: "garbage hash", hash: "not a bcrypt hash at all, but long enough to parse", secret: secret},
		{name: "truncated hash", hash: hash[:len(hash)-1], secret: secret},
		{name: "72 bytes match", hash: maxHash, secret: longest, want: true},
		// bcrypt alone would accept this: it ignores bytes after the 72nd.
		{name: "73 bytes sharing 72", hash: maxHash, secret: longest + "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, h.Verify(tt.hash, tt.secret))
		})
	}
}

func TestHashTooLong(t *testing.T) {
	_, err := NewHasher(bcrypt.MinCost).Hash(strings.Repeat("x", 73))
	require.ErrorIs(t, err, bcrypt.ErrPasswordTooLong)
}

func TestWasteUsesHasherCost(t *testing.T) {
	h := NewHasher(bcrypt.MinCost + 1)
	cost, err := bcrypt.Cost(h.dummy)
	require.NoError(t, err)
	require.Equal(t, bcrypt.MinCost+1, cost)
	h.Waste("anything")
}

func TestNewHasherRejectsBadCost(t *testing.T) {
	for _, cost := range []int{0, bcrypt.MinCost - 1, bcrypt.MaxCost + 1} {
		require.Panics(t, func() { NewHasher(cost) }, "cost %d", cost)
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		name     string
		password string
		email    string
		wantErr  string
	}{
		{name: "ok", password: "tulip-garden-42", email: "ann@example.com"},
		{name: "9 chars", password: "abcdefgh1", wantErr: "at least 10 characters"},
		{name: "10 chars", password: "abcdefgh12"},
		// 10 runes but 20 bytes: length counts characters, not bytes.
		{name: "10 multibyte chars", password: "ééééééééé1"},
		{name: "9 multibyte chars", password: "éééééééé1", wantErr: "at least 10 characters"},
		{name: "72 bytes", password: strings.Repeat("ab", 36)},
		{name: "73 bytes", password: strings.Repeat("ab", 36) + "c", wantErr: "at most 72 bytes"},
		// 37 runes but 74 bytes.
		{name: "multibyte over 72 bytes", password: strings.Repeat("é", 36) + "a", wantErr: "at most 72 bytes"},
		{name: "email", password: "ann.smith@example.com", email: "ann.smith@example.com", wantErr: "must not be your email address"},
		{name: "email other case", password: "Ann.Smith@Example.com", email: "ann.smith@example.com", wantErr: "must not be your email address"},
		{name: "local part", password: "annabelle.smith", email: "annabelle.smith@example.com", wantErr: "must not be the name part"},
		{name: "local part other case", password: "AnnaBelle.Smith", email: "annabelle.smith@example.com", wantErr: "must not be the name part"},
		{name: "contains local part", password: "annabelle.smith!", email: "annabelle.smith@example.com"},
		{name: "no email", password: "tulip-garden-42", email: ""},
		{name: "same character", password: "aaaaaaaaaaaa", wantErr: "must not repeat a single character"},
		{name: "same multibyte character", password: "éééééééééé", wantErr: "must not repeat a single character"},
		{name: "almost same character", password: "aaaaaaaaaaab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPassword(tt.password, tt.email)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			var pe *PolicyError
			require.ErrorAs(t, err, &pe)
			require.Contains(t, pe.Reason, tt.wantErr)
			require.Equal(t, pe.Reason, err.Error())
		})
	}
}

func TestCheckPIN(t *testing.T) {
	const (
		badFormat = "must be 4 to 8 digits"
		repeated  = "must not repeat a single digit"
		run       = "must not be a run of consecutive digits"
	)
	tests := []struct {
		pin     string
		wantErr string
	}{
		{pin: "2580"},
		{pin: "1357"},
		{pin: "90210"},
		{pin: "80246802"},
		{pin: "", wantErr: badFormat},
		{pin: "123", wantErr: badFormat},
		{pin: "2468013579", wantErr: badFormat},
		{pin: "805a", wantErr: badFormat},
		{pin: " 8051", wantErr: badFormat},
		{pin: "٨٠٥١", wantErr: badFormat}, // Arabic-Indic digits are not ASCII
		{pin: "1111", wantErr: repeated},
		{pin: "00000000", wantErr: repeated},
		{pin: "1234", wantErr: run},
		{pin: "0123", wantErr: run},
		{pin: "4321", wantErr: run},
		{pin: "98765", wantErr: run},
		{pin: "12345678", wantErr: run},
		{pin: "1233"},
		{pin: "8901"},
	}
	for _, tt := range tests {
		t.Run(tt.pin, func(t *testing.T) {
			err := CheckPIN(tt.pin)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			var pe *PolicyError
			require.ErrorAs(t, err, &pe)
			require.Contains(t, pe.Reason, tt.wantErr)
		})
	}
}
