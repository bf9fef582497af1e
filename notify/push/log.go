package push

import (
	"context"
	"errors"
	"log/slog"
)

// Log is the Sender used when no Firebase credentials are configured: it
// logs what would have been sent and reports every token as sent, so a
// development setup runs the whole notification path without Google.
type Log struct {
	log *slog.Logger
}

var _ Sender = (*Log)(nil)

// NewLog returns a Sender that writes to log.
func NewLog(log *slog.Logger) *Log {
	return &Log{log: log}
}

// Send implements Sender.
func (l *Log) Send(ctx context.Context, m Message) (Result, error) {
	tokens := distinct(m.Targets)
	short := make([]string, len(tokens))
	for i, t := range tokens {
		short[i] = abbreviate(t) // enough to tell phones apart, not to push to one
	}
	l.log.InfoContext(ctx, "push not sent: no FCM credentials",
		"title", m.Title, "body", m.Body, "data", m.Data,
		"collapse_key", m.CollapseKey, "token_count", len(tokens), "tokens", short)
	return Result{Sent: tokens}, nil
}

func abbreviate(token string) string {
	if len(token) <= 8 {
		return token
	}
	return token[:8] + "…"
}

// Unconfigured refuses every push, permanently: a production server
// without Firebase credentials sends with it, so the pushes show up as
// dead letters (to be redriven once configured) instead of being logged
// as if sent.
type Unconfigured struct{}

var _ Sender = Unconfigured{}

// Send refuses m.
func (Unconfigured) Send(context.Context, Message) (Result, error) {
	return Result{}, &sendError{err: errors.New("push: no Firebase credentials are configured (FIREBASE_CREDENTIALS)"), permanent: true}
}
