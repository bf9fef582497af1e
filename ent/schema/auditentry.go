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

// AuditEntry records a staff, operator or system action that changed money,
// permissions, devices or customer data. Entries are append-only.
type AuditEntry struct {
	ent.Schema
}

// Mixin of the AuditEntry.
func (AuditEntry) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("aud"), BaseMixin{}, TenantMixin{}, RetainedMixin{}}
}

// Fields of the AuditEntry.
func (AuditEntry) Fields() []ent.Field {
	return []ent.Field{
		field.String("action").NotEmpty().Immutable().
			Comment(`what happened, e.g. "staff.deactivated"`),
		field.Enum("actor_kind").Values("STAFF", "OPERATOR", "SYSTEM").Immutable(),
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

// Indexes of the AuditEntry.
func (AuditEntry) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "created_at")}
}

// Policy of the AuditEntry: cashiers do not read the log.
func (AuditEntry) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{rule.DenyIfCashier()},
	}
}

// Hooks of the AuditEntry. Append-only is a hook rather than a privacy rule
// because an earlier Allow (system jobs) would skip a rule; no one may
// rewrite history.
func (AuditEntry) Hooks() []ent.Hook {
	return []ent.Hook{hook.Reject(ent.OpUpdate | ent.OpUpdateOne)}
}

// Annotations of the AuditEntry.
func (AuditEntry) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField(),
		entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput),
	}
}
