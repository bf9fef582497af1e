package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"entgo.io/ent/schema/mixin"

	"github.com/tillpos/till/ent/schema/pulid"
)

// Rollups: the dashboard's figures, kept up to date inside each sale's,
// refund's and void's transaction (package reports), so that a report
// reads a few rows per store and local day or hour whatever the number of
// sales. Each row is one natural key; writes add to it (upserts).

// FiguresMixin holds the figures every sales rollup keeps.
type FiguresMixin struct {
	mixin.Schema
}

// Fields of the FiguresMixin: sales (total, tax and discounts of sales,
// units sold), refunds and exchange returns (amount with its tax, units
// returned), voids (whose sales are taken back out of the sale figures),
// and the sales' customers.
func (FiguresMixin) Fields() []ent.Field {
	var fields []ent.Field
	for _, name := range []string{
		"sales_count", "sales_total", "discount_total", "tax_total", "items_sold",
		"refunds_count", "refund_amount", "refund_tax", "items_returned",
		"voids_count", "void_amount", "new_customers", "returning_visits",
	} {
		fields = append(fields, field.Int64(name).Default(0))
	}
	return fields
}

// rollupKey is the start of every rollup's natural key: the store and its
// local business day.
func rollupKey() []ent.Field {
	return []ent.Field{
		field.String("store_id").GoType(pulid.ID("")).Immutable(),
		field.String("business_date").Immutable().Comment("the store's local date, YYYY-MM-DD"),
	}
}

// SalesHour is a store's figures for one local hour of one business day.
type SalesHour struct {
	ent.Schema
}

// Mixin of the SalesHour.
func (SalesHour) Mixin() []ent.Mixin {
	return []ent.Mixin{BaseMixin{}, TenantMixin{}, FiguresMixin{}}
}

// Fields of the SalesHour.
func (SalesHour) Fields() []ent.Field {
	return append(rollupKey(), field.Int("hour").Min(0).Max(23).Immutable().Comment("local wall-clock hour"))
}

// Indexes of the SalesHour: the natural key, which is also how reports
// read a range of days.
func (SalesHour) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "store_id", "business_date", "hour").Unique()}
}

// Annotations of the SalesHour: read through the reports, not the API.
func (SalesHour) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy of the SalesHour.
func (SalesHour) Policy() ent.Policy { return storePolicy() }

// SalesFacetDay is a store's figures for one business day and one tender
// type, staff member or device. For a tender type the sales are the
// tenders of that type (their count and amount) and the refunds what was
// paid back to it.
type SalesFacetDay struct {
	ent.Schema
}

// Mixin of the SalesFacetDay.
func (SalesFacetDay) Mixin() []ent.Mixin {
	return []ent.Mixin{BaseMixin{}, TenantMixin{}, FiguresMixin{}}
}

// Fields of the SalesFacetDay.
func (SalesFacetDay) Fields() []ent.Field {
	return append(rollupKey(),
		field.Enum("dimension").Values("TENDER", "STAFF", "DEVICE").Immutable(),
		field.String("key").Immutable().Comment("the tender type, staff ID or device ID"),
	)
}

// Indexes of the SalesFacetDay.
func (SalesFacetDay) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "store_id", "business_date", "dimension", "key").Unique()}
}

// Annotations of the SalesFacetDay.
func (SalesFacetDay) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy of the SalesFacetDay.
func (SalesFacetDay) Policy() ent.Policy { return storePolicy() }

// ProductDay is what a store sold and took back of one product (or
// free-text item) on one business day. Revenue is without tax; cost is
// the lines' unit cost where the product had one.
type ProductDay struct {
	ent.Schema
}

// Mixin of the ProductDay.
func (ProductDay) Mixin() []ent.Mixin {
	return []ent.Mixin{BaseMixin{}, TenantMixin{}}
}

// Fields of the ProductDay.
func (ProductDay) Fields() []ent.Field {
	return append(rollupKey(),
		field.String("product_key").Immutable().Comment(`the product ID, or "name:" and a free-text item's name`),
		field.String("product_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		field.String("name").Immutable(),
		field.String("category").Immutable(),
		field.Int64("units").Default(0),
		field.Int64("revenue").Default(0),
		field.Int64("cost").Default(0),
		field.Int64("units_without_cost").Default(0).Comment("units whose cost is unknown"),
		field.Int64("units_returned").Default(0),
		field.Int64("revenue_returned").Default(0),
		field.Int64("cost_returned").Default(0),
	)
}

// Indexes of the ProductDay.
func (ProductDay) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "store_id", "business_date", "product_key").Unique()}
}

// Annotations of the ProductDay.
func (ProductDay) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy of the ProductDay.
func (ProductDay) Policy() ent.Policy { return storePolicy() }
