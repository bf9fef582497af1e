package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/tillpos/till/auth/rule"
	"github.com/tillpos/till/ent/privacy"
	"github.com/tillpos/till/ent/schema/pulid"
)

// Campaign is a message a merchant sends once to a group of its customers
// over SMS or email: everyone, an RFM segment or a saved segment, now or
// at a set time, optionally carrying an offer's code. Each customer it
// reaches, or decides not to, is a CampaignMessage.
type Campaign struct {
	ent.Schema
}

// Mixin of the Campaign.
func (Campaign) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cmp"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the Campaign.
func (Campaign) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxRuneLen(100).
			Annotations(entgql.OrderField("NAME")),
		field.Enum("channel").Values("SMS", "EMAIL").Immutable(),
		field.String("subject").Optional().MaxRuneLen(200).
			Comment("EMAIL: the subject line"),
		field.String("message").NotEmpty().MaxRuneLen(5000).
			Comment("the text sent; {code} stands for the offer's coupon code"),
		field.String("offer_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		field.Enum("audience").Values("EVERYONE", "SEGMENT", "SAVED_SEGMENT").Immutable(),
		field.Enum("segment").
			Values("NEW", "LOYAL", "HIGH_VALUE", "AT_RISK", "LOST", "OCCASIONAL").
			Comment("SEGMENT: the customers' RFM segment when it is sent").
			Optional().Nillable().Immutable(),
		field.String("saved_segment_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().
			Comment("SAVED_SEGMENT: whose members, as they stand when it is sent"),
		field.Time("scheduled_at").Optional().Nillable().
			Comment("SCHEDULED: when to send; null sends at the next dispatch").
			Annotations(entgql.OrderField("SCHEDULED_AT")),
		field.Enum("status").Values("DRAFT", "SCHEDULED", "SENDING", "SENT", "CANCELLED").Default("DRAFT"),
		field.String("created_by_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Type("ID")),
		field.Time("dispatched_at").Optional().Nillable().
			Comment("when a dispatcher claimed it; a claim left unfinished for long is taken over").
			Annotations(entgql.Skip()),
		field.Time("fanned_out_at").Optional().Nillable().
			Comment("when every customer of the audience had their message row").
			Annotations(entgql.Skip()),
		field.Int("audience_count").Default(0).
			Comment("the customers it was sent to, reached or not; known once fanned out"),
		field.Time("sent_at").Optional().Nillable().
			Comment("when every message was decided: sent, failed or skipped"),
		field.Time("cancelled_at").Optional().Nillable(),
	}
}

// Edges of the Campaign.
func (Campaign) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("offer", Offer.Type).Field("offer_id").Unique().Immutable(),
		edge.To("saved_segment", SavedSegment.Type).Field("saved_segment_id").Unique().Immutable(),
		edge.To("messages", CampaignMessage.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of the Campaign: the dispatcher finds due campaigns across
// merchants by status and time.
func (Campaign) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("status", "scheduled_at"),
		index.Fields("merchant_id", "created_at"),
	}
}

// Policy of the Campaign: campaigns are the owner's and managers'
// marketing, not the till's, so a cashier cannot read one even by
// node(id:).
func (Campaign) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{rule.DenyIfCashier()},
	}
}

// Annotations of the Campaign.
func (Campaign) Annotations() []schema.Annotation {
	return nodeAnnotations()
}

// CampaignMessage is a campaign's decision for one customer: queued for
// delivery (then sent or failed) or skipped, and why. One per customer per
// campaign, so a dispatch run again never sends twice.
type CampaignMessage struct {
	ent.Schema
}

// Mixin of the CampaignMessage.
func (CampaignMessage) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cmm"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the CampaignMessage.
func (CampaignMessage) Fields() []ent.Field {
	return []ent.Field{
		field.String("campaign_id").GoType(pulid.ID("")).Immutable(),
		field.String("customer_id").GoType(pulid.ID("")).Immutable(),
		field.Enum("status").
			Values("QUEUED", "SENT", "FAILED", "SKIPPED_NO_CONSENT", "SKIPPED_FREQUENCY_CAP", "SKIPPED_NO_CONTACT"),
		field.String("last_error").Optional(),
		field.Int("attempts").Default(0),
		field.Time("lease_until").Optional().Nillable().
			Comment("a delivery in flight holds the message until then, so a repeat does not send it again").
			Annotations(entgql.Skip()),
		field.Time("sent_at").Optional().Nillable(),
	}
}

// Edges of the CampaignMessage.
func (CampaignMessage) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("campaign", Campaign.Type).Ref("messages").Field("campaign_id").Unique().Required().Immutable(),
		edge.To("customer", Customer.Type).Field("customer_id").Unique().Required().Immutable(),
	}
}

// Indexes of the CampaignMessage: one per customer per campaign; stats
// group a campaign's by status; the frequency cap counts a customer's
// recent ones.
func (CampaignMessage) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("campaign_id", "customer_id").Unique(),
		index.Fields("campaign_id", "status"),
		index.Fields("merchant_id", "customer_id", "created_at"),
	}
}

// Annotations of the CampaignMessage: read through its campaign's stats,
// not in the API.
func (CampaignMessage) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// CampaignSettings are a merchant's limits on campaigns: how many
// campaign messages one customer may get within a window of days. A
// merchant without a row has the defaults (2 per 7 days).
type CampaignSettings struct {
	ent.Schema
}

// Mixin of the CampaignSettings.
func (CampaignSettings) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cst"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the CampaignSettings.
func (CampaignSettings) Fields() []ent.Field {
	return []ent.Field{
		field.Int("frequency_cap").Default(2).Min(1).Max(100).
			Comment("campaign messages one customer may get within the window"),
		field.Int("frequency_window_days").Default(7).Min(1).Max(90),
	}
}

// Indexes of the CampaignSettings: one row per merchant.
func (CampaignSettings) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id").Unique().StorageKey("campaign_settings_one_per_merchant")}
}

// Annotations of the CampaignSettings.
func (CampaignSettings) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}
