// Package email sends email: over SMTP in production (NewSMTP) and to the
// log in development (Log).
package email

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	mail "github.com/wneessen/go-mail"
)

// Message is one email to one recipient. Text is required; HTML, when set,
// is sent as the alternative part of a multipart/alternative message.
// Headers are extra headers, e.g. List-Unsubscribe for a campaign.
type Message struct {
	To, Subject, Text, HTML string
	Headers                 map[string]string
}

// Sender sends one message. An error that retrying cannot fix (the server
// rejected the address or the message with a 5xx, or the address is
// malformed) has Permanent() true; any other error (4xx, network) is worth
// retrying.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// TLSPolicy says whether the connection to the SMTP server must be
// encrypted with STARTTLS.
type TLSPolicy string

// TLS policies.
const (
	// TLSMandatory refuses to send unless the server offers STARTTLS; the
	// default, since the message carries a customer's receipt.
	TLSMandatory TLSPolicy = "mandatory"
	// TLSOpportunistic uses STARTTLS when the server offers it.
	TLSOpportunistic TLSPolicy = "opportunistic"
	// TLSNone never uses STARTTLS: a local development relay only.
	TLSNone TLSPolicy = "none"
)

// SMTPConfig configures an SMTP sender.
type SMTPConfig struct {
	Host string
	// Port defaults to 587 (submission).
	Port int
	// Username and Password authenticate with SMTP AUTH; no username means
	// no authentication.
	Username, Password string
	// From is the envelope sender and From header, e.g. "Till <receipts@example.com>".
	From      string
	TLSPolicy TLSPolicy
	// Timeout bounds connecting and each SMTP command; default 15s.
	Timeout time.Duration
}

// SMTP sends each message over its own SMTP connection, which keeps it
// simple and safe to share between goroutines; receipts are not bulk mail.
type SMTP struct {
	cfg  SMTPConfig
	opts []mail.Option
}

var _ Sender = (*SMTP)(nil)

// NewSMTP checks cfg and returns a sender. It does not connect.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	if cfg.Host == "" {
		return nil, errors.New("email: SMTP host is required")
	}
	if cfg.From == "" {
		return nil, errors.New("email: From address is required")
	}
	if err := mail.NewMsg().From(cfg.From); err != nil {
		return nil, fmt.Errorf("email: From address: %w", err)
	}
	if cfg.Port == 0 {
		cfg.Port = 587
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	opts := []mail.Option{mail.WithPort(cfg.Port), mail.WithTimeout(cfg.Timeout)}
	switch cfg.TLSPolicy {
	case "", TLSMandatory:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case TLSOpportunistic:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		return nil, fmt.Errorf("email: TLS policy %q: want mandatory, opportunistic or none", cfg.TLSPolicy)
	}
	if cfg.Username != "" {
		// Over TLS, go-mail picks the best mechanism the server offers and
		// will not send a password in clear; a local relay without TLS gets
		// PLAIN, which is all such relays offer.
		auth := mail.SMTPAuthAutoDiscover
		if cfg.TLSPolicy == TLSNone {
			auth = mail.SMTPAuthPlainNoEnc
		}
		opts = append(opts, mail.WithSMTPAuth(auth), mail.WithUsername(cfg.Username), mail.WithPassword(cfg.Password))
	}
	return &SMTP{cfg: cfg, opts: opts}, nil
}

// Send delivers m. See Sender for how errors are classified.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := s.build(m)
	if err != nil {
		return err
	}
	c, err := mail.NewClient(s.cfg.Host, s.opts...)
	if err != nil {
		return fmt.Errorf("email: creating client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return classify(err)
	}
	return nil
}

func (s *SMTP) build(m Message) (*mail.Msg, error) {
	if m.Text == "" {
		return nil, errors.New("email: message has no text")
	}
	msg := mail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return nil, fmt.Errorf("email: From address: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, &Error{err: fmt.Errorf("email: recipient %w", err), permanent: true}
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	for k, v := range m.Headers {
		msg.SetGenHeader(mail.Header(k), v)
	}
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// Error is a failed send. Permanent reports whether retrying is pointless.
type Error struct {
	err       error
	permanent bool
	// Code is the SMTP reply code (550, 451, …), 0 if the server sent none.
	Code int
}

func (e *Error) Error() string { return e.err.Error() }

// Unwrap returns the underlying error (go-mail's *mail.SendError for a
// server reply).
func (e *Error) Unwrap() error { return e.err }

// Permanent reports that retrying the same message cannot succeed; the
// outbox dead-letters it at once.
func (e *Error) Permanent() bool { return e.permanent }

// classify reads the server's reply code off go-mail's SendError: 5xx is a
// permanent rejection (no such mailbox, message refused), 4xx and anything
// without a code (dial, TLS, timeout) are worth retrying.
func classify(err error) error {
	e := &Error{err: fmt.Errorf("email: sending: %w", err)}
	var se *mail.SendError
	if errors.As(err, &se) {
		e.Code = se.ErrorCode()
		e.permanent = !se.IsTemp() && e.Code >= 500 && e.Code < 600
	}
	return e
}

// Log is a development sender: it logs each message and succeeds.
type Log struct{ Logger *slog.Logger }

var _ Sender = Log{}

// Send logs m.
func (l Log) Send(ctx context.Context, m Message) error {
	l.Logger.InfoContext(ctx, "email (not sent: no SMTP configured)", "to", m.To, "subject", m.Subject, "text", m.Text)
	return nil
}

// Unconfigured refuses every message, permanently: a production server
// without SMTP settings sends with it, so a receipt fails visibly instead
// of being logged as if sent.
type Unconfigured struct{}

var _ Sender = Unconfigured{}

// Send refuses m.
func (Unconfigured) Send(context.Context, Message) error {
	return &Error{err: errors.New("email: no SMTP server is configured (SMTP_HOST)"), permanent: true}
}
