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

// Offer is a merchant's promotion or coupon: a percentage (capped) or a
// fixed amount off a whole order, for everyone, an RFM segment or a saved
// segment, within a validity window, optionally at one store, with usage
// limits per customer and overall, a stacking rule and an optional coupon
// code. Each use is an OfferRedemption of a sale.
type Offer struct {
	ent.Schema
}

// Mixin of the Offer.
func (Offer) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ofr"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the Offer.
func (Offer) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxRuneLen(100).
			Comment("what the tablet shows and the receipt prints").
			Annotations(entgql.OrderField("NAME")),
		field.String("description").Optional().MaxRuneLen(500),
		field.Enum("kind").Values("PERCENT", "FIXED").Immutable(),
		field.Int("percent_bp").Optional().Nillable().
			Comment("PERCENT: basis points off the order (2000 is 20%)"),
		field.Int64("max_discount").Optional().Nillable().
			Comment("PERCENT: the most it takes off one sale").Annotations(int64Type),
		field.Int64("amount").Optional().Nillable().
			Comment("FIXED: what it takes off the order").Annotations(int64Type),
		field.Int64("min_spend").Optional().Nillable().
			Comment("what the order must come to, before offers").Annotations(int64Type),
		field.Enum("target").Values("EVERYONE", "SEGMENT", "SAVED_SEGMENT").Default("EVERYONE"),
		field.Enum("segment").
			Values("NEW", "LOYAL", "HIGH_VALUE", "AT_RISK", "LOST", "OCCASIONAL").
			Comment("SEGMENT: the customers' RFM segment").
			Optional().Nillable(),
		field.String("saved_segment_id").GoType(pulid.ID("")).Optional().Nillable().
			Comment("SAVED_SEGMENT: whose members, as they stand when the offer is applied"),
		field.String("store_id").GoType(pulid.ID("")).Optional().Nillable().
			Comment("the one store it applies at; every store when null"),
		field.Time("valid_from").Annotations(entgql.OrderField("VALID_FROM")),
		field.Time("valid_until").Optional().Nillable().
			Comment("the end of the window (exclusive); open-ended when null").
			Annotations(entgql.OrderField("VALID_UNTIL")),
		field.Int("per_customer_limit").Optional().Nillable().
			Comment("uses per customer; a limited offer needs the sale's customer"),
		field.Int("usage_limit").Optional().Nillable().Comment("uses in all"),
		field.Int("redemption_count").Default(0).
			Comment("uses so far, voided sales' given back").
			Annotations(entgql.OrderField("REDEMPTION_COUNT")),
		field.Enum("stacking").Values("STACKABLE", "EXCLUSIVE").Default("STACKABLE").
			Comment("STACKABLE combines with other stackable offers; EXCLUSIVE goes alone among offers"),
		field.String("code").Optional().Nillable().
			Comment("the coupon code, upper-cased; looked up without regard to case"),
		field.String("code_key").Optional().Nillable().
			Comment("code while the offer runs, so that an ended offer's code can be used again").
			Annotations(entgql.Skip()),
		field.Enum("status").Values("ACTIVE", "ENDED").Default("ACTIVE"),
		field.Time("ended_at").Optional().Nillable(),
		field.String("created_by_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Type("ID")),
	}
}

// Edges of the Offer.
func (Offer) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("saved_segment", SavedSegment.Type).Field("saved_segment_id").Unique(),
		edge.To("store", Store.Type).Field("store_id").Unique(),
		edge.To("redemptions", OfferRedemption.Type).
			Annotations(entgql.RelayConnection()),
	}
}

// Indexes of the Offer: a coupon code is unique among a merchant's
// running offers.
func (Offer) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "code_key").Unique(),
		index.Fields("merchant_id", "status", "valid_from"),
	}
}

// Annotations of the Offer.
func (Offer) Annotations() []schema.Annotation {
	return nodeAnnotations()
}

// OfferRedemption is one use of an offer: the sale it discounted, the
// customer, what it took off and when. A void gives the use back and
// keeps the row, marked voided.
type OfferRedemption struct {
	ent.Schema
}

// Mixin of the OfferRedemption.
func (OfferRedemption) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ofd"), BaseMixin{}, TenantMixin{}}
}

// Fields of the OfferRedemption.
func (OfferRedemption) Fields() []ent.Field {
	return []ent.Field{
		field.String("offer_id").GoType(pulid.ID("")).Immutable(),
		field.String("customer_id").GoType(pulid.ID("")).Optional().Nillable().
			Comment("changes only when the customer is merged into another"),
		field.String("sale_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Type("ID")),
		field.Int64("amount").Immutable().Annotations(int64Type),
		field.Time("at").Immutable().
			Comment("when the sale happened").
			Annotations(entgql.OrderField("AT")),
		field.Time("voided_at").Optional().Nillable().
			Comment("when the sale was voided and the use given back"),
	}
}

// Edges of the OfferRedemption. The sale is shown as saleID: staff see
// only their stores' sales, and every store's redemptions.
func (OfferRedemption) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("offer", Offer.Type).Ref("redemptions").Field("offer_id").Unique().Required().Immutable(),
		edge.To("customer", Customer.Type).Field("customer_id").Unique(),
		edge.To("sale", Sale.Type).Field("sale_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
	}
}

// Indexes of the OfferRedemption: a customer's uses of an offer are
// counted under the offer's lock; a void finds its sale's.
func (OfferRedemption) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "offer_id", "customer_id"),
		index.Fields("merchant_id", "sale_id"),
		index.Fields("merchant_id", "customer_id"),
	}
}

// Annotations of the OfferRedemption.
func (OfferRedemption) Annotations() []schema.Annotation {
	return nodeAnnotations()
}
