// Package campaigns sends a merchant's messages and offers to groups of its
// customers over SMS or email: everyone, an RFM segment or a saved
// segment, now or at a set time. Dispatch, a job run every minute, decides
// for each customer whether to send (consent, a contact detail, the
// merchant's frequency cap) and queues what it sends through the outbox;
// Deliver, the outbox handler, checks consent again and sends. Customers
// opt out by the link in an email or by replying STOP to an SMS.
//
// Who may do what: OWNER and MANAGER create, schedule, send, cancel and
// read campaigns; the OWNER sets the frequency cap. Cashiers and
// operators do none of it.
package campaigns

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/campaign"
	"github.com/tillpos/till/ent/campaignmessage"
	"github.com/tillpos/till/ent/campaignsettings"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/offer"
	"github.com/tillpos/till/ent/predicate"
	"github.com/tillpos/till/ent/savedsegment"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/notify/email"
	"github.com/tillpos/till/notify/sms"
)

// Service runs campaigns.
type Service struct {
	db        *ent.Client
	customers *customers.Service
	sms       sms.Sender
	email     email.Sender
	// optOutKey signs unsubscribe links.
	optOutKey []byte
	// publicURL is where customers reach the server: unsubscribe links
	// point there.
	publicURL string
	now       func() time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock (tests move it past a scheduled time).
func WithClock(now func() time.Time) Option {
	return func(s *Service) { s.now = func() time.Time { return now().Truncate(time.Microsecond) } }
}

// WithSenders sets what sends SMS and email; a nil one fails that
// channel's messages.
func WithSenders(text sms.Sender, mail email.Sender) Option {
	return func(s *Service) { s.sms, s.email = text, mail }
}

// WithPublicURL sets the server's public base URL, e.g.
// https://till.example.com, for unsubscribe links.
func WithPublicURL(url string) Option {
	return func(s *Service) { s.publicURL = strings.TrimRight(url, "/") }
}

// New returns a Service reading customers through customerSvc and signing
// opt-out links with a key derived from secret (at least 32 bytes).
func New(client *ent.Client, customerSvc *customers.Service, secret []byte, opts ...Option) *Service {
	s := &Service{db: client, customers: customerSvc, optOutKey: deriveKey(secret, "campaigns unsubscribe v1"),
		publicURL: "http://localhost:8080", now: db.Now}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// Limits on what a campaign says.
const (
	maxSMS   = 480
	maxEmail = 5000
	// codeTag is replaced by the offer's coupon code.
	codeTag = "{code}"
	// smsFooter ends every SMS: the way to opt out.
	smsFooter = "Reply STOP to opt out"
)

// managers are the roles that run campaigns.
var managers = []viewer.Role{viewer.RoleOwner, viewer.RoleManager}

// staffViewer returns the staff viewer in ctx holding one of roles, or
// FORBIDDEN.
func staffViewer(ctx context.Context, roles ...viewer.Role) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	if !v.IsStaff() {
		return nil, errs.Newf(errs.Forbidden, "only a merchant's staff run its campaigns")
	}
	if !v.HasRole(roles...) {
		return nil, errs.Newf(errs.Forbidden, "only an owner or a manager may run campaigns")
	}
	return v, nil
}

// CreateInput is a new campaign. Exactly one of Segment and
// SavedSegmentID, or neither for every customer.
type CreateInput struct {
	Name           string
	Channel        campaign.Channel
	Subject        *string
	Message        string
	OfferID        *pulid.ID
	Segment        *campaign.Segment
	SavedSegmentID *pulid.ID
	ScheduledAt    *time.Time
}

// Create saves a campaign as a DRAFT, or SCHEDULED when it has a time.
// OWNER or MANAGER; audited.
//
// Errors: FORBIDDEN, BAD_USER_INPUT (naming the field), NOT_FOUND (offer,
// saved segment).
func (s *Service) Create(ctx context.Context, in CreateInput) (*ent.Campaign, error) {
	v, err := staffViewer(ctx, managers...)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return nil, errs.Invalid("name", "must be 1 to 100 characters")
	}
	if campaign.ChannelValidator(in.Channel) != nil {
		return nil, errs.Invalid("channel", "must be SMS or EMAIL")
	}
	message := strings.TrimSpace(in.Message)
	if message == "" {
		return nil, errs.Invalid("message", "must not be empty")
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Campaign, error) {
		create := tx.Campaign.Create().SetName(name).SetChannel(in.Channel).SetMessage(message).SetCreatedByID(v.ID)
		code := ""
		if in.OfferID != nil {
			o, err := tx.Offer.Get(ctx, *in.OfferID)
			if ent.IsNotFound(err) {
				return nil, &errs.Error{Code: errs.NotFound, Field: "offerId", Message: "offer not found"}
			}
			if err != nil {
				return nil, fmt.Errorf("loading offer: %w", err)
			}
			if o.Status != offer.StatusACTIVE {
				return nil, errs.Invalid("offerId", "the offer has ended")
			}
			if o.Code != nil {
				code = *o.Code
			}
			create.SetOfferID(o.ID)
		}
		if strings.Contains(message, codeTag) && code == "" {
			return nil, errs.Invalid("message", "%s needs an offer with a coupon code", codeTag)
		}
		if err := checkLength(in.Channel, render(message, code)); err != nil {
			return nil, err
		}
		if in.Channel == campaign.ChannelEMAIL {
			subject := ""
			if in.Subject != nil {
				subject = strings.TrimSpace(*in.Subject)
			}
			if subject == "" || utf8.RuneCountInString(subject) > 200 {
				return nil, errs.Invalid("subject", "an email needs a subject of 1 to 200 characters")
			}
			create.SetSubject(subject)
		}
		t, err := newTarget(ctx, tx.Client(), in.Segment, in.SavedSegmentID)
		if err != nil {
			return nil, err
		}
		create.SetAudience(t.audience).SetNillableSegment(t.segment).SetNillableSavedSegmentID(t.savedID)
		if in.ScheduledAt != nil {
			at, err := s.checkTime(*in.ScheduledAt, "scheduledAt")
			if err != nil {
				return nil, err
			}
			create.SetStatus(campaign.StatusSCHEDULED).SetScheduledAt(at)
		}
		c, err := create.Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("saving campaign: %w", err)
		}
		return c, audit.Record(ctx, tx.Client(), audit.Entry{Action: "campaign.created", TargetType: "Campaign", TargetID: c.ID,
			Details: map[string]any{"channel": c.Channel, "audience": c.Audience, "status": c.Status}})
	})
}

// checkLength refuses a message too long for its channel: an SMS with
// its opt-out footer, an email's text.
func checkLength(ch campaign.Channel, text string) error {
	if ch == campaign.ChannelSMS {
		if n := utf8.RuneCountInString(smsBody(text)); n > maxSMS {
			return errs.Invalid("message", "an SMS, code and opt-out footer included, is at most %d characters; this one is %d", maxSMS, n)
		}
		return nil
	}
	if utf8.RuneCountInString(text) > maxEmail {
		return errs.Invalid("message", "an email's text is at most %d characters", maxEmail)
	}
	return nil
}

// render puts the offer's code into a campaign's message.
func render(message, code string) string {
	return strings.ReplaceAll(message, codeTag, code)
}

// smsBody is an SMS as sent: the text and the way to opt out.
func smsBody(text string) string {
	return text + "\n" + smsFooter
}

// target is whom a campaign is for: everyone, a segment, or a saved
// segment's members.
type target struct {
	audience campaign.Audience
	segment  *campaign.Segment
	savedID  *pulid.ID
}

// targetOf is whom c is for.
func targetOf(c *ent.Campaign) target {
	return target{audience: c.Audience, segment: c.Segment, savedID: c.SavedSegmentID}
}

// newTarget checks an audience as given: a segment, a saved segment of
// the caller's merchant, or (neither) everyone.
func newTarget(ctx context.Context, client *ent.Client, seg *campaign.Segment, savedID *pulid.ID) (target, error) {
	switch {
	case seg != nil && savedID != nil:
		return target{}, errs.Invalid("savedSegmentId", "give a segment or a saved segment, not both")
	case seg != nil:
		if campaign.SegmentValidator(*seg) != nil {
			return target{}, errs.Invalid("segment", "is not a segment")
		}
		return target{audience: campaign.AudienceSEGMENT, segment: seg}, nil
	case savedID != nil:
		if _, err := client.SavedSegment.Get(ctx, *savedID); ent.IsNotFound(err) {
			return target{}, &errs.Error{Code: errs.NotFound, Field: "savedSegmentId", Message: "saved segment not found"}
		} else if err != nil {
			return target{}, fmt.Errorf("loading saved segment: %w", err)
		}
		return target{audience: campaign.AudienceSAVED_SEGMENT, savedID: savedID}, nil
	}
	return target{audience: campaign.AudienceEVERYONE}, nil
}

// maxAhead is how far ahead a campaign may be scheduled.
const maxAhead = 366 * 24 * time.Hour

// checkTime returns at, stored, if it is after now and within a year.
func (s *Service) checkTime(at time.Time, field string) (time.Time, error) {
	now := s.now()
	at = at.UTC().Truncate(time.Microsecond)
	if !at.After(now) {
		return time.Time{}, errs.Invalid(field, "must be in the future")
	}
	if at.Sub(now) > maxAhead {
		return time.Time{}, errs.Invalid(field, "must be within a year")
	}
	return at, nil
}

// Schedule sets a DRAFT or SCHEDULED campaign to be sent at at. OWNER or
// MANAGER; audited.
//
// Errors: FORBIDDEN, NOT_FOUND, BAD_USER_INPUT (at), CONFLICT (sending,
// sent or cancelled).
func (s *Service) Schedule(ctx context.Context, id pulid.ID, at time.Time) (*ent.Campaign, error) {
	if _, err := staffViewer(ctx, managers...); err != nil {
		return nil, err
	}
	at, err := s.checkTime(at, "at")
	if err != nil {
		return nil, err
	}
	return s.transition(ctx, id, "campaign.scheduled", func(u *ent.CampaignUpdate) {
		u.SetStatus(campaign.StatusSCHEDULED).SetScheduledAt(at)
	})
}

// SendNow sets a DRAFT or SCHEDULED campaign to go out at the next
// dispatch, within a minute: a large audience is fanned out by the job,
// not inside the request. OWNER or MANAGER; audited.
//
// Errors: FORBIDDEN, NOT_FOUND, CONFLICT (sending, sent or cancelled).
func (s *Service) SendNow(ctx context.Context, id pulid.ID) (*ent.Campaign, error) {
	if _, err := staffViewer(ctx, managers...); err != nil {
		return nil, err
	}
	return s.transition(ctx, id, "campaign.send_now", func(u *ent.CampaignUpdate) {
		u.SetStatus(campaign.StatusSCHEDULED).ClearScheduledAt()
	})
}

// Cancel stops a DRAFT or SCHEDULED campaign from being sent. OWNER or
// MANAGER; audited.
//
// Errors: FORBIDDEN, NOT_FOUND, CONFLICT (sending, sent or cancelled).
func (s *Service) Cancel(ctx context.Context, id pulid.ID) (*ent.Campaign, error) {
	if _, err := staffViewer(ctx, managers...); err != nil {
		return nil, err
	}
	return s.transition(ctx, id, "campaign.cancelled", func(u *ent.CampaignUpdate) {
		u.SetStatus(campaign.StatusCANCELLED).SetCancelledAt(s.now())
	})
}

// transition applies change to a DRAFT or SCHEDULED campaign and audits
// action. The update is conditional on the status, so it cannot undo a
// dispatcher's claim made meanwhile: then it answers CONFLICT.
func (s *Service) transition(ctx context.Context, id pulid.ID, action string, change func(*ent.CampaignUpdate)) (*ent.Campaign, error) {
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Campaign, error) {
		c, err := get(ctx, tx.Client(), id)
		if err != nil {
			return nil, err
		}
		u := tx.Campaign.Update().Where(campaign.ID(id), campaign.StatusIn(campaign.StatusDRAFT, campaign.StatusSCHEDULED))
		change(u)
		n, err := u.Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("updating campaign: %w", err)
		}
		if n == 0 {
			return nil, errs.Newf(errs.Conflict, "the campaign is %s", strings.ToLower(string(c.Status)))
		}
		if c, err = tx.Campaign.Get(ctx, id); err != nil {
			return nil, fmt.Errorf("reloading campaign: %w", err)
		}
		return c, audit.Record(ctx, tx.Client(), audit.Entry{Action: action, TargetType: "Campaign", TargetID: id,
			Details: map[string]any{"scheduledAt": c.ScheduledAt}})
	})
}

// get loads a campaign of the caller's merchant, or NOT_FOUND.
func get(ctx context.Context, client *ent.Client, id pulid.ID) (*ent.Campaign, error) {
	c, err := client.Campaign.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, errs.Newf(errs.NotFound, "campaign not found")
	}
	if err != nil {
		return nil, fmt.Errorf("loading campaign: %w", err)
	}
	return c, nil
}

// Query is the caller's merchant's campaigns. OWNER or MANAGER.
//
// Errors: FORBIDDEN.
func (s *Service) Query(ctx context.Context) (*ent.CampaignQuery, error) {
	if _, err := staffViewer(ctx, managers...); err != nil {
		return nil, err
	}
	return s.db.Campaign.Query(), nil
}

// Get returns one of the caller's merchant's campaigns. OWNER or MANAGER.
//
// Errors: FORBIDDEN, NOT_FOUND.
func (s *Service) Get(ctx context.Context, id pulid.ID) (*ent.Campaign, error) {
	if _, err := staffViewer(ctx, managers...); err != nil {
		return nil, err
	}
	return get(ctx, s.db, id)
}

// Stats is what became of a campaign's messages so far.
type Stats struct {
	Audience, Queued, Sent, Failed, SkippedNoConsent, SkippedFrequencyCap, SkippedNoContact int
}

// Stats counts a campaign's messages by status. The campaign was read
// through the caller's privacy rules; its messages are counted under the
// same rules.
func (s *Service) Stats(ctx context.Context, c *ent.Campaign) (*Stats, error) {
	var rows []struct {
		Status campaignmessage.Status `json:"status"`
		Count  int                    `json:"count"`
	}
	err := s.db.CampaignMessage.Query().Where(campaignmessage.CampaignID(c.ID)).
		GroupBy(campaignmessage.FieldStatus).Aggregate(ent.Count()).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("counting campaign messages: %w", err)
	}
	st := &Stats{}
	for _, r := range rows {
		st.Audience += r.Count
		*map[campaignmessage.Status]*int{
			campaignmessage.StatusQUEUED: &st.Queued, campaignmessage.StatusSENT: &st.Sent,
			campaignmessage.StatusFAILED:                &st.Failed,
			campaignmessage.StatusSKIPPED_NO_CONSENT:    &st.SkippedNoConsent,
			campaignmessage.StatusSKIPPED_FREQUENCY_CAP: &st.SkippedFrequencyCap,
			campaignmessage.StatusSKIPPED_NO_CONTACT:    &st.SkippedNoContact,
		}[r.Status] += r.Count
	}
	return st, nil
}

// AudienceInput is an audience to preview.
type AudienceInput struct {
	Channel        campaign.Channel
	Segment        *campaign.Segment
	SavedSegmentID *pulid.ID
}

// Preview is how many customers an audience holds now, and how many a
// campaign over the channel could reach (before the frequency cap).
type Preview struct {
	Customers, Reachable int
}

// Preview counts an audience of the caller's merchant. OWNER or MANAGER.
//
// Errors: FORBIDDEN, BAD_USER_INPUT, NOT_FOUND (saved segment).
func (s *Service) Preview(ctx context.Context, in AudienceInput) (*Preview, error) {
	v, err := staffViewer(ctx, managers...)
	if err != nil {
		return nil, err
	}
	if campaign.ChannelValidator(in.Channel) != nil {
		return nil, errs.Invalid("channel", "must be SMS or EMAIL")
	}
	t, err := newTarget(ctx, s.db, in.Segment, in.SavedSegmentID)
	if err != nil {
		return nil, err
	}
	q, err := s.audience(ctx, v.MerchantID, t)
	if err != nil {
		return nil, err
	}
	total, err := q.Clone().Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("counting audience: %w", err)
	}
	reachable, err := q.Where(reachable(in.Channel)...).Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("counting audience: %w", err)
	}
	return &Preview{Customers: total, Reachable: reachable}, nil
}

// reachable are the customers who consent to ch and have its contact
// detail.
func reachable(ch campaign.Channel) []predicate.Customer {
	if ch == campaign.ChannelSMS {
		return []predicate.Customer{customer.SmsConsent(true), customer.PhoneEncNotNil()}
	}
	return []predicate.Customer{customer.EmailConsent(true), customer.EmailEncNotNil()}
}

// audience queries the active customers of merchantID that t is for. The
// merchant is named explicitly: the dispatcher runs as the system, which
// no tenant rule confines.
func (s *Service) audience(ctx context.Context, merchantID pulid.ID, t target) (*ent.CustomerQuery, error) {
	var q *ent.CustomerQuery
	switch t.audience {
	case campaign.AudienceSAVED_SEGMENT:
		seg, err := s.db.SavedSegment.Query().Where(savedsegment.ID(*t.savedID), savedsegment.MerchantID(merchantID)).Only(ctx)
		if ent.IsNotFound(err) {
			// Deleted since: its members are no one.
			return s.db.Customer.Query().Where(customer.IDIn()), nil
		}
		if err != nil {
			return nil, fmt.Errorf("loading saved segment: %w", err)
		}
		q = customers.SegmentMembers(s.db, seg)
	case campaign.AudienceSEGMENT:
		q = s.db.Customer.Query().Where(customer.StatusEQ(customer.StatusACTIVE), customer.SegmentEQ(customer.Segment(*t.segment)))
	default:
		q = s.db.Customer.Query().Where(customer.StatusEQ(customer.StatusACTIVE))
	}
	return q.Where(customer.MerchantID(merchantID)), nil
}

// settings loads a merchant's campaign limits, creating the row with the
// defaults the first time anyone asks.
func settings(ctx context.Context, client *ent.Client, merchantID pulid.ID) (*ent.CampaignSettings, error) {
	st, err := client.CampaignSettings.Query().Where(campaignsettings.MerchantID(merchantID)).Only(ctx)
	if !ent.IsNotFound(err) {
		return st, err
	}
	// The dispatcher reads settings as the system; the row holds nothing
	// but defaults, so creating it is the system's business.
	err = client.CampaignSettings.Create().SetMerchantID(merchantID).
		OnConflict(sql.ConflictColumns(campaignsettings.FieldMerchantID)).DoNothing().
		Exec(viewer.NewSystemContext(ctx, "campaign settings defaults"))
	if err != nil && !errors.Is(err, stdsql.ErrNoRows) {
		return nil, fmt.Errorf("creating campaign settings: %w", err)
	}
	return client.CampaignSettings.Query().Where(campaignsettings.MerchantID(merchantID)).Only(ctx)
}

// Settings returns the caller's merchant's campaign limits. OWNER or
// MANAGER.
func (s *Service) Settings(ctx context.Context) (*ent.CampaignSettings, error) {
	v, err := staffViewer(ctx, managers...)
	if err != nil {
		return nil, err
	}
	return settings(ctx, s.db, v.MerchantID)
}

// SettingsPatch changes campaign limits; nil leaves one as it is.
type SettingsPatch struct {
	FrequencyCap, FrequencyWindowDays *int
}

// UpdateSettings changes the caller's merchant's campaign limits. OWNER;
// audited.
//
// Errors: FORBIDDEN, BAD_USER_INPUT.
func (s *Service) UpdateSettings(ctx context.Context, p SettingsPatch) (*ent.CampaignSettings, error) {
	v, err := staffViewer(ctx, viewer.RoleOwner)
	if err != nil {
		return nil, errs.Newf(errs.Forbidden, "only the owner sets the frequency cap")
	}
	if p.FrequencyCap != nil && (*p.FrequencyCap < 1 || *p.FrequencyCap > 100) {
		return nil, errs.Invalid("frequencyCap", "must be 1 to 100")
	}
	if p.FrequencyWindowDays != nil && (*p.FrequencyWindowDays < 1 || *p.FrequencyWindowDays > 90) {
		return nil, errs.Invalid("frequencyWindowDays", "must be 1 to 90")
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.CampaignSettings, error) {
		cur, err := settings(ctx, tx.Client(), v.MerchantID)
		if err != nil {
			return nil, err
		}
		cur, err = tx.CampaignSettings.UpdateOne(cur).
			SetNillableFrequencyCap(p.FrequencyCap).SetNillableFrequencyWindowDays(p.FrequencyWindowDays).Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("saving campaign settings: %w", err)
		}
		return cur, audit.Record(ctx, tx.Client(), audit.Entry{Action: "campaign.settings_updated", TargetType: "Merchant", TargetID: v.MerchantID,
			Details: map[string]any{"frequencyCap": cur.FrequencyCap, "frequencyWindowDays": cur.FrequencyWindowDays}})
	})
}

// CustomerHooks are what campaigns do for customers' privacy rights: the
// data export lists the campaign messages a customer was sent or
// skipped for. A merge leaves them with the duplicate, whose export
// still lists them.
func CustomerHooks() customers.Hooks {
	return customers.Hooks{
		Exported: map[string]func(context.Context, *ent.Client, pulid.ID) (any, error){"campaignMessages": exported},
	}
}

// exported is the campaign messages of the customer with id, oldest
// first.
func exported(ctx context.Context, client *ent.Client, id pulid.ID) (any, error) {
	msgs, err := client.CampaignMessage.Query().Where(campaignmessage.CustomerID(id)).
		WithCampaign().Order(ent.Asc(campaignmessage.FieldCreatedAt), ent.Asc(campaignmessage.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading campaign messages: %w", err)
	}
	out := make([]map[string]any, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, map[string]any{
			"campaign": m.CampaignID, "name": m.Edges.Campaign.Name, "channel": m.Edges.Campaign.Channel,
			"status": m.Status, "at": m.CreatedAt, "sentAt": m.SentAt,
		})
	}
	return out, nil
}
