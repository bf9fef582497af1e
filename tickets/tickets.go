// Package tickets keeps service tickets: faults a device or a staff member
// reports, and merchants' complaints and suggestions, worked by the
// platform's operators with comments, an assignee, a status and an SLA.
//
// Who may do what: any staff member of the merchant reports (a device at
// one of their stores) and comments; a paired device reports a fault about
// itself with its credential, retried safely with an idempotency key. The
// owner and managers reply to, close and reopen their tickets (see
// merchantMoves); platform operators assign, move any ticket between
// statuses, write internal notes the merchant never sees, and swap a
// faulty device. The owner may swap a device too. Operators act on every
// merchant's tickets: their writes go as the system, the operator named
// in the audit entry.
//
// Every change is audited and raises the outbox event ticket.updated in
// its own transaction; a device fault also raises device.fault_reported.
package tickets

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/devices"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/ticket"
	"github.com/tillpos/till/ent/ticketcomment"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/idempotency"
	"github.com/tillpos/till/internal/ptr"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/outbox"
)

// The SLA: how long the platform takes at most to answer a ticket, by its
// priority at creation. A ticket's slaDueAt is its creation time plus this;
// the operators' queue is ordered by it.
const (
	SLAUrgent = 4 * time.Hour
	SLAHigh   = 24 * time.Hour
	SLANormal = 72 * time.Hour
	SLALow    = 7 * 24 * time.Hour
)

// SLA is the answer time promised for priority p.
func SLA(p ticket.Priority) time.Duration {
	switch p {
	case ticket.PriorityURGENT:
		return SLAUrgent
	case ticket.PriorityHIGH:
		return SLAHigh
	case ticket.PriorityLOW:
		return SLALow
	default:
		return SLANormal
	}
}

const (
	maxTitleRunes = 200
	maxTextRunes  = 5000
)

// transitions are the status changes a ticket may make; operators make
// any of them. Anything else is CONFLICT.
var transitions = map[ticket.Status][]ticket.Status{
	ticket.StatusOPEN:                 {ticket.StatusIN_PROGRESS, ticket.StatusWAITING_FOR_MERCHANT, ticket.StatusRESOLVED, ticket.StatusCLOSED},
	ticket.StatusIN_PROGRESS:          {ticket.StatusWAITING_FOR_MERCHANT, ticket.StatusRESOLVED, ticket.StatusCLOSED},
	ticket.StatusWAITING_FOR_MERCHANT: {ticket.StatusIN_PROGRESS, ticket.StatusRESOLVED, ticket.StatusCLOSED},
	ticket.StatusRESOLVED:             {ticket.StatusCLOSED, ticket.StatusIN_PROGRESS},
	ticket.StatusCLOSED:               {ticket.StatusIN_PROGRESS},
}

// merchantMoves are the transitions the merchant's owner and managers may
// make: answer what the operator waits for, withdraw a ticket nobody has
// taken up, confirm a resolution or reopen it. Other valid transitions are
// FORBIDDEN to them.
var merchantMoves = map[ticket.Status][]ticket.Status{
	ticket.StatusOPEN:                 {ticket.StatusCLOSED},
	ticket.StatusWAITING_FOR_MERCHANT: {ticket.StatusIN_PROGRESS},
	ticket.StatusRESOLVED:             {ticket.StatusCLOSED, ticket.StatusIN_PROGRESS},
}

// Service manages tickets.
type Service struct {
	db      *ent.Client
	devices *devices.Service
	now     func() time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock (tests check SLA due times against it).
func WithClock(now func() time.Time) Option {
	return func(s *Service) { s.now = func() time.Time { return now().Truncate(time.Microsecond) } }
}

// New returns a Service; device swaps go through devicesSvc.
func New(client *ent.Client, devicesSvc *devices.Service, opts ...Option) *Service {
	s := &Service{db: client, devices: devicesSvc, now: db.Now}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// ReportInput is a new ticket. Its JSON form is what a device's retried
// report must repeat.
type ReportInput struct {
	Kind          ticket.Kind           `json:"kind"`
	FaultCategory *ticket.FaultCategory `json:"faultCategory,omitempty"`
	Title         string                `json:"title"`
	Description   *string               `json:"description,omitempty"`
	Priority      *ticket.Priority      `json:"priority,omitempty"`
	// DeviceID is the faulty device (required for DEVICE_FAULT); its store
	// is the ticket's.
	DeviceID *pulid.ID `json:"deviceId,omitempty"`
	StoreID  *pulid.ID `json:"storeId,omitempty"`
}

var errNoDevice = &errs.Error{Code: errs.NotFound, Field: "deviceId", Message: "device not found"}

// Report opens a ticket as a staff member of the merchant (any role). A
// device named must be at one of the reporter's stores (the owner's are
// all of them); another store's device is NOT_FOUND, as another
// merchant's is.
func (s *Service) Report(ctx context.Context, in ReportInput) (*ent.Ticket, error) {
	v := viewer.FromContext(ctx)
	if !v.IsStaff() {
		return nil, errs.Newf(errs.Forbidden, "only a merchant's staff report tickets")
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	var deviceID, storeID *pulid.ID
	if in.DeviceID != nil {
		d, err := s.db.Device.Get(ctx, *in.DeviceID)
		if ent.IsNotFound(err) {
			return nil, errNoDevice
		}
		if err != nil {
			return nil, fmt.Errorf("loading device: %w", err)
		}
		if _, err := merchants.StoreFor(ctx, s.db, v, d.StoreID, "deviceId"); err != nil {
			if e, ok := errs.As(err); ok && e.Code == errs.Forbidden {
				return nil, errNoDevice
			}
			return nil, err
		}
		deviceID, storeID = &d.ID, &d.StoreID
	}
	if in.StoreID != nil {
		st, err := merchants.StoreFor(ctx, s.db, v, *in.StoreID, "storeId")
		if err != nil {
			return nil, err
		}
		if storeID != nil && *storeID != st.ID {
			return nil, errs.Invalid("storeId", "the device is at another store")
		}
		storeID = &st.ID
	}
	if in.Kind == ticket.KindDEVICE_FAULT && deviceID == nil {
		return nil, errs.Invalid("deviceId", "a device fault names the device")
	}
	return s.open(ctx, ctx, opening{merchantID: v.MerchantID, by: ticket.ReporterKindSTAFF, byID: v.ID, deviceID: deviceID, storeID: storeID}, in)
}

// ReportFromDevice opens a DEVICE_FAULT ticket about dev, reported by dev
// itself (the caller has authenticated it by its credential). A retry with
// the same idempotency key and input returns the ticket the first made
// (replayed), however often it comes and even while the first is still
// running; the key with other input is IDEMPOTENCY_CONFLICT.
func (s *Service) ReportFromDevice(ctx context.Context, dev *ent.Device, key string, in ReportInput) (_ *ent.Ticket, replayed bool, err error) {
	if err := idempotency.CheckKey(key); err != nil {
		return nil, false, err
	}
	in.Kind, in.DeviceID, in.StoreID = ticket.KindDEVICE_FAULT, nil, nil
	if err := in.check(); err != nil {
		return nil, false, err
	}
	// The device is no viewer: the system writes its ticket, for its
	// merchant, and the audit entry names the device.
	sysCtx := viewer.NewSystemContext(ctx, "device-report")
	return idempotency.Once(in,
		func(hash string) (*ent.Ticket, error) { return s.priorReport(sysCtx, dev.ID, key, hash) },
		func(hash string) (*ent.Ticket, error) {
			return s.open(sysCtx, sysCtx, opening{
				merchantID: dev.MerchantID, by: ticket.ReporterKindDEVICE, byID: dev.ID, deviceID: &dev.ID, storeID: &dev.StoreID,
				key: &key, hash: hash,
			}, in)
		})
}

// priorReport returns the ticket device id reported with key, if its
// request hashed to hash; IDEMPOTENCY_CONFLICT if it did not; nil if there
// is none.
func (s *Service) priorReport(ctx context.Context, deviceID pulid.ID, key, hash string) (*ent.Ticket, error) {
	prior, err := s.db.Ticket.Query().
		Where(ticket.ReporterKindEQ(ticket.ReporterKindDEVICE), ticket.ReporterID(deviceID), ticket.IdempotencyKey(key)).
		Only(ctx)
	return idempotency.Replayable(prior, err, func(t *ent.Ticket) string { return t.RequestHash }, hash, "fault report")
}

// check validates what the reporter typed.
func (in *ReportInput) check() error {
	in.Title = strings.TrimSpace(in.Title)
	switch {
	case in.Title == "" || utf8.RuneCountInString(in.Title) > maxTitleRunes:
		return errs.Invalid("title", "a title is 1 to %d characters", maxTitleRunes)
	case in.Description != nil && utf8.RuneCountInString(*in.Description) > maxTextRunes:
		return errs.Invalid("description", "at most %d characters", maxTextRunes)
	case in.FaultCategory != nil && in.Kind != ticket.KindDEVICE_FAULT:
		return errs.Invalid("faultCategory", "only a device fault has a fault category")
	}
	return nil
}

// opening is who opens a ticket, for which merchant, about which device
// and store, and, for a device's report, its idempotency key and request
// hash.
type opening struct {
	merchantID        pulid.ID
	by                ticket.ReporterKind
	byID              pulid.ID
	deviceID, storeID *pulid.ID
	key               *string
	hash              string
}

// open writes a new ticket with its audit entry and events; ctx is the
// caller's, writeCtx the one the rows are written with.
func (s *Service) open(ctx, writeCtx context.Context, o opening, in ReportInput) (*ent.Ticket, error) {
	priority := ticket.PriorityNORMAL
	if in.Priority != nil {
		priority = *in.Priority
	}
	now := s.now()
	return db.InTx(writeCtx, s.db, func(tx *ent.Tx) (*ent.Ticket, error) {
		t, err := tx.Ticket.Create().
			SetMerchantID(o.merchantID).
			SetKind(in.Kind).
			SetNillableFaultCategory(in.FaultCategory).
			SetTitle(in.Title).
			SetDescription(strings.TrimSpace(ptr.Value(in.Description))).
			SetPriority(priority).
			SetNillableDeviceID(o.deviceID).
			SetNillableStoreID(o.storeID).
			SetReporterKind(o.by).
			SetReporterID(o.byID).
			SetNillableIdempotencyKey(o.key).
			SetRequestHash(o.hash).
			SetCreatedAt(now).
			SetUpdatedAt(now).
			SetSLADueAt(now.Add(SLA(priority))).
			Save(writeCtx)
		if err != nil {
			return nil, fmt.Errorf("creating ticket: %w", err)
		}
		details := map[string]any{"kind": t.Kind, "priority": t.Priority, "device": o.deviceID, "reporter": o.byID}
		if err := audit.Record(ctx, tx.Client(), audit.Entry{
			MerchantID: o.merchantID, Action: "ticket.reported", TargetType: "Ticket", TargetID: t.ID, Details: details,
		}); err != nil {
			return nil, err
		}
		if err := raise(ctx, tx, t, "reported", nil); err != nil {
			return nil, err
		}
		if t.Kind == ticket.KindDEVICE_FAULT {
			err = outbox.Add(ctx, tx, o.merchantID, outbox.DeviceFaultReported, *o.deviceID, map[string]any{
				"ticket": t.ID, "category": t.FaultCategory, "priority": t.Priority, "storeId": o.storeID,
			})
		}
		return t, err
	})
}

// raise writes the ticket.updated event for change to t.
func raise(ctx context.Context, tx *ent.Tx, t *ent.Ticket, change string, extra map[string]any) error {
	payload := map[string]any{"change": change, "status": t.Status, "priority": t.Priority, "assignee": t.AssigneeID}
	for k, v := range extra {
		payload[k] = v
	}
	return outbox.Add(ctx, tx, t.MerchantID, outbox.TicketUpdated, t.ID, payload)
}

// Comment adds a comment to a ticket as a staff member of its merchant or
// an operator. Only operators write internal comments, which staff never
// read.
func (s *Service) Comment(ctx context.Context, id pulid.ID, body string, internal bool) (*ent.TicketComment, *ent.Ticket, error) {
	v := viewer.FromContext(ctx)
	kind := ticketcomment.AuthorKindSTAFF
	switch {
	case v.IsOperator():
		kind = ticketcomment.AuthorKindOPERATOR
	case !v.IsStaff():
		return nil, nil, errs.Newf(errs.Forbidden, "only staff and operators comment on tickets")
	case internal:
		return nil, nil, &errs.Error{Code: errs.Forbidden, Field: "internal", Message: "only operators write internal notes"}
	}
	body = strings.TrimSpace(body)
	if body == "" || utf8.RuneCountInString(body) > maxTextRunes {
		return nil, nil, errs.Invalid("body", "a comment is 1 to %d characters", maxTextRunes)
	}
	var c *ent.TicketComment
	t, err := s.work(ctx, id, "ticket.commented", func(tx *ent.Tx, writeCtx context.Context, t *ent.Ticket) (*ent.Ticket, map[string]any, error) {
		var err error
		c, err = tx.TicketComment.Create().
			SetMerchantID(t.MerchantID).SetTicketID(t.ID).
			SetAuthorKind(kind).SetAuthorID(v.ID).
			SetBody(body).SetInternal(internal).
			SetCreatedAt(s.now()).
			Save(writeCtx)
		if err != nil {
			return nil, nil, fmt.Errorf("creating comment: %w", err)
		}
		return t, map[string]any{"comment": c.ID, "internal": internal}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return c.Unwrap(), t, nil
}

// Assign gives a ticket to an operator (nil: to nobody); operators only.
// An OPEN ticket assigned moves to IN_PROGRESS.
func (s *Service) Assign(ctx context.Context, id pulid.ID, assigneeID *pulid.ID) (*ent.Ticket, error) {
	if !viewer.FromContext(ctx).IsOperator() {
		return nil, errs.Newf(errs.Forbidden, "only operators assign tickets")
	}
	if assigneeID != nil {
		op, err := s.db.Operator.Get(ctx, *assigneeID)
		if ent.IsNotFound(err) || (err == nil && !op.Active) {
			return nil, &errs.Error{Code: errs.NotFound, Field: "assigneeId", Message: "operator not found"}
		}
		if err != nil {
			return nil, fmt.Errorf("loading operator: %w", err)
		}
	}
	return s.work(ctx, id, "ticket.assigned", func(tx *ent.Tx, writeCtx context.Context, t *ent.Ticket) (*ent.Ticket, map[string]any, error) {
		details := map[string]any{"assignee": assigneeID, "from": t.AssigneeID}
		upd := tx.Ticket.UpdateOne(t).SetNillableAssigneeID(assigneeID)
		if assigneeID == nil {
			upd.ClearAssigneeID()
		} else if t.Status == ticket.StatusOPEN {
			upd.SetStatus(ticket.StatusIN_PROGRESS)
		}
		t, err := upd.Save(writeCtx)
		return t, details, err
	})
}

// ChangeStatus moves a ticket to status to: operators along any of
// transitions, the owner and managers along merchantMoves. A move that is
// not a transition at all is CONFLICT; one reserved to operators is
// FORBIDDEN.
func (s *Service) ChangeStatus(ctx context.Context, id pulid.ID, to ticket.Status, note string) (*ent.Ticket, error) {
	v := viewer.FromContext(ctx)
	if !v.IsOperator() && !(v.IsStaff() && v.HasRole(viewer.RoleOwner, viewer.RoleManager)) {
		return nil, errs.Newf(errs.Forbidden, "only the owner, a manager or an operator changes a ticket's status")
	}
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) > maxTextRunes {
		return nil, errs.Invalid("note", "at most %d characters", maxTextRunes)
	}
	return s.work(ctx, id, "ticket.status_changed", func(tx *ent.Tx, writeCtx context.Context, t *ent.Ticket) (*ent.Ticket, map[string]any, error) {
		from := t.Status
		switch {
		case !allowed(transitions, from, to):
			return nil, nil, &errs.Error{Code: errs.Conflict, Field: "status",
				Message: fmt.Sprintf("a %s ticket cannot become %s", from, to)}
		case v.IsStaff() && !allowed(merchantMoves, from, to):
			return nil, nil, &errs.Error{Code: errs.Forbidden, Field: "status",
				Message: fmt.Sprintf("only an operator moves a %s ticket to %s", from, to)}
		}
		now := s.now()
		upd := tx.Ticket.UpdateOne(t).SetStatus(to)
		switch to {
		case ticket.StatusRESOLVED:
			upd.SetResolvedAt(now).ClearClosedAt()
		case ticket.StatusCLOSED:
			upd.SetClosedAt(now)
		default:
			upd.ClearResolvedAt().ClearClosedAt()
		}
		t, err := upd.Save(writeCtx)
		return t, map[string]any{"from": from, "to": to, "note": note}, err
	})
}

func allowed(moves map[ticket.Status][]ticket.Status, from, to ticket.Status) bool {
	for _, s := range moves[from] {
		if s == to {
			return true
		}
	}
	return false
}

// SwapDevice replaces the ticket's faulty device with replacementID (an
// ACTIVE device of the same merchant), through devices.Service.Replace:
// the replacement takes the old device's store and label, the old one is
// retired (disabled when retire is false), and the ticket records the
// replacement, all in one transaction. The owner or an operator only.
func (s *Service) SwapDevice(ctx context.Context, id, replacementID pulid.ID, retire bool, reason string) (*ent.Ticket, error) {
	v := viewer.FromContext(ctx)
	if !v.IsOperator() && !(v.IsStaff() && v.Role == viewer.RoleOwner) {
		return nil, errs.Newf(errs.Forbidden, "only the owner or an operator swaps devices")
	}
	return s.work(ctx, id, "ticket.device_swapped", func(tx *ent.Tx, writeCtx context.Context, t *ent.Ticket) (*ent.Ticket, map[string]any, error) {
		switch {
		case t.DeviceID == nil:
			return nil, nil, errs.Newf(errs.Conflict, "the ticket names no device")
		case t.ReplacementDeviceID != nil:
			return nil, nil, errs.Newf(errs.Conflict, "the device has already been replaced")
		}
		if _, _, err := s.devices.Replace(ctx, tx, *t.DeviceID, replacementID, retire, strings.TrimSpace(reason)); err != nil {
			return nil, nil, err
		}
		details := map[string]any{"device": *t.DeviceID, "replacement": replacementID, "retired": retire, "reason": reason}
		t, err := tx.Ticket.UpdateOne(t).SetReplacementDeviceID(replacementID).Save(writeCtx)
		return t, details, err
	})
}

// work changes ticket id as the viewer, in a transaction with the ticket
// locked: change makes the change with tx, writing with writeCtx, and
// returns the ticket as changed and the audit details. The audit entry
// (action) and the ticket.updated event commit with it. Another
// merchant's ticket is NOT_FOUND.
func (s *Service) work(ctx context.Context, id pulid.ID, action string, change func(tx *ent.Tx, writeCtx context.Context, t *ent.Ticket) (*ent.Ticket, map[string]any, error)) (*ent.Ticket, error) {
	// An operator reads every merchant's tickets but writes no tenant rows;
	// their change is written as the system, the operator named in the
	// audit entry.
	writeCtx := ctx
	if viewer.FromContext(ctx).IsOperator() {
		writeCtx = viewer.NewSystemContext(ctx, action)
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Ticket, error) {
		if _, err := tx.Ticket.Query().Where(ticket.ID(id)).Select(ticket.FieldID).Modify(db.ForUpdate).Strings(ctx); err != nil {
			return nil, fmt.Errorf("locking ticket: %w", err)
		}
		t, err := tx.Ticket.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil, &errs.Error{Code: errs.NotFound, Field: "ticketId", Message: "ticket not found"}
		}
		if err != nil {
			return nil, fmt.Errorf("loading ticket: %w", err)
		}
		t, details, err := change(tx, writeCtx, t)
		if err != nil {
			return nil, err
		}
		if err := audit.Record(ctx, tx.Client(), audit.Entry{
			MerchantID: t.MerchantID, Action: action, TargetType: "Ticket", TargetID: t.ID, Details: details,
		}); err != nil {
			return nil, err
		}
		return t, raise(ctx, tx, t, strings.TrimPrefix(action, "ticket."), details)
	})
}
