package settlement

import (
	"context"
	sqldb "database/sql"
	"fmt"
	"slices"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/rule"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/dayclose"
	"github.com/tillpos/till/ent/predicate"
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/schema/settletype"
	entsettlement "github.com/tillpos/till/ent/settlement"
	"github.com/tillpos/till/ent/settlementchannel"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/ptr"
	"github.com/tillpos/till/merchants"
)

// referenceBatch is how many references one lookup names, well within
// both engines' bound on parameters.
const referenceBatch = 500

// ImportInput is a channel's settlement statement to reconcile.
type ImportInput struct {
	Channel settletype.Channel `json:"channel"`
	StoreID *pulid.ID          `json:"storeId,omitempty"`
	CSV     string             `json:"csv"`
	From    *string            `json:"from,omitempty"`
	To      *string            `json:"to,omitempty"`
}

// Reconciliation is an imported statement and its lines by outcome.
type Reconciliation struct {
	StatementImport  *ent.StatementImport
	Matched          []settletype.StatementLine
	MissingOnOurSide []settletype.StatementLine
	MissingOnTheirs  []settletype.StatementLine
	AmountMismatches []settletype.StatementLine
}

// ImportStatement reconciles a card or wallet channel's statement, laid
// out as the channel's settings say, with our tenders of that channel and
// the settlements of the closed days:
//
//   - a line whose reference names one of our tenders is MATCHED when the
//     amounts agree and an AMOUNT_MISMATCH otherwise; a negative line is a
//     refund and is compared with what the tender had refunded;
//   - a line naming no tender (or one an earlier line took) is
//     MISSING_ON_OUR_SIDE;
//   - our tenders of sales (not voided) on the business days from..to that
//     no line names are MISSING_ON_THEIRS;
//   - each statement date's total is compared with the channel's
//     settlement amount that day.
//
// Owners reconcile one store or all; managers name a store they work at.
func (s *Service) ImportStatement(ctx context.Context, in ImportInput) (*Reconciliation, error) {
	v, err := viewer.Staff(ctx, managers...)
	if err != nil {
		return nil, err
	}
	if in.Channel != settletype.ChannelCard && !in.Channel.IsWallet() {
		return nil, errs.Invalid("channel", "statements are reconciled for CARD and wallet channels")
	}
	if in.StoreID == nil && v.Role != viewer.RoleOwner {
		return nil, errs.Invalid("storeId", "name the store the statement is for")
	}
	if in.StoreID != nil {
		if _, err := merchants.StoreFor(ctx, s.db, v, *in.StoreID, "storeId"); err != nil {
			return nil, err
		}
	}
	ch, err := s.db.SettlementChannel.Query().Where(settlementchannel.ChannelEQ(in.Channel)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, errs.Invalid("channel", "set the channel's statement layout first (setSettlementChannel)")
	}
	if err != nil {
		return nil, fmt.Errorf("loading settlement channel: %w", err)
	}
	merchant, err := s.db.Merchant.Get(ctx, v.MerchantID)
	if err != nil {
		return nil, fmt.Errorf("loading merchant: %w", err)
	}
	rows, err := parseStatement(in.CSV, ch.Statement, merchant.Currency)
	if err != nil {
		return nil, err
	}
	from, to, err := statementRange(rows, in.From, in.To)
	if err != nil {
		return nil, err
	}
	// Tenders are read across the merchant's stores (the sale's store is
	// filtered here, not by the caller's stores), as an owner sees them.
	q := &reconcileQuery{ctx: rule.AllStores(ctx), client: s.db, channel: in.Channel, storeID: in.StoreID}
	rec, err := q.match(rows, from, to)
	if err != nil {
		return nil, err
	}
	days, err := q.days(rows)
	if err != nil {
		return nil, err
	}
	lines := slices.Concat(rec.Matched, rec.AmountMismatches, rec.MissingOnOurSide, rec.MissingOnTheirs)
	slices.SortStableFunc(lines, func(a, b settletype.StatementLine) int { return a.Line - b.Line })
	rec.StatementImport, err = db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.StatementImport, error) {
		imp, err := tx.StatementImport.Create().
			SetChannel(in.Channel).SetNillableStoreID(in.StoreID).SetImportedByID(v.ID).
			SetFromDate(from).SetToDate(to).SetLineCount(len(rows)).
			SetMatched(len(rec.Matched)).SetMissingOnOurSide(len(rec.MissingOnOurSide)).
			SetMissingOnTheirs(len(rec.MissingOnTheirs)).SetAmountMismatches(len(rec.AmountMismatches)).
			SetLines(lines).SetDays(days).
			Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("saving statement import: %w", err)
		}
		return imp, audit.Record(ctx, tx.Client(), audit.Entry{
			Action: "settlement.statement_imported", TargetType: "StatementImport", TargetID: imp.ID,
			Details: map[string]any{
				"channel": in.Channel, "from": from, "to": to, "lines": len(rows), "matched": imp.Matched,
				"missingOnOurSide": imp.MissingOnOurSide, "missingOnTheirs": imp.MissingOnTheirs, "amountMismatches": imp.AmountMismatches,
			},
		})
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// statementRange is the business days our tenders are compared over: as
// given, or the statement's first and last date.
func statementRange(rows []statementRow, from, to *string) (string, string, error) {
	var first, last string
	for _, r := range rows {
		if r.date == nil {
			continue
		}
		if first == "" || *r.date < first {
			first = *r.date
		}
		last = max(last, *r.date)
	}
	if from != nil {
		first = *from
	}
	if to != nil {
		last = *to
	}
	if first == "" || last == "" {
		return "", "", errs.Invalid("from", "the statement has no dates: give from and to")
	}
	return first, last, checkRange(first, last)
}

// reconcileQuery reads our side of one statement.
type reconcileQuery struct {
	ctx     context.Context
	client  *ent.Client
	channel settletype.Channel
	storeID *pulid.ID
}

// tenders are the predicates of the channel's tenders of the store's sales.
func (q *reconcileQuery) tenders(salePreds ...predicate.Sale) []predicate.Tender {
	preds := []predicate.Tender{tender.TypeEQ(tender.TypeCARD)}
	if q.channel.IsWallet() {
		preds = []predicate.Tender{tender.TypeEQ(tender.TypeMOBILE_WALLET), tender.WalletEQ(tender.Wallet(q.channel))}
	}
	if q.storeID != nil {
		salePreds = append(salePreds, sale.StoreID(*q.storeID))
	}
	if len(salePreds) > 0 {
		preds = append(preds, tender.HasSaleWith(salePreds...))
	}
	return preds
}

// match sorts the statement's lines, and our tenders on the days from..to.
func (q *reconcileQuery) match(rows []statementRow, from, to string) (*Reconciliation, error) {
	byRef := map[string][]*ent.Tender{}
	refs := make([]string, 0, len(rows))
	for _, r := range rows {
		refs = append(refs, r.reference)
	}
	slices.Sort(refs)
	refs = slices.Compact(refs)
	for batch := range slices.Chunk(refs, referenceBatch) {
		found, err := q.client.Tender.Query().
			Where(append(q.tenders(), tender.ReferenceIn(batch...))...).
			Order(ent.Asc(tender.FieldID)).
			All(q.ctx)
		if err != nil {
			return nil, fmt.Errorf("loading tenders by reference: %w", err)
		}
		for _, t := range found {
			byRef[*t.Reference] = append(byRef[*t.Reference], t)
		}
	}
	rec := &Reconciliation{}
	// A tender answers one sale line and one refund line at most.
	taken := map[pulid.ID]bool{}
	refundTaken := map[pulid.ID]bool{}
	for _, r := range rows {
		line := settletype.StatementLine{Line: r.line, Reference: r.reference, Date: r.date, TheirAmount: &r.amount, Fee: r.fee}
		used := taken
		if r.amount < 0 {
			used = refundTaken
		}
		i := slices.IndexFunc(byRef[r.reference], func(t *ent.Tender) bool { return !used[t.ID] })
		if i < 0 {
			line.Outcome = settletype.OutcomeMissingOurs
			rec.MissingOnOurSide = append(rec.MissingOnOurSide, line)
			continue
		}
		t := byRef[r.reference][i]
		used[t.ID] = true
		ours := t.Amount
		if r.amount < 0 {
			ours = -t.RefundedAmount
		}
		line.OurAmount, line.TenderID, line.SaleID = &ours, &t.ID, &t.SaleID
		if ours == r.amount {
			line.Outcome = settletype.OutcomeMatched
			rec.Matched = append(rec.Matched, line)
		} else {
			line.Outcome = settletype.OutcomeAmountMismatch
			rec.AmountMismatches = append(rec.AmountMismatches, line)
		}
	}
	ours, err := q.client.Tender.Query().
		Where(q.tenders(sale.BusinessDateGTE(from), sale.BusinessDateLTE(to), sale.StatusNEQ(sale.StatusVOIDED))...).
		WithSale(func(sq *ent.SaleQuery) { sq.Select(sale.FieldBusinessDate) }).
		Order(ent.Asc(tender.FieldID)).
		All(q.ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the days' tenders: %w", err)
	}
	for _, t := range ours {
		if taken[t.ID] {
			continue
		}
		amount := t.Amount
		line := settletype.StatementLine{
			Outcome: settletype.OutcomeMissingTheirs, Reference: ptr.Value(t.Reference), OurAmount: &amount,
			TenderID: &t.ID, SaleID: &t.SaleID,
		}
		if t.Edges.Sale != nil {
			line.Date = &t.Edges.Sale.BusinessDate
		}
		rec.MissingOnTheirs = append(rec.MissingOnTheirs, line)
	}
	return rec, nil
}

// days compares each statement date's total with the channel's settlement
// amount of that business day (nil while no store in scope closed it).
func (q *reconcileQuery) days(rows []statementRow) ([]settletype.DayTotal, error) {
	totals := map[string]int64{}
	var dates []string
	for _, r := range rows {
		if r.date == nil {
			continue
		}
		if _, ok := totals[*r.date]; !ok {
			dates = append(dates, *r.date)
		}
		totals[*r.date] += r.amount
	}
	slices.Sort(dates)
	out := make([]settletype.DayTotal, 0, len(dates))
	for _, d := range dates {
		closes := []predicate.DayClose{dayclose.BusinessDate(d)}
		settled := []predicate.Settlement{entsettlement.BusinessDate(d), entsettlement.ChannelEQ(q.channel)}
		if q.storeID != nil {
			closes = append(closes, dayclose.StoreID(*q.storeID))
			settled = append(settled, entsettlement.StoreID(*q.storeID))
		}
		day := settletype.DayTotal{Date: d, StatementAmount: totals[d]}
		closed, err := q.client.DayClose.Query().Where(closes...).Exist(q.ctx)
		if err != nil {
			return nil, fmt.Errorf("loading day closes: %w", err)
		}
		if closed {
			var sums []struct{ Sum sqldb.NullInt64 }
			if err := q.client.Settlement.Query().Where(settled...).Aggregate(ent.Sum(entsettlement.FieldAmount)).Scan(q.ctx, &sums); err != nil {
				return nil, fmt.Errorf("summing settlements: %w", err)
			}
			sum := db.Sum(sums)
			day.SettledAmount = &sum
			day.Matches = sum == day.StatementAmount
		}
		out = append(out, day)
	}
	return out, nil
}
