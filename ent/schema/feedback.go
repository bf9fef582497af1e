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

// Feedback is a customer's rating of a sale: the products, the service or
// the visit as a whole. The store (and customer) are the sale's, kept on
// the row so averages per store and product are one indexed aggregate.
type Feedback struct {
	ent.Schema
}

// Mixin of the Feedback.
func (Feedback) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("fbk"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the Feedback.
func (Feedback) Fields() []ent.Field {
	return []ent.Field{
		field.String("sale_id").GoType(pulid.ID("")).Immutable(),
		field.String("store_id").GoType(pulid.ID("")).Immutable(),
		field.String("customer_id").GoType(pulid.ID("")).Optional().Nillable().
			Comment("the sale's customer; changes only when the customer is merged"),
		field.String("product_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().
			Comment("for PRODUCT feedback, which of the sale's products"),
		field.String("recorded_by_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Type("ID")),
		field.Int("rating").Min(1).Max(5).Immutable().
			Annotations(entgql.OrderField("RATING")),
		field.Enum("category").Values("PRODUCT", "SERVICE", "EXPERIENCE").Immutable(),
		field.String("comment").Optional().MaxRuneLen(2000).
			Comment("cleared when the customer is erased"),
	}
}

// Edges of the Feedback.
func (Feedback) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("sale", Sale.Type).Field("sale_id").Unique().Required().Immutable(),
		edge.To("store", Store.Type).Field("store_id").Unique().Required().Immutable(),
		edge.To("customer", Customer.Type).Field("customer_id").Unique(),
		edge.To("product", Product.Type).Field("product_id").Unique().Immutable(),
	}
}

// Indexes of the Feedback.
func (Feedback) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "store_id", "created_at"),
		index.Fields("merchant_id", "product_id"),
		index.Fields("merchant_id", "sale_id"),
		index.Fields("merchant_id", "customer_id"),
	}
}

// Annotations of the Feedback.
func (Feedback) Annotations() []schema.Annotation {
	return nodeAnnotations(entgql.QueryField("feedback"))
}
