// Package sms sends text messages: through an HTTPS webhook to whichever
// SMS provider a deployment uses (NewWebhook), or to the log in development
// (Log).
//
// # The webhook
//
// Each message is a POST of JSON
//
//	{"to": "+14155550100", "body": "Main St: receipt 000042, total $12.00.", "id": "01J…"}
//
// where id is unique per message (the receiver may dedupe on it), with
// headers
//
//	X-Till-Timestamp: 1733100000                 (Unix seconds)
//	X-Till-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// A receiver checks both with Verify, which also refuses stale timestamps
// so a captured request cannot be replayed later. The same scheme signs
// inbound webhooks (e.g. a provider forwarding "STOP" replies).
//
// Replies: 2xx is sent; 408, 429 and 5xx are retried (429 and 503 honour
// Retry-After); any other 4xx is permanent (bad number, bad request).
package sms

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Message is one text message; To is E.164 ("+14155550100").
type Message struct {
	To, Body string
}

// Sender sends one message. An error that retrying cannot fix has
// Permanent() true; one carrying the provider's requested delay has
// RetryAfter().
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Header names of a signed webhook request.
const (
	HeaderTimestamp = "X-Till-Timestamp"
	HeaderSignature = "X-Till-Signature"
)

// MaxSkew is how far a signed request's timestamp may be from now.
const MaxSkew = 5 * time.Minute

// Webhook posts messages to an HTTPS endpoint, signed with a shared secret.
type Webhook struct {
	url    string
	secret []byte
	client *http.Client
	now    func() time.Time
}

var _ Sender = (*Webhook)(nil)

// NewWebhook returns a sender posting to url, signing with secret; a nil
// client gets one with a 15s timeout.
func NewWebhook(url, secret string, client *http.Client) *Webhook {
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	return &Webhook{url: url, secret: []byte(secret), client: client, now: time.Now}
}

// Send posts m. See the package doc for how replies are classified.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	if m.To == "" || m.Body == "" {
		return &Error{msg: "sms: message needs a recipient and a body", permanent: true}
	}
	id := make([]byte, 16)
	rand.Read(id)
	body, err := json.Marshal(struct {
		To   string `json:"to"`
		Body string `json:"body"`
		ID   string `json:"id"`
	}{m.To, m.Body, hex.EncodeToString(id)})
	if err != nil {
		return fmt.Errorf("sms: encoding: %w", err)
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return &Error{msg: fmt.Sprintf("sms: building request: %v", err), permanent: true}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(string(w.secret), ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		return &Error{msg: fmt.Sprintf("sms: posting: %v", err)}
	}
	defer resp.Body.Close()
	// Keep a little of the reply for last_error; the provider's message
	// usually names the problem ("invalid number").
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	e := &Error{
		msg:    fmt.Sprintf("sms: provider replied %s: %s", resp.Status, strings.TrimSpace(string(snippet))),
		Status: resp.StatusCode,
	}
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		e.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), w.now())
	case resp.StatusCode >= 400:
		e.permanent = true
	}
	return e
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Error is a failed send.
type Error struct {
	msg        string
	permanent  bool
	retryAfter time.Duration
	// Status is the provider's HTTP status, 0 if none came back.
	Status int
}

func (e *Error) Error() string { return e.msg }

// Permanent reports that retrying cannot succeed (a 4xx other than 408 and
// 429, or a message that cannot be sent at all).
func (e *Error) Permanent() bool { return e.permanent }

// RetryAfter is the delay the provider asked for, 0 if it named none.
func (e *Error) RetryAfter() time.Duration { return e.retryAfter }

// Sign returns the X-Till-Signature value for a request body sent at
// timestamp (Unix seconds, as in X-Till-Timestamp).
func Sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("sms: bad webhook signature")
	ErrStale        = errors.New("sms: webhook timestamp too old or in the future")
)

// Verify checks a signed webhook request: signature must be Sign(secret,
// timestamp, body), compared in constant time, and timestamp within
// MaxSkew of now.
func Verify(secret, timestamp string, body []byte, signature string, now time.Time) error {
	if secret == "" {
		return ErrBadSignature
	}
	if !hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature)) {
		return ErrBadSignature
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > MaxSkew || d < -MaxSkew {
		return ErrStale
	}
	return nil
}

// Log is a development sender: it logs each message and succeeds.
type Log struct{ Logger *slog.Logger }

var _ Sender = Log{}

// Send logs m.
func (l Log) Send(ctx context.Context, m Message) error {
	l.Logger.InfoContext(ctx, "sms (not sent: no SMS webhook configured)", "to", m.To, "body", m.Body)
	return nil
}

// Unconfigured refuses every message, permanently: a production server
// without an SMS webhook sends with it, so a receipt fails visibly instead
// of being logged as if sent.
type Unconfigured struct{}

var _ Sender = Unconfigured{}

// Send refuses m.
func (Unconfigured) Send(context.Context, Message) error {
	return &Error{msg: "sms: no SMS webhook is configured (TILL_SMS_WEBHOOK_URL)", permanent: true}
}
