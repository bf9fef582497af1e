package staff_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/auditentry"
	"github.com/tillpos/till/ent/schema/pulid"
	entstaff "github.com/tillpos/till/ent/staff"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/staff"
)

const (
	testPassword = "correct horse battery"
	newPassword  = "a brand new secret"
	testPIN      = "2580"
)

var roles = []entstaff.Role{entstaff.RoleOWNER, entstaff.RoleMANAGER, entstaff.RoleCASHIER}

// canManage is the documented matrix: an OWNER manages everyone, a MANAGER
// everyone but OWNERs, a CASHIER nobody.
func canManage(actor, target entstaff.Role) bool {
	switch actor {
	case entstaff.RoleOWNER:
		return true
	case entstaff.RoleMANAGER:
		return target != entstaff.RoleOWNER
	}
	return false
}

func TestCanManage(t *testing.T) {
	t.Parallel()
	staffViewer := func(r viewer.Role) *viewer.Viewer {
		return &viewer.Viewer{Kind: viewer.KindStaff, ID: "stf_actor", MerchantID: "mer_1", Role: r}
	}
	tests := []struct {
		name  string
		actor *viewer.Viewer
		want  map[entstaff.Role]bool // target role -> allowed; missing means false
	}{
		{name: "owner", actor: staffViewer(viewer.RoleOwner),
			want: map[entstaff.Role]bool{entstaff.RoleOWNER: true, entstaff.RoleMANAGER: true, entstaff.RoleCASHIER: true}},
		{name: "manager", actor: staffViewer(viewer.RoleManager),
			want: map[entstaff.Role]bool{entstaff.RoleMANAGER: true, entstaff.RoleCASHIER: true}},
		{name: "cashier", actor: staffViewer(viewer.RoleCashier)},
		{name: "staff without a role", actor: staffViewer("")},
		{name: "staff with an unknown role", actor: staffViewer("ADMIN")},
		{name: "no viewer", actor: nil},
		{name: "operator", actor: &viewer.Viewer{Kind: viewer.KindOperator, ID: "opr_1", Role: viewer.RoleOperator}},
		// Only a staff member of the merchant manages its staff, whatever
		// role another kind of viewer claims.
		{name: "operator claiming OWNER", actor: &viewer.Viewer{Kind: viewer.KindOperator, ID: "opr_1", Role: viewer.RoleOwner}},
		{name: "system", actor: &viewer.Viewer{Kind: viewer.KindSystem, Reason: "test"}},
		{name: "system claiming OWNER", actor: &viewer.Viewer{Kind: viewer.KindSystem, Role: viewer.RoleOwner}},
	}
	for _, tt := range tests {
		for _, target := range roles {
			t.Run(tt.name+"/"+string(target), func(t *testing.T) {
				t.Parallel()
				require.Equal(t, tt.want[target], staff.CanManage(tt.actor, target))
			})
		}
	}
	// The helper the service tests use agrees with the real matrix.
	for _, a := range roles {
		for _, b := range roles {
			require.Equal(t, canManage(a, b), staff.CanManage(staffViewer(viewer.Role(a)), b), "%s manages %s", a, b)
		}
	}
}

// fakeEnder records whose sessions the service ended.
type fakeEnder struct {
	mu    sync.Mutex
	ended []pulid.ID
	err   error
}

func (f *fakeEnder) EndSessions(_ context.Context, subject pulid.ID) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	f.ended = append(f.ended, subject)
	return 1, nil
}

func (f *fakeEnder) endedFor(id pulid.ID) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.ended, id)
}

type env struct {
	svc       *staff.Service
	merchants *merchants.Service
	client    *ent.Client
	hasher    *password.Hasher
	ender     *fakeEnder
	owner     *ent.Staff
	storeID   pulid.ID
}

func newEnv(t *testing.T) *env {
	t.Helper()
	d := tilltest.OpenDB(t)
	h := password.NewHasher(bcrypt.MinCost)
	e := &env{client: d.Client, hasher: h, ender: &fakeEnder{}, merchants: merchants.New(d.Client, h)}
	e.svc = staff.New(d.Client, h, e.ender)
	e.owner, e.storeID = e.signUp(t)
	return e
}

// signUp creates a merchant and returns its owner and first store.
func (e *env) signUp(t *testing.T) (*ent.Staff, pulid.ID) {
	t.Helper()
	owner, err := e.merchants.SignUp(t.Context(), merchants.SignUpInput{
		MerchantName: "Lotus Tea", OwnerName: "Mei", Email: tilltest.UniqueEmail("owner"),
		Password: testPassword, Currency: "CNY", TimeZone: "Asia/Shanghai",
	})
	require.NoError(t, err)
	stores, err := owner.QueryStores().IDs(as(t, owner))
	require.NoError(t, err)
	require.Len(t, stores, 1)
	return owner, stores[0]
}

// as is a request context of staff member m.
func as(t *testing.T, m *ent.Staff) context.Context {
	return viewer.NewContext(t.Context(), &viewer.Viewer{
		Kind: viewer.KindStaff, ID: m.ID, MerchantID: m.MerchantID, Role: viewer.Role(m.Role), SessionID: "sess-" + string(m.ID),
	})
}

func sys(t *testing.T) context.Context {
	return viewer.NewSystemContext(t.Context(), "staff-test")
}

// add has the owner create a staff member with role, a login email and
// password, and a store.
func (e *env) add(t *testing.T, role entstaff.Role) *ent.Staff {
	t.Helper()
	email, secret := tilltest.UniqueEmail(strings.ToLower(string(role))), testPassword
	m, err := e.svc.Create(as(t, e.owner), staff.CreateInput{
		Name: string(role) + " " + email[:6], Email: &email, Password: &secret, Role: role, StoreIDs: []pulid.ID{e.storeID},
	})
	require.NoError(t, err)
	return m
}

func (e *env) reload(t *testing.T, id pulid.ID) *ent.Staff {
	t.Helper()
	m, err := e.client.Staff.Get(sys(t), id)
	require.NoError(t, err)
	return m
}

func (e *env) countStaff(t *testing.T) int {
	t.Helper()
	n, err := e.client.Staff.Query().Count(sys(t))
	require.NoError(t, err)
	return n
}

func requireCode(t *testing.T, err error, code errs.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, errs.CodeOf(err), "%v", err)
}

func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	requireCode(t, err, errs.BadUserInput)
	e, _ := errs.As(err)
	require.Equal(t, field, e.Field, "%v", err)
}

func ptr[T any](v T) *T { return &v }

// action is one thing staff.go lets a staff member do to another.
type action struct {
	name string
	// prepare readies a fresh target (optional).
	prepare func(t *testing.T, e *env, target *ent.Staff)
	do      func(ctx context.Context, e *env, target *ent.Staff) error
	// done reports whether the action's effect is visible on the reloaded
	// target.
	done func(t *testing.T, e *env, before, after *ent.Staff) bool
	// endsSessions says whether success ends the target's sessions.
	endsSessions bool
}

var actions = []action{
	{
		name: "update name",
		do: func(ctx context.Context, e *env, target *ent.Staff) error {
			_, err := e.svc.Update(ctx, staff.UpdateInput{ID: target.ID, Name: ptr("Renamed")})
			return err
		},
		done: func(_ *testing.T, _ *env, _, after *ent.Staff) bool { return after.Name == "Renamed" },
	},
	{
		name: "update stores",
		do: func(ctx context.Context, e *env, target *ent.Staff) error {
			_, err := e.svc.Update(ctx, staff.UpdateInput{ID: target.ID, StoreIDs: []pulid.ID{}})
			return err
		},
		done: func(t *testing.T, e *env, _, after *ent.Staff) bool {
			n, err := after.QueryStores().Count(sys(t))
			require.NoError(t, err)
			return n == 0
		},
	},
	{
		name: "set PIN",
		do: func(ctx context.Context, e *env, target *ent.Staff) error {
			_, err := e.svc.SetPIN(ctx, target.ID, testPIN)
			return err
		},
		done: func(_ *testing.T, e *env, _, after *ent.Staff) bool { return e.hasher.Verify(after.PinHash, testPIN) },
	},
	{
		name: "reset password",
		do: func(ctx context.Context, e *env, target *ent.Staff) error {
			_, err := e.svc.ResetPassword(ctx, target.ID, newPassword)
			return err
		},
		done: func(_ *testing.T, e *env, _, after *ent.Staff) bool {
			return e.hasher.Verify(after.PasswordHash, newPassword)
		},
		endsSessions: true,
	},
	{
		name: "deactivate",
		do: func(ctx context.Context, e *env, target *ent.Staff) error {
			_, err := e.svc.Deactivate(ctx, target.ID)
			return err
		},
		done:         func(_ *testing.T, _ *env, _, after *ent.Staff) bool { return !after.Active },
		endsSessions: true,
	},
	{
		name: "reactivate",
		prepare: func(t *testing.T, e *env, target *ent.Staff) {
			require.NoError(t, e.client.Staff.UpdateOneID(target.ID).SetActive(false).Exec(sys(t)))
		},
		do: func(ctx context.Context, e *env, target *ent.Staff) error {
			_, err := e.svc.Reactivate(ctx, target.ID)
			return err
		},
		done: func(_ *testing.T, _ *env, _, after *ent.Staff) bool { return after.Active },
	},
}

// TestActionMatrix runs every action staff.go defines, by every role, on
// every role: allowed exactly as CanManage says, and a refusal changes
// nothing.
func TestActionMatrix(t *testing.T) {
	t.Parallel()
	for _, actorRole := range roles {
		t.Run(string(actorRole), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			actor := e.owner
			if actorRole != entstaff.RoleOWNER {
				actor = e.add(t, actorRole)
			}
			for _, targetRole := range roles {
				t.Run("create "+string(targetRole), func(t *testing.T) {
					before := e.countStaff(t)
					email := tilltest.UniqueEmail("new")
					m, err := e.svc.Create(as(t, actor), staff.CreateInput{
						Name: "New", Email: &email, Password: ptr(testPassword), Role: targetRole,
					})
					if !canManage(actorRole, targetRole) {
						requireCode(t, err, errs.Forbidden)
						require.Nil(t, m)
						require.Equal(t, before, e.countStaff(t))
						return
					}
					require.NoError(t, err)
					require.Equal(t, targetRole, m.Role)
					require.Equal(t, actor.MerchantID, m.MerchantID, "created in the actor's merchant")
					require.Equal(t, before+1, e.countStaff(t))
				})
				for _, a := range actions {
					t.Run(a.name+" "+string(targetRole), func(t *testing.T) {
						target := e.add(t, targetRole)
						if a.prepare != nil {
							a.prepare(t, e, target)
						}
						before := e.reload(t, target.ID)
						err := a.do(as(t, actor), e, target)
						after := e.reload(t, target.ID)
						if !canManage(actorRole, targetRole) {
							requireCode(t, err, errs.Forbidden)
							require.False(t, a.done(t, e, before, after), "a refused action changes nothing")
							require.Equal(t, before.UpdatedAt, after.UpdatedAt)
							require.False(t, e.ender.endedFor(target.ID), "a refused action ends no sessions")
							return
						}
						require.NoError(t, err)
						require.True(t, a.done(t, e, before, after))
						require.Equal(t, a.endsSessions, e.ender.endedFor(target.ID), "sessions ended")
					})
				}
			}
		})
	}
}

// TestRoleChangeMatrix: changing a role needs the right to manage both the
// current and the new role, so a MANAGER never makes anyone an OWNER.
func TestRoleChangeMatrix(t *testing.T) {
	t.Parallel()
	for _, actorRole := range roles {
		t.Run(string(actorRole), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			actor := e.owner
			if actorRole != entstaff.RoleOWNER {
				actor = e.add(t, actorRole)
			}
			for _, from := range roles {
				for _, to := range roles {
					t.Run(string(from)+" to "+string(to), func(t *testing.T) {
						target := e.add(t, from)
						m, err := e.svc.Update(as(t, actor), staff.UpdateInput{ID: target.ID, Role: ptr(to)})
						allowed := canManage(actorRole, from) && (from == to || canManage(actorRole, to))
						got := e.reload(t, target.ID)
						if !allowed {
							requireCode(t, err, errs.Forbidden)
							require.Equal(t, from, got.Role)
							require.False(t, e.ender.endedFor(target.ID))
							return
						}
						require.NoError(t, err)
						require.Equal(t, to, m.Role)
						require.Equal(t, to, got.Role)
						require.Equal(t, from != to, e.ender.endedFor(target.ID),
							"a role change ends the sessions carrying the old role; no change, no end")
					})
				}
			}
		})
	}
}

func TestNonStaffManageNobody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cashier := e.add(t, entstaff.RoleCASHIER)
	contexts := map[string]context.Context{
		"no viewer": t.Context(),
		"operator":  viewer.NewContext(t.Context(), &viewer.Viewer{Kind: viewer.KindOperator, ID: "opr_1", Role: viewer.RoleOperator}),
		"system":    sys(t),
	}
	for name, ctx := range contexts {
		t.Run(name, func(t *testing.T) {
			_, err := e.svc.Create(ctx, staff.CreateInput{Name: "X", Role: entstaff.RoleCASHIER, PIN: ptr(testPIN)})
			requireCode(t, err, errs.Forbidden)
			for _, a := range actions {
				requireCode(t, a.do(ctx, e, cashier), errs.Forbidden)
			}
			_, err = e.svc.Update(ctx, staff.UpdateInput{ID: cashier.ID, Role: ptr(entstaff.RoleMANAGER)})
			requireCode(t, err, errs.Forbidden)
		})
	}
	require.Equal(t, cashier.Name, e.reload(t, cashier.ID).Name)
	require.True(t, e.reload(t, cashier.ID).Active)
	require.Empty(t, e.ender.ended)
}

func TestAnyoneSetsTheirOwnPIN(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, role := range roles {
		t.Run(string(role), func(t *testing.T) {
			me := e.add(t, role)
			_, err := e.svc.SetPIN(as(t, me), me.ID, testPIN)
			require.NoError(t, err)
			require.True(t, e.hasher.Verify(e.reload(t, me.ID).PinHash, testPIN))
		})
	}
	t.Run("but not another cashier's", func(t *testing.T) {
		me, other := e.add(t, entstaff.RoleCASHIER), e.add(t, entstaff.RoleCASHIER)
		_, err := e.svc.SetPIN(as(t, me), other.ID, testPIN)
		requireCode(t, err, errs.Forbidden)
	})
	t.Run("and the exception is only for the PIN", func(t *testing.T) {
		me := e.add(t, entstaff.RoleCASHIER)
		_, err := e.svc.Update(as(t, me), staff.UpdateInput{ID: me.ID, Name: ptr("Boss")})
		requireCode(t, err, errs.Forbidden)
		_, err = e.svc.Update(as(t, me), staff.UpdateInput{ID: me.ID, Role: ptr(entstaff.RoleMANAGER)})
		requireCode(t, err, errs.Forbidden)
		_, err = e.svc.ResetPassword(as(t, me), me.ID, newPassword)
		requireCode(t, err, errs.Forbidden)
	})
}

// Changing one's own password is changePassword's job, which asks for the
// current one first; resetStaffPassword on oneself would let a stolen
// access token take the account over without it.
func TestResetPasswordRefusesYourself(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, role := range []entstaff.Role{entstaff.RoleOWNER, entstaff.RoleMANAGER} {
		t.Run(string(role), func(t *testing.T) {
			me := e.add(t, role)
			_, err := e.svc.ResetPassword(as(t, me), me.ID, newPassword)
			require.Error(t, err)
			require.NotEqual(t, errs.Internal, errs.CodeOf(err), "%v", err)
			require.True(t, e.hasher.Verify(e.reload(t, me.ID).PasswordHash, testPassword), "the password is unchanged")
		})
	}
}

func TestDeactivateYourself(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, role := range roles {
		me := e.owner
		if role != entstaff.RoleOWNER {
			me = e.add(t, role)
		}
		_, err := e.svc.Deactivate(as(t, me), me.ID)
		requireInvalid(t, err, "staffId")
		require.True(t, e.reload(t, me.ID).Active)
	}
}

func TestKeepsAnActiveOwner(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.owner)

	_, err := e.svc.Update(ctx, staff.UpdateInput{ID: e.owner.ID, Role: ptr(entstaff.RoleMANAGER)})
	requireCode(t, err, errs.Conflict)
	require.Equal(t, entstaff.RoleOWNER, e.reload(t, e.owner.ID).Role, "the only owner stays one")

	second := e.add(t, entstaff.RoleOWNER)
	_, err = e.svc.Deactivate(ctx, second.ID)
	require.NoError(t, err)
	_, err = e.svc.Update(ctx, staff.UpdateInput{ID: e.owner.ID, Role: ptr(entstaff.RoleMANAGER)})
	requireCode(t, err, errs.Conflict)
	require.Equal(t, entstaff.RoleOWNER, e.reload(t, e.owner.ID).Role, "a deactivated owner does not count")

	_, err = e.svc.Reactivate(ctx, second.ID)
	require.NoError(t, err)
	m, err := e.svc.Update(ctx, staff.UpdateInput{ID: e.owner.ID, Role: ptr(entstaff.RoleMANAGER)})
	require.NoError(t, err, "with another active owner, an owner may step down")
	require.Equal(t, entstaff.RoleMANAGER, m.Role)
	require.True(t, e.ender.endedFor(e.owner.ID))

	// Now second is the last owner; the former owner, still holding an
	// OWNER token until it is refreshed, cannot deactivate them.
	_, err = e.svc.Deactivate(ctx, second.ID)
	requireCode(t, err, errs.Conflict)
	require.True(t, e.reload(t, second.ID).Active)
}

func TestOtherMerchantsStaffAreNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mine := e.add(t, entstaff.RoleCASHIER)
	stranger, theirStore := e.signUp(t)
	ctx := as(t, stranger)

	for _, a := range actions {
		t.Run(a.name, func(t *testing.T) {
			requireCode(t, a.do(ctx, e, mine), errs.NotFound)
		})
	}
	_, err := e.svc.Update(ctx, staff.UpdateInput{ID: mine.ID, Role: ptr(entstaff.RoleOWNER)})
	requireCode(t, err, errs.NotFound)
	got := e.reload(t, mine.ID)
	require.Equal(t, mine.Name, got.Name)
	require.Equal(t, entstaff.RoleCASHIER, got.Role)
	require.True(t, got.Active)

	// Nor can a staff member be given another merchant's store.
	for name, do := range map[string]func() error{
		"create": func() error {
			_, err := e.svc.Create(as(t, e.owner), staff.CreateInput{Name: "X", Role: entstaff.RoleCASHIER, PIN: ptr(testPIN), StoreIDs: []pulid.ID{theirStore}})
			return err
		},
		"update": func() error {
			_, err := e.svc.Update(as(t, e.owner), staff.UpdateInput{ID: mine.ID, StoreIDs: []pulid.ID{e.storeID, theirStore}})
			return err
		},
	} {
		err := do()
		require.Error(t, err, name)
		require.Contains(t, []errs.Code{errs.NotFound, errs.BadUserInput}, errs.CodeOf(err), "%s: %v", name, err)
		got, _ := errs.As(err)
		require.Equal(t, "storeIds", got.Field, name)
	}
	stores, err := e.reload(t, mine.ID).QueryStores().IDs(sys(t))
	require.NoError(t, err)
	require.Equal(t, []pulid.ID{e.storeID}, stores, "the refused update left the stores alone")
}

func TestCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.owner)

	t.Run("PIN-only cashier", func(t *testing.T) {
		m, err := e.svc.Create(ctx, staff.CreateInput{
			Name: "  Xiao Li  ", Phone: ptr(" +86 138 0000 0000 "), Role: entstaff.RoleCASHIER,
			PIN: ptr(testPIN), StoreIDs: []pulid.ID{e.storeID},
		})
		require.NoError(t, err)
		require.Equal(t, "Xiao Li", m.Name)
		require.Equal(t, "+86 138 0000 0000", m.Phone)
		require.Nil(t, m.Email, "no login email")
		require.Empty(t, m.PasswordHash)
		require.Nil(t, m.PasswordChangedAt)
		require.True(t, e.hasher.Verify(m.PinHash, testPIN))
		require.True(t, m.Active)
		require.Equal(t, e.owner.MerchantID, m.MerchantID)
		stores, err := m.QueryStores().IDs(ctx)
		require.NoError(t, err)
		require.Equal(t, []pulid.ID{e.storeID}, stores)

		entry, err := e.client.AuditEntry.Query().
			Where(auditentry.Action("staff.created"), auditentry.TargetID(string(m.ID))).Only(sys(t))
		require.NoError(t, err)
		require.Equal(t, auditentry.ActorKindSTAFF, entry.ActorKind)
		require.Equal(t, string(e.owner.ID), entry.ActorID)
		require.Equal(t, e.owner.MerchantID, entry.MerchantID)
		require.Equal(t, "CASHIER", entry.Details["role"])
	})

	t.Run("manager with a login", func(t *testing.T) {
		email := tilltest.UniqueEmail("manager")
		m, err := e.svc.Create(ctx, staff.CreateInput{
			Name: "Wang", Email: ptr("  " + strings.ToUpper(email) + " "), Password: ptr(testPassword),
			Role: entstaff.RoleMANAGER, StoreIDs: []pulid.ID{e.storeID, e.storeID},
		})
		require.NoError(t, err)
		require.Equal(t, email, *m.Email, "trimmed and lower-cased")
		require.True(t, e.hasher.Verify(m.PasswordHash, testPassword))
		require.NotNil(t, m.PasswordChangedAt)
		require.Empty(t, m.PinHash)
		stores, err := m.QueryStores().IDs(ctx)
		require.NoError(t, err)
		require.Equal(t, []pulid.ID{e.storeID}, stores, "a repeated store is added once")
	})

	t.Run("cashier with a login and a PIN", func(t *testing.T) {
		email := tilltest.UniqueEmail("cashier")
		m, err := e.svc.Create(ctx, staff.CreateInput{
			Name: "Zhao", Email: &email, Password: ptr(testPassword), PIN: ptr("13579"), Role: entstaff.RoleCASHIER,
		})
		require.NoError(t, err)
		require.True(t, e.hasher.Verify(m.PasswordHash, testPassword))
		require.True(t, e.hasher.Verify(m.PinHash, "13579"))
		n, err := m.QueryStores().Count(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
	})
}

func TestCreateRefusesBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.owner)
	email := tilltest.UniqueEmail("new")
	tests := []struct {
		name  string
		in    staff.CreateInput
		field string
	}{
		{name: "no name", in: staff.CreateInput{Name: " ", Role: entstaff.RoleCASHIER, PIN: ptr(testPIN)}, field: "name"},
		{name: "bad email", in: staff.CreateInput{Name: "X", Role: entstaff.RoleMANAGER, Email: ptr("wang@localhost"), Password: ptr(testPassword)}, field: "email"},
		{name: "manager without a login", in: staff.CreateInput{Name: "X", Role: entstaff.RoleMANAGER, PIN: ptr(testPIN)}, field: "email"},
		{name: "owner without a login", in: staff.CreateInput{Name: "X", Role: entstaff.RoleOWNER}, field: "email"},
		{name: "manager with a password but no email", in: staff.CreateInput{Name: "X", Role: entstaff.RoleMANAGER, Password: ptr(testPassword)}, field: "email"},
		{name: "blank email counts as none", in: staff.CreateInput{Name: "X", Role: entstaff.RoleMANAGER, Email: ptr("  "), Password: ptr(testPassword)}, field: "email"},
		{name: "cashier with email but no password", in: staff.CreateInput{Name: "X", Role: entstaff.RoleCASHIER, Email: &email, PIN: ptr(testPIN)}, field: "password"},
		{name: "cashier with password but no email", in: staff.CreateInput{Name: "X", Role: entstaff.RoleCASHIER, Password: ptr(testPassword)}, field: "email"},
		{name: "cashier with neither password nor PIN", in: staff.CreateInput{Name: "X", Role: entstaff.RoleCASHIER}, field: "pin"},
		{name: "cashier with an empty PIN", in: staff.CreateInput{Name: "X", Role: entstaff.RoleCASHIER, PIN: ptr("")}, field: "pin"},
		{name: "cashier with a weak PIN", in: staff.CreateInput{Name: "X", Role: entstaff.RoleCASHIER, PIN: ptr("1234")}, field: "pin"},
		{name: "login with a weak PIN", in: staff.CreateInput{Name: "X", Role: entstaff.RoleMANAGER, Email: &email, Password: ptr(testPassword), PIN: ptr("12")}, field: "pin"},
		{name: "short password", in: staff.CreateInput{Name: "X", Role: entstaff.RoleMANAGER, Email: &email, Password: ptr("short")}, field: "password"},
		{name: "password is the email", in: staff.CreateInput{Name: "X", Role: entstaff.RoleMANAGER, Email: &email, Password: ptr(strings.ToUpper(email))}, field: "password"},
		{name: "unknown store", in: staff.CreateInput{Name: "X", Role: entstaff.RoleCASHIER, PIN: ptr(testPIN), StoreIDs: []pulid.ID{"sto_01NOPE"}}, field: "storeIds"},
	}
	before := e.countStaff(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := e.svc.Create(ctx, tt.in)
			require.Error(t, err)
			require.Nil(t, m)
			got, ok := errs.As(err)
			require.True(t, ok, "want an *errs.Error, got %v", err)
			require.Contains(t, []errs.Code{errs.BadUserInput, errs.NotFound}, got.Code, "%v", err)
			require.Equal(t, tt.field, got.Field, "%v", err)
		})
	}
	require.Equal(t, before, e.countStaff(t), "nothing was created")
}

// BAD_USER_INPUT names the field at fault: for an OWNER or MANAGER whose
// email is given and fine, that is the missing password.
func TestCreateNamesTheMissingPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, role := range []entstaff.Role{entstaff.RoleOWNER, entstaff.RoleMANAGER} {
		t.Run(string(role), func(t *testing.T) {
			_, err := e.svc.Create(as(t, e.owner), staff.CreateInput{Name: "X", Role: role, Email: ptr(tilltest.UniqueEmail("x"))})
			requireInvalid(t, err, "password")
		})
	}
}

func TestCreateRefusesATakenEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.owner)
	colleague := e.add(t, entstaff.RoleMANAGER)
	stranger, _ := e.signUp(t)
	opEmail := tilltest.UniqueEmail("operator")
	require.NoError(t, e.client.Operator.Create().SetEmail(opEmail).SetName("Op").SetPasswordHash("x").Exec(sys(t)))

	for name, email := range map[string]string{
		"a colleague's":                   *colleague.Email,
		"a colleague's in capitals":       strings.ToUpper(*colleague.Email),
		"another merchant's staff":        *stranger.Email,
		"a platform operator's":           opEmail,
		"the owner's own, with spaces":    " " + *e.owner.Email + " ",
		"another merchant's, capitalized": strings.ToUpper(*stranger.Email),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.svc.Create(ctx, staff.CreateInput{Name: "X", Role: entstaff.RoleMANAGER, Email: ptr(email), Password: ptr(testPassword)})
			requireCode(t, err, errs.Conflict)
			got, _ := errs.As(err)
			require.Equal(t, "email", got.Field)
		})
	}
}

func TestPINRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	me := e.add(t, entstaff.RoleCASHIER)
	tests := []struct {
		pin string
		ok  bool
	}{
		{pin: "2580", ok: true},
		{pin: "0000"},
		{pin: "1357", ok: true},
		{pin: "90210", ok: true},
		{pin: "13572468", ok: true}, // 8 digits
		{pin: "0812", ok: true},
		{pin: ""},
		{pin: "258"},       // 3 digits
		{pin: "135724680"}, // 9 digits
		{pin: "25a0"},
		{pin: " 2580"},
		{pin: "2580 "},
		{pin: "-258"},
		{pin: "２５８０"}, // full-width digits
		{pin: "1111"},
		{pin: "77777777"},
		{pin: "1234"},
		{pin: "4321"},
		{pin: "98765"},
		{pin: "01234567"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.pin), func(t *testing.T) {
			_, err := e.svc.SetPIN(as(t, me), me.ID, tt.pin)
			if !tt.ok {
				requireInvalid(t, err, "pin")
				require.False(t, e.hasher.Verify(e.reload(t, me.ID).PinHash, tt.pin))
				return
			}
			require.NoError(t, err)
			require.True(t, e.hasher.Verify(e.reload(t, me.ID).PinHash, tt.pin))
		})
	}
}

func TestPasswordRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	target := e.add(t, entstaff.RoleMANAGER)
	email := *target.Email
	local, _, _ := strings.Cut(email, "@")
	tests := []struct {
		name   string
		secret string
		ok     bool
	}{
		{name: "10 characters", secret: "abcdefghij", ok: true},
		{name: "10 Chinese characters", secret: "我的密码很长很安全啊", ok: true},
		{name: "72 bytes", secret: strings.Repeat("ab", 36), ok: true},
		{name: "9 characters", secret: "abcdefghi"},
		{name: "empty", secret: ""},
		{name: "73 bytes", secret: strings.Repeat("ab", 36) + "c"},
		{name: "the email", secret: email},
		{name: "the email in capitals", secret: strings.ToUpper(email)},
		{name: "the email's name part", secret: strings.ToUpper(local)},
		{name: "one character repeated", secret: strings.Repeat("x", 16)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.ResetPassword(as(t, e.owner), target.ID, tt.secret)
			if !tt.ok {
				requireInvalid(t, err, "newPassword")
				require.False(t, e.hasher.Verify(e.reload(t, target.ID).PasswordHash, tt.secret))
				return
			}
			require.NoError(t, err)
			require.True(t, e.hasher.Verify(e.reload(t, target.ID).PasswordHash, tt.secret))
		})
	}

	t.Run("the same rules on create", func(t *testing.T) {
		for _, tt := range tests {
			if tt.ok || tt.secret == "" || strings.Contains(tt.name, "email") {
				continue // an empty password is "no password"; the email cases need the new email
			}
			_, err := e.svc.Create(as(t, e.owner), staff.CreateInput{
				Name: "X", Role: entstaff.RoleMANAGER, Email: ptr(tilltest.UniqueEmail("x")), Password: ptr(tt.secret),
			})
			requireInvalid(t, err, "password")
		}
	})
}

func TestResetPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	target := e.add(t, entstaff.RoleCASHIER)
	before := e.reload(t, target.ID)

	m, err := e.svc.ResetPassword(as(t, e.owner), target.ID, newPassword)
	require.NoError(t, err)
	require.True(t, e.hasher.Verify(m.PasswordHash, newPassword))
	require.False(t, e.hasher.Verify(m.PasswordHash, testPassword))
	require.True(t, m.PasswordChangedAt.After(*before.PasswordChangedAt) || m.PasswordChangedAt.Equal(*before.PasswordChangedAt))
	require.True(t, e.ender.endedFor(target.ID))

	pinOnly, err := e.svc.Create(as(t, e.owner), staff.CreateInput{Name: "P", Role: entstaff.RoleCASHIER, PIN: ptr(testPIN)})
	require.NoError(t, err)
	_, err = e.svc.ResetPassword(as(t, e.owner), pinOnly.ID, newPassword)
	requireInvalid(t, err, "staffId")
	require.Empty(t, e.reload(t, pinOnly.ID).PasswordHash)
	require.False(t, e.ender.endedFor(pinOnly.ID))
}

func TestUnknownStaffIsNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.owner)
	ghost := &ent.Staff{ID: "stf_01NOBODY"}
	for _, a := range actions {
		requireCode(t, a.do(ctx, e, ghost), errs.NotFound)
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.owner)
	target := e.add(t, entstaff.RoleCASHIER)

	m, err := e.svc.Update(ctx, staff.UpdateInput{ID: target.ID, Name: ptr("  Chen  "), Phone: ptr(" 12345 ")})
	require.NoError(t, err)
	require.Equal(t, "Chen", m.Name)
	require.Equal(t, "12345", m.Phone)
	require.Equal(t, entstaff.RoleCASHIER, m.Role, "nil fields stay")
	require.False(t, e.ender.endedFor(target.ID), "no role change, no session end")
	stores, err := m.QueryStores().IDs(ctx)
	require.NoError(t, err)
	require.Equal(t, []pulid.ID{e.storeID}, stores, "nil StoreIDs keeps the stores")

	_, err = e.svc.Update(ctx, staff.UpdateInput{ID: target.ID, Name: ptr("  ")})
	requireInvalid(t, err, "name")
	require.Equal(t, "Chen", e.reload(t, target.ID).Name)

	m, err = e.svc.Update(ctx, staff.UpdateInput{ID: target.ID, StoreIDs: []pulid.ID{}})
	require.NoError(t, err)
	n, err := m.QueryStores().Count(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "an empty list clears the stores")
}

func TestSessionsEndAfterTheChangeCommits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	errRedis := errors.New("redis is down")
	e.ender.err = errRedis
	ctx := as(t, e.owner)

	target := e.add(t, entstaff.RoleMANAGER)
	m, err := e.svc.Deactivate(ctx, target.ID)
	require.ErrorIs(t, err, errRedis)
	require.ErrorContains(t, err, "ending sessions")
	require.NotNil(t, m, "the change is returned with the error")
	require.False(t, e.reload(t, target.ID).Active, "and stays committed, so the caller retries only the logout")

	other := e.add(t, entstaff.RoleMANAGER)
	_, err = e.svc.Update(ctx, staff.UpdateInput{ID: other.ID, Role: ptr(entstaff.RoleCASHIER)})
	require.ErrorIs(t, err, errRedis)
	require.Equal(t, entstaff.RoleCASHIER, e.reload(t, other.ID).Role)
}

func TestChangesAreAudited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.owner)
	target := e.add(t, entstaff.RoleMANAGER)

	_, err := e.svc.Update(ctx, staff.UpdateInput{ID: target.ID, Name: ptr("Renamed"), Role: ptr(entstaff.RoleCASHIER)})
	require.NoError(t, err)
	_, err = e.svc.SetPIN(ctx, target.ID, testPIN)
	require.NoError(t, err)
	_, err = e.svc.ResetPassword(ctx, target.ID, newPassword)
	require.NoError(t, err)
	_, err = e.svc.Deactivate(ctx, target.ID)
	require.NoError(t, err)
	_, err = e.svc.Reactivate(ctx, target.ID)
	require.NoError(t, err)
	// A refused change leaves no entry.
	_, err = e.svc.Update(ctx, staff.UpdateInput{ID: target.ID, Name: ptr(" ")})
	require.Error(t, err)

	entries, err := e.client.AuditEntry.Query().
		Where(auditentry.TargetID(string(target.ID))).
		Order(ent.Asc(auditentry.FieldCreatedAt), ent.Asc(auditentry.FieldID)).
		All(sys(t))
	require.NoError(t, err)
	var got []string
	for _, entry := range entries {
		got = append(got, entry.Action)
		require.Equal(t, string(e.owner.ID), entry.ActorID)
	}
	require.Equal(t, []string{
		"staff.created", "staff.updated", "staff.pin_set", "staff.password_reset", "staff.deactivated", "staff.reactivated",
	}, got)
	require.Equal(t, "Renamed", entries[1].Details["name"])
	require.Equal(t, "CASHIER", entries[1].Details["role"])
	for _, entry := range entries {
		for _, v := range entry.Details {
			require.NotContains(t, fmt.Sprint(v), newPassword, "no secret in the log")
			require.NotContains(t, fmt.Sprint(v), testPIN)
		}
	}
}
