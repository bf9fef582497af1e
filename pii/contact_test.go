package pii_test

import (
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/pii"
)

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	const cn, us = "+8613812345678", "+14155552671"
	tests := []struct {
		phone, region, want string
	}{
		// A Chinese mobile, however the cashier types it.
		{"13812345678", "CN", cn},
		{"138 1234 5678", "CN", cn},
		{"138-1234-5678", "CN", cn},
		{"  13812345678\t", "CN", cn},
		{"+86 138 1234 5678", "CN", cn},
		{"+86-138-1234-5678", "CN", cn},
		{"(+86) 138 1234 5678", "CN", cn},
		{"0086 138 1234 5678", "CN", cn},
		{"86 13812345678", "CN", cn},
		{"+8613812345678", "", cn},
		{"138１２３４５６７８", "CN", cn}, // full-width digits from a CJK keyboard
		{"13812345678", "cn", cn}, // region is case-insensitive
		// With a country code the merchant's region does not matter.
		{"+86 138 1234 5678", "US", cn},
		// A Beijing landline.
		{"010 6552 9988", "CN", "+861065529988"},
		// A US number.
		{"(415) 555-2671", "US", us},
		{"415-555-2671", "US", us},
		{"415.555.2671", "US", us},
		{"1 (415) 555-2671", "US", us},
		{"+1 415 555 2671", "US", us},
		{"+1 415 555 2671", "CN", us},
		{"011 1 415 555 2671", "US", us},
		{"+14155552671", "", us},
	}
	for _, tt := range tests {
		t.Run(tt.phone+"@"+tt.region, func(t *testing.T) {
			t.Parallel()
			got, err := pii.NormalizePhone(tt.phone, tt.region)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			// Normalising is idempotent.
			again, err := pii.NormalizePhone(got, tt.region)
			require.NoError(t, err)
			require.Equal(t, got, again)
		})
	}
}

func TestNormalizePhoneRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct{ phone, region string }{
		{"", "CN"},
		{"   ", "CN"},
		{"abc", "CN"},
		{"12345", "CN"},
		{"1381234567", "CN"},   // a digit short
		{"138123456789", "CN"}, // a digit long
		{"+86 123", "CN"},
		{"+1 415 555 267", "US"},
		{"13812345678", ""},   // no country code and no region
		{"13812345678", "ZZ"}, // unknown region
		{"+999 1234567", "CN"},
	}
	for _, tt := range tests {
		t.Run(tt.phone+"@"+tt.region, func(t *testing.T) {
			t.Parallel()
			got, err := pii.NormalizePhone(tt.phone, tt.region)
			require.ErrorIs(t, err, pii.ErrInvalidPhone)
			require.Empty(t, got)
		})
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"mei.lin@lotus.example", "mei.lin@lotus.example"},
		{"Mei.Lin@Lotus.Example", "mei.lin@lotus.example"},
		{"  MEI@LOTUS.EXAMPLE \n", "mei@lotus.example"},
		{"a@b.co", "a@b.co"},
		{"mei+till@lotus.example", "mei+till@lotus.example"},
		{"用户@例子.中国", "用户@例子.中国"},
	}
	for _, tt := range tests {
		got, err := pii.NormalizeEmail(tt.in)
		require.NoError(t, err, "%q", tt.in)
		require.Equal(t, tt.want, got, "%q", tt.in)
	}
	for _, bad := range []string{
		"", "   ", "mei", "mei@", "@lotus.example", "mei@lotus", "mei@localhost", "mei@@lotus.example",
		"mei lin@lotus.example", "Mei <mei@lotus.example>", "mei@lotus.example, b@lotus.example",
		`"mei lin"@lotus.example`, "mei.@lotus.example", "mei@lotus.example.",
	} {
		got, err := pii.NormalizeEmail(bad)
		require.ErrorIs(t, err, pii.ErrInvalidEmail, "%q", bad)
		require.Empty(t, got, "%q", bad)
	}
}

// example is the E.164 example number libphonenumber has for region's
// fixed lines, for countries with short numbers.
func example(t *testing.T, region string) string {
	t.Helper()
	num := phonenumbers.GetExampleNumber(region)
	require.NotNil(t, num, region)
	return phonenumbers.Format(num, phonenumbers.E164)
}

func TestMaskPhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, e164, want string
	}{
		{"CN mobile", "+8613812345678", "138****5678"},
		{"CN landline", "+861065529988", "106***9988"},
		{"US", "+14155552671", "415***2671"},
		{"UK mobile", "+447911123456", "791***3456"},
		// Fewer than ten digits: only the last half shows, at most four.
		{"HK, 8 digits", "+85221234567", "****4567"},
		{"IS, 7 digits", "+3541234567", "****567"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, pii.MaskPhone(tt.e164))
		})
	}

	// Countries with four- and five-digit numbers: the last two digits show
	// and the rest are stars, so the length is kept.
	for _, region := range []string{"NU", "TK", "SH", "FK"} {
		t.Run("short "+region, func(t *testing.T) {
			t.Parallel()
			e164 := example(t, region)
			num, err := phonenumbers.Parse(e164, "")
			require.NoError(t, err)
			national := phonenumbers.GetNationalSignificantNumber(num)
			require.LessOrEqual(t, len(national), 7, "%s %s", region, e164)
			want := strings.Repeat("*", len(national)-2) + national[len(national)-2:]
			require.Equal(t, want, pii.MaskPhone(e164), "%s %s", region, e164)
		})
	}

	// Whatever the number, a mask hides some digits and never shows the
	// whole national number.
	for region := range phonenumbers.GetSupportedRegions() {
		num := phonenumbers.GetExampleNumberForType(region, phonenumbers.MOBILE)
		if num == nil {
			continue
		}
		national := phonenumbers.GetNationalSignificantNumber(num)
		masked := pii.MaskPhone(phonenumbers.Format(num, phonenumbers.E164))
		require.Contains(t, masked, "*", "%s %s", region, national)
		require.NotContains(t, masked, national, region)
		require.Len(t, masked, len(national), "%s: one character per digit", region)
	}
}

func TestMaskEmail(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"mei.lin@lotus.example", "m******@lotus.example"},
		{"mei@lotus.example", "m**@lotus.example"},
		{"ab@lotus.example", "a**@lotus.example"},
		// A one-character local part still gets stars, so its length does
		// not show.
		{"a@lotus.example", "a**@lotus.example"},
		{"用户名@例子.中国", "用**@例子.中国"},
		{"é@lotus.example", "é**@lotus.example"},
		{"@lotus.example", "***"},
		{"not-an-email", "***"},
		{"", "***"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, pii.MaskEmail(tt.in))
		})
	}
}
