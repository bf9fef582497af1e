// Package sms sends text messages.
package sms

import "context"

// Message is one text message to a phone number in E.164.
type Message struct{ To, Body string }

// Sender sends text messages. An error that retrying cannot fix has
// Permanent() bool returning true; one carrying the provider's requested
// delay has RetryAfter() time.Duration.
type Sender interface {
	Send(ctx context.Context, m Message) error
}
