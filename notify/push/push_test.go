package push_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/notify/push"
	"github.com/tillpos/till/notify/push/fcmtest"
)

func newFCM(t *testing.T, srv *fcmtest.Server) *push.FCM {
	t.Helper()
	f, err := push.NewFCM(t.Context(), srv.CredentialsFile(), srv.ClientOptions()...)
	require.NoError(t, err)
	return f
}

func targets(p push.Platform, tokens ...string) []push.Target {
	out := make([]push.Target, len(tokens))
	for i, tok := range tokens {
		out[i] = push.Target{Token: tok, Platform: p}
	}
	return out
}

func sale(ts ...push.Target) push.Message {
	return push.Message{
		Targets:     ts,
		Title:       "Sale at Main St",
		Body:        "€12.50 · 3 items",
		Data:        map[string]string{"type": "sale.completed", "saleId": "sal_01J"},
		CollapseKey: "store_01J-sales",
		ChannelID:   "sales",
	}
}

// permanent reports what the outbox worker would read from err.
func permanent(t *testing.T, err error) bool {
	t.Helper()
	var p interface{ Permanent() bool }
	require.True(t, errors.As(err, &p), "error %v has no Permanent method", err)
	return p.Permanent()
}

func TestFCMRequestBody(t *testing.T) {
	srv := fcmtest.NewServer(t)
	f := newFCM(t, srv)

	res, err := f.Send(t.Context(), sale(
		push.Target{Token: "ios-token", Platform: push.IOS},
		push.Target{Token: "android-token", Platform: push.Android},
	))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"ios-token", "android-token"}, res.Sent)
	require.Empty(t, res.Invalid)
	require.Empty(t, res.Retry)

	const want = `{"message": {
		"token": %q,
		"notification": {"title": "Sale at Main St", "body": "€12.50 · 3 items"},
		"data": {"type": "sale.completed", "saleId": "sal_01J"},
		"android": {
			"priority": "high",
			"collapse_key": "store_01J-sales",
			"notification": {"channel_id": "sales", "tag": "store_01J-sales"}
		},
		"apns": {
			"headers": {"apns-collapse-id": "store_01J-sales", "apns-priority": "10"},
			"payload": {"aps": {"sound": "default", "thread-id": "sales"}}
		},
		"webpush": {
			"headers": {"Urgency": "high"},
			"notification": {"tag": "store_01J-sales"}
		}
	}}`
	for _, tok := range []string{"ios-token", "android-token"} {
		reqs := srv.RequestsFor(tok)
		require.Len(t, reqs, 1, tok)
		require.JSONEq(t, fmt.Sprintf(want, tok), string(reqs[0].Raw), tok)
	}
	require.Equal(t, 1, srv.TokenRequests(), "one access token serves both messages")
}

func TestFCMSound(t *testing.T) {
	srv := fcmtest.NewServer(t)
	m := sale(targets(push.IOS, "ios-token")...)
	m.Sound = "till.caf"
	_, err := newFCM(t, srv).Send(t.Context(), m)
	require.NoError(t, err)

	reqs := srv.RequestsFor("ios-token")
	require.Len(t, reqs, 1)
	msg := reqs[0].Body["message"].(map[string]any)
	aps := msg["apns"].(map[string]any)["payload"].(map[string]any)["aps"].(map[string]any)
	require.Equal(t, "till.caf", aps["sound"])
}

func TestFCMMulticast(t *testing.T) {
	srv := fcmtest.NewServer(t)
	var arrived atomic.Int32
	srv.OnMessage(func(r fcmtest.Request) {
		if !r.At.IsZero() {
			arrived.Add(1)
		}
	})
	f := newFCM(t, srv)

	ts := append(targets(push.IOS, "t1", "t2"), targets(push.Android, "t3", "t4", "t2")...)
	res, err := f.Send(t.Context(), sale(ts...))
	require.NoError(t, err)
	require.Equal(t, []string{"t1", "t2", "t3", "t4"}, res.Sent, "in target order, the repeated t2 once")
	require.Len(t, srv.Requests(), 4)
	require.EqualValues(t, 4, arrived.Load())
	require.Len(t, srv.RequestsFor("t2"), 1, "a token listed twice is sent once")
}

func TestFCMMoreThanOneMulticast(t *testing.T) {
	srv := fcmtest.NewServer(t)
	tokens := make([]string, 501) // FCM takes 500 a multicast
	for i := range tokens {
		tokens[i] = fmt.Sprintf("tok-%03d", i)
	}
	res, err := newFCM(t, srv).Send(t.Context(), sale(targets(push.Android, tokens...)...))
	require.NoError(t, err)
	require.Equal(t, tokens, res.Sent)
	require.Len(t, srv.Requests(), 501)
}

func TestFCMNoTargets(t *testing.T) {
	srv := fcmtest.NewServer(t)
	res, err := newFCM(t, srv).Send(t.Context(), sale())
	require.NoError(t, err)
	require.Equal(t, push.Result{}, res)
	require.Empty(t, srv.Requests())
	require.Zero(t, srv.TokenRequests())
}

func TestFCMInvalidTokens(t *testing.T) {
	srv := fcmtest.NewServer(t)
	srv.Respond("gone", fcmtest.Reply{ErrorCode: fcmtest.Unregistered})
	srv.Respond("garbled", fcmtest.Reply{ErrorCode: fcmtest.InvalidArgument})
	// FCM names the token when it is the token that is malformed.
	srv.Respond("truncated", fcmtest.Reply{ErrorCode: fcmtest.InvalidArgument, Field: "message.token"})

	res, err := newFCM(t, srv).Send(t.Context(), sale(targets(push.Android, "gone", "ok", "garbled", "truncated")...))
	require.NoError(t, err)
	require.Equal(t, []string{"ok"}, res.Sent)
	require.Equal(t, []string{"gone", "garbled", "truncated"}, res.Invalid)
	require.Empty(t, res.Retry)
	require.Len(t, srv.RequestsFor("gone"), 1, "the SDK does not retry a 404")
}

func TestFCMRetryable(t *testing.T) {
	srv := fcmtest.NewServer(t)
	// The SDK retries a 503 itself, at once the first time.
	srv.Respond("blip", fcmtest.Reply{ErrorCode: fcmtest.Unavailable}, fcmtest.Reply{})
	// A Retry-After beyond the SDK's two-minute cap stops its retries.
	srv.Respond("down", fcmtest.Reply{ErrorCode: fcmtest.Unavailable, RetryAfter: "180"})
	srv.Respond("throttled", fcmtest.Reply{ErrorCode: fcmtest.QuotaExceeded, RetryAfter: "30"})
	srv.Respond("broken", fcmtest.Reply{ErrorCode: fcmtest.Internal})

	start := time.Now()
	res, err := newFCM(t, srv).Send(t.Context(), sale(targets(push.IOS, "blip", "down", "throttled", "broken")...))
	require.NoError(t, err)
	require.Less(t, time.Since(start), 5*time.Second, "no SDK backoff sleep")
	require.Equal(t, []string{"blip"}, res.Sent)
	require.Equal(t, []string{"down", "throttled", "broken"}, res.Retry)
	require.Empty(t, res.Invalid)
	require.Equal(t, 180*time.Second, res.RetryAfter, "the largest Retry-After")

	require.Len(t, srv.RequestsFor("blip"), 2)
	require.Len(t, srv.RequestsFor("down"), 1)
	require.Len(t, srv.RequestsFor("throttled"), 1, "the SDK does not retry a 429")
	require.Len(t, srv.RequestsFor("broken"), 1, "the SDK does not retry a 500")
}

func TestFCMRetryAfterDate(t *testing.T) {
	srv := fcmtest.NewServer(t)
	at := time.Now().Add(time.Hour).UTC().Format(http1123)
	srv.Respond("throttled", fcmtest.Reply{ErrorCode: fcmtest.QuotaExceeded, RetryAfter: at})

	res, err := newFCM(t, srv).Send(t.Context(), sale(targets(push.Web, "throttled")...))
	require.NoError(t, err)
	require.Equal(t, []string{"throttled"}, res.Retry)
	require.InDelta(t, time.Hour.Seconds(), res.RetryAfter.Seconds(), 5)
}

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

// TestFCMPersistent503 shows the SDK's own backoff on a 503 without
// Retry-After: four retries after 0s, 1s, 2s and 4s, so about 7s.
func TestFCMPersistent503(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the SDK's 7s of 503 backoff")
	}
	srv := fcmtest.NewServer(t)
	srv.Respond("down", fcmtest.Reply{ErrorCode: fcmtest.Unavailable})

	start := time.Now()
	res, err := newFCM(t, srv).Send(t.Context(), sale(targets(push.IOS, "down")...))
	took := time.Since(start)
	require.NoError(t, err)
	require.Equal(t, []string{"down"}, res.Retry)
	require.Zero(t, res.RetryAfter)
	require.Len(t, srv.RequestsFor("down"), 5)
	require.Greater(t, took, 6*time.Second)
	t.Logf("5 attempts took %v", took)
}

func TestFCMRevokedCredentials(t *testing.T) {
	srv := fcmtest.NewServer(t)
	f, err := push.NewFCM(t.Context(), srv.RevokedCredentialsFile(), srv.ClientOptions()...)
	require.NoError(t, err, "the key is only tried on Send")

	res, err := f.Send(t.Context(), sale(targets(push.IOS, "t1", "t2", "t3")...))
	require.ErrorContains(t, err, "invalid_grant")
	require.True(t, permanent(t, err))
	require.Equal(t, push.Result{}, res)
	require.Equal(t, 1, srv.TokenRequests(), "one failed token request, not one per message")
	require.Empty(t, srv.Requests())
}

func TestFCMUnreachable(t *testing.T) {
	srv := fcmtest.NewServer(t)
	f := newFCM(t, srv)
	srv.Close()

	_, err := f.Send(t.Context(), sale(targets(push.IOS, "t1")...))
	require.Error(t, err)
	require.False(t, permanent(t, err), "the network may come back")
}

func TestFCMCanceled(t *testing.T) {
	srv := fcmtest.NewServer(t)
	f := newFCM(t, srv)
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // a worker shutting down

	res, err := f.Send(ctx, sale(targets(push.IOS, "t1", "t2")...))
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, permanent(t, err))
	require.Equal(t, push.Result{}, res, "no token is marked for retry or pruning")
}

func TestFCMSenderIDMismatch(t *testing.T) {
	srv := fcmtest.NewServer(t)
	for _, tok := range []string{"t1", "t2"} {
		srv.Respond(tok, fcmtest.Reply{ErrorCode: fcmtest.SenderIDMismatch})
	}
	res, err := newFCM(t, srv).Send(t.Context(), sale(targets(push.Android, "t1", "t2")...))
	require.Error(t, err)
	require.True(t, permanent(t, err), "the app is registered to another Firebase project")
	require.Equal(t, push.Result{}, res, "the tokens are not pruned")
}

func TestFCMOnePlatformRefused(t *testing.T) {
	srv := fcmtest.NewServer(t)
	srv.Respond("ios-token", fcmtest.Reply{ErrorCode: fcmtest.ThirdPartyAuthError}) // expired APNs key
	res, err := newFCM(t, srv).Send(t.Context(), sale(
		push.Target{Token: "ios-token", Platform: push.IOS},
		push.Target{Token: "android-token", Platform: push.Android},
	))
	require.NoError(t, err)
	require.Equal(t, []string{"android-token"}, res.Sent)
	require.Equal(t, []string{"ios-token"}, res.Retry)
	require.Empty(t, res.Invalid)
}

// A payload FCM rejects answers INVALID_ARGUMENT for every token; none of
// them may be pruned for it.
func TestFCMBadPayload(t *testing.T) {
	t.Run("RejectedByFCM", func(t *testing.T) {
		srv := fcmtest.NewServer(t)
		for _, tok := range []string{"t1", "t2"} {
			srv.Respond(tok, fcmtest.Reply{ErrorCode: fcmtest.InvalidArgument, Field: "message.android.ttl"})
		}
		res, err := newFCM(t, srv).Send(t.Context(), sale(targets(push.Android, "t1", "t2")...))
		require.Error(t, err)
		require.True(t, permanent(t, err))
		require.Equal(t, push.Result{}, res)
	})

	for name, edit := range map[string]func(*push.Message){
		"ReservedKey":     func(m *push.Message) { m.Data["from"] = "till" },
		"GooglePrefix":    func(m *push.Message) { m.Data["google.sent_time"] = "1" },
		"TooBig":          func(m *push.Message) { m.Data["receipt"] = strings.Repeat("x", 4096) },
		"LongCollapseKey": func(m *push.Message) { m.CollapseKey = strings.Repeat("k", 65) },
	} {
		t.Run(name, func(t *testing.T) {
			srv := fcmtest.NewServer(t)
			m := sale(targets(push.IOS, "t1")...)
			edit(&m)
			res, err := newFCM(t, srv).Send(t.Context(), m)
			require.Error(t, err)
			require.True(t, permanent(t, err))
			require.Equal(t, push.Result{}, res)
			require.Empty(t, srv.Requests(), "refused before sending")
		})
	}
}

func TestLog(t *testing.T) {
	var buf bytes.Buffer
	l := push.NewLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	m := sale(targets(push.IOS, "fcm-token-0123456789", "fcm-token-abcdefghij")...)

	res, err := l.Send(t.Context(), m)
	require.NoError(t, err)
	require.Equal(t, []string{"fcm-token-0123456789", "fcm-token-abcdefghij"}, res.Sent)

	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	require.Equal(t, "INFO", line["level"])
	require.Equal(t, "Sale at Main St", line["title"])
	require.Equal(t, "€12.50 · 3 items", line["body"])
	require.Equal(t, map[string]any{"type": "sale.completed", "saleId": "sal_01J"}, line["data"])
	require.EqualValues(t, 2, line["token_count"])
	require.NotContains(t, buf.String(), "0123456789", "tokens are abbreviated")
}

func TestUnconfiguredFailsPermanently(t *testing.T) {
	res, err := push.Unconfigured{}.Send(t.Context(), sale(targets(push.IOS, "t1")...))
	require.ErrorContains(t, err, "FIREBASE_CREDENTIALS")
	require.True(t, permanent(t, err), "dead-lettered at once, redriven once configured")
	require.Equal(t, push.Result{}, res)
}
