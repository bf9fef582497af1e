// Package money holds the arithmetic that amounts (minor units, points)
// share: a part of a whole in proportion, without overflow.
package money

import "math/bits"

// MulDiv is a*b/c rounded down, for non-negative a and b and positive c:
// the product may pass int64 (10^12 × 10^12), so it is taken in 128 bits.
// The caller keeps the quotient within int64 (a ≤ c or b ≤ c).
func MulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(q)
}
