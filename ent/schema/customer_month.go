package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/tillpos/till/ent/schema/pulid"
)

// CustomerMonth counts one customer's sales at one store in one month (the
// store's local month of the sale), kept in the sale's and the refund's
// transaction, so that cohort retention and a store's best customers are
// read without a scan of the sales. A void takes its sale back out; a
// merge moves the duplicate's months to the survivor. It is bookkeeping,
// not a node: its id is a plain integer.
type CustomerMonth struct {
	ent.Schema
}

// Mixin of the CustomerMonth.
func (CustomerMonth) Mixin() []ent.Mixin {
	return []ent.Mixin{BaseMixin{}, TenantMixin{}}
}

// Fields of the CustomerMonth.
func (CustomerMonth) Fields() []ent.Field {
	return []ent.Field{
		field.String("customer_id").GoType(pulid.ID("")),
		field.String("store_id").GoType(pulid.ID("")).Immutable(),
		field.String("month").Immutable().Comment("YYYY-MM, the store's local month of the sales"),
		field.Int("sales_count").Default(0).Comment("sales not voided"),
		field.Int64("amount").Default(0).Comment("what those sales came to, less refunds, in minor units"),
	}
}

// Edges of the CustomerMonth.
func (CustomerMonth) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("customer", Customer.Type).Field("customer_id").Unique().Required(),
		edge.To("store", Store.Type).Field("store_id").Unique().Required().Immutable(),
	}
}

// Indexes of the CustomerMonth: one row per customer, store and month;
// cohorts read a merchant's or a store's months.
func (CustomerMonth) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("customer_id", "store_id", "month").Unique(),
		index.Fields("merchant_id", "month"),
		index.Fields("merchant_id", "store_id", "month"),
	}
}

// Annotations of the CustomerMonth: internal bookkeeping, not in the API.
func (CustomerMonth) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
