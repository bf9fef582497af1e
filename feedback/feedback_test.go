package feedback_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent"
	entfeedback "github.com/tillpos/till/ent/feedback"
	"github.com/tillpos/till/ent/outboxevent"
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/feedback"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/sales"
)

// storesSales is a feedback.Sales that lets the caller see the sales of
// some stores only.
type storesSales struct {
	client *ent.Client
	stores []pulid.ID
}

var _ feedback.Sales = storesSales{}

func (s storesSales) Query(context.Context) (*ent.SaleQuery, error) {
	return s.client.Sale.Query().Where(sale.StoreIDIn(s.stores...)), nil
}

func TestRecord(t *testing.T) {
	t.Parallel()
	d := tilltest.OpenDB(t)
	owner, err := merchants.New(d.Client, password.NewHasher(bcrypt.MinCost)).SignUp(t.Context(), merchants.SignUpInput{
		MerchantName: "Lotus Tea", OwnerName: "Li Wei", Email: tilltest.UniqueEmail("owner"),
		Password: tilltest.Password, Currency: "CNY", TimeZone: "Asia/Shanghai", Locale: "zh-CN",
	})
	require.NoError(t, err)
	ctx := viewer.NewContext(t.Context(), &viewer.Viewer{
		Kind: viewer.KindStaff, ID: owner.ID, MerchantID: owner.MerchantID, Role: viewer.RoleOwner, SessionID: "test",
	})
	sys := viewer.NewSystemContext(t.Context(), "feedback-test")
	store, err := owner.QueryStores().OnlyID(sys)
	require.NoError(t, err)
	seller := sales.New(d.Client)
	sell := func(key string) *ent.Sale {
		t.Helper()
		sl, _, err := seller.Record(ctx, sales.SaleInput{
			IdempotencyKey: key, StoreID: store,
			Lines:   []sales.LineInput{{Name: new("Tea"), Quantity: 1, UnitPrice: new(int64(800))}},
			Tenders: []sales.TenderInput{{Type: tender.TypeCASH, Amount: 800}},
		})
		require.NoError(t, err)
		return sl
	}
	count := func() int {
		n, err := d.Feedback.Query().Count(sys)
		require.NoError(t, err)
		return n
	}
	requireRefused := func(err error, code errs.Code, field string) {
		t.Helper()
		require.Equal(t, code, errs.CodeOf(err), "%v", err)
		e, _ := errs.As(err)
		require.Equal(t, field, e.Field, "%v", err)
	}
	sl := sell("sale-1")
	rate := feedback.Input{SaleID: sl.ID, Rating: 2, Category: entfeedback.CategorySERVICE, Comment: new("  cold tea, ask Mei on 13800138000  ")}

	// The sale is found only through what Sales lets the caller see.
	_, err = feedback.New(d.Client, storesSales{d.Client, nil}).Record(ctx, rate)
	requireRefused(err, errs.NotFound, "saleId")
	require.Zero(t, count())

	svc := feedback.New(d.Client, storesSales{d.Client, []pulid.ID{store}})
	fb, err := svc.Record(ctx, rate)
	require.NoError(t, err)
	require.Equal(t, "cold tea, ask Mei on 13800138000", fb.Comment)
	require.Equal(t, store, fb.StoreID)
	events, err := d.OutboxEvent.Query().Where(outboxevent.Topic("feedback.low")).All(sys)
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, map[string]any{"feedbackId": string(fb.ID), "saleId": string(sl.ID), "storeId": string(store)}, events[0].Payload,
		"the event names the feedback; the comment stays in the row")

	// A rating stands: one per sale and category.
	_, err = svc.Record(ctx, rate)
	requireRefused(err, errs.Conflict, "category")
	rate.Category = entfeedback.CategoryEXPERIENCE
	_, err = svc.Record(ctx, rate)
	require.NoError(t, err)
	require.Equal(t, 2, count())

	// A voided sale was never made, so it is not rated.
	voided := sell("sale-2")
	_, err = seller.Void(ctx, "void-2", voided.ID, "rang up twice")
	require.NoError(t, err)
	_, err = svc.Record(ctx, feedback.Input{SaleID: voided.ID, Rating: 5, Category: entfeedback.CategorySERVICE})
	requireRefused(err, errs.Conflict, "saleId")
	require.Equal(t, 2, count())

	// Only staff record feedback.
	op := viewer.NewContext(t.Context(), &viewer.Viewer{Kind: viewer.KindOperator, ID: "opr_test", Role: viewer.RoleOperator})
	_, err = svc.Record(op, feedback.Input{SaleID: sl.ID, Rating: 5, Category: entfeedback.CategoryPRODUCT})
	require.Equal(t, errs.Forbidden, errs.CodeOf(err), "%v", err)
}
