package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"

	"github.com/tillpos/till/auth/rule"
	"github.com/tillpos/till/ent/privacy"
	"github.com/tillpos/till/ent/schema/pulid"
)

// Merchant is a business using Till: the tenant that owns stores, staff
// and everything they record.
type Merchant struct {
	ent.Schema
}

// Mixin of the Merchant.
func (Merchant) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("mer"), BaseMixin{}, TimeMixin{}}
}

// Fields of the Merchant.
func (Merchant) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxRuneLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.String("currency").
			Comment("ISO 4217 code of the currency the merchant trades in").
			MinLen(3).MaxLen(3).Immutable(),
		field.String("locale").
			Comment("BCP 47 language tag for receipts and notifications").
			Default("en"),
		field.Enum("status").
			Values("ACTIVE", "SUSPENDED").
			Default("ACTIVE").
			Annotations(entgql.OrderField("STATUS")),
		field.String("suspended_reason").Optional().Nillable(),
		field.Time("suspended_at").Optional().Nillable(),
		field.Bool("cashiers_see_full_contact").
			Comment("whether cashiers may reveal customers' full phone and email (audited)").
			Default(false),
	}
}

// Policy of the Merchant: staff see only their own merchant; operators see
// all of them and may change their status.
func (Merchant) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfOperator(),
			rule.FilterOwnMerchantRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfOperator(),
			rule.FilterOwnMerchantRule(),
		},
	}
}

// Annotations of the Merchant.
func (Merchant) Annotations() []schema.Annotation {
	return nodeAnnotations(entgql.QueryField())
}
