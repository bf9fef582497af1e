package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/schema/saletype"
)

// SaleCounter is a store's running sale figures: the last receipt number
// handed out, and the count and sum of its sales (the "usual ticket" risk
// rules compare with). A sale updates it last in its transaction; the row
// lock that takes is what makes receipt numbers gapless and unique.
type SaleCounter struct {
	ent.Schema
}

// Mixin of the SaleCounter.
func (SaleCounter) Mixin() []ent.Mixin {
	return []ent.Mixin{BaseMixin{}, TenantMixin{}}
}

// Fields of the SaleCounter.
func (SaleCounter) Fields() []ent.Field {
	return []ent.Field{
		field.String("store_id").GoType(pulid.ID("")).Unique().Immutable(),
		field.Int64("last_receipt_number").Default(0),
		field.Int64("sales_count").Default(0),
		field.Int64("sales_amount").Default(0),
	}
}

// Annotations of the SaleCounter: bookkeeping, not in the API.
func (SaleCounter) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// StaffDay is one staff member's sales and refunds on one business day,
// for the refund limit per cashier and the refund-ratio risk rule.
type StaffDay struct {
	ent.Schema
}

// Mixin of the StaffDay.
func (StaffDay) Mixin() []ent.Mixin {
	return []ent.Mixin{BaseMixin{}, TenantMixin{}}
}

// Fields of the StaffDay.
func (StaffDay) Fields() []ent.Field {
	return []ent.Field{
		field.String("staff_id").GoType(pulid.ID("")).Immutable(),
		field.String("business_date").Immutable(),
		field.Int64("sales_amount").Default(0),
		field.Int64("refunds_amount").Default(0),
	}
}

// Indexes of the StaffDay.
func (StaffDay) Indexes() []ent.Index {
	return []ent.Index{index.Fields("staff_id", "business_date").Unique()}
}

// Annotations of the StaffDay: bookkeeping, not in the API.
func (StaffDay) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// SalesSettings are a merchant's rules for selling: how prices carry tax,
// which tenders it takes, its limits, and its risk rules. A merchant
// without a row has the defaults.
type SalesSettings struct {
	ent.Schema
}

// Mixin of the SalesSettings.
func (SalesSettings) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("sst"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// riskAction is what a matched risk rule does.
func riskAction(name string, def saletype.RiskAction) ent.Field {
	return field.Enum(name).GoType(def).Default(string(def)).Annotations(entgql.Type("RiskAction"))
}

// Fields of the SalesSettings.
func (SalesSettings) Fields() []ent.Field {
	return []ent.Field{
		field.Bool("prices_include_tax").Default(true),
		field.Strings("accepted_tenders").
			Default([]string{"CASH", "CARD", "MOBILE_WALLET", "STORED_VALUE", "LOYALTY"}),
		field.Int64("max_sale_amount").Optional().Nillable().Annotations(int64Type),
		field.Int64("max_refund_per_cashier_day").Optional().Nillable().Annotations(int64Type),
		field.Int64("customer_daily_limit").Optional().Nillable().Annotations(int64Type),
		field.Bool("refund_to_cash_allowed").
			Comment("whether a card or wallet sale may be refunded in cash").
			Default(false),
		riskAction("large_ticket_action", saletype.RiskFlag),
		field.Int("large_ticket_factor").
			Comment("a sale this many times the store's average ticket matches").
			Default(10).Min(2),
		field.Int("large_ticket_min_sales").
			Comment("the store's sales needed before its average counts").
			Default(20).Min(1),
		riskAction("velocity_action", saletype.RiskFlag),
		field.Int("velocity_max").
			Comment("sales on one card or wallet reference allowed within the window").
			Default(3).Min(1),
		field.Int("velocity_window_minutes").Default(10).Min(1),
		riskAction("refund_ratio_action", saletype.RiskFlag),
		field.Int("refund_ratio_percent").
			Comment("a cashier whose refunds over 7 days exceed this share of their sales matches").
			Default(30).Min(1).Max(100),
		field.Int64("refund_ratio_min_sales").
			Comment("a cashier's sales over 7 days needed before the ratio counts").
			Default(100000).Min(0).Annotations(int64Type),
		riskAction("blacklist_action", saletype.RiskDecline),
	}
}

// Indexes of the SalesSettings: one row per merchant.
func (SalesSettings) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id").Unique().StorageKey("sales_settings_one_per_merchant")}
}

// Annotations of the SalesSettings.
func (SalesSettings) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}

// RiskListEntry blacklists a card or wallet reference, or a customer, for
// a merchant's risk rules.
type RiskListEntry struct {
	ent.Schema
}

// Mixin of the RiskListEntry.
func (RiskListEntry) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("rle"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the RiskListEntry.
func (RiskListEntry) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").Values("CARD_REFERENCE", "CUSTOMER").Immutable(),
		field.String("value").NotEmpty().MaxLen(128).Immutable(),
		field.String("reason").NotEmpty().MaxRuneLen(500),
		field.String("created_by_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Type("ID")),
	}
}

// Indexes of the RiskListEntry.
func (RiskListEntry) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "kind", "value").Unique()}
}

// Annotations of the RiskListEntry.
func (RiskListEntry) Annotations() []schema.Annotation {
	return nodeAnnotations()
}

// OutboxEvent is a side effect (a push, a live-feed message) written in
// the transaction of the change that causes it and delivered after commit
// by the outbox worker, so it is never sent for a write that rolled back
// and never lost for one that committed.
type OutboxEvent struct {
	ent.Schema
}

// Mixin of the OutboxEvent.
func (OutboxEvent) Mixin() []ent.Mixin {
	return []ent.Mixin{BaseMixin{}, TenantMixin{}}
}

// Fields of the OutboxEvent.
func (OutboxEvent) Fields() []ent.Field {
	return []ent.Field{
		field.String("topic").NotEmpty().Immutable(),
		field.String("subject_id").Comment("the object the event is about").Immutable(),
		field.JSON("payload", map[string]any{}).Immutable(),
		field.Enum("status").Values("PENDING", "DELIVERED", "DEAD").Default("PENDING"),
		field.Int("attempts").Default(0),
		field.Time("available_at"),
		field.String("last_error").Optional(),
		field.Time("created_at").Immutable(),
		field.Time("delivered_at").Optional().Nillable(),
	}
}

// Indexes of the OutboxEvent: the worker claims due rows, and holds back
// an event while an earlier one about the same subject is undelivered.
func (OutboxEvent) Indexes() []ent.Index {
	return []ent.Index{index.Fields("status", "available_at"), index.Fields("subject_id", "status")}
}

// Annotations of the OutboxEvent: shown to owners and operators through a
// hand-written GraphQL type (its IDs are not node IDs).
func (OutboxEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
