package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/outboxevent"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/outbox"
)

type fixture struct {
	db       *ent.Client
	clock    *tilltest.Clock
	merchant pulid.ID
	cfg      outbox.Config
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	d := tilltest.OpenDB(t)
	ctx := viewer.NewSystemContext(t.Context(), "test")
	m, err := d.Client.Merchant.Create().SetName("Outbox Cafe").SetCurrency("USD").Save(ctx)
	require.NoError(t, err)
	// A minute ahead, so that the events a test writes (stamped with the
	// real time) are due at once.
	c := tilltest.NewClock(db.Now().Add(time.Minute))
	cfg := outbox.DefaultConfig()
	cfg.Now = c.Now
	return &fixture{db: d.Client, clock: c, merchant: m.ID, cfg: cfg}
}

func (f *fixture) worker() *outbox.Worker {
	return outbox.NewWorker(f.db, f.cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func (f *fixture) ctx(t *testing.T) context.Context {
	return viewer.NewSystemContext(t.Context(), "test")
}

// add writes an event about subject in its own committed transaction.
func (f *fixture) add(t *testing.T, topic string, subject pulid.ID) {
	t.Helper()
	err := db.WithTx(f.ctx(t), f.db, func(tx *ent.Tx) error {
		return outbox.Add(f.ctx(t), tx, f.merchant, topic, subject, map[string]any{"n": 1})
	})
	require.NoError(t, err)
}

func (f *fixture) event(t *testing.T, subject pulid.ID) *ent.OutboxEvent {
	t.Helper()
	e, err := f.db.OutboxEvent.Query().Where(outboxevent.SubjectID(string(subject))).Only(f.ctx(t))
	require.NoError(t, err)
	return e
}

// recorder is a handler that records what it delivered and fails as told.
type recorder struct {
	mu     sync.Mutex
	got    []string
	failN  map[string]int // subject → failures left
	errFor func(subject string) error
}

func (r *recorder) handle(_ context.Context, e *ent.OutboxEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failN[e.SubjectID] > 0 {
		r.failN[e.SubjectID]--
		if r.errFor != nil {
			return r.errFor(e.SubjectID)
		}
		return errors.New("provider unavailable")
	}
	r.got = append(r.got, e.SubjectID)
	return nil
}

func (r *recorder) delivered() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func TestWorkerDeliversCommittedEventsOnly(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx(t)
	f.add(t, "sale.completed", "sal_committed")
	err := db.WithTx(ctx, f.db, func(tx *ent.Tx) error {
		if err := outbox.Add(ctx, tx, f.merchant, "sale.completed", "sal_rolled_back", nil); err != nil {
			return err
		}
		return errors.New("the sale failed after its event was written")
	})
	require.Error(t, err)

	r := &recorder{}
	w := f.worker()
	w.Handle("sale.completed", r.handle)
	require.NoError(t, w.Drain(ctx))
	require.Equal(t, []string{"sal_committed"}, r.delivered())
	e := f.event(t, "sal_committed")
	require.Equal(t, outboxevent.StatusDELIVERED, e.Status)
	require.Equal(t, 1, e.Attempts)
	require.NotNil(t, e.DeliveredAt)

	require.NoError(t, w.Drain(ctx))
	require.Len(t, r.delivered(), 1, "a delivered event is not delivered again")
}

func TestWorkerRetriesWithGrowingBackoff(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx(t)
	f.add(t, "sale.completed", "sal_flaky")
	r := &recorder{failN: map[string]int{"sal_flaky": 3}}
	w := f.worker()
	w.Handle("sale.completed", r.handle)

	var waits []time.Duration
	for range 3 {
		before := f.clock.Now()
		require.NoError(t, w.Drain(ctx))
		e := f.event(t, "sal_flaky")
		require.Equal(t, outboxevent.StatusPENDING, e.Status)
		require.Equal(t, "provider unavailable", e.LastError)
		wait := e.AvailableAt.Sub(before)
		waits = append(waits, wait)
		require.NoError(t, w.Drain(ctx))
		require.Empty(t, r.delivered(), "not tried again before its backoff ends")
		f.clock.Advance(wait)
	}
	// Attempt n waits between half and all of BaseDelay × 2^(n-1).
	for i, wait := range waits {
		full := f.cfg.BaseDelay << i
		require.GreaterOrEqual(t, wait, full/2, "wait %d", i+1)
		require.LessOrEqual(t, wait, full, "wait %d", i+1)
	}
	require.NoError(t, w.Drain(ctx))
	require.Equal(t, []string{"sal_flaky"}, r.delivered())
	e := f.event(t, "sal_flaky")
	require.Equal(t, outboxevent.StatusDELIVERED, e.Status)
	require.Equal(t, 4, e.Attempts)
	require.Empty(t, e.LastError)
}

type retryAfterErr struct{ d time.Duration }

func (e retryAfterErr) Error() string             { return "slow down" }
func (e retryAfterErr) RetryAfter() time.Duration { return e.d }

func TestWorkerHonoursRetryAfter(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx(t)
	f.add(t, "sale.completed", "sal_429")
	r := &recorder{failN: map[string]int{"sal_429": 1}, errFor: func(string) error {
		return fmt.Errorf("fcm: %w", retryAfterErr{d: 5 * time.Minute})
	}}
	w := f.worker()
	w.Handle("sale.completed", r.handle)
	before := f.clock.Now()
	require.NoError(t, w.Drain(ctx))
	require.Equal(t, before.Add(5*time.Minute), f.event(t, "sal_429").AvailableAt.UTC().Truncate(time.Microsecond).In(before.Location()))
}

type permanentErr struct{}

func (permanentErr) Error() string   { return "no such address" }
func (permanentErr) Permanent() bool { return true }

func TestWorkerDeadLettersAndRedrives(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx(t)
	f.cfg.MaxAttempts = 3
	f.add(t, "sale.completed", "sal_never")
	f.add(t, "receipt.requested", "rcp_bad_address")
	r := &recorder{failN: map[string]int{"sal_never": 100, "rcp_bad_address": 1}, errFor: func(subject string) error {
		if subject == "rcp_bad_address" {
			return permanentErr{}
		}
		return errors.New("still down")
	}}
	w := f.worker()
	w.Handle("sale.completed", r.handle)
	w.Handle("receipt.requested", r.handle)

	require.NoError(t, w.Drain(ctx))
	bad := f.event(t, "rcp_bad_address")
	require.Equal(t, outboxevent.StatusDEAD, bad.Status, "a permanent error is not retried")
	require.Equal(t, 1, bad.Attempts)
	require.Equal(t, "no such address", bad.LastError)
	for range 3 {
		f.clock.Advance(time.Hour)
		require.NoError(t, w.Drain(ctx))
	}
	never := f.event(t, "sal_never")
	require.Equal(t, outboxevent.StatusDEAD, never.Status)
	require.Equal(t, 3, never.Attempts)
	require.Equal(t, "still down", never.LastError)

	// The provider is back: redriving puts it in line with fresh attempts.
	r.failN["sal_never"] = 0
	owner := viewer.NewContext(t.Context(), &viewer.Viewer{Kind: viewer.KindStaff, ID: "stf_owner", MerchantID: f.merchant, Role: viewer.RoleOwner})
	redriven, err := outbox.Redrive(owner, f.db, never.ID)
	require.NoError(t, err)
	require.Equal(t, outboxevent.StatusPENDING, redriven.Status)
	require.Equal(t, 0, redriven.Attempts)
	require.NoError(t, w.Drain(ctx))
	require.Equal(t, []string{"sal_never"}, r.delivered())

	_, err = outbox.Redrive(owner, f.db, never.ID)
	require.ErrorContains(t, err, "only a dead-lettered event can be redriven")
	cashier := viewer.NewContext(t.Context(), &viewer.Viewer{Kind: viewer.KindStaff, ID: "stf_cashier", MerchantID: f.merchant, Role: viewer.RoleCashier})
	_, err = outbox.Redrive(cashier, f.db, bad.ID)
	require.ErrorContains(t, err, "only the owner or an operator")
	other := viewer.NewContext(t.Context(), &viewer.Viewer{Kind: viewer.KindStaff, ID: "stf_other", MerchantID: "mer_other", Role: viewer.RoleOwner})
	_, err = outbox.Redrive(other, f.db, bad.ID)
	require.ErrorContains(t, err, "no such outbox event", "another merchant's event is not found")
}

func TestWorkerDeadLettersAPanickingHandler(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx(t)
	f.add(t, "sale.completed", "sal_panics")
	f.add(t, "sale.completed", "sal_fine")
	r := &recorder{}
	w := f.worker()
	w.Handle("sale.completed", func(ctx context.Context, e *ent.OutboxEvent) error {
		if e.SubjectID == "sal_panics" {
			panic("nil map")
		}
		return r.handle(ctx, e)
	})
	require.NoError(t, w.Drain(ctx))
	require.Equal(t, []string{"sal_fine"}, r.delivered())
	e := f.event(t, "sal_panics")
	require.Equal(t, outboxevent.StatusDEAD, e.Status)
	require.Contains(t, e.LastError, "handler panicked: nil map")
}

// Events about one subject are delivered in the order they were written,
// even when the first has to be retried: a refund's push never arrives
// before its sale's.
func TestWorkerKeepsEachSubjectsOrder(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx(t)
	f.add(t, "sale.completed", "sal_1")
	f.add(t, "sale.refunded", "sal_1")
	f.add(t, "sale.completed", "sal_2")
	var mu sync.Mutex
	var got []string
	fails := 1
	w := f.worker()
	handle := func(_ context.Context, e *ent.OutboxEvent) error {
		mu.Lock()
		defer mu.Unlock()
		if e.Topic == "sale.completed" && e.SubjectID == "sal_1" && fails > 0 {
			fails--
			return errors.New("fcm 503")
		}
		got = append(got, e.Topic+" "+e.SubjectID)
		return nil
	}
	w.Handle("sale.completed", handle)
	w.Handle("sale.refunded", handle)
	require.NoError(t, w.Drain(ctx))
	require.Equal(t, []string{"sale.completed sal_2"}, got, "sal_1's refund waits for its sale")
	f.clock.Advance(time.Minute)
	require.NoError(t, w.Drain(ctx))
	require.Equal(t, []string{"sale.completed sal_2", "sale.completed sal_1", "sale.refunded sal_1"}, got)
}

// A worker that dies between claiming an event and recording its delivery
// holds it only for the lease; then another worker delivers it.
func TestWorkerLeaseReturnsAnAbandonedEvent(t *testing.T) {
	f := newFixture(t)
	f.add(t, "sale.completed", "sal_abandoned")
	dying := f.worker()
	started := make(chan struct{})
	dyingCtx, die := context.WithCancel(f.ctx(t))
	dying.Handle("sale.completed", func(ctx context.Context, _ *ent.OutboxEvent) error {
		close(started)
		<-ctx.Done() // the process is killed mid-delivery
		return ctx.Err()
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = dying.DeliverDue(dyingCtx)
	}()
	<-started
	die()
	<-done

	r := &recorder{}
	next := f.worker()
	next.Handle("sale.completed", r.handle)
	require.NoError(t, next.Drain(f.ctx(t)))
	require.Empty(t, r.delivered(), "still leased to the worker that died")
	f.clock.Advance(f.cfg.Lease)
	require.NoError(t, next.Drain(f.ctx(t)))
	require.Equal(t, []string{"sal_abandoned"}, r.delivered())
	require.Equal(t, 2, f.event(t, "sal_abandoned").Attempts)
}

// Several workers (as on several replicas) share the table: every event
// is delivered, and none twice.
func TestWorkersShareTheOutbox(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx(t)
	const events = 300
	err := db.WithTx(ctx, f.db, func(tx *ent.Tx) error {
		for i := range events {
			if err := outbox.Add(ctx, tx, f.merchant, "sale.completed", pulid.ID(fmt.Sprintf("sal_%03d", i)), nil); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	var deliveries atomic.Int64
	seen := sync.Map{}
	var dupes atomic.Int64
	f.cfg.Batch = 16
	var wg sync.WaitGroup
	for range 4 {
		w := f.worker()
		w.Handle("sale.completed", func(_ context.Context, e *ent.OutboxEvent) error {
			if _, loaded := seen.LoadOrStore(e.SubjectID, true); loaded {
				dupes.Add(1)
			}
			deliveries.Add(1)
			return nil
		})
		wg.Go(func() { require.NoError(t, w.Drain(ctx)) })
	}
	wg.Wait()
	require.Equal(t, int64(events), deliveries.Load())
	require.Zero(t, dupes.Load())
	n, err := f.db.OutboxEvent.Query().Where(outboxevent.StatusEQ(outboxevent.StatusDELIVERED)).Count(ctx)
	require.NoError(t, err)
	require.Equal(t, events, n)
}

func TestWorkerMarksUnhandledTopicsDeliveredAndPrunes(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx(t)
	f.add(t, "offer.created", "ofr_nobody_listens")
	w := f.worker()
	require.NoError(t, w.Drain(ctx))
	require.Equal(t, outboxevent.StatusDELIVERED, f.event(t, "ofr_nobody_listens").Status)

	require.NoError(t, w.Prune(ctx))
	require.Equal(t, 1, f.db.OutboxEvent.Query().CountX(ctx), "kept for a week")
	f.clock.Advance(outbox.KeepDelivered + time.Minute)
	require.NoError(t, w.Prune(ctx))
	require.Zero(t, f.db.OutboxEvent.Query().CountX(ctx))
}
