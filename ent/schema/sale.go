package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/tillpos/till/auth/rule"
	"github.com/tillpos/till/ent/privacy"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/schema/saletype"
)

// int64Type maps an amount in the merchant's currency's minor units (or
// another 64-bit count) to the Int64 scalar: GraphQL's Int is 32-bit.
var int64Type = entgql.Type("Int64")

// Sale is one completed checkout. Every amount on it was computed by the
// server from its lines and tenders; the client's figures are only checked.
// The idempotency key the client sent stays with the sale for as long as
// the sale exists, so an offline upload days later still replays.
type Sale struct {
	ent.Schema
}

// Mixin of the Sale.
func (Sale) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("sal"), BaseMixin{}, TenantMixin{}, RetainedMixin{}, TimeMixin{}}
}

// Fields of the Sale.
func (Sale) Fields() []ent.Field {
	return []ent.Field{
		field.String("idempotency_key").NotEmpty().MaxLen(160).Immutable(),
		field.String("request_hash").
			Comment("SHA-256 of the request, to tell a replay from a reused key").
			Immutable().Annotations(entgql.Skip()),
		field.String("store_id").GoType(pulid.ID("")).Immutable(),
		field.String("cashier_id").GoType(pulid.ID("")).Immutable(),
		field.String("device_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().
			Annotations(entgql.Type("ID")),
		field.String("customer_id").GoType(pulid.ID("")).Optional().Nillable().
			Comment("changes only when the customer is merged into another"),
		field.Int64("receipt_number").
			Comment("per store, without gaps or duplicates").
			Immutable().
			Annotations(entgql.OrderField("RECEIPT_NUMBER"), int64Type),
		field.Enum("status").
			Values("COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED", "VOIDED").
			Default("COMPLETED"),
		field.String("currency").Immutable(),
		field.Int64("subtotal").Immutable().Comment("lines at their unit prices, before discounts").Annotations(int64Type),
		field.Int64("order_discount").Immutable().Comment("the order-level discount").Annotations(int64Type),
		field.Int64("discount_total").Immutable().Comment("line and order discounts together").Annotations(int64Type),
		field.Int64("tax_total").Immutable().Annotations(int64Type),
		field.Int64("total").Immutable().
			Comment("what the customer pays").
			Annotations(entgql.OrderField("TOTAL"), int64Type),
		field.Int64("change_due").Immutable().Comment("cash handed back").Annotations(int64Type),
		field.Int64("refunded_total").Default(0).Annotations(int64Type),
		field.Bool("prices_include_tax").Immutable(),
		field.Time("occurred_at").Immutable().
			Comment("when the sale happened, by the terminal's clock (offline sales arrive later)").
			Annotations(entgql.OrderField("OCCURRED_AT")),
		field.String("business_date").Immutable().
			Comment("the store's local date of occurred_at, YYYY-MM-DD"),
		field.Bool("offline").Default(false).Immutable().
			Comment("recorded offline and uploaded later"),
		field.String("note").Optional().MaxRuneLen(500).Immutable(),
		field.Bool("frozen").Default(false),
		field.String("frozen_reason").Optional().Nillable(),
		field.Time("frozen_at").Optional().Nillable(),
		field.Enum("risk_decision").Values("ALLOW", "FLAG").Default("ALLOW").Immutable(),
		field.JSON("risk_hits", []saletype.RiskHit{}).Optional().Immutable(),
		field.JSON("discounts", []saletype.Discount{}).Optional().Immutable().
			Comment("discounts other domains granted: rewards, offers"),
		field.Enum("review_status").
			Comment("PENDING while a flagged sale waits for a reviewer").
			Values("NONE", "PENDING", "CLEARED", "CONFIRMED").
			Default("NONE"),
		field.Time("voided_at").Optional().Nillable(),
		field.Bool("new_customer").Default(false).Immutable().
			Comment("the customer had no earlier sale: the reports count a new customer, and a void takes it back").
			Annotations(entgql.Skip()),
	}
}

// Edges of the Sale.
func (Sale) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("store", Store.Type).Field("store_id").Unique().Required().Immutable(),
		edge.To("cashier", Staff.Type).Field("cashier_id").Unique().Required().Immutable(),
		edge.To("device", Device.Type).Field("device_id").Unique().Immutable(),
		edge.From("customer", Customer.Type).Ref("sales").Field("customer_id").Unique(),
		edge.To("lines", SaleLine.Type),
		edge.To("tenders", Tender.Type),
		edge.To("refunds", Refund.Type),
	}
}

// Indexes of the Sale: lists are newest first, for the merchant, a store,
// a customer or a cashier.
func (Sale) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "idempotency_key").Unique(),
		index.Fields("store_id", "receipt_number").Unique(),
		index.Fields("merchant_id", "occurred_at"),
		index.Fields("merchant_id", "store_id", "occurred_at"),
		index.Fields("merchant_id", "customer_id", "occurred_at"),
		index.Fields("merchant_id", "cashier_id", "occurred_at"),
		index.Fields("merchant_id", "device_id", "occurred_at"),
		index.Fields("merchant_id", "review_status"),
	}
}

// Annotations of the Sale.
func (Sale) Annotations() []schema.Annotation {
	return nodeAnnotations()
}

// Policy of the Sale: staff see the sales of the stores they work at.
func (Sale) Policy() ent.Policy {
	return storePolicy()
}

// SaleLine is one line of a sale: a product or a free-text item, with what
// the product was when it was sold.
type SaleLine struct {
	ent.Schema
}

// Mixin of the SaleLine.
func (SaleLine) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("sli"), BaseMixin{}, TenantMixin{}, RetainedMixin{}}
}

// Fields of the SaleLine.
func (SaleLine) Fields() []ent.Field {
	return []ent.Field{
		field.String("sale_id").GoType(pulid.ID("")).Immutable(),
		field.Int("position").Immutable(),
		field.String("product_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		field.String("sku").Optional().Immutable(),
		field.String("name").Immutable(),
		field.String("category").Optional().Immutable(),
		field.Int("quantity").Positive().Immutable(),
		field.Int64("unit_price").Immutable().Annotations(int64Type),
		field.Int64("line_discount").Immutable().Annotations(int64Type),
		field.Int64("order_discount").Immutable().Comment("this line's share of the order discount").Annotations(int64Type),
		field.Int("tax_rate_bp").Immutable(),
		field.Int64("tax").Immutable().Annotations(int64Type),
		field.Int64("total").Immutable().Comment("what the line costs the customer, tax included").Annotations(int64Type),
		field.Int64("unit_cost").Optional().Nillable().Immutable().Annotations(int64Type),
		field.Int("refunded_quantity").Default(0),
		field.Int64("refunded_amount").Default(0).Annotations(int64Type),
	}
}

// Edges of the SaleLine.
func (SaleLine) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("sale", Sale.Type).Ref("lines").Field("sale_id").Unique().Required().Immutable(),
		edge.To("product", Product.Type).Field("product_id").Unique().Immutable(),
	}
}

// Indexes of the SaleLine: recommendations read the newest lines of a
// merchant and of a product.
func (SaleLine) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "sale_id"),
		index.Fields("product_id", "id"),
		index.Fields("merchant_id", "id"),
	}
}

// Tender is one way a sale was paid. A sale may be split over several.
type Tender struct {
	ent.Schema
}

// Mixin of the Tender.
func (Tender) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("tnd"), BaseMixin{}, TenantMixin{}, RetainedMixin{}, TimeMixin{}}
}

// Fields of the Tender. A card is kept as type, brand, last four digits and
// the processor's reference: never a full card number.
func (Tender) Fields() []ent.Field {
	return []ent.Field{
		field.String("sale_id").GoType(pulid.ID("")).Immutable(),
		field.Enum("type").
			Comment("EXCHANGE is the credit of items returned in an exchange").
			Values("CASH", "CARD", "MOBILE_WALLET", "STORED_VALUE", "LOYALTY", "EXCHANGE").Immutable(),
		field.Int64("amount").Immutable().Comment("what this tender pays towards the sale").Annotations(int64Type),
		field.Int64("tendered").Optional().Nillable().Immutable().
			Comment("cash handed over").Annotations(int64Type),
		field.Int64("change").Default(0).Immutable().Annotations(int64Type),
		field.Enum("card_type").Values("CREDIT", "DEBIT").Optional().Nillable().Immutable(),
		field.String("card_brand").Optional().Nillable().Immutable(),
		field.String("card_last4").Optional().Nillable().Immutable(),
		field.Enum("wallet").
			Values("WECHAT_PAY", "ALIPAY", "APPLE_PAY", "GOOGLE_PAY", "SAMSUNG_PAY", "UNIONPAY_QR", "PAYPAL", "OTHER").
			Optional().Nillable().Immutable(),
		field.String("reference").Optional().Nillable().Immutable().
			Comment("the processor's or wallet's transaction reference"),
		field.Int64("refunded_amount").Default(0).Annotations(int64Type),
	}
}

// Edges of the Tender.
func (Tender) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("sale", Sale.Type).Ref("tenders").Field("sale_id").Unique().Required().Immutable(),
	}
}

// Indexes of the Tender: velocity and blacklist rules look a card up by
// its reference.
func (Tender) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "sale_id"),
		index.Fields("merchant_id", "reference", "created_at"),
	}
}

// Refund gives money back for a sale: some lines, some amount, or all of
// it (a void). An exchange is a refund whose credit pays a new sale.
type Refund struct {
	ent.Schema
}

// Mixin of the Refund.
func (Refund) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("rfd"), BaseMixin{}, TenantMixin{}, RetainedMixin{}, TimeMixin{}}
}

// Fields of the Refund.
func (Refund) Fields() []ent.Field {
	return []ent.Field{
		field.String("idempotency_key").NotEmpty().MaxLen(160).Immutable(),
		field.String("request_hash").Immutable().Annotations(entgql.Skip()),
		field.String("sale_id").GoType(pulid.ID("")).Immutable(),
		field.String("store_id").GoType(pulid.ID("")).Immutable().
			Comment("the refunded sale's store"),
		field.String("staff_id").GoType(pulid.ID("")).Immutable(),
		field.String("device_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().
			Comment("the terminal the refund was made on").
			Annotations(entgql.Type("ID")),
		field.Enum("kind").Values("REFUND", "VOID", "EXCHANGE").Immutable(),
		field.String("reason").NotEmpty().MaxRuneLen(500).Immutable(),
		field.Int64("amount").Immutable().Annotations(int64Type),
		field.Int64("tax").Immutable().Comment("the tax inside amount").Annotations(int64Type),
		field.String("business_date").Immutable().
			Comment("the store's local date of the refund, YYYY-MM-DD"),
		field.String("exchange_sale_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
	}
}

// Edges of the Refund.
func (Refund) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("sale", Sale.Type).Ref("refunds").Field("sale_id").Unique().Required().Immutable(),
		edge.To("store", Store.Type).Field("store_id").Unique().Required().Immutable(),
		edge.To("staff", Staff.Type).Field("staff_id").Unique().Required().Immutable(),
		edge.To("device", Device.Type).Field("device_id").Unique().Immutable(),
		edge.To("lines", RefundLine.Type),
		edge.To("tenders", RefundTender.Type),
		edge.To("exchange_sale", Sale.Type).Field("exchange_sale_id").Unique().Immutable(),
	}
}

// Indexes of the Refund.
func (Refund) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "idempotency_key").Unique(),
		index.Fields("merchant_id", "sale_id"),
		index.Fields("merchant_id", "store_id", "created_at"),
	}
}

// Annotations of the Refund.
func (Refund) Annotations() []schema.Annotation {
	return nodeAnnotations()
}

// Policy of the Refund: staff see the refunds of the stores they work at.
func (Refund) Policy() ent.Policy {
	return storePolicy()
}

// storePolicy confines staff who work at some stores to those stores'
// rows, after the tenant rules of the TenantMixin: node(id:),
// connections and edges alike.
func storePolicy() ent.Policy {
	return privacy.Policy{Query: privacy.QueryPolicy{rule.FilterStoreRule()}}
}

// RefundLine is how much of one sale line a refund returned.
type RefundLine struct {
	ent.Schema
}

// Mixin of the RefundLine.
func (RefundLine) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("rfl"), BaseMixin{}, TenantMixin{}, RetainedMixin{}}
}

// Fields of the RefundLine.
func (RefundLine) Fields() []ent.Field {
	return []ent.Field{
		field.String("refund_id").GoType(pulid.ID("")).Immutable(),
		field.String("sale_line_id").GoType(pulid.ID("")).Immutable(),
		field.Int("quantity").Min(0).Immutable(),
		field.Int64("amount").Immutable().Annotations(int64Type),
	}
}

// Indexes of the RefundLine.
func (RefundLine) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "refund_id")}
}

// Edges of the RefundLine.
func (RefundLine) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("refund", Refund.Type).Ref("lines").Field("refund_id").Unique().Required().Immutable(),
		edge.To("sale_line", SaleLine.Type).Field("sale_line_id").Unique().Required().Immutable(),
	}
}

// RefundTender is where a refund's money went: back to one of the sale's
// tenders, or to cash or stored value.
type RefundTender struct {
	ent.Schema
}

// Mixin of the RefundTender.
func (RefundTender) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("rft"), BaseMixin{}, TenantMixin{}, RetainedMixin{}}
}

// Fields of the RefundTender.
func (RefundTender) Fields() []ent.Field {
	return []ent.Field{
		field.String("refund_id").GoType(pulid.ID("")).Immutable(),
		field.String("tender_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		field.Enum("type").Values("CASH", "CARD", "MOBILE_WALLET", "STORED_VALUE", "LOYALTY", "EXCHANGE").Immutable(),
		field.Int64("amount").Immutable().Annotations(int64Type),
	}
}

// Indexes of the RefundTender.
func (RefundTender) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "refund_id")}
}

// Edges of the RefundTender.
func (RefundTender) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("refund", Refund.Type).Ref("tenders").Field("refund_id").Unique().Required().Immutable(),
		edge.To("tender", Tender.Type).Field("tender_id").Unique().Immutable(),
	}
}
