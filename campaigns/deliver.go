package campaigns

import (
	"context"
	"errors"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/campaign"
	"github.com/tillpos/till/ent/campaignmessage"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/notify/email"
	"github.com/tillpos/till/notify/sms"
)

// lease is how long a delivery holds its message: long enough for a slow
// provider, short enough that a delivery that died is retried soon.
const lease = 2 * time.Minute

// retryLater asks the outbox to try again after a delay.
type retryLater struct {
	reason string
	after  time.Duration
}

func (e *retryLater) Error() string             { return e.reason }
func (e *retryLater) RetryAfter() time.Duration { return e.after }

// permanent is an error retrying cannot fix.
type permanent interface{ Permanent() bool }

// Deliver is the outbox handler of Topic: it sends one queued campaign
// message. It leases the message first, so a repeat of the event while a
// delivery is in flight waits rather than sends again, and a message
// already decided is left alone: calling it twice never sends twice. It
// checks consent again (the customer may have opted out since the
// campaign was sent) and the contact detail, adds the way to opt out and
// sends. A provider's permanent refusal is the message's outcome (FAILED,
// nil returned); any other failure is returned for the outbox to retry,
// the message kept QUEUED with its last error.
func (s *Service) Deliver(ctx context.Context, e *ent.OutboxEvent) error {
	ctx = viewer.NewSystemContext(ctx, "campaign-deliver")
	id := pulid.ID(e.SubjectID)
	now := s.now()
	n, err := s.db.CampaignMessage.Update().
		Where(campaignmessage.ID(id), campaignmessage.MerchantID(e.MerchantID),
			campaignmessage.StatusEQ(campaignmessage.StatusQUEUED),
			campaignmessage.Or(campaignmessage.LeaseUntilIsNil(), campaignmessage.LeaseUntilLT(now))).
		SetLeaseUntil(now.Add(lease)).AddAttempts(1).Save(ctx)
	if err != nil {
		return fmt.Errorf("leasing campaign message: %w", err)
	}
	msg, err := s.db.CampaignMessage.Query().
		Where(campaignmessage.ID(id), campaignmessage.MerchantID(e.MerchantID)).
		WithCampaign(func(q *ent.CampaignQuery) { q.WithOffer() }).WithCustomer().Only(ctx)
	if ent.IsNotFound(err) {
		return nil // nothing left to deliver
	}
	if err != nil {
		return fmt.Errorf("loading campaign message: %w", err)
	}
	if n == 0 {
		if msg.Status != campaignmessage.StatusQUEUED {
			return nil // delivered (or decided) already
		}
		wait := time.Second // the other delivery let go between our claim and read
		if msg.LeaseUntil != nil {
			wait = max(msg.LeaseUntil.Sub(now), wait)
		}
		return &retryLater{reason: "campaign message is being delivered", after: wait}
	}
	c, cu := msg.Edges.Campaign, msg.Edges.Customer
	status, sendErr := s.send(ctx, c, cu)
	if status == campaignmessage.StatusQUEUED {
		// Retryable: free the lease so that the retry can take it.
		if err := s.db.CampaignMessage.UpdateOneID(id).SetLastError(errText(sendErr)).ClearLeaseUntil().Exec(ctx); err != nil {
			return errors.Join(sendErr, fmt.Errorf("recording campaign message error: %w", err))
		}
		return fmt.Errorf("sending campaign message: %w", sendErr)
	}
	upd := s.db.CampaignMessage.Update().
		Where(campaignmessage.ID(id), campaignmessage.StatusEQ(campaignmessage.StatusQUEUED)).
		SetStatus(status).ClearLeaseUntil()
	switch {
	case status == campaignmessage.StatusSENT:
		upd.SetSentAt(s.now()).SetLastError("")
	case sendErr != nil:
		upd.SetLastError(errText(sendErr))
	}
	if err := upd.Exec(ctx); err != nil {
		return fmt.Errorf("recording campaign message: %w", err)
	}
	return s.finish(ctx, s.db, c.ID)
}

// send sends c to cu and returns the message's new status: SENT, FAILED
// (refused for good), a SKIPPED_* one, or QUEUED with the error to retry.
func (s *Service) send(ctx context.Context, c *ent.Campaign, cu *ent.Customer) (campaignmessage.Status, error) {
	if cu.Status != customer.StatusACTIVE {
		// Merged or erased since: there is no one to write to here.
		return campaignmessage.StatusSKIPPED_NO_CONTACT, nil
	}
	consent, detail := cu.EmailConsent, customers.Email
	if c.Channel == campaign.ChannelSMS {
		consent, detail = cu.SmsConsent, customers.Phone
	}
	if !consent {
		return campaignmessage.StatusSKIPPED_NO_CONSENT, nil
	}
	to, err := s.customers.ContactDetail(ctx, cu, detail)
	if err != nil {
		return campaignmessage.StatusQUEUED, err
	}
	if to == nil {
		return campaignmessage.StatusSKIPPED_NO_CONTACT, nil
	}
	code := ""
	if o := c.Edges.Offer; o != nil && o.Code != nil {
		code = *o.Code
	}
	text := render(c.Message, code)
	if c.Channel == campaign.ChannelSMS {
		if s.sms == nil {
			return campaignmessage.StatusFAILED, errors.New("no SMS sender is configured")
		}
		err = s.sms.Send(ctx, sms.Message{To: *to, Body: smsBody(text)})
	} else {
		if s.email == nil {
			return campaignmessage.StatusFAILED, errors.New("no email sender is configured")
		}
		err = s.email.Send(ctx, s.emailMessage(c, cu, *to, text))
	}
	var p permanent
	switch {
	case err == nil:
		return campaignmessage.StatusSENT, nil
	case errors.As(err, &p) && p.Permanent():
		return campaignmessage.StatusFAILED, err
	}
	return campaignmessage.StatusQUEUED, err
}

// emailMessage is c's email to cu at address: the text, an HTML version,
// and an unsubscribe link in both and in List-Unsubscribe, which mail
// apps show as a button and may POST to (RFC 8058).
func (s *Service) emailMessage(c *ent.Campaign, cu *ent.Customer, address, text string) email.Message {
	link := s.UnsubscribeURL(cu.ID, ChannelEmail)
	body := strings.ReplaceAll(html.EscapeString(text), "\n", "<br>\n")
	return email.Message{
		To:      address,
		Subject: c.Subject,
		Text:    text + "\n\n--\nUnsubscribe: " + link + "\n",
		HTML: "<p>" + body + "</p>\n<p style=\"font-size:small\"><a href=\"" + html.EscapeString(link) +
			"\">Unsubscribe</a></p>\n",
		Headers: map[string]string{
			"List-Unsubscribe":      "<" + link + ">",
			"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		},
	}
}

// errText is an error as kept on a message: bounded, for the dashboard.
func errText(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	if len(msg) > 500 {
		msg = msg[:500]
	}
	return msg
}
