package push

import (
	"context"
	"time"
)

// Platform is the kind of device a token belongs to.
type Platform string

// The platforms a push token can come from.
const (
	IOS     Platform = "IOS"
	Android Platform = "ANDROID"
	Web     Platform = "WEB"
)

// Target is one device: its FCM registration token and platform.
type Target struct {
	Token    string
	Platform Platform
}

// Message is one notification for a set of devices.
type Message struct {
	Targets     []Target
	Title, Body string
	// Data is delivered to the app with the notification, e.g.
	// {"type":"sale.completed","saleId":"..."}.
	Data map[string]string
	// CollapseKey makes a later notification with the same key replace an
	// earlier one on the device. At most 64 bytes (the APNs limit).
	CollapseKey string
	// Sound is the APNs sound; "default" when empty.
	Sound string
	// ChannelID is the Android notification channel, e.g. "sales"; it also
	// groups the notifications on iOS (thread-id).
	ChannelID string
}

// Result is what FCM said about each token of a Message.
type Result struct {
	Sent    []string // tokens FCM accepted
	Invalid []string // tokens FCM reported UNREGISTERED / INVALID_ARGUMENT, to prune
	Retry   []string // tokens that failed with a retryable error (429, 503, internal, unavailable)
	// RetryAfter is the largest Retry-After FCM sent, 0 if none.
	RetryAfter time.Duration
}

// Sender delivers push notifications.
type Sender interface {
	// Send delivers m to its targets and reports each token's outcome. It
	// returns an error only when the request as a whole failed; an error
	// retrying cannot fix has a Permanent() bool method returning true.
	Send(ctx context.Context, m Message) (Result, error)
}
