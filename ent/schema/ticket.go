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

// Ticket is a service ticket: a fault reported by a device or a staff
// member, or a merchant's complaint or suggestion. Platform operators work
// it (assignee, status, SLA); the merchant sees it and takes part.
type Ticket struct {
	ent.Schema
}

// Mixin of the Ticket.
func (Ticket) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("tkt"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the Ticket.
func (Ticket) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").Values("DEVICE_FAULT", "COMPLAINT", "SUGGESTION", "OTHER").Immutable(),
		field.Enum("fault_category").
			Comment("what part of a device is at fault; DEVICE_FAULT tickets only").
			Values("PRINTER", "SCANNER", "CARD_READER", "NETWORK", "BATTERY", "SCREEN", "SOFTWARE", "OTHER").
			Optional().Nillable().Immutable(),
		field.String("title").NotEmpty().MaxRuneLen(200).Immutable(),
		field.String("description").MaxRuneLen(5000).Immutable(),
		field.Enum("status").
			Values("OPEN", "IN_PROGRESS", "WAITING_FOR_MERCHANT", "RESOLVED", "CLOSED").
			Default("OPEN").
			Annotations(entgql.OrderField("STATUS")),
		field.Enum("priority").
			Values("LOW", "NORMAL", "HIGH", "URGENT").
			Default("NORMAL").
			Immutable().
			Annotations(entgql.OrderField("PRIORITY")),
		field.String("device_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		field.String("store_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		field.Enum("reporter_kind").Values("STAFF", "DEVICE").Immutable(),
		field.String("reporter_id").GoType(pulid.ID("")).Immutable().
			Comment("the staff member or the device that reported it").
			Annotations(entgql.Type("ID")),
		field.String("assignee_id").GoType(pulid.ID("")).Optional().Nillable().
			Comment("the operator working the ticket"),
		field.Time("sla_due_at").
			Comment("when the platform promised an answer, from the priority at creation").
			Immutable().
			Annotations(entgql.OrderField("SLA_DUE_AT")),
		field.Time("resolved_at").Optional().Nillable(),
		field.Time("closed_at").Optional().Nillable(),
		field.String("replacement_device_id").GoType(pulid.ID("")).Optional().Nillable().
			Comment("the device swapped in for the faulty one"),
		field.String("idempotency_key").Optional().Nillable().Immutable().MaxLen(128).
			Comment("the key a device's retried fault report carries; it stays with the ticket").
			Annotations(entgql.Skip()),
		field.String("request_hash").Optional().Immutable().
			Annotations(entgql.Skip()),
	}
}

// Edges of the Ticket. The assignee is an operator, whom staff may not
// read: GraphQL shows staff only assigneeID.
func (Ticket) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("device", Device.Type).Field("device_id").Unique().Immutable(),
		edge.To("store", Store.Type).Field("store_id").Unique().Immutable(),
		edge.To("assignee", Operator.Type).Field("assignee_id").Unique().
			Annotations(entgql.Skip()),
		edge.To("replacement_device", Device.Type).Field("replacement_device_id").Unique(),
		edge.To("comments", TicketComment.Type).
			Annotations(entgql.RelayConnection()),
	}
}

// Indexes of the Ticket: the merchant's lists (by status, store, device)
// lead with merchant_id; the operator queue, across merchants, is
// (status, sla_due_at).
func (Ticket) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "status", "sla_due_at"),
		index.Fields("merchant_id", "store_id", "created_at"),
		index.Fields("merchant_id", "device_id"),
		index.Fields("status", "sla_due_at"),
		index.Fields("assignee_id", "status"),
		// A reporter's key makes one ticket (reports without one are NULL,
		// which unique indexes do not compare).
		index.Fields("reporter_id", "idempotency_key").Unique(),
	}
}

// Annotations of the Ticket.
func (Ticket) Annotations() []schema.Annotation {
	return nodeAnnotations(entgql.QueryField())
}

// TicketComment is one message on a ticket. Internal comments are the
// operators' notes: staff never read them, by privacy rule, so neither
// Ticket.comments nor node(id:) shows them to a merchant.
type TicketComment struct {
	ent.Schema
}

// Mixin of the TicketComment.
func (TicketComment) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("tkc"), BaseMixin{}, TenantMixin{}, TimeMixin{}}
}

// Fields of the TicketComment.
func (TicketComment) Fields() []ent.Field {
	return []ent.Field{
		field.String("ticket_id").GoType(pulid.ID("")).Immutable(),
		field.Enum("author_kind").Values("STAFF", "OPERATOR", "DEVICE").Immutable(),
		field.String("author_id").GoType(pulid.ID("")).Immutable().
			Annotations(entgql.Type("ID")),
		field.String("body").NotEmpty().MaxRuneLen(5000).Immutable(),
		field.Bool("internal").Default(false).Immutable().
			Comment("an operators' note, hidden from the merchant"),
	}
}

// Edges of the TicketComment.
func (TicketComment) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("ticket", Ticket.Type).Ref("comments").Field("ticket_id").Unique().Required().Immutable(),
	}
}

// Indexes of the TicketComment.
func (TicketComment) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "ticket_id")}
}

// Policy of the TicketComment: after the tenant rules (operators and the
// system read everything), staff see only comments that are not internal.
func (TicketComment) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{rule.FilterInternalForStaff()},
	}
}

// Annotations of the TicketComment.
func (TicketComment) Annotations() []schema.Annotation {
	return nodeAnnotations()
}
