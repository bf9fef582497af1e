package pulid

import (
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
)

// MixinWithPrefix returns a mixin giving a schema a prefixed ULID primary key.
func MixinWithPrefix(prefix string) Mixin {
	return Mixin{prefix: prefix}
}

// Mixin defines the id field of a schema with a prefixed ULID.
type Mixin struct {
	mixin.Schema
	prefix string
}

// Fields of the Mixin.
func (m Mixin) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").
			GoType(ID("")).
			Immutable().
			DefaultFunc(func() ID { return New(m.prefix) }),
	}
}

// Annotation records a schema's ID prefix for the code generator.
type Annotation struct {
	Prefix string
}

// Name implements schema.Annotation.
func (Annotation) Name() string { return "PULID" }

// Annotations of the Mixin.
func (m Mixin) Annotations() []schema.Annotation {
	return []schema.Annotation{Annotation{Prefix: m.prefix}}
}
