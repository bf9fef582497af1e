package live

import (
	"strconv"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/outbox"
)

// kinds maps the outbox topics the live feed shows to their event kinds.
var kinds = map[string]string{
	outbox.SaleCompleted:       SaleCompleted,
	outbox.SaleRefunded:        SaleRefunded,
	outbox.SaleVoided:          SaleVoided,
	outbox.DeviceOnline:        DeviceOnline,
	outbox.DeviceOffline:       DeviceOffline,
	outbox.DeviceFaultReported: DeviceFault,
}

// EventFromOutbox is the live event an outbox event raises, and false for
// topics the live feed does not show. Every topic it maps carries the
// store in its payload as "storeId".
func EventFromOutbox(e *ent.OutboxEvent) (Event, bool) {
	kind, ok := kinds[e.Topic]
	if !ok {
		return Event{}, false
	}
	storeID, _ := e.Payload["storeId"].(string)
	return Event{
		ID: strconv.Itoa(e.ID), MerchantID: string(e.MerchantID), StoreID: storeID,
		Kind: kind, SubjectID: e.SubjectID, At: e.CreatedAt,
	}, true
}
