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

// PushToken is a staff member's phone registered for push notifications:
// the FCM registration token the app got from Firebase.
type PushToken struct {
	ent.Schema
}

// Mixin of the PushToken.
func (PushToken) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ptk"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the PushToken.
func (PushToken) Fields() []ent.Field {
	return []ent.Field{
		field.String("staff_id").GoType(pulid.ID("")),
		// Unique across the platform: a phone that changes hands (or
		// accounts) moves its token to whoever registered it last.
		field.String("token").NotEmpty().MaxLen(4096).Unique().Sensitive().
			Annotations(entgql.Skip()),
		field.Enum("platform").Values("IOS", "ANDROID", "WEB"),
		field.String("device_name").Optional().MaxRuneLen(100),
		field.String("locale").Default("en").MaxLen(35),
	}
}

// Indexes of the PushToken: a push goes to all of a person's phones.
func (PushToken) Indexes() []ent.Index {
	return []ent.Index{index.Fields("staff_id")}
}

// Policy of the PushToken: each person sees only their own phones.
func (PushToken) Policy() ent.Policy {
	return privacy.Policy{Query: privacy.QueryPolicy{rule.FilterOwnStaffRule()}}
}

// Annotations of the PushToken.
func (PushToken) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput)}
}

// NotificationPreference is what a staff member wants pushed to their
// phones: which events (the daily summary among them), from which stores,
// sales above which amount, outside which quiet hours.
type NotificationPreference struct {
	ent.Schema
}

// Mixin of the NotificationPreference.
func (NotificationPreference) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("npf"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the NotificationPreference. Quiet hours and the summary time
// are local times ("22:00") in each store's time zone.
func (NotificationPreference) Fields() []ent.Field {
	return []ent.Field{
		field.String("staff_id").GoType(pulid.ID("")).Unique().Immutable(),
		field.Strings("events").Comment("event kinds pushed; the role's defaults until changed"),
		field.Strings("store_ids").Optional().Comment("empty: every store the person works at"),
		field.Int64("min_sale_amount").Default(0).Comment("sales below it (minor units) are not pushed"),
		field.String("quiet_start").Optional().Nillable(),
		field.String("quiet_end").Optional().Nillable(),
		field.String("daily_summary_at").Default("21:00"),
	}
}

// Policy of the NotificationPreference.
func (NotificationPreference) Policy() ent.Policy {
	return privacy.Policy{Query: privacy.QueryPolicy{rule.FilterOwnStaffRule()}}
}

// Annotations of the NotificationPreference: shown through a hand-written
// GraphQL type.
func (NotificationPreference) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Notification is one message to one staff member: what their phones were
// (or, in quiet hours, were not) buzzed with. It keeps the text's key and
// arguments rather than the text, so each phone gets it in its own locale.
type Notification struct {
	ent.Schema
}

// Mixin of the Notification.
func (Notification) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ntf"), BaseMixin{}, TenantMixin{}}
}

// Fields of the Notification.
func (Notification) Fields() []ent.Field {
	return []ent.Field{
		field.String("staff_id").GoType(pulid.ID("")).Immutable(),
		field.String("event").Immutable().Comment("the outbox topic, e.g. sale.completed"),
		field.String("subject_id").Immutable(),
		field.String("store_id").GoType(pulid.ID("")).Optional().Immutable(),
		field.String("text_key").Immutable().Annotations(entgql.Skip()),
		field.JSON("args", map[string]any{}).Immutable().Annotations(entgql.Skip()),
		field.Enum("status").Values("PENDING", "SENT", "SILENCED", "NO_DEVICE", "FAILED").Default("PENDING"),
		field.Strings("sent_tokens").Optional().Annotations(entgql.Skip()).
			Comment("push token IDs already sent to, so a retry sends only to the rest"),
		field.String("last_error").Optional().Annotations(entgql.Skip()),
		// Unique per person: a repeated delivery of the event that raised
		// it, or a second daily-summary run, makes no second notification.
		field.String("dedupe_key").Immutable().Annotations(entgql.Skip()),
		field.Time("created_at").Default(storedNow).Immutable().Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("sent_at").Optional().Nillable(),
	}
}

// Indexes of the Notification.
func (Notification) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("staff_id", "dedupe_key").Unique(),
		index.Fields("staff_id", "created_at"),
	}
}

// Policy of the Notification: each person reads only their own.
func (Notification) Policy() ent.Policy {
	return privacy.Policy{Query: privacy.QueryPolicy{rule.FilterOwnStaffRule()}}
}

// Annotations of the Notification.
func (Notification) Annotations() []schema.Annotation {
	return nodeAnnotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput))
}
