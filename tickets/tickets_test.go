package tickets

import (
	"testing"
	"time"

	"github.com/tillpos/till/ent/ticket"
)

func TestTicketSLA(t *testing.T) {
	t.Parallel()
	for p, want := range map[ticket.Priority]time.Duration{
		ticket.PriorityURGENT: 4 * time.Hour,
		ticket.PriorityHIGH:   24 * time.Hour,
		ticket.PriorityNORMAL: 72 * time.Hour,
		ticket.PriorityLOW:    7 * 24 * time.Hour,
	} {
		if got := SLA(p); got != want {
			t.Errorf("SLA(%s) = %s, want %s", p, got, want)
		}
	}
}

// TestTicketMerchantMovesAreTransitions: the merchant's moves are a subset
// of the operators', so a merchant is never allowed what is CONFLICT.
func TestTicketMerchantMovesAreTransitions(t *testing.T) {
	t.Parallel()
	for from, tos := range merchantMoves {
		for _, to := range tos {
			if !allowed(transitions, from, to) {
				t.Errorf("merchant move %s → %s is no transition", from, to)
			}
		}
	}
	for from, tos := range transitions {
		if allowed(transitions, from, from) {
			t.Errorf("%s → %s: a ticket does not move to its own status", from, from)
		}
		if len(tos) == 0 {
			t.Errorf("%s has no way out", from)
		}
	}
}
