// Package rule holds the ent privacy rules that enforce tenancy.
//
// Every schema's policy is built from these, so a query written anywhere,
// including node(id:), connections and eager-loaded edges, is confined to
// the viewer's merchant without the caller doing anything.
package rule

import (
	"context"

	"entgo.io/ent/entql"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent/privacy"
	"github.com/tillpos/till/errs"
)

// DenyIfNoViewer denies any operation without a viewer in the context.
func DenyIfNoViewer() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if viewer.FromContext(ctx) == nil {
			return privacy.Denyf("viewer is missing")
		}
		// Skip to the next privacy rule (equivalent to return nil).
		return privacy.Skip
	})
}

// AllowIfSystem allows named system jobs everything.
func AllowIfSystem() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if viewer.FromContext(ctx).IsSystem() {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// AllowIfOperator allows platform operators, who serve every merchant.
func AllowIfOperator() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if viewer.FromContext(ctx).IsOperator() {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// DenyIfNotStaff denies anyone but merchant staff; it ends a chain of
// allow rules for operators and the system.
func DenyIfNotStaff() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if viewer.FromContext(ctx).IsStaff() {
			return privacy.Skip
		}
		return privacy.Denyf("not a staff member")
	})
}

// FilterTenantRule confines queries, updates and deletes of tenant-owned
// types to the viewer's merchant. A row of another merchant is then simply
// not there: it answers NOT_FOUND, never FORBIDDEN.
func FilterTenantRule() privacy.QueryMutationRule {
	return filterByViewerMerchant(func(f privacy.Filter, p entql.StringP) bool {
		tf, ok := f.(interface{ WhereMerchantID(entql.StringP) })
		if ok {
			tf.WhereMerchantID(p)
		}
		return ok
	})
}

// FilterOwnMerchantRule confines staff to their own Merchant row.
func FilterOwnMerchantRule() privacy.QueryMutationRule {
	return filterByViewerMerchant(func(f privacy.Filter, p entql.StringP) bool {
		mf, ok := f.(interface{ WhereID(entql.StringP) })
		if ok {
			mf.WhereID(p)
		}
		return ok
	})
}

// filterByViewerMerchant denies viewers that are not staff and otherwise
// lets where add "= the viewer's merchant" to the filter; where reports
// false for a filter type it does not know.
func filterByViewerMerchant(where func(privacy.Filter, entql.StringP) bool) privacy.QueryMutationRule {
	return privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
		v := viewer.FromContext(ctx)
		if !v.IsStaff() || v.MerchantID == "" {
			return privacy.Denyf("merchant data needs a staff viewer")
		}
		if !where(f, entql.StringEQ(string(v.MerchantID))) {
			return privacy.Denyf("unexpected filter type %T", f)
		}
		return privacy.Skip
	})
}

// DenyIfCashier refuses a cashier with FORBIDDEN: the data is the
// merchant's own, but not for the till.
func DenyIfCashier() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if v := viewer.FromContext(ctx); v.IsStaff() && v.HasRole(viewer.RoleCashier) {
			return errs.Newf(errs.Forbidden, "cashiers cannot see this")
		}
		return privacy.Skip
	})
}

// FilterInternalForStaff hides rows marked internal (operators' notes)
// from staff; other viewers pass to the next rule. It follows the tenant
// rules, which have already allowed operators and the system.
func FilterInternalForStaff() privacy.QueryRule {
	return privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
		if !viewer.FromContext(ctx).IsStaff() {
			return privacy.Skip
		}
		inf, ok := f.(interface{ WhereInternal(entql.BoolP) })
		if !ok {
			return privacy.Denyf("unexpected filter type %T", f)
		}
		inf.WhereInternal(entql.BoolEQ(false))
		return privacy.Skip
	})
}

// FilterStoreRule confines staff who work at some of their merchant's
// stores (everyone but the owner) to rows of those stores: sales and
// refunds, whose store edge it follows to the store's staff. It follows
// the tenant rules, which have already allowed operators and the system;
// another store's row answers NOT_FOUND, as another merchant's does.
func FilterStoreRule() privacy.QueryRule {
	return privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
		v := viewer.FromContext(ctx)
		if !v.IsStaff() || v.Role == viewer.RoleOwner || ctx.Value(allStoresKey{}) != nil {
			return privacy.Skip
		}
		if v.StoreIDs == nil {
			// A viewer made by hand: the stores are found through the store
			// edge to its staff.
			f.Where(entql.HasEdgeWith("store", entql.HasEdgeWith("staff", entql.FieldEQ("id", string(v.ID)))))
			return privacy.Skip
		}
		// A plain list plans and runs as cheaply as any other filter; the
		// subquery above made PostgreSQL count a store's sales by a scan.
		ids := make([]any, len(v.StoreIDs))
		for i, id := range v.StoreIDs {
			ids[i] = string(id)
		}
		f.Where(entql.FieldIn("store_id", ids...))
		return privacy.Skip
	})
}

type allStoresKey struct{}

// AllStores returns ctx in which FilterStoreRule lets staff read every
// store's sales of their merchant, for checks a sale makes across the
// merchant (an idempotency key, what a customer spent today) whose rows
// are never shown to the caller. The tenant rules still apply.
func AllStores(ctx context.Context) context.Context {
	return context.WithValue(ctx, allStoresKey{}, true)
}

// FilterOwnStaffRule confines staff to their own rows of a per-person type
// (push tokens, notifications, preferences): a colleague's, even the
// owner's, answers NOT_FOUND. Operators and the system were allowed before.
func FilterOwnStaffRule() privacy.QueryRule {
	return privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
		if v := viewer.FromContext(ctx); v.IsStaff() {
			f.Where(entql.FieldEQ("staff_id", string(v.ID)))
		}
		return privacy.Skip
	})
}
