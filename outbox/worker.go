package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/outboxevent"
	"github.com/tillpos/till/ent/predicate"
)

// Handler delivers one event. nil marks it delivered; an error is retried
// with backoff, unless it is permanent (see Worker.Handle).
type Handler func(ctx context.Context, e *ent.OutboxEvent) error

// Config tunes a Worker.
type Config struct {
	// Batch is how many events one claim takes.
	Batch int
	// Poll is how long an idle worker waits before looking again.
	Poll time.Duration
	// Lease is how long a claimed event is hidden from other workers: a
	// worker that dies mid-delivery gives it back when the lease ends.
	// It must outlast Timeout, or a slow delivery is made twice.
	Lease time.Duration
	// Timeout bounds one delivery (an FCM request with the SDK's own
	// retries, an SMTP session).
	Timeout time.Duration
	// MaxAttempts after which a failing event is dead-lettered.
	MaxAttempts int
	// BaseDelay and MaxDelay bound the exponential backoff between tries.
	BaseDelay, MaxDelay time.Duration
	// Now is the clock due times are read on; nil is the real one.
	Now func() time.Time
}

// DefaultConfig tries an event 12 times over about half an hour (a push
// later than that is news no longer) before dead-lettering it.
func DefaultConfig() Config {
	return Config{
		Batch: 64, Poll: 100 * time.Millisecond, Lease: 2 * time.Minute, Timeout: 30 * time.Second,
		MaxAttempts: 12, BaseDelay: time.Second, MaxDelay: 30 * time.Minute,
	}
}

// Worker delivers outbox events after their transactions commit: at least
// once, each subject's events in the order they were written, retrying
// failures with exponential backoff and jitter and dead-lettering an event
// after MaxAttempts. Any number of workers, on any number of replicas, may
// run against one database.
type Worker struct {
	db       *ent.Client
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	handlers map[string]Handler
}

// NewWorker returns a worker with no handlers; events of a topic nobody
// handles are marked delivered, as there is nothing to do for them.
func NewWorker(client *ent.Client, cfg Config, log *slog.Logger) *Worker {
	now := cfg.Now
	if now == nil {
		now = db.Now
	}
	return &Worker{db: client, cfg: cfg, log: log, now: now, handlers: map[string]Handler{}}
}

// Handle makes h deliver topic's events. An error h returns is retried,
// after the delay the error asks for if one in its chain has a
// RetryAfter() time.Duration method, unless one has Permanent() returning
// true: those are dead-lettered at once, as retrying cannot help.
func (w *Worker) Handle(topic string, h Handler) { w.handlers[topic] = h }

// Run delivers events until ctx is done.
func (w *Worker) Run(ctx context.Context) {
	for {
		n, err := w.DeliverDue(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.WarnContext(ctx, "outbox: claiming events", "err", err)
		}
		if n > 0 {
			// More may be due: a full batch left some, and deliveries
			// write events of their own (a sale's pushes).
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(w.cfg.Poll):
		}
	}
}

// DeliverDue claims one batch of due events and delivers them, returning
// how many it claimed.
func (w *Worker) DeliverDue(ctx context.Context) (int, error) {
	ctx = viewer.NewSystemContext(ctx, "outbox")
	events, err := w.claim(ctx)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	// A batch holds at most one event per subject (claim holds back later
	// ones), so its events are delivered side by side.
	var wg sync.WaitGroup
	for _, e := range events {
		wg.Go(func() { w.deliver(ctx, e) })
	}
	wg.Wait()
	return len(events), nil
}

// Drain delivers until nothing is due, for tests and the command line.
func (w *Worker) Drain(ctx context.Context) error {
	for {
		n, err := w.DeliverDue(ctx)
		if err != nil || n == 0 {
			return err
		}
	}
}

// claim takes up to Batch due events whose subject has no earlier event
// still pending, and hides them from other workers for the lease. On
// PostgreSQL, rows another worker is claiming are skipped rather than
// waited for; SQLite runs one write transaction at a time. The cheap read
// first keeps an idle worker from taking the SQLite write turn.
func (w *Worker) claim(ctx context.Context) ([]*ent.OutboxEvent, error) {
	now := w.now()
	due := []predicate.OutboxEvent{outboxevent.StatusEQ(outboxevent.StatusPENDING), outboxevent.AvailableAtLTE(now), firstOfSubject}
	if ok, err := w.db.OutboxEvent.Query().Where(due...).Exist(ctx); err != nil || !ok {
		return nil, err
	}
	var events []*ent.OutboxEvent
	err := db.WithTx(ctx, w.db, func(tx *ent.Tx) (err error) {
		events, err = tx.OutboxEvent.Query().Where(due...).
			Order(outboxevent.ByID()).Limit(w.cfg.Batch).
			Modify(skipLocked).
			All(ctx)
		if err != nil || len(events) == 0 {
			return err
		}
		ids := make([]int, len(events))
		for i, e := range events {
			ids[i] = e.ID
			e.Attempts++
		}
		return tx.OutboxEvent.Update().Where(outboxevent.IDIn(ids...)).
			SetAvailableAt(now.Add(w.cfg.Lease)).AddAttempts(1).
			Exec(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("claiming outbox events: %w", err)
	}
	return events, nil
}

// firstOfSubject keeps events that no earlier pending event about the same
// subject holds back: a refund's push never overtakes its sale's, even when
// the sale's is being retried.
func firstOfSubject(s *entsql.Selector) {
	earlier := entsql.Table(outboxevent.Table).As("earlier")
	s.Where(entsql.NotExists(
		entsql.Select(earlier.C(outboxevent.FieldID)).From(earlier).Where(entsql.And(
			entsql.ColumnsEQ(earlier.C(outboxevent.FieldSubjectID), s.C(outboxevent.FieldSubjectID)),
			entsql.EQ(earlier.C(outboxevent.FieldStatus), outboxevent.StatusPENDING),
			entsql.ColumnsLT(earlier.C(outboxevent.FieldID), s.C(outboxevent.FieldID)),
		)),
	))
}

// skipLocked locks the claimed rows, passing over those another worker
// holds, on PostgreSQL; SQLite has no row locks and needs none.
func skipLocked(s *entsql.Selector) {
	if s.Dialect() != dialect.SQLite {
		s.ForUpdate(entsql.WithLockAction(entsql.SkipLocked), entsql.WithLockTables(outboxevent.Table))
	}
}

// deliver runs e's handler and records the outcome.
func (w *Worker) deliver(ctx context.Context, e *ent.OutboxEvent) {
	var err error
	if h := w.handlers[e.Topic]; h != nil {
		hctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
		err = safely(hctx, h, e)
		cancel()
	}
	if ctx.Err() != nil {
		// Shutting down: the lease gives the event back to whoever runs next.
		return
	}
	// The outcome is written even if the caller has gone, so a delivered
	// event is not delivered again.
	ctx = context.WithoutCancel(ctx)
	update := w.db.OutboxEvent.UpdateOneID(e.ID)
	now := w.now()
	switch {
	case err == nil:
		update.SetStatus(outboxevent.StatusDELIVERED).SetDeliveredAt(now).ClearLastError()
	case permanent(err) || e.Attempts >= w.cfg.MaxAttempts:
		update.SetStatus(outboxevent.StatusDEAD).SetLastError(truncate(err.Error()))
		w.log.ErrorContext(ctx, "outbox: event dead-lettered", "event", e.ID, "topic", e.Topic,
			"merchant", e.MerchantID, "attempts", e.Attempts, "err", err)
	default:
		delay := w.backoff(e.Attempts)
		if after := retryAfter(err); after > delay {
			delay = after
		}
		update.SetAvailableAt(now.Add(delay)).SetLastError(truncate(err.Error()))
		w.log.WarnContext(ctx, "outbox: delivery failed; will retry", "event", e.ID, "topic", e.Topic,
			"attempts", e.Attempts, "retry_in", delay.String(), "err", err)
	}
	if err := update.Exec(ctx); err != nil {
		// The lease runs out and the event is tried again.
		w.log.ErrorContext(ctx, "outbox: recording delivery", "event", e.ID, "err", err)
	}
}

// safely runs h, turning a panic into an error so that one bad event
// cannot stop the worker.
func safely(ctx context.Context, h Handler, e *ent.OutboxEvent) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = Permanent(fmt.Errorf("handler panicked: %v", v))
		}
	}()
	return h(ctx, e)
}

// backoff is the delay before try attempts+1: BaseDelay doubled per
// attempt, capped at MaxDelay, with "equal jitter" (half fixed, half
// random) so that events that failed together do not retry together.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.cfg.MaxDelay
	if shift := attempts - 1; shift < 30 {
		d = min(w.cfg.BaseDelay<<shift, w.cfg.MaxDelay)
	}
	half := d / 2
	return half + rand.N(half+1)
}

func permanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

func retryAfter(err error) time.Duration {
	var r interface{ RetryAfter() time.Duration }
	if errors.As(err, &r) {
		return r.RetryAfter()
	}
	return 0
}

// Permanent marks err as one retrying cannot fix.
func Permanent(err error) error { return permanentError{err} }

type permanentError struct{ error }

func (permanentError) Permanent() bool { return true }
func (p permanentError) Unwrap() error { return p.error }

func truncate(s string) string {
	const max = 2000
	if len(s) > max {
		return s[:max]
	}
	return s
}

// KeepDelivered is how long delivered events stay for looking into a
// complaint ("I never got the push"); dead ones stay until redriven.
const KeepDelivered = 7 * 24 * time.Hour

// Prune deletes events delivered more than KeepDelivered ago, in batches
// so that no statement holds the table long.
func (w *Worker) Prune(ctx context.Context) error {
	ctx = viewer.NewSystemContext(ctx, "outbox")
	cutoff := w.now().Add(-KeepDelivered)
	for {
		ids, err := w.db.OutboxEvent.Query().
			Where(outboxevent.StatusEQ(outboxevent.StatusDELIVERED), outboxevent.DeliveredAtLT(cutoff)).
			Limit(1000).IDs(ctx)
		if err != nil || len(ids) == 0 {
			return err
		}
		if _, err := w.db.OutboxEvent.Delete().Where(outboxevent.IDIn(ids...)).Exec(ctx); err != nil {
			return fmt.Errorf("pruning delivered outbox events: %w", err)
		}
	}
}
