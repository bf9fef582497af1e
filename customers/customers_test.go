package customers_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // store time zones resolve on hosts without zoneinfo

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/auditentry"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/schema/pulid"
	entstaff "github.com/tillpos/till/ent/staff"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/keyring"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/pii"
)

// t0 is when the tests' clock starts.
var t0 = time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)

// clock is a settable time source for the service.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// shop is a merchant with an owner, a manager, a cashier and two stores,
// store1 registered before store2.
type shop struct {
	merchantID              pulid.ID
	owner, manager, cashier *ent.Staff
	store1, store2          pulid.ID
}

// env is a customers.Service on a database of the test's own, with a
// merchant in China (locale zh-CN) and, on demand, a second merchant.
type env struct {
	client    *ent.Client
	keys      keyring.AEADKeys
	indexKey  []byte
	box       *pii.Box
	clock     *clock
	svc       *customers.Service
	merchants *merchants.Service
	shop
}

func newEnv(t *testing.T) *env {
	t.Helper()
	d := tilltest.OpenDB(t)
	k, err := keyring.Generate()
	require.NoError(t, err)
	box, err := pii.New(k.PII, k.BlindIndex)
	require.NoError(t, err)
	e := &env{
		client: d.Client, keys: k.PII, indexKey: k.BlindIndex, box: box, clock: &clock{now: t0},
		merchants: merchants.New(d.Client, password.NewHasher(bcrypt.MinCost)),
	}
	e.svc = e.service(box)
	e.shop = e.newShop(t, "zh-CN")
	return e
}

// service returns a Service on the env's database sealing with box and
// reading the env's clock.
func (e *env) service(box *pii.Box) *customers.Service {
	s := customers.New(e.client, box)
	customers.SetClockForTest(s, e.clock.Now)
	return s
}

// newShop signs up a merchant with locale and gives it staff and a second
// store.
func (e *env) newShop(t *testing.T, locale string) shop {
	t.Helper()
	owner, err := e.merchants.SignUp(t.Context(), merchants.SignUpInput{
		MerchantName: "Lotus Tea", OwnerName: "Li Wei", Email: tilltest.UniqueEmail("owner"),
		Password: "correct horse battery", Currency: "CNY", TimeZone: "Asia/Shanghai", Locale: locale,
	})
	require.NoError(t, err)
	s := shop{merchantID: owner.MerchantID, owner: owner}
	stores, err := owner.QueryStores().IDs(sys(t))
	require.NoError(t, err)
	require.Len(t, stores, 1)
	s.store1 = stores[0]
	st, err := e.merchants.CreateStore(as(t, owner), merchants.StoreInput{Name: ptr("Second Street"), TimeZone: ptr("Asia/Shanghai")})
	require.NoError(t, err)
	s.store2 = st.ID
	require.Less(t, string(s.store1), string(s.store2), "store ids sort by registration")
	for _, role := range []entstaff.Role{entstaff.RoleMANAGER, entstaff.RoleCASHIER} {
		m, err := e.client.Staff.Create().SetMerchantID(s.merchantID).SetName(string(role)).SetRole(role).Save(sys(t))
		require.NoError(t, err)
		if role == entstaff.RoleMANAGER {
			s.manager = m
		} else {
			s.cashier = m
		}
	}
	return s
}

// as is a request context of staff member m.
func as(t *testing.T, m *ent.Staff) context.Context {
	return viewer.NewContext(t.Context(), &viewer.Viewer{
		Kind: viewer.KindStaff, ID: m.ID, MerchantID: m.MerchantID, Role: viewer.Role(m.Role), SessionID: "sess-" + string(m.ID),
	})
}

func sys(t *testing.T) context.Context {
	return viewer.NewSystemContext(t.Context(), "customers-test")
}

func operator(t *testing.T) context.Context {
	return viewer.NewContext(t.Context(), &viewer.Viewer{Kind: viewer.KindOperator, ID: "opr_test", Role: viewer.RoleOperator})
}

func ptr[T any](v T) *T { return &v }

// create registers a customer as ctx's staff member, failing t on error.
func (e *env) create(t *testing.T, ctx context.Context, p customers.Profile) *ent.Customer {
	t.Helper()
	c, err := e.svc.Create(ctx, nil, p)
	require.NoError(t, err)
	return c
}

// reload reads a customer's row as it is in the database.
func (e *env) reload(t *testing.T, id pulid.ID) *ent.Customer {
	t.Helper()
	c, err := e.client.Customer.Get(sys(t), id)
	require.NoError(t, err)
	return c
}

func (e *env) count(t *testing.T) int {
	t.Helper()
	n, err := e.client.Customer.Query().Count(sys(t))
	require.NoError(t, err)
	return n
}

// audited counts the audit entries of action about customer id.
func (e *env) audited(t *testing.T, action string, id pulid.ID) int {
	t.Helper()
	n, err := e.client.AuditEntry.Query().
		Where(auditentry.Action(action), auditentry.TargetType("Customer"), auditentry.TargetID(string(id))).
		Count(sys(t))
	require.NoError(t, err)
	return n
}

// open decrypts a sealed field of customer id with box, as the service
// binds it.
func open(t *testing.T, box *pii.Box, sealed *string, id pulid.ID, field string) string {
	t.Helper()
	require.NotNil(t, sealed, "%s of %s is not set", field, id)
	plain, err := box.Open(*sealed, customers.SealContextForTest(id, field))
	require.NoError(t, err, "%s of %s", field, id)
	return plain
}

func requireCode(t *testing.T, err error, code errs.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, errs.CodeOf(err), "%v", err)
}

func requireField(t *testing.T, err error, code errs.Code, field string) {
	t.Helper()
	requireCode(t, err, code)
	e, _ := errs.As(err)
	require.Equal(t, field, e.Field, "%v", err)
}

func requireTime(t *testing.T, want time.Time, got *time.Time, msgAndArgs ...any) {
	t.Helper()
	require.NotNil(t, got, msgAndArgs...)
	require.True(t, want.Equal(*got), "want %s, got %s: %v", want, *got, msgAndArgs)
}

const (
	meiPhone = "+8613812345678"
	meiEmail = "mei.lin@lotus.example"
)

func TestCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Any staff member registers customers; a cashier here.
	c, err := e.svc.Create(as(t, e.cashier), &e.store1, customers.Profile{
		Name:     ptr("  Mei   Lin "),
		Phone:    ptr("138 1234 5678"),
		Email:    ptr(" Mei.Lin@Lotus.Example "),
		Address:  ptr("  1 Nanjing Road, Shanghai  "),
		Birthday: ptr("1990-05-01"),
		Gender:   ptr(customer.GenderFEMALE),
		Notes:    ptr("  likes oolong  "),
		Tags:     []string{" VIP ", "Tea Lover", "VIP", "", "  "},
		Consent:  customers.Consent{Push: ptr(true), SMS: ptr(false)},
	})
	require.NoError(t, err)

	require.Equal(t, "Mei   Lin", c.Name)
	require.Equal(t, " mei lin vip tea lover", c.SearchText)
	require.Equal(t, []string{"VIP", "Tea Lover"}, c.Tags)
	require.Equal(t, "likes oolong", c.Notes)
	require.Equal(t, "1990-05-01", *c.Birthday)
	require.Equal(t, customer.GenderFEMALE, *c.Gender)
	require.Equal(t, customer.StatusACTIVE, c.Status)
	require.Equal(t, e.merchantID, c.MerchantID)
	require.Regexp(t, regexp.MustCompile(`^[1-9][0-9]{9}$`), c.MemberCode, "a generated 10-digit card number")
	require.True(t, strings.HasPrefix(string(c.ID), "cus_"))
	require.Zero(t, c.VisitsCount)
	require.Zero(t, c.TotalSpent)
	require.Nil(t, c.FirstVisitAt)

	// Consent: each decision given is recorded with its time, a "no" too.
	require.True(t, c.PushConsent)
	requireTime(t, t0, c.PushConsentAt)
	require.False(t, c.SmsConsent)
	requireTime(t, t0, c.SmsConsentAt)
	require.False(t, c.EmailConsent)
	require.Nil(t, c.EmailConsentAt)

	store, err := c.QueryStore().OnlyID(sys(t))
	require.NoError(t, err)
	require.Equal(t, e.store1, store)
	by, err := c.QueryCreatedBy().OnlyID(sys(t))
	require.NoError(t, err)
	require.Equal(t, e.cashier.ID, by)

	// At rest: contact details only sealed, under the active key, bound to
	// this customer, with blind indexes of the normalised values.
	raw := e.reload(t, c.ID)
	require.Equal(t, e.box.ActiveKeyID(), raw.PiiKeyID)
	for field, sealed := range map[string]*string{"phone": raw.PhoneEnc, "email": raw.EmailEnc, "address": raw.AddressEnc} {
		require.NotNil(t, sealed, field)
		require.Equal(t, e.box.ActiveKeyID(), pii.KeyID(*sealed), field)
		require.NotContains(t, *sealed, "13812345678", field)
		require.NotContains(t, strings.ToLower(*sealed), "mei.lin", field)
		require.NotContains(t, *sealed, "Nanjing", field)
	}
	require.Equal(t, meiPhone, open(t, e.box, raw.PhoneEnc, c.ID, "phone"))
	require.Equal(t, meiEmail, open(t, e.box, raw.EmailEnc, c.ID, "email"))
	require.Equal(t, "1 Nanjing Road, Shanghai", open(t, e.box, raw.AddressEnc, c.ID, "address"))
	require.Equal(t, e.box.Index(string(e.merchantID), "phone", meiPhone), *raw.PhoneIndex)
	require.Equal(t, e.box.Index(string(e.merchantID), "email", meiEmail), *raw.EmailIndex)
	_, err = e.box.Open(*raw.PhoneEnc, customers.SealContextForTest(c.ID, "email"))
	require.Error(t, err, "a sealed field is bound to its field")

	require.Equal(t, 1, e.audited(t, "customer.created", c.ID))
}

func TestCreateMinimal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.create(t, as(t, e.owner), customers.Profile{Name: ptr("Bo")})
	b := e.create(t, as(t, e.owner), customers.Profile{Name: ptr("Bo"), MemberCode: ptr("   ")})
	require.NotEqual(t, a.MemberCode, b.MemberCode, "generated card numbers differ")
	require.Regexp(t, `^[1-9][0-9]{9}$`, b.MemberCode, "a blank member code is generated")
	for _, c := range []*ent.Customer{a, b} {
		raw := e.reload(t, c.ID)
		require.Nil(t, raw.PhoneEnc)
		require.Nil(t, raw.PhoneIndex)
		require.Nil(t, raw.EmailEnc)
		require.Nil(t, raw.EmailIndex)
		require.Nil(t, raw.AddressEnc)
		require.Empty(t, raw.PiiKeyID, "nothing sealed, no key")
		require.Empty(t, raw.Tags)
		require.Equal(t, " bo", raw.SearchText)
		require.Nil(t, raw.PushConsentAt)
		require.Nil(t, raw.SmsConsentAt)
		require.Nil(t, raw.EmailConsentAt)
	}
	c := e.create(t, as(t, e.owner), customers.Profile{Name: ptr("Card"), MemberCode: ptr("  VIP-0001 ")})
	require.Equal(t, "VIP-0001", c.MemberCode)
}

func TestCreateRefusesBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := e.newShop(t, "zh-CN")
	tests := []struct {
		name  string
		store *pulid.ID
		p     customers.Profile
		code  errs.Code
		field string
	}{
		{name: "no name", p: customers.Profile{Phone: ptr(meiPhone)}, field: "name"},
		{name: "blank name", p: customers.Profile{Name: ptr("   ")}, field: "name"},
		{name: "name too long", p: customers.Profile{Name: ptr(strings.Repeat("名", 201))}, field: "name"},
		{name: "invalid phone", p: customers.Profile{Name: ptr("X"), Phone: ptr("12345")}, field: "phone"},
		{name: "phone with letters", p: customers.Profile{Name: ptr("X"), Phone: ptr("call me")}, field: "phone"},
		{name: "invalid email", p: customers.Profile{Name: ptr("X"), Email: ptr("mei@lotus")}, field: "email"},
		{name: "email with a display name", p: customers.Profile{Name: ptr("X"), Email: ptr("Mei <mei@lotus.example>")}, field: "email"},
		{name: "address too long", p: customers.Profile{Name: ptr("X"), Address: ptr(strings.Repeat("路", 501))}, field: "address"},
		{name: "birthday in the future", p: customers.Profile{Name: ptr("X"), Birthday: ptr("2030-01-01")}, field: "birthday"},
		{name: "birthday not a date", p: customers.Profile{Name: ptr("X"), Birthday: ptr("01/05/1990")}, field: "birthday"},
		{name: "birthday impossible", p: customers.Profile{Name: ptr("X"), Birthday: ptr("1990-02-30")}, field: "birthday"},
		{name: "notes too long", p: customers.Profile{Name: ptr("X"), Notes: ptr(strings.Repeat("n", 2001))}, field: "notes"},
		{name: "member code with a space", p: customers.Profile{Name: ptr("X"), MemberCode: ptr("VIP 1")}, field: "memberCode"},
		{name: "member code too long", p: customers.Profile{Name: ptr("X"), MemberCode: ptr(strings.Repeat("1", 33))}, field: "memberCode"},
		{name: "tag too long", p: customers.Profile{Name: ptr("X"), Tags: []string{strings.Repeat("t", 41)}}, field: "tags"},
		{name: "too many tags", p: customers.Profile{Name: ptr("X"), Tags: manyTags(51)}, field: "tags"},
		{name: "unknown store", store: ptr(pulid.New("sto")), p: customers.Profile{Name: ptr("X")}, code: errs.NotFound, field: "storeId"},
		{name: "another merchant's store", store: &other.store1, p: customers.Profile{Name: ptr("X")}, code: errs.NotFound, field: "storeId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := tt.code
			if code == "" {
				code = errs.BadUserInput
			}
			c, err := e.svc.Create(as(t, e.owner), tt.store, tt.p)
			requireField(t, err, code, tt.field)
			require.Nil(t, c)
		})
	}
	require.Zero(t, e.count(t), "a refused create stores nothing")

	// The limits themselves are allowed, and counted in characters.
	c := e.create(t, as(t, e.owner), customers.Profile{
		Name: ptr(strings.Repeat("名", 200)), Address: ptr(strings.Repeat("路", 500)), Notes: ptr(strings.Repeat("注", 2000)),
		MemberCode: ptr(strings.Repeat("1", 32)), Tags: append(manyTags(49), strings.Repeat("标", 40)),
	})
	require.Len(t, c.Tags, 50)
}

func manyTags(n int) []string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = "tag" + strconv.Itoa(i)
	}
	return tags
}

func TestOnlyStaffManageCustomers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(t, as(t, e.owner), customers.Profile{Name: ptr("Mei"), Phone: ptr(meiPhone)})
	for name, ctx := range map[string]context.Context{"no viewer": t.Context(), "system": sys(t), "operator": operator(t)} {
		t.Run(name, func(t *testing.T) {
			_, err := e.svc.Create(ctx, nil, customers.Profile{Name: ptr("X")})
			requireCode(t, err, errs.Forbidden)
			_, err = e.svc.Update(ctx, c.ID, customers.Profile{Name: ptr("X")})
			requireCode(t, err, errs.Forbidden)
			_, err = e.svc.Archive(ctx, c.ID)
			requireCode(t, err, errs.Forbidden)
			_, err = e.svc.Lookup(ctx, customers.LookupKey{Phone: ptr(meiPhone)})
			requireCode(t, err, errs.Forbidden)
			_, err = e.svc.Search(ctx, "mei", nil, nil)
			requireCode(t, err, errs.Forbidden)
			_, err = e.svc.Reveal(ctx, c.ID)
			requireCode(t, err, errs.Forbidden)
			_, err = e.svc.Merge(ctx, c.ID, c.ID)
			requireCode(t, err, errs.Forbidden)
			_, err = e.svc.Export(ctx, c.ID)
			requireCode(t, err, errs.Forbidden)
			_, err = e.svc.Erase(ctx, c.ID)
			requireCode(t, err, errs.Forbidden)
		})
	}
	got := e.reload(t, c.ID)
	require.Equal(t, "Mei", got.Name)
	require.Equal(t, customer.StatusACTIVE, got.Status)
	require.Equal(t, 1, e.count(t))
}

func TestDuplicatesConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.cashier)
	first := e.create(t, ctx, customers.Profile{Name: ptr("Mei"), Phone: ptr("13812345678"), Email: ptr(meiEmail), MemberCode: ptr("CARD-1")})
	second := e.create(t, ctx, customers.Profile{Name: ptr("Bo"), Phone: ptr("13900001111"), Email: ptr("bo@lotus.example"), MemberCode: ptr("CARD-2")})

	tests := []struct {
		name  string
		p     customers.Profile
		field string
	}{
		// The same phone written another way is the same phone.
		{"phone", customers.Profile{Phone: ptr("+86 138-1234-5678")}, "phone"},
		{"email in capitals", customers.Profile{Email: ptr(" MEI.LIN@Lotus.Example")}, "email"},
		{"member code", customers.Profile{MemberCode: ptr(" CARD-1 ")}, "memberCode"},
	}
	for _, tt := range tests {
		t.Run("create "+tt.name, func(t *testing.T) {
			p := tt.p
			p.Name = ptr("Copy")
			c, err := e.svc.Create(ctx, nil, p)
			requireField(t, err, errs.Conflict, tt.field)
			require.Nil(t, c)
		})
		t.Run("update "+tt.name, func(t *testing.T) {
			before := e.reload(t, second.ID)
			c, err := e.svc.Update(ctx, second.ID, tt.p)
			requireField(t, err, errs.Conflict, tt.field)
			require.Nil(t, c)
			after := e.reload(t, second.ID)
			require.Equal(t, before.PhoneIndex, after.PhoneIndex)
			require.Equal(t, before.EmailIndex, after.EmailIndex)
			require.Equal(t, before.MemberCode, after.MemberCode)
		})
	}
	require.Equal(t, 2, e.count(t))
	require.Zero(t, e.audited(t, "customer.updated", second.ID), "a refused update is not audited")

	// A customer keeps their own phone, email and card however written.
	_, err := e.svc.Update(ctx, first.ID, customers.Profile{Phone: ptr("+86 138 1234 5678"), Email: ptr("MEI.LIN@lotus.example"), MemberCode: ptr("CARD-1")})
	require.NoError(t, err)

	// Another merchant's customers are no conflict: its indexes are its own.
	other := e.newShop(t, "zh-CN")
	theirs, err := e.svc.Create(as(t, other.cashier), nil, customers.Profile{
		Name: ptr("Mei elsewhere"), Phone: ptr("13812345678"), Email: ptr(meiEmail), MemberCode: ptr("CARD-1"),
	})
	require.NoError(t, err)
	require.NotEqual(t, *e.reload(t, first.ID).PhoneIndex, *theirs.PhoneIndex)
	require.NotEqual(t, *e.reload(t, first.ID).EmailIndex, *theirs.EmailIndex)
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.cashier)
	c, err := e.svc.Create(ctx, &e.store1, customers.Profile{
		Name: ptr("Mei Lin"), Phone: ptr(meiPhone), Email: ptr(meiEmail), Address: ptr("1 Nanjing Road"),
		Birthday: ptr("1990-05-01"), Gender: ptr(customer.GenderFEMALE), Notes: ptr("likes oolong"),
		Tags: []string{"VIP", "Tea Lover"}, MemberCode: ptr("CARD-1"),
	})
	require.NoError(t, err)
	created := e.reload(t, c.ID)

	steps := []struct {
		name  string
		p     customers.Profile
		check func(t *testing.T, before, after *ent.Customer)
	}{
		{
			name: "nothing given changes nothing",
			p:    customers.Profile{},
			check: func(t *testing.T, before, after *ent.Customer) {
				require.Equal(t, before.Name, after.Name)
				require.Equal(t, before.SearchText, after.SearchText)
				require.Equal(t, before.Tags, after.Tags)
				require.Equal(t, before.PhoneEnc, after.PhoneEnc, "not resealed under the same key")
				require.Equal(t, before.EmailEnc, after.EmailEnc)
				require.Equal(t, before.AddressEnc, after.AddressEnc)
				require.Equal(t, before.Birthday, after.Birthday)
				require.Equal(t, before.Gender, after.Gender)
				require.Equal(t, before.Notes, after.Notes)
				require.Equal(t, before.MemberCode, after.MemberCode)
			},
		},
		{
			name: "a new name keeps the tags searchable",
			p:    customers.Profile{Name: ptr("  Mei  Chen ")},
			check: func(t *testing.T, before, after *ent.Customer) {
				require.Equal(t, "Mei  Chen", after.Name)
				require.Equal(t, " mei chen vip tea lover", after.SearchText)
				require.Equal(t, before.Tags, after.Tags)
				require.Equal(t, before.PhoneEnc, after.PhoneEnc)
			},
		},
		{
			name: "new tags replace the old and keep the name searchable",
			p:    customers.Profile{Tags: []string{"Regular", " regular ", "Regular"}},
			check: func(t *testing.T, _, after *ent.Customer) {
				require.Equal(t, []string{"Regular", "regular"}, after.Tags)
				require.Equal(t, " mei chen regular regular", after.SearchText)
			},
		},
		{
			name: "an empty tag list clears the tags",
			p:    customers.Profile{Tags: []string{}},
			check: func(t *testing.T, _, after *ent.Customer) {
				require.Empty(t, after.Tags)
				require.Equal(t, " mei chen", after.SearchText)
			},
		},
		{
			name: "a new phone is normalised, sealed and indexed",
			p:    customers.Profile{Phone: ptr("139-0000-1111")},
			check: func(t *testing.T, before, after *ent.Customer) {
				require.Equal(t, "+8613900001111", open(t, e.box, after.PhoneEnc, c.ID, "phone"))
				require.Equal(t, e.box.Index(string(e.merchantID), "phone", "+8613900001111"), *after.PhoneIndex)
				require.Equal(t, before.EmailEnc, after.EmailEnc)
			},
		},
		{
			name: "a new email is normalised, sealed and indexed",
			p:    customers.Profile{Email: ptr(" Mei.Chen@Lotus.Example ")},
			check: func(t *testing.T, _, after *ent.Customer) {
				require.Equal(t, "mei.chen@lotus.example", open(t, e.box, after.EmailEnc, c.ID, "email"))
				require.Equal(t, e.box.Index(string(e.merchantID), "email", "mei.chen@lotus.example"), *after.EmailIndex)
			},
		},
		{
			name: "empty strings clear",
			p: customers.Profile{
				Phone: ptr(""), Email: ptr("  "), Address: ptr(""), Birthday: ptr(" "), Notes: ptr("  "), ClearGender: true,
			},
			check: func(t *testing.T, before, after *ent.Customer) {
				require.Nil(t, after.PhoneEnc)
				require.Nil(t, after.PhoneIndex)
				require.Nil(t, after.EmailEnc)
				require.Nil(t, after.EmailIndex)
				require.Nil(t, after.AddressEnc)
				require.Nil(t, after.Birthday)
				require.Nil(t, after.Gender)
				require.Empty(t, after.Notes)
				require.Equal(t, before.Name, after.Name)
				require.Equal(t, before.MemberCode, after.MemberCode)
			},
		},
		{
			name: "fields set again",
			p: customers.Profile{
				Address: ptr(" 2 Huaihai Road "), Birthday: ptr("1985-12-31"), Gender: ptr(customer.GenderOTHER),
				Notes: ptr(" prefers green tea "), MemberCode: ptr(" CARD-9 "),
			},
			check: func(t *testing.T, _, after *ent.Customer) {
				require.Equal(t, "2 Huaihai Road", open(t, e.box, after.AddressEnc, c.ID, "address"))
				require.Equal(t, "1985-12-31", *after.Birthday)
				require.Equal(t, customer.GenderOTHER, *after.Gender)
				require.Equal(t, "prefers green tea", after.Notes)
				require.Equal(t, "CARD-9", after.MemberCode)
			},
		},
		{
			name: "clearing the gender wins over setting it",
			p:    customers.Profile{Gender: ptr(customer.GenderMALE), ClearGender: true},
			check: func(t *testing.T, _, after *ent.Customer) {
				require.Nil(t, after.Gender)
			},
		},
	}
	before := created
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got, err := e.svc.Update(ctx, c.ID, st.p)
			require.NoError(t, err)
			after := e.reload(t, c.ID)
			require.Equal(t, after.Name, got.Name)
			require.Equal(t, after.PhoneIndex, got.PhoneIndex)
			st.check(t, before, after)
			before = after
		})
	}
	require.Equal(t, len(steps), e.audited(t, "customer.updated", c.ID))
	// The old phone and email no longer find anyone.
	found, err := e.svc.Lookup(ctx, customers.LookupKey{Phone: ptr(meiPhone)})
	require.NoError(t, err)
	require.Nil(t, found)

	t.Run("refused input changes nothing", func(t *testing.T) {
		before := e.reload(t, c.ID)
		for field, p := range map[string]customers.Profile{
			"name":       {Name: ptr(""), Notes: ptr("changed")},
			"phone":      {Phone: ptr("123"), Notes: ptr("changed")},
			"email":      {Email: ptr("nope"), Notes: ptr("changed")},
			"birthday":   {Birthday: ptr("2999-01-01"), Notes: ptr("changed")},
			"memberCode": {MemberCode: ptr("a b"), Notes: ptr("changed")},
			"tags":       {Tags: []string{strings.Repeat("t", 41)}, Notes: ptr("changed")},
		} {
			_, err := e.svc.Update(ctx, c.ID, p)
			requireField(t, err, errs.BadUserInput, field)
		}
		after := e.reload(t, c.ID)
		require.Equal(t, before.Notes, after.Notes)
		require.Equal(t, before.UpdatedAt, after.UpdatedAt)
	})

	t.Run("unknown or another merchant's customer", func(t *testing.T) {
		_, err := e.svc.Update(ctx, pulid.New("cus"), customers.Profile{Name: ptr("X")})
		requireCode(t, err, errs.NotFound)
		other := e.newShop(t, "zh-CN")
		theirs := e.create(t, as(t, other.owner), customers.Profile{Name: ptr("Theirs")})
		_, err = e.svc.Update(ctx, theirs.ID, customers.Profile{Name: ptr("Mine now")})
		requireCode(t, err, errs.NotFound)
		require.Equal(t, "Theirs", e.reload(t, theirs.ID).Name)
	})
}

func TestConsentTimestamps(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.cashier)
	t1, t2, t3 := t0.Add(time.Hour), t0.Add(2*time.Hour), t0.Add(3*time.Hour)

	c := e.create(t, ctx, customers.Profile{Name: ptr("Mei"), Consent: customers.Consent{Push: ptr(true), SMS: ptr(false)}})
	type want struct {
		push, sms, email       bool
		pushAt, smsAt, emailAt *time.Time
	}
	check := func(t *testing.T, w want) {
		t.Helper()
		got := e.reload(t, c.ID)
		require.Equal(t, w.push, got.PushConsent, "push")
		require.Equal(t, w.sms, got.SmsConsent, "sms")
		require.Equal(t, w.email, got.EmailConsent, "email")
		for name, at := range map[string][2]*time.Time{"push": {w.pushAt, got.PushConsentAt}, "sms": {w.smsAt, got.SmsConsentAt}, "email": {w.emailAt, got.EmailConsentAt}} {
			if at[0] == nil {
				require.Nil(t, at[1], "%s consent at", name)
			} else {
				requireTime(t, *at[0], at[1], "%s consent at", name)
			}
		}
	}
	check(t, want{push: true, pushAt: &t0, smsAt: &t0})

	steps := []struct {
		name    string
		at      time.Time
		consent customers.Consent
		want    want
	}{
		{"the same decisions again keep their times", t1,
			customers.Consent{Push: ptr(true), SMS: ptr(false)},
			want{push: true, pushAt: &t0, smsAt: &t0}},
		{"no consent given changes nothing", t1,
			customers.Consent{},
			want{push: true, pushAt: &t0, smsAt: &t0}},
		{"a changed decision takes the new time, only on its channel", t2,
			customers.Consent{Push: ptr(true), SMS: ptr(true)},
			want{push: true, sms: true, pushAt: &t0, smsAt: &t2}},
		{"withdrawing consent is a change", t3,
			customers.Consent{Push: ptr(false)},
			want{sms: true, pushAt: &t3, smsAt: &t2}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			e.clock.Set(st.at)
			_, err := e.svc.Update(ctx, c.ID, customers.Profile{Consent: st.consent})
			require.NoError(t, err)
			check(t, st.want)
		})
	}

	// A first decision is recorded with its time even when it is the
	// default "no", as it is on create (see TestCreate).
	t.Run("a first decision on update is recorded", func(t *testing.T) {
		t4 := t0.Add(4 * time.Hour)
		e.clock.Set(t4)
		_, err := e.svc.Update(ctx, c.ID, customers.Profile{Consent: customers.Consent{Email: ptr(false)}})
		require.NoError(t, err)
		check(t, want{sms: true, pushAt: &t3, smsAt: &t2, emailAt: &t4})
	})
}

func TestArchive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(t, as(t, e.cashier), customers.Profile{Name: ptr("Mei Lin"), Phone: ptr(meiPhone)})
	got, err := e.svc.Archive(as(t, e.manager), c.ID)
	require.NoError(t, err)
	require.Equal(t, customer.StatusARCHIVED, got.Status)
	require.Equal(t, 1, e.audited(t, "customer.archived", c.ID))

	// Hidden from search, still recognised at the counter, still editable.
	conn, err := e.svc.Search(as(t, e.cashier), "mei", nil, nil)
	require.NoError(t, err)
	require.Empty(t, conn.Edges)
	found, err := e.svc.Lookup(as(t, e.cashier), customers.LookupKey{Phone: ptr(meiPhone)})
	require.NoError(t, err)
	require.NotNil(t, found)
	require.Equal(t, c.ID, found.ID)
	_, err = e.svc.Update(as(t, e.cashier), c.ID, customers.Profile{Notes: ptr("archived but edited")})
	require.NoError(t, err)

	_, err = e.svc.Archive(as(t, e.owner), c.ID)
	requireField(t, err, errs.BadUserInput, "customerId")
	_, err = e.svc.Archive(as(t, e.owner), pulid.New("cus"))
	requireCode(t, err, errs.NotFound)
}
