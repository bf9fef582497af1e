// Package audit writes the audit log: who changed money, permissions,
// devices or customer data, when, from where.
package audit

import (
	"context"
	"fmt"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/auditentry"
	"github.com/tillpos/till/ent/platformauditentry"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/reqinfo"
)

// Entry is one audited action.
type Entry struct {
	// MerchantID is the merchant the action concerns. Staff actions always
	// concern the viewer's own merchant, so it may be left empty for them.
	MerchantID pulid.ID
	// Action names what happened, e.g. "staff.deactivated".
	Action     string
	TargetType string
	TargetID   pulid.ID
	Details    map[string]any
}

// Record writes e with the actor taken from the viewer in ctx and the
// request facts from reqinfo. Pass the client of the transaction that makes
// the change, so the entry commits or rolls back with it.
func Record(ctx context.Context, client *ent.Client, e Entry) error {
	v := viewer.FromContext(ctx)
	if v == nil {
		return fmt.Errorf("auditing %s: no viewer", e.Action)
	}
	merchantID := e.MerchantID
	if v.IsStaff() {
		merchantID = v.MerchantID
	}
	if merchantID == "" {
		return fmt.Errorf("auditing %s: no merchant", e.Action)
	}
	req := reqinfo.FromContext(ctx)
	// The log is written under a system context: operators may not write
	// tenant rows, but their actions on a merchant must still be recorded.
	// The actor is captured above, before the switch.
	sysCtx := viewer.NewSystemContext(ctx, "audit")
	err := client.AuditEntry.Create().
		SetMerchantID(merchantID).
		SetAction(e.Action).
		SetActorKind(actorKind(v)).
		SetActorID(string(v.ID)).
		SetTargetType(e.TargetType).
		SetTargetID(string(e.TargetID)).
		SetDetails(e.Details).
		SetIP(req.IP).
		SetRequestID(req.RequestID).
		SetCreatedAt(db.Now()).
		Exec(sysCtx)
	if err != nil {
		return fmt.Errorf("auditing %s: %w", e.Action, err)
	}
	return nil
}

func actorKind(v *viewer.Viewer) auditentry.ActorKind {
	switch v.Kind {
	case viewer.KindStaff:
		return auditentry.ActorKindSTAFF
	case viewer.KindOperator:
		return auditentry.ActorKindOPERATOR
	default:
		return auditentry.ActorKindSYSTEM
	}
}

// RecordPlatform writes e to the platform's audit log: actions on the
// platform itself (releases, operator accounts), which concern no one
// merchant. The actor is the viewer in ctx — an operator, or the system
// for the command line. Pass the client of the transaction that makes the
// change.
func RecordPlatform(ctx context.Context, client *ent.Client, e Entry) error {
	v := viewer.FromContext(ctx)
	if v == nil {
		return fmt.Errorf("auditing %s: no viewer", e.Action)
	}
	kind := platformauditentry.ActorKindSYSTEM
	if v.IsOperator() {
		kind = platformauditentry.ActorKindOPERATOR
	}
	req := reqinfo.FromContext(ctx)
	err := client.PlatformAuditEntry.Create().
		SetAction(e.Action).
		SetActorKind(kind).
		SetActorID(string(v.ID)).
		SetTargetType(e.TargetType).
		SetTargetID(string(e.TargetID)).
		SetDetails(e.Details).
		SetIP(req.IP).
		SetRequestID(req.RequestID).
		SetCreatedAt(db.Now()).
		Exec(viewer.NewSystemContext(ctx, "audit"))
	if err != nil {
		return fmt.Errorf("auditing %s: %w", e.Action, err)
	}
	return nil
}
