package server_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/internal/tilltest"
)

// The tenant-isolation tests: two merchants share one server, and nothing
// merchant B's owner asks for or does reaches merchant A. Another
// merchant's object answers NOT_FOUND, exactly as an object that does not
// exist, so its existence never leaks.

// tenancyFixture is merchant A (owner, manager, cashier, a deactivated
// PIN-only cashier, two stores), merchant B (owner, cashier, one store) and
// a platform operator, all on one server.
type tenancyFixture struct {
	env *tilltest.Env

	aOwner, aManager, aCashier *tilltest.Account
	aMerchant, aStore, aStore2 string
	// aFormer is a deactivated PIN-only cashier of A.
	aFormer string
	aAudit  []string

	bOwner, bCashier  *tilltest.Account
	bMerchant, bStore string
	bAudit            []string

	operator *tilltest.Account
}

// tenancyObject is an object named for a subtest, and someone who may see it.
type tenancyObject struct {
	name, id string
	seer     *tilltest.Account
}

func newTenancyFixture(t *testing.T) *tenancyFixture {
	t.Helper()
	env := tilltest.New(t, nil)
	f := &tenancyFixture{env: env}
	f.operator = env.Operator(t)

	f.aOwner = env.SignUp(t, "Lotus Tea")
	f.aMerchant, f.aStore = f.aOwner.MerchantID, f.aOwner.StoreID
	var store struct {
		CreateStore struct{ Store struct{ ID string } }
	}
	env.Exec(t, f.aOwner.Token, `mutation($i: CreateStoreInput!) { createStore(input: $i) { store { id } } }`,
		map[string]any{"i": map[string]any{"name": "Lotus Tea Riverside", "address": "1 River Road", "timeZone": "Asia/Shanghai"}}).
		Decode(t, &store)
	f.aStore2 = store.CreateStore.Store.ID
	f.aManager = env.AddStaff(t, f.aOwner, "MANAGER")
	f.aCashier = env.AddStaff(t, f.aOwner, "CASHIER")
	tenancyMutate(t, env, f.aOwner, "updateStaff", "UpdateStaffInput",
		map[string]any{"staffId": f.aManager.ID, "storeIds": []string{f.aStore, f.aStore2}})
	f.aFormer = tenancyMutate(t, env, f.aOwner, "createStaff", "CreateStaffInput", map[string]any{
		"name": "Former Cashier", "role": "CASHIER", "pin": "4821", "phone": "+86 21 5555 0100", "storeIds": []string{f.aStore2},
	})
	tenancyMutate(t, env, f.aOwner, "deactivateStaff", "StaffIdInput", map[string]any{"staffId": f.aFormer})
	f.aAudit = tenancyAuditIDs(t, env, f.operator, f.aMerchant)
	require.GreaterOrEqual(t, len(f.aAudit), 6, "sign-up, store, three staff, an update and a deactivation are audited")

	f.bOwner = env.SignUp(t, "Pine Bakery")
	f.bMerchant, f.bStore = f.bOwner.MerchantID, f.bOwner.StoreID
	f.bCashier = env.AddStaff(t, f.bOwner, "CASHIER")
	// The operator sees every merchant's log: it says which entries are
	// whose, whatever the merchants themselves are shown.
	f.bAudit = tenancyAuditIDs(t, env, f.operator, f.bMerchant)
	require.NotEmpty(t, f.bAudit)

	all := append(slices.Clone(f.aIDs()), f.bIDs()...)
	for _, id := range all {
		require.NotEmpty(t, pulid.ID(id).Prefix(), "%q is a well-formed ID", id)
	}
	require.Len(t, slices.Compact(slices.Sorted(slices.Values(all))), len(all), "every ID is distinct")
	return f
}

// tenancyMutate runs a staff or store mutation as by and returns the id
// of the object in its payload.
func tenancyMutate(t *testing.T, env *tilltest.Env, by *tilltest.Account, field, inputType string, input map[string]any) string {
	t.Helper()
	object := "staff"
	if strings.Contains(inputType, "Store") {
		object = "store"
	}
	res := env.Exec(t, by.Token, `mutation($i: `+inputType+`!) { `+field+`(input: $i) { `+object+` { id } } }`, map[string]any{"i": input})
	var out map[string]map[string]struct{ ID string }
	res.Decode(t, &out)
	id := out[field][object].ID
	require.NotEmpty(t, id)
	return id
}

// tenancyAuditIDs returns the IDs of the audit entries by sees that
// belong to merchant.
func tenancyAuditIDs(t *testing.T, env *tilltest.Env, by *tilltest.Account, merchant string) []string {
	t.Helper()
	var out struct {
		AuditEntries struct {
			Edges []struct {
				Node struct{ ID, MerchantID string }
			}
		}
	}
	env.Exec(t, by.Token, `{ auditEntries(first: 100) { edges { node { id merchantID } } } }`, nil).Decode(t, &out)
	var ids []string
	for _, e := range out.AuditEntries.Edges {
		if e.Node.MerchantID == merchant {
			ids = append(ids, e.Node.ID)
		}
	}
	return ids
}

// aObjects is every object of merchant A, as A's owner sees it.
func (f *tenancyFixture) aObjects() []tenancyObject {
	objs := []tenancyObject{
		{"merchant", f.aMerchant, f.aOwner},
		{"store", f.aStore, f.aOwner},
		{"second store", f.aStore2, f.aOwner},
		{"owner", f.aOwner.ID, f.aOwner},
		{"manager", f.aManager.ID, f.aOwner},
		{"cashier", f.aCashier.ID, f.aOwner},
		{"deactivated cashier", f.aFormer, f.aOwner},
	}
	for i, id := range f.aAudit {
		objs = append(objs, tenancyObject{"audit entry " + string(rune('a'+i)), id, f.aOwner})
	}
	return objs
}

func (f *tenancyFixture) aIDs() []string {
	var ids []string
	for _, o := range f.aObjects() {
		ids = append(ids, o.id)
	}
	return ids
}

func (f *tenancyFixture) aStaff() []string {
	return []string{f.aOwner.ID, f.aManager.ID, f.aCashier.ID, f.aFormer}
}

func (f *tenancyFixture) bIDs() []string {
	return append([]string{f.bMerchant, f.bStore, f.bOwner.ID, f.bCashier.ID}, f.bAudit...)
}

// tenancyAbsent returns a well-formed ID of id's type that names nothing.
func tenancyAbsent(id string) string {
	return string(pulid.New(pulid.ID(id).Prefix()))
}

// tenancyIDsIn returns every well-formed ID anywhere in a JSON value.
func tenancyIDsIn(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	if len(raw) == 0 {
		return nil
	}
	var v any
	require.NoError(t, json.Unmarshal(raw, &v))
	var ids []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			if pulid.ID(v).Prefix() != "" {
				ids = append(ids, v)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return ids
}

// requireOnlyB fails if raw names any object that is not B's.
func (f *tenancyFixture) requireOnlyB(t *testing.T, raw json.RawMessage) {
	t.Helper()
	a, b := f.aIDs(), f.bIDs()
	for _, id := range tenancyIDsIn(t, raw) {
		require.NotContains(t, a, id, "B reached A's object %s in %s", id, raw)
		require.Contains(t, b, id, "B reached an object %s that is not its own in %s", id, raw)
	}
}

// tenancyRequireNoRootData fails unless every root field of res is null.
func tenancyRequireNoRootData(t *testing.T, res *tilltest.Result) {
	t.Helper()
	if len(res.Data) == 0 || string(res.Data) == "null" {
		return
	}
	var roots map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(res.Data, &roots))
	for field, v := range roots {
		require.Equal(t, "null", string(v), "%s must be null", field)
	}
}

// tenancyRequireLikeAbsent fails unless got (asked with foreign IDs) is
// the same response, data and errors, as absent (asked with the IDs in
// swap's values, which name nothing): answering differently would tell B
// that A's object exists.
func tenancyRequireLikeAbsent(t *testing.T, got, absent *tilltest.Result, swap map[string]string) {
	t.Helper()
	body := func(r *tilltest.Result) string {
		raw, err := json.Marshal(map[string]any{"data": r.Data, "errors": r.Errors})
		require.NoError(t, err)
		return string(raw)
	}
	want := body(absent)
	for foreign, nothing := range swap {
		want = strings.ReplaceAll(want, nothing, foreign)
	}
	require.JSONEq(t, want, body(got), "a foreign object must answer exactly as a missing one")
}

// tenancySwapIDs returns input with every A ID in it replaced by an
// absent ID of the same type, and the replacements made.
func (f *tenancyFixture) tenancySwapIDs(t *testing.T, input map[string]any) (map[string]any, map[string]string) {
	t.Helper()
	raw, err := json.Marshal(input)
	require.NoError(t, err)
	s := string(raw)
	swap := map[string]string{}
	for _, id := range f.aIDs() {
		if strings.Contains(s, `"`+id+`"`) {
			swap[id] = tenancyAbsent(id)
			s = strings.ReplaceAll(s, `"`+id+`"`, `"`+swap[id]+`"`)
		}
	}
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &out))
	return out, swap
}

func TestTenantIsolationNode(t *testing.T) {
	f := newTenancyFixture(t)
	const query = `query($id: ID!) { node(id: $id) { id __typename } }`
	objs := append(f.aObjects(), tenancyObject{"operator", f.operator.ID, f.operator})
	for _, obj := range objs {
		t.Run("node/"+obj.name, func(t *testing.T) {
			var own struct{ Node *struct{ ID string } }
			f.env.Exec(t, obj.seer.Token, query, map[string]any{"id": obj.id}).Decode(t, &own)
			require.NotNil(t, own.Node, "the object's own merchant (or an operator) finds it")
			require.Equal(t, obj.id, own.Node.ID)

			res := f.env.Exec(t, f.bOwner.Token, query, map[string]any{"id": obj.id})
			require.Equal(t, "NOT_FOUND", res.Code(), "%+v", res.Errors)
			require.JSONEq(t, `{"node": null}`, string(res.Data))
			require.Len(t, res.Errors, 1)
			require.Equal(t, []any{"node"}, res.Errors[0].Path)

			absent := tenancyAbsent(obj.id)
			tenancyRequireLikeAbsent(t, res, f.env.Exec(t, f.bOwner.Token, query, map[string]any{"id": absent}),
				map[string]string{obj.id: absent})
		})
	}
}

func TestTenantIsolationNodes(t *testing.T) {
	f := newTenancyFixture(t)
	const query = `query($ids: [ID!]!) { nodes(ids: $ids) { id __typename } }`
	objs := append(f.aObjects(), tenancyObject{"operator", f.operator.ID, f.operator})

	for _, obj := range objs {
		t.Run("nodes/one/"+obj.name, func(t *testing.T) {
			res := f.env.Exec(t, f.bOwner.Token, query, map[string]any{"ids": []string{obj.id}})
			require.Equal(t, "NOT_FOUND", res.Code(), "%+v", res.Errors)
			require.JSONEq(t, `{"nodes": [null]}`, string(res.Data), "one id gets the shape many do: a null in its place")
			require.Equal(t, []any{"nodes", float64(0)}, res.Errors[0].Path)

			absent := tenancyAbsent(obj.id)
			tenancyRequireLikeAbsent(t, res, f.env.Exec(t, f.bOwner.Token, query, map[string]any{"ids": []string{absent}}),
				map[string]string{obj.id: absent})
		})
	}

	t.Run("nodes/all, between B's own", func(t *testing.T) {
		// B's own merchant first and own store last, each foreign ID
		// followed by an absent ID of its type: B gets its own objects,
		// and a null and a NOT_FOUND for the others, the same for A's as
		// for the missing.
		ids := []string{f.bMerchant}
		for _, obj := range objs {
			ids = append(ids, obj.id, tenancyAbsent(obj.id))
		}
		ids = append(ids, f.bStore)
		res := f.env.Exec(t, f.bOwner.Token, query, map[string]any{"ids": ids})
		var out struct {
			Nodes []*struct{ ID string }
		}
		require.NoError(t, json.Unmarshal(res.Data, &out), "%s", res.Data)
		require.Len(t, out.Nodes, len(ids))
		require.NotNil(t, out.Nodes[0])
		require.Equal(t, f.bMerchant, out.Nodes[0].ID)
		require.NotNil(t, out.Nodes[len(ids)-1])
		require.Equal(t, f.bStore, out.Nodes[len(ids)-1].ID)
		for i := 1; i < len(ids)-1; i++ {
			require.Nil(t, out.Nodes[i], "nodes[%d] (%s)", i, ids[i])
		}
		f.requireOnlyB(t, res.Data)

		byIndex := map[int]tilltest.Error{}
		for _, e := range res.Errors {
			require.Len(t, e.Path, 2, "%+v", e)
			require.Equal(t, "nodes", e.Path[0])
			i, ok := e.Path[1].(float64)
			require.True(t, ok, "%+v", e)
			byIndex[int(i)] = e
		}
		require.Len(t, byIndex, len(ids)-2, "one error for each foreign or missing ID, none for B's own: %+v", res.Errors)
		for i := 1; i < len(ids)-1; i += 2 {
			foreign, missing := byIndex[i], byIndex[i+1]
			require.Equal(t, "NOT_FOUND", foreign.Extensions["code"], "nodes[%d] (%s): %+v", i, ids[i], foreign)
			require.Equal(t, missing.Extensions, foreign.Extensions, "nodes[%d] (%s)", i, ids[i])
			require.Equal(t, strings.ReplaceAll(missing.Message, ids[i+1], ids[i]), foreign.Message, "nodes[%d] (%s)", i, ids[i])
		}
	})
}

type tenancyConnection struct {
	TotalCount int
	Edges      []struct {
		Node struct {
			ID         string
			MerchantID string
		}
	}
}

func TestTenantIsolationConnections(t *testing.T) {
	f := newTenancyFixture(t)
	var aCursor struct {
		StaffMembers struct {
			Edges []struct{ Cursor string }
		}
	}
	f.env.Exec(t, f.aOwner.Token, `{ staffMembers(first: 1) { edges { cursor } } }`, nil).Decode(t, &aCursor)
	require.Len(t, aCursor.StaffMembers.Edges, 1)

	aStores := []string{f.aStore, f.aStore2}
	bStaff := []string{f.bOwner.ID, f.bCashier.ID}
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		want        []string
	}{
		{"stores", `{ stores { totalCount edges { node { id merchantID } } } }`, nil, []string{f.bStore}},
		{"stores/where idIn A's", `query($ids: [ID!]) { stores(where: {idIn: $ids}) { totalCount edges { node { id merchantID } } } }`,
			map[string]any{"ids": aStores}, nil},
		{"stores/where id is A's or B's", `query($a: ID, $b: ID) { stores(where: {or: [{id: $a}, {id: $b}]}) { totalCount edges { node { id merchantID } } } }`,
			map[string]any{"a": f.aStore, "b": f.bStore}, []string{f.bStore}},
		{"stores/where not B's", `query($b: ID) { stores(where: {not: {id: $b}}) { totalCount edges { node { id merchantID } } } }`,
			map[string]any{"b": f.bStore}, nil},
		{"stores/where name is A's", `{ stores(where: {nameContainsFold: "lotus"}) { totalCount edges { node { id merchantID } } } }`, nil, nil},
		{"stores/where has A's staff", `query($ids: [ID!]) { stores(where: {hasStaffWith: [{idIn: $ids}]}) { totalCount edges { node { id merchantID } } } }`,
			map[string]any{"ids": f.aStaff()}, nil},
		{"stores/last", `{ stores(last: 100) { totalCount edges { node { id merchantID } } } }`, nil, []string{f.bStore}},

		{"staffMembers", `{ staffMembers { totalCount edges { node { id merchantID } } } }`, nil, bStaff},
		{"staffMembers/where idIn A's", `query($ids: [ID!]) { staffMembers(where: {idIn: $ids}) { totalCount edges { node { id merchantID } } } }`,
			map[string]any{"ids": f.aStaff()}, nil},
		{"staffMembers/where email is A's", `query($e: [String!]) { staffMembers(where: {emailIn: $e}) { totalCount edges { node { id merchantID } } } }`,
			map[string]any{"e": []string{f.aOwner.Email, f.aManager.Email, f.aCashier.Email}}, nil},
		{"staffMembers/where inactive", `{ staffMembers(where: {active: false}) { totalCount edges { node { id merchantID } } } }`, nil, nil},
		{"staffMembers/where works at A's stores", `query($ids: [ID!]) { staffMembers(where: {hasStoresWith: [{idIn: $ids}]}) { totalCount edges { node { id merchantID } } } }`,
			map[string]any{"ids": aStores}, nil},
		{"staffMembers/where not B's", `query($ids: [ID!]) { staffMembers(where: {not: {idIn: $ids}}) { totalCount edges { node { id merchantID } } } }`,
			map[string]any{"ids": bStaff}, nil},
		{"staffMembers/after A's cursor", `query($c: Cursor) { staffMembers(first: 100, after: $c) { totalCount edges { node { id merchantID } } } }`,
			map[string]any{"c": aCursor.StaffMembers.Edges[0].Cursor}, bStaff},
		{"staffMembers/ordered by role", `{ staffMembers(orderBy: [{field: ROLE, direction: DESC}]) { totalCount edges { node { id merchantID } } } }`, nil, bStaff},

		{"auditEntries", `{ auditEntries(first: 100) { totalCount edges { node { id merchantID } } } }`, nil, f.bAudit},
		{"auditEntries/where idIn A's", `query($ids: [ID!]) { auditEntries(where: {idIn: $ids}) { totalCount edges { node { id merchantID } } } }`,
			map[string]any{"ids": f.aAudit}, nil},
		{"auditEntries/where target is A's", `query($ids: [String!]) { auditEntries(where: {targetIDIn: $ids}) { totalCount edges { node { id merchantID } } } }`,
			map[string]any{"ids": append([]string{f.aMerchant, f.aStore2, f.aFormer}, f.aStaff()...)}, nil},
		{"auditEntries/where actor is A's", `query($ids: [String!]) { auditEntries(where: {actorIDIn: $ids}) { totalCount edges { node { id merchantID } } } }`,
			map[string]any{"ids": f.aStaff()}, nil},

		{"merchants", `{ merchants { totalCount edges { node { id } } } }`, nil, []string{f.bMerchant}},
		{"merchants/where id is A's", `query($id: ID) { merchants(where: {id: $id}) { totalCount edges { node { id } } } }`,
			map[string]any{"id": f.aMerchant}, nil},
		{"merchants/where name is A's", `{ merchants(where: {name: "Lotus Tea"}) { totalCount edges { node { id } } } }`, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.env.Exec(t, f.bOwner.Token, tc.query, tc.vars)
			var out map[string]tenancyConnection
			res.Decode(t, &out)
			require.Len(t, out, 1)
			for _, conn := range out {
				var got []string
				for _, e := range conn.Edges {
					got = append(got, e.Node.ID)
					if e.Node.MerchantID != "" {
						require.Equal(t, f.bMerchant, e.Node.MerchantID)
					}
				}
				require.ElementsMatch(t, tc.want, got)
				require.Equal(t, len(tc.want), conn.TotalCount, "totalCount counts only B's objects")
			}
			f.requireOnlyB(t, res.Data)
		})
	}
}

func TestTenantIsolationNestedEdges(t *testing.T) {
	f := newTenancyFixture(t)
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		// mustSee are B's objects the query reaches, so it is known to
		// walk the edges it names.
		mustSee []string
		// empty: every connection in the answer must be empty.
		empty bool
	}{
		{
			name: "viewer",
			query: `{ viewer {
				merchant { id }
				staff { id merchantID merchant { id } stores { id merchantID merchant { id } staff { totalCount edges { node { id merchantID stores { id } } } } } }
				stores { id merchantID merchant { id } staff { totalCount edges { node { id merchantID merchant { id } } } } }
			} }`,
			mustSee: []string{f.bMerchant, f.bStore, f.bOwner.ID, f.bCashier.ID},
		},
		{
			name:    "stores→staff→stores",
			query:   `{ stores { totalCount edges { node { id merchant { id } staff { totalCount edges { node { id merchantID merchant { id } stores { id merchantID } } } } } } } }`,
			mustSee: []string{f.bMerchant, f.bStore, f.bOwner.ID, f.bCashier.ID},
		},
		{
			name:    "staffMembers→stores→staff",
			query:   `{ staffMembers { edges { node { id merchant { id } stores { id merchant { id } staff { totalCount edges { node { id merchantID } } } } } } } }`,
			mustSee: []string{f.bMerchant, f.bStore, f.bOwner.ID, f.bCashier.ID},
		},
		{
			name:    "auditEntries→merchant",
			query:   `{ auditEntries(first: 100) { edges { node { id merchantID actorID targetID merchant { id } } } } }`,
			mustSee: append([]string{f.bMerchant}, f.bAudit...),
		},
		{
			name: "viewer→stores→staff where A's",
			query: `query($staff: [ID!], $stores: [ID!]) { viewer { stores { id
				staff(where: {or: [{idIn: $staff}, {hasStoresWith: [{idIn: $stores}]}, {emailContainsFold: "@manager.example"}]}) { totalCount edges { node { id } } }
			} } }`,
			vars:    map[string]any{"staff": f.aStaff(), "stores": []string{f.aStore, f.aStore2}},
			mustSee: []string{f.bStore},
			empty:   true,
		},
		{
			name:    "node(B's store)→staff→stores",
			query:   `query($id: ID!) { node(id: $id) { id ... on Store { merchant { id } staff { totalCount edges { node { id merchantID stores { id } } } } } } }`,
			vars:    map[string]any{"id": f.bStore},
			mustSee: []string{f.bMerchant, f.bStore, f.bOwner.ID, f.bCashier.ID},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.env.Exec(t, f.bOwner.Token, tc.query, tc.vars)
			require.Empty(t, res.Errors)
			f.requireOnlyB(t, res.Data)
			seen := tenancyIDsIn(t, res.Data)
			for _, id := range tc.mustSee {
				require.Contains(t, seen, id, "the query reaches B's own %s", id)
			}
			// Every connection counts only what B may see.
			connections := 0
			var walk func(any)
			walk = func(v any) {
				switch v := v.(type) {
				case []any:
					for _, e := range v {
						walk(e)
					}
				case map[string]any:
					if n, ok := v["totalCount"].(float64); ok {
						connections++
						edges, _ := v["edges"].([]any)
						require.Equal(t, len(edges), int(n), "totalCount counts only what B may see")
						if tc.empty {
							require.Zero(t, n, "B's connections filtered to A's objects are empty")
						}
					}
					for _, e := range v {
						walk(e)
					}
				}
			}
			var data any
			require.NoError(t, json.Unmarshal(res.Data, &data))
			walk(data)
			if tc.empty {
				require.NotZero(t, connections)
			}
		})
	}
}

// tenancySnapshot is everything about A that a write could change, read
// with A's own token, plus the operator's view of who works at A's stores
// (which A's own view would filter, should another merchant's staff be
// linked there).
func (f *tenancyFixture) tenancySnapshot(t *testing.T) string {
	t.Helper()
	var snap struct {
		A, Links json.RawMessage
	}
	res := f.env.Exec(t, f.aOwner.Token, `{
		merchants { totalCount edges { node { id name locale status suspendedReason suspendedAt updatedAt } } }
		stores { totalCount edges { node { id name address timeZone updatedAt staff { totalCount edges { node { id } } } } } }
		staffMembers(first: 100) { totalCount edges { node { id name email phone role active updatedAt lastLoginAt stores { id } } } }
		auditEntries(first: 100) { totalCount edges { node { id action actorKind actorID targetType targetID } } }
	}`, nil)
	require.Empty(t, res.Errors)
	snap.A = res.Data
	res = f.env.Exec(t, f.operator.Token, `query($ids: [ID!]) {
		stores(where: {idIn: $ids}) { edges { node { id staff(first: 100) { totalCount edges { node { id merchantID } } } } } }
	}`, map[string]any{"ids": []string{f.aStore, f.aStore2}})
	require.Empty(t, res.Errors)
	snap.Links = res.Data
	raw, err := json.Marshal(snap)
	require.NoError(t, err)
	return string(raw)
}

// requireASessionsLive fails unless A's staff are still logged in: the
// staff mutations that end sessions did not reach them.
func (f *tenancyFixture) requireASessionsLive(t *testing.T) {
	t.Helper()
	for _, a := range []*tilltest.Account{f.aOwner, f.aManager, f.aCashier} {
		res := f.env.Exec(t, a.Token, `{ viewer { staff { id active } } }`, nil)
		require.Empty(t, res.Errors, "%s is still logged in", a.Email)
		require.Contains(t, string(res.Data), a.ID)
	}
}

func TestTenantIsolationMutations(t *testing.T) {
	f := newTenancyFixture(t)
	before := f.tenancySnapshot(t)
	require.Contains(t, before, `"active":false`, "A's former cashier is deactivated")

	const (
		updateStore        = `mutation($i: UpdateStoreInput!) { updateStore(input: $i) { store { id name } } }`
		createStaff        = `mutation($i: CreateStaffInput!) { createStaff(input: $i) { staff { id name } } }`
		updateStaff        = `mutation($i: UpdateStaffInput!) { updateStaff(input: $i) { staff { id name } } }`
		setStaffPin        = `mutation($i: SetStaffPinInput!) { setStaffPin(input: $i) { staff { id name } } }`
		resetStaffPassword = `mutation($i: ResetStaffPasswordInput!) { resetStaffPassword(input: $i) { staff { id name } } }`
		deactivateStaff    = `mutation($i: StaffIdInput!) { deactivateStaff(input: $i) { staff { id active } } }`
		reactivateStaff    = `mutation($i: StaffIdInput!) { reactivateStaff(input: $i) { staff { id active } } }`
		suspendMerchant    = `mutation($i: SuspendMerchantInput!) { suspendMerchant(input: $i) { merchant { id status } } }`
		reactivateMerchant = `mutation($i: ReactivateMerchantInput!) { reactivateMerchant(input: $i) { merchant { id status } } }`
	)
	const newPassword = "another long password"
	for _, tc := range []struct {
		name     string
		mutation string
		// input names A's objects.
		input map[string]any
		want  string
		// own is the same mutation on B's own objects, which works: the
		// refusal is about whose object it is, not a broken mutation.
		own map[string]any
	}{
		{
			name: "updateStore/A's store", mutation: updateStore, want: "NOT_FOUND",
			input: map[string]any{"storeId": f.aStore, "name": "Pine Bakery Annex", "address": "2 Hill Road"},
			own:   map[string]any{"storeId": f.bStore, "name": "Pine Bakery Central"},
		},
		{
			name: "updateStore/A's second store", mutation: updateStore, want: "NOT_FOUND",
			input: map[string]any{"storeId": f.aStore2, "timeZone": "Europe/London"},
		},
		{
			name: "createStaff/at A's store", mutation: createStaff, want: "NOT_FOUND",
			input: map[string]any{"name": "Mole", "email": tilltest.UniqueEmail("mole"), "password": tilltest.Password, "role": "MANAGER", "storeIds": []string{f.aStore}},
			own:   map[string]any{"name": "Baker", "email": tilltest.UniqueEmail("baker"), "password": tilltest.Password, "role": "MANAGER", "storeIds": []string{f.bStore}},
		},
		{
			name: "createStaff/at B's and A's stores", mutation: createStaff, want: "NOT_FOUND",
			input: map[string]any{"name": "Mole", "role": "CASHIER", "pin": "5937", "storeIds": []string{f.bStore, f.aStore2}},
		},
		{
			name: "updateStaff/A's manager", mutation: updateStaff, want: "NOT_FOUND",
			input: map[string]any{"staffId": f.aManager.ID, "name": "Mole", "phone": "+1 555 0100", "role": "CASHIER"},
			own:   map[string]any{"staffId": f.bCashier.ID, "name": "Renamed Cashier"},
		},
		{
			name: "updateStaff/A's owner stores", mutation: updateStaff, want: "NOT_FOUND",
			input: map[string]any{"staffId": f.aOwner.ID, "storeIds": []string{}},
		},
		{
			name: "updateStaff/B's cashier to A's store", mutation: updateStaff, want: "NOT_FOUND",
			input: map[string]any{"staffId": f.bCashier.ID, "storeIds": []string{f.aStore}},
			own:   map[string]any{"staffId": f.bCashier.ID, "storeIds": []string{f.bStore}},
		},
		{
			name: "setStaffPin/A's cashier", mutation: setStaffPin, want: "NOT_FOUND",
			input: map[string]any{"staffId": f.aCashier.ID, "pin": "5937"},
			own:   map[string]any{"staffId": f.bCashier.ID, "pin": "5937"},
		},
		{
			name: "setStaffPin/A's deactivated cashier", mutation: setStaffPin, want: "NOT_FOUND",
			input: map[string]any{"staffId": f.aFormer, "pin": "5937"},
		},
		{
			name: "resetStaffPassword/A's manager", mutation: resetStaffPassword, want: "NOT_FOUND",
			input: map[string]any{"staffId": f.aManager.ID, "newPassword": newPassword},
			own:   map[string]any{"staffId": f.bCashier.ID, "newPassword": newPassword},
		},
		{
			name: "resetStaffPassword/A's owner", mutation: resetStaffPassword, want: "NOT_FOUND",
			input: map[string]any{"staffId": f.aOwner.ID, "newPassword": newPassword},
		},
		{
			name: "deactivateStaff/A's owner", mutation: deactivateStaff, want: "NOT_FOUND",
			input: map[string]any{"staffId": f.aOwner.ID},
			own:   map[string]any{"staffId": f.bCashier.ID},
		},
		{
			name: "deactivateStaff/A's manager", mutation: deactivateStaff, want: "NOT_FOUND",
			input: map[string]any{"staffId": f.aManager.ID},
		},
		{
			name: "deactivateStaff/A's cashier", mutation: deactivateStaff, want: "NOT_FOUND",
			input: map[string]any{"staffId": f.aCashier.ID},
		},
		{
			name: "reactivateStaff/A's deactivated cashier", mutation: reactivateStaff, want: "NOT_FOUND",
			input: map[string]any{"staffId": f.aFormer},
			own:   map[string]any{"staffId": f.bCashier.ID},
		},
		// Merchant status is the platform's: B's owner is refused by role,
		// FORBIDDEN for every merchant ID alike, so nothing leaks either.
		{
			name: "suspendMerchant/A", mutation: suspendMerchant, want: "FORBIDDEN",
			input: map[string]any{"merchantId": f.aMerchant, "reason": "competitor"},
		},
		{
			name: "reactivateMerchant/A", mutation: reactivateMerchant, want: "FORBIDDEN",
			input: map[string]any{"merchantId": f.aMerchant},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.env.Exec(t, f.bOwner.Token, tc.mutation, map[string]any{"i": tc.input})
			require.Equal(t, tc.want, res.Code(), "%+v", res.Errors)
			tenancyRequireNoRootData(t, res)

			absentInput, swap := f.tenancySwapIDs(t, tc.input)
			require.NotEmpty(t, swap, "the input names A's objects")
			tenancyRequireLikeAbsent(t, res, f.env.Exec(t, f.bOwner.Token, tc.mutation, map[string]any{"i": absentInput}), swap)

			require.JSONEq(t, before, f.tenancySnapshot(t), "A's data is unchanged")
			f.requireASessionsLive(t)

			if tc.own != nil {
				own := f.env.Exec(t, f.bOwner.Token, tc.mutation, map[string]any{"i": tc.own})
				require.Empty(t, own.Errors, "the same mutation works on B's own objects")
			}
		})
	}

	t.Run("updateMerchant/changes only B's", func(t *testing.T) {
		res := f.env.Exec(t, f.bOwner.Token, `mutation($i: UpdateMerchantInput!) { updateMerchant(input: $i) { merchant { id name } } }`,
			map[string]any{"i": map[string]any{"name": "Lotus Tea", "locale": "zh-CN"}})
		var out struct {
			UpdateMerchant struct{ Merchant struct{ ID, Name string } }
		}
		res.Decode(t, &out)
		require.Equal(t, f.bMerchant, out.UpdateMerchant.Merchant.ID)
		require.JSONEq(t, before, f.tenancySnapshot(t), "A's data is unchanged")
	})

	// Nothing B tried ended up in A's audit log or changed how A logs in.
	require.Equal(t, f.aAudit, tenancyAuditIDs(t, f.env, f.operator, f.aMerchant))
	f.env.LogIn(t, f.aManager.Email, tilltest.Password)
	f.env.LogIn(t, f.aOwner.Email, tilltest.Password)
}

func TestTenantOperatorListsAllMerchants(t *testing.T) {
	f := newTenancyFixture(t)
	var out struct {
		Merchants struct {
			TotalCount int
			Edges      []struct {
				Node struct{ ID, Name, Status string }
			}
		}
	}
	f.env.Exec(t, f.operator.Token, `{ merchants(orderBy: [{field: NAME}]) { totalCount edges { node { id name status } } } }`, nil).
		Decode(t, &out)
	require.Equal(t, 2, out.Merchants.TotalCount)
	require.Len(t, out.Merchants.Edges, 2)
	require.Equal(t, f.aMerchant, out.Merchants.Edges[0].Node.ID)
	require.Equal(t, "Lotus Tea", out.Merchants.Edges[0].Node.Name)
	require.Equal(t, f.bMerchant, out.Merchants.Edges[1].Node.ID)
	require.Equal(t, "Pine Bakery", out.Merchants.Edges[1].Node.Name)

	// The operator's lists span both merchants.
	res := f.env.Exec(t, f.operator.Token, `{
		stores { totalCount edges { node { id merchantID } } }
		staffMembers { totalCount edges { node { id merchantID } } }
	}`, nil)
	var lists map[string]tenancyConnection
	res.Decode(t, &lists)
	require.Equal(t, 3, lists["stores"].TotalCount)
	require.Equal(t, 6, lists["staffMembers"].TotalCount)

	// And each owner, asking the same, sees only their own merchant.
	for _, owner := range []*tilltest.Account{f.aOwner, f.bOwner} {
		var own struct {
			Merchants struct {
				TotalCount int
				Edges      []struct{ Node struct{ ID string } }
			}
		}
		f.env.Exec(t, owner.Token, `{ merchants { totalCount edges { node { id } } } }`, nil).Decode(t, &own)
		require.Equal(t, 1, own.Merchants.TotalCount)
		require.Equal(t, owner.MerchantID, own.Merchants.Edges[0].Node.ID)
	}
}

func TestTenantCashierCannotReadAudit(t *testing.T) {
	f := newTenancyFixture(t)
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
	}{
		{"auditEntries", `{ auditEntries { totalCount edges { node { id action } } } }`, nil},
		{"auditEntries/where", `query($ids: [ID!]) { auditEntries(where: {idIn: $ids}) { totalCount edges { node { id } } } }`,
			map[string]any{"ids": f.aAudit}},
		{"node", `query($id: ID!) { node(id: $id) { id ... on AuditEntry { action } } }`, map[string]any{"id": f.aAudit[0]}},
		{"nodes", `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on AuditEntry { action } } }`, map[string]any{"ids": f.aAudit}},
		{"viewer and auditEntries", `{ viewer { merchant { id } } auditEntries(first: 1) { totalCount edges { node { id } } } }`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.env.Exec(t, f.aCashier.Token, tc.query, tc.vars)
			require.NotEmpty(t, res.Errors)
			for _, e := range res.Errors {
				require.Equal(t, "FORBIDDEN", e.Extensions["code"], "%+v", e)
			}
			for _, id := range tenancyIDsIn(t, res.Data) {
				require.NotContains(t, f.aAudit, id, "a cashier reads no audit entry")
			}

			// A manager of the same merchant reads the same entries.
			ok := f.env.Exec(t, f.aManager.Token, tc.query, tc.vars)
			require.Empty(t, ok.Errors)
			require.Contains(t, string(ok.Data), f.aAudit[0])
		})
	}
}
