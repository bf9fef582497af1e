package devices

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/device"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/merchants"
)

// DeviceFigures is one device's Performance over a report's period.
type DeviceFigures struct {
	Device      *ent.Device
	Performance *Performance
}

// Report is the Performance of every device of a store over [from, to),
// the best-selling first (then by serial number). OWNER, or a MANAGER at the store.
func (s *Service) Report(ctx context.Context, storeID pulid.ID, from, to time.Time) ([]*DeviceFigures, error) {
	v := viewer.FromContext(ctx)
	if !v.IsStaff() || !v.HasRole(viewer.RoleOwner, viewer.RoleManager) {
		return nil, errs.Newf(errs.Forbidden, "only the owner or a manager sees device reports")
	}
	if err := checkPeriod(from, to); err != nil {
		return nil, err
	}
	st, err := merchants.StoreFor(ctx, s.db, v, storeID, "storeId")
	if err != nil {
		return nil, err
	}
	devs, err := s.db.Device.Query().Where(device.StoreID(st.ID)).Order(ent.Asc(device.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the store's devices: %w", err)
	}
	out := make([]*DeviceFigures, len(devs))
	for i, dev := range devs {
		p, err := s.Performance(ctx, dev, from, to)
		if err != nil {
			return nil, err
		}
		out[i] = &DeviceFigures{Device: dev, Performance: p}
	}
	slices.SortStableFunc(out, func(a, b *DeviceFigures) int {
		return cmp.Or(cmp.Compare(b.Performance.SalesAmount, a.Performance.SalesAmount), cmp.Compare(a.Device.SerialNumber, b.Device.SerialNumber))
	})
	return out, nil
}
