package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/tillpos/till/auth/rule"
	"github.com/tillpos/till/ent/privacy"
	"github.com/tillpos/till/ent/schema/pulid"
)

// Operator is a member of the platform provider's staff, serving every
// merchant: onboarding, fleet, tickets, risk reviews.
type Operator struct {
	ent.Schema
}

// Mixin of the Operator.
func (Operator) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("opr"), BaseMixin{}, TimeMixin{}}
}

// Fields of the Operator.
func (Operator) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxRuneLen(200),
		field.String("email").NotEmpty().MaxLen(254),
		field.String("password_hash").Sensitive().
			Annotations(entgql.Skip()),
		field.Bool("active").Default(true),
		field.Time("password_changed_at").Optional().Nillable().
			Annotations(entgql.Skip()),
		field.Time("last_login_at").Optional().Nillable(),
	}
}

// Indexes of the Operator.
func (Operator) Indexes() []ent.Index {
	return []ent.Index{index.Fields("email").Unique()}
}

// Policy of the Operator: visible to operators only, written only by
// system jobs (the `till operator create` command).
func (Operator) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfOperator(),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfSystem(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Annotations of the Operator.
func (Operator) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
