package notify

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/merchant"
	"github.com/tillpos/till/ent/pushtoken"
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/store"
)

// SummaryWindow is how long after a person's summary time the summary may
// still go out: a server down at 21:00 sends it when it is back at 21:40,
// but not the next morning.
const SummaryWindow = 2 * time.Hour

// TopicDailySummary names daily-summary notifications.
const TopicDailySummary = "daily.summary"

// SendDailySummaries pushes each store's day so far to the people who
// want it and whose summary time has come in the store's time zone. It
// runs every few minutes on one replica; a second run in the same day
// sends nothing new.
func (s *Service) SendDailySummaries(ctx context.Context) error {
	ctx = viewer.NewSystemContext(ctx, "daily-summary")
	withPhones, err := s.db.PushToken.Query().Unique(true).Select(pushtoken.FieldMerchantID).Strings(ctx)
	if err != nil || len(withPhones) == 0 {
		return err
	}
	merchants, err := s.db.Merchant.Query().Where(merchant.IDIn(ids(withPhones)...)).All(ctx)
	if err != nil {
		return err
	}
	stores, err := s.db.Store.Query().Where(store.MerchantIDIn(ids(withPhones)...)).All(ctx)
	if err != nil {
		return err
	}
	storesOf := map[pulid.ID][]*ent.Store{}
	for _, st := range stores {
		storesOf[st.MerchantID] = append(storesOf[st.MerchantID], st)
	}
	now := s.now()
	for _, m := range merchants {
		// Who may hear is read once per merchant, not once per store.
		listeners, err := s.listeners(ctx, m.ID)
		if err != nil {
			return err
		}
		for _, st := range storesOf[m.ID] {
			if err := s.summarise(ctx, m, st, listeners, now); err != nil {
				return fmt.Errorf("daily summary of store %s: %w", st.ID, err)
			}
		}
	}
	return nil
}

// summarise sends st's summary to those of listeners whose time for it
// has come.
func (s *Service) summarise(ctx context.Context, m *ent.Merchant, st *ent.Store, listeners []person, now time.Time) error {
	zone, err := time.LoadLocation(st.TimeZone)
	if err != nil {
		return err
	}
	local := now.In(zone)
	n := news{kind: DailySummary, storeID: st.ID, zone: zone, amount: -1, args: map[string]any{"store": st.Name}}
	people := audience(listeners, n, func(p Preferences) bool { return summaryDue(p, local) })
	if len(people) == 0 {
		return nil
	}
	date := local.Format(time.DateOnly)
	count, amount, err := s.dayFigures(ctx, st.ID, date)
	if err != nil {
		return err
	}
	n.args["count"], n.args["amount"], n.args["currency"], n.args["date"] = count, amount, m.Currency, date
	return s.notify(ctx, people, st.MerchantID, TopicDailySummary, st.ID, "daily:"+string(st.ID)+":"+date, n)
}

// summaryDue reports whether local is within SummaryWindow after p's
// summary time on the same day.
func summaryDue(p Preferences, local time.Time) bool {
	at, ok := minuteOfDay(p.DailySummaryAt)
	if !ok {
		return false
	}
	since := local.Hour()*60 + local.Minute() - at
	return since >= 0 && since < int(SummaryWindow/time.Minute)
}

// dayFigures is a store's count of sales on a business date, not counting
// voided ones, and their total net of refunds.
func (s *Service) dayFigures(ctx context.Context, storeID pulid.ID, date string) (count, amount int64, err error) {
	var rows []struct {
		Count    int64 `json:"count"`
		Total    int64 `json:"total"`
		Refunded int64 `json:"refunded"`
	}
	sum := func(field, as string) ent.AggregateFunc {
		return func(s *sql.Selector) string { return sql.As("COALESCE("+sql.Sum(s.C(field))+", 0)", as) }
	}
	err = s.db.Sale.Query().
		Where(sale.StoreID(storeID), sale.BusinessDate(date), sale.StatusNEQ(sale.StatusVOIDED)).
		Aggregate(ent.Count(), sum(sale.FieldTotal, "total"), sum(sale.FieldRefundedTotal, "refunded")).
		Scan(ctx, &rows)
	if err != nil || len(rows) == 0 {
		return 0, 0, err
	}
	return rows[0].Count, rows[0].Total - rows[0].Refunded, nil
}
