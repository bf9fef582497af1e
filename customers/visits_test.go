package customers_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
)

func TestRecordVisit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	at := func(h, m int) time.Time { return time.Date(2025, 7, 1, h, m, 0, 0, time.UTC) }

	// A sale runs in a staff member's request, or in a system job (an
	// import, an offline till's sync); both count.
	contexts := []struct {
		name string
		ctx  func(t *testing.T) context.Context
	}{
		{"staff", func(t *testing.T) context.Context { return as(t, e.cashier) }},
		{"system", sys},
	}
	for _, cx := range contexts {
		t.Run(cx.name, func(t *testing.T) {
			c := e.create(t, as(t, e.cashier), customers.Profile{Name: ptr("Mei " + cx.name)})
			record := func(t *testing.T, store pulid.ID, amount int64, when time.Time) {
				t.Helper()
				ctx := cx.ctx(t)
				require.NoError(t, db.WithTx(ctx, e.client, func(tx *ent.Tx) error {
					return customers.RecordVisit(ctx, tx, c.ID, store, amount, when)
				}))
			}
			steps := []struct {
				name         string
				store        pulid.ID
				amount       int64
				at           time.Time
				visits       int
				total        int64
				first, last  time.Time
				perStore     map[pulid.ID]int
				favourite    pulid.ID
				favouriteWhy string
			}{
				{"first visit", e.store2, 1000, at(10, 0), 1, 1000, at(10, 0), at(10, 0),
					map[pulid.ID]int{e.store2: 1}, e.store2, "the only store"},
				{"an earlier sale recorded late", e.store1, 500, at(9, 0), 2, 1500, at(9, 0), at(10, 0),
					map[pulid.ID]int{e.store1: 1, e.store2: 1}, e.store1, "a tie goes to the earliest-registered store"},
				{"a sale between the two", e.store2, 300, at(9, 30), 3, 1800, at(9, 0), at(10, 0),
					map[pulid.ID]int{e.store1: 1, e.store2: 2}, e.store2, "store2 overtakes"},
				{"a later sale", e.store1, 200, at(11, 0), 4, 2000, at(9, 0), at(11, 0),
					map[pulid.ID]int{e.store1: 2, e.store2: 2}, e.store1, "tied again"},
				{"the earliest sale yet", e.store1, 0, at(8, 0), 5, 2000, at(8, 0), at(11, 0),
					map[pulid.ID]int{e.store1: 3, e.store2: 2}, e.store1, "store1 ahead"},
				{"a sale at the same time as the last", e.store2, 100, at(11, 0), 6, 2100, at(8, 0), at(11, 0),
					map[pulid.ID]int{e.store1: 3, e.store2: 3}, e.store1, "tied"},
				{"store2 overtakes again", e.store2, 100, at(10, 30), 7, 2200, at(8, 0), at(11, 0),
					map[pulid.ID]int{e.store1: 3, e.store2: 4}, e.store2, "store2 ahead"},
			}
			for _, st := range steps {
				record(t, st.store, st.amount, st.at)
				got := e.reload(t, c.ID)
				require.Equal(t, st.visits, got.VisitsCount, st.name)
				require.Equal(t, st.total, got.TotalSpent, st.name)
				requireTime(t, st.first, got.FirstVisitAt, st.name)
				requireTime(t, st.last, got.LastVisitAt, st.name)
				require.Equal(t, st.perStore, e.storeVisits(t, c.ID), st.name)
				require.Equal(t, st.favourite, e.favourite(t, c.ID), "%s: %s", st.name, st.favouriteWhy)
			}
		})
	}
}

// TestRecordVisitIsPartOfTheSale: the aggregates commit and roll back with
// the sale's transaction.
func TestRecordVisitIsPartOfTheSale(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(t, as(t, e.cashier), customers.Profile{Name: ptr("Mei")})
	e.visit(t, c.ID, e.store1, 1000, t0)

	ctx := as(t, e.cashier)
	failed := errors.New("payment declined")
	err := db.WithTx(ctx, e.client, func(tx *ent.Tx) error {
		if err := customers.RecordVisit(ctx, tx, c.ID, e.store2, 5000, t0.Add(time.Hour)); err != nil {
			return err
		}
		if err := customers.RecordVisit(ctx, tx, c.ID, e.store2, 5000, t0.Add(2*time.Hour)); err != nil {
			return err
		}
		return failed
	})
	require.ErrorIs(t, err, failed)
	got := e.reload(t, c.ID)
	require.Equal(t, 1, got.VisitsCount)
	require.Equal(t, int64(1000), got.TotalSpent)
	requireTime(t, t0, got.LastVisitAt)
	require.Equal(t, map[pulid.ID]int{e.store1: 1}, e.storeVisits(t, c.ID))
	require.Equal(t, e.store1, e.favourite(t, c.ID))

	// Another merchant's staff cannot count a visit to this customer.
	other := e.newShop(t, "zh-CN")
	octx := as(t, other.cashier)
	err = db.WithTx(octx, e.client, func(tx *ent.Tx) error {
		return customers.RecordVisit(octx, tx, c.ID, other.store1, 100, t0)
	})
	require.Error(t, err)
	require.True(t, ent.IsNotFound(err), "%v", err)
	require.Equal(t, 1, e.reload(t, c.ID).VisitsCount)

	// An unknown customer is an error, not a silent no-op.
	err = db.WithTx(ctx, e.client, func(tx *ent.Tx) error {
		return customers.RecordVisit(ctx, tx, pulid.New("cus"), e.store1, 100, t0)
	})
	require.Error(t, err)
}
