package receipts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/receiptdelivery"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/notify/email"
	"github.com/tillpos/till/notify/sms"
)

// Deliver is the outbox handler of TopicRequested: it sends the receipt
// the event's delivery asks for and records the outcome on it. A delivery
// already SENT or FAILED is left alone, so a repeated event sends nothing.
// A permanent rejection (no such mailbox, invalid number) marks it FAILED
// and returns the error, which the outbox dead-letters; any other failure
// counts an attempt and returns the error to be retried.
//
// Errors never carry the address in clear: it is replaced by its mask, in
// last_error and in what the outbox keeps.
func (s *Service) Deliver(ctx context.Context, e *ent.OutboxEvent) error {
	ctx = viewer.NewSystemContext(ctx, "receipt delivery")
	d, err := s.db.ReceiptDelivery.Get(ctx, pulid.ID(e.SubjectID))
	if ent.IsNotFound(err) {
		// The customer was erased before it went: nothing to send.
		return nil
	}
	if err != nil {
		return fmt.Errorf("loading receipt delivery: %w", err)
	}
	if d.Status != receiptdelivery.StatusQUEUED {
		return nil
	}
	to, err := s.box.Open(d.DestinationEnc, SealContext(d.ID))
	if err != nil {
		return s.fail(ctx, d, permanent{fmt.Errorf("opening the destination: %w", err)})
	}
	sl, err := s.db.Sale.Get(ctx, d.SaleID)
	if err != nil {
		return fmt.Errorf("loading sale: %w", err)
	}
	r, err := s.sales.Receipt(ctx, sl)
	if err != nil {
		return err
	}
	m, err := s.db.Merchant.Get(ctx, d.MerchantID)
	if err != nil {
		return fmt.Errorf("loading merchant: %w", err)
	}
	if d.Channel == receiptdelivery.ChannelEMAIL {
		msg := renderEmail(m.Locale, r)
		msg.To = to
		err = s.email.Send(ctx, msg)
	} else {
		err = s.sms.Send(ctx, sms.Message{To: to, Body: renderSMS(m.Locale, r)})
	}
	if err != nil {
		return s.fail(ctx, d, &masked{msg: strings.ReplaceAll(err.Error(), to, d.DestinationMasked), err: err})
	}
	err = s.db.ReceiptDelivery.UpdateOne(d).
		SetStatus(receiptdelivery.StatusSENT).SetSentAt(s.now()).AddAttempts(1).ClearLastError().
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("marking receipt delivery sent: %w", err)
	}
	return nil
}

// fail records a failed attempt: FAILED when err is permanent, still
// QUEUED (for the outbox to retry) otherwise. It returns err.
func (s *Service) fail(ctx context.Context, d *ent.ReceiptDelivery, err error) error {
	upd := s.db.ReceiptDelivery.UpdateOne(d).AddAttempts(1).SetLastError(truncate(err.Error(), 1000))
	var p interface{ Permanent() bool }
	if errors.As(err, &p) && p.Permanent() {
		upd.SetStatus(receiptdelivery.StatusFAILED)
	}
	if uerr := upd.Exec(ctx); uerr != nil {
		return errors.Join(err, fmt.Errorf("recording the failure: %w", uerr))
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary so the column holds valid UTF-8.
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// permanent marks an error retrying cannot fix.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }
func (permanent) Permanent() bool { return true }

// masked is a sender's error with the address masked in its message; the
// sender's error stays in the chain, so Permanent and RetryAfter still
// answer.
type masked struct {
	msg string
	err error
}

func (m *masked) Error() string { return m.msg }
func (m *masked) Unwrap() error { return m.err }

var (
	_ interface{ Permanent() bool }           = (*email.Error)(nil)
	_ interface{ RetryAfter() time.Duration } = (*sms.Error)(nil)
)
