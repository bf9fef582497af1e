// Package loyalty keeps customers' points: a merchant's program (points
// per unit spent, rounding, minimum spend, the tenders that earn, tiers
// and their multipliers, expiry), versioned so that a sale earns under the
// rules in force when it happened; points earned by sales and reversed by
// refunds; rewards redeemed at checkout or handed over; the LOYALTY
// tender; adjustments; expiry; and member tiers.
//
// Points are a ledger: every change is an append-only entry, and the
// account row caches the sum, written in the same transaction as each
// entry. Every credit is a lot, and every debit takes from the lots first
// to expire, then oldest, so that the lots' remaining points add up to the
// balance too; expiry takes what is left of a lot whose time has come. A
// balance is never below zero. Every write locks the customer's row first
// (customers.Resolve, or the sale or merge that runs it), then the
// account's, so two terminals redeeming from one balance at once take
// turns.
//
// Who may do what: any staff member reads the program, rewards and
// customers' points, redeems rewards at the stores they work at and takes
// LOYALTY tenders; the owner changes the program; owners and managers keep
// the rewards and adjust points (with a reason, audited). Platform
// operators do none of it.
package loyalty

import (
	"cmp"
	"context"
	sqldb "database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/loyaltyaccount"
	"github.com/tillpos/till/ent/loyaltyentry"
	"github.com/tillpos/till/ent/loyaltylot"
	"github.com/tillpos/till/ent/predicate"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/sales"
)

// maxPoints bounds a balance, an adjustment and a reward's cost: 10^12,
// far from where int64 sums overflow.
const maxPoints = 1_000_000_000_000

// Service keeps loyalty points.
type Service struct {
	db  *ent.Client
	now func() time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock (tests move it past expiries and tier reviews).
func WithClock(now func() time.Time) Option {
	return func(s *Service) { s.now = func() time.Time { return now().UTC().Truncate(time.Microsecond) } }
}

// New returns a Service on client, whose privacy rules confine it to the
// caller's merchant.
func New(client *ent.Client, opts ...Option) *Service {
	s := &Service{db: client, now: db.Now}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// SaleHooks are what loyalty does inside sales: pay LOYALTY tenders with
// points, grant the rewards a sale asks for and debit them, earn points on
// a sale, and reverse them (giving redeemed points back) on a refund.
func (s *Service) SaleHooks() sales.Hooks {
	return sales.Hooks{
		Tenders:     map[tender.Type]sales.TenderFunc{tender.TypeLOYALTY: s.pay},
		Discounters: []sales.Discounter{s},
		Recorded:    []sales.SaleFunc{s.recorded},
		Refunded:    []sales.RefundFunc{s.refunded},
	}
}

// CustomerHooks are what loyalty does when customers are merged (the
// duplicate's points, ledger and lots go to the survivor, who keeps the
// higher tier) and exported (the "loyalty" section).
func (s *Service) CustomerHooks() customers.Hooks {
	return customers.Hooks{
		Merged:   []func(ctx context.Context, tx *ent.Tx, merchantID, from, to pulid.ID) error{s.merged},
		Exported: map[string]func(ctx context.Context, client *ent.Client, id pulid.ID) (any, error){"loyalty": s.export},
	}
}

// managers are the roles that keep rewards and adjust points.
var managers = []viewer.Role{viewer.RoleOwner, viewer.RoleManager}

// staffViewer returns the staff viewer in ctx, or FORBIDDEN; with roles,
// the viewer must hold one of them.
func staffViewer(ctx context.Context, roles ...viewer.Role) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	if !v.IsStaff() {
		return nil, errs.Newf(errs.Forbidden, "only a merchant's staff handle loyalty")
	}
	if len(roles) > 0 && !v.HasRole(roles...) {
		return nil, errs.Newf(errs.Forbidden, "your role may not do this")
	}
	return v, nil
}

// lockAccount locks and reads the account of customerID (on PostgreSQL;
// SQLite runs one write transaction at a time), with its due points
// expired; nil when the customer has none. The customer's row must be
// locked already (lock order), except for the jobs, which lock nothing
// else.
func (s *Service) lockAccount(ctx context.Context, tx *ent.Tx, customerID pulid.ID) (*ent.LoyaltyAccount, error) {
	return s.lockAccountWhere(ctx, tx, loyaltyaccount.CustomerID(customerID))
}

// lockAccountWhere locks and reads the account that where picks, or nil,
// and expires what is left of its lots whose time has come: whatever is
// done with an account next (a redemption, a payment, a reversal) never
// takes points that have expired but that the expiry job has not reached
// yet.
func (s *Service) lockAccountWhere(ctx context.Context, tx *ent.Tx, where predicate.LoyaltyAccount) (*ent.LoyaltyAccount, error) {
	acc, err := lockAccountRow(ctx, tx, where)
	if err != nil || acc == nil {
		return acc, err
	}
	return s.expireDue(ctx, tx, acc)
}

// lockAccountRow locks and reads the account that where picks, or nil.
func lockAccountRow(ctx context.Context, tx *ent.Tx, where predicate.LoyaltyAccount) (*ent.LoyaltyAccount, error) {
	q := tx.LoyaltyAccount.Query().Where(where)
	if _, err := q.Clone().Select(loyaltyaccount.FieldID).Modify(db.ForUpdate).Strings(ctx); err != nil {
		return nil, fmt.Errorf("locking loyalty account: %w", err)
	}
	acc, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading loyalty account: %w", err)
	}
	return acc, nil
}

// openAccount locks the account of customerID, opening it in prog's base
// tier if the customer has none yet.
func (s *Service) openAccount(ctx context.Context, tx *ent.Tx, merchantID, customerID pulid.ID, prog *ent.LoyaltyProgramVersion) (*ent.LoyaltyAccount, error) {
	err := tx.LoyaltyAccount.Create().SetMerchantID(merchantID).SetCustomerID(customerID).
		SetTier(prog.Tiers[0].Name).SetTierSince(s.now()).
		OnConflict(sql.ConflictColumns(loyaltyaccount.FieldCustomerID)).DoNothing().
		Exec(ctx)
	if err != nil && !errors.Is(err, sqldb.ErrNoRows) {
		return nil, fmt.Errorf("opening loyalty account: %w", err)
	}
	acc, err := s.lockAccount(ctx, tx, customerID)
	if err == nil && acc == nil {
		err = fmt.Errorf("opening loyalty account: not there after upsert")
	}
	return acc, err
}

// posting is one entry to write to an account.
type posting struct {
	kind loyaltyentry.Kind
	// points are added to the balance (negative takes away); qualPoints
	// and qualSpend to the tier bases.
	points, qualPoints, qualSpend int64
	at                            time.Time
	// expiresAt is when a credit's lot expires; nil: never.
	expiresAt    *time.Time
	saleID       *pulid.ID
	refundID     *pulid.ID
	rewardID     *pulid.ID
	redemptionID *pulid.ID
	tenderID     *pulid.ID
	staffID      *pulid.ID
	reason       string
	version      *int
	key          *string
	hash         string
	// lot is the lot a debit takes from (an expiry), as read: the debit
	// is errGone when the lot no longer holds what it held. Without it,
	// a debit takes from the lots first to expire.
	lot *ent.LoyaltyLot
}

// errShort is a debit larger than the balance; callers name the input
// that asked for it.
var errShort = errors.New("loyalty balance too low")

// errGone is an expiry of a lot that another run expired first.
var errGone = errors.New("loyalty lot already taken")

// errFull is a credit that would take the balance past maxPoints.
var errFull = errors.New("loyalty balance too high")

// post writes p to acc, a locked account: the entry, its lot (a credit)
// or what it takes from the lots (a debit, first to expire first), and the
// new balance. It returns the account as it stands after and the entry. A
// debit beyond the balance is errShort and writes nothing.
func post(ctx context.Context, tx *ent.Tx, acc *ent.LoyaltyAccount, p posting) (*ent.LoyaltyAccount, *ent.LoyaltyEntry, error) {
	balance := acc.Points + p.points
	switch {
	case balance < 0:
		return nil, nil, errShort
	case balance > maxPoints:
		return nil, nil, errFull
	}
	switch {
	case p.points < 0 && p.lot != nil:
		n, err := tx.LoyaltyLot.Update().
			Where(loyaltylot.ID(p.lot.ID), loyaltylot.Remaining(p.lot.Remaining), loyaltylot.RemainingGTE(-p.points)).
			SetRemaining(p.lot.Remaining + p.points).
			Save(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("taking from loyalty lot: %w", err)
		}
		if n == 0 {
			return nil, nil, errGone
		}
	case p.points < 0:
		if err := take(ctx, tx, acc, -p.points); err != nil {
			return nil, nil, err
		}
	}
	entry, err := tx.LoyaltyEntry.Create().
		SetMerchantID(acc.MerchantID).
		SetAccountID(acc.ID).
		SetKind(p.kind).
		SetPoints(p.points).
		SetQualifyingPoints(p.qualPoints).
		SetQualifyingSpend(p.qualSpend).
		SetOccurredAt(p.at).
		SetNillableExpiresAt(creditExpiry(p)).
		SetNillableSaleID(p.saleID).
		SetNillableRefundID(p.refundID).
		SetNillableRewardID(p.rewardID).
		SetNillableRedemptionID(p.redemptionID).
		SetNillableTenderID(p.tenderID).
		SetNillableStaffID(p.staffID).
		SetReason(p.reason).
		SetNillableProgramVersion(p.version).
		SetNillableIdempotencyKey(p.key).
		SetRequestHash(p.hash).
		Save(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("writing loyalty entry: %w", err)
	}
	if p.points > 0 {
		err := tx.LoyaltyLot.Create().SetMerchantID(acc.MerchantID).SetEntryID(entry.ID).SetAccountID(acc.ID).
			SetRemaining(p.points).SetNillableExpiresAt(p.expiresAt).Exec(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("writing loyalty lot: %w", err)
		}
	}
	if p.points != 0 {
		if acc, err = tx.LoyaltyAccount.UpdateOne(acc).SetPoints(balance).Save(ctx); err != nil {
			return nil, nil, fmt.Errorf("updating loyalty balance: %w", err)
		}
	}
	return acc, entry, nil
}

// creditExpiry is when the points p adds expire: only a credit's.
func creditExpiry(p posting) *time.Time {
	if p.points <= 0 {
		return nil
	}
	return p.expiresAt
}

// take takes n points from acc's open lots: the first to expire first
// (those that never expire last), then the oldest.
func take(ctx context.Context, tx *ent.Tx, acc *ent.LoyaltyAccount, n int64) error {
	lots, err := tx.LoyaltyLot.Query().
		Where(loyaltylot.AccountID(acc.ID), loyaltylot.RemainingGT(0)).
		All(ctx)
	if err != nil {
		return fmt.Errorf("loading loyalty lots: %w", err)
	}
	sortLots(lots)
	for _, l := range lots {
		if n == 0 {
			break
		}
		used := min(n, l.Remaining)
		if err := tx.LoyaltyLot.UpdateOne(l).SetRemaining(l.Remaining - used).Exec(ctx); err != nil {
			return fmt.Errorf("taking from loyalty lot: %w", err)
		}
		n -= used
	}
	if n > 0 {
		return fmt.Errorf("taking points from account %s: the lots hold %d fewer than its balance", acc.ID, n)
	}
	return nil
}

// fifo orders lots as debits take from them: first to expire first, those
// that never expire last, then oldest.
func fifo(a, b *ent.LoyaltyLot) int {
	switch {
	case a.ExpiresAt != nil && b.ExpiresAt == nil:
		return -1
	case a.ExpiresAt == nil && b.ExpiresAt != nil:
		return 1
	case a.ExpiresAt != nil && !a.ExpiresAt.Equal(*b.ExpiresAt):
		return a.ExpiresAt.Compare(*b.ExpiresAt)
	case !a.CreatedAt.Equal(b.CreatedAt):
		return a.CreatedAt.Compare(b.CreatedAt)
	}
	return cmp.Compare(a.ID, b.ID)
}

// sortLots puts lots in the order debits take from them.
func sortLots(lots []*ent.LoyaltyLot) { slices.SortFunc(lots, fifo) }
