package money_test

import (
	"testing"

	"github.com/tillpos/till/internal/money"
)

func TestMulDiv(t *testing.T) {
	tests := []struct{ a, b, c, want int64 }{
		{0, 5, 3, 0},
		{7, 3, 2, 10}, // 10.5 rounds down
		{1, 1, 3, 0},
		{1_000_000_000_000, 1_000_000_000_000, 1_000_000_000_000, 1_000_000_000_000}, // the product passes int64
		{999_999_999_999, 1_000_000_000_000, 1_000_000_000_000, 999_999_999_999},
	}
	for _, tt := range tests {
		if got := money.MulDiv(tt.a, tt.b, tt.c); got != tt.want {
			t.Errorf("MulDiv(%d, %d, %d) = %d, want %d", tt.a, tt.b, tt.c, got, tt.want)
		}
	}
}
