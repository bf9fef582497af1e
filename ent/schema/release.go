package schema

import (
	"context"
	"fmt"
	"regexp"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/tillpos/till/auth/rule"
	"github.com/tillpos/till/ent/hook"
	"github.com/tillpos/till/ent/privacy"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/releases/version"
)

// sha256Hex is a SHA-256 digest in lower-case hex.
var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Release is a build of the device software that terminals of the named
// models download: published by a platform operator for a channel, rolled
// out to a percentage of devices, and possibly withdrawn. Releases are
// platform-wide: no merchant owns them.
type Release struct {
	ent.Schema
}

// Mixin of the Release.
func (Release) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("rel"), BaseMixin{}, TimeMixin{}}
}

// Fields of the Release.
func (Release) Fields() []ent.Field {
	return []ent.Field{
		field.Strings("models").Immutable().
			Validate(func(models []string) error {
				if len(models) == 0 {
					return fmt.Errorf("a release is for at least one model")
				}
				return nil
			}).
			Comment("the device models that install it, e.g. T2, P1-MINI"),
		field.Enum("channel").Values("STABLE", "BETA").Immutable(),
		field.String("version").Immutable().Validate(version.Check).
			Comment("semantic version, MAJOR.MINOR.PATCH[-PRERELEASE]"),
		field.String("version_key").Immutable().NotEmpty().
			Comment("version encoded to sort as versions do (set by a hook)").
			Annotations(
				entgql.OrderField("VERSION"),
				entgql.Skip(entgql.SkipType, entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput),
			),
		field.String("min_supported_version").Optional().Nillable().Immutable().
			Validate(func(s string) error {
				if s == "" {
					return nil
				}
				return version.Check(s)
			}).
			Comment("devices on an older version must update; null for none"),
		field.String("download_url").Immutable().NotEmpty().MaxLen(2048),
		field.String("sha256").Immutable().Match(sha256Hex).
			Comment("SHA-256 of the download, 64 lower-case hex digits"),
		field.String("notes").Optional().Immutable().MaxRuneLen(10000),
		field.Int("rollout_percent").Range(0, 100).
			Comment("share of devices offered the release; each device's bucket is fixed per release"),
		field.Enum("status").Values("PUBLISHED", "WITHDRAWN").Default("PUBLISHED"),
		field.Time("published_at").Immutable().
			Annotations(entgql.OrderField("PUBLISHED_AT")),
		field.String("published_by").GoType(pulid.ID("")).Immutable().
			Comment("the operator who published it").
			Annotations(entgql.Type("ID")),
		field.Time("withdrawn_at").Optional().Nillable(),
	}
}

// Indexes of the Release. A version is published once per channel; update
// checks walk (channel, status) in version order.
func (Release) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("channel", "version").Unique(),
		index.Fields("channel", "status", "version_key"),
	}
}

// Policy of the Release: every signed-in caller (staff, whose devices
// check for updates, and operators) reads releases; only operators (or a
// named system job) publish and change them.
func (Release) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfOperator(),
			rule.DenyIfNotStaff(),
			// Staff of any merchant: releases belong to no merchant.
			privacy.AlwaysAllowRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfOperator(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Hooks of the Release.
func (Release) Hooks() []ent.Hook {
	return []ent.Hook{hook.On(setVersionKey, ent.OpCreate)}
}

// setVersionKey derives version_key from version on create, so the key
// cannot disagree with the version whoever writes the row.
func setVersionKey(next ent.Mutator) ent.Mutator {
	return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
		v, ok := m.Field("version")
		s, isString := v.(string)
		if !ok || !isString {
			return nil, fmt.Errorf("creating a release: version is required")
		}
		if err := version.Check(s); err != nil {
			return nil, fmt.Errorf("creating a release: %w", err)
		}
		if err := m.SetField("version_key", version.Key(s)); err != nil {
			return nil, err
		}
		return next.Mutate(ctx, m)
	})
}

// Annotations of the Release.
func (Release) Annotations() []schema.Annotation {
	return nodeAnnotations(entgql.QueryField("releases"))
}
