package sales

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/rule"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/refund"
	"github.com/tillpos/till/ent/refundtender"
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/ent/saleline"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/staffday"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/idempotency"
	"github.com/tillpos/till/internal/money"
	"github.com/tillpos/till/internal/pan"
	"github.com/tillpos/till/internal/ptr"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/outbox"
)

// RefundLineInput returns some of a sale line's units.
type RefundLineInput struct {
	SaleLineID pulid.ID `json:"saleLineId"`
	Quantity   int      `json:"quantity"`
}

// RefundTenderInput says where some refunded money goes: back to one of
// the sale's tenders, or (without TenderID) to cash or stored value.
type RefundTenderInput struct {
	TenderID *pulid.ID         `json:"tenderId,omitempty"`
	Type     refundtender.Type `json:"type"`
	Amount   int64             `json:"amount"`
}

// RefundInput refunds lines of a sale, an amount, or both.
type RefundInput struct {
	IdempotencyKey string              `json:"-"`
	SaleID         pulid.ID            `json:"saleId"`
	Reason         string              `json:"reason"`
	Lines          []RefundLineInput   `json:"lines,omitempty"`
	Amount         *int64              `json:"amount,omitempty"`
	Tenders        []RefundTenderInput `json:"tenders,omitempty"`
}

// ExchangeInput returns items from a sale and sells others, the returned
// items' value paying for the new ones.
type ExchangeInput struct {
	IdempotencyKey string            `json:"-"`
	SaleID         pulid.ID          `json:"saleId"`
	Reason         string            `json:"reason"`
	ReturnLines    []RefundLineInput `json:"returnLines"`
	NewLines       []LineInput       `json:"newLines"`
	// Tenders pay what the new items cost beyond the returned ones.
	Tenders []TenderInput `json:"tenders,omitempty"`
	Note    *string       `json:"note,omitempty"`
}

// RefundResult is a refund and the sales it concerns, as they stand after it.
type RefundResult struct {
	Refund *ent.Refund
	Sale   *ent.Sale
	// Exchange is the new sale of an exchange.
	Exchange *ent.Sale
	Replayed bool
}

// Refund gives money back for a sale: never more than was paid across all
// its refunds, even when several run at once. Retries with the same key
// replay.
func (s *Service) Refund(ctx context.Context, in RefundInput) (*RefundResult, error) {
	return s.refundOnce(ctx, refund.KindREFUND, in.IdempotencyKey, in.SaleID, in.Reason, in, func(tx *ent.Tx, r *refunding) error {
		return r.refund(in.Lines, ptr.Value(in.Amount), in.Tenders)
	})
}

// Void undoes a whole sale on the store's business day it happened, as
// long as that day is open: as if the sale never was, for the customer's
// figures too.
func (s *Service) Void(ctx context.Context, key string, saleID pulid.ID, reason string) (*RefundResult, error) {
	in := RefundInput{IdempotencyKey: key, SaleID: saleID, Reason: reason}
	return s.refundOnce(ctx, refund.KindVOID, key, saleID, reason, in, func(tx *ent.Tx, r *refunding) error {
		if r.sale.RefundedTotal > 0 {
			return errs.Newf(errs.Conflict, "the sale was partly refunded; refund the rest instead of voiding it")
		}
		if err := r.dayOpen(); err != nil {
			return err
		}
		return r.refund(nil, r.sale.Total, nil)
	})
}

// dayOpen is the one check of whether the sale's business day still takes
// voids: it must be the store's business day now, and not closed. Until a
// domain closes days (Hooks.DayClosed), a day is open until the store's
// midnight.
func (r *refunding) dayOpen() error {
	if r.sale.BusinessDate != businessDate(r.store, r.now) {
		return errs.Newf(errs.Conflict, "a sale can be voided only on its own business day (%s); refund it instead", r.sale.BusinessDate)
	}
	if r.s.hooks.DayClosed == nil {
		return nil
	}
	closed, err := r.s.hooks.DayClosed(r.ctx, r.tx, r.store.ID, r.sale.BusinessDate)
	if err != nil {
		return err
	}
	if closed {
		return errs.Newf(errs.Conflict, "the store's day %s is closed; refund the sale instead", r.sale.BusinessDate)
	}
	return nil
}

// Exchange takes items back from a sale and records a new sale for others;
// the returned items' value pays the new sale first, what is left over goes
// back to the original tenders, and what is missing the customer pays.
func (s *Service) Exchange(ctx context.Context, in ExchangeInput) (*RefundResult, error) {
	if len(in.ReturnLines) == 0 {
		return nil, errs.Invalid("returnLines", "an exchange returns at least one item")
	}
	res, err := s.refundOnce(ctx, refund.KindEXCHANGE, in.IdempotencyKey, in.SaleID, in.Reason, in, func(tx *ent.Tx, r *refunding) error {
		credit, err := r.linesValue(in.ReturnLines)
		if err != nil {
			return err
		}
		newSale := SaleInput{
			IdempotencyKey: exchangeKeyPrefix + in.IdempotencyKey,
			StoreID:        r.sale.StoreID,
			CustomerID:     r.sale.CustomerID,
			Lines:          in.NewLines,
			Tenders:        in.Tenders,
			Note:           in.Note,
		}
		exchange, err := r.s.record(ctx, tx, r.viewer, newSale, r.hash, credit)
		if err != nil {
			return newSaleField(err)
		}
		r.exchange = exchange
		applied := min(credit, exchange.Total)
		var tenders []RefundTenderInput
		if applied > 0 {
			tenders = append(tenders, RefundTenderInput{Type: refundtender.TypeEXCHANGE, Amount: applied})
		}
		back, err := r.allocate(credit - applied)
		if err != nil {
			return err
		}
		return r.refund(in.ReturnLines, 0, append(tenders, back...))
	})
	s.auditDecline(ctx, err, "Sale", in.SaleID, in.IdempotencyKey)
	return res, err
}

// newSaleField renames an error's input field from the nested sale input
// to the exchange's: the new sale's lines are the exchange's newLines
// (lines[0].quantity becomes newLines[0].quantity). Its tenders and note
// are the exchange's own tenders and note, and keep their names.
func newSaleField(err error) error {
	e, ok := errs.As(err)
	if !ok || !strings.HasPrefix(e.Field, "lines") {
		return err
	}
	renamed := *e
	renamed.Field = "newLines" + strings.TrimPrefix(e.Field, "lines")
	return &renamed
}

// refunding is one refund being written in its transaction.
type refunding struct {
	s        *Service
	ctx      context.Context
	tx       *ent.Tx
	viewer   *viewer.Viewer
	kind     refund.Kind
	key      string
	hash     string
	reason   string
	now      time.Time
	sale     *ent.Sale
	store    *ent.Store
	lines    []*ent.SaleLine
	tenders  []*ent.Tender
	settings *ent.SalesSettings
	exchange *ent.Sale
	written  *ent.Refund
	// paidOut is what the refund pays out: all but exchange credit.
	paidOut int64
}

// refundOnce runs write in a transaction as a refund of kind of saleID, or
// replays the refund made earlier with key; in is the request, for its hash.
func (s *Service) refundOnce(ctx context.Context, kind refund.Kind, key string, saleID pulid.ID, reason string, in any, write func(*ent.Tx, *refunding) error) (*RefundResult, error) {
	v, err := viewer.Staff(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > maxNoteRunes {
		return nil, errs.Invalid("reason", "give a reason of 1 to %d characters", maxNoteRunes)
	}
	if err := pan.Check("reason", reason); err != nil {
		return nil, err
	}
	// A request with the key that commits while this one runs makes this
	// one fail on the key, or on a check of what the other wrote (the money
	// it refunded, the sale it voided): Once answers it with what the key
	// made.
	req := struct {
		Kind  refund.Kind `json:"kind"`
		Input any         `json:"input"`
	}{kind, in}
	res, _, err := idempotency.Once(req,
		func(hash string) (*RefundResult, error) { return s.priorRefund(ctx, key, hash) },
		func(hash string) (*RefundResult, error) {
			var r *refunding
			err := db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
				r = &refunding{s: s, ctx: ctx, tx: tx, viewer: v, kind: kind, key: key, hash: hash, reason: reason, now: s.now()}
				if err := r.load(saleID); err != nil {
					return err
				}
				if err := write(tx, r); err != nil {
					return err
				}
				return r.finish()
			})
			if err != nil {
				return nil, err
			}
			// The refund and the sales were written through the finished
			// transaction: detach them, so that their edges load through
			// the client.
			res := &RefundResult{Refund: r.written.Unwrap(), Sale: r.sale.Unwrap()}
			if r.exchange != nil {
				res.Exchange = r.exchange.Unwrap()
			}
			return res, nil
		})
	return res, err
}

// priorRefund returns the refund made with key, with the sales it concerns
// as they stand now, if its request hashed to hash; IDEMPOTENCY_CONFLICT if
// it did not; nil if there is none. Keys are the merchant's, so the lookup
// is too, beyond the caller's stores; the sales load as the caller sees
// them.
func (s *Service) priorRefund(ctx context.Context, key, hash string) (*RefundResult, error) {
	found, err := s.db.Refund.Query().Where(refund.IdempotencyKey(key)).Only(rule.AllStores(ctx))
	prior, err := idempotency.Replayable(found, err, func(r *ent.Refund) string { return r.RequestHash }, hash, "refund")
	if prior == nil || err != nil {
		return nil, err
	}
	res := &RefundResult{Refund: prior, Replayed: true}
	if res.Sale, err = s.db.Sale.Get(ctx, prior.SaleID); err != nil {
		return nil, saleNotFound(err)
	}
	if prior.ExchangeSaleID != nil {
		if res.Exchange, err = s.db.Sale.Get(ctx, *prior.ExchangeSaleID); err != nil {
			return nil, saleNotFound(err)
		}
	}
	return res, nil
}

// saleNotFound is err, NOT_FOUND on saleId when it is ent's.
func saleNotFound(err error) error {
	if ent.IsNotFound(err) {
		return &errs.Error{Code: errs.NotFound, Field: "saleId", Message: "sale not found"}
	}
	return fmt.Errorf("loading sale: %w", err)
}

// load locks the sale (on PostgreSQL; SQLite runs one write at a time), so
// that concurrent refunds of it see each other's amounts, and checks that
// it may be refunded by the caller.
func (r *refunding) load(saleID pulid.ID) error {
	ctx, client := r.ctx, r.tx.Client()
	if _, err := client.Sale.Query().Where(sale.ID(saleID)).Select(sale.FieldID).Modify(db.ForUpdate).Strings(ctx); err != nil {
		return fmt.Errorf("locking sale: %w", err)
	}
	var err error
	if r.sale, err = client.Sale.Get(ctx, saleID); err != nil {
		return saleNotFound(err)
	}
	if r.store, err = merchants.StoreFor(ctx, client, r.viewer, r.sale.StoreID, "saleId"); err != nil {
		return err
	}
	// The customer next, before the cashier's day: a sale locks them in
	// this order too (see record), so the two never wait on each other.
	if r.sale.CustomerID != nil {
		if err := lockCustomer(ctx, client, *r.sale.CustomerID); err != nil {
			return err
		}
	}
	switch {
	case r.sale.Frozen:
		return errs.Newf(errs.Conflict, "the sale is frozen: %s", ptr.Value(r.sale.FrozenReason))
	case r.sale.Status == sale.StatusVOIDED:
		return errs.Newf(errs.Conflict, "the sale was voided")
	}
	if r.lines, err = client.SaleLine.Query().Where(saleline.SaleID(saleID)).Order(ent.Asc(saleline.FieldPosition)).All(ctx); err != nil {
		return fmt.Errorf("loading sale lines: %w", err)
	}
	if r.tenders, err = client.Tender.Query().Where(tender.SaleID(saleID)).Order(ent.Asc(tender.FieldID)).All(ctx); err != nil {
		return fmt.Errorf("loading tenders: %w", err)
	}
	r.settings, err = Settings(ctx, client, r.sale.MerchantID)
	return err
}

// lineRefund is how much of one sale line a refund returns.
type lineRefund struct {
	line     *ent.SaleLine
	quantity int
	amount   int64
}

// returnLines works out what returning lines gives back: each unit its
// share of what the line was paid, the last units what is left of it, so
// a line refunded in parts never returns more or less than it cost.
func (r *refunding) returnLines(in []RefundLineInput, field string) ([]lineRefund, error) {
	var out []lineRefund
	for i, l := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		idx := slices.IndexFunc(r.lines, func(sl *ent.SaleLine) bool { return sl.ID == l.SaleLineID })
		if idx < 0 {
			return nil, &errs.Error{Code: errs.NotFound, Field: f + ".saleLineId", Message: "no such line on this sale"}
		}
		if slices.ContainsFunc(out, func(lr lineRefund) bool { return lr.line.ID == l.SaleLineID }) {
			return nil, errs.Invalid(f+".saleLineId", "the line is listed twice")
		}
		sl := r.lines[idx]
		left := sl.Quantity - sl.RefundedQuantity
		if l.Quantity <= 0 || l.Quantity > left {
			return nil, errs.Invalid(f+".quantity", "%d of this line can still be returned", left)
		}
		amount := money.MulDiv(sl.Total, int64(l.Quantity), int64(sl.Quantity))
		if l.Quantity == left {
			amount = sl.Total - sl.RefundedAmount
		}
		out = append(out, lineRefund{line: sl, quantity: l.Quantity, amount: amount})
	}
	return out, nil
}

// linesValue is what returning lines gives back.
func (r *refunding) linesValue(in []RefundLineInput) (int64, error) {
	lines, err := r.returnLines(in, "returnLines")
	if err != nil {
		return 0, err
	}
	var total int64
	for _, l := range lines {
		total += l.amount
	}
	return total, nil
}

// refund writes the refund of lines and amount, paid out through tenders
// (or back to the sale's own when there are none).
func (r *refunding) refund(lineInputs []RefundLineInput, amount int64, tenderInputs []RefundTenderInput) error {
	field := "lines"
	if r.kind == refund.KindEXCHANGE {
		field = "returnLines"
	}
	lines, err := r.returnLines(lineInputs, field)
	if err != nil {
		return err
	}
	if amount < 0 || amount > maxAmount {
		return errs.Invalid("amount", "an amount is between 1 and %d", int64(maxAmount))
	}
	total := amount
	for _, l := range lines {
		total += l.amount
	}
	left := r.sale.Total - r.sale.RefundedTotal
	switch {
	case total <= 0:
		return errs.Invalid("amount", "refund some lines or an amount")
	case total > left:
		return errs.Invalid("amount", "only %d of the sale is left to refund, not %d", left, total)
	}
	if tenderInputs == nil {
		if tenderInputs, err = r.allocate(total); err != nil {
			return err
		}
	}
	if tenderInputs, err = r.checkRefundTenders(tenderInputs, total); err != nil {
		return err
	}
	// Exchange credit pays for goods, not out of the till: only the rest
	// counts against the cashier's limit and their refund ratio.
	for _, t := range tenderInputs {
		if t.Type != refundtender.TypeEXCHANGE {
			r.paidOut += t.Amount
		}
	}
	return r.write(lines, amount, total, tenderInputs)
}

// checkRefundLimit applies the merchant's limit on what one cashier may
// pay out in refunds in a day; owners and managers are not limited. It
// runs once this refund is added to the cashier's day: that write locks the
// day's row (on PostgreSQL) to the end of the transaction, so two refunds
// at once cannot both fit under a limit that only one of them fits, and it
// comes after the hooks' rows, in the order a sale locks them too.
func (r *refunding) checkRefundLimit(date string) error {
	max := r.settings.MaxRefundPerCashierDay
	if max == nil || r.viewer.Role != viewer.RoleCashier {
		return nil
	}
	day, err := r.tx.StaffDay.Query().Where(staffday.StaffID(r.viewer.ID), staffday.BusinessDate(date)).Only(r.ctx)
	if err != nil {
		return fmt.Errorf("reading the cashier's day: %w", err)
	}
	if day.RefundsAmount > *max {
		return errs.Newf(errs.Forbidden, "a cashier may refund %d a day and has refunded %d today; ask a manager", *max, day.RefundsAmount-r.paidOut)
	}
	return nil
}

// allocate pays amount back to the sale's tenders in the order they were
// taken, each up to what is left of it. An exchange's credit is returned
// in cash (refundTypeOf), counted against the credit's tender.
func (r *refunding) allocate(amount int64) ([]RefundTenderInput, error) {
	var out []RefundTenderInput
	for _, t := range r.tenders {
		if amount == 0 {
			break
		}
		take := min(amount, t.Amount-t.RefundedAmount)
		if take <= 0 {
			continue
		}
		id := t.ID
		out = append(out, RefundTenderInput{TenderID: &id, Type: refundTypeOf(t), Amount: take})
		amount -= take
	}
	if amount > 0 {
		return nil, errs.Invalid("tenders", "the sale's tenders have %d less left to refund than asked", amount)
	}
	return out, nil
}

// refundTypeOf is how money goes back to a sale's tender: the way it came,
// except exchange credit (goods given back), which is returned in cash.
// Either way the refund names the tender, so that its refunded amount
// keeps count and no later refund takes the same money again.
func refundTypeOf(t *ent.Tender) refundtender.Type {
	if t.Type == tender.TypeEXCHANGE {
		return refundtender.TypeCASH
	}
	return refundtender.Type(t.Type)
}

// checkRefundTenders checks where refunded money goes and returns it with
// every amount that goes back against one of the sale's tenders naming
// that tender, so that its refunded amount keeps count: to a tender the
// way it came (refundTypeOf), up to what is left of it; exchange credit,
// in an exchange; stored value, through the loyalty domain; or cash. Cash
// without a tender counts against what is left of the sale's cash tenders
// first; beyond that it takes the place of a card or wallet payment, which
// the merchant must allow. The amounts add up to total.
func (r *refunding) checkRefundTenders(in []RefundTenderInput, total int64) ([]RefundTenderInput, error) {
	left := make(map[pulid.ID]int64, len(r.tenders))
	for _, st := range r.tenders {
		left[st.ID] = st.Amount - st.RefundedAmount
	}
	var sum int64
	for i, t := range in {
		f := fmt.Sprintf("tenders[%d]", i)
		if t.Amount <= 0 {
			return nil, errs.Invalid(f+".amount", "an amount is at least 1")
		}
		sum += t.Amount
		if t.TenderID == nil {
			continue
		}
		idx := slices.IndexFunc(r.tenders, func(st *ent.Tender) bool { return st.ID == *t.TenderID })
		if idx < 0 {
			return nil, &errs.Error{Code: errs.NotFound, Field: f + ".tenderId", Message: "no such tender on this sale"}
		}
		st := r.tenders[idx]
		if want := refundTypeOf(st); t.Type != want {
			return nil, errs.Invalid(f+".type", "that tender is refunded as %s", want)
		}
		if t.Amount > left[st.ID] {
			return nil, errs.Invalid(f+".amount", "%d is left to refund on that tender", left[st.ID])
		}
		left[st.ID] -= t.Amount
	}
	if sum != total {
		return nil, errs.Invalid("tenders", "the refund tenders pay %d but the refund comes to %d", sum, total)
	}
	out := make([]RefundTenderInput, 0, len(in))
	for i, t := range in {
		f := fmt.Sprintf("tenders[%d]", i)
		switch {
		case t.TenderID != nil:
			out = append(out, t)
		case t.Type == refundtender.TypeEXCHANGE && r.kind == refund.KindEXCHANGE:
			out = append(out, t)
		case t.Type == refundtender.TypeCASH:
			rest := t.Amount
			for _, st := range r.tenders {
				take := min(rest, left[st.ID])
				if refundTypeOf(st) != refundtender.TypeCASH || take <= 0 {
					continue
				}
				id := st.ID
				out = append(out, RefundTenderInput{TenderID: &id, Type: refundtender.TypeCASH, Amount: take})
				left[st.ID] -= take
				rest -= take
			}
			if rest > 0 && !r.settings.RefundToCashAllowed {
				return nil, errs.Invalid(f+".type", "only %d of the sale is left to refund in cash; the merchant does not refund card or wallet payments in cash", t.Amount-rest)
			}
			if rest > 0 {
				out = append(out, RefundTenderInput{Type: refundtender.TypeCASH, Amount: rest})
			}
		case t.Type == refundtender.TypeSTORED_VALUE:
			if r.s.hooks.Tenders[tender.TypeSTORED_VALUE] == nil || r.sale.CustomerID == nil {
				return nil, errs.Invalid(f+".type", "refunds to stored value need a customer and a stored value program")
			}
			out = append(out, t)
		default:
			return nil, errs.Invalid(f+".tenderId", "a %s refund goes back to one of the sale's tenders", t.Type)
		}
	}
	return out, nil
}

// write records the refund of lines and amount (total in all) and moves
// every figure it changes. Its tax is each line's share of the line's tax
// and the amount's share of the sale's.
func (r *refunding) write(lines []lineRefund, amount, total int64, tenders []RefundTenderInput) error {
	ctx, tx := r.ctx, r.tx
	var tax int64
	for _, l := range lines {
		if l.line.Total > 0 {
			tax += money.MulDiv(l.line.Tax, l.amount, l.line.Total)
		}
	}
	if amount > 0 && r.sale.Total > 0 {
		tax += money.MulDiv(r.sale.TaxTotal, amount, r.sale.Total)
	}
	create := tx.Refund.Create().
		SetIdempotencyKey(r.key).
		SetRequestHash(r.hash).
		SetSaleID(r.sale.ID).
		SetStoreID(r.sale.StoreID).
		SetStaffID(r.viewer.ID).
		SetKind(r.kind).
		SetReason(r.reason).
		SetAmount(total).
		SetTax(tax).
		SetBusinessDate(businessDate(r.store, r.now)).
		// The same clock as the business date: reports place the refund
		// in the local hour of created_at.
		SetCreatedAt(r.now)
	if r.exchange != nil {
		create.SetExchangeSaleID(r.exchange.ID)
	}
	if r.viewer.DeviceID != "" {
		create.SetDeviceID(r.viewer.DeviceID)
	}
	rf, err := create.Save(ctx)
	if err != nil {
		return fmt.Errorf("creating refund: %w", err)
	}
	for _, l := range lines {
		err := tx.RefundLine.Create().SetRefundID(rf.ID).SetSaleLineID(l.line.ID).SetQuantity(l.quantity).SetAmount(l.amount).Exec(ctx)
		if err != nil {
			return fmt.Errorf("creating refund line: %w", err)
		}
		err = tx.SaleLine.UpdateOne(l.line).AddRefundedQuantity(l.quantity).AddRefundedAmount(l.amount).Exec(ctx)
		if err != nil {
			return fmt.Errorf("updating sale line: %w", err)
		}
	}
	for _, t := range tenders {
		err := tx.RefundTender.Create().SetRefundID(rf.ID).SetNillableTenderID(t.TenderID).SetType(t.Type).SetAmount(t.Amount).Exec(ctx)
		if err != nil {
			return fmt.Errorf("creating refund tender: %w", err)
		}
		if t.TenderID != nil {
			if err := tx.Tender.UpdateOneID(*t.TenderID).AddRefundedAmount(t.Amount).Exec(ctx); err != nil {
				return fmt.Errorf("updating tender: %w", err)
			}
		}
	}
	upd := tx.Sale.UpdateOne(r.sale).AddRefundedTotal(total)
	switch {
	case r.kind == refund.KindVOID:
		upd.SetStatus(sale.StatusVOIDED).SetVoidedAt(r.now)
	case r.sale.RefundedTotal+total == r.sale.Total:
		upd.SetStatus(sale.StatusREFUNDED)
	default:
		upd.SetStatus(sale.StatusPARTIALLY_REFUNDED)
	}
	if r.sale, err = upd.Save(ctx); err != nil {
		return fmt.Errorf("updating sale: %w", err)
	}
	r.written = rf
	return nil
}

// finish moves the figures outside the sale and writes the event and the
// audit entry.
func (r *refunding) finish() error {
	ctx, tx, rf := r.ctx, r.tx, r.written
	for _, refunded := range r.s.hooks.Refunded {
		if err := refunded(ctx, tx, r.sale, rf); err != nil {
			return err
		}
	}
	if r.sale.CustomerID != nil {
		if err := customers.RecordRefund(ctx, tx, *r.sale.CustomerID, r.sale.StoreID, rf.Amount, r.kind == refund.KindVOID); err != nil {
			return err
		}
	}
	if err := addStaffDay(ctx, tx, r.sale.MerchantID, r.viewer.ID, rf.BusinessDate, 0, r.paidOut); err != nil {
		return err
	}
	if err := r.checkRefundLimit(rf.BusinessDate); err != nil {
		return err
	}
	topic := outbox.SaleRefunded
	if r.kind == refund.KindVOID {
		topic = outbox.SaleVoided
	}
	err := outbox.Add(ctx, tx, r.sale.MerchantID, topic, r.sale.ID, map[string]any{
		"saleId": r.sale.ID, "refundId": rf.ID, "storeId": r.sale.StoreID, "kind": rf.Kind,
		"amount": rf.Amount, "currency": r.sale.Currency, "staffId": rf.StaffID,
		"receiptNumber": r.sale.ReceiptNumber,
	})
	if err != nil {
		return err
	}
	return audit.Record(ctx, tx.Client(), audit.Entry{
		Action: "sale." + strings.ToLower(string(r.kind)), TargetType: "Sale", TargetID: r.sale.ID,
		Details: map[string]any{"refundId": rf.ID, "amount": rf.Amount, "reason": rf.Reason},
	})
}
