package outbox

import (
	"context"
	"strconv"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/outboxevent"
	"github.com/tillpos/till/errs"
)

// MaxListed bounds one page of Events.
const MaxListed = 100

// Filter narrows Events.
type Filter struct {
	Status *outboxevent.Status
	Topic  *string
	// Before pages back: only events with a smaller ID.
	Before *int
	First  int
}

// Events lists a merchant's events, newest first: the owner's own, every
// merchant's for an operator. Dead letters (Status DEAD) are what someone
// has to look at.
func Events(ctx context.Context, client *ent.Client, f Filter) ([]*ent.OutboxEvent, error) {
	if err := mayManage(ctx); err != nil {
		return nil, err
	}
	q := client.OutboxEvent.Query().Order(ent.Desc(outboxevent.FieldID))
	if f.Status != nil {
		q.Where(outboxevent.StatusEQ(*f.Status))
	}
	if f.Topic != nil {
		q.Where(outboxevent.Topic(*f.Topic))
	}
	if f.Before != nil {
		q.Where(outboxevent.IDLT(*f.Before))
	}
	first := f.First
	if first <= 0 || first > MaxListed {
		first = MaxListed
	}
	return q.Limit(first).All(ctx)
}

// Redrive puts a dead-lettered event back in line with a fresh set of
// attempts, once whatever made it fail (a revoked FCM key, an SMTP outage)
// is fixed.
func Redrive(ctx context.Context, client *ent.Client, id int) (*ent.OutboxEvent, error) {
	if err := mayManage(ctx); err != nil {
		return nil, err
	}
	return db.InTx(ctx, client, func(tx *ent.Tx) (*ent.OutboxEvent, error) {
		e, err := tx.OutboxEvent.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil, errs.Newf(errs.NotFound, "no such outbox event")
		}
		if err != nil {
			return nil, err
		}
		if e.Status != outboxevent.StatusDEAD {
			return nil, errs.Newf(errs.Conflict, "only a dead-lettered event can be redriven; this one is %s", e.Status)
		}
		// Written as the system: operators may not write tenant rows.
		e, err = tx.OutboxEvent.UpdateOne(e).
			SetStatus(outboxevent.StatusPENDING).SetAttempts(0).SetAvailableAt(db.Now()).
			Save(viewer.NewSystemContext(ctx, "outbox"))
		if err != nil {
			return nil, err
		}
		entry := audit.Entry{
			MerchantID: e.MerchantID, Action: "outbox.redriven", TargetType: "OutboxEvent",
			Details: map[string]any{"eventId": strconv.Itoa(e.ID), "topic": e.Topic, "lastError": e.LastError},
		}
		return e, audit.Record(ctx, tx.Client(), entry)
	})
}

// mayManage lets owners and operators see and redrive deliveries.
func mayManage(ctx context.Context) error {
	v := viewer.FromContext(ctx)
	if v.IsOperator() || (v.IsStaff() && v.Role == viewer.RoleOwner) {
		return nil
	}
	return errs.Newf(errs.Forbidden, "only the owner or an operator sees deliveries")
}
