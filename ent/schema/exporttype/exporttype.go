// Package exporttype holds the field types of the export schema, apart
// from ent/schema to avoid an import cycle.
package exporttype

import (
	"time"

	"github.com/tillpos/till/ent/schema/pulid"
)

// Filters choose the sales an export holds. They are resolved when the
// export is requested: StoreIDs is the stores the requester may read (nil
// for all of the merchant's), so the job, which runs later without the
// requester, reads exactly what they could.
type Filters struct {
	StoreIDs []pulid.ID `json:"storeIds,omitempty"`
	// From and To bound occurred_at: From inclusive, To exclusive.
	From *time.Time `json:"from,omitempty"`
	To   *time.Time `json:"to,omitempty"`
	// FromDate and ToDate bound the store-local business date (YYYY-MM-DD),
	// both inclusive.
	FromDate   string    `json:"fromDate,omitempty"`
	ToDate     string    `json:"toDate,omitempty"`
	Statuses   []string  `json:"statuses,omitempty"`
	CashierID  *pulid.ID `json:"cashierId,omitempty"`
	DeviceID   *pulid.ID `json:"deviceId,omitempty"`
	CustomerID *pulid.ID `json:"customerId,omitempty"`
}
