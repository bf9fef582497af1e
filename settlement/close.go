package settlement

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/dayclose"
	"github.com/tillpos/till/ent/refund"
	"github.com/tillpos/till/ent/refundtender"
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/schema/settletype"
	entsettlement "github.com/tillpos/till/ent/settlement"
	"github.com/tillpos/till/ent/settlementchannel"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/money"
	"github.com/tillpos/till/merchants"
)

// maxRangeDays bounds the settlements one query reads.
const maxRangeDays = 366

// CloseDayInput closes a store's business day.
type CloseDayInput struct {
	StoreID      pulid.ID `json:"storeId"`
	BusinessDate string   `json:"businessDate"`
}

// ChannelInput sets a channel's fee terms and statement layout.
type ChannelInput struct {
	Channel   settletype.Channel         `json:"channel"`
	FeeRateBP int                        `json:"feeRateBp"`
	FixedFee  int64                      `json:"fixedFee"`
	Statement settletype.StatementLayout `json:"statement"`
}

// CloseDay settles a store's business day (today or earlier in the store's
// time zone; a future day is BAD_USER_INPUT) and locks its sales against
// voids. It writes one settlement per channel that took or refunded money
// that day. Closing a closed day again is CONFLICT: a close is never
// redone, so a retry learns the day is closed and reads it with dayClose.
//
// A channel's amount is its sale tenders of the day's sales less what was
// refunded to it that day; voided sales and their voids leave no trace.
// Fees are charged per sale tender (the rate on its amount, a half rounded
// up, plus the fixed fee) and are not given back on refunds. Cash settles
// without fees unless the owner sets some (a cash-in-transit charge).
func (s *Service) CloseDay(ctx context.Context, in CloseDayInput) (*ent.DayClose, error) {
	v, err := viewer.Staff(ctx, managers...)
	if err != nil {
		return nil, err
	}
	if err := checkDate("businessDate", in.BusinessDate); err != nil {
		return nil, err
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.DayClose, error) {
		client := tx.Client()
		st, err := merchants.StoreFor(ctx, client, v, in.StoreID, "storeId")
		if err != nil {
			return nil, err
		}
		now := s.now()
		if today := localDate(st, now); in.BusinessDate > today {
			return nil, errs.Invalid("businessDate", "%s has not begun at the store (today is %s)", in.BusinessDate, today)
		}
		// Locked before anything is read: no void of the store's sales
		// runs until this close commits.
		if err := lockDay(ctx, tx, st.ID); err != nil {
			return nil, err
		}
		prior, err := client.DayClose.Query().Where(dayclose.StoreID(st.ID), dayclose.BusinessDate(in.BusinessDate)).Only(ctx)
		switch {
		case err == nil:
			return nil, errs.Newf(errs.Conflict, "the store's day %s was closed at %s", in.BusinessDate, prior.ClosedAt.Format(time.RFC3339))
		case !ent.IsNotFound(err):
			return nil, fmt.Errorf("loading the day's close: %w", err)
		}
		merchant, err := client.Merchant.Get(ctx, v.MerchantID)
		if err != nil {
			return nil, fmt.Errorf("loading merchant: %w", err)
		}
		terms, err := feeTerms(ctx, client)
		if err != nil {
			return nil, err
		}
		totals, err := dayTotals(ctx, client, st.ID, in.BusinessDate, terms)
		if err != nil {
			return nil, err
		}
		create := client.DayClose.Create().
			SetStoreID(st.ID).SetBusinessDate(in.BusinessDate).SetClosedByID(v.ID).SetClosedAt(now).
			SetCurrency(merchant.Currency)
		var count int
		var amount, fees int64
		for _, t := range totals {
			count += t.count
			amount += t.amount()
			fees += t.fees
		}
		dc, err := create.SetCount(count).SetAmount(amount).SetFees(fees).SetNetToBank(amount - fees).Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("closing the day: %w", err)
		}
		builders := make([]*ent.SettlementCreate, len(totals))
		for i, t := range totals {
			var rate int
			var fixed int64
			if term := terms[t.channel]; term != nil {
				rate, fixed = term.FeeRateBp, term.FixedFee
			}
			builders[i] = client.Settlement.Create().
				SetDayCloseID(dc.ID).SetStoreID(st.ID).SetBusinessDate(in.BusinessDate).SetChannel(t.channel).
				SetCount(t.count).SetSalesAmount(t.sales).SetRefundCount(t.refundCount).SetRefundsAmount(t.refunds).
				SetAmount(t.amount()).SetFeeRateBp(rate).SetFixedFee(fixed).
				SetFees(t.fees).SetNetToBank(t.amount() - t.fees)
		}
		if err := client.Settlement.CreateBulk(builders...).Exec(ctx); err != nil {
			return nil, fmt.Errorf("writing settlements: %w", err)
		}
		return dc, audit.Record(ctx, client, audit.Entry{
			Action: "day.closed", TargetType: "Store", TargetID: st.ID,
			Details: map[string]any{"dayCloseId": dc.ID, "businessDate": in.BusinessDate, "amount": dc.Amount, "fees": dc.Fees, "netToBank": dc.NetToBank},
		})
	})
}

// channelTotal is what one channel took on a day.
type channelTotal struct {
	channel            settletype.Channel
	count, refundCount int
	sales, refunds     int64
	fees               int64
}

func (t channelTotal) amount() int64 { return t.sales - t.refunds }

// dayTotals works out each channel's figures for a store's day, in the
// order of the channel enum.
func dayTotals(ctx context.Context, client *ent.Client, storeID pulid.ID, date string, terms map[settletype.Channel]*ent.SettlementChannel) ([]channelTotal, error) {
	byChannel := map[settletype.Channel]*channelTotal{}
	total := func(c settletype.Channel) *channelTotal {
		if byChannel[c] == nil {
			byChannel[c] = &channelTotal{channel: c}
		}
		return byChannel[c]
	}
	tenders, err := client.Tender.Query().
		Where(tender.TypeIn(tender.TypeCASH, tender.TypeCARD, tender.TypeMOBILE_WALLET),
			tender.HasSaleWith(sale.StoreID(storeID), sale.BusinessDate(date), sale.StatusNEQ(sale.StatusVOIDED))).
		Select(tender.FieldType, tender.FieldWallet, tender.FieldAmount).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the day's tenders: %w", err)
	}
	for _, t := range tenders {
		c := channelOf(t)
		ct := total(c)
		ct.count++
		ct.sales += t.Amount
		if term := terms[c]; term != nil {
			ct.fees += Fee(t.Amount, term.FeeRateBp, term.FixedFee)
		}
	}
	refunded, err := client.RefundTender.Query().
		Where(refundtender.TypeIn(refundtender.TypeCASH, refundtender.TypeCARD, refundtender.TypeMOBILE_WALLET),
			refundtender.HasRefundWith(refund.StoreID(storeID), refund.BusinessDate(date), refund.KindNEQ(refund.KindVOID))).
		WithTender().
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the day's refunds: %w", err)
	}
	for _, rt := range refunded {
		c := settletype.ChannelCash
		if rt.Type != refundtender.TypeCASH && rt.Edges.Tender != nil {
			c = channelOf(rt.Edges.Tender)
		}
		ct := total(c)
		ct.refundCount++
		ct.refunds += rt.Amount
	}
	out := make([]channelTotal, 0, len(byChannel))
	for _, c := range settletype.ChannelCash.Values() {
		if t := byChannel[settletype.Channel(c)]; t != nil {
			out = append(out, *t)
		}
	}
	return out, nil
}

// channelOf is where a sale tender's money settles.
func channelOf(t *ent.Tender) settletype.Channel {
	switch {
	case t.Type == tender.TypeCARD:
		return settletype.ChannelCard
	case t.Type == tender.TypeMOBILE_WALLET && t.Wallet != nil:
		return settletype.Channel(*t.Wallet)
	}
	return settletype.ChannelCash
}

// Fee is what a channel charges for one transaction of amount: rateBP
// basis points of it, a half unit rounded up, plus fixed.
func Fee(amount int64, rateBP int, fixed int64) int64 {
	if amount <= 0 {
		return fixed
	}
	// ⌊2·a·r/10⁴⌋ halved up is a·r/10⁴ rounded half up, in 128 bits.
	return (money.MulDiv(amount, 2*int64(rateBP), 10_000)+1)/2 + fixed
}

// feeTerms are the merchant's channels' terms.
func feeTerms(ctx context.Context, client *ent.Client) (map[settletype.Channel]*ent.SettlementChannel, error) {
	rows, err := client.SettlementChannel.Query().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading settlement channels: %w", err)
	}
	terms := make(map[settletype.Channel]*ent.SettlementChannel, len(rows))
	for _, r := range rows {
		terms[r.Channel] = r
	}
	return terms, nil
}

// DayClose is the store's close of date, or nil while the day is open.
func (s *Service) DayClose(ctx context.Context, storeID pulid.ID, date string) (*ent.DayClose, error) {
	if _, err := s.managedStore(ctx, storeID); err != nil {
		return nil, err
	}
	if err := checkDate("businessDate", date); err != nil {
		return nil, err
	}
	dc, err := s.db.DayClose.Query().Where(dayclose.StoreID(storeID), dayclose.BusinessDate(date)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return dc, err
}

// Settlements are the store's settlement records of the closed days from
// to to (at most maxRangeDays), by day and channel.
func (s *Service) Settlements(ctx context.Context, storeID pulid.ID, from, to string) ([]*ent.Settlement, error) {
	if _, err := s.managedStore(ctx, storeID); err != nil {
		return nil, err
	}
	if err := checkRange(from, to); err != nil {
		return nil, err
	}
	return s.db.Settlement.Query().
		Where(entsettlement.StoreID(storeID), entsettlement.BusinessDateGTE(from), entsettlement.BusinessDateLTE(to)).
		Order(ent.Asc(entsettlement.FieldBusinessDate), ent.Asc(entsettlement.FieldChannel)).
		All(ctx)
}

// checkRange checks a from..to range of dates.
func checkRange(from, to string) error {
	if err := checkDate("from", from); err != nil {
		return err
	}
	if err := checkDate("to", to); err != nil {
		return err
	}
	f, _ := time.Parse(time.DateOnly, from)
	t, _ := time.Parse(time.DateOnly, to)
	switch {
	case t.Before(f):
		return errs.Invalid("to", "the range ends before it begins")
	case t.Sub(f) > maxRangeDays*24*time.Hour:
		return errs.Invalid("to", "a range is at most %d days", maxRangeDays)
	}
	return nil
}

// managedStore is a store the viewer, an owner or manager, works at.
func (s *Service) managedStore(ctx context.Context, storeID pulid.ID) (*ent.Store, error) {
	v, err := viewer.Staff(ctx, managers...)
	if err != nil {
		return nil, err
	}
	return merchants.StoreFor(ctx, s.db, v, storeID, "storeId")
}

// SetChannel sets a channel's fee terms and statement layout (the owner).
func (s *Service) SetChannel(ctx context.Context, in ChannelInput) (*ent.SettlementChannel, error) {
	if _, err := viewer.Staff(ctx, viewer.RoleOwner); err != nil {
		return nil, err
	}
	if in.FeeRateBP < 0 || in.FeeRateBP > 10_000 {
		return nil, errs.Invalid("feeRateBp", "a fee rate is 0 to 10000 basis points")
	}
	if in.FixedFee < 0 || in.FixedFee > maxCash {
		return nil, errs.Invalid("fixedFee", "a fixed fee is between 0 and %d", int64(maxCash))
	}
	layout, err := checkLayout(in.Statement)
	if err != nil {
		return nil, err
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.SettlementChannel, error) {
		client := tx.Client()
		err := client.SettlementChannel.Create().
			SetChannel(in.Channel).SetFeeRateBp(in.FeeRateBP).SetFixedFee(in.FixedFee).SetStatement(layout).
			OnConflictColumns(settlementchannel.FieldMerchantID, settlementchannel.FieldChannel).
			UpdateFeeRateBp().UpdateFixedFee().UpdateStatement().UpdateUpdatedAt().
			Exec(ctx)
		if err != nil {
			return nil, fmt.Errorf("setting settlement channel: %w", err)
		}
		ch, err := client.SettlementChannel.Query().Where(settlementchannel.ChannelEQ(in.Channel)).Only(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading settlement channel: %w", err)
		}
		return ch, audit.Record(ctx, client, audit.Entry{
			Action: "settlement.channel_set", TargetType: "SettlementChannel", TargetID: ch.ID,
			Details: map[string]any{"channel": in.Channel, "feeRateBp": in.FeeRateBP, "fixedFee": in.FixedFee},
		})
	})
}

// Channels are the merchant's channels' terms (owners and managers).
func (s *Service) Channels(ctx context.Context) ([]*ent.SettlementChannel, error) {
	if _, err := viewer.Staff(ctx, managers...); err != nil {
		return nil, err
	}
	rows, err := s.db.SettlementChannel.Query().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading settlement channels: %w", err)
	}
	order := settletype.ChannelCash.Values()
	slices.SortFunc(rows, func(a, b *ent.SettlementChannel) int {
		return slices.Index(order, string(a.Channel)) - slices.Index(order, string(b.Channel))
	})
	return rows, nil
}

// checkLayout checks a statement layout and returns it tidied.
func checkLayout(l settletype.StatementLayout) (settletype.StatementLayout, error) {
	columns := map[string]*string{"referenceColumn": &l.ReferenceColumn, "amountColumn": &l.AmountColumn, "dateColumn": l.DateColumn, "feeColumn": l.FeeColumn}
	for name, col := range columns {
		if col == nil {
			continue
		}
		*col = strings.TrimSpace(*col)
		field := "statement." + name
		switch {
		case *col == "" || utf8.RuneCountInString(*col) > 100:
			return l, errs.Invalid(field, "a column is 1 to 100 characters")
		case !l.HasHeader && columnNumber(*col) < 1:
			return l, errs.Invalid(field, "without a header row a column is its number, from 1")
		}
	}
	if l.AmountFormat != settletype.AmountMinor && l.AmountFormat != settletype.AmountDecimal {
		return l, errs.Invalid("statement.amountFormat", "MINOR or DECIMAL")
	}
	if l.Delimiter != nil {
		if _, err := delimiter(l); err != nil {
			return l, err
		}
	}
	return l, nil
}
