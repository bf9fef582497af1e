package campaigns_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/campaigns"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/campaign"
	"github.com/tillpos/till/ent/campaignmessage"
	"github.com/tillpos/till/ent/outboxevent"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/ptr"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/keyring"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/notify/email"
	"github.com/tillpos/till/notify/sms"
	"github.com/tillpos/till/pii"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// texts records the SMS sent; fail, when set, answers instead.
type texts struct {
	mu   sync.Mutex
	sent []sms.Message
	fail error
}

var _ sms.Sender = (*texts)(nil)

func (t *texts) Send(_ context.Context, m sms.Message) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fail != nil {
		return t.fail
	}
	t.sent = append(t.sent, m)
	return nil
}

func (t *texts) To() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var to []string
	for _, m := range t.sent {
		to = append(to, m.To)
	}
	return to
}

// mails records the email sent.
type mails struct {
	mu   sync.Mutex
	sent []email.Message
}

var _ email.Sender = (*mails)(nil)

func (m *mails) Send(_ context.Context, msg email.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return nil
}

// permanentErr is a provider's refusal for good.
type permanentErr struct{}

func (permanentErr) Error() string   { return "number unreachable" }
func (permanentErr) Permanent() bool { return true }

// shop is a merchant's owner and the services on one database and clock.
type shop struct {
	client    *ent.Client
	owner     context.Context
	clock     *clock
	customers *customers.Service
	campaigns *campaigns.Service
	texts     *texts
	mails     *mails
}

func newShop(t *testing.T) *shop {
	t.Helper()
	client := tilltest.OpenDB(t).Client
	keys, err := keyring.Generate()
	require.NoError(t, err)
	box, err := pii.New(keys.PII, keys.BlindIndex)
	require.NoError(t, err)
	s := &shop{client: client, clock: &clock{now: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)}, texts: &texts{}, mails: &mails{}}
	s.customers = customers.New(client, box)
	s.campaigns = campaigns.New(client, s.customers, keys.BlindIndex, campaigns.WithClock(s.clock.Now),
		campaigns.WithSenders(s.texts, s.mails), campaigns.WithPublicURL("https://till.example"))
	s.owner = s.signUp(t, "Lotus Tea")
	return s
}

// signUp makes another merchant on the shop's database and returns its
// owner's context.
func (s *shop) signUp(t *testing.T, name string) context.Context {
	t.Helper()
	owner, err := merchants.New(s.client, password.NewHasher(bcrypt.MinCost)).SignUp(t.Context(), merchants.SignUpInput{
		MerchantName: name, OwnerName: "Li Wei", Email: tilltest.UniqueEmail("owner"),
		Password: "correct horse battery", Currency: "CNY", TimeZone: "Asia/Shanghai", Locale: "zh-CN",
	})
	require.NoError(t, err)
	return as(t.Context(), owner, viewer.RoleOwner)
}

func as(ctx context.Context, st *ent.Staff, role viewer.Role) context.Context {
	return viewer.NewContext(ctx, &viewer.Viewer{Kind: viewer.KindStaff, ID: st.ID, MerchantID: st.MerchantID, Role: role})
}

// customer registers a customer at ctx's merchant.
func (s *shop) customer(t *testing.T, ctx context.Context, name, phone string, smsOK bool) *ent.Customer {
	t.Helper()
	p := customers.Profile{Name: &name, Consent: customers.Consent{SMS: &smsOK}}
	if phone != "" {
		p.Phone = &phone
	}
	c, err := s.customers.Create(ctx, nil, p)
	require.NoError(t, err)
	return c
}

// events are the campaign.message events written so far, oldest first.
func (s *shop) events(t *testing.T) []*ent.OutboxEvent {
	t.Helper()
	evs, err := s.client.OutboxEvent.Query().Where(outboxevent.Topic(campaigns.Topic)).
		Order(ent.Asc(outboxevent.FieldCreatedAt), ent.Asc(outboxevent.FieldID)).
		All(viewer.NewSystemContext(t.Context(), "test"))
	require.NoError(t, err)
	return evs
}

func (s *shop) deliverAll(t *testing.T) {
	t.Helper()
	for _, e := range s.events(t) {
		require.NoError(t, s.campaigns.Deliver(t.Context(), e))
	}
}

func (s *shop) smsCampaign(t *testing.T, message string) *ent.Campaign {
	t.Helper()
	c, err := s.campaigns.Create(s.owner, campaigns.CreateInput{Name: "Spring", Channel: campaign.ChannelSMS, Message: message})
	require.NoError(t, err)
	c, err = s.campaigns.SendNow(s.owner, c.ID)
	require.NoError(t, err)
	return c
}

func TestCreateChecksInput(t *testing.T) {
	s := newShop(t)
	cases := []struct {
		name  string
		in    campaigns.CreateInput
		field string
	}{
		{"no name", campaigns.CreateInput{Channel: campaign.ChannelSMS, Message: "hi"}, "name"},
		{"no channel", campaigns.CreateInput{Name: "x", Message: "hi"}, "channel"},
		{"empty message", campaigns.CreateInput{Name: "x", Channel: campaign.ChannelSMS, Message: "  "}, "message"},
		{"SMS too long with its footer", campaigns.CreateInput{Name: "x", Channel: campaign.ChannelSMS,
			Message: strings.Repeat("a", 480-len("\nReply STOP to opt out")+1)}, "message"},
		{"email without a subject", campaigns.CreateInput{Name: "x", Channel: campaign.ChannelEMAIL, Message: "hi"}, "subject"},
		{"code without an offer", campaigns.CreateInput{Name: "x", Channel: campaign.ChannelSMS, Message: "use {code}"}, "message"},
		{"past schedule", campaigns.CreateInput{Name: "x", Channel: campaign.ChannelSMS, Message: "hi",
			ScheduledAt: ptr.To(s.clock.Now().Add(-time.Minute))}, "scheduledAt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.campaigns.Create(s.owner, tc.in)
			e, ok := errs.As(err)
			require.True(t, ok, "%v", err)
			require.Equal(t, errs.BadUserInput, e.Code)
			require.Equal(t, tc.field, e.Field)
		})
	}
	_, err := s.campaigns.Create(s.owner, campaigns.CreateInput{Name: "x", Channel: campaign.ChannelSMS,
		Message: strings.Repeat("a", 480-len("\nReply STOP to opt out"))})
	require.NoError(t, err, "exactly 480 with the footer")
}

func TestCashierCannotRunCampaigns(t *testing.T) {
	s := newShop(t)
	v := viewer.FromContext(s.owner)
	cashier := viewer.NewContext(t.Context(), &viewer.Viewer{Kind: viewer.KindStaff, ID: v.ID, MerchantID: v.MerchantID, Role: viewer.RoleCashier})
	_, err := s.campaigns.Create(cashier, campaigns.CreateInput{Name: "x", Channel: campaign.ChannelSMS, Message: "hi"})
	require.Equal(t, errs.Forbidden, errs.CodeOf(err))
	_, err = s.campaigns.Query(cashier)
	require.Equal(t, errs.Forbidden, errs.CodeOf(err))
}

func TestDispatchDecidesAndDeliversOnce(t *testing.T) {
	s := newShop(t)
	s.customer(t, s.owner, "Ann", "13800000001", true)
	s.customer(t, s.owner, "Bo", "13800000002", false)
	s.customer(t, s.owner, "Cy", "", true)
	// Another merchant's customer with consent is never in the audience.
	other := s.signUp(t, "Other")
	s.customer(t, other, "Dee", "13800000004", true)

	c := s.smsCampaign(t, "Tea week: 20% off")
	// Replicas dispatching at once fan the campaign out once.
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { require.NoError(t, s.campaigns.Dispatch(t.Context())) })
	}
	wg.Wait()
	require.NoError(t, s.campaigns.Dispatch(t.Context()))
	st, err := s.campaigns.Stats(s.owner, c)
	require.NoError(t, err)
	require.Equal(t, campaigns.Stats{Audience: 3, Queued: 1, SkippedNoConsent: 1, SkippedNoContact: 1}, *st)
	evs := s.events(t)
	require.Len(t, evs, 1)

	// Twice, and then again: one text.
	require.NoError(t, s.campaigns.Deliver(t.Context(), evs[0]))
	require.NoError(t, s.campaigns.Deliver(t.Context(), evs[0]))
	require.Equal(t, []string{"+8613800000001"}, s.texts.To())
	require.Equal(t, "Tea week: 20% off\nReply STOP to opt out", s.texts.sent[0].Body)
	c, err = s.campaigns.Get(s.owner, c.ID)
	require.NoError(t, err)
	require.Equal(t, campaign.StatusSENT, c.Status)
	require.Equal(t, 3, c.AudienceCount)
}

func TestDeliverWhileAnotherDeliveryIsInFlight(t *testing.T) {
	s := newShop(t)
	s.customer(t, s.owner, "Ann", "13800000001", true)
	s.smsCampaign(t, "hi")
	require.NoError(t, s.campaigns.Dispatch(t.Context()))
	ev := s.events(t)[0]
	// A provider outage: the message stays queued, its lease freed for
	// the retry.
	s.texts.fail = errors.New("503 from provider")
	require.ErrorContains(t, s.campaigns.Deliver(t.Context(), ev), "503")
	msg := s.client.CampaignMessage.Query().OnlyX(viewer.NewSystemContext(t.Context(), "test"))
	require.Equal(t, campaignmessage.StatusQUEUED, msg.Status)
	require.Equal(t, "503 from provider", msg.LastError)
	// A delivery in flight holds the message: a repeat waits.
	sys := viewer.NewSystemContext(t.Context(), "test")
	s.client.CampaignMessage.UpdateOne(msg).SetLeaseUntil(s.clock.Now().Add(time.Minute)).ExecX(sys)
	s.texts.fail = nil
	err := s.campaigns.Deliver(t.Context(), ev)
	var later interface{ RetryAfter() time.Duration }
	require.ErrorAs(t, err, &later)
	require.Equal(t, time.Minute, later.RetryAfter())
	require.Empty(t, s.texts.To())
	// Once the lease lapses, it is delivered.
	s.clock.Add(2 * time.Minute)
	require.NoError(t, s.campaigns.Deliver(t.Context(), ev))
	require.Len(t, s.texts.To(), 1)
}

func TestPermanentFailureIsTheOutcome(t *testing.T) {
	s := newShop(t)
	s.customer(t, s.owner, "Ann", "13800000001", true)
	c := s.smsCampaign(t, "hi")
	require.NoError(t, s.campaigns.Dispatch(t.Context()))
	s.texts.fail = permanentErr{}
	s.deliverAll(t)
	st, err := s.campaigns.Stats(s.owner, c)
	require.NoError(t, err)
	require.Equal(t, 1, st.Failed)
	c, _ = s.campaigns.Get(s.owner, c.ID)
	require.Equal(t, campaign.StatusSENT, c.Status)
}

func TestConsentIsCheckedAgainAtDelivery(t *testing.T) {
	s := newShop(t)
	ann := s.customer(t, s.owner, "Ann", "13800000001", true)
	c := s.smsCampaign(t, "hi")
	require.NoError(t, s.campaigns.Dispatch(t.Context()))
	_, err := s.customers.Update(s.owner, ann.ID, customers.Profile{Consent: customers.Consent{SMS: ptr.To(false)}})
	require.NoError(t, err)
	s.deliverAll(t)
	require.Empty(t, s.texts.To())
	st, _ := s.campaigns.Stats(s.owner, c)
	require.Equal(t, 1, st.SkippedNoConsent)
}

func TestFrequencyCap(t *testing.T) {
	s := newShop(t)
	s.customer(t, s.owner, "Ann", "13800000001", true)
	_, err := s.campaigns.UpdateSettings(s.owner, campaigns.SettingsPatch{FrequencyCap: ptr.To(1), FrequencyWindowDays: ptr.To(3)})
	require.NoError(t, err)
	first := s.smsCampaign(t, "one")
	require.NoError(t, s.campaigns.Dispatch(t.Context()))
	second := s.smsCampaign(t, "two")
	require.NoError(t, s.campaigns.Dispatch(t.Context()))
	st, _ := s.campaigns.Stats(s.owner, first)
	require.Equal(t, 1, st.Queued)
	st, _ = s.campaigns.Stats(s.owner, second)
	require.Equal(t, 1, st.SkippedFrequencyCap)
	// Past the window, the customer may hear from the merchant again.
	s.clock.Add(3*24*time.Hour + time.Second)
	third := s.smsCampaign(t, "three")
	require.NoError(t, s.campaigns.Dispatch(t.Context()))
	st, _ = s.campaigns.Stats(s.owner, third)
	require.Equal(t, 1, st.Queued)
}

func TestUnsubscribeToken(t *testing.T) {
	s := newShop(t)
	ann := s.customer(t, s.owner, "Ann", "", false)
	_, err := s.customers.Update(s.owner, ann.ID, customers.Profile{Email: ptr.To("ann@example.com"), Consent: customers.Consent{Email: ptr.To(true)}})
	require.NoError(t, err)
	token := s.campaigns.UnsubscribeToken(ann.ID, campaigns.ChannelEmail)
	require.NoError(t, s.campaigns.CheckUnsubscribe(token))
	for _, bad := range []string{"", "x", token + "x", strings.Replace(token, ".", "A.", 1)} {
		require.Equal(t, errs.BadUserInput, errs.CodeOf(s.campaigns.CheckUnsubscribe(bad)), bad)
	}
	require.NoError(t, s.campaigns.Unsubscribe(t.Context(), token))
	require.NoError(t, s.campaigns.Unsubscribe(t.Context(), token), "a repeat")
	got := s.client.Customer.GetX(s.owner, ann.ID)
	require.False(t, got.EmailConsent)
	require.Equal(t, s.clock.Now(), got.EmailConsentAt.UTC())
}

func TestIsStop(t *testing.T) {
	for body, want := range map[string]bool{
		"STOP": true, " stop\n": true, "Unsubscribe": true, "td": true, "退订": true,
		"stop please": false, "": false, "STOPP": false,
	} {
		require.Equal(t, want, campaigns.IsStop(body), body)
	}
}

func TestVerifyInbound(t *testing.T) {
	secret := []byte("webhook secret")
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"from":"+8613800000001","body":"STOP"}`)
	sign := func(ts string, b []byte) string {
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(ts + "."))
		mac.Write(b)
		return "sha256=" + hex.EncodeToString(mac.Sum(nil))
	}
	ts := "1800000000"
	require.True(t, campaigns.VerifyInbound(secret, ts, sign(ts, body), body, now))
	require.False(t, campaigns.VerifyInbound(secret, ts, sign(ts, body), []byte(`{"from":"+1","body":"STOP"}`), now), "body changed")
	require.False(t, campaigns.VerifyInbound([]byte("other"), ts, sign(ts, body), body, now), "other secret")
	old := "1799999000"
	require.False(t, campaigns.VerifyInbound(secret, old, sign(old, body), body, now), "replayed")
	require.False(t, campaigns.VerifyInbound(secret, ts, strings.TrimPrefix(sign(ts, body), "sha256="), body, now), "no prefix")
	require.False(t, campaigns.VerifyInbound(nil, ts, sign(ts, body), body, now), "no secret configured")
}

func TestStopOptsOutAtEveryMerchant(t *testing.T) {
	s := newShop(t)
	ann := s.customer(t, s.owner, "Ann", "13800000001", true)
	other := s.signUp(t, "Other")
	annThere := s.customer(t, other, "Ann", "+86 138 0000 0001", true)
	bo := s.customer(t, s.owner, "Bo", "13800000002", true)
	n, err := s.campaigns.InboundSMS(t.Context(), "+8613800000001", "hello")
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = s.campaigns.InboundSMS(t.Context(), "+8613800000001", "Stop")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	sys := viewer.NewSystemContext(t.Context(), "test")
	require.False(t, s.client.Customer.GetX(sys, ann.ID).SmsConsent)
	require.False(t, s.client.Customer.GetX(sys, annThere.ID).SmsConsent)
	require.True(t, s.client.Customer.GetX(sys, bo.ID).SmsConsent)
}

func TestUndeliveredMessagesAreGivenUp(t *testing.T) {
	s := newShop(t)
	s.customer(t, s.owner, "Ann", "13800000001", true)
	c := s.smsCampaign(t, "hi")
	require.NoError(t, s.campaigns.Dispatch(t.Context()))
	// The outbox never delivers it (its event went dead).
	s.clock.Add(47 * time.Hour)
	require.NoError(t, s.campaigns.Dispatch(t.Context()))
	c, _ = s.campaigns.Get(s.owner, c.ID)
	require.Equal(t, campaign.StatusSENDING, c.Status)
	s.clock.Add(2 * time.Hour)
	require.NoError(t, s.campaigns.Dispatch(t.Context()))
	st, _ := s.campaigns.Stats(s.owner, c)
	require.Equal(t, campaigns.Stats{Audience: 1, Failed: 1}, *st)
	c, _ = s.campaigns.Get(s.owner, c.ID)
	require.Equal(t, campaign.StatusSENT, c.Status)
	// A late redrive of the event sends nothing.
	s.deliverAll(t)
	require.Empty(t, s.texts.To())
}
