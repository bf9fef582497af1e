package dest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// Retention is how many old backups to keep, grandfather-father-son: the
// newest backup of each of the Daily most recent days, the Weekly most
// recent ISO weeks and the Monthly most recent months that have backups
// (in UTC). Counting only periods that have backups means a stretch of
// failed runs does not age out the last good ones.
type Retention struct {
	Daily, Weekly, Monthly int
}

// DefaultRetention keeps 7 daily, 4 weekly and 12 monthly backups.
func DefaultRetention() Retention { return Retention{Daily: 7, Weekly: 4, Monthly: 12} }

// Select splits the whole-database backups among names into those to keep
// and those to delete, each newest first. Other names (per-merchant
// exports, unrelated files) are in neither. The newest backup and those
// named in protect (the one just written) are always kept.
func (p Retention) Select(names []string, protect ...string) (keep, drop []string) {
	type backup struct {
		name string
		at   time.Time
	}
	var all []backup
	for _, n := range names {
		if at, ok := ParseName(n); ok {
			all = append(all, backup{n, at})
		}
	}
	slices.SortFunc(all, func(a, b backup) int {
		return cmp.Or(b.at.Compare(a.at), cmp.Compare(b.name, a.name))
	})
	kept := make([]bool, len(all))
	tier := func(count int, period func(time.Time) string) {
		last := ""
		for i, b := range all {
			if count <= 0 {
				return
			}
			// Newest first, so the first of each period is its newest.
			if key := period(b.at); key != last {
				kept[i], last = true, key
				count--
			}
		}
	}
	tier(p.Daily, func(t time.Time) string { return t.Format(time.DateOnly) })
	tier(p.Weekly, func(t time.Time) string {
		y, w := t.ISOWeek()
		return fmt.Sprintf("%d-W%02d", y, w)
	})
	tier(p.Monthly, func(t time.Time) string { return t.Format("2006-01") })
	for i, b := range all {
		if i == 0 || kept[i] || slices.Contains(protect, b.name) {
			keep = append(keep, b.name)
		} else {
			drop = append(drop, b.name)
		}
	}
	return keep, drop
}

// Prune deletes, at each destination that holds a verified copy of r, the
// backups p does not keep, never r's own. A destination whose copy failed
// is left alone: its old backups may be all it has.
func (r *Result) Prune(ctx context.Context, p Retention) {
	if r.Produce != nil {
		return
	}
	for i := range r.Copies {
		c := &r.Copies[i]
		if c.Err != nil {
			continue
		}
		names, err := c.dest.List(ctx)
		if err != nil {
			c.PruneErr = err
			continue
		}
		_, drop := p.Select(names, r.Name)
		for _, name := range drop {
			if err := c.dest.Delete(ctx, name); err != nil {
				c.PruneErr = fmt.Errorf("deleting %s: %w", name, err)
				break
			}
			c.Pruned = append(c.Pruned, name)
		}
	}
}
