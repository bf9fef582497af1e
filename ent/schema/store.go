package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/tillpos/till/ent/schema/pulid"
)

// Store is one of a merchant's shops. Reports bucket its sales by its local
// day, so it carries an IANA time zone.
type Store struct {
	ent.Schema
}

// Mixin of the Store.
func (Store) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("sto"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the Store.
func (Store) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxRuneLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.String("address").Optional().MaxRuneLen(500),
		field.String("time_zone").
			Comment("IANA time zone, e.g. Asia/Shanghai").
			NotEmpty(),
	}
}

// Edges of the Store.
func (Store) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("staff", Staff.Type).Ref("stores").
			Annotations(entgql.RelayConnection()),
	}
}

// Annotations of the Store.
func (Store) Annotations() []schema.Annotation {
	return nodeAnnotations(entgql.QueryField())
}
