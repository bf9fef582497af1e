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

// Product is an item a merchant sells. A sale copies what it needs from the
// product (name, price, tax rate, cost) onto its lines, so later edits never
// rewrite history.
type Product struct {
	ent.Schema
}

// Mixin of the Product.
func (Product) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("prd"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the Product.
func (Product) Fields() []ent.Field {
	return []ent.Field{
		field.String("sku").NotEmpty().MaxLen(64).
			Annotations(entgql.OrderField("SKU")),
		field.String("barcode").Optional().Nillable().MaxLen(64),
		field.String("name").NotEmpty().MaxRuneLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.String("search_text").
			Comment("lower-cased name, SKU and barcode, for search").
			Default("").
			Annotations(entgql.Skip()),
		field.String("category").Optional().MaxRuneLen(100).
			Annotations(entgql.OrderField("CATEGORY")),
		field.Int64("unit_price").
			Comment("in the merchant's currency's minor units").
			Min(0).
			Annotations(entgql.OrderField("UNIT_PRICE"), int64Type),
		field.Int64("cost").
			Comment("what one unit costs the merchant, for profit; minor units").
			Optional().Nillable().Min(0).
			Annotations(int64Type),
		field.Int("tax_rate_bp").
			Comment("tax rate in basis points: 600 is 6%").
			Default(0).Min(0).Max(10000),
		field.Bool("active").Default(true),
	}
}

// Edges of the Product.
func (Product) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("price_changes", ProductPriceChange.Type).
			Annotations(entgql.RelayConnection()),
	}
}

// Indexes of the Product: a scan at the till finds one product by barcode,
// and the apps' offline caches catch up by updated_at.
func (Product) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "sku").Unique(),
		index.Fields("merchant_id", "barcode").Unique(),
		index.Fields("merchant_id", "updated_at"),
	}
}

// Annotations of the Product.
func (Product) Annotations() []schema.Annotation {
	return nodeAnnotations(entgql.QueryField())
}

// ProductPriceChange records a change of a product's price: who, when, old
// and new.
type ProductPriceChange struct {
	ent.Schema
}

// Mixin of the ProductPriceChange.
func (ProductPriceChange) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ppc"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the ProductPriceChange.
func (ProductPriceChange) Fields() []ent.Field {
	return []ent.Field{
		field.String("product_id").GoType(pulid.ID("")).Immutable(),
		field.String("changed_by_id").GoType(pulid.ID("")).Immutable(),
		field.Int64("old_price").Immutable().Annotations(int64Type),
		field.Int64("new_price").Immutable().Annotations(int64Type),
	}
}

// Indexes of the ProductPriceChange.
func (ProductPriceChange) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "product_id")}
}

// Edges of the ProductPriceChange.
func (ProductPriceChange) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("product", Product.Type).Ref("price_changes").Field("product_id").
			Unique().Required().Immutable(),
		edge.To("changed_by", Staff.Type).Field("changed_by_id").Unique().Required().Immutable(),
	}
}

// Annotations of the ProductPriceChange.
func (ProductPriceChange) Annotations() []schema.Annotation {
	return nodeAnnotations()
}
