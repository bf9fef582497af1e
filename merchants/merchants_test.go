package merchants_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	_ "time/tzdata" // time zones resolve on hosts without zoneinfo, as in cmd/till

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/auditentry"
	"github.com/tillpos/till/ent/merchant"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/staff"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/merchants"
)

const testPassword = "correct horse battery"

// env is a merchants.Service on a database of the test's own.
type env struct {
	svc    *merchants.Service
	client *ent.Client
	hasher *password.Hasher
}

func newEnv(t *testing.T) *env {
	t.Helper()
	d := tilltest.OpenDB(t)
	h := password.NewHasher(bcrypt.MinCost)
	return &env{svc: merchants.New(d.Client, h), client: d.Client, hasher: h}
}

// sys reads everything, as a system job does.
func sys(t *testing.T) context.Context {
	return viewer.NewSystemContext(t.Context(), "merchants-test")
}

func staffCtx(t *testing.T, m *ent.Staff) context.Context {
	return viewer.NewContext(t.Context(), &viewer.Viewer{
		Kind: viewer.KindStaff, ID: m.ID, MerchantID: m.MerchantID, Role: viewer.Role(m.Role), SessionID: "s1",
	})
}

func operatorCtx(t *testing.T) context.Context {
	return viewer.NewContext(t.Context(), &viewer.Viewer{Kind: viewer.KindOperator, ID: "opr_test", Role: viewer.RoleOperator})
}

func signUpInput() merchants.SignUpInput {
	return merchants.SignUpInput{
		MerchantName: "Lotus Tea",
		OwnerName:    "Li Wei",
		Email:        tilltest.UniqueEmail("owner"),
		Password:     testPassword,
		Currency:     "CNY",
		TimeZone:     "Asia/Shanghai",
	}
}

func (e *env) signUp(t *testing.T, change func(*merchants.SignUpInput)) *ent.Staff {
	t.Helper()
	in := signUpInput()
	if change != nil {
		change(&in)
	}
	owner, err := e.svc.SignUp(t.Context(), in)
	require.NoError(t, err)
	return owner
}

func (e *env) countMerchants(t *testing.T) int {
	t.Helper()
	n, err := e.client.Merchant.Query().Count(sys(t))
	require.NoError(t, err)
	return n
}

// requireInvalid asserts err is BAD_USER_INPUT naming field.
func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	e, ok := errs.As(err)
	require.True(t, ok, "want an *errs.Error, got %v", err)
	require.Equal(t, errs.BadUserInput, e.Code, "%v", err)
	require.Equal(t, field, e.Field, "%v", err)
	require.NotEmpty(t, e.Message)
}

func requireCode(t *testing.T, err error, code errs.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, errs.CodeOf(err), "%v", err)
}

func TestValidateCurrency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "USD", want: "USD"},
		{in: "usd", want: "USD"},
		{in: "cny", want: "CNY"},
		{in: " EUR ", want: "EUR"},
		{in: "JPY", want: "JPY"},
		{in: "", wantErr: true},
		{in: "US", wantErr: true},
		{in: "USDD", wantErr: true},
		{in: "ABC", wantErr: true},
		{in: "$", wantErr: true},
		{in: "dollar", wantErr: true},
		{in: "人民币", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := merchants.ValidateCurrency(tt.in)
			if tt.wantErr {
				requireInvalid(t, err, "currency")
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestValidateTimeZone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tz string
		ok bool
	}{
		{tz: "Asia/Shanghai", ok: true},
		{tz: "America/New_York", ok: true},
		{tz: "Europe/London", ok: true},
		{tz: "UTC", ok: true},
		{tz: "Etc/GMT+8", ok: true},
		{tz: ""},
		// The server's own zone is not a name a store can keep.
		{tz: "Local"},
		{tz: "Mars/Olympus"},
		{tz: "+08:00"},
		{tz: "GMT+8"},
		{tz: "Asia/Shanghai "},
		{tz: "../../etc/passwd"},
		{tz: "/etc/localtime"},
	}
	for _, tt := range tests {
		t.Run(tt.tz, func(t *testing.T) {
			t.Parallel()
			err := merchants.ValidateTimeZone("timeZone", tt.tz)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			requireInvalid(t, err, "timeZone")
		})
	}
	requireInvalid(t, merchants.ValidateTimeZone("input.tz", "Nowhere/Special"), "input.tz")
}

func TestValidateLocale(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "en", want: "en"},
		{in: "zh-CN", want: "zh-CN"},
		{in: "zh-cn", want: "zh-CN"},
		{in: "zh_CN", want: "zh-CN"},
		{in: "EN-us", want: "en-US"},
		{in: " fr ", want: "fr"},
		{in: "zh-Hans-CN", want: "zh-Hans-CN"},
		{in: "", wantErr: true},
		{in: "english", wantErr: true},
		{in: "en-", wantErr: true},
		{in: "123", wantErr: true},
		{in: "xx", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := merchants.ValidateLocale(tt.in)
			if tt.wantErr {
				requireInvalid(t, err, "locale")
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestValidateEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		email string
		ok    bool
	}{
		{email: "li@lotus.example", ok: true},
		{email: "first.last+till@shop.co.uk", ok: true},
		{email: "a@b.c", ok: true},
		{email: strings.Repeat("a", 240) + "@lotus.example", ok: true}, // 254
		{email: ""},
		{email: "li"},
		{email: "@lotus.example"},
		{email: "li@localhost"},
		{email: "li lotus@tea.example"},
		{email: "li@lotus.example "},
		{email: "li\t@lotus.example"},
		{email: "li@lotus.example\n"},
		{email: strings.Repeat("a", 241) + "@lotus.example"}, // 255
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			t.Parallel()
			err := merchants.ValidateEmail("email", tt.email)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			requireInvalid(t, err, "email")
		})
	}
}

func TestSignUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := signUpInput()
	email := in.Email
	in.MerchantName = "  Lotus Tea  "
	in.OwnerName = " Li Wei "
	in.Email = "  " + strings.ToUpper(email) + " "
	in.Currency = "cny"
	in.Locale = "zh-cn"
	in.StoreName = "Nanjing Road"
	before := e.countMerchants(t)

	owner, err := e.svc.SignUp(t.Context(), in)
	require.NoError(t, err)
	require.Equal(t, before+1, e.countMerchants(t))

	require.Equal(t, staff.RoleOWNER, owner.Role)
	require.Equal(t, "Li Wei", owner.Name)
	require.NotNil(t, owner.Email)
	require.Equal(t, email, *owner.Email, "emails are stored trimmed and lower-cased")
	require.True(t, owner.Active)
	require.NotNil(t, owner.PasswordChangedAt)
	require.True(t, e.hasher.Verify(owner.PasswordHash, testPassword), "the password is stored as a hash")
	require.NotContains(t, owner.PasswordHash, testPassword)

	ctx := staffCtx(t, owner)
	m, err := e.client.Merchant.Get(ctx, owner.MerchantID)
	require.NoError(t, err)
	require.Equal(t, "Lotus Tea", m.Name)
	require.Equal(t, "CNY", m.Currency)
	require.Equal(t, "zh-CN", m.Locale)
	require.Equal(t, merchant.StatusACTIVE, m.Status)

	// The owner works at the first store; the entity is usable after the
	// sign-up transaction.
	stores, err := owner.QueryStores().All(ctx)
	require.NoError(t, err)
	require.Len(t, stores, 1)
	require.Equal(t, "Nanjing Road", stores[0].Name)
	require.Equal(t, "Asia/Shanghai", stores[0].TimeZone)
	require.Equal(t, m.ID, stores[0].MerchantID)

	entries, err := e.client.AuditEntry.Query().Where(auditentry.MerchantID(m.ID)).All(sys(t))
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, "merchant.signed_up", entries[0].Action)
	require.Equal(t, auditentry.ActorKindSYSTEM, entries[0].ActorKind)
	require.Equal(t, string(m.ID), entries[0].TargetID)
	require.Equal(t, string(owner.ID), entries[0].Details["owner"])
	require.Equal(t, string(stores[0].ID), entries[0].Details["store"])
}

func TestSignUpDefaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.signUp(t, func(in *merchants.SignUpInput) { in.Locale, in.StoreName = "", "" })
	ctx := staffCtx(t, owner)
	m, err := e.client.Merchant.Get(ctx, owner.MerchantID)
	require.NoError(t, err)
	require.Equal(t, "en", m.Locale, "the locale defaults to en")
	stores, err := owner.QueryStores().All(ctx)
	require.NoError(t, err)
	require.Len(t, stores, 1)
	require.Equal(t, "Lotus Tea", stores[0].Name, "the first store takes the merchant's name")
}

// Names are trimmed like every other name; the first store's name, given
// or taken from the merchant's, must be too.
func TestSignUpTrimsStoreName(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		name         string
		merchantName string
		storeName    string
		want         string
	}{
		{name: "given", merchantName: "Lotus Tea", storeName: "  Nanjing Road  ", want: "Nanjing Road"},
		{name: "from the merchant's", merchantName: "  Lotus Tea  ", storeName: "", want: "Lotus Tea"},
		{name: "blank, from the merchant's", merchantName: "Lotus Tea", storeName: "   ", want: "Lotus Tea"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			owner := e.signUp(t, func(in *merchants.SignUpInput) { in.MerchantName, in.StoreName = tc.merchantName, tc.storeName })
			stores, err := owner.QueryStores().All(staffCtx(t, owner))
			require.NoError(t, err)
			require.Len(t, stores, 1)
			require.Equal(t, tc.want, stores[0].Name)
		})
	}
}

func TestSignUpRefusesBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name   string
		change func(*merchants.SignUpInput)
		field  string
	}{
		{name: "no merchant name", change: func(in *merchants.SignUpInput) { in.MerchantName = "" }, field: "merchantName"},
		{name: "blank merchant name", change: func(in *merchants.SignUpInput) { in.MerchantName = " \t " }, field: "merchantName"},
		{name: "merchant name of 201 characters", change: func(in *merchants.SignUpInput) { in.MerchantName = strings.Repeat("m", 201) }, field: "merchantName"},
		{name: "no owner name", change: func(in *merchants.SignUpInput) { in.OwnerName = "  " }, field: "ownerName"},
		{name: "owner name of 201 characters", change: func(in *merchants.SignUpInput) { in.OwnerName = strings.Repeat("o", 201) }, field: "ownerName"},
		{name: "no email", change: func(in *merchants.SignUpInput) { in.Email = "" }, field: "email"},
		{name: "email without domain", change: func(in *merchants.SignUpInput) { in.Email = "li@lotus" }, field: "email"},
		{name: "short password", change: func(in *merchants.SignUpInput) { in.Password = "short1234" }, field: "password"},
		{name: "password is the email", change: func(in *merchants.SignUpInput) {
			in.Email = "li.wei@lotus.example"
			in.Password = "LI.WEI@LOTUS.EXAMPLE"
		}, field: "password"},
		{name: "password is the email's name part", change: func(in *merchants.SignUpInput) {
			in.Email = "li.wei.lotus@lotus.example"
			in.Password = "li.wei.lotus"
		}, field: "password"},
		{name: "password of one character", change: func(in *merchants.SignUpInput) { in.Password = strings.Repeat("z", 12) }, field: "password"},
		{name: "no currency", change: func(in *merchants.SignUpInput) { in.Currency = "" }, field: "currency"},
		{name: "unknown currency", change: func(in *merchants.SignUpInput) { in.Currency = "ABC" }, field: "currency"},
		{name: "no time zone", change: func(in *merchants.SignUpInput) { in.TimeZone = "" }, field: "timeZone"},
		{name: "Local time zone", change: func(in *merchants.SignUpInput) { in.TimeZone = "Local" }, field: "timeZone"},
		{name: "offset for a time zone", change: func(in *merchants.SignUpInput) { in.TimeZone = "+08:00" }, field: "timeZone"},
		{name: "bad locale", change: func(in *merchants.SignUpInput) { in.Locale = "chinese" }, field: "locale"},
		{name: "store name of 201 characters", change: func(in *merchants.SignUpInput) { in.StoreName = strings.Repeat("s", 201) }, field: "storeName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := signUpInput()
			tt.change(&in)
			owner, err := e.svc.SignUp(t.Context(), in)
			requireInvalid(t, err, tt.field)
			require.Nil(t, owner)
		})
	}
	require.Equal(t, 0, e.countMerchants(t), "nothing was written")
}

func TestSignUpNameLimitIsInCharacters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t.Run("200 ASCII characters", func(t *testing.T) {
		e.signUp(t, func(in *merchants.SignUpInput) {
			in.MerchantName = strings.Repeat("m", 200)
			in.OwnerName = strings.Repeat("o", 200)
		})
	})
	// The limit is documented in characters ("at most 200 characters"); a
	// Chinese tea house's name well inside it must be accepted, however
	// many bytes UTF-8 takes for it.
	t.Run("100 Chinese characters", func(t *testing.T) {
		in := signUpInput()
		in.MerchantName = strings.Repeat("茶", 100)
		in.OwnerName = "李伟"
		owner, err := e.svc.SignUp(t.Context(), in)
		require.NoError(t, err)
		m, err := e.client.Merchant.Get(staffCtx(t, owner), owner.MerchantID)
		require.NoError(t, err)
		require.Equal(t, in.MerchantName, m.Name)
	})
}

func TestSignUpRefusesATakenEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := e.signUp(t, nil)

	tests := []struct {
		name  string
		email string
	}{
		{name: "same email", email: *first.Email},
		{name: "other case and spaces", email: " " + strings.ToUpper(*first.Email) + "\t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := signUpInput()
			in.Email = tt.email
			_, err := e.svc.SignUp(t.Context(), in)
			requireCode(t, err, errs.Conflict)
			got, _ := errs.As(err)
			require.Equal(t, "email", got.Field)
		})
	}

	t.Run("an operator's email", func(t *testing.T) {
		opEmail := tilltest.UniqueEmail("operator")
		require.NoError(t, e.client.Operator.Create().SetEmail(opEmail).SetName("Op").SetPasswordHash("x").Exec(sys(t)))
		in := signUpInput()
		in.Email = opEmail
		_, err := e.svc.SignUp(t.Context(), in)
		requireCode(t, err, errs.Conflict)
	})
	require.Equal(t, 1, e.countMerchants(t), "refused sign-ups leave nothing behind")
}

func TestSignUpConcurrentSameEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := signUpInput()
	const n = 4
	results := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := e.svc.SignUp(t.Context(), in)
			results <- err
		})
	}
	wg.Wait()
	close(results)
	var ok int
	for err := range results {
		if err == nil {
			ok++
			continue
		}
		requireCode(t, err, errs.Conflict)
	}
	require.Equal(t, 1, ok, "exactly one sign-up wins the email")
	require.Equal(t, 1, e.countMerchants(t), "the losers' merchants were rolled back")
	n2, err := e.client.Store.Query().Count(sys(t))
	require.NoError(t, err)
	require.Equal(t, 1, n2, "and their stores")
}

func TestEnsureEmailFree(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.signUp(t, nil)
	opEmail := tilltest.UniqueEmail("operator")
	require.NoError(t, e.client.Operator.Create().SetEmail(opEmail).SetName("Op").SetPasswordHash("x").Exec(sys(t)))

	// Works without a viewer: it is a system check.
	require.NoError(t, merchants.EnsureEmailFree(t.Context(), e.client, tilltest.UniqueEmail("free")))
	requireCode(t, merchants.EnsureEmailFree(t.Context(), e.client, *owner.Email), errs.Conflict)
	requireCode(t, merchants.EnsureEmailFree(t.Context(), e.client, opEmail), errs.Conflict)
	// Even a staff member of another merchant, who cannot see the owner,
	// finds the email taken.
	other := e.signUp(t, nil)
	requireCode(t, merchants.EnsureEmailFree(staffCtx(t, other), e.client, *owner.Email), errs.Conflict)
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.signUp(t, nil)
	ctx := staffCtx(t, owner)
	name, locale := "  Lotus Tea House ", "EN-gb"

	m, err := e.svc.Update(ctx, merchants.UpdateInput{Name: &name, Locale: &locale})
	require.NoError(t, err)
	require.Equal(t, "Lotus Tea House", m.Name)
	require.Equal(t, "en-GB", m.Locale)
	require.Equal(t, owner.MerchantID, m.ID)

	blank, long, badLocale := " ", strings.Repeat("x", 201), "nope-nope-nope-nope"
	_, err = e.svc.Update(ctx, merchants.UpdateInput{Name: &blank})
	requireInvalid(t, err, "name")
	_, err = e.svc.Update(ctx, merchants.UpdateInput{Name: &long})
	requireInvalid(t, err, "name")
	_, err = e.svc.Update(ctx, merchants.UpdateInput{Locale: &badLocale})
	requireInvalid(t, err, "locale")

	manager, err := e.client.Staff.Create().SetMerchantID(owner.MerchantID).SetName("M").SetRole(staff.RoleMANAGER).Save(sys(t))
	require.NoError(t, err)
	for name, ctx := range map[string]context.Context{
		"manager":   staffCtx(t, manager),
		"operator":  operatorCtx(t),
		"no viewer": t.Context(),
		"system":    sys(t),
	} {
		_, err := e.svc.Update(ctx, merchants.UpdateInput{Name: &name})
		requireCode(t, err, errs.Forbidden)
	}
	got, err := e.client.Merchant.Get(sys(t), owner.MerchantID)
	require.NoError(t, err)
	require.Equal(t, "Lotus Tea House", got.Name, "refused updates changed nothing")
}

func TestSuspendAndReactivate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.signUp(t, nil)
	op := operatorCtx(t)

	_, err := e.svc.Suspend(op, owner.MerchantID, "  ")
	requireInvalid(t, err, "reason")
	_, err = e.svc.Suspend(staffCtx(t, owner), owner.MerchantID, "fraud review")
	requireCode(t, err, errs.Forbidden)
	_, err = e.svc.Suspend(op, pulid.ID("mer_missing"), "fraud review")
	requireCode(t, err, errs.NotFound)

	m, err := e.svc.Suspend(op, owner.MerchantID, " fraud review ")
	require.NoError(t, err)
	require.Equal(t, merchant.StatusSUSPENDED, m.Status)
	require.Equal(t, "fraud review", *m.SuspendedReason)
	require.NotNil(t, m.SuspendedAt)

	_, err = e.svc.Reactivate(staffCtx(t, owner), owner.MerchantID)
	requireCode(t, err, errs.Forbidden)
	m, err = e.svc.Reactivate(op, owner.MerchantID)
	require.NoError(t, err)
	require.Equal(t, merchant.StatusACTIVE, m.Status)
	require.Nil(t, m.SuspendedReason)
	require.Nil(t, m.SuspendedAt)

	actions, err := e.client.AuditEntry.Query().
		Where(auditentry.MerchantID(owner.MerchantID), auditentry.ActorKindEQ(auditentry.ActorKindOPERATOR)).
		Order(ent.Asc(auditentry.FieldCreatedAt)).
		Select(auditentry.FieldAction).Strings(sys(t))
	require.NoError(t, err)
	require.Equal(t, []string{"merchant.suspended", "merchant.active"}, actions)
}

func TestStores(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.signUp(t, nil)
	ownerCtx := staffCtx(t, owner)
	ptr := func(s string) *string { return &s }

	st, err := e.svc.CreateStore(ownerCtx, merchants.StoreInput{Name: ptr("  Bund  "), Address: ptr(" 1 Zhongshan Rd "), TimeZone: ptr("Asia/Shanghai")})
	require.NoError(t, err)
	require.Equal(t, "Bund", st.Name)
	require.Equal(t, "1 Zhongshan Rd", st.Address)
	require.Equal(t, owner.MerchantID, st.MerchantID, "stamped with the owner's merchant")

	for _, tc := range []struct {
		name  string
		in    merchants.StoreInput
		field string
	}{
		{name: "no name", in: merchants.StoreInput{TimeZone: ptr("UTC")}, field: "name"},
		{name: "blank name", in: merchants.StoreInput{Name: ptr(" "), TimeZone: ptr("UTC")}, field: "name"},
		{name: "bad time zone", in: merchants.StoreInput{Name: ptr("X"), TimeZone: ptr("Mars/Olympus")}, field: "timeZone"},
		{name: "long address", in: merchants.StoreInput{Name: ptr("X"), TimeZone: ptr("UTC"), Address: ptr(strings.Repeat("a", 501))}, field: "address"},
	} {
		_, err := e.svc.CreateStore(ownerCtx, tc.in)
		requireInvalid(t, err, tc.field)
	}

	manager, err := e.client.Staff.Create().SetMerchantID(owner.MerchantID).SetName("M").SetRole(staff.RoleMANAGER).AddStores(st).Save(sys(t))
	require.NoError(t, err)
	elsewhere, err := e.client.Staff.Create().SetMerchantID(owner.MerchantID).SetName("N").SetRole(staff.RoleMANAGER).Save(sys(t))
	require.NoError(t, err)
	cashier, err := e.client.Staff.Create().SetMerchantID(owner.MerchantID).SetName("C").SetRole(staff.RoleCASHIER).AddStores(st).Save(sys(t))
	require.NoError(t, err)

	_, err = e.svc.CreateStore(staffCtx(t, manager), merchants.StoreInput{Name: ptr("X"), TimeZone: ptr("UTC")})
	requireCode(t, err, errs.Forbidden)

	got, err := e.svc.UpdateStore(staffCtx(t, manager), st.ID, merchants.StoreInput{Name: ptr("Bund 2")})
	require.NoError(t, err, "a manager changes a store they work at")
	require.Equal(t, "Bund 2", got.Name)
	require.Equal(t, "Asia/Shanghai", got.TimeZone, "fields left nil stay")

	_, err = e.svc.UpdateStore(staffCtx(t, elsewhere), st.ID, merchants.StoreInput{Name: ptr("Mine")})
	requireCode(t, err, errs.Forbidden) // the store is the merchant's, so visible, but not theirs
	_, err = e.svc.UpdateStore(staffCtx(t, cashier), st.ID, merchants.StoreInput{Name: ptr("Mine")})
	requireCode(t, err, errs.Forbidden)
	_, err = e.svc.UpdateStore(ownerCtx, st.ID, merchants.StoreInput{TimeZone: ptr("Local")})
	requireInvalid(t, err, "timeZone")

	// Another merchant's owner does not find the store at all.
	stranger := e.signUp(t, nil)
	_, err = e.svc.UpdateStore(staffCtx(t, stranger), st.ID, merchants.StoreInput{Name: ptr("Taken over")})
	requireCode(t, err, errs.NotFound)

	final, err := e.client.Store.Get(sys(t), st.ID)
	require.NoError(t, err)
	require.Equal(t, "Bund 2", final.Name)
	require.Equal(t, "Asia/Shanghai", final.TimeZone)
}
