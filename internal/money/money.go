// Package money holds the arithmetic that amounts (minor units, points)
// share: a part of a whole in proportion, without overflow, and printing
// minor units as decimals.
package money

import (
	"fmt"
	"math/bits"

	"golang.org/x/text/currency"
)

// MulDiv is a*b/c rounded down, for non-negative a and b and positive c:
// the product may pass int64 (10^12 × 10^12), so it is taken in 128 bits.
// The caller keeps the quotient within int64 (a ≤ c or b ≤ c).
func MulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(q)
}

// Scale is how many decimals an ISO 4217 currency's amounts have:
// 2 for CNY, 0 for JPY, 3 for KWD; 2 for a code it does not know.
func Scale(code string) int {
	scale := 2
	if unit, err := currency.ParseISO(code); err == nil {
		scale, _ = currency.Standard.Rounding(unit)
	}
	return scale
}

// Format prints v minor units as a decimal amount with scale
// decimals: 1250 at scale 2 is "12.50". Integer arithmetic only.
func Format(v int64, scale int) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	if scale == 0 {
		return fmt.Sprintf("%s%d", sign, v)
	}
	pow := int64(1)
	for range scale {
		pow *= 10
	}
	return fmt.Sprintf("%s%d.%0*d", sign, v/pow, scale, v%pow)
}
