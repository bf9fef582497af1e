package pii

import (
	"errors"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalidPhone and ErrInvalidEmail say a contact detail is not one.
var (
	ErrInvalidPhone = errors.New("not a valid phone number")
	ErrInvalidEmail = errors.New("not a valid email address")
)

// NormalizePhone returns phone in E.164 (+8613812345678). A number written
// without a country code is read as one of region (ISO 3166 alpha-2, e.g.
// CN), the merchant's country.
func NormalizePhone(phone, region string) (string, error) {
	num, err := phonenumbers.Parse(strings.TrimSpace(phone), strings.ToUpper(region))
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", ErrInvalidPhone
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// NormalizeEmail returns email trimmed and lower-cased, the form its blind
// index is taken of.
func NormalizeEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || !strings.Contains(email[strings.LastIndex(email, "@"):], ".") {
		return "", ErrInvalidEmail
	}
	return email, nil
}

// MaskPhone shows the first three and last four digits of a national
// number of ten digits or more, as receipts and cashier screens do
// (+8613812345678 → 138****5678); of a shorter one, only the last half, up
// to four digits (+85221234567 → ****4567).
func MaskPhone(e164 string) string {
	national := e164
	if num, err := phonenumbers.Parse(e164, ""); err == nil {
		national = phonenumbers.GetNationalSignificantNumber(num)
	}
	if len(national) >= 10 {
		return national[:3] + strings.Repeat("*", len(national)-7) + national[len(national)-4:]
	}
	shown := min(4, len(national)/2)
	return strings.Repeat("*", len(national)-shown) + national[len(national)-shown:]
}

// MaskEmail keeps the first character of the local part and the domain:
// mei.lin@lotus.example → m******@lotus.example.
func MaskEmail(email string) string {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" {
		return "***"
	}
	first, size := utf8.DecodeRuneInString(local)
	return string(first) + strings.Repeat("*", max(utf8.RuneCountInString(local[size:]), 2)) + "@" + domain
}
