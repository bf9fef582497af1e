// Package pan spots full payment card numbers (primary account numbers)
// in text a client sends. Till never stores one (ARCHITECTURE.md §6), so
// every free-text field that is kept is checked with it.
package pan

import "github.com/tillpos/till/errs"

// Contains reports whether s holds a run of 13 to 19 digits (spaces and
// dashes between them allowed, as card numbers are written) that starts
// like a card scheme's number and passes the Luhn check. Wallet
// transaction numbers (28 digits for WeChat Pay and Alipay) are longer and
// pass. Barcodes are not checked with it: an EAN-13 can pass.
func Contains(s string) bool {
	var digits []byte
	check := func() bool {
		ok := len(digits) >= 13 && len(digits) <= 19 && cardPrefix(digits) && luhn(digits)
		digits = digits[:0]
		return ok
	}
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits = append(digits, byte(r-'0'))
		case r == ' ' || r == '-':
		default:
			if check() {
				return true
			}
		}
	}
	return check()
}

// Check refuses text holding a card number with BAD_USER_INPUT on field;
// the message never repeats the number.
func Check(field, text string) error {
	if Contains(text) {
		return errs.Invalid(field, "this looks like a full card number, which is never stored")
	}
	return nil
}

// cardPrefix reports whether digits start like a payment card number:
// the major industry identifiers 3 (Amex, JCB, Diners), 4 (Visa), 5
// (Mastercard), 6 (Discover, UnionPay) and Mastercard's 2221–2720.
func cardPrefix(digits []byte) bool {
	switch digits[0] {
	case 3, 4, 5, 6:
		return true
	case 2:
		n := int(digits[1])*100 + int(digits[2])*10 + int(digits[3])
		return n >= 221 && n <= 720
	}
	return false
}

// luhn reports whether digits pass the Luhn checksum.
func luhn(digits []byte) bool {
	sum := 0
	for i := range digits {
		d := int(digits[len(digits)-1-i])
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}
