package push

import (
	"context"
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
