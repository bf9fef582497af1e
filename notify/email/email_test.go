package email_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tillpos/till/notify/email"
	"github.com/tillpos/till/notify/email/emailtest"
)

func newSender(t *testing.T, srv *emailtest.Server, user, pass string) *email.SMTP {
	t.Helper()
	s, err := email.NewSMTP(email.SMTPConfig{
		Host: srv.Host, Port: srv.Port, Username: user, Password: pass,
		From: "Till Receipts <receipts@till.test>", TLSPolicy: email.TLSNone, Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSMTPSendsMultipartWithAuth(t *testing.T) {
	srv := emailtest.Start(t, map[string]string{"till": "s3cret"})
	s := newSender(t, srv, "till", "s3cret")
	err := s.Send(context.Background(), email.Message{
		To: "jane@example.com", Subject: "您在 Main St 的收据",
		Text: "Total: $12.00\nThank you!", HTML: "<p>Total: <b>$12.00</b></p>",
		Headers: map[string]string{"List-Unsubscribe": "<https://till.test/u/abc>"},
	})
	if err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("server accepted %d messages, want 1", len(msgs))
	}
	env := msgs[0]
	if env.User != "till" || env.From != "receipts@till.test" || len(env.To) != 1 || env.To[0] != "jane@example.com" {
		t.Fatalf("envelope = %+v", env)
	}
	p := emailtest.Parse(t, env.Data)
	if p.Subject != "您在 Main St 的收据" {
		t.Errorf("subject = %q", p.Subject)
	}
	if got := p.Header.Get("From"); !strings.Contains(got, "receipts@till.test") || !strings.Contains(got, "Till Receipts") {
		t.Errorf("From = %q", got)
	}
	if got := p.Header.Get("To"); !strings.Contains(got, "jane@example.com") {
		t.Errorf("To = %q", got)
	}
	if got := p.Header.Get("List-Unsubscribe"); got != "<https://till.test/u/abc>" {
		t.Errorf("List-Unsubscribe = %q", got)
	}
	if p.Header.Get("Message-ID") == "" || p.Header.Get("Date") == "" {
		t.Errorf("missing Message-ID or Date: %v", p.Header)
	}
	if !strings.HasPrefix(p.Header.Get("Content-Type"), "multipart/alternative") {
		t.Errorf("Content-Type = %q", p.Header.Get("Content-Type"))
	}
	if got := strings.TrimSpace(strings.ReplaceAll(p.Text, "\r\n", "\n")); got != "Total: $12.00\nThank you!" {
		t.Errorf("text = %q", p.Text)
	}
	if !strings.Contains(p.HTML, "<b>$12.00</b>") {
		t.Errorf("html = %q", p.HTML)
	}
}

func TestSMTPWrongPasswordIsNotSent(t *testing.T) {
	srv := emailtest.Start(t, map[string]string{"till": "s3cret"})
	err := newSender(t, srv, "till", "wrong").Send(context.Background(), email.Message{To: "a@example.com", Subject: "x", Text: "x"})
	if err == nil {
		t.Fatal("sent with a wrong password")
	}
	if len(srv.Messages()) != 0 {
		t.Fatal("server accepted a message")
	}
}

func TestSMTPClassifiesRejections(t *testing.T) {
	srv := emailtest.Start(t, nil)
	srv.Reject("gone@example.com", 550, "No such user")
	srv.Reject("busy@example.com", 451, "Try again later")
	s := newSender(t, srv, "", "")
	for _, tc := range []struct {
		to        string
		permanent bool
		code      int
	}{
		{"gone@example.com", true, 550},
		{"busy@example.com", false, 451},
		{"not an address", true, 0},
	} {
		err := s.Send(context.Background(), email.Message{To: tc.to, Subject: "x", Text: "x"})
		if err == nil {
			t.Fatalf("%s: sent", tc.to)
		}
		var perm interface{ Permanent() bool }
		if !errors.As(err, &perm) || perm.Permanent() != tc.permanent {
			t.Errorf("%s: %v: Permanent() = %v, want %v", tc.to, err, perm != nil && perm.Permanent(), tc.permanent)
		}
		var e *email.Error
		if errors.As(err, &e) && e.Code != tc.code {
			t.Errorf("%s: code %d, want %d", tc.to, e.Code, tc.code)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("server accepted %d messages", n)
	}
}

func TestSMTPUnreachableIsRetryable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s, err := email.NewSMTP(email.SMTPConfig{Host: "127.0.0.1", Port: port, From: "r@till.test", TLSPolicy: email.TLSNone, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), email.Message{To: "a@example.com", Subject: "x", Text: "x"})
	var perm interface{ Permanent() bool }
	if err == nil || (errors.As(err, &perm) && perm.Permanent()) {
		t.Fatalf("unreachable server: %v, want a retryable error", err)
	}
}

func TestSMTPMandatoryTLSRefusesPlainServer(t *testing.T) {
	srv := emailtest.Start(t, nil)
	s, err := email.NewSMTP(email.SMTPConfig{Host: srv.Host, Port: srv.Port, From: "r@till.test", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), email.Message{To: "a@example.com", Subject: "x", Text: "x"}); err == nil {
		t.Fatal("sent in clear under the mandatory TLS policy")
	}
	if len(srv.Messages()) != 0 {
		t.Fatal("server accepted a message")
	}
}

func TestNewSMTPChecksConfig(t *testing.T) {
	for _, cfg := range []email.SMTPConfig{
		{From: "r@till.test"},
		{Host: "smtp.test"},
		{Host: "smtp.test", From: "not an address"},
		{Host: "smtp.test", From: "r@till.test", TLSPolicy: "sometimes"},
	} {
		if _, err := email.NewSMTP(cfg); err == nil {
			t.Errorf("NewSMTP(%+v) accepted", cfg)
		}
	}
}

func TestLogSucceedsAndLogs(t *testing.T) {
	var buf bytes.Buffer
	l := email.Log{Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	if err := l.Send(context.Background(), email.Message{To: "a@example.com", Subject: "Hello", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Hello") {
		t.Fatalf("log = %q", buf.String())
	}
}

func TestUnconfiguredFailsPermanently(t *testing.T) {
	err := email.Unconfigured{}.Send(context.Background(), email.Message{To: "a@example.com", Subject: "x", Text: "x"})
	var perm interface{ Permanent() bool }
	if !errors.As(err, &perm) || !perm.Permanent() {
		t.Fatalf("Unconfigured: %v, want a permanent error", err)
	}
}
