package schema

import (
	"context"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/entql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/tillpos/till/auth/rule"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent/privacy"
	"github.com/tillpos/till/ent/schema/exporttype"
	"github.com/tillpos/till/ent/schema/pulid"
)

// ExportJob is a requested export of sales to a file, written in the
// background by whichever replica claims it. The file lives in the
// database as ExportChunk rows, so any replica can serve the download.
// The row outlives the file: when it expires its chunks are deleted.
type ExportJob struct {
	ent.Schema
}

// Mixin of the ExportJob.
func (ExportJob) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("exj"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the ExportJob.
func (ExportJob) Fields() []ent.Field {
	return []ent.Field{
		field.String("requested_by_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Type("ID")),
		field.Enum("kind").Values("TRANSACTIONS", "LINES").Immutable().
			Comment("a row per sale, or a row per sale line"),
		field.Enum("format").Values("CSV", "XLSX").Immutable(),
		field.JSON("filters", exporttype.Filters{}).Immutable().Annotations(entgql.Skip()),
		field.Enum("status").Values("QUEUED", "RUNNING", "DONE", "FAILED", "EXPIRED").Default("QUEUED"),
		field.Int64("rows_total").Default(0).Comment("counted when the job starts").Annotations(int64Type),
		field.Int64("rows_done").Default(0).Annotations(int64Type),
		field.Int64("bytes").Default(0).Comment("the file's size so far").Annotations(int64Type),
		field.String("error").Optional().Nillable(),
		field.String("lease_owner").Optional().Nillable().Annotations(entgql.Skip()).
			Comment("the runner writing the file; another takes over when the lease runs out"),
		field.Time("lease_until").Optional().Nillable().Annotations(entgql.Skip()),
		field.Int("attempts").Default(0).Annotations(entgql.Skip()),
		field.Time("finished_at").Optional().Nillable(),
		field.Time("expires_at").Optional().Nillable().Comment("when the file is deleted"),
	}
}

// Edges of the ExportJob.
func (ExportJob) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("chunks", ExportChunk.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of the ExportJob: runners look for claimable jobs, the prune job
// for expired ones, and lists are newest first.
func (ExportJob) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("status", "lease_until"),
		index.Fields("status", "expires_at"),
		index.Fields("merchant_id", "created_at"),
	}
}

// Annotations of the ExportJob.
func (ExportJob) Annotations() []schema.Annotation {
	return nodeAnnotations(entgql.QueryField("exportJobs"),
		entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput))
}

// Policy of the ExportJob: exports are for owners and managers; a manager
// sees the exports they asked for, an owner every export of the merchant.
func (ExportJob) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyIfCashier(), filterOwnExportsForManagers()},
		Mutation: privacy.MutationPolicy{rule.DenyIfCashier()},
	}
}

// filterOwnExportsForManagers confines staff other than the owner to the
// exports they requested: an export holds what its requester may read,
// which may be more than a colleague may.
func filterOwnExportsForManagers() privacy.QueryRule {
	return privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
		if v := viewer.FromContext(ctx); v.IsStaff() && v.Role != viewer.RoleOwner {
			f.Where(entql.FieldEQ("requested_by_id", string(v.ID)))
		}
		return privacy.Skip
	})
}

// ExportChunk is up to 1 MiB of an export's file, in order by seq.
type ExportChunk struct {
	ent.Schema
}

// Mixin of the ExportChunk.
func (ExportChunk) Mixin() []ent.Mixin {
	return []ent.Mixin{BaseMixin{}, TenantMixin{}}
}

// Fields of the ExportChunk.
func (ExportChunk) Fields() []ent.Field {
	return []ent.Field{
		field.String("job_id").GoType(pulid.ID("")).Immutable(),
		field.Int("seq").Min(0).Immutable(),
		field.Bytes("data").Immutable().MaxLen(1 << 20),
	}
}

// Edges of the ExportChunk.
func (ExportChunk) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("job", ExportJob.Type).Ref("chunks").Field("job_id").Unique().Required().Immutable(),
	}
}

// Indexes of the ExportChunk.
func (ExportChunk) Indexes() []ent.Index {
	return []ent.Index{index.Fields("job_id", "seq").Unique()}
}

// Annotations of the ExportChunk.
func (ExportChunk) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
