package customers

import (
	"time"

	"github.com/tillpos/till/ent/schema/pulid"
)

// SetClockForTest makes s read the time from now, for tests of the
// timestamps it records.
func SetClockForTest(s *Service, now func() time.Time) { s.now = now }

// SealContextForTest is what the sealed field of customer id is bound to.
func SealContextForTest(id pulid.ID, field string) string { return sealContext(id, field) }
