package reports

import (
	"time"

	"github.com/tillpos/till/errs"
)

// Preset names a period relative to today.
type Preset string

// Presets. Weeks start on Monday.
const (
	Today     Preset = "TODAY"
	Yesterday Preset = "YESTERDAY"
	ThisWeek  Preset = "THIS_WEEK"
	LastWeek  Preset = "LAST_WEEK"
	ThisMonth Preset = "THIS_MONTH"
	LastMonth Preset = "LAST_MONTH"
	Custom    Preset = "CUSTOM"
)

// Limits on what one report reads.
const (
	maxPeriodDays = 366
	maxHourDays   = 31
)

// PeriodInput is a period as asked for: a preset, or CUSTOM with local
// dates from and to (both included, YYYY-MM-DD).
type PeriodInput struct {
	Preset   Preset
	From, To *string
}

// ReportPeriod is a run of local days, both ends included, YYYY-MM-DD.
type ReportPeriod struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// span is a run of local days as dates (midnight UTC stands for a local
// date, so that adding days never meets a DST change).
type span struct{ from, to time.Time }

func (s span) period() *ReportPeriod {
	return &ReportPeriod{From: s.from.Format(time.DateOnly), To: s.to.Format(time.DateOnly)}
}

// days is how many days s covers.
func (s span) days() int { return int(s.to.Sub(s.from).Hours()/24) + 1 }

// previous is the equally long span just before s.
func (s span) previous() span {
	return span{from: s.from.AddDate(0, 0, -s.days()), to: s.from.AddDate(0, 0, -1)}
}

// dateOf is t's local date in loc.
func dateOf(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// monday is the Monday of d's ISO week.
func monday(d time.Time) time.Time {
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

// resolve turns in into days, with today the date of now in loc.
func resolve(in PeriodInput, now time.Time, loc *time.Location) (span, error) {
	today := dateOf(now, loc)
	if in.Preset != Custom && (in.From != nil || in.To != nil) {
		return span{}, errs.Invalid("period.from", "from and to are for a CUSTOM period")
	}
	switch in.Preset {
	case Today:
		return span{today, today}, nil
	case Yesterday:
		y := today.AddDate(0, 0, -1)
		return span{y, y}, nil
	case ThisWeek:
		return span{monday(today), today}, nil
	case LastWeek:
		m := monday(today)
		return span{m.AddDate(0, 0, -7), m.AddDate(0, 0, -1)}, nil
	case ThisMonth:
		return span{today.AddDate(0, 0, 1-today.Day()), today}, nil
	case LastMonth:
		first := today.AddDate(0, 0, 1-today.Day())
		return span{first.AddDate(0, -1, 0), first.AddDate(0, 0, -1)}, nil
	case Custom:
		if in.From == nil || in.To == nil {
			return span{}, errs.Invalid("period.from", "a CUSTOM period needs from and to")
		}
		from, err := time.Parse(time.DateOnly, *in.From)
		if err != nil {
			return span{}, errs.Invalid("period.from", "from is a date, YYYY-MM-DD")
		}
		to, err := time.Parse(time.DateOnly, *in.To)
		if err != nil {
			return span{}, errs.Invalid("period.to", "to is a date, YYYY-MM-DD")
		}
		s := span{from, to}
		if to.Before(from) || s.days() > maxPeriodDays {
			return span{}, errs.Invalid("period.to", "a period runs from from to to, at most %d days", maxPeriodDays)
		}
		return s, nil
	}
	return span{}, errs.Invalid("period.preset", "unknown preset %q", in.Preset)
}
