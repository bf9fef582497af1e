package settlement

import (
	"context"
	sqldb "database/sql"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/rule"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/cashmovement"
	"github.com/tillpos/till/ent/cashshift"
	"github.com/tillpos/till/ent/device"
	"github.com/tillpos/till/ent/refund"
	"github.com/tillpos/till/ent/refundtender"
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/idempotency"
	"github.com/tillpos/till/internal/ptr"
	"github.com/tillpos/till/merchants"
)

// maxCash bounds a float, a movement and a count: 10^12 minor units, as a
// sale's amounts are.
const (
	maxCash        = 1_000_000_000_000
	maxReasonRunes = 500
)

// OpenShiftInput opens a cash drawer shift on a device.
type OpenShiftInput struct {
	StoreID        pulid.ID  `json:"storeId"`
	DeviceID       *pulid.ID `json:"deviceId,omitempty"`
	OpeningFloat   int64     `json:"openingFloat"`
	IdempotencyKey *string   `json:"-"`
}

// MovementInput pays cash into or out of an open shift's drawer.
type MovementInput struct {
	ShiftID pulid.ID          `json:"shiftId"`
	Kind    cashmovement.Kind `json:"kind"`
	Amount  int64             `json:"amount"`
	Reason  string            `json:"reason"`
}

// CloseShiftInput counts the drawer and closes its shift.
type CloseShiftInput struct {
	ShiftID          pulid.ID `json:"shiftId"`
	CountedCash      int64    `json:"countedCash"`
	DifferenceReason *string  `json:"differenceReason,omitempty"`
}

// OpenShift opens a shift on the device the cashier logged in on (or the
// one named, from the back office), which must be at the store and have no
// open shift (CONFLICT). The same idempotency key answers with the shift it
// opened (replayed), or IDEMPOTENCY_CONFLICT for another request.
func (s *Service) OpenShift(ctx context.Context, in OpenShiftInput) (_ *ent.CashShift, replayed bool, err error) {
	v, err := viewer.Staff(ctx)
	if err != nil {
		return nil, false, err
	}
	if in.OpeningFloat < 0 || in.OpeningFloat > maxCash {
		return nil, false, errs.Invalid("openingFloat", "an opening float is between 0 and %d", int64(maxCash))
	}
	if in.IdempotencyKey != nil {
		if err := idempotency.CheckKey(*in.IdempotencyKey); err != nil {
			return nil, false, err
		}
		prior, err := s.db.CashShift.Query().Where(cashshift.IdempotencyKey(*in.IdempotencyKey)).Only(rule.AllStores(ctx))
		switch {
		case err == nil && prior.StoreID == in.StoreID && prior.OpeningFloat == in.OpeningFloat && (in.DeviceID == nil || *in.DeviceID == prior.DeviceID):
			return prior, true, nil
		case err == nil:
			return nil, false, errs.Newf(errs.IdempotencyConflict, "this idempotency key opened another shift")
		case !ent.IsNotFound(err):
			return nil, false, fmt.Errorf("loading shift by key: %w", err)
		}
	}
	sh, err := db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.CashShift, error) {
		client := tx.Client()
		st, err := merchants.StoreFor(ctx, client, v, in.StoreID, "storeId")
		if err != nil {
			return nil, err
		}
		deviceID, err := shiftDevice(ctx, client, v, in.DeviceID, st.ID)
		if err != nil {
			return nil, err
		}
		// The device's row lock makes concurrent opens on it take turns:
		// the second sees the first's shift. The partial unique index is
		// the backstop whoever writes.
		if _, err := client.Device.Query().Where(device.ID(deviceID)).Select(device.FieldID).Modify(db.ForUpdate).Strings(ctx); err != nil {
			return nil, fmt.Errorf("locking device: %w", err)
		}
		open, err := client.CashShift.Query().Where(cashshift.DeviceID(deviceID), cashshift.StatusEQ(cashshift.StatusOPEN)).Only(rule.AllStores(ctx))
		switch {
		case err == nil:
			return nil, errs.Newf(errs.Conflict, "the device has a shift open since %s; close it first", open.OpenedAt.Format(time.RFC3339))
		case !ent.IsNotFound(err):
			return nil, fmt.Errorf("loading open shift: %w", err)
		}
		sh, err := client.CashShift.Create().
			SetNillableIdempotencyKey(in.IdempotencyKey).
			SetStoreID(st.ID).
			SetDeviceID(deviceID).
			SetOpenedByID(v.ID).
			SetOpenedAt(s.now()).
			SetOpeningFloat(in.OpeningFloat).
			Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("opening shift: %w", err)
		}
		return sh, audit.Record(ctx, client, audit.Entry{
			Action: "shift.opened", TargetType: "CashShift", TargetID: sh.ID,
			Details: map[string]any{"deviceId": deviceID, "openingFloat": in.OpeningFloat},
		})
	})
	return sh, false, err
}

// shiftDevice is the drawer's device: the terminal of the PIN session, or
// the one named, which must be paired to the store.
func shiftDevice(ctx context.Context, client *ent.Client, v *viewer.Viewer, named *pulid.ID, storeID pulid.ID) (pulid.ID, error) {
	id := ptr.Value(named)
	if v.DeviceID != "" {
		if named != nil && *named != v.DeviceID {
			return "", errs.Invalid("deviceId", "a terminal opens shifts on itself")
		}
		id = v.DeviceID
	}
	if id == "" {
		return "", errs.Invalid("deviceId", "name the device whose drawer the shift is for")
	}
	dev, err := client.Device.Get(ctx, id)
	if ent.IsNotFound(err) {
		return "", &errs.Error{Code: errs.NotFound, Field: "deviceId", Message: "device not found"}
	}
	if err != nil {
		return "", fmt.Errorf("loading device: %w", err)
	}
	if dev.StoreID != storeID {
		return "", errs.Invalid("deviceId", "the device is at another store")
	}
	return id, nil
}

// RecordMovement pays cash into or out of an open shift's drawer.
func (s *Service) RecordMovement(ctx context.Context, in MovementInput) (*ent.CashMovement, *ent.CashShift, error) {
	v, err := viewer.Staff(ctx)
	if err != nil {
		return nil, nil, err
	}
	if in.Amount <= 0 || in.Amount > maxCash {
		return nil, nil, errs.Invalid("amount", "an amount is between 1 and %d", int64(maxCash))
	}
	reason, err := checkReason("reason", &in.Reason)
	if err != nil {
		return nil, nil, err
	}
	if reason == "" {
		return nil, nil, errs.Invalid("reason", "say why the cash moved")
	}
	var mv *ent.CashMovement
	sh, err := db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.CashShift, error) {
		sh, err := openShift(ctx, tx, v, in.ShiftID)
		if err != nil {
			return nil, err
		}
		if mv, err = tx.CashMovement.Create().SetShiftID(sh.ID).SetStoreID(sh.StoreID).SetKind(in.Kind).
			SetAmount(in.Amount).SetReason(reason).SetStaffID(v.ID).Save(ctx); err != nil {
			return nil, fmt.Errorf("recording cash movement: %w", err)
		}
		upd := tx.CashShift.UpdateOne(sh)
		if in.Kind == cashmovement.KindPAID_IN {
			upd.AddPaidIn(in.Amount)
		} else {
			upd.AddPaidOut(in.Amount)
		}
		if sh, err = upd.Save(ctx); err != nil {
			return nil, fmt.Errorf("updating shift: %w", err)
		}
		return sh, audit.Record(ctx, tx.Client(), audit.Entry{
			Action: "shift.cash_" + strings.ToLower(string(in.Kind)), TargetType: "CashShift", TargetID: sh.ID,
			Details: map[string]any{"movementId": mv.ID, "amount": in.Amount, "reason": reason},
		})
	})
	if err != nil {
		return nil, nil, err
	}
	return mv.Unwrap(), sh, nil
}

// CloseShift counts the drawer: expected is the float, plus the cash
// tenders of the sales made on the device while the shift was open, less
// the cash refunded on it, plus paid in, less paid out. A count that
// differs needs a reason (BAD_USER_INPUT differenceReason).
func (s *Service) CloseShift(ctx context.Context, in CloseShiftInput) (*ent.CashShift, error) {
	v, err := viewer.Staff(ctx)
	if err != nil {
		return nil, err
	}
	if in.CountedCash < 0 || in.CountedCash > maxCash {
		return nil, errs.Invalid("countedCash", "a count is between 0 and %d", int64(maxCash))
	}
	reason, err := checkReason("differenceReason", in.DifferenceReason)
	if err != nil {
		return nil, err
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.CashShift, error) {
		sh, err := openShift(ctx, tx, v, in.ShiftID)
		if err != nil {
			return nil, err
		}
		now := s.now()
		cashSales, cashRefunds, err := drawerCash(ctx, tx, sh, now)
		if err != nil {
			return nil, err
		}
		expected := sh.OpeningFloat + cashSales - cashRefunds + sh.PaidIn - sh.PaidOut
		difference := in.CountedCash - expected
		if difference != 0 && reason == "" {
			return nil, errs.Invalid("differenceReason", "the drawer should hold %d but %d was counted; say why", expected, in.CountedCash)
		}
		upd := tx.CashShift.UpdateOne(sh).
			SetStatus(cashshift.StatusCLOSED).SetClosedByID(v.ID).SetClosedAt(now).
			SetCashSales(cashSales).SetCashRefunds(cashRefunds).
			SetExpected(expected).SetCounted(in.CountedCash).SetDifference(difference)
		if reason != "" {
			upd.SetDifferenceReason(reason)
		}
		if sh, err = upd.Save(ctx); err != nil {
			return nil, fmt.Errorf("closing shift: %w", err)
		}
		return sh, audit.Record(ctx, tx.Client(), audit.Entry{
			Action: "shift.closed", TargetType: "CashShift", TargetID: sh.ID,
			Details: map[string]any{"expected": expected, "counted": in.CountedCash, "difference": difference, "reason": reason},
		})
	})
}

// openShift locks an open shift at a store the viewer works at.
func openShift(ctx context.Context, tx *ent.Tx, v *viewer.Viewer, id pulid.ID) (*ent.CashShift, error) {
	client := tx.Client()
	if _, err := client.CashShift.Query().Where(cashshift.ID(id)).Select(cashshift.FieldID).Modify(db.ForUpdate).Strings(ctx); err != nil {
		return nil, fmt.Errorf("locking shift: %w", err)
	}
	sh, err := client.CashShift.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, &errs.Error{Code: errs.NotFound, Field: "shiftId", Message: "shift not found"}
	}
	if err != nil {
		return nil, fmt.Errorf("loading shift: %w", err)
	}
	if _, err := merchants.StoreFor(ctx, client, v, sh.StoreID, "shiftId"); err != nil {
		return nil, err
	}
	if sh.Status != cashshift.StatusOPEN {
		return nil, errs.Newf(errs.Conflict, "the shift is closed")
	}
	return sh, nil
}

// drawerCash sums the cash the device's drawer took for sales made while
// the shift was open (a cash tender's amount is net of the change given),
// and the cash refunded on the device in that time, voids included.
func drawerCash(ctx context.Context, tx *ent.Tx, sh *ent.CashShift, until time.Time) (sales, refunds int64, err error) {
	ctx = rule.AllStores(ctx)
	var rows []struct{ Sum sqldb.NullInt64 }
	err = tx.Tender.Query().Where(tender.TypeEQ(tender.TypeCASH), tender.HasSaleWith(
		sale.StoreID(sh.StoreID), sale.DeviceID(sh.DeviceID), sale.OccurredAtGTE(sh.OpenedAt), sale.OccurredAtLTE(until),
	)).Aggregate(ent.Sum(tender.FieldAmount)).Scan(ctx, &rows)
	if err != nil {
		return 0, 0, fmt.Errorf("summing cash sales: %w", err)
	}
	sales = db.Sum(rows)
	rows = nil
	err = tx.RefundTender.Query().Where(refundtender.TypeEQ(refundtender.TypeCASH), refundtender.HasRefundWith(
		refund.StoreID(sh.StoreID), refund.DeviceID(sh.DeviceID), refund.CreatedAtGTE(sh.OpenedAt), refund.CreatedAtLTE(until),
	)).Aggregate(ent.Sum(refundtender.FieldAmount)).Scan(ctx, &rows)
	if err != nil {
		return 0, 0, fmt.Errorf("summing cash refunds: %w", err)
	}
	return sales, db.Sum(rows), nil
}

// checkReason trims a reason and checks its length, naming field.
func checkReason(field string, reason *string) (string, error) {
	r := strings.TrimSpace(ptr.Value(reason))
	if utf8.RuneCountInString(r) > maxReasonRunes {
		return "", errs.Invalid(field, "a reason is at most %d characters", maxReasonRunes)
	}
	return r, nil
}

// Shifts are the shifts of a store the viewer works at, with status if
// given, for paging newest first.
func (s *Service) Shifts(ctx context.Context, storeID pulid.ID, status *cashshift.Status) (*ent.CashShiftQuery, error) {
	v, err := viewer.Staff(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := merchants.StoreFor(ctx, s.db, v, storeID, "storeId"); err != nil {
		return nil, err
	}
	q := s.db.CashShift.Query().Where(cashshift.StoreID(storeID))
	if status != nil {
		q.Where(cashshift.StatusEQ(*status))
	}
	return q, nil
}
