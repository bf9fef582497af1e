package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/tillpos/till/ent/schema/loyaltytype"
	"github.com/tillpos/till/ent/schema/pulid"
)

// LoyaltyProgramVersion is a merchant's loyalty rules from effective_from
// on, immutable: a change writes the next version, and a sale earns under
// the latest version in force when it happened, however late it is
// uploaded. A merchant without a version has no program.
type LoyaltyProgramVersion struct {
	ent.Schema
}

// Mixin of the LoyaltyProgramVersion.
func (LoyaltyProgramVersion) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("lpv"), BaseMixin{}, TenantMixin{}}
}

// Fields of the LoyaltyProgramVersion.
func (LoyaltyProgramVersion) Fields() []ent.Field {
	return []ent.Field{
		field.Int("version").Positive().Immutable().Comment("1, 2, … per merchant"),
		field.Time("effective_from").Immutable(),
		field.String("staff_id").GoType(pulid.ID("")).Immutable().Comment("who wrote the version"),
		field.Bool("enabled").Immutable(),
		field.Int64("points_per_unit").Min(0).Immutable().Comment("points for each unit_amount spent"),
		field.Int64("unit_amount").Positive().Immutable().Comment("minor units that earn points_per_unit"),
		field.Enum("rounding").GoType(loyaltytype.Rounding("")).Immutable(),
		field.Int64("min_spend").Min(0).Immutable().Comment("what the earning tenders must come to for a sale to earn"),
		field.JSON("earning_tenders", []string{}).Immutable().Comment("the tender types whose payments earn"),
		field.Int("expiry_months").Min(0).Immutable().Comment("points expire this many months after they are earned; 0: never"),
		field.Int64("point_value").Min(0).Immutable().Comment("minor units a point pays as a LOYALTY tender; 0: no LOYALTY tender"),
		field.JSON("tiers", []loyaltytype.Tier{}).Immutable().Comment("by threshold ascending; the first is the base tier, of threshold 0"),
		field.Enum("tier_basis").GoType(loyaltytype.TierBasis("")).Immutable(),
		field.Time("created_at").Default(storedNow).Immutable(),
	}
}

// Edges of the LoyaltyProgramVersion.
func (LoyaltyProgramVersion) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("staff", Staff.Type).Field("staff_id").Unique().Required().Immutable(),
	}
}

// Indexes of the LoyaltyProgramVersion: one row per version.
func (LoyaltyProgramVersion) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "version").Unique()}
}

// Annotations of the LoyaltyProgramVersion: the API shows it as
// LoyaltyProgram.
func (LoyaltyProgramVersion) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// LoyaltyAccount is a customer's points: the cache of the sum of its
// ledger (LoyaltyEntry) and of its lots' remaining points, written in the
// same transaction as each entry, never below zero; and the tier the
// customer holds. It is opened by the customer's first earn or
// adjustment.
type LoyaltyAccount struct {
	ent.Schema
}

// Mixin of the LoyaltyAccount.
func (LoyaltyAccount) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("lac"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the LoyaltyAccount.
func (LoyaltyAccount) Fields() []ent.Field {
	return []ent.Field{
		field.String("customer_id").GoType(pulid.ID("")).
			Comment("changes only when the customer is merged into another"),
		field.Int64("points").Min(0).Default(0),
		field.String("tier").NotEmpty(),
		field.Time("tier_since"),
		field.Time("tier_review_at").Optional().Nillable().
			Comment("when the tier is next weighed against the rolling basis (down as well as up); none in the base tier"),
	}
}

// Edges of the LoyaltyAccount.
func (LoyaltyAccount) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("customer", Customer.Type).Field("customer_id").Unique().Required(),
	}
}

// Indexes of the LoyaltyAccount: one per customer; the tier review finds
// those due.
func (LoyaltyAccount) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("customer_id").Unique(),
		index.Fields("tier_review_at"),
	}
}

// Annotations of the LoyaltyAccount: the API shows it as
// Customer.loyalty.
func (LoyaltyAccount) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// LoyaltyEntry is one change to an account's points, append-only: EARN (a
// sale), REDEEM (a reward or a LOYALTY tender), REVERSE (a refund takes
// earned points back, or gives redeemed ones back), EXPIRE (a lot ran
// out) or ADJUST (by hand, with a reason). The balance is the sum of the
// points; what the entries add to the tier basis is kept apart.
type LoyaltyEntry struct {
	ent.Schema
}

// Mixin of the LoyaltyEntry.
func (LoyaltyEntry) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("lye"), BaseMixin{}, TenantMixin{}}
}

// Fields of the LoyaltyEntry.
func (LoyaltyEntry) Fields() []ent.Field {
	return []ent.Field{
		field.String("account_id").GoType(pulid.ID("")).
			Comment("changes only when the customer is merged into another").
			Annotations(entgql.Skip()),
		field.Enum("kind").Values("EARN", "REDEEM", "REVERSE", "EXPIRE", "ADJUST").Immutable(),
		field.Int64("points").Immutable().
			Comment("what the entry adds to the balance; negative takes away").
			Annotations(int64Type),
		field.Int64("qualifying_points").Default(0).Immutable().
			Comment("what the entry adds to the points-earned tier basis").
			Annotations(int64Type),
		field.Int64("qualifying_spend").Default(0).Immutable().
			Comment("what the entry adds to the net-spend tier basis").
			Annotations(int64Type),
		field.Time("occurred_at").Immutable().
			Comment("when what it records happened: the sale's time for an earn").
			Annotations(entgql.OrderField("OCCURRED_AT")),
		field.Time("expires_at").Optional().Nillable().Immutable().
			Comment("when the points it adds expire; none for a debit or points that never expire"),
		field.String("sale_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		field.String("refund_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		field.String("reward_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		field.String("redemption_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		field.String("tender_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().
			Comment("the sale's LOYALTY tender a REDEEM paid, or a REVERSE paid back").
			Annotations(entgql.Type("ID")),
		field.String("staff_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().
			Comment("who made the change; none for expiry"),
		field.String("reason").Optional().MaxRuneLen(500).Immutable(),
		field.Int("program_version").Optional().Nillable().Immutable().
			Comment("the program version an earn was reckoned under"),
		field.String("idempotency_key").Optional().Nillable().MaxLen(160).Immutable().
			Comment("an adjustment's, so that a retry replays"),
		field.String("request_hash").Optional().Immutable().Annotations(entgql.Skip()),
		field.Time("created_at").Default(storedNow).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Edges of the LoyaltyEntry.
func (LoyaltyEntry) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("account", LoyaltyAccount.Type).Field("account_id").Unique().Required().
			Annotations(entgql.Skip()),
		edge.To("sale", Sale.Type).Field("sale_id").Unique().Immutable(),
		edge.To("refund", Refund.Type).Field("refund_id").Unique().Immutable(),
		edge.To("reward", LoyaltyReward.Type).Field("reward_id").Unique().Immutable(),
		edge.To("redemption", LoyaltyRedemption.Type).Field("redemption_id").Unique().Immutable(),
		edge.To("tender", Tender.Type).Field("tender_id").Unique().Immutable().
			Annotations(entgql.Skip()),
		edge.To("staff", Staff.Type).Field("staff_id").Unique().Immutable(),
	}
}

// Indexes of the LoyaltyEntry: an account's ledger is read newest first
// and summed over a rolling year; a refund finds its sale's entries.
func (LoyaltyEntry) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "account_id", "created_at"),
		index.Fields("merchant_id", "account_id", "occurred_at"),
		index.Fields("merchant_id", "sale_id"),
		index.Fields("merchant_id", "idempotency_key").Unique(),
	}
}

// Annotations of the LoyaltyEntry.
func (LoyaltyEntry) Annotations() []schema.Annotation {
	return nodeAnnotations()
}

// LoyaltyLot is the points one credit added (an earn, a positive
// adjustment, redeemed points given back) and what is left of them. Debits
// take from lots first to expire, then oldest; expiry takes what is left
// of a lot whose time has come. The lots' remaining points add up to the
// account's balance.
type LoyaltyLot struct {
	ent.Schema
}

// Mixin of the LoyaltyLot.
func (LoyaltyLot) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("lyl"), BaseMixin{}, TenantMixin{}}
}

// Fields of the LoyaltyLot.
func (LoyaltyLot) Fields() []ent.Field {
	return []ent.Field{
		field.String("entry_id").GoType(pulid.ID("")).Immutable(),
		field.String("account_id").GoType(pulid.ID("")).
			Comment("changes only when the customer is merged into another"),
		field.Int64("remaining").Min(0),
		field.Time("expires_at").Optional().Nillable().Immutable().Comment("none: never"),
		field.Time("created_at").Default(storedNow).Immutable(),
	}
}

// Edges of the LoyaltyLot.
func (LoyaltyLot) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("entry", LoyaltyEntry.Type).Field("entry_id").Unique().Required().Immutable(),
		edge.To("account", LoyaltyAccount.Type).Field("account_id").Unique().Required(),
	}
}

// Indexes of the LoyaltyLot: an account's open lots; the expiry job finds
// the lots whose time has come.
func (LoyaltyLot) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "account_id", "remaining"),
		index.Fields("expires_at", "remaining"),
		index.Fields("entry_id").Unique(),
	}
}

// Annotations of the LoyaltyLot.
func (LoyaltyLot) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// LoyaltyReward is what a merchant's customers can redeem points for: a
// free product (one unit of it in a sale), a fixed discount, or a
// percentage discount (capped) off the order.
type LoyaltyReward struct {
	ent.Schema
}

// Mixin of the LoyaltyReward.
func (LoyaltyReward) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("lrw"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the LoyaltyReward.
func (LoyaltyReward) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxRuneLen(100),
		field.Enum("kind").Values("FREE_PRODUCT", "FIXED_DISCOUNT", "PERCENT_DISCOUNT").Immutable(),
		field.String("product_id").GoType(pulid.ID("")).Optional().Nillable().
			Comment("FREE_PRODUCT: the product given"),
		field.Int64("amount").Optional().Nillable().
			Comment("FIXED_DISCOUNT: what it takes off the order").Annotations(int64Type),
		field.Int("percent_bp").Optional().Nillable().
			Comment("PERCENT_DISCOUNT: basis points off the order"),
		field.Int64("max_discount").Optional().Nillable().
			Comment("PERCENT_DISCOUNT: the most it takes off").Annotations(int64Type),
		field.Int64("points_cost").Positive().Annotations(int64Type),
		field.Bool("active").Default(true),
		field.String("min_tier").Optional().Nillable().
			Comment("the lowest tier that may redeem it; none: every member"),
	}
}

// Edges of the LoyaltyReward.
func (LoyaltyReward) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("product", Product.Type).Field("product_id").Unique(),
	}
}

// Annotations of the LoyaltyReward.
func (LoyaltyReward) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}

// LoyaltyRedemption is a reward redeemed: in a sale (a discount on it), or
// handed over outside one (redeemReward, with its idempotency key). A void
// or full refund of its sale gives the points back and voids it.
type LoyaltyRedemption struct {
	ent.Schema
}

// Mixin of the LoyaltyRedemption.
func (LoyaltyRedemption) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("lrd"), BaseMixin{}, TenantMixin{}}
}

// Fields of the LoyaltyRedemption.
func (LoyaltyRedemption) Fields() []ent.Field {
	return []ent.Field{
		field.String("reward_id").GoType(pulid.ID("")).Immutable(),
		field.String("account_id").GoType(pulid.ID("")).
			Comment("changes only when the customer is merged into another").
			Annotations(entgql.Skip()),
		field.String("sale_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		field.String("store_id").GoType(pulid.ID("")).Immutable(),
		field.String("staff_id").GoType(pulid.ID("")).Immutable(),
		field.Int64("points").Immutable().Annotations(int64Type),
		field.Int64("discount_amount").Immutable().
			Comment("what it took off the sale; 0 outside a sale").Annotations(int64Type),
		field.Time("voided_at").Optional().Nillable().
			Comment("when its sale was voided or fully refunded and the points given back"),
		field.String("idempotency_key").Optional().Nillable().MaxLen(160).Immutable(),
		field.String("request_hash").Optional().Immutable().Annotations(entgql.Skip()),
		field.Time("created_at").Default(storedNow).Immutable(),
	}
}

// Edges of the LoyaltyRedemption.
func (LoyaltyRedemption) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("reward", LoyaltyReward.Type).Field("reward_id").Unique().Required().Immutable(),
		edge.To("account", LoyaltyAccount.Type).Field("account_id").Unique().Required().
			Annotations(entgql.Skip()),
		edge.To("sale", Sale.Type).Field("sale_id").Unique().Immutable(),
		edge.To("store", Store.Type).Field("store_id").Unique().Required().Immutable(),
		edge.To("staff", Staff.Type).Field("staff_id").Unique().Required().Immutable(),
	}
}

// Indexes of the LoyaltyRedemption.
func (LoyaltyRedemption) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "sale_id"),
		index.Fields("merchant_id", "account_id"),
		index.Fields("merchant_id", "idempotency_key").Unique(),
	}
}

// Annotations of the LoyaltyRedemption.
func (LoyaltyRedemption) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}
