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
)

// ReceiptDelivery is a sale's receipt sent to a customer by email or text
// message. The address is kept as customers' contact details are: sealed
// (destination_enc, AES-256-GCM under pii_key_id) for the sender, and
// masked (destination_masked, "j******@x.com") for the apps, never in
// clear.
type ReceiptDelivery struct {
	ent.Schema
}

// Mixin of the ReceiptDelivery.
func (ReceiptDelivery) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("rcd"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the ReceiptDelivery.
func (ReceiptDelivery) Fields() []ent.Field {
	hidden := entgql.Skip()
	return []ent.Field{
		field.String("sale_id").GoType(pulid.ID("")).Immutable(),
		field.String("store_id").GoType(pulid.ID("")).Immutable().
			Comment("the sale's, so that staff see only their stores' deliveries"),
		field.Enum("channel").Values("EMAIL", "SMS").Immutable().
			Annotations(entgql.Type("ReceiptChannel")),
		field.String("destination_enc").Sensitive().Immutable().Annotations(hidden),
		field.String("pii_key_id").
			Comment("id of the key destination_enc is sealed under").
			Immutable().Annotations(hidden),
		field.String("destination_masked").Immutable().
			Comment("the address as the apps show it"),
		field.Enum("status").Values("QUEUED", "SENT", "FAILED").Default("QUEUED"),
		field.Int("attempts").Default(0),
		field.String("last_error").Optional().Nillable().MaxLen(1000),
		field.Time("sent_at").Optional().Nillable(),
		field.String("requested_by_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Type("ID")),
		field.String("idempotency_key").Optional().Nillable().Immutable().Annotations(hidden),
		field.String("request_hash").Optional().Immutable().Annotations(hidden),
	}
}

// Edges of the ReceiptDelivery.
func (ReceiptDelivery) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("sale", Sale.Type).Field("sale_id").Unique().Required().Immutable(),
		edge.To("store", Store.Type).Field("store_id").Unique().Required().Immutable(),
	}
}

// Policy of the ReceiptDelivery: staff see the deliveries of the stores
// they work at, as they see those stores' sales.
func (ReceiptDelivery) Policy() ent.Policy {
	return privacy.Policy{Query: privacy.QueryPolicy{rule.FilterStoreRule()}}
}

// Indexes of the ReceiptDelivery: a sale's deliveries are listed (and
// counted, for the per-sale limit) by one index, and a key makes one.
func (ReceiptDelivery) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "sale_id", "created_at"),
		index.Fields("merchant_id", "idempotency_key").Unique(),
	}
}

// Annotations of the ReceiptDelivery: shown on its sale, not listed alone.
func (ReceiptDelivery) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}
