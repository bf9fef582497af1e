package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"

	"github.com/tillpos/till/ent/schema/pulid"
)

// SavedSegment is a merchant's own group of customers, defined by filters
// that all apply: any of some tags, a spend range, last visit before or
// after a time, a birthday month, one of the RFM segments.
type SavedSegment struct {
	ent.Schema
}

// Mixin of the SavedSegment.
func (SavedSegment) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("sgs"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the SavedSegment.
func (SavedSegment) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxRuneLen(100).
			Annotations(entgql.OrderField("NAME")),
		field.Strings("any_tags").Optional().
			Comment("customers with at least one of these tags"),
		field.Int64("min_spent").Optional().Nillable().Annotations(entgql.Type("Int64")),
		field.Int64("max_spent").Optional().Nillable().Annotations(entgql.Type("Int64")),
		field.Time("last_visit_after").Optional().Nillable(),
		field.Time("last_visit_before").Optional().Nillable(),
		field.Int("birthday_month").Optional().Nillable().Min(1).Max(12),
		field.Enum("segment").
			Values("NEW", "LOYAL", "HIGH_VALUE", "AT_RISK", "LOST", "OCCASIONAL").
			Optional().Nillable(),
	}
}

// Annotations of the SavedSegment.
func (SavedSegment) Annotations() []schema.Annotation {
	return nodeAnnotations(entgql.QueryField())
}
