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

// Staff is a person who works for a merchant: its owner, a manager or a
// cashier.
type Staff struct {
	ent.Schema
}

// Mixin of the Staff.
func (Staff) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("stf"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the Staff.
func (Staff) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxRuneLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.String("email").
			Comment("lower-cased login name; unique across the platform").
			Optional().Nillable().MaxLen(254).
			Annotations(entgql.OrderField("EMAIL")),
		field.String("phone").Optional().MaxLen(32),
		field.Enum("role").
			Values("OWNER", "MANAGER", "CASHIER").
			Annotations(entgql.OrderField("ROLE")),
		field.String("password_hash").Optional().Sensitive().
			Annotations(entgql.Skip()),
		field.String("pin_hash").Optional().Sensitive().
			Annotations(entgql.Skip()),
		field.Bool("active").Default(true),
		field.Time("password_changed_at").Optional().Nillable().
			Annotations(entgql.Skip()),
		field.Time("last_login_at").Optional().Nillable(),
	}
}

// Edges of the Staff.
func (Staff) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("stores", Store.Type).
			Comment("stores the staff member works at; an OWNER works at all of them"),
	}
}

// Indexes of the Staff.
func (Staff) Indexes() []ent.Index {
	return []ent.Index{index.Fields("email").Unique()}
}

// Annotations of the Staff.
func (Staff) Annotations() []schema.Annotation {
	return nodeAnnotations(entgql.QueryField("staffMembers"))
}
