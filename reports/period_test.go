package reports

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/errs"
)

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func str(s string) *string { return &s }

// Presets resolve in the store's zone: 23:30 UTC on Sunday 1 November 2026
// is already Monday 2 November in Shanghai, still Sunday in New York.
func TestResolvePresets(t *testing.T) {
	now := time.Date(2026, 11, 1, 23, 30, 0, 0, time.UTC)
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	newYork, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct {
		preset   Preset
		loc      *time.Location
		from, to string
	}{
		{Today, shanghai, "2026-11-02", "2026-11-02"},
		{Today, newYork, "2026-11-01", "2026-11-01"},
		{Yesterday, newYork, "2026-10-31", "2026-10-31"},
		// Weeks start on Monday: Shanghai's week has just begun; New
		// York's Sunday is the last day of its week.
		{ThisWeek, shanghai, "2026-11-02", "2026-11-02"},
		{ThisWeek, newYork, "2026-10-26", "2026-11-01"},
		{LastWeek, shanghai, "2026-10-26", "2026-11-01"},
		{LastWeek, newYork, "2026-10-19", "2026-10-25"},
		{ThisMonth, newYork, "2026-11-01", "2026-11-01"},
		{ThisMonth, shanghai, "2026-11-01", "2026-11-02"},
		{LastMonth, newYork, "2026-10-01", "2026-10-31"},
	} {
		sp, err := resolve(PeriodInput{Preset: tc.preset}, now, tc.loc)
		require.NoError(t, err)
		require.Equal(t, ReportPeriod{From: tc.from, To: tc.to}, *sp.period(), "%s in %s", tc.preset, tc.loc)
	}
	// March: last month is February, in a leap year 29 days.
	sp, err := resolve(PeriodInput{Preset: LastMonth}, time.Date(2028, 3, 31, 12, 0, 0, 0, time.UTC), time.UTC)
	require.NoError(t, err)
	require.Equal(t, ReportPeriod{From: "2028-02-01", To: "2028-02-29"}, *sp.period())
}

func TestResolveCustom(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	sp, err := resolve(PeriodInput{Preset: Custom, From: str("2026-10-20"), To: str("2026-11-05")}, now, time.UTC)
	require.NoError(t, err)
	require.Equal(t, 17, sp.days())
	// The previous period is as long and ends the day before.
	require.Equal(t, ReportPeriod{From: "2026-10-03", To: "2026-10-19"}, *sp.previous().period())

	for _, in := range []PeriodInput{
		{Preset: Custom, From: str("2026-10-20")},
		{Preset: Custom, From: str("2026-10-20"), To: str("2026-10-19")},
		{Preset: Custom, From: str("2025-01-01"), To: str("2026-01-02")},
		{Preset: Custom, From: str("20/10/2026"), To: str("2026-10-21")},
		{Preset: Today, From: str("2026-10-20")},
		{Preset: "SOMEDAY"},
	} {
		_, err := resolve(in, now, time.UTC)
		e, ok := errs.As(err)
		require.True(t, ok, "%+v: %v", in, err)
		require.Equal(t, errs.BadUserInput, e.Code, "%+v", in)
	}
	// A leap year's 366 days are allowed.
	_, err = resolve(PeriodInput{Preset: Custom, From: str("2028-01-01"), To: str("2028-12-31")}, now, time.UTC)
	require.NoError(t, err)
}

// Buckets are zero-filled and aligned: 24 hours a day even on DST days
// (dates stand for local days, so a 23- or 25-hour day is still one
// date), ISO weeks from Monday, months from the first.
func TestBuckets(t *testing.T) {
	// New York falls back on 1 November 2026.
	hours := buckets(Hour, span{day("2026-10-31"), day("2026-11-02")})
	require.Len(t, hours, 72)
	require.Equal(t, bucketKey{"2026-10-31", 0}, hours[0])
	require.Equal(t, bucketKey{"2026-11-01", 1}, hours[25])
	require.Equal(t, bucketKey{"2026-11-02", 23}, hours[71])

	days := buckets(Day, span{day("2026-10-30"), day("2026-11-02")})
	require.Equal(t, []bucketKey{{"2026-10-30", -1}, {"2026-10-31", -1}, {"2026-11-01", -1}, {"2026-11-02", -1}}, days)

	// Thursday 29 October to Tuesday 10 November: three ISO weeks.
	weeks := buckets(Week, span{day("2026-10-29"), day("2026-11-10")})
	require.Equal(t, []bucketKey{{"2026-10-26", -1}, {"2026-11-02", -1}, {"2026-11-09", -1}}, weeks)

	months := buckets(Month, span{day("2026-11-15"), day("2027-02-01")})
	require.Equal(t, []bucketKey{{"2026-11-01", -1}, {"2026-12-01", -1}, {"2027-01-01", -1}, {"2027-02-01", -1}}, months)

	// Sunday belongs to the week of the Monday before.
	require.Equal(t, day("2026-10-26"), monday(day("2026-11-01")))
	require.Equal(t, day("2026-11-02"), monday(day("2026-11-02")))
}

func TestPercent(t *testing.T) {
	require.Nil(t, percent(5, 0))
	require.InDelta(t, 50.0, *percent(150, 100), 1e-9)
	require.InDelta(t, -25.0, *percent(75, 100), 1e-9)
	// From a loss to a smaller loss is up.
	require.InDelta(t, 50.0, *percent(-50, -100), 1e-9)
}
