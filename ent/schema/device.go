package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/tillpos/till/ent/schema/pulid"
)

// Device is a POS terminal, tablet or phone paired to one of a merchant's
// stores. It proves itself with a credential issued at pairing, kept only
// hashed; cashiers log in on it with their PIN.
type Device struct {
	ent.Schema
}

// Mixin of the Device.
func (Device) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("dev"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the Device.
func (Device) Fields() []ent.Field {
	hidden := entgql.Skip()
	return []ent.Field{
		field.String("serial_number").NotEmpty().MaxLen(64).
			Comment("unique across the platform among devices in service").
			Annotations(entgql.OrderField("SERIAL_NUMBER")),
		field.String("model").NotEmpty().MaxLen(64).
			Annotations(entgql.OrderField("MODEL")),
		field.Enum("kind").Values("TERMINAL", "TABLET", "PHONE").Default("TERMINAL"),
		field.String("store_id").GoType(pulid.ID("")),
		field.String("location_label").Optional().MaxRuneLen(100),
		field.Enum("status").
			Comment("PENDING until paired; DISABLED (lost, stolen) and RETIRED devices have no credential").
			Values("PENDING", "ACTIVE", "DISABLED", "RETIRED").
			Default("PENDING").
			Annotations(entgql.OrderField("STATUS")),
		field.String("app_version").Optional().MaxLen(32).
			Annotations(entgql.OrderField("APP_VERSION")),
		field.String("firmware_version").Optional().MaxLen(32),
		field.Time("paired_at").Optional().Nillable(),
		field.Time("last_seen_at").Optional().Nillable().
			Comment("the last heartbeat as of the latest snapshot; the live one is in Redis").
			Annotations(entgql.OrderField("LAST_SEEN_AT")),
		field.Enum("health").
			Comment("from heartbeats, kept by the snapshot job: OFFLINE until the first one").
			Values("ONLINE", "OFFLINE", "NEEDS_ATTENTION").
			Default("OFFLINE").
			Annotations(entgql.OrderField("HEALTH")),
		field.String("credential_hash").Optional().Sensitive().Annotations(hidden),
		field.Time("credential_rotated_at").Optional().Nillable(),
		field.Int("session_epoch").
			Comment("raised whenever the device's cashier sessions must end (disable, retire, re-pair)").
			Default(0).Annotations(hidden),
	}
}

// Edges of the Device.
func (Device) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("store", Store.Type).Field("store_id").Unique().Required(),
	}
}

// Indexes of the Device: a serial number is in service at one merchant at
// a time; a retired device may be paired again elsewhere.
func (Device) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("serial_number").Unique().
			Annotations(entsql.IndexWhere("status <> 'RETIRED'")),
		index.Fields("merchant_id", "store_id"),
		index.Fields("model", "app_version"),
		index.Fields("health", "last_seen_at"),
	}
}

// Annotations of the Device.
func (Device) Annotations() []schema.Annotation {
	return nodeAnnotations(entgql.QueryField())
}

// PairingCode lets a terminal join a store: made by a manager, typed on the
// terminal, single use and short-lived. Only its hash is kept.
type PairingCode struct {
	ent.Schema
}

// Mixin of the PairingCode.
func (PairingCode) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("pcd"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the PairingCode.
func (PairingCode) Fields() []ent.Field {
	return []ent.Field{
		field.String("code_hash").Unique().Immutable(),
		field.String("store_id").GoType(pulid.ID("")).Immutable(),
		field.String("created_by_id").GoType(pulid.ID("")).Immutable(),
		field.Time("expires_at").Immutable(),
		field.Time("used_at").Optional().Nillable(),
		field.String("device_id").GoType(pulid.ID("")).Optional().Nillable(),
	}
}

// Indexes of the PairingCode: the snapshot job purges codes past their
// time.
func (PairingCode) Indexes() []ent.Index {
	return []ent.Index{index.Fields("expires_at")}
}

// Annotations of the PairingCode: shown once in its payload, not a node.
func (PairingCode) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// CredentialGrant is a device credential a pairing or a rotation has just
// issued, kept sealed for a while so that a retry of the same request whose
// answer was lost gets the same credential back. Only that request opens
// it: the seal's key comes from the idempotency key with the pairing code
// (pairing) or the old credential (rotation), none of which is stored.
type CredentialGrant struct {
	ent.Schema
}

// Mixin of the CredentialGrant.
func (CredentialGrant) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cgr"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the CredentialGrant.
func (CredentialGrant) Fields() []ent.Field {
	return []ent.Field{
		field.String("key_hash").Unique().Immutable().
			Comment("SHA-256 of the idempotency key and its scope (pairing, or rotation of one device)"),
		field.String("request_hash").Immutable(),
		field.String("device_id").GoType(pulid.ID("")).Immutable(),
		field.Bytes("sealed").Sensitive().Immutable(),
		field.Time("expires_at").Immutable(),
	}
}

// Indexes of the CredentialGrant: the snapshot job purges grants past
// their time.
func (CredentialGrant) Indexes() []ent.Index {
	return []ent.Index{index.Fields("expires_at")}
}

// Annotations of the CredentialGrant: never shown.
func (CredentialGrant) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
