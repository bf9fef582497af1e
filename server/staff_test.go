package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/server"
)

// Staff, store and merchant management through the API: who may do what,
// what each change does to sessions, what bad input is told, pagination of
// the staff list, and the operator's merchant controls.

const (
	mgmtStaffFields = `id name email role active stores { id }`

	mgmtCreateStaff   = `mutation($i: CreateStaffInput!) { createStaff(input: $i) { staff { ` + mgmtStaffFields + ` } } }`
	mgmtUpdateStaff   = `mutation($i: UpdateStaffInput!) { updateStaff(input: $i) { staff { ` + mgmtStaffFields + ` } } }`
	mgmtSetPin        = `mutation($i: SetStaffPinInput!) { setStaffPin(input: $i) { staff { id } } }`
	mgmtResetPassword = `mutation($i: ResetStaffPasswordInput!) { resetStaffPassword(input: $i) { staff { id } } }`
	mgmtDeactivate    = `mutation($i: StaffIdInput!) { deactivateStaff(input: $i) { staff { id active } } }`
	mgmtReactivate    = `mutation($i: StaffIdInput!) { reactivateStaff(input: $i) { staff { id active } } }`
	mgmtChangePw      = `mutation($i: ChangePasswordInput!) { changePassword(input: $i) { viewer { role passwordExpiresAt } } }`

	mgmtMerchantFields     = `id name locale status suspendedReason suspendedAt`
	mgmtUpdateMerchant     = `mutation($i: UpdateMerchantInput!) { updateMerchant(input: $i) { merchant { ` + mgmtMerchantFields + ` } } }`
	mgmtSuspendMerchant    = `mutation($i: SuspendMerchantInput!) { suspendMerchant(input: $i) { merchant { ` + mgmtMerchantFields + ` } } }`
	mgmtReactivateMerchant = `mutation($i: ReactivateMerchantInput!) { reactivateMerchant(input: $i) { merchant { ` + mgmtMerchantFields + ` } } }`

	mgmtStoreFields = `id name address timeZone`
	mgmtCreateStore = `mutation($i: CreateStoreInput!) { createStore(input: $i) { store { ` + mgmtStoreFields + ` } } }`
	mgmtUpdateStore = `mutation($i: UpdateStoreInput!) { updateStore(input: $i) { store { ` + mgmtStoreFields + ` } } }`

	// A new password that passes the policy.
	mgmtNewPassword = "a brand new passphrase"
	// Well-formed IDs of objects that do not exist.
	mgmtNoStore    = "sto_01JD7X0Q2N3V4W5X6Y7Z8A9B0C"
	mgmtNoStaff    = "stf_01JD7X0Q2N3V4W5X6Y7Z8A9B0C"
	mgmtNoMerchant = "mer_01JD7X0Q2N3V4W5X6Y7Z8A9B0C"
)

type mgmtStaff struct {
	ID     string
	Name   string
	Email  *string
	Role   string
	Active bool
	Stores []struct{ ID string }
}

type mgmtMerchant struct {
	ID              string
	Name            string
	Locale          string
	Status          string
	SuspendedReason *string
	SuspendedAt     *time.Time
}

type mgmtStore struct {
	ID       string
	Name     string
	Address  *string
	TimeZone string
}

// mgmtEnv is a test server with a signed-up merchant and the calls the
// tests below make.
type mgmtEnv struct {
	*tilltest.Env
	owner *tilltest.Account
}

func newMgmtEnv(t *testing.T, opts ...server.Option) *mgmtEnv {
	t.Helper()
	env := tilltest.New(t, nil, opts...)
	return &mgmtEnv{Env: env, owner: env.SignUp(t, "Lotus Tea")}
}

// call runs mutation with input as $i.
func (m *mgmtEnv) call(t *testing.T, token, mutation string, input map[string]any) *tilltest.Result {
	t.Helper()
	return m.Exec(t, token, mutation, map[string]any{"i": input})
}

// refused asserts res failed with code and, when field is not empty, that
// extensions.field names it.
func (m *mgmtEnv) refused(t *testing.T, res *tilltest.Result, code, field string) {
	t.Helper()
	require.NotEmpty(t, res.Errors, "want %s, got data %s", code, res.Data)
	require.Equal(t, code, res.Code(), "%+v", res.Errors)
	if field != "" {
		require.Equal(t, field, res.Errors[0].Extensions["field"], "%+v", res.Errors)
	}
}

// staff reads a staff member as the owner.
func (m *mgmtEnv) staff(t *testing.T, id string) mgmtStaff {
	t.Helper()
	var out struct {
		StaffMembers struct {
			Edges []struct{ Node mgmtStaff }
		}
	}
	m.Exec(t, m.owner.Token, `query($id: ID!) { staffMembers(where: {id: $id}) { edges { node { `+mgmtStaffFields+` } } } }`,
		map[string]any{"id": id}).Decode(t, &out)
	require.Len(t, out.StaffMembers.Edges, 1, "staff member %s", id)
	return out.StaffMembers.Edges[0].Node
}

// staffCount is how many staff members the owner's merchant has.
func (m *mgmtEnv) staffCount(t *testing.T) int {
	t.Helper()
	var out struct{ StaffMembers struct{ TotalCount int } }
	m.Exec(t, m.owner.Token, `{ staffMembers { totalCount } }`, nil).Decode(t, &out)
	return out.StaffMembers.TotalCount
}

// auditCount counts the owner's merchant's audit entries with action
// (about targetID, when not empty).
func (m *mgmtEnv) auditCount(t *testing.T, action, targetID string) int {
	t.Helper()
	where := map[string]any{"action": action}
	if targetID != "" {
		where["targetID"] = targetID
	}
	var out struct{ AuditEntries struct{ TotalCount int } }
	m.Exec(t, m.owner.Token, `query($w: AuditEntryWhereInput) { auditEntries(where: $w) { totalCount } }`,
		map[string]any{"w": where}).Decode(t, &out)
	return out.AuditEntries.TotalCount
}

// viewer runs viewerQuery with token, failing t on errors.
func (m *mgmtEnv) viewer(t *testing.T, token string) viewerData {
	t.Helper()
	var v viewerData
	m.Exec(t, token, viewerQuery, nil).Decode(t, &v)
	return v
}

// signedOut asserts token no longer opens the API.
func (m *mgmtEnv) signedOut(t *testing.T, token string) {
	t.Helper()
	m.refused(t, m.Exec(t, token, viewerQuery, nil), "UNAUTHENTICATED", "")
}

// merchant reads a merchant as the operator holding token.
func (m *mgmtEnv) merchant(t *testing.T, token, id string) mgmtMerchant {
	t.Helper()
	var out struct {
		Merchants struct {
			Edges []struct{ Node mgmtMerchant }
		}
	}
	m.Exec(t, token, `query($id: ID!) { merchants(where: {id: $id}) { edges { node { `+mgmtMerchantFields+` } } } }`,
		map[string]any{"id": id}).Decode(t, &out)
	require.Len(t, out.Merchants.Edges, 1, "merchant %s", id)
	return out.Merchants.Edges[0].Node
}

func (m *mgmtEnv) storeNames(t *testing.T, token string) map[string]string {
	t.Helper()
	var out struct {
		Stores struct {
			Edges []struct{ Node mgmtStore }
		}
	}
	m.Exec(t, token, `{ stores(first: 100) { edges { node { `+mgmtStoreFields+` } } } }`, nil).Decode(t, &out)
	names := map[string]string{}
	for _, e := range out.Stores.Edges {
		names[e.Node.ID] = e.Node.Name
	}
	return names
}

func mgmtMayManage(actor, target string) bool {
	return actor == "OWNER" || actor == "MANAGER" && target != "OWNER"
}

var mgmtRoles = []string{"OWNER", "MANAGER", "CASHIER"}

// An OWNER manages everyone, a MANAGER managers and cashiers, a CASHIER
// nobody; each refusal is FORBIDDEN and changes nothing.
func TestStaffRoleMatrix(t *testing.T) {
	m := newMgmtEnv(t)
	actors := map[string]*tilltest.Account{
		"OWNER":   m.owner,
		"MANAGER": m.AddStaff(t, m.owner, "MANAGER"),
		"CASHIER": m.AddStaff(t, m.owner, "CASHIER"),
	}

	t.Run("createStaff", func(t *testing.T) {
		for _, actor := range mgmtRoles {
			for _, role := range mgmtRoles {
				t.Run(actor+" adds "+role, func(t *testing.T) {
					before := m.staffCount(t)
					email := tilltest.UniqueEmail("new")
					res := m.call(t, actors[actor].Token, mgmtCreateStaff, map[string]any{
						"name": "New " + role, "email": email, "password": tilltest.Password, "role": role,
						"storeIds": []string{m.owner.StoreID},
					})
					if !mgmtMayManage(actor, role) {
						m.refused(t, res, "FORBIDDEN", "")
						require.Equal(t, before, m.staffCount(t), "nobody was added")
						m.refused(t, m.LogInResult(t, email, tilltest.Password), "UNAUTHENTICATED", "")
						return
					}
					var out struct{ CreateStaff struct{ Staff mgmtStaff } }
					res.Decode(t, &out)
					got := out.CreateStaff.Staff
					require.Equal(t, role, got.Role)
					require.True(t, got.Active)
					require.NotNil(t, got.Email)
					require.Equal(t, email, *got.Email)
					require.Len(t, got.Stores, 1)
					require.Equal(t, m.owner.StoreID, got.Stores[0].ID)
					require.Equal(t, before+1, m.staffCount(t))
					a := m.LogIn(t, email, tilltest.Password)
					require.Equal(t, role, m.viewer(t, a.Token).Viewer.Role)
				})
			}
		}
	})

	// Operations on an existing staff member. Each case acts on a fresh one.
	ops := []struct {
		name    string
		prepare func(t *testing.T, target *tilltest.Account)
		act     func(t *testing.T, actor, target *tilltest.Account) *tilltest.Result
		// took checks the operation's effect on target: done says whether
		// it should have happened.
		took func(t *testing.T, target *tilltest.Account, done bool)
	}{
		{
			name: "updateStaff",
			act: func(t *testing.T, actor, target *tilltest.Account) *tilltest.Result {
				return m.call(t, actor.Token, mgmtUpdateStaff, map[string]any{"staffId": target.ID, "name": "Renamed"})
			},
			took: func(t *testing.T, target *tilltest.Account, done bool) {
				require.Equal(t, done, m.staff(t, target.ID).Name == "Renamed")
				m.viewer(t, target.Token) // a rename leaves sessions alone
			},
		},
		{
			name: "setStaffPin",
			act: func(t *testing.T, actor, target *tilltest.Account) *tilltest.Result {
				return m.call(t, actor.Token, mgmtSetPin, map[string]any{"staffId": target.ID, "pin": "4821"})
			},
			took: func(t *testing.T, target *tilltest.Account, done bool) {
				want := 0
				if done {
					want = 1
				}
				require.Equal(t, want, m.auditCount(t, "staff.pin_set", target.ID))
			},
		},
		{
			name: "resetStaffPassword",
			act: func(t *testing.T, actor, target *tilltest.Account) *tilltest.Result {
				return m.call(t, actor.Token, mgmtResetPassword, map[string]any{"staffId": target.ID, "newPassword": mgmtNewPassword})
			},
			took: func(t *testing.T, target *tilltest.Account, done bool) {
				if !done {
					m.viewer(t, target.Token)
					m.LogIn(t, target.Email, tilltest.Password)
					return
				}
				m.signedOut(t, target.Token)
				m.refused(t, m.LogInResult(t, target.Email, tilltest.Password), "UNAUTHENTICATED", "")
				m.LogIn(t, target.Email, mgmtNewPassword)
			},
		},
		{
			name: "deactivateStaff",
			act: func(t *testing.T, actor, target *tilltest.Account) *tilltest.Result {
				return m.call(t, actor.Token, mgmtDeactivate, map[string]any{"staffId": target.ID})
			},
			took: func(t *testing.T, target *tilltest.Account, done bool) {
				require.Equal(t, !done, m.staff(t, target.ID).Active)
				if !done {
					m.viewer(t, target.Token)
					return
				}
				m.signedOut(t, target.Token)
				m.refused(t, m.LogInResult(t, target.Email, tilltest.Password), "UNAUTHENTICATED", "")
			},
		},
		{
			name: "reactivateStaff",
			prepare: func(t *testing.T, target *tilltest.Account) {
				m.call(t, m.owner.Token, mgmtDeactivate, map[string]any{"staffId": target.ID}).Decode(t, &struct{}{})
			},
			act: func(t *testing.T, actor, target *tilltest.Account) *tilltest.Result {
				return m.call(t, actor.Token, mgmtReactivate, map[string]any{"staffId": target.ID})
			},
			took: func(t *testing.T, target *tilltest.Account, done bool) {
				require.Equal(t, done, m.staff(t, target.ID).Active)
				if !done {
					m.refused(t, m.LogInResult(t, target.Email, tilltest.Password), "UNAUTHENTICATED", "")
					return
				}
				m.LogIn(t, target.Email, tilltest.Password)
			},
		},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			for _, actor := range mgmtRoles {
				for _, role := range mgmtRoles {
					t.Run(actor+" on "+role, func(t *testing.T) {
						target := m.AddStaff(t, m.owner, role)
						if op.prepare != nil {
							op.prepare(t, target)
						}
						res := op.act(t, actors[actor], target)
						allowed := mgmtMayManage(actor, role)
						if allowed {
							var out map[string]struct{ Staff struct{ ID string } }
							res.Decode(t, &out)
							require.Equal(t, target.ID, out[op.name].Staff.ID)
						} else {
							m.refused(t, res, "FORBIDDEN", "")
						}
						op.took(t, target, allowed)
					})
				}
			}
		})
	}

	// A role change needs the right to manage both the old role and the
	// new one, and ends the target's sessions, since tokens carry the role.
	t.Run("updateStaff role", func(t *testing.T) {
		for _, actor := range mgmtRoles {
			for _, from := range mgmtRoles {
				for _, to := range mgmtRoles {
					if from == to {
						continue
					}
					t.Run(fmt.Sprintf("%s makes %s %s", actor, from, to), func(t *testing.T) {
						target := m.AddStaff(t, m.owner, from)
						res := m.call(t, actors[actor].Token, mgmtUpdateStaff, map[string]any{"staffId": target.ID, "role": to})
						if !mgmtMayManage(actor, from) || !mgmtMayManage(actor, to) {
							m.refused(t, res, "FORBIDDEN", "")
							require.Equal(t, from, m.staff(t, target.ID).Role)
							require.Equal(t, from, m.viewer(t, target.Token).Viewer.Role, "a refused change leaves sessions alone")
							return
						}
						var out struct{ UpdateStaff struct{ Staff mgmtStaff } }
						res.Decode(t, &out)
						require.Equal(t, to, out.UpdateStaff.Staff.Role)
						require.Equal(t, to, m.staff(t, target.ID).Role)
						m.signedOut(t, target.Token)
						again := m.LogIn(t, target.Email, tilltest.Password)
						require.Equal(t, to, m.viewer(t, again.Token).Viewer.Role)
					})
				}
			}
		}
	})
}

// What staff may do to themselves.
func TestStaffSelfService(t *testing.T) {
	m := newMgmtEnv(t)
	manager := m.AddStaff(t, m.owner, "MANAGER")
	cashier := m.AddStaff(t, m.owner, "CASHIER")

	t.Run("anyone sets their own PIN", func(t *testing.T) {
		for _, a := range []*tilltest.Account{m.owner, manager, cashier} {
			m.call(t, a.Token, mgmtSetPin, map[string]any{"staffId": a.ID, "pin": "5930"}).Decode(t, &struct{}{})
			require.Equal(t, 1, m.auditCount(t, "staff.pin_set", a.ID))
			m.viewer(t, a.Token) // setting a PIN leaves sessions alone
		}
		m.refused(t, m.call(t, cashier.Token, mgmtSetPin, map[string]any{"staffId": cashier.ID, "pin": "12"}), "BAD_USER_INPUT", "pin")
	})
	t.Run("a cashier changes nothing else about themselves", func(t *testing.T) {
		m.refused(t, m.call(t, cashier.Token, mgmtUpdateStaff, map[string]any{"staffId": cashier.ID, "name": "Boss"}), "FORBIDDEN", "")
		m.refused(t, m.call(t, cashier.Token, mgmtUpdateStaff, map[string]any{"staffId": cashier.ID, "role": "MANAGER"}), "FORBIDDEN", "")
		m.refused(t, m.call(t, cashier.Token, mgmtResetPassword, map[string]any{"staffId": cashier.ID, "newPassword": mgmtNewPassword}), "FORBIDDEN", "")
		got := m.staff(t, cashier.ID)
		require.Equal(t, "CASHIER", got.Role)
		require.NotEqual(t, "Boss", got.Name)
		m.LogIn(t, cashier.Email, tilltest.Password)
	})
	t.Run("a manager cannot make themselves owner", func(t *testing.T) {
		m.refused(t, m.call(t, manager.Token, mgmtUpdateStaff, map[string]any{"staffId": manager.ID, "role": "OWNER"}), "FORBIDDEN", "")
		require.Equal(t, "MANAGER", m.staff(t, manager.ID).Role)
		require.Equal(t, "MANAGER", m.viewer(t, manager.Token).Viewer.Role)
	})
	t.Run("nobody resets their own password", func(t *testing.T) {
		// That is changePassword, which asks for the current one.
		for _, a := range []*tilltest.Account{m.owner, manager} {
			m.refused(t, m.call(t, a.Token, mgmtResetPassword, map[string]any{"staffId": a.ID, "newPassword": mgmtNewPassword}), "BAD_USER_INPUT", "staffId")
			m.viewer(t, a.Token)
			m.refused(t, m.LogInResult(t, a.Email, mgmtNewPassword), "UNAUTHENTICATED", "")
		}
	})
	t.Run("nobody deactivates themselves", func(t *testing.T) {
		m.AddStaff(t, m.owner, "OWNER") // so the owner is not the last one
		for _, a := range []*tilltest.Account{m.owner, manager} {
			m.refused(t, m.call(t, a.Token, mgmtDeactivate, map[string]any{"staffId": a.ID}), "BAD_USER_INPUT", "staffId")
			require.True(t, m.staff(t, a.ID).Active)
			m.viewer(t, a.Token)
		}
	})
	t.Run("unknown staff member", func(t *testing.T) {
		for _, q := range []string{mgmtDeactivate, mgmtReactivate} {
			m.refused(t, m.call(t, m.owner.Token, q, map[string]any{"staffId": mgmtNoStaff}), "NOT_FOUND", "")
		}
		m.refused(t, m.call(t, m.owner.Token, mgmtUpdateStaff, map[string]any{"staffId": mgmtNoStaff, "name": "X"}), "NOT_FOUND", "")
	})
}

// A merchant always keeps an active OWNER.
func TestStaffLastOwner(t *testing.T) {
	m := newMgmtEnv(t)
	owner := m.owner

	m.refused(t, m.call(t, owner.Token, mgmtUpdateStaff, map[string]any{"staffId": owner.ID, "role": "MANAGER"}), "CONFLICT", "")
	require.Equal(t, "OWNER", m.staff(t, owner.ID).Role)
	require.Equal(t, "OWNER", m.viewer(t, owner.Token).Viewer.Role, "a refused demotion leaves the session alone")

	// A deactivated owner does not count.
	second := m.AddStaff(t, owner, "OWNER")
	m.call(t, owner.Token, mgmtDeactivate, map[string]any{"staffId": second.ID}).Decode(t, &struct{}{})
	m.refused(t, m.call(t, owner.Token, mgmtUpdateStaff, map[string]any{"staffId": owner.ID, "role": "CASHIER"}), "CONFLICT", "")
	require.Equal(t, "OWNER", m.staff(t, owner.ID).Role)

	// With the second owner back, the first may step down.
	m.call(t, owner.Token, mgmtReactivate, map[string]any{"staffId": second.ID}).Decode(t, &struct{}{})
	second = m.LogIn(t, second.Email, tilltest.Password)
	m.call(t, owner.Token, mgmtUpdateStaff, map[string]any{"staffId": owner.ID, "role": "MANAGER"}).Decode(t, &struct{}{})
	m.signedOut(t, owner.Token)
	m.owner = second // reads below go through the remaining owner
	former := m.LogIn(t, owner.Email, tilltest.Password)
	require.Equal(t, "MANAGER", m.viewer(t, former.Token).Viewer.Role)

	// Now the second is the last one.
	m.refused(t, m.call(t, second.Token, mgmtUpdateStaff, map[string]any{"staffId": second.ID, "role": "MANAGER"}), "CONFLICT", "")
	m.refused(t, m.call(t, second.Token, mgmtDeactivate, map[string]any{"staffId": second.ID}), "BAD_USER_INPUT", "staffId")
	m.refused(t, m.call(t, former.Token, mgmtDeactivate, map[string]any{"staffId": second.ID}), "FORBIDDEN", "")
	got := m.staff(t, second.ID)
	require.Equal(t, "OWNER", got.Role)
	require.True(t, got.Active)
	m.viewer(t, second.Token)
}

// mgmtPost is Exec for goroutines other than the test's: it reports
// failures instead of failing the test.
func mgmtPost(ctx context.Context, url, token, query string, vars map[string]any) (*tilltest.Result, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	res := &tilltest.Result{Status: resp.StatusCode, Header: resp.Header}
	if err := json.NewDecoder(resp.Body).Decode(res); err != nil {
		return nil, fmt.Errorf("decoding HTTP %d response: %w", resp.StatusCode, err)
	}
	return res, nil
}

// Two owners removing each other at the same moment must not leave the
// merchant without an active owner: one of them has to lose.
func TestStaffLastOwnerConcurrent(t *testing.T) {
	env := tilltest.New(t, nil)
	for _, tc := range []struct {
		name  string
		query string
		input func(target string) map[string]any
	}{
		{"deactivate each other", mgmtDeactivate, func(id string) map[string]any { return map[string]any{"staffId": id} }},
		{"demote each other", mgmtUpdateStaff, func(id string) map[string]any { return map[string]any{"staffId": id, "role": "MANAGER"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const rounds = 10
			for round := range rounds {
				a := env.SignUp(t, fmt.Sprintf("Race Tea %d", round))
				b := env.AddStaff(t, a, "OWNER")
				pairs := [][2]*tilltest.Account{{a, b}, {b, a}}
				results := make([]*tilltest.Result, len(pairs))
				failures := make([]error, len(pairs))
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i, p := range pairs {
					wg.Go(func() {
						<-start
						results[i], failures[i] = mgmtPost(t.Context(), env.URL, p[0].Token, tc.query, map[string]any{"i": tc.input(p[1].ID)})
					})
				}
				close(start)
				wg.Wait()
				succeeded := 0
				var answers []string
				for i := range pairs {
					require.NoError(t, failures[i])
					if len(results[i].Errors) == 0 {
						succeeded++
					}
					answers = append(answers, fmt.Sprintf("%s %+v", results[i].Data, results[i].Errors))
				}
				require.LessOrEqual(t, succeeded, 1, "round %d: both owners were removed: %v", round, answers)
				// Whoever is still an active owner can log in and act as one.
				owners := 0
				for _, o := range []*tilltest.Account{a, b} {
					res := env.LogInResult(t, o.Email, tilltest.Password)
					if len(res.Errors) > 0 {
						continue
					}
					var out struct{ LogIn struct{ AccessToken string } }
					res.Decode(t, &out)
					var v viewerData
					env.Exec(t, out.LogIn.AccessToken, viewerQuery, nil).Decode(t, &v)
					if v.Viewer.Role == "OWNER" {
						owners++
					}
				}
				require.GreaterOrEqual(t, owners, 1, "round %d: the merchant has no active owner left", round)
			}
		})
	}
}

// Deactivating someone ends all their sessions at once; reactivating lets
// them log in again (old sessions stay dead).
func TestStaffDeactivationEndsSessions(t *testing.T) {
	m := newMgmtEnv(t)
	manager := m.AddStaff(t, m.owner, "MANAGER")
	cashier := m.AddStaff(t, m.owner, "CASHIER")
	tablet := m.LogIn(t, cashier.Email, tilltest.Password)

	var out struct{ DeactivateStaff struct{ Staff mgmtStaff } }
	m.call(t, manager.Token, mgmtDeactivate, map[string]any{"staffId": cashier.ID}).Decode(t, &out)
	require.False(t, out.DeactivateStaff.Staff.Active)
	for _, s := range []*tilltest.Account{cashier, tablet} {
		m.signedOut(t, s.Token)
		m.refused(t, refresh(t, m.Env, s.Refresh), "UNAUTHENTICATED", "")
	}
	m.refused(t, m.LogInResult(t, cashier.Email, tilltest.Password), "UNAUTHENTICATED", "")
	require.False(t, m.staff(t, cashier.ID).Active)
	require.Equal(t, 1, m.auditCount(t, "staff.deactivated", cashier.ID))
	m.viewer(t, manager.Token) // the actor's own session is untouched

	var back struct{ ReactivateStaff struct{ Staff mgmtStaff } }
	m.call(t, manager.Token, mgmtReactivate, map[string]any{"staffId": cashier.ID}).Decode(t, &back)
	require.True(t, back.ReactivateStaff.Staff.Active)
	require.True(t, m.staff(t, cashier.ID).Active)
	again := m.LogIn(t, cashier.Email, tilltest.Password)
	require.Equal(t, cashier.ID, m.viewer(t, again.Token).Viewer.Staff.ID)
	m.signedOut(t, tablet.Token)
}

// Resetting a password ends the target's sessions; only the new password
// works afterwards.
func TestStaffResetPasswordEndsSessions(t *testing.T) {
	m := newMgmtEnv(t)
	manager := m.AddStaff(t, m.owner, "MANAGER")
	phone := m.LogIn(t, manager.Email, tilltest.Password)

	// Refusals leave the password and the sessions alone.
	for _, tc := range []struct{ name, password string }{
		{"too short", "short"},
		{"the email", manager.Email},
		{"the email in capitals", strings.ToUpper(manager.Email)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := m.call(t, m.owner.Token, mgmtResetPassword, map[string]any{"staffId": manager.ID, "newPassword": tc.password})
			m.refused(t, res, "BAD_USER_INPUT", "newPassword")
			m.viewer(t, manager.Token)
		})
	}
	pinOnly := m.call(t, m.owner.Token, mgmtCreateStaff, map[string]any{"name": "Till Only", "role": "CASHIER", "pin": "5930"})
	var created struct{ CreateStaff struct{ Staff mgmtStaff } }
	pinOnly.Decode(t, &created)
	m.refused(t, m.call(t, m.owner.Token, mgmtResetPassword, map[string]any{"staffId": created.CreateStaff.Staff.ID, "newPassword": mgmtNewPassword}),
		"BAD_USER_INPUT", "staffId")

	m.call(t, m.owner.Token, mgmtResetPassword, map[string]any{"staffId": manager.ID, "newPassword": mgmtNewPassword}).Decode(t, &struct{}{})
	for _, s := range []*tilltest.Account{manager, phone} {
		m.signedOut(t, s.Token)
		m.refused(t, refresh(t, m.Env, s.Refresh), "UNAUTHENTICATED", "")
	}
	m.refused(t, m.LogInResult(t, manager.Email, tilltest.Password), "UNAUTHENTICATED", "")
	again := m.LogIn(t, manager.Email, mgmtNewPassword)
	require.Equal(t, "MANAGER", m.viewer(t, again.Token).Viewer.Role)
	require.Equal(t, 1, m.auditCount(t, "staff.password_reset", manager.ID))
}

// Bad input to createStaff names the field at fault and writes nothing.
// A store ID that is not the merchant's is NOT_FOUND (still naming the
// field), as another merchant's store is, so the two cannot be told apart.
func TestStaffCreateValidation(t *testing.T) {
	m := newMgmtEnv(t)
	fresh := tilltest.UniqueEmail("fresh")
	valid := func(change map[string]any) map[string]any {
		in := map[string]any{"name": "Ada", "email": fresh, "password": tilltest.Password, "role": "MANAGER", "pin": "5930"}
		for k, v := range change {
			if v == nil {
				delete(in, k)
			} else {
				in[k] = v
			}
		}
		return in
	}
	for _, tc := range []struct {
		name        string
		input       map[string]any
		code, field string
	}{
		{"empty name", valid(map[string]any{"name": "   "}), "BAD_USER_INPUT", "name"},
		{"short password", valid(map[string]any{"password": "short"}), "BAD_USER_INPUT", "password"},
		{"password is the email", valid(map[string]any{"password": fresh}), "BAD_USER_INPUT", "password"},
		{"password is the email in capitals", valid(map[string]any{"password": strings.ToUpper(fresh)}), "BAD_USER_INPUT", "password"},
		{"manager without password", valid(map[string]any{"password": nil}), "BAD_USER_INPUT", "password"},
		{"manager without email", valid(map[string]any{"email": nil}), "BAD_USER_INPUT", "email"},
		{"cashier with password but no email", valid(map[string]any{"role": "CASHIER", "email": nil}), "BAD_USER_INPUT", "email"},
		{"cashier without password or PIN", valid(map[string]any{"role": "CASHIER", "email": nil, "password": nil, "pin": nil}), "BAD_USER_INPUT", "pin"},
		{"PIN too short", valid(map[string]any{"pin": "593"}), "BAD_USER_INPUT", "pin"},
		{"PIN too long", valid(map[string]any{"pin": "593017284"}), "BAD_USER_INPUT", "pin"},
		{"PIN not digits", valid(map[string]any{"pin": "59a0"}), "BAD_USER_INPUT", "pin"},
		{"PIN one digit repeated", valid(map[string]any{"pin": "1111"}), "BAD_USER_INPUT", "pin"},
		{"PIN a run", valid(map[string]any{"pin": "1234"}), "BAD_USER_INPUT", "pin"},
		{"PIN-only cashier with bad PIN", valid(map[string]any{"role": "CASHIER", "email": nil, "password": nil, "pin": "12345a"}), "BAD_USER_INPUT", "pin"},
		{"email without @", valid(map[string]any{"email": "ada.example.com"}), "BAD_USER_INPUT", "email"},
		{"email without domain dot", valid(map[string]any{"email": "ada@localhost"}), "BAD_USER_INPUT", "email"},
		{"email with space", valid(map[string]any{"email": "ada lovelace@example.com"}), "BAD_USER_INPUT", "email"},
		{"unknown store", valid(map[string]any{"storeIds": []string{mgmtNoStore}}), "NOT_FOUND", "storeIds"},
		{"one unknown store among known", valid(map[string]any{"storeIds": []string{m.owner.StoreID, mgmtNoStore}}), "NOT_FOUND", "storeIds"},
		{"staff ID as store", valid(map[string]any{"storeIds": []string{m.owner.ID}}), "NOT_FOUND", "storeIds"},
		{"malformed store ID", valid(map[string]any{"storeIds": []string{"nope"}}), "NOT_FOUND", "storeIds"},
		{"email already registered", valid(map[string]any{"email": strings.ToUpper(m.owner.Email)}), "CONFLICT", "email"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, audits := m.staffCount(t), m.auditCount(t, "staff.created", "")
			m.refused(t, m.call(t, m.owner.Token, mgmtCreateStaff, tc.input), tc.code, tc.field)
			require.Equal(t, before, m.staffCount(t), "no staff member was written")
			require.Equal(t, audits, m.auditCount(t, "staff.created", ""), "nothing was audited")
		})
	}
	// No failed attempt left anything holding the email.
	m.refused(t, m.LogInResult(t, fresh, tilltest.Password), "UNAUTHENTICATED", "")
	var out struct{ CreateStaff struct{ Staff mgmtStaff } }
	m.call(t, m.owner.Token, mgmtCreateStaff, valid(map[string]any{"email": "  " + strings.ToUpper(fresh) + " "})).Decode(t, &out)
	require.Equal(t, fresh, *out.CreateStaff.Staff.Email, "emails are trimmed and lower-cased")
	m.LogIn(t, fresh, tilltest.Password)
}

// Bad input to updateStaff and setStaffPin names the field and changes
// nothing: not the other fields, not the sessions.
func TestStaffUpdateValidation(t *testing.T) {
	m := newMgmtEnv(t)
	cashier := m.AddStaff(t, m.owner, "CASHIER")
	name := m.staff(t, cashier.ID).Name
	for _, tc := range []struct {
		name        string
		input       map[string]any
		code, field string
	}{
		{"empty name", map[string]any{"name": " ", "role": "MANAGER"}, "BAD_USER_INPUT", "name"},
		{"unknown store", map[string]any{"name": "Renamed", "role": "MANAGER", "storeIds": []string{mgmtNoStore}}, "NOT_FOUND", "storeIds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.input["staffId"] = cashier.ID
			m.refused(t, m.call(t, m.owner.Token, mgmtUpdateStaff, tc.input), tc.code, tc.field)
			got := m.staff(t, cashier.ID)
			require.Equal(t, name, got.Name)
			require.Equal(t, "CASHIER", got.Role)
			require.Len(t, got.Stores, 1)
			require.Equal(t, "CASHIER", m.viewer(t, cashier.Token).Viewer.Role, "a refused role change leaves sessions alone")
		})
	}
	for _, pin := range []string{"", "12", "123456789", "12 4", "٣٤٥٦", "0000", "9876"} {
		t.Run("PIN "+pin, func(t *testing.T) {
			m.refused(t, m.call(t, m.owner.Token, mgmtSetPin, map[string]any{"staffId": cashier.ID, "pin": pin}), "BAD_USER_INPUT", "pin")
			require.Zero(t, m.auditCount(t, "staff.pin_set", cashier.ID))
		})
	}
	for _, pin := range []string{"5930", "59301728"} {
		m.call(t, m.owner.Token, mgmtSetPin, map[string]any{"staffId": cashier.ID, "pin": pin}).Decode(t, &struct{}{})
	}
	require.Equal(t, 2, m.auditCount(t, "staff.pin_set", cashier.ID))
}

// changePassword checks the current password and the policy, ends the
// caller's other sessions, and restarts the 90-day rotation for OWNERs
// and MANAGERs; a CASHIER's password never expires.
func TestStaffChangePassword(t *testing.T) {
	var mu sync.Mutex
	start := time.Now()
	now := start
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m := newMgmtEnv(t, server.WithClock(clock))
	people := map[string]*tilltest.Account{
		"OWNER":   m.owner,
		"MANAGER": m.AddStaff(t, m.owner, "MANAGER"),
		"CASHIER": m.AddStaff(t, m.owner, "CASHIER"),
	}
	// Ten days on, everyone's password is ten days old.
	mu.Lock()
	now = now.Add(10 * 24 * time.Hour)
	mu.Unlock()
	const maxAge = 90 * 24 * time.Hour

	for _, role := range mgmtRoles {
		t.Run(role, func(t *testing.T) {
			email := people[role].Email
			a := m.LogIn(t, email, tilltest.Password)
			other := m.LogIn(t, email, tilltest.Password)
			before := m.viewer(t, a.Token).Viewer.PasswordExpiresAt
			if role == "CASHIER" {
				require.Nil(t, before)
			} else {
				require.NotNil(t, before)
				require.WithinDuration(t, start.Add(maxAge), *before, time.Hour)
			}

			if role == "OWNER" {
				for _, tc := range []struct{ name, current, next, field string }{
					{"wrong current password", "not the password", mgmtNewPassword, "currentPassword"},
					{"too short", tilltest.Password, "short", "newPassword"},
					{"the email", tilltest.Password, email, "newPassword"},
					{"unchanged", tilltest.Password, tilltest.Password, "newPassword"},
				} {
					t.Run(tc.name, func(t *testing.T) {
						res := m.call(t, a.Token, mgmtChangePw, map[string]any{"currentPassword": tc.current, "newPassword": tc.next})
						m.refused(t, res, "BAD_USER_INPUT", tc.field)
						m.viewer(t, a.Token)
						m.viewer(t, other.Token)
					})
				}
			}

			var out struct {
				ChangePassword struct {
					Viewer struct {
						Role              string
						PasswordExpiresAt *time.Time
					}
				}
			}
			m.call(t, a.Token, mgmtChangePw, map[string]any{"currentPassword": tilltest.Password, "newPassword": mgmtNewPassword}).Decode(t, &out)
			got := out.ChangePassword.Viewer
			require.Equal(t, role, got.Role)
			after := m.viewer(t, a.Token).Viewer.PasswordExpiresAt // the caller's session goes on
			if role == "CASHIER" {
				require.Nil(t, got.PasswordExpiresAt)
				require.Nil(t, after)
			} else {
				require.NotNil(t, got.PasswordExpiresAt)
				require.WithinDuration(t, clock().Add(maxAge), *got.PasswordExpiresAt, time.Minute)
				require.NotNil(t, after)
				require.WithinDuration(t, *got.PasswordExpiresAt, *after, time.Second)
			}
			m.signedOut(t, other.Token)
			m.refused(t, m.LogInResult(t, email, tilltest.Password), "UNAUTHENTICATED", "")
			m.LogIn(t, email, mgmtNewPassword)
		})
	}
}

// Opening stores is the OWNER's; changing one is the OWNER's or a
// MANAGER's who works there.
func TestStoreCreateAndUpdate(t *testing.T) {
	m := newMgmtEnv(t)
	manager := m.AddStaff(t, m.owner, "MANAGER") // works at the first store
	cashier := m.AddStaff(t, m.owner, "CASHIER")
	first := m.owner.StoreID

	var created struct{ CreateStore struct{ Store mgmtStore } }
	m.call(t, m.owner.Token, mgmtCreateStore, map[string]any{"name": " Riverside ", "address": "1 River Rd", "timeZone": "Europe/Berlin"}).Decode(t, &created)
	riverside := created.CreateStore.Store
	require.Equal(t, "Riverside", riverside.Name)
	require.Equal(t, "Europe/Berlin", riverside.TimeZone)
	require.NotNil(t, riverside.Address)
	require.Equal(t, "1 River Rd", *riverside.Address)
	require.Len(t, m.viewer(t, m.owner.Token).Viewer.Stores, 2, "an owner works at every store")
	require.Len(t, m.viewer(t, manager.Token).Viewer.Stores, 1)

	t.Run("createStore refusals", func(t *testing.T) {
		for _, tc := range []struct {
			name        string
			token       string
			input       map[string]any
			code, field string
		}{
			{"manager", manager.Token, map[string]any{"name": "Mine", "timeZone": "Asia/Shanghai"}, "FORBIDDEN", ""},
			{"cashier", cashier.Token, map[string]any{"name": "Mine", "timeZone": "Asia/Shanghai"}, "FORBIDDEN", ""},
			{"unknown time zone", m.owner.Token, map[string]any{"name": "Mars", "timeZone": "Mars/Olympus_Mons"}, "BAD_USER_INPUT", "timeZone"},
			{"Local", m.owner.Token, map[string]any{"name": "Here", "timeZone": "Local"}, "BAD_USER_INPUT", "timeZone"},
			{"empty time zone", m.owner.Token, map[string]any{"name": "Nowhere", "timeZone": ""}, "BAD_USER_INPUT", "timeZone"},
			{"path as time zone", m.owner.Token, map[string]any{"name": "Root", "timeZone": "/etc/passwd"}, "BAD_USER_INPUT", "timeZone"},
			{"empty name", m.owner.Token, map[string]any{"name": "  ", "timeZone": "Asia/Shanghai"}, "BAD_USER_INPUT", "name"},
			{"long address", m.owner.Token, map[string]any{"name": "Far", "address": strings.Repeat("a", 501), "timeZone": "Asia/Shanghai"}, "BAD_USER_INPUT", "address"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				m.refused(t, m.call(t, tc.token, mgmtCreateStore, tc.input), tc.code, tc.field)
				require.Len(t, m.storeNames(t, m.owner.Token), 2, "no store was opened")
			})
		}
	})

	rename := func(t *testing.T, token, storeID, name string) *tilltest.Result {
		t.Helper()
		return m.call(t, token, mgmtUpdateStore, map[string]any{"storeId": storeID, "name": name})
	}
	t.Run("updateStore by a manager of the store", func(t *testing.T) {
		var out struct{ UpdateStore struct{ Store mgmtStore } }
		rename(t, manager.Token, first, "Main Street").Decode(t, &out)
		require.Equal(t, "Main Street", out.UpdateStore.Store.Name)
		require.Equal(t, "Asia/Shanghai", out.UpdateStore.Store.TimeZone, "fields not given stay")
		require.Equal(t, "Main Street", m.storeNames(t, m.owner.Token)[first])
	})
	t.Run("updateStore by a manager not of the store", func(t *testing.T) {
		// The manager sees the store, so it is not missing: they may just
		// not change it.
		require.Contains(t, m.storeNames(t, manager.Token), riverside.ID)
		m.refused(t, rename(t, manager.Token, riverside.ID, "Managed"), "FORBIDDEN", "")
		require.Equal(t, "Riverside", m.storeNames(t, m.owner.Token)[riverside.ID])
	})
	t.Run("updateStore refusals", func(t *testing.T) {
		m.refused(t, rename(t, cashier.Token, first, "Cashed"), "FORBIDDEN", "")
		m.refused(t, rename(t, m.owner.Token, mgmtNoStore, "Ghost"), "NOT_FOUND", "")
		m.refused(t, m.call(t, m.owner.Token, mgmtUpdateStore, map[string]any{"storeId": riverside.ID, "name": "Half", "timeZone": "Mars/Olympus_Mons"}),
			"BAD_USER_INPUT", "timeZone")
		m.refused(t, m.call(t, m.owner.Token, mgmtUpdateStore, map[string]any{"storeId": riverside.ID, "name": ""}), "BAD_USER_INPUT", "name")
		m.refused(t, m.call(t, m.owner.Token, mgmtUpdateStore, map[string]any{"storeId": riverside.ID, "address": strings.Repeat("a", 501)}), "BAD_USER_INPUT", "address")
		names := m.storeNames(t, m.owner.Token)
		require.NotEqual(t, "Cashed", names[first])
		require.Equal(t, "Riverside", names[riverside.ID], "a refused update changes nothing")
	})
	t.Run("updateStore by the owner", func(t *testing.T) {
		var out struct{ UpdateStore struct{ Store mgmtStore } }
		m.call(t, m.owner.Token, mgmtUpdateStore, map[string]any{"storeId": riverside.ID, "timeZone": "Asia/Tokyo", "address": "2 River Rd"}).Decode(t, &out)
		require.Equal(t, "Asia/Tokyo", out.UpdateStore.Store.TimeZone)
		require.Equal(t, "Riverside", out.UpdateStore.Store.Name)
		require.NotNil(t, out.UpdateStore.Store.Address)
		require.Equal(t, "2 River Rd", *out.UpdateStore.Store.Address)
	})

	t.Run("a manager's stores follow updateStaff", func(t *testing.T) {
		var out struct{ UpdateStaff struct{ Staff mgmtStaff } }
		m.call(t, m.owner.Token, mgmtUpdateStaff, map[string]any{"staffId": manager.ID, "storeIds": []string{first, riverside.ID}}).Decode(t, &out)
		require.Len(t, out.UpdateStaff.Staff.Stores, 2)
		require.Len(t, m.viewer(t, manager.Token).Viewer.Stores, 2, "store changes need no new login")
		rename(t, manager.Token, riverside.ID, "Riverside Two").Decode(t, &struct{}{})

		m.call(t, m.owner.Token, mgmtUpdateStaff, map[string]any{"staffId": manager.ID, "storeIds": []string{}}).Decode(t, &out)
		require.Empty(t, out.UpdateStaff.Staff.Stores)
		require.Empty(t, m.viewer(t, manager.Token).Viewer.Stores)
		m.refused(t, rename(t, manager.Token, first, "Not Mine"), "FORBIDDEN", "")
		require.Equal(t, "Main Street", m.storeNames(t, m.owner.Token)[first])
	})
}

// Only the OWNER changes the merchant.
func TestMerchantUpdate(t *testing.T) {
	m := newMgmtEnv(t)
	manager := m.AddStaff(t, m.owner, "MANAGER")
	cashier := m.AddStaff(t, m.owner, "CASHIER")

	var out struct {
		UpdateMerchant struct{ Merchant mgmtMerchant }
	}
	m.call(t, m.owner.Token, mgmtUpdateMerchant, map[string]any{"name": " Lotus Tea House ", "locale": "zh-cn"}).Decode(t, &out)
	require.Equal(t, "Lotus Tea House", out.UpdateMerchant.Merchant.Name)
	require.Equal(t, "zh-CN", out.UpdateMerchant.Merchant.Locale, "locales are stored in canonical form")
	require.Equal(t, "Lotus Tea House", m.viewer(t, cashier.Token).Viewer.Merchant.Name)

	for _, tc := range []struct {
		name        string
		token       string
		input       map[string]any
		code, field string
	}{
		{"manager", manager.Token, map[string]any{"name": "Manager Tea"}, "FORBIDDEN", ""},
		{"cashier", cashier.Token, map[string]any{"locale": "en"}, "FORBIDDEN", ""},
		{"bad locale", m.owner.Token, map[string]any{"name": "Half Tea", "locale": "not a locale!"}, "BAD_USER_INPUT", "locale"},
		{"empty locale", m.owner.Token, map[string]any{"locale": ""}, "BAD_USER_INPUT", "locale"},
		{"empty name", m.owner.Token, map[string]any{"name": "  ", "locale": "en"}, "BAD_USER_INPUT", "name"},
		{"long name", m.owner.Token, map[string]any{"name": strings.Repeat("茶", 201)}, "BAD_USER_INPUT", "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m.refused(t, m.call(t, tc.token, mgmtUpdateMerchant, tc.input), tc.code, tc.field)
			merchant := m.viewer(t, m.owner.Token).Viewer.Merchant
			require.Equal(t, "Lotus Tea House", merchant.Name, "nothing changed")
			var loc struct {
				Viewer struct{ Merchant struct{ Locale string } }
			}
			m.Exec(t, m.owner.Token, `{ viewer { merchant { locale } } }`, nil).Decode(t, &loc)
			require.Equal(t, "zh-CN", loc.Viewer.Merchant.Locale)
		})
	}
}

// Connections page through staff: 20 by default, at most 100, and cursors
// visit everyone exactly once in any order.
func TestPaginationStaffMembers(t *testing.T) {
	m := newMgmtEnv(t)
	const cashiers = 24
	for i := range cashiers {
		// Names repeat, so ordering by name has ties for the cursor to break.
		m.call(t, m.owner.Token, mgmtCreateStaff, map[string]any{
			"name": fmt.Sprintf("Cashier %d", i%5), "role": "CASHIER", "pin": "5930", "storeIds": []string{m.owner.StoreID},
		}).Decode(t, &struct{}{})
	}
	const total = cashiers + 1

	type page struct {
		StaffMembers struct {
			TotalCount int
			Edges      []struct {
				Cursor string
				Node   struct{ ID, Name string }
			}
			PageInfo struct {
				HasNextPage, HasPreviousPage bool
				StartCursor, EndCursor       *string
			}
		}
	}
	const pageQuery = `query($first: Int, $after: Cursor, $last: Int, $before: Cursor, $orderBy: [StaffOrder!]) {
		staffMembers(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy) {
			totalCount
			edges { cursor node { id name } }
			pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
		}
	}`
	get := func(t *testing.T, vars map[string]any) page {
		t.Helper()
		var p page
		m.Exec(t, m.owner.Token, pageQuery, vars).Decode(t, &p)
		return p
	}

	all := get(t, map[string]any{"first": 100})
	require.Equal(t, total, all.StaffMembers.TotalCount)
	require.Len(t, all.StaffMembers.Edges, total)
	require.False(t, all.StaffMembers.PageInfo.HasNextPage)
	var everyone []string
	for _, e := range all.StaffMembers.Edges {
		everyone = append(everyone, e.Node.ID)
	}
	slices.Sort(everyone)

	t.Run("default page size", func(t *testing.T) {
		p := get(t, nil)
		require.Equal(t, total, p.StaffMembers.TotalCount)
		require.Len(t, p.StaffMembers.Edges, 20)
		require.True(t, p.StaffMembers.PageInfo.HasNextPage)
	})

	t.Run("default page size of a nested connection", func(t *testing.T) {
		var nested struct {
			Stores struct {
				Edges []struct {
					Node struct {
						Staff struct {
							TotalCount int
							Edges      []struct{ Node struct{ ID string } }
							PageInfo   struct{ HasNextPage bool }
						}
					}
				}
			}
		}
		for name, query := range map[string]string{
			"inline":   `{ stores { edges { node { staff { totalCount edges { node { id } } pageInfo { hasNextPage } } } } } }`,
			"fragment": `{ stores { edges { node { ...S } } } } fragment S on Store { staff { totalCount edges { node { id } } pageInfo { hasNextPage } } }`,
		} {
			t.Run(name, func(t *testing.T) {
				m.Exec(t, m.owner.Token, query, nil).Decode(t, &nested)
				require.Len(t, nested.Stores.Edges, 1)
				staff := nested.Stores.Edges[0].Node.Staff
				require.Equal(t, total, staff.TotalCount)
				require.Len(t, staff.Edges, 20, "Store.staff without first gets the default page size too")
				require.True(t, staff.PageInfo.HasNextPage)
			})
		}
	})

	// The default is filled in per request: the parsed query is cached and
	// shared, and a later request's own first must still count.
	t.Run("default leaves the cached query alone", func(t *testing.T) {
		for _, tc := range []struct {
			first any
			want  int
		}{{nil, 20}, {5, 5}, {nil, 20}, {7, 7}} {
			require.Len(t, get(t, map[string]any{"first": tc.first}).StaffMembers.Edges, tc.want, "first: %v", tc.first)
		}
	})

	t.Run("page size bounds", func(t *testing.T) {
		m.refused(t, m.Exec(t, m.owner.Token, pageQuery, map[string]any{"first": 101}), "BAD_USER_INPUT", "first")
		m.refused(t, m.Exec(t, m.owner.Token, pageQuery, map[string]any{"last": 101}), "BAD_USER_INPUT", "last")
		require.Len(t, get(t, map[string]any{"first": 100}).StaffMembers.Edges, total)
		require.Empty(t, get(t, map[string]any{"first": 0}).StaffMembers.Edges)
	})

	orders := map[string]any{
		"default":         nil,
		"name descending": []map[string]any{{"field": "NAME", "direction": "DESC"}},
		"name ascending":  []map[string]any{{"field": "NAME"}},
		"created at":      []map[string]any{{"field": "CREATED_AT"}},
		"role then name":  []map[string]any{{"field": "ROLE"}, {"field": "NAME", "direction": "DESC"}},
	}
	for name, orderBy := range orders {
		t.Run("forwards by "+name, func(t *testing.T) {
			var seen, names []string
			var after any
			for pages := 0; ; pages++ {
				require.Less(t, pages, total, "paging does not end")
				p := get(t, map[string]any{"first": 7, "after": after, "orderBy": orderBy})
				require.Equal(t, total, p.StaffMembers.TotalCount)
				require.LessOrEqual(t, len(p.StaffMembers.Edges), 7)
				for _, e := range p.StaffMembers.Edges {
					seen = append(seen, e.Node.ID)
					names = append(names, e.Node.Name)
				}
				if !p.StaffMembers.PageInfo.HasNextPage {
					break
				}
				require.Len(t, p.StaffMembers.Edges, 7, "only the last page is short")
				require.NotNil(t, p.StaffMembers.PageInfo.EndCursor)
				require.Equal(t, p.StaffMembers.Edges[6].Cursor, *p.StaffMembers.PageInfo.EndCursor)
				after = *p.StaffMembers.PageInfo.EndCursor
			}
			require.Len(t, seen, total, "every staff member once: %v", seen)
			sorted := slices.Sorted(slices.Values(seen))
			require.Equal(t, everyone, sorted, "every staff member once")
			if name == "name descending" {
				require.True(t, slices.IsSortedFunc(names, func(a, b string) int { return strings.Compare(b, a) }), "%v", names)
			}
			if name == "name ascending" {
				require.True(t, slices.IsSorted(names), "%v", names)
			}
		})
	}

	t.Run("backwards", func(t *testing.T) {
		var seen []string
		var before any
		for pages := 0; ; pages++ {
			require.Less(t, pages, total, "paging does not end")
			p := get(t, map[string]any{"last": 6, "before": before, "orderBy": orders["name descending"]})
			for _, e := range slices.Backward(p.StaffMembers.Edges) {
				seen = append(seen, e.Node.ID)
			}
			if !p.StaffMembers.PageInfo.HasPreviousPage {
				break
			}
			require.NotNil(t, p.StaffMembers.PageInfo.StartCursor)
			before = *p.StaffMembers.PageInfo.StartCursor
		}
		require.Equal(t, everyone, slices.Sorted(slices.Values(seen)), "every staff member once")
	})
}

// Operators list merchants.
func TestOperatorListsMerchants(t *testing.T) {
	env := tilltest.New(t, nil)
	op := env.Operator(t)
	want := map[string]string{}
	for _, name := range []string{"Lotus Tea", "Plum Bakery", "Fig Books"} {
		want[env.SignUp(t, name).MerchantID] = name
	}
	var out struct {
		Merchants struct {
			TotalCount int
			Edges      []struct{ Node mgmtMerchant }
		}
	}
	env.Exec(t, op.Token, `{ merchants(orderBy: [{field: NAME}]) { totalCount edges { node { `+mgmtMerchantFields+` } } } }`, nil).Decode(t, &out)
	require.Equal(t, len(want), out.Merchants.TotalCount)
	got := map[string]string{}
	var names []string
	for _, e := range out.Merchants.Edges {
		got[e.Node.ID] = e.Node.Name
		names = append(names, e.Node.Name)
		require.Equal(t, "ACTIVE", e.Node.Status)
		require.Nil(t, e.Node.SuspendedAt)
		require.Nil(t, e.Node.SuspendedReason, "no suspension reason")
	}
	require.Equal(t, want, got)
	require.Equal(t, []string{"Fig Books", "Lotus Tea", "Plum Bakery"}, names)
}

// A suspended merchant's staff get FORBIDDEN on everything but logging
// out; reactivation gives them their access back.
func TestOperatorSuspendMerchant(t *testing.T) {
	m := newMgmtEnv(t)
	op := m.Operator(t)
	owner := m.owner
	manager := m.AddStaff(t, owner, "MANAGER")
	cashier := m.AddStaff(t, owner, "CASHIER")
	spare := m.LogIn(t, owner.Email, tilltest.Password)
	other := m.SignUp(t, "Plum Bakery")

	var out struct {
		SuspendMerchant struct{ Merchant mgmtMerchant }
	}
	m.call(t, op.Token, mgmtSuspendMerchant, map[string]any{"merchantId": owner.MerchantID, "reason": " unpaid invoices "}).Decode(t, &out)
	got := out.SuspendMerchant.Merchant
	require.Equal(t, owner.MerchantID, got.ID)
	require.Equal(t, "SUSPENDED", got.Status)
	require.NotNil(t, got.SuspendedReason)
	require.Equal(t, "unpaid invoices", *got.SuspendedReason)
	require.NotNil(t, got.SuspendedAt)
	require.WithinDuration(t, time.Now(), *got.SuspendedAt, time.Minute)

	var listed struct {
		Merchants struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	m.Exec(t, op.Token, `{ merchants(where: {status: SUSPENDED}) { edges { node { id } } } }`, nil).Decode(t, &listed)
	require.Len(t, listed.Merchants.Edges, 1)
	require.Equal(t, owner.MerchantID, listed.Merchants.Edges[0].Node.ID)

	t.Run("staff are refused", func(t *testing.T) {
		for _, a := range []*tilltest.Account{owner, manager, cashier} {
			for _, tc := range []struct {
				query string
				vars  map[string]any
			}{
				{viewerQuery, nil},
				{`{ staffMembers { totalCount } }`, nil},
				{`{ stores { totalCount } }`, nil},
				{mgmtCreateStaff, map[string]any{"i": map[string]any{"name": "Late", "role": "CASHIER", "pin": "5930"}}},
				{mgmtSetPin, map[string]any{"i": map[string]any{"staffId": a.ID, "pin": "5930"}}},
				{mgmtChangePw, map[string]any{"i": map[string]any{"currentPassword": tilltest.Password, "newPassword": mgmtNewPassword}}},
				{mgmtUpdateMerchant, map[string]any{"i": map[string]any{"name": "Renamed"}}},
				{mgmtCreateStore, map[string]any{"i": map[string]any{"name": "More", "timeZone": "Asia/Shanghai"}}},
			} {
				res := m.Exec(t, a.Token, tc.query, tc.vars)
				m.refused(t, res, "FORBIDDEN", "")
				requireNoData(t, res)
			}
		}
		m.refused(t, m.LogInResult(t, manager.Email, tilltest.Password), "FORBIDDEN", "")
		m.refused(t, refresh(t, m.Env, manager.Refresh), "FORBIDDEN", "")
		m.viewer(t, other.Token) // other merchants carry on
	})

	t.Run("logging out is allowed", func(t *testing.T) {
		var lo struct{ LogOut struct{ EndedSessions int } }
		m.Exec(t, spare.Token, `mutation { logOut { endedSessions } }`, nil).Decode(t, &lo)
		require.Equal(t, 1, lo.LogOut.EndedSessions)
		m.signedOut(t, spare.Token)
		var loe struct{ LogOutEverywhere struct{ EndedSessions int } }
		m.Exec(t, cashier.Token, `mutation { logOutEverywhere { endedSessions } }`, nil).Decode(t, &loe)
		require.Equal(t, 1, loe.LogOutEverywhere.EndedSessions)
		m.signedOut(t, cashier.Token)
	})

	var back struct {
		ReactivateMerchant struct{ Merchant mgmtMerchant }
	}
	m.call(t, op.Token, mgmtReactivateMerchant, map[string]any{"merchantId": owner.MerchantID}).Decode(t, &back)
	got = back.ReactivateMerchant.Merchant
	require.Equal(t, "ACTIVE", got.Status)
	require.Nil(t, got.SuspendedAt)
	require.Nil(t, got.SuspendedReason, "a reactivated merchant has no suspension reason")
	require.Equal(t, got, m.merchant(t, op.Token, owner.MerchantID))

	t.Run("reactivation restores access", func(t *testing.T) {
		// Sessions outlive the suspension.
		require.Equal(t, "OWNER", m.viewer(t, owner.Token).Viewer.Role)
		m.call(t, owner.Token, mgmtCreateStaff, map[string]any{"name": "Back", "role": "CASHIER", "pin": "5930"}).Decode(t, &struct{}{})
		m.LogIn(t, cashier.Email, tilltest.Password)
		// The refresh token refused during the suspension still works.
		var r struct{ RefreshSession struct{ AccessToken string } }
		refresh(t, m.Env, manager.Refresh).Decode(t, &r)
		require.Equal(t, "MANAGER", m.viewer(t, r.RefreshSession.AccessToken).Viewer.Role)
	})
}

// Only operators change a merchant's status.
func TestOperatorOnlyControls(t *testing.T) {
	m := newMgmtEnv(t)
	op := m.Operator(t)
	manager := m.AddStaff(t, m.owner, "MANAGER")
	cashier := m.AddStaff(t, m.owner, "CASHIER")
	other := m.SignUp(t, "Plum Bakery")

	for _, a := range []*tilltest.Account{m.owner, manager, cashier, other} {
		for _, id := range []string{m.owner.MerchantID, other.MerchantID} {
			m.refused(t, m.call(t, a.Token, mgmtSuspendMerchant, map[string]any{"merchantId": id, "reason": "mischief"}), "FORBIDDEN", "")
			m.refused(t, m.call(t, a.Token, mgmtReactivateMerchant, map[string]any{"merchantId": id}), "FORBIDDEN", "")
		}
	}
	m.refused(t, m.call(t, "", mgmtSuspendMerchant, map[string]any{"merchantId": other.MerchantID, "reason": "mischief"}), "UNAUTHENTICATED", "")
	for _, id := range []string{m.owner.MerchantID, other.MerchantID} {
		require.Equal(t, "ACTIVE", m.merchant(t, op.Token, id).Status)
	}
	m.viewer(t, m.owner.Token)
	m.viewer(t, other.Token)

	m.refused(t, m.call(t, op.Token, mgmtSuspendMerchant, map[string]any{"merchantId": other.MerchantID, "reason": "  "}), "BAD_USER_INPUT", "reason")
	m.refused(t, m.call(t, op.Token, mgmtSuspendMerchant, map[string]any{"merchantId": mgmtNoMerchant, "reason": "mischief"}), "NOT_FOUND", "")
	m.refused(t, m.call(t, op.Token, mgmtReactivateMerchant, map[string]any{"merchantId": mgmtNoMerchant}), "NOT_FOUND", "")
	require.Equal(t, "ACTIVE", m.merchant(t, op.Token, other.MerchantID).Status)

	// Operators serve merchants; they do not act as their staff.
	before := m.staffCount(t)
	for _, tc := range []struct {
		query string
		input map[string]any
	}{
		{mgmtCreateStaff, map[string]any{"name": "Op", "role": "CASHIER", "pin": "5930"}},
		{mgmtUpdateStaff, map[string]any{"staffId": cashier.ID, "name": "Op"}},
		{mgmtSetPin, map[string]any{"staffId": cashier.ID, "pin": "5930"}},
		{mgmtDeactivate, map[string]any{"staffId": cashier.ID}},
		{mgmtUpdateMerchant, map[string]any{"name": "Op Tea"}},
		{mgmtCreateStore, map[string]any{"name": "Op Store", "timeZone": "Asia/Shanghai"}},
		{mgmtUpdateStore, map[string]any{"storeId": m.owner.StoreID, "name": "Op Store"}},
	} {
		m.refused(t, m.call(t, op.Token, tc.query, tc.input), "FORBIDDEN", "")
	}
	require.Equal(t, before, m.staffCount(t))
	require.True(t, m.staff(t, cashier.ID).Active)
	m.viewer(t, cashier.Token)
}
