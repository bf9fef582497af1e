package schema

import (
	"context"
	"fmt"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"entgo.io/ent/schema/mixin"

	"github.com/tillpos/till/auth/rule"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent/hook"
	"github.com/tillpos/till/ent/privacy"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
)

// storedNow is the time as the database keeps it: PostgreSQL stores
// microseconds, so a nanosecond time returned from a write would differ
// from the same row read back.
func storedNow() time.Time { return time.Now().Truncate(time.Microsecond) }

// TimeMixin records when a row was created and last updated.
type TimeMixin struct {
	mixin.Schema
}

// Fields of the TimeMixin.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").
			Default(storedNow).
			Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("updated_at").
			Default(storedNow).
			UpdateDefault(storedNow).
			Annotations(entgql.OrderField("UPDATED_AT")),
	}
}

// BaseMixin denies every operation that has no viewer, so a code path that
// forgot to authenticate fails closed.
type BaseMixin struct {
	mixin.Schema
}

// Policy of the BaseMixin.
func (BaseMixin) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyIfNoViewer()},
		Mutation: privacy.MutationPolicy{rule.DenyIfNoViewer()},
	}
}

// TenantMixin makes a type owned by a merchant. Its merchant_id is set from
// the viewer on create, never from input, and its policy confines every
// read and write to the viewer's merchant.
type TenantMixin struct {
	mixin.Schema
}

// Fields of the TenantMixin.
func (TenantMixin) Fields() []ent.Field {
	return []ent.Field{
		// Filterable, so that an operator can narrow a cross-merchant list
		// (the device fleet) to one merchant; staff only ever see theirs.
		field.String("merchant_id").
			GoType(pulid.ID("")).
			Immutable().
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
	}
}

// Edges of the TenantMixin.
func (TenantMixin) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("merchant", Merchant.Type).
			Field("merchant_id").
			Unique().
			Required().
			Immutable().
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput)),
	}
}

// Indexes of the TenantMixin. Lookups by a foreign key get an index that
// starts with merchant_id too (merchant_id, sale_id): the tenant filter adds
// merchant_id = ? to every query, and SQLite, which keeps no statistics,
// would otherwise take this index and scan the whole merchant.
func (TenantMixin) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id")}
}

// Policy of the TenantMixin. Operators read across merchants; only staff
// (or a named system job) write, and only inside their own merchant.
func (TenantMixin) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfOperator(),
			rule.FilterTenantRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfSystem(),
			rule.DenyIfNotStaff(),
			rule.FilterTenantRule(),
		},
	}
}

// tenantMutation is implemented by the mutations of every tenant-owned type.
type tenantMutation interface {
	ent.Mutation
	SetMerchantID(pulid.ID)
	MerchantID() (pulid.ID, bool)
}

// Hooks of the TenantMixin.
func (TenantMixin) Hooks() []ent.Hook {
	return []ent.Hook{setMerchantOnCreate}
}

// setMerchantOnCreate stamps new rows with the staff viewer's merchant and
// refuses an attempt to create a row in another merchant.
func setMerchantOnCreate(next ent.Mutator) ent.Mutator {
	return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
		if !m.Op().Is(ent.OpCreate) {
			return next.Mutate(ctx, m)
		}
		tm, ok := m.(tenantMutation)
		if !ok {
			return nil, fmt.Errorf("tenant mixin: unexpected mutation type %T", m)
		}
		v := viewer.FromContext(ctx)
		set, hasSet := tm.MerchantID()
		switch {
		case v.IsStaff() && hasSet && set != v.MerchantID:
			return nil, privacy.Denyf("creating a %s in another merchant", m.Type())
		case v.IsStaff():
			tm.SetMerchantID(v.MerchantID)
		case !hasSet:
			return nil, fmt.Errorf("creating a %s: merchant_id is required outside a staff context", m.Type())
		}
		return next.Mutate(ctx, m)
	})
}

// RetentionYears is how long the records a RetainedMixin keeps must
// survive at the least: the books (sales, refunds, settlements) and the
// audit log. Nothing in Till deletes them; a purge of older rows, should
// one ever be wanted, is a deliberate migration, not an API call.
const RetentionYears = 1

// RetainedMixin makes a type's rows undeletable through ent, whoever asks:
// staff, operators and system jobs alike. It is a hook rather than a
// privacy rule because an earlier Allow (system jobs, operators) would skip
// a rule. Rows may still change where their own schema allows it (a sale's
// status on refund).
type RetainedMixin struct {
	mixin.Schema
}

// Hooks of the RetainedMixin.
func (RetainedMixin) Hooks() []ent.Hook {
	return []ent.Hook{hook.On(denyDelete, ent.OpDelete|ent.OpDeleteOne)}
}

// denyDelete refuses a delete of a retained type.
func denyDelete(ent.Mutator) ent.Mutator {
	return ent.MutateFunc(func(_ context.Context, m ent.Mutation) (ent.Value, error) {
		return nil, errs.Newf(errs.Forbidden, "%s records are kept for at least %d year and cannot be deleted", m.Type(), RetentionYears)
	})
}

// annotations shared by every Relay node type.
func nodeAnnotations(extra ...schema.Annotation) []schema.Annotation {
	return append([]schema.Annotation{
		entgql.RelayConnection(),
		entgql.MultiOrder(),
	}, extra...)
}
