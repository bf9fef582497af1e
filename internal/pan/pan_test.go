package pan

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/errs"
)

func TestContains(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"4111111111111111", true},              // Visa test number
		{"4111 1111 1111 1111", true},           // as printed
		{"4111-1111-1111-1111", true},           // as typed
		{"ref 5555555555554444 ok", true},       // inside other text
		{"378282246310005", true},               // Amex, 15 digits
		{"6200000000000005", true},              // UnionPay
		{"2223003122003222", true},              // Mastercard 2-series
		{"4111111111111112", false},             // fails Luhn
		{"4242", false},                         // last four
		{"9111111111111111", false},             // no card scheme starts with 9
		{"4200000000000000000000000000", false}, // 28-digit wallet transaction number
		{"T20261123000123", false},              // processor reference
		{"", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Contains(tt.in), tt.in)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	require.NoError(t, Check("reason", "damaged on arrival"))
	err := Check("reason", "card 4111 1111 1111 1111 declined")
	e, ok := errs.As(err)
	require.True(t, ok)
	require.Equal(t, errs.BadUserInput, e.Code)
	require.Equal(t, "reason", e.Field)
	require.NotContains(t, e.Message, "1111")
}
