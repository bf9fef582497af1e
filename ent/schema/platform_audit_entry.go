package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/tillpos/till/auth/rule"
	"github.com/tillpos/till/ent/hook"
	"github.com/tillpos/till/ent/privacy"
	"github.com/tillpos/till/ent/schema/pulid"
)

// PlatformAuditEntry records an action on the platform itself rather than
// on one merchant: software releases, operator accounts. Append-only, like
// AuditEntry; only operators read it.
type PlatformAuditEntry struct {
	ent.Schema
}

// Mixin of the PlatformAuditEntry.
func (PlatformAuditEntry) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("pau"), BaseMixin{}, RetainedMixin{}}
}

// Fields of the PlatformAuditEntry.
func (PlatformAuditEntry) Fields() []ent.Field {
	return []ent.Field{
		field.String("action").NotEmpty().Immutable().
			Comment(`what happened, e.g. "release.published"`),
		field.Enum("actor_kind").Values("OPERATOR", "SYSTEM").Immutable(),
		field.String("actor_id").Optional().Immutable(),
		field.String("target_type").Optional().Immutable(),
		field.String("target_id").Optional().Immutable(),
		field.JSON("details", map[string]any{}).Optional().Immutable().
			Annotations(entgql.Type("Map"), entgql.Skip(entgql.SkipWhereInput)),
		field.String("ip").Optional().Immutable(),
		field.String("request_id").Optional().Immutable(),
		field.Time("created_at").Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Indexes of the PlatformAuditEntry.
func (PlatformAuditEntry) Indexes() []ent.Index {
	return []ent.Index{index.Fields("created_at"), index.Fields("target_id")}
}

// Policy of the PlatformAuditEntry: operators read; only the system writes
// (audit.RecordPlatform, on whoever's behalf).
func (PlatformAuditEntry) Policy() ent.Policy {
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

// Hooks of the PlatformAuditEntry: no one may rewrite history.
func (PlatformAuditEntry) Hooks() []ent.Hook {
	return []ent.Hook{hook.Reject(ent.OpUpdate | ent.OpUpdateOne)}
}

// Annotations of the PlatformAuditEntry.
func (PlatformAuditEntry) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField(),
		entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput),
	}
}
