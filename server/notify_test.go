package server_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/config"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/notify"
	"github.com/tillpos/till/notify/push"
	"github.com/tillpos/till/notify/push/fcmtest"
	"github.com/tillpos/till/outbox"
	"github.com/tillpos/till/server"
)

const (
	registerPush = `mutation($i: RegisterPushTokenInput!) { registerPushToken(input: $i) { id platform deviceName locale } }`
	myPushTokens = `{ pushTokens { id platform deviceName locale } }`
	myNotes      = `{ notifications(first: 20) { edges { node { id event subjectID status title body en: title(locale: "en") enBody: body(locale: "en") } } } }`
	updatePrefs  = `mutation($i: UpdateNotificationPreferencesInput!) { updateNotificationPreferences(input: $i) { events storeIds minSaleAmount quietHours { start end } dailySummaryAt } }`
	myPrefs      = `{ notificationPreferences { events storeIds minSaleAmount quietHours { start end } dailySummaryAt } }`
)

// pushEnv is a sale env whose pushes go through the real FCM SDK to a
// local stand-in for Google's endpoints.
type pushEnv struct {
	*saleEnv
	fcm *fcmtest.Server
}

// fastOutbox retries at once, so that a test sees the next attempt.
func fastOutbox() outbox.Config {
	cfg := outbox.DefaultConfig()
	cfg.BaseDelay, cfg.MaxDelay, cfg.Timeout = time.Millisecond, time.Millisecond, 5*time.Second
	return cfg
}

func newPushEnv(t *testing.T, opts ...server.Option) *pushEnv {
	t.Helper()
	fcm := fcmtest.NewServer(t)
	sender, err := push.NewFCM(t.Context(), fcm.CredentialsFile(), fcm.ClientOptions()...)
	require.NoError(t, err)
	opts = append([]server.Option{server.WithPushSender(sender), server.WithOutboxConfig(fastOutbox())}, opts...)
	return &pushEnv{saleEnv: newSaleEnv(t, opts...), fcm: fcm}
}

// register registers a phone for the holder of token.
func (e *pushEnv) register(t *testing.T, token, fcmToken, platform, locale string) {
	t.Helper()
	e.Exec(t, token, registerPush, map[string]any{"i": map[string]any{
		"token": fcmToken, "platform": platform, "deviceName": "phone " + fcmToken, "locale": locale,
	}}).Decode(t, &struct{}{})
}

// deliver runs the outbox until nothing more is due.
func (e *pushEnv) deliver(t *testing.T) {
	t.Helper()
	require.NoError(t, e.Server.Outbox.Drain(t.Context()))
}

type note struct {
	ID, Event, SubjectID, Status, Title, Body, En, EnBody string
}

func (e *pushEnv) notes(t *testing.T, token string) []note {
	t.Helper()
	var out struct {
		Notifications struct{ Edges []struct{ Node note } }
	}
	e.Exec(t, token, myNotes, nil).Decode(t, &out)
	var notes []note
	for _, edge := range out.Notifications.Edges {
		notes = append(notes, edge.Node)
	}
	return notes
}

// notification is the FCM message body a request carried.
func notification(t *testing.T, r fcmtest.Request) (message map[string]any, title, body string) {
	t.Helper()
	message, _ = r.Body["message"].(map[string]any)
	n, _ := message["notification"].(map[string]any)
	title, _ = n["title"].(string)
	body, _ = n["body"].(string)
	return message, title, body
}

func TestSalePushReachesTheOwnersPhone(t *testing.T) {
	e := newPushEnv(t)
	e.register(t, e.owner.Token, "owner-iphone", "IOS", "zh-CN")
	e.register(t, e.manager.Token, "manager-pixel", "ANDROID", "en")

	sale := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 1234))
	// A sale that fails writes nothing, so nothing is pushed for it.
	bad := saleCash(e.owner.StoreID, 500)
	bad["tenders"] = []any{map[string]any{"type": "CASH", "amount": 400}}
	require.NotEmpty(t, e.Exec(t, e.cashier.Token, saleRecord, map[string]any{"i": bad}).Code())
	e.deliver(t)

	reqs := e.fcm.Requests()
	require.Len(t, reqs, 1, "one push: the owner's (a manager is not told of each sale by default)")
	message, title, body := notification(t, reqs[0])
	require.Equal(t, "owner-iphone", reqs[0].Token)
	require.Equal(t, "新销售", title, "in the phone's language")
	require.Contains(t, body, "新销售 ¥12.34")
	data := message["data"].(map[string]any)
	require.Equal(t, "sale.completed", data["type"])
	require.Equal(t, sale.ID, data["subjectId"])
	require.Equal(t, sale.ID, data["saleId"])
	require.Equal(t, e.owner.StoreID, data["storeId"])
	apns := message["apns"].(map[string]any)
	require.Equal(t, "sale.completed:"+sale.ID, apns["headers"].(map[string]any)["apns-collapse-id"])

	notes := e.notes(t, e.owner.Token)
	require.Len(t, notes, 1)
	require.Equal(t, "SENT", notes[0].Status)
	require.Equal(t, "sale.completed", notes[0].Event)
	require.Equal(t, sale.ID, notes[0].SubjectID)
	require.Equal(t, "New sale", notes[0].En)
	require.Contains(t, notes[0].EnBody, "New sale CN¥12.34 at ")
	require.Empty(t, e.notes(t, e.manager.Token))
	require.Empty(t, e.notes(t, e.cashier.Token))
	// A notification is its person's alone: a colleague, or another
	// merchant, does not find it.
	const node = `query($id: ID!) { node(id: $id) { id } }`
	var own struct{ Node *struct{ ID string } }
	e.Exec(t, e.owner.Token, node, map[string]any{"id": notes[0].ID}).Decode(t, &own)
	require.Equal(t, notes[0].ID, own.Node.ID)
	for _, other := range []string{e.manager.Token, e.SignUp(t, "Other Tea").Token} {
		require.Equal(t, "NOT_FOUND", e.Exec(t, other, node, map[string]any{"id": notes[0].ID}).Code())
	}

	// Delivering again sends nothing more.
	e.deliver(t)
	require.Len(t, e.fcm.Requests(), 1)
}

// FCM answering 503 is retried until it takes the message; a phone FCM
// reports UNREGISTERED is forgotten, and only the phones not yet reached
// are tried again.
func TestPushRetriesUnavailableAndPrunesUnregistered(t *testing.T) {
	// A delivery that outlasts its timeout is cut short and tried again;
	// the SDK's own retries of a 503 wait 0 s, then 1 s, …
	cfg := fastOutbox()
	cfg.Timeout = 500 * time.Millisecond
	e := newPushEnv(t, server.WithOutboxConfig(cfg))
	e.register(t, e.owner.Token, "flaky-phone", "ANDROID", "en")
	e.register(t, e.owner.Token, "old-phone", "IOS", "en")
	e.register(t, e.owner.Token, "good-phone", "IOS", "en")
	unavailable := fcmtest.Reply{ErrorCode: fcmtest.Unavailable}
	// More 503s than fit in one delivery's timeout, so the outbox retries.
	e.fcm.Respond("flaky-phone", unavailable, unavailable, unavailable, fcmtest.Reply{})
	e.fcm.Respond("old-phone", fcmtest.Reply{ErrorCode: fcmtest.Unregistered})

	e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 800))
	require.Eventually(t, func() bool {
		e.deliver(t)
		return e.notes(t, e.owner.Token)[0].Status == "SENT"
	}, 10*time.Second, 10*time.Millisecond, "the 503s are retried until FCM takes the push")
	require.Len(t, e.fcm.RequestsFor("flaky-phone"), 4, "three 503s, then the push")
	var pushes struct{ OutboxEvents []struct{ Attempts int } }
	e.Exec(t, e.owner.Token, `{ outboxEvents(topic: "notification.push") { attempts } }`, nil).Decode(t, &pushes)
	require.Len(t, pushes.OutboxEvents, 1)
	require.Equal(t, 2, pushes.OutboxEvents[0].Attempts, "the first try ran out of time on the 503s")

	require.Len(t, e.fcm.RequestsFor("good-phone"), 1, "a phone reached is not pushed again on a retry")
	require.Len(t, e.fcm.RequestsFor("old-phone"), 1)
	var phones struct{ PushTokens []struct{ DeviceName string } }
	e.Exec(t, e.owner.Token, myPushTokens, nil).Decode(t, &phones)
	var names []string
	for _, p := range phones.PushTokens {
		names = append(names, p.DeviceName)
	}
	require.ElementsMatch(t, []string{"phone flaky-phone", "phone good-phone"}, names, "the unregistered phone is forgotten")
	notes := e.notes(t, e.owner.Token)
	require.Len(t, notes, 1)
	require.Equal(t, "SENT", notes[0].Status)

	// The next sale goes only to the phones that are left.
	e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 900))
	e.deliver(t)
	require.Len(t, e.fcm.RequestsFor("old-phone"), 1)
	require.Len(t, e.fcm.RequestsFor("good-phone"), 2)
}

// A push that cannot be sent at all (the service account was revoked) is
// dead-lettered, visible to the owner, and redriven once fixed.
func TestDeadLetteredPushIsRedriven(t *testing.T) {
	fcm := fcmtest.NewServer(t)
	revoked, err := push.NewFCM(t.Context(), fcm.RevokedCredentialsFile(), fcm.ClientOptions()...)
	require.NoError(t, err)
	good, err := push.NewFCM(t.Context(), fcm.CredentialsFile(), fcm.ClientOptions()...)
	require.NoError(t, err)
	var mu sync.Mutex
	sender := push.Sender(revoked)
	current := senderFunc(func(ctx context.Context, m push.Message) (push.Result, error) {
		mu.Lock()
		s := sender
		mu.Unlock()
		return s.Send(ctx, m)
	})
	e := &pushEnv{saleEnv: newSaleEnv(t, server.WithPushSender(current), server.WithOutboxConfig(fastOutbox())), fcm: fcm}
	e.register(t, e.owner.Token, "owner-phone", "ANDROID", "en")
	e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 700))
	e.deliver(t)
	require.Empty(t, fcm.Requests())

	const deadQuery = `{ outboxEvents(status: DEAD) { id topic status attempts lastError } }`
	var dead struct {
		OutboxEvents []struct {
			ID        int
			Topic     string
			Status    string
			Attempts  int
			LastError string
		}
	}
	e.Exec(t, e.owner.Token, deadQuery, nil).Decode(t, &dead)
	require.Len(t, dead.OutboxEvents, 1)
	require.Equal(t, "notification.push", dead.OutboxEvents[0].Topic)
	require.Equal(t, 1, dead.OutboxEvents[0].Attempts, "a revoked key is not retried")
	require.NotEmpty(t, dead.OutboxEvents[0].LastError)
	require.Equal(t, "FORBIDDEN", e.Exec(t, e.cashier.Token, deadQuery, nil).Code())
	other := e.SignUp(t, "Other Tea")
	var none struct{ OutboxEvents []struct{ ID int } }
	e.Exec(t, other.Token, deadQuery, nil).Decode(t, &none)
	require.Empty(t, none.OutboxEvents, "another merchant's deliveries are not shown")
	const redrive = `mutation($id: Int!) { redriveOutboxEvent(id: $id) { id status attempts } }`
	require.Equal(t, "NOT_FOUND", e.Exec(t, other.Token, redrive, map[string]any{"id": dead.OutboxEvents[0].ID}).Code())

	mu.Lock()
	sender = good
	mu.Unlock()
	var redriven struct{ RedriveOutboxEvent struct{ Status string } }
	e.Exec(t, e.owner.Token, redrive, map[string]any{"id": dead.OutboxEvents[0].ID}).Decode(t, &redriven)
	require.Equal(t, "PENDING", redriven.RedriveOutboxEvent.Status)
	e.deliver(t)
	require.Len(t, fcm.RequestsFor("owner-phone"), 1)
	require.Equal(t, "SENT", e.notes(t, e.owner.Token)[0].Status)
}

type senderFunc func(ctx context.Context, m push.Message) (push.Result, error)

func (f senderFunc) Send(ctx context.Context, m push.Message) (push.Result, error) { return f(ctx, m) }

// The outbox is the database's: a server that stops after a sale commits
// and before its push goes out leaves the push to whoever runs next.
func TestPushSurvivesARestart(t *testing.T) {
	fcm := fcmtest.NewServer(t)
	sender, err := push.NewFCM(t.Context(), fcm.CredentialsFile(), fcm.ClientOptions()...)
	require.NoError(t, err)
	cfg := tilltest.Config(t)
	first := tilltest.New(t, func(c *config.Config) { *c = cfg })
	owner := first.SignUp(t, "Restart Tea")
	first.Exec(t, owner.Token, registerPush, map[string]any{"i": map[string]any{"token": "owner-phone", "platform": "IOS"}}).Decode(t, &struct{}{})
	e := &saleEnv{Env: first, owner: owner}
	// The first server never runs its worker: it is gone before delivering.
	sale := e.record(t, owner.Token, saleCash(owner.StoreID, 1500))

	second := tilltest.New(t, func(c *config.Config) { *c = cfg; c.MigrateOnStart = false }, server.WithPushSender(sender))
	require.NoError(t, second.Server.Outbox.Drain(t.Context()))
	reqs := fcm.RequestsFor("owner-phone")
	require.Len(t, reqs, 1)
	message, _, _ := notification(t, reqs[0])
	require.Equal(t, sale.ID, message["data"].(map[string]any)["subjectId"])
}

func TestNotificationPreferences(t *testing.T) {
	clock := tilltest.NewClock(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)) // 20:00 in Shanghai
	e := newPushEnv(t, server.WithNotifyOptions(notify.WithClock(clock.Now)))
	e.register(t, e.owner.Token, "owner-phone", "ANDROID", "en")
	e.register(t, e.manager.Token, "manager-phone", "ANDROID", "en")

	type prefs struct {
		Events         []string
		StoreIds       []string
		MinSaleAmount  int64
		QuietHours     *struct{ Start, End string }
		DailySummaryAt string
	}
	var got struct{ NotificationPreferences prefs }
	e.Exec(t, e.manager.Token, myPrefs, nil).Decode(t, &got)
	require.NotContains(t, got.NotificationPreferences.Events, "SALE_COMPLETED", "a manager's default")
	require.Contains(t, got.NotificationPreferences.Events, "SALE_REFUNDED")
	require.Nil(t, got.NotificationPreferences.QuietHours)
	require.Equal(t, "21:00", got.NotificationPreferences.DailySummaryAt)
	e.Exec(t, e.cashier.Token, myPrefs, nil).Decode(t, &got)
	require.Empty(t, got.NotificationPreferences.Events, "a cashier is told nothing by default")

	for _, bad := range []struct {
		in    map[string]any
		field string
	}{
		{map[string]any{"minSaleAmount": -1}, "minSaleAmount"},
		{map[string]any{"quietHours": map[string]any{"start": "25:00", "end": "07:00"}}, "quietHours.start"},
		{map[string]any{"quietHours": map[string]any{"start": "22:00", "end": "22:00"}}, "quietHours"},
		{map[string]any{"dailySummaryAt": "9pm"}, "dailySummaryAt"},
		{map[string]any{"storeIds": []string{e.SignUp(t, "Other Tea").StoreID}}, "storeIds"},
	} {
		saleWantErr(t, e.Exec(t, e.owner.Token, updatePrefs, map[string]any{"i": bad.in}), "BAD_USER_INPUT", bad.field)
	}
	require.Equal(t, "GRAPHQL_VALIDATION_FAILED", e.Exec(t, e.owner.Token, updatePrefs, map[string]any{"i": map[string]any{"events": []string{"EVERYTHING"}}}).Code())

	// The owner wants only sales of at least ¥100, and quiet from 19:00 to
	// 07:00 Shanghai time (it is 20:00 there now).
	var updated struct{ UpdateNotificationPreferences prefs }
	e.Exec(t, e.owner.Token, updatePrefs, map[string]any{"i": map[string]any{
		"events": []string{"SALE_COMPLETED", "SALE_REFUNDED"}, "minSaleAmount": 10000,
		"quietHours": map[string]any{"start": "19:00", "end": "07:00"},
	}}).Decode(t, &updated)
	require.Equal(t, []string{"SALE_COMPLETED", "SALE_REFUNDED"}, updated.UpdateNotificationPreferences.Events)
	require.Equal(t, int64(10000), updated.UpdateNotificationPreferences.MinSaleAmount)
	require.Equal(t, "19:00", updated.UpdateNotificationPreferences.QuietHours.Start)

	e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 9999))
	big := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 10000))
	e.deliver(t)
	require.Empty(t, e.fcm.Requests(), "quiet hours: nothing buzzes")
	notes := e.notes(t, e.owner.Token)
	require.Len(t, notes, 1, "the small sale is under the threshold")
	require.Equal(t, big.ID, notes[0].SubjectID)
	require.Equal(t, "SILENCED", notes[0].Status, "kept, but not pushed")

	// Out of quiet hours (08:00 in Shanghai) the next big sale buzzes.
	clock.Set(time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC))
	e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 20000))
	e.deliver(t)
	require.Len(t, e.fcm.RequestsFor("owner-phone"), 1)

	// A store the owner narrowed away is not heard of.
	second := e.store(t, e.owner.Token, "Second Shop")
	e.Exec(t, e.owner.Token, updatePrefs, map[string]any{"i": map[string]any{"storeIds": []string{e.owner.StoreID}, "clearQuietHours": true}}).Decode(t, &updated)
	require.Nil(t, updated.UpdateNotificationPreferences.QuietHours)
	e.record(t, e.owner.Token, saleCash(second, 50000))
	e.deliver(t)
	require.Len(t, e.fcm.RequestsFor("owner-phone"), 1)

	// A manager hears of refunds at their store, in their own language.
	e.refund(t, e.manager.Token, saleVoid, map[string]any{"idempotencyKey": saleKey(), "saleId": big.ID, "reason": "customer changed their mind"})
	e.deliver(t)
	reqs := e.fcm.RequestsFor("manager-phone")
	require.Len(t, reqs, 1)
	_, title, body := notification(t, reqs[0])
	require.Equal(t, "Refund", title)
	require.Contains(t, body, "voided")
}

func TestDailySummaryAtClosingTime(t *testing.T) {
	clock := tilltest.NewClock(time.Date(2026, 12, 2, 12, 30, 0, 0, time.UTC)) // 20:30 in Shanghai
	e := newPushEnv(t, server.WithNotifyOptions(notify.WithClock(clock.Now)))
	e.register(t, e.owner.Token, "owner-phone", "ANDROID", "zh-CN")
	e.Exec(t, e.owner.Token, updatePrefs, map[string]any{"i": map[string]any{"events": []string{"DAILY_SUMMARY"}}}).Decode(t, &struct{}{})
	e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 1000))
	voided := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 5000))
	e.refund(t, e.cashier.Token, saleVoid, map[string]any{"idempotencyKey": saleKey(), "saleId": voided.ID, "reason": "rang up twice"})
	partly := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 2000))
	e.refund(t, e.owner.Token, saleRefund, map[string]any{"idempotencyKey": saleKey(), "saleId": partly.ID, "reason": "cold tea", "amount": 500})
	e.deliver(t)
	require.Empty(t, e.fcm.Requests(), "only the summary was asked for")

	summarise := func() {
		require.NoError(t, e.Server.Notify.SendDailySummaries(t.Context()))
		e.deliver(t)
	}
	summarise()
	require.Empty(t, e.fcm.Requests(), "not before 21:00 in the store's time zone")
	clock.Set(time.Date(2026, 12, 2, 13, 5, 0, 0, time.UTC)) // 21:05
	summarise()
	reqs := e.fcm.RequestsFor("owner-phone")
	require.Len(t, reqs, 1)
	_, title, body := notification(t, reqs[0])
	require.Equal(t, "今日销售", title)
	require.Contains(t, body, "今日 2 笔销售，共 ¥25.00", "voided sales left out, refunds taken off")
	clock.Set(time.Date(2026, 12, 2, 13, 10, 0, 0, time.UTC))
	summarise()
	require.Len(t, e.fcm.RequestsFor("owner-phone"), 1, "one summary a day")
}

func TestRegisterPushToken(t *testing.T) {
	e := newPushEnv(t)
	in := func(token, locale string) map[string]any {
		return map[string]any{"i": map[string]any{"token": token, "platform": "IOS", "locale": locale}}
	}
	saleWantErr(t, e.Exec(t, e.owner.Token, registerPush, in("  ", "en")), "BAD_USER_INPUT", "token")
	saleWantErr(t, e.Exec(t, e.owner.Token, registerPush, in("tok", "not a language!")), "BAD_USER_INPUT", "locale")
	require.Equal(t, "FORBIDDEN", e.Exec(t, e.Operator(t).Token, registerPush, in("tok", "en")).Code())
	require.Equal(t, "UNAUTHENTICATED", e.Exec(t, "", registerPush, in("tok", "en")).Code())

	phones := func(token string) []string {
		var out struct {
			PushTokens []struct{ DeviceName, Locale string }
		}
		e.Exec(t, token, myPushTokens, nil).Decode(t, &out)
		var names []string
		for _, p := range out.PushTokens {
			names = append(names, p.DeviceName+"/"+p.Locale)
		}
		return names
	}
	e.register(t, e.owner.Token, "shared-tablet", "IOS", "zh-Hans-CN")
	e.register(t, e.owner.Token, "shared-tablet", "IOS", "zh-Hans-CN")
	require.Equal(t, []string{"phone shared-tablet/zh-Hans-CN"}, phones(e.owner.Token), "registering again changes nothing")

	// The phone is handed on: it follows whoever registers it, of any merchant.
	e.register(t, e.manager.Token, "shared-tablet", "ANDROID", "en")
	require.Empty(t, phones(e.owner.Token))
	require.Equal(t, []string{"phone shared-tablet/en"}, phones(e.manager.Token))
	other := e.SignUp(t, "Other Tea")
	e.register(t, other.Token, "shared-tablet", "ANDROID", "en")
	require.Empty(t, phones(e.manager.Token))
	e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 100))
	e.deliver(t)
	require.Empty(t, e.fcm.Requests(), "Lotus Tea's sales no longer reach the phone")

	const unregister = `mutation($t: String!) { unregisterPushToken(token: $t) }`
	var out struct{ UnregisterPushToken bool }
	e.Exec(t, e.owner.Token, unregister, map[string]any{"t": "shared-tablet"}).Decode(t, &out)
	require.False(t, out.UnregisterPushToken, "not the owner's any more")
	e.Exec(t, other.Token, unregister, map[string]any{"t": "shared-tablet"}).Decode(t, &out)
	require.True(t, out.UnregisterPushToken)
	require.Empty(t, phones(other.Token))
}
