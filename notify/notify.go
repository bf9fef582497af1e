// Package notify tells people what happened: it turns the outbox events a
// sale, a refund or a device raises into live-feed messages and pushes to
// the phones of the merchant's staff who want them, in each phone's
// language, outside their quiet hours, and a daily summary at closing time.
//
// Every push is a Notification row first, written in one transaction with
// the outbox event that sends it; the worker then sends it at least once.
// A repeat of the event that raised it makes no second notification, and a
// retried push goes only to the phones the last try missed.
package notify

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"entgo.io/contrib/entgql"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/notify/live"
	"github.com/tillpos/till/notify/push"
	"github.com/tillpos/till/outbox"
)

// Kind is a kind of event a person may choose to be told about.
type Kind string

// Kinds, matching the GraphQL NotificationEvent enum.
const (
	SaleCompleted Kind = "SALE_COMPLETED"
	SaleRefunded  Kind = "SALE_REFUNDED"
	SaleVoided    Kind = "SALE_VOIDED"
	RiskFlagged   Kind = "RISK_FLAGGED"
	DeviceOffline Kind = "DEVICE_OFFLINE"
	DeviceFault   Kind = "DEVICE_FAULT"
	TicketUpdated Kind = "TICKET_UPDATED"
	LowFeedback   Kind = "LOW_FEEDBACK"
	DailySummary  Kind = "DAILY_SUMMARY"
)

// Kinds lists every kind, in the order the app shows them.
var Kinds = []Kind{SaleCompleted, SaleRefunded, SaleVoided, RiskFlagged, DeviceOffline, DeviceFault, TicketUpdated, LowFeedback, DailySummary}

// defaultKinds is what a role is told until its holder chooses: the owner
// everything, a manager all but each single sale, a cashier nothing (the
// till is in front of them).
func defaultKinds(role viewer.Role) []Kind {
	switch role {
	case viewer.RoleOwner:
		return slices.Clone(Kinds)
	case viewer.RoleManager:
		return slices.DeleteFunc(slices.Clone(Kinds), func(k Kind) bool { return k == SaleCompleted })
	}
	return []Kind{}
}

// topicKinds maps the outbox topics that notify people to their kinds.
var topicKinds = map[string]Kind{
	outbox.SaleCompleted:       SaleCompleted,
	outbox.SaleRefunded:        SaleRefunded,
	outbox.SaleVoided:          SaleVoided,
	outbox.RiskFlagged:         RiskFlagged,
	outbox.DeviceOffline:       DeviceOffline,
	outbox.DeviceFaultReported: DeviceFault,
	outbox.TicketUpdated:       TicketUpdated,
	outbox.FeedbackLow:         LowFeedback,
}

// Publisher sends live-feed events to subscribers on every replica.
type Publisher interface {
	Publish(ctx context.Context, e live.Event) error
}

// Service sends notifications.
type Service struct {
	db   *ent.Client
	push push.Sender
	live Publisher
	log  *slog.Logger
	now  func() time.Time
}

// Option adjusts a Service.
type Option func(*Service)

// WithClock sets the clock quiet hours and the daily summary read.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// New returns a service that pushes with sender and publishes live events
// with pub.
func New(client *ent.Client, sender push.Sender, pub Publisher, log *slog.Logger, opts ...Option) *Service {
	s := &Service{db: client, push: sender, live: pub, log: log, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Register makes w deliver the events this service handles.
func (s *Service) Register(w *outbox.Worker) {
	for topic := range topicKinds {
		w.Handle(topic, s.fanOut)
	}
	// A device coming back is news for the live feed, not worth a buzz.
	w.Handle(outbox.DeviceOnline, s.fanOut)
	w.Handle(topicPush, s.send)
}

// MarshalGQL writes k as a GraphQL enum value.
func (k Kind) MarshalGQL(w io.Writer) { fmt.Fprint(w, strconv.Quote(string(k))) }

// UnmarshalGQL reads a GraphQL enum value into k.
func (k *Kind) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || !slices.Contains(Kinds, Kind(s)) {
		return fmt.Errorf("%v is not a NotificationEvent", v)
	}
	*k = Kind(s)
	return nil
}

// Notifications pages through the viewer's notifications, newest first.
func (s *Service) Notifications(ctx context.Context, after *entgql.Cursor[pulid.ID], first *int) (*ent.NotificationConnection, error) {
	if _, err := staffViewer(ctx); err != nil {
		return nil, err
	}
	return s.db.Notification.Query().Paginate(ctx, after, first, nil, nil,
		ent.WithNotificationOrder([]*ent.NotificationOrder{{Direction: entgql.OrderDirectionDesc, Field: ent.NotificationOrderFieldCreatedAt}}))
}
