package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/schema/settletype"
)

// CashShift is one cash drawer session on a device: the float it opened
// with, the cash it took and paid out, and at close what was counted
// against what was expected.
type CashShift struct {
	ent.Schema
}

// Mixin of the CashShift.
func (CashShift) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("csh"), BaseMixin{}, TenantMixin{}, TimeMixin{}, RetainedMixin{}}
}

// Fields of the CashShift. The cash figures are worked out at close.
func (CashShift) Fields() []ent.Field {
	return []ent.Field{
		field.String("idempotency_key").Optional().Nillable().MaxLen(160).Immutable().Annotations(entgql.Skip()),
		field.String("store_id").GoType(pulid.ID("")).Immutable(),
		field.String("device_id").GoType(pulid.ID("")).Immutable(),
		field.Enum("status").Values("OPEN", "CLOSED").Default("OPEN"),
		field.String("opened_by_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Type("ID")),
		field.Time("opened_at").Immutable().Annotations(entgql.OrderField("OPENED_AT")),
		field.Int64("opening_float").Min(0).Immutable().Annotations(int64Type),
		field.String("closed_by_id").GoType(pulid.ID("")).Optional().Nillable().Annotations(entgql.Type("ID")),
		field.Time("closed_at").Optional().Nillable(),
		field.Int64("cash_sales").Default(0).Comment("cash tenders of the device's sales while open").Annotations(int64Type),
		field.Int64("cash_refunds").Default(0).Comment("cash refunded on the device while open").Annotations(int64Type),
		field.Int64("paid_in").Default(0).Annotations(int64Type),
		field.Int64("paid_out").Default(0).Annotations(int64Type),
		field.Int64("expected").Optional().Nillable().
			Comment("float + cash sales - cash refunds + paid in - paid out, at close").Annotations(int64Type),
		field.Int64("counted").Optional().Nillable().Annotations(int64Type),
		field.Int64("difference").Optional().Nillable().Comment("counted - expected").Annotations(int64Type),
		field.String("difference_reason").Optional().Nillable().MaxRuneLen(500),
	}
}

// Edges of the CashShift.
func (CashShift) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("store", Store.Type).Field("store_id").Unique().Required().Immutable(),
		edge.To("device", Device.Type).Field("device_id").Unique().Required().Immutable(),
		edge.To("movements", CashMovement.Type),
	}
}

// Indexes of the CashShift: one open shift per device, whoever writes.
func (CashShift) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("device_id").Unique().StorageKey("cash_shift_one_open_per_device").
			Annotations(entsql.IndexWhere("status = 'OPEN'")),
		index.Fields("merchant_id", "idempotency_key").Unique(),
		index.Fields("merchant_id", "store_id", "opened_at"),
	}
}

// Annotations of the CashShift.
func (CashShift) Annotations() []schema.Annotation {
	return nodeAnnotations()
}

// Policy of the CashShift: staff see the shifts of the stores they work at.
func (CashShift) Policy() ent.Policy {
	return storePolicy()
}

// CashMovement is cash put into (PAID_IN) or taken out of (PAID_OUT) a
// drawer during a shift, other than for a sale or refund.
type CashMovement struct {
	ent.Schema
}

// Mixin of the CashMovement.
func (CashMovement) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cmv"), BaseMixin{}, TenantMixin{}, TimeMixin{}, RetainedMixin{}}
}

// Fields of the CashMovement.
func (CashMovement) Fields() []ent.Field {
	return []ent.Field{
		field.String("shift_id").GoType(pulid.ID("")).Immutable(),
		field.String("store_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Skip()),
		field.Enum("kind").Values("PAID_IN", "PAID_OUT").Immutable(),
		field.Int64("amount").Positive().Immutable().Annotations(int64Type),
		field.String("reason").NotEmpty().MaxRuneLen(500).Immutable(),
		field.String("staff_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Type("ID")),
	}
}

// Edges of the CashMovement.
func (CashMovement) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("shift", CashShift.Type).Ref("movements").Field("shift_id").Unique().Required().Immutable(),
		edge.To("store", Store.Type).Field("store_id").Unique().Required().Immutable().Annotations(entgql.Skip()),
	}
}

// Indexes of the CashMovement.
func (CashMovement) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "shift_id")}
}

// Annotations of the CashMovement: read through its shift.
func (CashMovement) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}

// Policy of the CashMovement: as its shift's.
func (CashMovement) Policy() ent.Policy {
	return storePolicy()
}

// SettlementChannel is a merchant's terms with one channel: the fee the
// acquirer or wallet takes, and how its settlement statement is laid out.
type SettlementChannel struct {
	ent.Schema
}

// Mixin of the SettlementChannel.
func (SettlementChannel) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("stc"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the SettlementChannel.
func (SettlementChannel) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("channel").GoType(settletype.Channel("")).Immutable().
			Annotations(entgql.Type("SettlementChannelName")),
		field.Int("fee_rate_bp").Min(0).Max(10000).Comment("basis points of each transaction's amount"),
		field.Int64("fixed_fee").Min(0).Comment("minor units per transaction").Annotations(int64Type),
		field.JSON("statement", settletype.StatementLayout{}).Annotations(entgql.Type("StatementLayout")),
	}
}

// Indexes of the SettlementChannel: one row per merchant and channel.
func (SettlementChannel) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "channel").Unique()}
}

// Annotations of the SettlementChannel.
func (SettlementChannel) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}

// DayClose is a store's business day closed: its sales settled per
// channel and locked against voids.
type DayClose struct {
	ent.Schema
}

// Mixin of the DayClose.
func (DayClose) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("dcl"), BaseMixin{}, TenantMixin{}, TimeMixin{}, RetainedMixin{}}
}

// Fields of the DayClose: the totals over its settlements.
func (DayClose) Fields() []ent.Field {
	return []ent.Field{
		field.String("store_id").GoType(pulid.ID("")).Immutable(),
		field.String("business_date").Immutable(),
		field.String("closed_by_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Type("ID")),
		field.Time("closed_at").Immutable(),
		field.String("currency").Immutable(),
		field.Int("count").Immutable().Comment("sale tenders settled"),
		field.Int64("amount").Immutable().Comment("sales less refunds, over the channels").Annotations(int64Type),
		field.Int64("fees").Immutable().Annotations(int64Type),
		field.Int64("net_to_bank").Immutable().Annotations(int64Type),
	}
}

// Edges of the DayClose.
func (DayClose) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("store", Store.Type).Field("store_id").Unique().Required().Immutable(),
		edge.To("settlements", Settlement.Type),
	}
}

// Indexes of the DayClose: a day closes once.
func (DayClose) Indexes() []ent.Index {
	return []ent.Index{index.Fields("store_id", "business_date").Unique()}
}

// Annotations of the DayClose.
func (DayClose) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}

// Policy of the DayClose: staff see the closes of the stores they work at.
func (DayClose) Policy() ent.Policy {
	return storePolicy()
}

// Settlement is what one channel took at a store on a closed day.
type Settlement struct {
	ent.Schema
}

// Mixin of the Settlement.
func (Settlement) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("stl"), BaseMixin{}, TenantMixin{}, TimeMixin{}, RetainedMixin{}}
}

// Fields of the Settlement, with the fee terms it was worked out under.
func (Settlement) Fields() []ent.Field {
	return []ent.Field{
		field.String("day_close_id").GoType(pulid.ID("")).Immutable(),
		field.String("store_id").GoType(pulid.ID("")).Immutable(),
		field.String("business_date").Immutable(),
		field.Enum("channel").GoType(settletype.Channel("")).Immutable().
			Annotations(entgql.Type("SettlementChannelName")),
		field.Int("count").Immutable().Comment("sale tenders"),
		field.Int64("sales_amount").Immutable().Annotations(int64Type),
		field.Int("refund_count").Immutable(),
		field.Int64("refunds_amount").Immutable().Annotations(int64Type),
		field.Int64("amount").Immutable().Comment("sales less refunds").Annotations(int64Type),
		field.Int("fee_rate_bp").Immutable(),
		field.Int64("fixed_fee").Immutable().Annotations(int64Type),
		field.Int64("fees").Immutable().Annotations(int64Type),
		field.Int64("net_to_bank").Immutable().Comment("amount less fees").Annotations(int64Type),
	}
}

// Edges of the Settlement.
func (Settlement) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("day_close", DayClose.Type).Ref("settlements").Field("day_close_id").Unique().Required().Immutable(),
		edge.To("store", Store.Type).Field("store_id").Unique().Required().Immutable(),
	}
}

// Indexes of the Settlement.
func (Settlement) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("store_id", "business_date", "channel").Unique(),
		index.Fields("merchant_id", "channel", "business_date"),
	}
}

// Annotations of the Settlement.
func (Settlement) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}

// Policy of the Settlement: staff see the settlements of their stores.
func (Settlement) Policy() ent.Policy {
	return storePolicy()
}

// StatementImport is an acquirer's or wallet's settlement statement as
// reconciled against our tenders and settlements, kept with each line's
// outcome.
type StatementImport struct {
	ent.Schema
}

// Mixin of the StatementImport.
func (StatementImport) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("sim"), BaseMixin{}, TenantMixin{}, TimeMixin{}, RetainedMixin{}}
}

// Fields of the StatementImport.
func (StatementImport) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("channel").GoType(settletype.Channel("")).Immutable().
			Annotations(entgql.Type("SettlementChannelName")),
		field.String("store_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().
			Comment("the store reconciled; every store of the merchant when nil").Annotations(entgql.Type("ID")),
		field.String("imported_by_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Type("ID")),
		field.String("from_date").Immutable(),
		field.String("to_date").Immutable(),
		field.Int("line_count").Immutable(),
		field.Int("matched").Immutable(),
		field.Int("missing_on_our_side").Immutable(),
		field.Int("missing_on_theirs").Immutable(),
		field.Int("amount_mismatches").Immutable(),
		field.JSON("lines", []settletype.StatementLine{}).Immutable(),
		field.JSON("days", []settletype.DayTotal{}).Immutable(),
	}
}

// Indexes of the StatementImport.
func (StatementImport) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "channel", "created_at")}
}

// Annotations of the StatementImport: a node, read by its id.
func (StatementImport) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}
