package customers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/auditentry"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/customerstorevisits"
	"github.com/tillpos/till/ent/schema/pulid"
	entstaff "github.com/tillpos/till/ent/staff"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/merchants"
)

// visit records a sale of amount at store at time at for customer id, in a
// transaction of its own as the merchant's cashier.
func (e *env) visit(t *testing.T, id, store pulid.ID, amount int64, at time.Time) {
	t.Helper()
	ctx := as(t, e.cashier)
	require.NoError(t, db.WithTx(ctx, e.client, func(tx *ent.Tx) error {
		return customers.RecordVisit(ctx, tx, id, store, amount, at)
	}))
}

// storeVisits is a customer's visit count per store.
func (e *env) storeVisits(t *testing.T, id pulid.ID) map[pulid.ID]int {
	t.Helper()
	rows, err := e.client.CustomerStoreVisits.Query().Where(customerstorevisits.CustomerID(id)).All(sys(t))
	require.NoError(t, err)
	out := map[pulid.ID]int{}
	for _, r := range rows {
		out[r.StoreID] = r.Visits
	}
	return out
}

// favourite is a customer's favourite store, "" when there is none.
func (e *env) favourite(t *testing.T, id pulid.ID) pulid.ID {
	t.Helper()
	ids, err := e.client.Customer.QueryFavouriteStore(e.reload(t, id)).IDs(sys(t))
	require.NoError(t, err)
	if len(ids) == 0 {
		return ""
	}
	require.Len(t, ids, 1)
	return ids[0]
}

// managerAction is something only an OWNER or a MANAGER may do to a
// customer.
type managerAction struct {
	name  string
	audit string
	do    func(ctx context.Context, e *env, c, other *ent.Customer) error
}

var managerActions = []managerAction{
	{"archive", "customer.archived", func(ctx context.Context, e *env, c, _ *ent.Customer) error {
		_, err := e.svc.Archive(ctx, c.ID)
		return err
	}},
	{"merge", "customer.merged", func(ctx context.Context, e *env, c, other *ent.Customer) error {
		_, err := e.svc.Merge(ctx, c.ID, other.ID)
		return err
	}},
	{"export", "customer.exported", func(ctx context.Context, e *env, c, _ *ent.Customer) error {
		_, err := e.svc.Export(ctx, c.ID)
		return err
	}},
	{"erase", "customer.erased", func(ctx context.Context, e *env, c, _ *ent.Customer) error {
		_, err := e.svc.Erase(ctx, c.ID)
		return err
	}},
}

func TestManagerActionsByRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, role := range []entstaff.Role{entstaff.RoleOWNER, entstaff.RoleMANAGER, entstaff.RoleCASHIER} {
		actor := map[entstaff.Role]*ent.Staff{entstaff.RoleOWNER: e.owner, entstaff.RoleMANAGER: e.manager, entstaff.RoleCASHIER: e.cashier}[role]
		for _, a := range managerActions {
			t.Run(string(role)+" "+a.name, func(t *testing.T) {
				phone := fmt.Sprintf("+86138%08d", e.count(t)) // a phone of its own
				c := e.create(t, as(t, e.cashier), customers.Profile{Name: ptr("Mei"), Phone: ptr(phone)})
				dup := e.create(t, as(t, e.cashier), customers.Profile{Name: ptr("Mei again")})
				before, beforeDup := e.reload(t, c.ID), e.reload(t, dup.ID)
				err := a.do(as(t, actor), e, c, dup)
				if role == entstaff.RoleCASHIER {
					requireCode(t, err, errs.Forbidden)
					after, afterDup := e.reload(t, c.ID), e.reload(t, dup.ID)
					require.Equal(t, before.UpdatedAt, after.UpdatedAt, "a refused action changes nothing")
					require.Equal(t, before.Status, after.Status)
					require.Equal(t, beforeDup.Status, afterDup.Status)
					require.Equal(t, before.PhoneEnc, after.PhoneEnc)
					require.Zero(t, e.audited(t, a.audit, c.ID), "a refused action is not audited")
					return
				}
				require.NoError(t, err)
				require.Equal(t, 1, e.audited(t, a.audit, c.ID))
			})
		}
	}
}

func TestReveal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(t, as(t, e.cashier), customers.Profile{
		Name: ptr("Mei"), Phone: ptr(meiPhone), Email: ptr(meiEmail), Address: ptr("1 Nanjing Road"),
	})
	full := customers.Contact{Phone: ptr(meiPhone), Email: ptr(meiEmail), Address: ptr("1 Nanjing Road")}

	for _, m := range []*ent.Staff{e.owner, e.manager} {
		got, err := e.svc.Reveal(as(t, m), c.ID)
		require.NoError(t, err, m.Role)
		require.Equal(t, full, got, m.Role)
	}
	require.Equal(t, 2, e.audited(t, "customer.contact_revealed", c.ID))

	// A cashier only once the owner allows it.
	got, err := e.svc.Reveal(as(t, e.cashier), c.ID)
	requireCode(t, err, errs.Forbidden)
	require.Equal(t, customers.Contact{}, got)
	require.Equal(t, 2, e.audited(t, "customer.contact_revealed", c.ID))

	_, err = e.merchants.Update(as(t, e.owner), merchants.UpdateInput{CashiersSeeFullContact: ptr(true)})
	require.NoError(t, err)
	got, err = e.svc.Reveal(as(t, e.cashier), c.ID)
	require.NoError(t, err)
	require.Equal(t, full, got)
	n, err := e.client.AuditEntry.Query().Where(
		auditentry.Action("customer.contact_revealed"), auditentry.TargetID(string(c.ID)), auditentry.ActorID(string(e.cashier.ID)),
	).Count(sys(t))
	require.NoError(t, err)
	require.Equal(t, 1, n, "the cashier's reveal is audited as theirs")

	// Allowing it again does not change how the contact is shown.
	view, err := e.svc.ContactView(as(t, e.cashier), e.reload(t, c.ID))
	require.NoError(t, err)
	require.True(t, view.Masked)

	_, err = e.merchants.Update(as(t, e.owner), merchants.UpdateInput{CashiersSeeFullContact: ptr(false)})
	require.NoError(t, err)
	_, err = e.svc.Reveal(as(t, e.cashier), c.ID)
	requireCode(t, err, errs.Forbidden)

	_, err = e.svc.Reveal(as(t, e.owner), pulid.New("cus"))
	requireCode(t, err, errs.NotFound)
	other := e.newShop(t, "zh-CN")
	_, err = e.svc.Reveal(as(t, other.owner), c.ID)
	requireCode(t, err, errs.NotFound)
}

func TestMerge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.cashier)
	t1, t2 := t0.Add(time.Hour), t0.Add(2*time.Hour)

	// The duplicate is registered first (t0) with an SMS yes and a push yes,
	// and at t2 withdraws push and gives an email yes.
	e.clock.Set(t0)
	dup, err := e.svc.Create(ctx, &e.store2, customers.Profile{
		Name: ptr("Mei L."), Phone: ptr("13900001111"), Email: ptr(meiEmail), Address: ptr("1 Nanjing Road"),
		Birthday: ptr("1990-05-01"), Gender: ptr(customer.GenderFEMALE), Notes: ptr("likes oolong"),
		Tags: []string{"Tea", "VIP"}, MemberCode: ptr("DUP-1"),
		Consent: customers.Consent{Push: ptr(true), SMS: ptr(true)},
	})
	require.NoError(t, err)
	// The survivor at t1: push yes, SMS no.
	e.clock.Set(t1)
	survivor, err := e.svc.Create(ctx, &e.store1, customers.Profile{
		Name: ptr("Mei Lin"), Phone: ptr(meiPhone), Tags: []string{"VIP"}, MemberCode: ptr("SUR-1"),
		Consent: customers.Consent{Push: ptr(true), SMS: ptr(false)},
	})
	require.NoError(t, err)
	e.clock.Set(t2)
	_, err = e.svc.Update(ctx, dup.ID, customers.Profile{Consent: customers.Consent{Push: ptr(false), Email: ptr(true)}})
	require.NoError(t, err)

	day := func(d, h int) time.Time { return time.Date(2025, 7, d, h, 0, 0, 0, time.UTC) }
	e.visit(t, survivor.ID, e.store1, 1000, day(10, 12))
	e.visit(t, survivor.ID, e.store1, 2000, day(20, 12))
	e.visit(t, dup.ID, e.store2, 300, day(5, 12))
	e.visit(t, dup.ID, e.store2, 400, day(15, 12))
	e.visit(t, dup.ID, e.store2, 500, day(25, 12))
	require.Equal(t, e.store1, e.favourite(t, survivor.ID))

	got, err := e.svc.Merge(as(t, e.manager), survivor.ID, dup.ID)
	require.NoError(t, err)
	require.Equal(t, survivor.ID, got.ID)
	s := e.reload(t, survivor.ID)

	// Aggregates add up; first and last visit span both.
	require.Equal(t, 5, s.VisitsCount)
	require.Equal(t, int64(4200), s.TotalSpent)
	requireTime(t, day(5, 12), s.FirstVisitAt)
	requireTime(t, day(25, 12), s.LastVisitAt)
	require.Equal(t, map[pulid.ID]int{e.store1: 2, e.store2: 3}, e.storeVisits(t, survivor.ID))
	require.Empty(t, e.storeVisits(t, dup.ID))
	require.Equal(t, e.store2, e.favourite(t, survivor.ID), "the merged visits make store2 the favourite")

	// Profile: tags join; what the survivor lacks is taken over.
	require.Equal(t, "Mei Lin", s.Name)
	require.Equal(t, []string{"VIP", "Tea"}, s.Tags)
	require.Equal(t, " mei lin vip tea", s.SearchText)
	require.Equal(t, "1990-05-01", *s.Birthday)
	require.Equal(t, customer.GenderFEMALE, *s.Gender)
	require.Equal(t, "likes oolong", s.Notes)
	require.Equal(t, "SUR-1", s.MemberCode)

	// Consent: per channel, the decision made last wins.
	require.False(t, s.PushConsent, "the duplicate withdrew push at t2, after the survivor's yes at t1")
	requireTime(t, t2, s.PushConsentAt)
	require.False(t, s.SmsConsent, "the survivor's SMS no at t1 is later than the duplicate's yes at t0")
	requireTime(t, t1, s.SmsConsentAt)
	require.True(t, s.EmailConsent, "only the duplicate decided on email")
	requireTime(t, t2, s.EmailConsentAt)

	// Contact: the survivor keeps its phone and takes the email and address,
	// sealed afresh for the survivor.
	require.Equal(t, meiPhone, open(t, e.box, s.PhoneEnc, s.ID, "phone"))
	require.Equal(t, meiEmail, open(t, e.box, s.EmailEnc, s.ID, "email"))
	require.Equal(t, "1 Nanjing Road", open(t, e.box, s.AddressEnc, s.ID, "address"))
	_, err = e.box.Open(*s.EmailEnc, customers.SealContextForTest(dup.ID, "email"))
	require.Error(t, err, "no longer bound to the duplicate")
	require.Equal(t, e.box.Index(string(e.merchantID), "email", meiEmail), *s.EmailIndex)
	require.Equal(t, e.box.ActiveKeyID(), s.PiiKeyID)
	view, err := e.svc.ContactView(as(t, e.owner), s)
	require.NoError(t, err)
	require.Equal(t, customers.Contact{Phone: ptr(meiPhone), Email: ptr(meiEmail), Address: ptr("1 Nanjing Road")}, view.Contact)

	// The duplicate is left MERGED, pointing at the survivor, without
	// contact details or a place in search.
	d := e.reload(t, dup.ID)
	require.Equal(t, customer.StatusMERGED, d.Status)
	require.NotNil(t, d.MergedIntoID)
	require.Equal(t, survivor.ID, *d.MergedIntoID)
	require.Nil(t, d.PhoneEnc)
	require.Nil(t, d.PhoneIndex)
	require.Nil(t, d.EmailEnc)
	require.Nil(t, d.EmailIndex)
	require.Nil(t, d.AddressEnc)
	require.Empty(t, d.SearchText)
	require.Equal(t, "DUP-1", d.MemberCode, "the old card keeps working")

	// Recognition: the duplicate's card and email find the survivor.
	for name, key := range map[string]customers.LookupKey{
		"duplicate's card":  {MemberCode: ptr("DUP-1")},
		"duplicate's email": {Email: ptr(meiEmail)},
		"survivor's phone":  {Phone: ptr(meiPhone)},
	} {
		found, err := e.svc.Lookup(ctx, key)
		require.NoError(t, err, name)
		require.NotNil(t, found, name)
		require.Equal(t, survivor.ID, found.ID, name)
	}
	conn, err := e.svc.Search(ctx, "mei", nil, nil)
	require.NoError(t, err)
	require.Len(t, conn.Edges, 1)
	require.Equal(t, survivor.ID, conn.Edges[0].Node.ID)

	n, err := e.client.AuditEntry.Query().Where(auditentry.Action("customer.merged"), auditentry.TargetID(string(survivor.ID))).Only(sys(t))
	require.NoError(t, err)
	require.Equal(t, string(dup.ID), n.Details["duplicate"])
	require.Equal(t, string(e.manager.ID), n.ActorID)
}

func TestMergeTakesOverContact(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.cashier)
	survivor := e.create(t, ctx, customers.Profile{Name: ptr("Mei"), Notes: ptr("keeps these notes")})
	dup := e.create(t, ctx, customers.Profile{Name: ptr("Mei"), Phone: ptr(meiPhone), Notes: ptr("dropped")})
	e.visit(t, dup.ID, e.store1, 700, t0)

	_, err := e.svc.Merge(as(t, e.owner), survivor.ID, dup.ID)
	require.NoError(t, err)
	s := e.reload(t, survivor.ID)
	require.Equal(t, meiPhone, open(t, e.box, s.PhoneEnc, s.ID, "phone"))
	require.Equal(t, e.box.Index(string(e.merchantID), "phone", meiPhone), *s.PhoneIndex)
	require.Equal(t, e.box.ActiveKeyID(), s.PiiKeyID)
	require.Equal(t, "keeps these notes", s.Notes)
	require.Equal(t, 1, s.VisitsCount)
	require.Equal(t, int64(700), s.TotalSpent)
	requireTime(t, t0, s.FirstVisitAt)
	requireTime(t, t0, s.LastVisitAt)
	require.Equal(t, e.store1, e.favourite(t, s.ID))

	found, err := e.svc.Lookup(ctx, customers.LookupKey{Phone: ptr("138 1234 5678")})
	require.NoError(t, err)
	require.NotNil(t, found)
	require.Equal(t, survivor.ID, found.ID, "the duplicate's phone now finds the survivor")
}

func TestMergeRefuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.owner)
	mk := func(name string) *ent.Customer { return e.create(t, ctx, customers.Profile{Name: ptr(name)}) }
	a, b, merged, erased := mk("A"), mk("B"), mk("Merged"), mk("Erased")
	_, err := e.svc.Merge(ctx, a.ID, merged.ID)
	require.NoError(t, err)
	_, err = e.svc.Erase(ctx, erased.ID)
	require.NoError(t, err)
	other := e.newShop(t, "zh-CN")
	theirs := e.create(t, as(t, other.owner), customers.Profile{Name: ptr("Theirs")})

	tests := []struct {
		name                string
		survivor, duplicate pulid.ID
		code                errs.Code
		field               string
	}{
		{"into itself", b.ID, b.ID, errs.BadUserInput, "duplicateId"},
		{"a merged duplicate", b.ID, merged.ID, errs.BadUserInput, "duplicateId"},
		{"into a merged survivor", merged.ID, b.ID, errs.BadUserInput, "survivorId"},
		{"an erased duplicate", b.ID, erased.ID, errs.BadUserInput, "duplicateId"},
		{"into an erased survivor", erased.ID, b.ID, errs.BadUserInput, "survivorId"},
		{"an unknown duplicate", b.ID, pulid.New("cus"), errs.NotFound, ""},
		{"into an unknown survivor", pulid.New("cus"), b.ID, errs.NotFound, ""},
		{"another merchant's duplicate", b.ID, theirs.ID, errs.NotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.Merge(ctx, tt.survivor, tt.duplicate)
			requireField(t, err, tt.code, tt.field)
		})
	}
	require.Equal(t, customer.StatusACTIVE, e.reload(t, b.ID).Status)
	require.Equal(t, customer.StatusACTIVE, e.reload(t, theirs.ID).Status)
}

func TestExport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, err := e.svc.Create(as(t, e.cashier), &e.store1, customers.Profile{
		Name: ptr("Mei Lin"), Phone: ptr(meiPhone), Email: ptr(meiEmail), Address: ptr("1 Nanjing Road"),
		Tags: []string{"VIP"}, Consent: customers.Consent{SMS: ptr(true)},
	})
	require.NoError(t, err)
	e.visit(t, c.ID, e.store2, 1200, t0)

	doc, err := e.svc.Export(as(t, e.manager), c.ID)
	require.NoError(t, err)
	require.Equal(t, c.ID, doc["id"])
	require.Equal(t, "Mei Lin", doc["name"])
	require.Equal(t, ptr(meiPhone), doc["phone"], "decrypted")
	require.Equal(t, ptr(meiEmail), doc["email"])
	require.Equal(t, ptr("1 Nanjing Road"), doc["address"])
	require.Equal(t, []string{"VIP"}, doc["tags"])
	consent := doc["consent"].(map[string]any)
	require.Equal(t, true, consent["sms"].(map[string]any)["granted"])
	visits := doc["visits"].(map[string]any)
	require.Equal(t, 1, visits["count"])
	require.Equal(t, int64(1200), visits["totalSpent"])
	require.Equal(t, []map[string]any{{"store": e.store2, "visits": 1}}, visits["perStore"])
	trail := doc["auditTrail"].([]map[string]any)
	require.NotEmpty(t, trail)
	require.Equal(t, "customer.created", trail[0]["action"])
	require.Equal(t, string(e.cashier.ID), trail[0]["actor"])
	require.Equal(t, 1, e.audited(t, "customer.exported", c.ID))

	_, err = e.svc.Export(as(t, e.manager), pulid.New("cus"))
	requireCode(t, err, errs.NotFound)
}

func TestErase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.cashier)
	c, err := e.svc.Create(ctx, &e.store1, customers.Profile{
		Name: ptr("Mei Lin"), Phone: ptr(meiPhone), Email: ptr(meiEmail), Address: ptr("1 Nanjing Road"),
		Birthday: ptr("1990-05-01"), Gender: ptr(customer.GenderFEMALE), Notes: ptr("likes oolong"),
		Tags: []string{"VIP"}, MemberCode: ptr("CARD-1"),
		Consent: customers.Consent{Push: ptr(true), SMS: ptr(true), Email: ptr(true)},
	})
	require.NoError(t, err)
	e.visit(t, c.ID, e.store2, 1500, t0)
	e.visit(t, c.ID, e.store2, 500, t0.Add(time.Hour))

	erased, err := e.svc.Erase(as(t, e.manager), c.ID)
	require.NoError(t, err)
	require.Equal(t, customer.StatusERASED, erased.Status)

	r := e.reload(t, c.ID)
	require.Equal(t, customer.StatusERASED, r.Status)
	require.NotContains(t, r.Name, "Mei")
	require.Empty(t, r.SearchText)
	require.Nil(t, r.PhoneEnc)
	require.Nil(t, r.PhoneIndex)
	require.Nil(t, r.EmailEnc)
	require.Nil(t, r.EmailIndex)
	require.Nil(t, r.AddressEnc)
	require.Nil(t, r.Birthday)
	require.Nil(t, r.Gender)
	require.Empty(t, r.Notes)
	require.Empty(t, r.Tags)
	require.NotEqual(t, "CARD-1", r.MemberCode, "the card no longer identifies anyone")
	require.False(t, r.PushConsent || r.SmsConsent || r.EmailConsent)
	require.Nil(t, r.PushConsentAt)
	require.Nil(t, r.SmsConsentAt)
	require.Nil(t, r.EmailConsentAt)
	n, err := e.client.Customer.QueryCreatedBy(r).Count(sys(t))
	require.NoError(t, err)
	require.Zero(t, n, "who registered them goes too")

	// The anonymous record keeps the books.
	require.Equal(t, 2, r.VisitsCount)
	require.Equal(t, int64(2000), r.TotalSpent)
	requireTime(t, t0, r.FirstVisitAt)
	requireTime(t, t0.Add(time.Hour), r.LastVisitAt)
	require.Equal(t, map[pulid.ID]int{e.store2: 2}, e.storeVisits(t, c.ID))
	require.Equal(t, e.store2, e.favourite(t, c.ID))

	// Never found again, by anything it was known by.
	for name, key := range map[string]customers.LookupKey{
		"phone": {Phone: ptr(meiPhone)}, "email": {Email: ptr(meiEmail)},
		"old card": {MemberCode: ptr("CARD-1")}, "new card": {MemberCode: ptr(r.MemberCode)},
	} {
		found, err := e.svc.Lookup(ctx, key)
		require.NoError(t, err, name)
		require.Nil(t, found, name)
	}
	conn, err := e.svc.Search(ctx, "mei", nil, nil)
	require.NoError(t, err)
	require.Empty(t, conn.Edges)
	contact, err := e.svc.Reveal(as(t, e.owner), c.ID)
	require.NoError(t, err)
	require.Equal(t, customers.Contact{}, contact)

	// The phone, email and card are free for a new registration.
	_, err = e.svc.Create(ctx, nil, customers.Profile{Name: ptr("New Mei"), Phone: ptr(meiPhone), Email: ptr(meiEmail), MemberCode: ptr("CARD-1")})
	require.NoError(t, err)

	// Erasing again is a no-op; an erased customer cannot change.
	again, err := e.svc.Erase(as(t, e.owner), c.ID)
	require.NoError(t, err)
	require.Equal(t, customer.StatusERASED, again.Status)
	require.Equal(t, 1, e.audited(t, "customer.erased", c.ID))
	_, err = e.svc.Update(ctx, c.ID, customers.Profile{Name: ptr("Back")})
	requireField(t, err, errs.BadUserInput, "customerId")
	_, err = e.svc.Archive(as(t, e.owner), c.ID)
	requireField(t, err, errs.BadUserInput, "customerId")
	_, err = e.svc.Erase(as(t, e.owner), pulid.New("cus"))
	requireCode(t, err, errs.NotFound)
}

// TestEraseReachesMergedDuplicates: a customer's personal data held in a
// duplicate merged into them is theirs too, and goes with an erasure.
func TestEraseReachesMergedDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.cashier)
	survivor := e.create(t, ctx, customers.Profile{Name: ptr("Mei Lin"), Phone: ptr(meiPhone)})
	dup := e.create(t, ctx, customers.Profile{
		Name: ptr("Mei L. (old card)"), Email: ptr(meiEmail), Birthday: ptr("1990-05-01"), Gender: ptr(customer.GenderFEMALE),
		Notes: ptr("allergic to jasmine"), Tags: []string{"VIP"}, MemberCode: ptr("OLD-CARD"),
		Consent: customers.Consent{Push: ptr(true)},
	})
	_, err := e.svc.Merge(as(t, e.owner), survivor.ID, dup.ID)
	require.NoError(t, err)
	_, err = e.svc.Erase(as(t, e.owner), survivor.ID)
	require.NoError(t, err)

	d := e.reload(t, dup.ID)
	require.Nil(t, d.PhoneEnc)
	require.Nil(t, d.EmailEnc)
	require.Nil(t, d.AddressEnc)
	leftovers := map[string]any{}
	if d.Name == "Mei L. (old card)" {
		leftovers["name"] = d.Name
	}
	if d.Birthday != nil {
		leftovers["birthday"] = *d.Birthday
	}
	if d.Gender != nil {
		leftovers["gender"] = *d.Gender
	}
	if d.Notes != "" {
		leftovers["notes"] = d.Notes
	}
	if len(d.Tags) > 0 {
		leftovers["tags"] = d.Tags
	}
	if d.MemberCode == "OLD-CARD" {
		leftovers["memberCode"] = d.MemberCode
	}
	if d.PushConsentAt != nil {
		leftovers["pushConsentAt"] = *d.PushConsentAt
	}
	require.Empty(t, leftovers, "the erased customer's merged duplicate %s still holds their personal data", dup.ID)
}
