package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// SegmentRules is how a merchant's customers are scored (RFM: recency,
// frequency, monetary, each 1–5) and named. The cut points between scores
// are computed as quintiles of the merchant's own customers, or set by the
// merchant.
type SegmentRules struct {
	ent.Schema
}

// Mixin of the SegmentRules.
func (SegmentRules) Mixin() []ent.Mixin {
	return []ent.Mixin{BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the SegmentRules.
func (SegmentRules) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("mode").Values("QUINTILES", "THRESHOLDS").Default("QUINTILES"),
		field.JSON("recency_days", []int{}).
			Comment("days since the last visit: at most [0] scores 5, [1] 4, [2] 3, [3] 2, more 1"),
		field.JSON("frequency_visits", []int{}).
			Comment("visits: at least [3] scores 5, [2] 4, [1] 3, [0] 2, fewer 1"),
		field.JSON("monetary_spent", []int64{}).
			Comment("total spent in minor units, cut like frequency"),
		field.Int("new_days").
			Comment("a customer first seen this many days ago or less, with at most one visit, is NEW").
			Default(30),
		field.Time("computed_at").Optional().Nillable().
			Comment("when the segments were last recomputed"),
	}
}

// Indexes of the SegmentRules: one per merchant.
func (SegmentRules) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id").Unique().StorageKey("segment_rules_one_per_merchant")}
}

// Annotations of the SegmentRules: not a node (its id is a plain integer);
// the API shows it through the segmentRules query.
func (SegmentRules) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
