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

// Customer is a merchant's customer. Phone, email and address are kept
// only encrypted (the *_enc fields, AES-256-GCM under a key id); phone and
// email are found by equality through keyed HMAC blind indexes. The API
// shows them through resolvers that decrypt and mask by role.
type Customer struct {
	ent.Schema
}

// Mixin of the Customer.
func (Customer) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cus"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the Customer.
func (Customer) Fields() []ent.Field {
	hidden := entgql.Skip()
	return []ent.Field{
		field.String("name").NotEmpty().MaxRuneLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.String("name_key").
			Comment("the name lower-cased, words single-spaced, for ranking search results").
			Default("").
			Annotations(hidden),
		field.String("search_text").
			Comment("lower-cased name and tags, space-separated, for prefix search").
			Annotations(hidden),
		field.String("phone_enc").Optional().Nillable().Sensitive().Annotations(hidden),
		field.String("phone_index").Optional().Nillable().Annotations(hidden),
		field.String("email_enc").Optional().Nillable().Sensitive().Annotations(hidden),
		field.String("email_index").Optional().Nillable().Annotations(hidden),
		field.String("address_enc").Optional().Nillable().Sensitive().Annotations(hidden),
		field.String("pii_key_id").
			Comment("id of the key the *_enc fields are sealed under; rekey finds old ones by it").
			Optional().Annotations(hidden),
		field.String("birthday").
			Comment("YYYY-MM-DD").
			Optional().Nillable(),
		field.Enum("gender").Values("FEMALE", "MALE", "OTHER").Optional().Nillable(),
		field.String("notes").Optional().MaxRuneLen(2000),
		field.Strings("tags").Optional(),
		field.String("member_code").
			Comment("printed on a card or shown as a QR code; unique per merchant").
			NotEmpty().MaxLen(32),
		field.Bool("push_consent").Default(false),
		field.Time("push_consent_at").Optional().Nillable(),
		field.Bool("sms_consent").Default(false),
		field.Time("sms_consent_at").Optional().Nillable(),
		field.Bool("email_consent").Default(false),
		field.Time("email_consent_at").Optional().Nillable(),
		field.Enum("status").
			Values("ACTIVE", "ARCHIVED", "MERGED", "ERASED").
			Default("ACTIVE"),
		field.String("merged_into_id").GoType(pulid.ID("")).Optional().Nillable().
			Annotations(entgql.Type("ID")).
			Comment("the survivor, once this customer was merged into it"),
		field.Enum("segment").
			Values("NEW", "LOYAL", "HIGH_VALUE", "AT_RISK", "LOST", "OCCASIONAL").
			Default("NEW").
			Annotations(entgql.OrderField("SEGMENT")),
		field.String("rfm").
			Comment("recency, frequency and monetary scores, 1–5 each, e.g. 545; empty before the first visit").
			Optional(),
		field.Int("visits_count").Default(0).
			Annotations(entgql.OrderField("VISITS_COUNT")),
		field.Int64("total_spent").
			Comment("in the merchant's currency's minor units").
			Default(0).
			Annotations(entgql.OrderField("TOTAL_SPENT"), entgql.Type("Int64")),
		field.Time("first_visit_at").Optional().Nillable(),
		field.Time("last_visit_at").Optional().Nillable().
			Annotations(entgql.OrderField("LAST_VISIT_AT")),
	}
}

// Edges of the Customer.
func (Customer) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("created_by", Staff.Type).Unique().
			Comment("who registered the customer"),
		edge.To("store", Store.Type).Unique().
			Comment("where the customer was registered"),
		edge.To("favourite_store", Store.Type).Unique().
			Comment("the store the customer visits most"),
		edge.To("store_visits", CustomerStoreVisits.Type).
			Annotations(entgql.Skip()),
		// The API's Customer.sales is hand-written: newest first by default.
		edge.To("sales", Sale.Type).
			Annotations(entgql.Skip()),
	}
}

// Indexes of the Customer: each recognition path is one index lookup, no
// two customers of a merchant share a phone, an email or a card, and the
// apps' offline caches catch up by updated_at.
func (Customer) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "phone_index").Unique(),
		index.Fields("merchant_id", "email_index").Unique(),
		index.Fields("merchant_id", "member_code").Unique(),
		index.Fields("merchant_id", "last_visit_at"),
		index.Fields("merchant_id", "updated_at"),
		index.Fields("merchant_id", "segment"),
		index.Fields("pii_key_id"),
	}
}

// Annotations of the Customer.
func (Customer) Annotations() []schema.Annotation {
	return nodeAnnotations(entgql.QueryField())
}
