// Package outbox writes events for side effects outside the database
// (pushes, live feeds, messages) in the transaction of the change that
// causes them. A worker delivers them after commit, so an event is never
// sent for a write that rolled back and never lost for one that committed.
package outbox

import (
	"context"
	"fmt"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
)

// Topics of the events written so far.
const (
	SaleCompleted = "sale.completed"
	SaleRefunded  = "sale.refunded"
	SaleVoided    = "sale.voided"
	RiskFlagged   = "risk.flagged"
	FeedbackLow   = "feedback.low"
	DeviceOffline = "device.offline"
	// DeviceOnline is raised when a device that was OFFLINE is heard from
	// again, or for the first time.
	DeviceOnline = "device.online"
	// TicketUpdated is raised by every change to a service ticket, its
	// creation included; the payload says which ("reported", "commented",
	// "assigned", "status_changed", "device_swapped") and whether a comment
	// is internal (never shown to the merchant).
	TicketUpdated = "ticket.updated"
	// DeviceFaultReported is raised when a DEVICE_FAULT ticket is opened;
	// its subject is the device.
	DeviceFaultReported = "device.fault_reported"
	// OfferCreated is raised when an offer is created: the seam where the
	// notifications release sends it to its customers.
	OfferCreated = "offer.created"
	// StoredValueToppedUp is raised by every top-up of a customer's
	// prepaid balance; its subject is the top-up.
	StoredValueToppedUp = "storedvalue.topped_up"
)

// Add writes an event about subjectID for merchantID with tx, so that it
// commits or rolls back with the change it reports.
func Add(ctx context.Context, tx *ent.Tx, merchantID pulid.ID, topic string, subjectID pulid.ID, payload map[string]any) error {
	now := db.Now()
	// Written as the system: an operator's action (freezing a sale) raises
	// events for the merchant, and operators may not write tenant rows.
	err := tx.OutboxEvent.Create().
		SetMerchantID(merchantID).
		SetTopic(topic).
		SetSubjectID(string(subjectID)).
		SetPayload(payload).
		SetAvailableAt(now).
		SetCreatedAt(now).
		Exec(viewer.NewSystemContext(ctx, "outbox"))
	if err != nil {
		return fmt.Errorf("writing %s event: %w", topic, err)
	}
	return nil
}
