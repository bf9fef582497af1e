package sms_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tillpos/till/notify/sms"
)

type received struct {
	To, Body, ID string
	Timestamp    string
	Signature    string
	Raw          []byte
}

func provider(t *testing.T, reply func(w http.ResponseWriter)) (*httptest.Server, func() []received) {
	t.Helper()
	var mu sync.Mutex
	var got []received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var msg struct{ To, Body, ID string }
		if err := json.Unmarshal(raw, &msg); err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, received{msg.To, msg.Body, msg.ID, r.Header.Get(sms.HeaderTimestamp), r.Header.Get(sms.HeaderSignature), raw})
		mu.Unlock()
		reply(w)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []received { mu.Lock(); defer mu.Unlock(); return append([]received(nil), got...) }
}

func TestWebhookSendsSignedJSON(t *testing.T) {
	srv, got := provider(t, func(w http.ResponseWriter) { w.WriteHeader(http.StatusAccepted) })
	w := sms.NewWebhook(srv.URL, "whsec", srv.Client())
	for range 2 {
		if err := w.Send(context.Background(), sms.Message{To: "+14155550100", Body: "Main St: receipt 000042"}); err != nil {
			t.Fatal(err)
		}
	}
	msgs := got()
	if len(msgs) != 2 {
		t.Fatalf("provider got %d messages", len(msgs))
	}
	m := msgs[0]
	if m.To != "+14155550100" || m.Body != "Main St: receipt 000042" || m.ID == "" {
		t.Fatalf("message = %+v", m)
	}
	if msgs[1].ID == m.ID {
		t.Error("two messages share an id")
	}
	if err := sms.Verify("whsec", m.Timestamp, m.Raw, m.Signature, time.Now()); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	if !strings.HasPrefix(m.Signature, "sha256=") {
		t.Errorf("signature = %q", m.Signature)
	}
	if err := sms.Verify("other", m.Timestamp, m.Raw, m.Signature, time.Now()); !errors.Is(err, sms.ErrBadSignature) {
		t.Errorf("wrong secret: %v", err)
	}
	tampered := bytes.Replace(m.Raw, []byte("000042"), []byte("000043"), 1)
	if err := sms.Verify("whsec", m.Timestamp, tampered, m.Signature, time.Now()); !errors.Is(err, sms.ErrBadSignature) {
		t.Errorf("tampered body: %v", err)
	}
	if err := sms.Verify("whsec", m.Timestamp, m.Raw, m.Signature, time.Now().Add(10*time.Minute)); !errors.Is(err, sms.ErrStale) {
		t.Errorf("replayed later: %v", err)
	}
}

func TestVerifyKnownVector(t *testing.T) {
	// Receivers in other languages implement the same HMAC; pin it.
	// printf '1733100000.{"to":"+1"}' | openssl dgst -sha256 -hmac whsec
	body := []byte(`{"to":"+1"}`)
	sig := sms.Sign("whsec", "1733100000", body)
	if sig != "sha256=d2e54eb3090850f2ce12dcc2b3ade5cecda4576d94774d18ddd5db01ad4f3468" {
		t.Fatalf("signature = %q", sig)
	}
	if err := sms.Verify("whsec", "1733100000", body, sig, time.Unix(1733100000, 0)); err != nil {
		t.Fatal(err)
	}
	if err := sms.Verify("", "1733100000", body, sms.Sign("", "1733100000", body), time.Unix(1733100000, 0)); err == nil {
		t.Fatal("verified with an empty secret")
	}
}

func TestWebhookClassifiesReplies(t *testing.T) {
	for _, tc := range []struct {
		status     int
		retryAfter string
		permanent  bool
		wait       time.Duration
	}{
		{http.StatusBadRequest, "", true, 0},
		{http.StatusUnprocessableEntity, "", true, 0},
		{http.StatusUnauthorized, "", true, 0},
		{http.StatusRequestTimeout, "", false, 0},
		{http.StatusTooManyRequests, "30", false, 30 * time.Second},
		{http.StatusServiceUnavailable, "7", false, 7 * time.Second},
		{http.StatusInternalServerError, "", false, 0},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			srv, _ := provider(t, func(w http.ResponseWriter) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				http.Error(w, "invalid number", tc.status)
			})
			err := sms.NewWebhook(srv.URL, "whsec", srv.Client()).Send(context.Background(), sms.Message{To: "+1", Body: "x"})
			if err == nil {
				t.Fatal("no error")
			}
			var perm interface{ Permanent() bool }
			if !errors.As(err, &perm) || perm.Permanent() != tc.permanent {
				t.Errorf("Permanent() want %v: %v", tc.permanent, err)
			}
			var ra interface{ RetryAfter() time.Duration }
			if !errors.As(err, &ra) || ra.RetryAfter() != tc.wait {
				t.Errorf("RetryAfter() want %v: %v", tc.wait, err)
			}
			if !strings.Contains(err.Error(), "invalid number") {
				t.Errorf("error does not carry the provider's reply: %v", err)
			}
		})
	}
}

func TestWebhookRetryAfterDate(t *testing.T) {
	srv, _ := provider(t, func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusTooManyRequests)
	})
	err := sms.NewWebhook(srv.URL, "whsec", srv.Client()).Send(context.Background(), sms.Message{To: "+1", Body: "x"})
	var ra interface{ RetryAfter() time.Duration }
	if !errors.As(err, &ra) || ra.RetryAfter() < 80*time.Second || ra.RetryAfter() > 91*time.Second {
		t.Fatalf("RetryAfter from a date: %v", err)
	}
}

func TestWebhookUnreachableIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := sms.NewWebhook(url, "whsec", nil).Send(context.Background(), sms.Message{To: "+1", Body: "x"})
	var perm interface{ Permanent() bool }
	if err == nil || (errors.As(err, &perm) && perm.Permanent()) {
		t.Fatalf("unreachable provider: %v, want retryable", err)
	}
}

func TestLogSucceeds(t *testing.T) {
	var buf bytes.Buffer
	if err := (sms.Log{Logger: slog.New(slog.NewTextHandler(&buf, nil))}).Send(context.Background(), sms.Message{To: "+1", Body: "hello"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "hello") {
		t.Fatalf("log = %q", buf.String())
	}
}

func TestUnconfiguredFailsPermanently(t *testing.T) {
	err := sms.Unconfigured{}.Send(context.Background(), sms.Message{To: "+1", Body: "x"})
	var perm interface{ Permanent() bool }
	if !errors.As(err, &perm) || !perm.Permanent() {
		t.Fatalf("Unconfigured: %v, want a permanent error", err)
	}
}
