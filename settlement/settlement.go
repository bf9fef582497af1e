// Package settlement closes the books: cash drawer shifts per device
// (opening float, cash taken and paid out, expected against counted), the
// end-of-day close per store, which writes a settlement record per tender
// channel (count, amount, fees at the channel's rate, net to bank) and
// locks the day's sales against voids, and reconciliation of an acquirer's
// or wallet's settlement statement against our tenders and settlements.
//
// Who may do what: any staff member at a store keeps its shifts; owners
// and managers of a store close its days, read its settlements and import
// statements; the owner sets the channels' fee terms.
package settlement

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/dayclose"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/store"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/sales"
)

// Service keeps shifts, closes days and reconciles statements.
type Service struct {
	db  *ent.Client
	now func() time.Time
}

// New returns a Service.
func New(client *ent.Client) *Service {
	return &Service{db: client, now: db.Now}
}

// SaleHooks are what settlement does inside sales: a closed day takes no
// voids.
func (s *Service) SaleHooks() sales.Hooks {
	return sales.Hooks{DayClosed: dayClosed}
}

// dayClosed reports whether the store's business day date is closed. It
// locks the day first, as CloseDay does, so a void and a close of the same
// day run one after the other: the void sees the close, or the close sees
// the voided sale.
func dayClosed(ctx context.Context, tx *ent.Tx, storeID pulid.ID, date string) (bool, error) {
	if err := lockDay(ctx, tx, storeID); err != nil {
		return false, err
	}
	closed, err := tx.DayClose.Query().Where(dayclose.StoreID(storeID), dayclose.BusinessDate(date)).Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("loading the day's close: %w", err)
	}
	return closed, nil
}

// lockDay locks the store's row until tx ends (on PostgreSQL; SQLite runs
// one write transaction at a time): a close takes it before it reads the
// day, a void before it checks the day is open, so the two run one after
// the other. NO KEY UPDATE leaves the row free for the key-share locks of
// the rows that refer to the store (a new sale), and a void takes it after
// the sale and customer and before anything else, so it joins the order
// sales lock rows in without a cycle.
func lockDay(ctx context.Context, tx *ent.Tx, storeID pulid.ID) error {
	_, err := tx.Store.Query().Where(store.ID(storeID)).Select(store.FieldID).
		Modify(func(s *entsql.Selector) {
			if s.Dialect() != dialect.SQLite {
				s.For(entsql.LockNoKeyUpdate)
			}
		}).
		Strings(ctx)
	if err != nil {
		return fmt.Errorf("locking the store's day: %w", err)
	}
	return nil
}

// managers are the roles that close days and reconcile.
var managers = []viewer.Role{viewer.RoleOwner, viewer.RoleManager}

// localDate is the store's local date of t, YYYY-MM-DD.
func localDate(st *ent.Store, t time.Time) string {
	loc, err := time.LoadLocation(st.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format(time.DateOnly)
}

// checkDate checks that date is a YYYY-MM-DD date, naming field.
func checkDate(field, date string) error {
	if _, err := time.Parse(time.DateOnly, date); err != nil {
		return errs.Invalid(field, "a date is YYYY-MM-DD")
	}
	return nil
}
