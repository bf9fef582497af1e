package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/campaigns"
	"github.com/tillpos/till/config"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/auditentry"
	"github.com/tillpos/till/ent/outboxevent"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/notify/email"
	"github.com/tillpos/till/notify/sms"
	"github.com/tillpos/till/server"
)

// Campaigns through the API: an owner sends a message to a segment; the
// dispatcher decides per customer (consent, contact, frequency cap) and
// the outbox handler sends; customers opt out by link or by STOP.

const (
	cmpFields = `id name channel subject message status scheduledAt audienceCount sentAt cancelledAt
		stats { audience queued sent failed skippedNoConsent skippedFrequencyCap skippedNoContact }`
	cmpCreate   = `mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { campaign { ` + cmpFields + ` } } }`
	cmpSchedule = `mutation($i: ScheduleCampaignInput!) { scheduleCampaign(input: $i) { campaign { ` + cmpFields + ` } } }`
	cmpSendNow  = `mutation($i: CampaignIdInput!) { sendCampaignNow(input: $i) { campaign { ` + cmpFields + ` } } }`
	cmpCancel   = `mutation($i: CampaignIdInput!) { cancelCampaign(input: $i) { campaign { ` + cmpFields + ` } } }`
	cmpGet      = `query($id: ID!) { campaign(id: $id) { ` + cmpFields + ` } }`
	cmpSecret   = "inbound webhook secret"
)

type cmpStats struct {
	Audience, Queued, Sent, Failed, SkippedNoConsent, SkippedFrequencyCap, SkippedNoContact int
}

type cmpCampaign struct {
	ID, Name, Channel, Subject, Message, Status string
	ScheduledAt, SentAt, CancelledAt            *time.Time
	AudienceCount                               int
	Stats                                       cmpStats
}

// cmpSenders record what would have gone out.
type cmpSenders struct {
	mu    sync.Mutex
	texts []sms.Message
	mails []email.Message
}

func (s *cmpSenders) Send(_ context.Context, m sms.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.texts = append(s.texts, m)
	return nil
}

func (s *cmpSenders) Texts() []sms.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sms.Message(nil), s.texts...)
}

// cmpMail records email.
type cmpMail struct{ *cmpSenders }

func (m cmpMail) Send(_ context.Context, msg email.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mails = append(m.mails, msg)
	return nil
}

var (
	_ sms.Sender   = (*cmpSenders)(nil)
	_ email.Sender = cmpMail{}
)

type cmpEnv struct {
	*tilltest.Env
	clock *tilltest.Clock
	sent  *cmpSenders
	owner *tilltest.Account
}

func newCmpEnv(t *testing.T) *cmpEnv {
	t.Helper()
	e := &cmpEnv{clock: tilltest.NewClock(time.Now().UTC().Truncate(time.Second)), sent: &cmpSenders{}}
	e.Env = tilltest.New(t, func(c *config.Config) { c.SMSInboundSecret = cmpSecret },
		server.WithCampaignOptions(campaigns.WithClock(e.clock.Now), campaigns.WithSenders(e.sent, cmpMail{e.sent})))
	e.owner = e.SignUp(t, "Lotus Tea")
	return e
}

// customer registers a customer as the holder of token.
func (e *cmpEnv) customer(t *testing.T, token string, in map[string]any) string {
	t.Helper()
	var out struct {
		CreateCustomer struct{ Customer struct{ ID string } }
	}
	e.Exec(t, token, `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`,
		map[string]any{"i": in}).Decode(t, &out)
	return out.CreateCustomer.Customer.ID
}

func (e *cmpEnv) create(t *testing.T, token string, in map[string]any) cmpCampaign {
	t.Helper()
	var out struct {
		CreateCampaign struct{ Campaign cmpCampaign }
	}
	e.Exec(t, token, cmpCreate, map[string]any{"i": in}).Decode(t, &out)
	return out.CreateCampaign.Campaign
}

func (e *cmpEnv) get(t *testing.T, id string) cmpCampaign {
	t.Helper()
	var out struct{ Campaign cmpCampaign }
	e.Exec(t, e.owner.Token, cmpGet, map[string]any{"id": id}).Decode(t, &out)
	return out.Campaign
}

func (e *cmpEnv) sendNow(t *testing.T, id string) cmpCampaign {
	t.Helper()
	var out struct {
		SendCampaignNow struct{ Campaign cmpCampaign }
	}
	e.Exec(t, e.owner.Token, cmpSendNow, map[string]any{"i": map[string]any{"campaignId": id}}).Decode(t, &out)
	return out.SendCampaignNow.Campaign
}

// events are the campaign.message events written so far.
func (e *cmpEnv) events(t *testing.T) []*ent.OutboxEvent {
	t.Helper()
	evs, err := e.DB.Client.OutboxEvent.Query().Where(outboxevent.Topic(campaigns.Topic)).
		Order(ent.Asc(outboxevent.FieldID)).All(viewer.NewSystemContext(t.Context(), "test"))
	require.NoError(t, err)
	return evs
}

// deliver hands every campaign.message event to the handler, as the
// outbox worker would.
func (e *cmpEnv) deliver(t *testing.T) {
	t.Helper()
	for _, ev := range e.events(t) {
		require.NoError(t, e.Campaigns.Deliver(t.Context(), ev))
	}
}

func (e *cmpEnv) consent(t *testing.T, id string) (smsOK, emailOK bool, emailAt *time.Time) {
	t.Helper()
	var out struct {
		Node struct {
			SmsConsent, EmailConsent bool
			EmailConsentAt           *time.Time
		}
	}
	e.Exec(t, e.owner.Token, `query($id: ID!) { node(id: $id) { ... on Customer { smsConsent emailConsent emailConsentAt } } }`,
		map[string]any{"id": id}).Decode(t, &out)
	return out.Node.SmsConsent, out.Node.EmailConsent, out.Node.EmailConsentAt
}

// inbound posts an SMS reply to the webhook, signed with secret.
func (e *cmpEnv) inbound(t *testing.T, secret, from, body string) (int, map[string]any) {
	t.Helper()
	payload, _ := json.Marshal(map[string]string{"from": from, "body": body})
	ts := strconv.FormatInt(e.clock.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(payload)
	req, err := http.NewRequest(http.MethodPost, e.URL+"/sms/inbound", strings.NewReader(string(payload)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Till-Timestamp", ts)
	req.Header.Set("X-Till-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestCampaignSMSScheduledDecidedAndSentOnce(t *testing.T) {
	e := newCmpEnv(t)
	yes, no := map[string]any{"sms": true}, map[string]any{"sms": false}
	ann := e.customer(t, e.owner.Token, map[string]any{"name": "Ann", "phone": "+8613800000001", "consent": yes})
	e.customer(t, e.owner.Token, map[string]any{"name": "Bo", "phone": "+8613800000002", "consent": no})
	e.customer(t, e.owner.Token, map[string]any{"name": "Cy", "consent": yes})
	e.customer(t, e.owner.Token, map[string]any{"name": "Dee", "phone": "+8613800000004", "consent": yes, "tags": []string{"vip"}})
	// Another merchant's customer, with consent, is never in the audience.
	other := e.SignUp(t, "Other Tea")
	e.customer(t, other.Token, map[string]any{"name": "Eve", "phone": "+8613800000005", "consent": yes})

	// One campaign message per customer per week: Dee has had hers.
	e.Exec(t, e.owner.Token, `mutation { updateCampaignSettings(input: {frequencyCap: 1}) { campaignSettings { frequencyCap frequencyWindowDays } } }`, nil).
		Decode(t, &struct{}{})
	var seg struct {
		CreateSavedSegment struct{ SavedSegment struct{ ID string } }
	}
	e.Exec(t, e.owner.Token, `mutation { createSavedSegment(input: {name: "VIP", anyTags: ["vip"]}) { savedSegment { id } } }`, nil).Decode(t, &seg)
	vip := e.create(t, e.owner.Token, map[string]any{"name": "VIP preview", "channel": "SMS", "message": "Private tasting Friday",
		"savedSegmentId": seg.CreateSavedSegment.SavedSegment.ID})
	require.Equal(t, "DRAFT", vip.Status)
	e.sendNow(t, vip.ID)
	require.NoError(t, e.Campaigns.Dispatch(t.Context()))
	require.Equal(t, cmpStats{Audience: 1, Queued: 1}, e.get(t, vip.ID).Stats)

	var preview struct {
		CampaignAudience struct{ Customers, Reachable int }
	}
	e.Exec(t, e.owner.Token, `query { campaignAudience(input: {channel: SMS}) { customers reachable } }`, nil).Decode(t, &preview)
	require.Equal(t, 4, preview.CampaignAudience.Customers)
	require.Equal(t, 2, preview.CampaignAudience.Reachable, "Ann and Dee consent and have a phone")

	at := e.clock.Now().Add(time.Hour)
	c := e.create(t, e.owner.Token, map[string]any{"name": "Spring", "channel": "SMS", "message": "Spring tea week: 20% off",
		"scheduledAt": at.Format(time.RFC3339)})
	require.Equal(t, "SCHEDULED", c.Status)
	require.True(t, at.Equal(*c.ScheduledAt))

	// Before its time, the job sends nothing.
	require.Contains(t, e.RunDueJobs(t.Context(), time.Now()), "campaign-dispatch")
	require.Equal(t, "SCHEDULED", e.get(t, c.ID).Status)
	require.Len(t, e.events(t), 1, "only the VIP message")

	e.clock.Advance(time.Hour)
	require.NoError(t, e.Campaigns.Dispatch(t.Context()))
	got := e.get(t, c.ID)
	require.Equal(t, "SENDING", got.Status)
	require.Equal(t, cmpStats{Audience: 4, Queued: 1, SkippedNoConsent: 1, SkippedNoContact: 1, SkippedFrequencyCap: 1}, got.Stats)
	require.Equal(t, 4, got.AudienceCount)

	// A repeat dispatch and a repeat delivery send nothing more.
	require.NoError(t, e.Campaigns.Dispatch(t.Context()))
	require.Len(t, e.events(t), 2)
	e.deliver(t)
	e.deliver(t)
	texts := e.sent.Texts()
	require.Len(t, texts, 2)
	require.Equal(t, "+8613800000004", texts[0].To, "the VIP message")
	require.Equal(t, "+8613800000001", texts[1].To)
	require.Equal(t, "Spring tea week: 20% off\nReply STOP to opt out", texts[1].Body)
	got = e.get(t, c.ID)
	require.Equal(t, "SENT", got.Status)
	require.NotNil(t, got.SentAt)
	require.Equal(t, cmpStats{Audience: 4, Sent: 1, SkippedNoConsent: 1, SkippedNoContact: 1, SkippedFrequencyCap: 1}, got.Stats)
	require.Equal(t, "SENT", e.get(t, vip.ID).Status)

	// Ann replies STOP: her consent is withdrawn, here and at the other
	// merchant, where she is registered with the same number.
	annThere := e.customer(t, other.Token, map[string]any{"name": "Ann", "phone": "+8613800000001", "consent": yes})
	status, _ := e.inbound(t, "wrong secret", "+8613800000001", "STOP")
	require.Equal(t, http.StatusUnauthorized, status)
	smsOK, _, _ := e.consent(t, ann)
	require.True(t, smsOK, "a forged STOP changes nothing")
	status, out := e.inbound(t, cmpSecret, "+8613800000001", " stop ")
	require.Equal(t, http.StatusOK, status)
	require.EqualValues(t, 2, out["optedOut"])
	smsOK, _, _ = e.consent(t, ann)
	require.False(t, smsOK)
	var there struct{ Node struct{ SmsConsent bool } }
	e.Exec(t, other.Token, `query($id: ID!) { node(id: $id) { ... on Customer { smsConsent } } }`, map[string]any{"id": annThere}).Decode(t, &there)
	require.False(t, there.Node.SmsConsent)

	// The next campaign skips her for want of consent.
	e.clock.Advance(8 * 24 * time.Hour)
	next := e.create(t, e.owner.Token, map[string]any{"name": "Summer", "channel": "SMS", "message": "Iced tea is back"})
	e.sendNow(t, next.ID)
	require.NoError(t, e.Campaigns.Dispatch(t.Context()))
	require.Equal(t, cmpStats{Audience: 4, Queued: 1, SkippedNoConsent: 2, SkippedNoContact: 1}, e.get(t, next.ID).Stats)
}

func TestCampaignEmailUnsubscribeLink(t *testing.T) {
	e := newCmpEnv(t)
	ann := e.customer(t, e.owner.Token, map[string]any{"name": "Ann", "email": "ann@example.com", "consent": map[string]any{"email": true}})
	var offer struct {
		CreateOffer struct{ Offer struct{ ID string } }
	}
	e.Exec(t, e.owner.Token, `mutation { createOffer(input: {name: "Spring", kind: PERCENT, percentBp: 2000, code: "spring20"}) { offer { id } } }`, nil).Decode(t, &offer)
	c := e.create(t, e.owner.Token, map[string]any{"name": "Spring", "channel": "EMAIL", "subject": "Spring is here",
		"message": "Use {code} for 20% off", "offerId": offer.CreateOffer.Offer.ID})
	e.sendNow(t, c.ID)
	require.NoError(t, e.Campaigns.Dispatch(t.Context()))
	e.deliver(t)
	require.Len(t, e.sent.mails, 1)
	mail := e.sent.mails[0]
	require.Equal(t, "ann@example.com", mail.To)
	require.Equal(t, "Spring is here", mail.Subject)
	require.Contains(t, mail.Text, "Use SPRING20 for 20% off")
	link := strings.Trim(mail.Headers["List-Unsubscribe"], "<>")
	require.Contains(t, mail.Text, link)
	require.Equal(t, "List-Unsubscribe=One-Click", mail.Headers["List-Unsubscribe-Post"])
	u, err := url.Parse(link)
	require.NoError(t, err)
	require.Equal(t, "/unsubscribe", u.Path)

	// Opening the link asks first: a mail scanner following it
	// unsubscribes no one.
	resp, err := http.Get(e.URL + u.RequestURI())
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(page), `<form method="post"`)
	_, emailOK, _ := e.consent(t, ann)
	require.True(t, emailOK)

	// A tampered token is refused.
	resp, err = http.PostForm(e.URL+"/unsubscribe", url.Values{"t": {u.Query().Get("t") + "x"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// The form's POST (or a mail app's one-click POST) unsubscribes.
	resp, err = http.PostForm(e.URL+"/unsubscribe", url.Values{"t": {u.Query().Get("t")}})
	require.NoError(t, err)
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(page), "You are unsubscribed")
	_, emailOK, at := e.consent(t, ann)
	require.False(t, emailOK)
	require.True(t, at.Equal(e.clock.Now()), "withdrawn at %s", at)
	resp, err = http.Post(e.URL+u.RequestURI(), "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "a repeat is fine")
	n, err := e.DB.Client.AuditEntry.Query().Where(auditentry.Action("customer.opted_out"), auditentry.TargetID(ann)).
		Count(viewer.NewSystemContext(t.Context(), "test"))
	require.NoError(t, err)
	require.Equal(t, 1, n)

	// Her data export lists what she was sent.
	var export struct {
		ExportCustomerData struct {
			Data struct {
				CampaignMessages []struct{ Campaign, Name, Channel, Status string }
			}
		}
	}
	e.Exec(t, e.owner.Token, `mutation($i: CustomerIdInput!) { exportCustomerData(input: $i) { data } }`,
		map[string]any{"i": map[string]any{"customerId": ann}}).Decode(t, &export)
	require.Equal(t, []struct{ Campaign, Name, Channel, Status string }{{c.ID, "Spring", "EMAIL", "SENT"}},
		export.ExportCustomerData.Data.CampaignMessages)

	// The next email campaign does not reach her.
	e.clock.Advance(8 * 24 * time.Hour)
	next := e.create(t, e.owner.Token, map[string]any{"name": "Summer", "channel": "EMAIL", "subject": "Summer", "message": "Iced tea"})
	e.sendNow(t, next.ID)
	require.NoError(t, e.Campaigns.Dispatch(t.Context()))
	require.Equal(t, cmpStats{Audience: 1, SkippedNoConsent: 1}, e.get(t, next.ID).Stats)
	require.Equal(t, "SENT", e.get(t, next.ID).Status, "nothing left to deliver")
}

func TestCampaignRolesInputAndTenancy(t *testing.T) {
	e := newCmpEnv(t)
	manager := e.AddStaff(t, e.owner, "MANAGER")
	cashier := e.AddStaff(t, e.owner, "CASHIER")
	in := map[string]any{"name": "Spring", "channel": "SMS", "message": "hi"}
	c := e.create(t, manager.Token, in)
	require.Equal(t, "DRAFT", c.Status)

	require.Equal(t, "FORBIDDEN", e.Exec(t, cashier.Token, cmpCreate, map[string]any{"i": in}).Code())
	require.Equal(t, "FORBIDDEN", e.Exec(t, cashier.Token, `query { campaigns(first: 5) { totalCount } }`, nil).Code())
	require.Equal(t, "FORBIDDEN", e.Exec(t, cashier.Token, cmpSendNow, map[string]any{"i": map[string]any{"campaignId": c.ID}}).Code())
	res := e.Exec(t, cashier.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": c.ID})
	require.Equal(t, "FORBIDDEN", res.Code(), "a cashier cannot read a campaign by node(id:)")
	require.Equal(t, "FORBIDDEN", e.Exec(t, manager.Token, `mutation { updateCampaignSettings(input: {frequencyCap: 3}) { campaignSettings { frequencyCap } } }`, nil).Code())

	long := map[string]any{"name": "x", "channel": "SMS", "message": strings.Repeat("茶", 460)}
	res = e.Exec(t, e.owner.Token, cmpCreate, map[string]any{"i": long})
	require.Equal(t, "BAD_USER_INPUT", res.Code())
	require.Equal(t, "message", res.Errors[0].Extensions["field"])
	res = e.Exec(t, e.owner.Token, cmpSchedule, map[string]any{"i": map[string]any{"campaignId": c.ID, "at": e.clock.Now().Add(-time.Minute).Format(time.RFC3339)}})
	require.Equal(t, "BAD_USER_INPUT", res.Code())

	// Another merchant sees none of it.
	other := e.SignUp(t, "Other Tea")
	require.Equal(t, "NOT_FOUND", e.Exec(t, other.Token, cmpGet, map[string]any{"id": c.ID}).Code())
	require.Equal(t, "NOT_FOUND", e.Exec(t, other.Token, cmpCancel, map[string]any{"i": map[string]any{"campaignId": c.ID}}).Code())
	var list struct{ Campaigns struct{ TotalCount int } }
	e.Exec(t, other.Token, `query { campaigns(first: 5) { totalCount } }`, nil).Decode(t, &list)
	require.Zero(t, list.Campaigns.TotalCount)
	require.Equal(t, "NOT_FOUND", e.Exec(t, other.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": c.ID}).Code())

	// Scheduled, then cancelled before its time: never sent.
	var sched struct {
		ScheduleCampaign struct{ Campaign cmpCampaign }
	}
	e.Exec(t, manager.Token, cmpSchedule, map[string]any{"i": map[string]any{"campaignId": c.ID,
		"at": e.clock.Now().Add(time.Hour).Format(time.RFC3339)}}).Decode(t, &sched)
	require.Equal(t, "SCHEDULED", sched.ScheduleCampaign.Campaign.Status)
	var cancelled struct {
		CancelCampaign struct{ Campaign cmpCampaign }
	}
	e.Exec(t, manager.Token, cmpCancel, map[string]any{"i": map[string]any{"campaignId": c.ID}}).Decode(t, &cancelled)
	require.Equal(t, "CANCELLED", cancelled.CancelCampaign.Campaign.Status)
	e.clock.Advance(2 * time.Hour)
	require.NoError(t, e.Campaigns.Dispatch(t.Context()))
	require.Equal(t, "CANCELLED", e.get(t, c.ID).Status)
	require.Equal(t, "CONFLICT", e.Exec(t, e.owner.Token, cmpSendNow, map[string]any{"i": map[string]any{"campaignId": c.ID}}).Code())

	e.Exec(t, e.owner.Token, `query { campaigns(first: 5) { totalCount } }`, nil).Decode(t, &list)
	require.Equal(t, 1, list.Campaigns.TotalCount)
}
