package sales

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tillpos/till/audit"
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

// Void undoes a whole sale on the business day it happened: as if it never
// was, for the customer's figures too.
func (s *Service) Void(ctx context.Context, key string, saleID pulid.ID, reason string) (*RefundResult, error) {
	in := RefundInput{IdempotencyKey: key, SaleID: saleID, Reason: reason}
	return s.refundOnce(ctx, refund.KindVOID, key, saleID, reason, in, func(tx *ent.Tx, r *refunding) error {
		switch {
		case r.sale.RefundedTotal > 0:
			return errs.Newf(errs.Conflict, "the sale was partly refunded; refund the rest instead of voiding it")
		case r.sale.BusinessDate != businessDate(r.store, r.now):
			return errs.Newf(errs.Conflict, "a sale can be voided only on its own business day (%s); refund it instead", r.sale.BusinessDate)
		}
		return r.refund(nil, r.sale.Total, nil)
	})
}

// Exchange takes items back from a sale and records a new sale for others;
// the returned items' value pays the new sale first, what is left over goes
// back to the original tenders, and what is missing the customer pays.
func (s *Service) Exchange(ctx context.Context, in ExchangeInput) (*RefundResult, error) {
	if len(in.ReturnLines) == 0 {
		return nil, errs.Invalid("returnLines", "an exchange returns at least one item")
	}
	return s.refundOnce(ctx, refund.KindEXCHANGE, in.IdempotencyKey, in.SaleID, in.Reason, in, func(tx *ent.Tx, r *refunding) error {
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
	v, err := staffViewer(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	hash, err := idempotency.RequestHash(struct {
		Kind  refund.Kind `json:"kind"`
		Input any         `json:"input"`
	}{kind, in})
	if err != nil {
		return nil, err
	}
	if prior, err := s.priorRefund(ctx, key, hash); prior != nil || err != nil {
		return prior, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > maxNoteRunes {
		return nil, errs.Invalid("reason", "give a reason of 1 to %d characters", maxNoteRunes)
	}
	var r *refunding
	err = db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
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
		// A request with the key that committed while this one ran makes
		// it fail: on the key, or on a check of what the other wrote (the
		// money it refunded, the sale it voided). A retry is told what the
		// key made, not refused for it.
		if prior, perr := s.priorRefund(ctx, key, hash); prior != nil || perr != nil {
			return prior, perr
		}
		return nil, err
	}
	// The refund was written through the finished transaction: detach it,
	// so that its edges load through the client.
	return s.refundResult(ctx, r.written.Unwrap(), false)
}

// priorRefund returns the refund made with key, if its request hashed to
// hash; IDEMPOTENCY_CONFLICT if it did not; nil if there is none.
func (s *Service) priorRefund(ctx context.Context, key, hash string) (*RefundResult, error) {
	found, err := s.db.Refund.Query().Where(refund.IdempotencyKey(key)).Only(ctx)
	prior, err := idempotency.Replayable(found, err, func(r *ent.Refund) string { return r.RequestHash }, hash, "refund")
	if prior == nil || err != nil {
		return nil, err
	}
	return s.refundResult(ctx, prior, true)
}

// refundResult loads the sales a refund concerns as they stand now. r is
// not bound to a transaction: a replayed refund was read through the
// client, and Unwrap panics on it.
func (s *Service) refundResult(ctx context.Context, r *ent.Refund, replayed bool) (*RefundResult, error) {
	sl, err := s.db.Sale.Get(ctx, r.SaleID)
	if err != nil {
		return nil, fmt.Errorf("loading refunded sale: %w", err)
	}
	res := &RefundResult{Refund: r, Sale: sl, Replayed: replayed}
	if r.ExchangeSaleID != nil {
		if res.Exchange, err = s.db.Sale.Get(ctx, *r.ExchangeSaleID); err != nil {
			return nil, fmt.Errorf("loading exchange sale: %w", err)
		}
	}
	return res, nil
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
	r.sale, err = client.Sale.Get(ctx, saleID)
	if ent.IsNotFound(err) {
		return &errs.Error{Code: errs.NotFound, Field: "saleId", Message: "sale not found"}
	}
	if err != nil {
		return fmt.Errorf("loading sale: %w", err)
	}
	if r.store, err = merchants.StoreFor(ctx, client, r.viewer, r.sale.StoreID, "saleId"); err != nil {
		return err
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
		amount := mulDiv(sl.Total, int64(l.Quantity), int64(sl.Quantity))
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
	if err := r.checkRefundTenders(tenderInputs, total); err != nil {
		return err
	}
	// Exchange credit pays for goods, not out of the till: only the rest
	// counts against the cashier's limit and their refund ratio.
	for _, t := range tenderInputs {
		if t.Type != refundtender.TypeEXCHANGE {
			r.paidOut += t.Amount
		}
	}
	if err := r.checkRefundLimit(); err != nil {
		return err
	}
	return r.write(lines, total, tenderInputs)
}

// checkRefundLimit applies the merchant's limit on what one cashier may
// pay out in refunds in a day; owners and managers are not limited.
func (r *refunding) checkRefundLimit() error {
	max := r.settings.MaxRefundPerCashierDay
	if max == nil || r.viewer.Role != viewer.RoleCashier {
		return nil
	}
	// Touching the cashier's day first locks its row (on PostgreSQL) to the
	// end of the transaction, so two refunds at once cannot both fit under
	// the limit that only one of them fits.
	date := businessDate(r.store, r.now)
	if err := addStaffDay(r.ctx, r.tx, r.sale.MerchantID, r.viewer.ID, date, 0, 0); err != nil {
		return err
	}
	day, err := r.tx.StaffDay.Query().Where(staffday.StaffID(r.viewer.ID), staffday.BusinessDate(date)).Only(r.ctx)
	if err != nil {
		return fmt.Errorf("reading the cashier's day: %w", err)
	}
	if done := day.RefundsAmount; done+r.paidOut > *max {
		return errs.Newf(errs.Forbidden, "a cashier may refund %d a day and has refunded %d today; ask a manager", *max, done)
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

// checkRefundTenders checks where refunded money goes: to one of the
// sale's tenders the way it came (refundTypeOf), up to what is left of it; to cash when
// the sale took cash or the merchant allows cash refunds; to stored value
// only through the loyalty domain. The amounts add up to total.
func (r *refunding) checkRefundTenders(in []RefundTenderInput, total int64) error {
	var sum int64
	for i, t := range in {
		f := fmt.Sprintf("tenders[%d]", i)
		if t.Amount <= 0 {
			return errs.Invalid(f+".amount", "an amount is at least 1")
		}
		sum += t.Amount
		switch {
		case t.TenderID != nil:
			idx := slices.IndexFunc(r.tenders, func(st *ent.Tender) bool { return st.ID == *t.TenderID })
			if idx < 0 {
				return &errs.Error{Code: errs.NotFound, Field: f + ".tenderId", Message: "no such tender on this sale"}
			}
			st := r.tenders[idx]
			if want := refundTypeOf(st); t.Type != want {
				return errs.Invalid(f+".type", "that tender is refunded as %s", want)
			}
			if left := st.Amount - st.RefundedAmount; t.Amount > left {
				return errs.Invalid(f+".amount", "%d is left to refund on that tender", left)
			}
		case t.Type == refundtender.TypeEXCHANGE && r.kind == refund.KindEXCHANGE:
		case t.Type == refundtender.TypeCASH:
			tookCash := slices.ContainsFunc(r.tenders, func(st *ent.Tender) bool { return st.Type == tender.TypeCASH })
			if !tookCash && !r.settings.RefundToCashAllowed {
				return errs.Invalid(f+".type", "the merchant does not refund card or wallet sales in cash")
			}
		case t.Type == refundtender.TypeSTORED_VALUE:
			if r.s.hooks.Refund == nil || r.sale.CustomerID == nil {
				return errs.Invalid(f+".type", "refunds to stored value need a customer and a stored value program")
			}
		default:
			return errs.Invalid(f+".tenderId", "a %s refund goes back to one of the sale's tenders", t.Type)
		}
	}
	if sum != total {
		return errs.Invalid("tenders", "the refund tenders pay %d but the refund comes to %d", sum, total)
	}
	return nil
}

// write records the refund and moves every figure it changes.
func (r *refunding) write(lines []lineRefund, total int64, tenders []RefundTenderInput) error {
	ctx, tx := r.ctx, r.tx
	var tax int64
	for _, l := range lines {
		if l.line.Total > 0 {
			tax += mulDiv(l.line.Tax, l.amount, l.line.Total)
		}
	}
	if len(lines) == 0 && r.sale.Total > 0 { // an amount: its share of the sale's tax
		tax = mulDiv(r.sale.TaxTotal, total, r.sale.Total)
	}
	create := tx.Refund.Create().
		SetIdempotencyKey(r.key).
		SetRequestHash(r.hash).
		SetSaleID(r.sale.ID).
		SetStaffID(r.viewer.ID).
		SetKind(r.kind).
		SetReason(r.reason).
		SetAmount(total).
		SetTax(tax).
		SetBusinessDate(businessDate(r.store, r.now))
	if r.exchange != nil {
		create.SetExchangeSaleID(r.exchange.ID)
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
	if r.s.hooks.Refund != nil {
		if err := r.s.hooks.Refund(ctx, tx, r.sale, rf); err != nil {
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
	topic := outbox.SaleRefunded
	if r.kind == refund.KindVOID {
		topic = outbox.SaleVoided
	}
	err := outbox.Add(ctx, tx, r.sale.MerchantID, topic, r.sale.ID, map[string]any{
		"saleId": r.sale.ID, "refundId": rf.ID, "storeId": r.sale.StoreID, "kind": rf.Kind,
		"amount": rf.Amount, "currency": r.sale.Currency, "staffId": rf.StaffID,
	})
	if err != nil {
		return err
	}
	return audit.Record(ctx, tx.Client(), audit.Entry{
		Action: "sale." + strings.ToLower(string(r.kind)), TargetType: "Sale", TargetID: r.sale.ID,
		Details: map[string]any{"refundId": rf.ID, "amount": rf.Amount, "reason": rf.Reason},
	})
}
