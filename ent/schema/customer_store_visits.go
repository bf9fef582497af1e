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

// CustomerStoreVisits counts one customer's visits to one store, so that
// the favourite store follows from a sale without a scan of the history.
// It is bookkeeping, not a node: its id is a plain integer.
type CustomerStoreVisits struct {
	ent.Schema
}

// Mixin of the CustomerStoreVisits.
func (CustomerStoreVisits) Mixin() []ent.Mixin {
	return []ent.Mixin{BaseMixin{}, TenantMixin{}}
}

// Fields of the CustomerStoreVisits.
func (CustomerStoreVisits) Fields() []ent.Field {
	return []ent.Field{
		field.String("customer_id").GoType(pulid.ID("")),
		field.String("store_id").GoType(pulid.ID("")),
		field.Int("visits").Default(0),
	}
}

// Edges of the CustomerStoreVisits.
func (CustomerStoreVisits) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("customer", Customer.Type).Ref("store_visits").Field("customer_id").Unique().Required(),
		edge.To("store", Store.Type).Field("store_id").Unique().Required(),
	}
}

// Indexes of the CustomerStoreVisits.
func (CustomerStoreVisits) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("customer_id", "store_id").Unique(),
		index.Fields("merchant_id", "customer_id"),
	}
}

// Annotations of the CustomerStoreVisits: internal bookkeeping, not in the API.
func (CustomerStoreVisits) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
