package devices

import (
	"cmp"
	"context"
	sqldb "database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/device"
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/errs"
)

// maxPerformanceDays bounds a performance query: heartbeat counts are kept
// for about a month.
const maxPerformanceDays = 31

// Performance is how a device did over a period: its sales, and from its
// heartbeats how reliably it was up and how often it reported errors.
type Performance struct {
	SalesCount  int
	SalesAmount int64
	// Heartbeats received, and how many of them reported errors.
	Heartbeats           int
	HeartbeatsWithErrors int
	Errors               int
	// Uptime is the share of the heartbeats expected that came (1 when
	// every one did): one per heartbeat interval, from the later of the
	// period's start and the device's pairing to the earlier of its end and
	// now.
	Uptime float64
	// ErrorRate is the share of heartbeats that reported errors.
	ErrorRate float64
}

// Performance sums up dev over [from, to): sales by the time they happened,
// heartbeats by UTC hour (the hours the period touches, whole).
func (s *Service) Performance(ctx context.Context, dev *ent.Device, from, to time.Time) (*Performance, error) {
	if err := checkPeriod(from, to); err != nil {
		return nil, err
	}
	var rows []struct {
		Count sqldb.NullInt64
		Sum   sqldb.NullInt64
	}
	err := s.db.Sale.Query().
		Where(sale.DeviceID(dev.ID), sale.OccurredAtGTE(from), sale.OccurredAtLT(to), sale.StatusNEQ(sale.StatusVOIDED)).
		Aggregate(ent.As(ent.Count(), "count"), ent.As(ent.Sum(sale.FieldTotal), "sum")).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("summing device sales: %w", err)
	}
	p := &Performance{}
	if len(rows) > 0 {
		p.SalesCount, p.SalesAmount = int(rows[0].Count.Int64), rows[0].Sum.Int64
	}
	var days []*redis.MapStringStringCmd
	var starts []time.Time
	_, err = s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for day := from.UTC().Truncate(24 * time.Hour); day.Before(to); day = day.Add(24 * time.Hour) {
			days = append(days, pipe.HGetAll(ctx, s.dayKey(dev.ID, day)))
			starts = append(starts, day)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading heartbeat counts: %w", err)
	}
	firstHour := from.Truncate(time.Hour)
	for i, d := range days {
		for field, count := range d.Val() {
			name, hh, ok := strings.Cut(field, ":")
			hour, err := strconv.Atoi(hh)
			if !ok || err != nil {
				continue
			}
			at := starts[i].Add(time.Duration(hour) * time.Hour)
			if at.Before(firstHour) || !at.Before(to) {
				continue
			}
			switch name + ":" {
			case beatsField:
				p.Heartbeats += atoi(count)
			case errorBeatsField:
				p.HeartbeatsWithErrors += atoi(count)
			case errorsField:
				p.Errors += atoi(count)
			}
		}
	}
	start, end := from, to
	if dev.PairedAt != nil && dev.PairedAt.After(start) {
		start = *dev.PairedAt
	}
	if now := s.now(); now.Before(end) {
		end = now
	}
	if expected := float64(end.Sub(start)) / float64(s.cfg.HeartbeatEvery); expected > 0 {
		p.Uptime = min(1, float64(p.Heartbeats)/expected)
	}
	if p.Heartbeats > 0 {
		p.ErrorRate = float64(p.HeartbeatsWithErrors) / float64(p.Heartbeats)
	}
	return p, nil
}

// checkPeriod refuses a performance period that ends before it starts or
// is longer than heartbeat counts are kept.
func checkPeriod(from, to time.Time) error {
	if !to.After(from) || to.Sub(from) > maxPerformanceDays*24*time.Hour {
		return errs.Invalid("to", "a period is after its start and at most %d days long", maxPerformanceDays)
	}
	return nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// VersionCount is how many devices of a model run an app version.
type VersionCount struct {
	Model      string
	AppVersion string
	Count      int
}

// Versions counts the devices in service by model and app version: the
// caller's merchant's, or for an operator the whole fleet (optionally one
// model).
func (s *Service) Versions(ctx context.Context, model *string) ([]*VersionCount, error) {
	q := s.db.Device.Query().Where(device.StatusIn(device.StatusACTIVE, device.StatusPENDING))
	if model != nil {
		q.Where(device.Model(*model))
	}
	var rows []struct {
		Model      string `json:"model"`
		AppVersion string `json:"app_version"`
		Count      int    `json:"count"`
	}
	if err := q.GroupBy(device.FieldModel, device.FieldAppVersion).Aggregate(ent.Count()).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("counting device versions: %w", err)
	}
	out := make([]*VersionCount, len(rows))
	for i, r := range rows {
		out[i] = &VersionCount{Model: r.Model, AppVersion: r.AppVersion, Count: r.Count}
	}
	slices.SortFunc(out, func(a, b *VersionCount) int {
		return cmp.Or(cmp.Compare(a.Model, b.Model), cmp.Compare(b.Count, a.Count), cmp.Compare(a.AppVersion, b.AppVersion))
	})
	return out, nil
}
