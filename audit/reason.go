package audit

import (
	"strings"
	"unicode/utf8"

	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/pan"
)

// MaxReasonRunes bounds the reason a staff member gives for a change made
// by hand (a balance adjustment).
const MaxReasonRunes = 500

// Reason is a reason given for a change made by hand, trimmed; a blank or
// over-long one, or one holding a card number, is BAD_USER_INPUT on
// "reason".
func Reason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > MaxReasonRunes {
		return "", errs.Invalid("reason", "give a reason of 1 to %d characters", MaxReasonRunes)
	}
	if err := pan.Check("reason", reason); err != nil {
		return "", err
	}
	return reason, nil
}
