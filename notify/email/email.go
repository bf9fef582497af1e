// Package email sends email.
package email

import "context"

// Message is one email: plain text and, optionally, HTML, with extra
// headers (List-Unsubscribe, say).
type Message struct {
	To, Subject, Text, HTML string
	Headers                 map[string]string
}

// Sender sends email. An error that retrying cannot fix has Permanent()
// bool returning true; one carrying the server's requested delay has
// RetryAfter() time.Duration.
type Sender interface {
	Send(ctx context.Context, m Message) error
}
