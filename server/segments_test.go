package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/internal/tilltest"
)

// visits records sales for a customer the way the sales package will:
// customers.RecordVisit inside the sale's transaction.
func visits(t *testing.T, env *tilltest.Env, owner *tilltest.Account, customerID string, amounts []int64, at time.Time) {
	t.Helper()
	ctx := viewer.NewContext(context.Background(), &viewer.Viewer{
		Kind: viewer.KindStaff, ID: pulid.ID(owner.ID), MerchantID: pulid.ID(owner.MerchantID), Role: viewer.RoleOwner,
	})
	for _, amount := range amounts {
		require.NoError(t, db.WithTx(ctx, env.DB.Client, func(tx *ent.Tx) error {
			return customers.RecordVisit(ctx, tx, pulid.ID(customerID), pulid.ID(owner.StoreID), amount, at)
		}))
	}
}

func TestCustomerSegments(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")
	cashier := env.AddStaff(t, owner, "CASHIER")
	create := func(name string) string {
		var out struct {
			CreateCustomer struct{ Customer struct{ ID, Segment string } }
		}
		env.Exec(t, owner.Token, `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id segment } } }`,
			map[string]any{"i": map[string]any{"name": name}}).Decode(t, &out)
		require.Equal(t, "NEW", out.CreateCustomer.Customer.Segment, "a customer starts NEW")
		return out.CreateCustomer.Customer.ID
	}
	now := time.Now()
	loyal, whale, lapsed := create("Loyal Li"), create("Whale Wu"), create("Lapsed Lu")
	visits(t, env, owner, loyal, []int64{5_000, 5_000, 5_000, 5_000, 5_000, 5_000}, now.Add(-24*time.Hour))
	visits(t, env, owner, whale, []int64{200_000, 200_000}, now.Add(-90*24*time.Hour))
	visits(t, env, owner, lapsed, []int64{1_000, 1_000, 1_000}, now.Add(-400*24*time.Hour))

	segmentOf := func(id string) (segment, rfm string) {
		var out struct{ Node struct{ Segment, Rfm string } }
		env.Exec(t, owner.Token, `query($id: ID!) { node(id: $id) { ... on Customer { segment rfm } } }`,
			map[string]any{"id": id}).Decode(t, &out)
		return out.Node.Segment, out.Node.Rfm
	}
	// Each sale rescored its customer under the default thresholds.
	for id, want := range map[string]string{loyal: "LOYAL", whale: "HIGH_VALUE", lapsed: "LOST"} {
		got, _ := segmentOf(id)
		require.Equal(t, want, got, id)
	}

	const updateRules = `mutation($i: UpdateSegmentRulesInput!) { updateCustomerSegmentRules(input: $i) {
		mode recencyDays frequencyVisits monetarySpent newDays computedAt } }`
	thresholds := map[string]any{
		"mode": "THRESHOLDS", "recencyDays": []int{7, 14, 30, 60}, "frequencyVisits": []int{2, 3, 4, 5},
		"monetarySpent": []int64{1_000, 2_000, 50_000, 300_000}, "newDays": 30,
	}
	require.Equal(t, "FORBIDDEN", env.Exec(t, cashier.Token, updateRules, map[string]any{"i": thresholds}).Code())
	bad := map[string]any{}
	for k, v := range thresholds {
		bad[k] = v
	}
	bad["recencyDays"] = []int{30, 7, 14, 60}
	res := env.Exec(t, owner.Token, updateRules, map[string]any{"i": bad})
	require.Equal(t, "BAD_USER_INPUT", res.Code())
	require.Equal(t, "recencyDays", res.Errors[0].Extensions["field"])

	var rules struct {
		UpdateCustomerSegmentRules struct {
			Mode          string
			RecencyDays   []int
			MonetarySpent []int64
			ComputedAt    *time.Time
		}
	}
	env.Exec(t, owner.Token, updateRules, map[string]any{"i": thresholds}).Decode(t, &rules)
	require.Equal(t, "THRESHOLDS", rules.UpdateCustomerSegmentRules.Mode)
	require.Equal(t, []int64{1_000, 2_000, 50_000, 300_000}, rules.UpdateCustomerSegmentRules.MonetarySpent, "thresholds are kept as given")
	require.NotNil(t, rules.UpdateCustomerSegmentRules.ComputedAt)
	// The whale spent 400,000 (M=5) but 90 days ago is now R=1: LOST.
	got, rfm := segmentOf(whale)
	require.Equal(t, "LOST", got)
	require.Equal(t, "125", rfm)

	var counts struct {
		CustomerSegmentCounts []struct {
			Segment string
			Count   int
		}
	}
	env.Exec(t, cashier.Token, `{ customerSegmentCounts { segment count } }`, nil).Decode(t, &counts)
	byName := map[string]int{}
	for _, c := range counts.CustomerSegmentCounts {
		byName[c.Segment] = c.Count
	}
	require.Equal(t, map[string]int{"NEW": 0, "LOYAL": 1, "HIGH_VALUE": 0, "AT_RISK": 0, "LOST": 2, "OCCASIONAL": 0}, byName)

	var lost struct{ Customers struct{ TotalCount int } }
	env.Exec(t, owner.Token, `{ customers(where: {segment: LOST}) { totalCount } }`, nil).Decode(t, &lost)
	require.Equal(t, 2, lost.Customers.TotalCount)

	// The daily job runs once a (UTC) day however often replicas check. The
	// checks are pinned to a day's start: an hour after "now" is tomorrow
	// late in the evening.
	today := now.UTC().Truncate(24 * time.Hour)
	require.Contains(t, env.RunDueJobs(t.Context(), today), "customer-segments")
	require.NotContains(t, env.RunDueJobs(t.Context(), today.Add(23*time.Hour)), "customer-segments", "claimed for today already")
	require.Contains(t, env.RunDueJobs(t.Context(), today.Add(24*time.Hour)), "customer-segments")
}

func TestSavedSegments(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")
	cashier := env.AddStaff(t, owner, "CASHIER")
	create := func(name, birthday string, tags []string) string {
		var out struct {
			CreateCustomer struct{ Customer struct{ ID string } }
		}
		env.Exec(t, owner.Token, `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`,
			map[string]any{"i": map[string]any{"name": name, "birthday": birthday, "tags": tags}}).Decode(t, &out)
		return out.CreateCustomer.Customer.ID
	}
	now := time.Now()
	ann := create("Ann", "1990-03-14", []string{"vip", "tea"})
	bo := create("Bo", "1985-03-02", []string{"coffee"})
	cy := create("Cy", "1992-07-30", []string{"vip"})
	visits(t, env, owner, ann, []int64{80_000}, now.Add(-10*24*time.Hour))
	visits(t, env, owner, bo, []int64{90_000}, now.Add(-2*24*time.Hour))
	visits(t, env, owner, cy, []int64{5_000}, now.Add(-3*24*time.Hour))

	const createSegment = `mutation($i: CreateSavedSegmentInput!) { createSavedSegment(input: $i) {
		savedSegment { id name customers { totalCount edges { node { name } } } } } }`
	members := func(filter map[string]any) []string {
		t.Helper()
		filter["name"] = "test"
		var out struct {
			CreateSavedSegment struct {
				SavedSegment struct {
					Customers struct {
						Edges []struct{ Node struct{ Name string } }
					}
				}
			}
		}
		env.Exec(t, owner.Token, createSegment, map[string]any{"i": filter}).Decode(t, &out)
		var names []string
		for _, e := range out.CreateSavedSegment.SavedSegment.Customers.Edges {
			names = append(names, e.Node.Name)
		}
		return names
	}
	require.Equal(t, []string{"Ann", "Cy"}, members(map[string]any{"anyTags": []string{"vip"}}))
	require.Equal(t, []string{"Ann", "Bo"}, members(map[string]any{"anyTags": []string{"tea", "coffee"}}))
	require.Equal(t, []string{"Ann", "Bo"}, members(map[string]any{"birthdayMonth": 3}))
	require.Equal(t, []string{"Ann", "Bo"}, members(map[string]any{"minSpent": 50_000}))
	require.Equal(t, []string{"Cy"}, members(map[string]any{"maxSpent": 50_000}))
	require.Equal(t, []string{"Bo", "Cy"}, members(map[string]any{"lastVisitAfter": now.Add(-5 * 24 * time.Hour).Format(time.RFC3339)}))
	require.Equal(t, []string{"Ann"}, members(map[string]any{"anyTags": []string{"vip"}, "birthdayMonth": 3, "minSpent": 50_000}))

	for _, tc := range []struct {
		filter map[string]any
		field  string
	}{
		{map[string]any{"name": " "}, "name"},
		{map[string]any{"name": "x", "birthdayMonth": 13}, "birthdayMonth"},
		{map[string]any{"name": "x", "minSpent": 10, "maxSpent": 5}, "maxSpent"},
	} {
		res := env.Exec(t, owner.Token, createSegment, map[string]any{"i": tc.filter})
		require.Equal(t, "BAD_USER_INPUT", res.Code())
		require.Equal(t, tc.field, res.Errors[0].Extensions["field"])
	}
	require.Equal(t, "FORBIDDEN", env.Exec(t, cashier.Token, createSegment, map[string]any{"i": map[string]any{"name": "mine"}}).Code())

	var list struct {
		SavedSegments struct {
			TotalCount int
			Edges      []struct{ Node struct{ ID string } }
		}
	}
	env.Exec(t, cashier.Token, `{ savedSegments { totalCount edges { node { id } } } }`, nil).Decode(t, &list)
	require.Equal(t, 7, list.SavedSegments.TotalCount, "staff read the merchant's saved segments")

	const del = `mutation($id: ID!) { deleteSavedSegment(input: {savedSegmentId: $id}) { deletedId } }`
	id := list.SavedSegments.Edges[0].Node.ID
	require.Equal(t, "FORBIDDEN", env.Exec(t, cashier.Token, del, map[string]any{"id": id}).Code())
	other := env.SignUp(t, "Plum Bakery")
	require.Equal(t, "NOT_FOUND", env.Exec(t, other.Token, del, map[string]any{"id": id}).Code(), "another merchant's segment")
	env.Exec(t, owner.Token, del, map[string]any{"id": id}).Decode(t, &struct{}{})
	require.Equal(t, "NOT_FOUND", env.Exec(t, owner.Token, del, map[string]any{"id": id}).Code(), "gone")
}

// Managers keep the segment rules and saved segments as owners do; each
// merchant's rules, counts and saved segments are its own.
func TestCustomerSegmentsManagersAndMerchants(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")
	manager := env.AddStaff(t, owner, "MANAGER")
	rival := env.SignUp(t, "Plum Bakery")
	rivalManager := env.AddStaff(t, rival, "MANAGER")
	create := func(by *tilltest.Account, name string) string {
		var out struct {
			CreateCustomer struct{ Customer struct{ ID string } }
		}
		env.Exec(t, by.Token, `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`,
			map[string]any{"i": map[string]any{"name": name, "tags": []string{"vip"}}}).Decode(t, &out)
		return out.CreateCustomer.Customer.ID
	}
	now := time.Now()
	visits(t, env, owner, create(owner, "Loyal Li"), []int64{5_000, 5_000, 5_000, 5_000, 5_000, 5_000}, now.Add(-24*time.Hour))
	visits(t, env, owner, create(owner, "Lapsed Lu"), []int64{1_000}, now.Add(-400*24*time.Hour))
	create(rival, "Plum Pat")

	const (
		readRules   = `{ customerSegmentRules { mode recencyDays frequencyVisits monetarySpent newDays computedAt } }`
		updateRules = `mutation($i: UpdateSegmentRulesInput!) { updateCustomerSegmentRules(input: $i) {
			mode recencyDays frequencyVisits monetarySpent newDays computedAt } }`
	)
	type rules struct {
		Mode            string
		RecencyDays     []int
		FrequencyVisits []int
		MonetarySpent   []int64
		NewDays         int
		ComputedAt      *time.Time
	}
	rulesOf := func(by *tilltest.Account) rules {
		var out struct{ CustomerSegmentRules rules }
		env.Exec(t, by.Token, readRules, nil).Decode(t, &out)
		return out.CustomerSegmentRules
	}
	countsOf := func(by *tilltest.Account) map[string]int {
		var out struct {
			CustomerSegmentCounts []struct {
				Segment string
				Count   int
			}
		}
		env.Exec(t, by.Token, `{ customerSegmentCounts { segment count } }`, nil).Decode(t, &out)
		counts := map[string]int{}
		for _, c := range out.CustomerSegmentCounts {
			counts[c.Segment] = c.Count
		}
		return counts
	}
	rivalRules, rivalCounts := rulesOf(rival), countsOf(rival)
	require.Equal(t, map[string]int{"NEW": 1, "LOYAL": 0, "HIGH_VALUE": 0, "AT_RISK": 0, "LOST": 0, "OCCASIONAL": 0}, rivalCounts,
		"the rival counts its own customer only")

	ours := map[string]any{
		"mode": "THRESHOLDS", "recencyDays": []int{3, 10, 20, 40}, "frequencyVisits": []int{1, 2, 3, 6},
		"monetarySpent": []int64{500, 5_000, 20_000, 50_000}, "newDays": 14,
	}
	var updated struct{ UpdateCustomerSegmentRules rules }
	env.Exec(t, manager.Token, updateRules, map[string]any{"i": ours}).Decode(t, &updated)
	want := rules{Mode: "THRESHOLDS", RecencyDays: []int{3, 10, 20, 40}, FrequencyVisits: []int{1, 2, 3, 6},
		MonetarySpent: []int64{500, 5_000, 20_000, 50_000}, NewDays: 14}
	require.NotNil(t, updated.UpdateCustomerSegmentRules.ComputedAt, "a manager's change recomputes at once")
	updated.UpdateCustomerSegmentRules.ComputedAt = nil
	require.Equal(t, want, updated.UpdateCustomerSegmentRules)
	var audited struct {
		AuditEntries struct {
			Edges []struct{ Node struct{ ActorID string } }
		}
	}
	env.Exec(t, owner.Token, `{ auditEntries(where: {action: "customers.segment_rules_updated"}) { edges { node { actorID } } } }`, nil).Decode(t, &audited)
	require.Len(t, audited.AuditEntries.Edges, 1)
	require.Equal(t, manager.ID, audited.AuditEntries.Edges[0].Node.ActorID)
	require.Equal(t, map[string]int{"NEW": 0, "LOYAL": 1, "HIGH_VALUE": 0, "AT_RISK": 0, "LOST": 1, "OCCASIONAL": 0}, countsOf(manager))

	require.Equal(t, rivalRules, rulesOf(rival), "another merchant's rules are untouched")
	require.Equal(t, rivalCounts, countsOf(rival), "and so are its counts")

	theirs := map[string]any{
		"mode": "THRESHOLDS", "recencyDays": []int{1, 2, 3, 4}, "frequencyVisits": []int{1, 2, 3, 4},
		"monetarySpent": []int64{1, 2, 3, 4}, "newDays": 1,
	}
	env.Exec(t, rivalManager.Token, updateRules, map[string]any{"i": theirs}).Decode(t, &struct{}{})
	got := rulesOf(owner)
	require.NotNil(t, got.ComputedAt)
	got.ComputedAt = nil
	require.Equal(t, want, got, "the rival's change leaves ours as they were")
	require.Equal(t, map[string]int{"NEW": 0, "LOYAL": 1, "HIGH_VALUE": 0, "AT_RISK": 0, "LOST": 1, "OCCASIONAL": 0}, countsOf(owner))

	t.Run("saved segments", func(t *testing.T) {
		const (
			createSegment = `mutation($i: CreateSavedSegmentInput!) { createSavedSegment(input: $i) {
				savedSegment { id name customers { totalCount } } } }`
			del  = `mutation($id: ID!) { deleteSavedSegment(input: {savedSegmentId: $id}) { deletedId } }`
			list = `{ savedSegments { totalCount edges { node { id customers { totalCount } } } } }`
		)
		var made struct {
			CreateSavedSegment struct {
				SavedSegment struct {
					ID        string
					Name      string
					Customers struct{ TotalCount int }
				}
			}
		}
		env.Exec(t, manager.Token, createSegment, map[string]any{"i": map[string]any{"name": "VIPs", "anyTags": []string{"vip"}}}).Decode(t, &made)
		seg := made.CreateSavedSegment.SavedSegment
		require.Equal(t, "VIPs", seg.Name)
		require.Equal(t, 2, seg.Customers.TotalCount, "our two VIPs, not the rival's")

		var theirList struct{ SavedSegments struct{ TotalCount int } }
		env.Exec(t, rivalManager.Token, list, nil).Decode(t, &theirList)
		require.Zero(t, theirList.SavedSegments.TotalCount, "the rival lists none of ours")
		res := env.Exec(t, rivalManager.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": seg.ID})
		require.Equal(t, "NOT_FOUND", res.Code(), "%+v", res.Errors)
		require.Equal(t, "NOT_FOUND", env.Exec(t, rivalManager.Token, del, map[string]any{"id": seg.ID}).Code())

		var deleted struct{ DeleteSavedSegment struct{ DeletedID string } }
		env.Exec(t, manager.Token, del, map[string]any{"id": seg.ID}).Decode(t, &deleted)
		require.Equal(t, seg.ID, deleted.DeleteSavedSegment.DeletedID)
		var ourList struct{ SavedSegments struct{ TotalCount int } }
		env.Exec(t, owner.Token, list, nil).Decode(t, &ourList)
		require.Zero(t, ourList.SavedSegments.TotalCount)
	})
}
