package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/tillpos/till/ent/schema/pulid"
)

// CustomerTrigram is one trigram of a customer's name: the index typo-
// tolerant search finds near matches through, the same on SQLite and
// PostgreSQL. The customers package keeps it in step with the name.
type CustomerTrigram struct {
	ent.Schema
}

// Mixin of the CustomerTrigram.
func (CustomerTrigram) Mixin() []ent.Mixin {
	return []ent.Mixin{BaseMixin{}, TenantMixin{}}
}

// Fields of the CustomerTrigram.
func (CustomerTrigram) Fields() []ent.Field {
	return []ent.Field{
		field.String("customer_id").GoType(pulid.ID("")).Immutable(),
		field.String("trigram").Immutable(),
	}
}

// Indexes of the CustomerTrigram.
func (CustomerTrigram) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "trigram"),
		index.Fields("merchant_id", "customer_id"),
	}
}

// Annotations of the CustomerTrigram: an index, not in the API.
func (CustomerTrigram) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
