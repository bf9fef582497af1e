package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/schema/svtype"
)

// StoredValueSettings are a merchant's rules for prepaid balances: the
// bonus a top-up earns, and whether a sale paid otherwise may be refunded
// to the customer's balance. A merchant without a row has the defaults.
type StoredValueSettings struct {
	ent.Schema
}

// Mixin of the StoredValueSettings.
func (StoredValueSettings) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("svs"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the StoredValueSettings.
func (StoredValueSettings) Fields() []ent.Field {
	return []ent.Field{
		field.JSON("bonus_tiers", []svtype.BonusTier{}).
			Comment("by minAmount ascending; a top-up gets the bonus of the highest tier it reaches").
			Default([]svtype.BonusTier{}).
			Annotations(entgql.Type("[StoredValueBonusTier!]")),
		field.Bool("refund_to_balance_allowed").
			Comment("whether a sale paid in cash, by card or wallet may be refunded to stored value").
			Default(false),
	}
}

// Indexes of the StoredValueSettings: one row per merchant.
func (StoredValueSettings) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id").Unique().StorageKey("stored_value_settings_one_per_merchant")}
}

// Annotations of the StoredValueSettings.
func (StoredValueSettings) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}

// StoredValueAccount is a customer's prepaid balance: the cache of the sum
// of its ledger (StoredValueEntry), written in the same transaction as
// each entry, never below zero. It is made by the customer's first top-up
// (or refund to balance).
type StoredValueAccount struct {
	ent.Schema
}

// Mixin of the StoredValueAccount.
func (StoredValueAccount) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("sva"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the StoredValueAccount.
func (StoredValueAccount) Fields() []ent.Field {
	return []ent.Field{
		field.String("customer_id").GoType(pulid.ID("")).
			Comment("changes only when the customer is merged into another"),
		field.String("store_id").GoType(pulid.ID("")).Immutable().
			Comment("where the account was opened, for the liabilities by store"),
		field.Int64("balance").Min(0).Default(0),
		field.Int64("bonus_balance").Min(0).Default(0).
			Comment("the promotional part of balance; the rest was paid in"),
	}
}

// Edges of the StoredValueAccount.
func (StoredValueAccount) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("customer", Customer.Type).Field("customer_id").Unique().Required(),
		edge.To("store", Store.Type).Field("store_id").Unique().Required().Immutable(),
	}
}

// Indexes of the StoredValueAccount: one per customer; the liabilities
// report sums a merchant's by store.
func (StoredValueAccount) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("customer_id").Unique(),
		index.Fields("merchant_id", "store_id"),
	}
}

// Annotations of the StoredValueAccount: the API shows it as
// Customer.storedValue.
func (StoredValueAccount) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// StoredValueTopUp is money a customer paid into their balance: how it
// was paid (a card as brand, last four digits and the processor's
// reference, never a full number), the bonus the merchant's tiers gave at
// the time, who took it and where. The idempotency key stays with it, so
// a retry replays.
type StoredValueTopUp struct {
	ent.Schema
}

// Mixin of the StoredValueTopUp.
func (StoredValueTopUp) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("svt"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the StoredValueTopUp. The tender's columns are shown as
// StoredValueTopUp.tender.
func (StoredValueTopUp) Fields() []ent.Field {
	tender := entgql.Skip()
	return []ent.Field{
		field.String("idempotency_key").NotEmpty().MaxLen(160).Immutable(),
		field.String("request_hash").Immutable().Annotations(entgql.Skip()),
		field.String("account_id").GoType(pulid.ID("")).Annotations(entgql.Skip()),
		field.String("customer_id").GoType(pulid.ID("")).
			Comment("changes only when the customer is merged into another"),
		field.String("store_id").GoType(pulid.ID("")).Immutable(),
		field.String("staff_id").GoType(pulid.ID("")).Immutable(),
		field.String("device_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().
			Comment("the terminal the top-up was taken on").
			Annotations(entgql.Type("ID")),
		field.Int64("amount").Immutable().Comment("the money paid in").Annotations(int64Type),
		field.Int64("bonus").Immutable().Comment("the bonus added on top").Annotations(int64Type),
		field.JSON("bonus_tier", &svtype.BonusTier{}).Optional().Immutable().
			Comment("the merchant's tier that gave the bonus, as it was then").
			Annotations(entgql.Type("StoredValueBonusTier")),
		field.String("currency").Immutable(),
		field.String("tender_type").NotEmpty().Immutable().Annotations(tender),
		field.Int64("tendered").Optional().Nillable().Immutable().Annotations(tender),
		field.Int64("change").Default(0).Immutable().Comment("cash handed back").Annotations(int64Type),
		field.String("card_type").Optional().Nillable().Immutable().Annotations(tender),
		field.String("card_brand").Optional().Nillable().Immutable().Annotations(tender),
		field.String("card_last4").Optional().Nillable().Immutable().Annotations(tender),
		field.String("wallet").Optional().Nillable().Immutable().Annotations(tender),
		field.String("reference").Optional().Nillable().Immutable().Annotations(tender),
	}
}

// Edges of the StoredValueTopUp.
func (StoredValueTopUp) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("account", StoredValueAccount.Type).Field("account_id").Unique().Required().
			Annotations(entgql.Skip()),
		edge.To("customer", Customer.Type).Field("customer_id").Unique().Required(),
		edge.To("store", Store.Type).Field("store_id").Unique().Required().Immutable(),
		edge.To("staff", Staff.Type).Field("staff_id").Unique().Required().Immutable(),
		edge.To("device", Device.Type).Field("device_id").Unique().Immutable(),
	}
}

// Indexes of the StoredValueTopUp.
func (StoredValueTopUp) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "idempotency_key").Unique(),
		index.Fields("merchant_id", "account_id"),
		index.Fields("merchant_id", "customer_id"),
	}
}

// Annotations of the StoredValueTopUp.
func (StoredValueTopUp) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}

// StoredValueEntry is one change to a balance, append-only: a top-up
// (TOP_UP, and its BONUS apart, so that paid and promotional money are
// told apart), a payment (PAYMENT, a sale's STORED_VALUE tender), money
// refunded to the balance (REFUND), or an owner's adjustment (ADJUST, with
// a reason). The balance is the sum of the amounts.
type StoredValueEntry struct {
	ent.Schema
}

// Mixin of the StoredValueEntry.
func (StoredValueEntry) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("sve"), BaseMixin{}, TenantMixin{}}
}

// Fields of the StoredValueEntry.
func (StoredValueEntry) Fields() []ent.Field {
	return []ent.Field{
		field.String("account_id").GoType(pulid.ID("")).
			Comment("changes only when the customer is merged into another").
			Annotations(entgql.Skip()),
		field.Enum("kind").Values("TOP_UP", "BONUS", "PAYMENT", "REFUND", "ADJUST").Immutable(),
		field.Int64("amount").Immutable().
			Comment("what the entry adds to the balance; negative takes away").
			Annotations(int64Type),
		field.Int64("bonus_amount").Immutable().
			Comment("the part of amount that is promotional money").
			Annotations(int64Type),
		field.String("store_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		field.String("staff_id").GoType(pulid.ID("")).Immutable().Comment("who made the change"),
		field.String("device_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().
			Annotations(entgql.Type("ID")),
		field.String("top_up_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		field.String("sale_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		field.String("tender_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().
			Comment("the sale's tender a PAYMENT paid, or a REFUND paid back").
			Annotations(entgql.Type("ID")),
		field.String("refund_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		field.String("reason").Optional().MaxRuneLen(500).Immutable(),
		field.String("idempotency_key").Optional().Nillable().MaxLen(160).Immutable().
			Comment("an adjustment's, so that a retry replays"),
		field.String("request_hash").Optional().Immutable().Annotations(entgql.Skip()),
		field.Time("created_at").Default(storedNow).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Edges of the StoredValueEntry.
func (StoredValueEntry) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("account", StoredValueAccount.Type).Field("account_id").Unique().Required().
			Annotations(entgql.Skip()),
		edge.To("store", Store.Type).Field("store_id").Unique().Immutable(),
		edge.To("staff", Staff.Type).Field("staff_id").Unique().Required().Immutable(),
		edge.To("device", Device.Type).Field("device_id").Unique().Immutable(),
		edge.To("top_up", StoredValueTopUp.Type).Field("top_up_id").Unique().Immutable(),
		edge.To("sale", Sale.Type).Field("sale_id").Unique().Immutable(),
		edge.To("tender", Tender.Type).Field("tender_id").Unique().Immutable().
			Annotations(entgql.Skip()),
		edge.To("refund", Refund.Type).Field("refund_id").Unique().Immutable(),
	}
}

// Indexes of the StoredValueEntry: an account's ledger is read newest
// first; a refund finds the payment of the tender it pays back.
func (StoredValueEntry) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "account_id", "created_at"),
		index.Fields("merchant_id", "tender_id"),
		index.Fields("merchant_id", "idempotency_key").Unique(),
	}
}

// Annotations of the StoredValueEntry.
func (StoredValueEntry) Annotations() []schema.Annotation {
	return nodeAnnotations()
}
