package dest_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/backup/dest"
)

// names returns the backup names for times given as "2006-01-02 15:04".
func names(t *testing.T, at ...string) []string {
	t.Helper()
	var out []string
	for _, s := range at {
		ts, err := time.Parse("2006-01-02 15:04", s)
		require.NoError(t, err)
		out = append(out, dest.FileName(ts))
	}
	return out
}

// daily returns one backup at 03:30 on each of n days ending at last,
// newest first.
func daily(t *testing.T, last string, n int) []string {
	t.Helper()
	end, err := time.Parse(time.DateOnly, last)
	require.NoError(t, err)
	var at []string
	for i := range n {
		at = append(at, end.AddDate(0, 0, -i).Format(time.DateOnly)+" 03:30")
	}
	return names(t, at...)
}

func TestRetentionSelect(t *testing.T) {
	t.Parallel()
	year := daily(t, "2026-12-31", 400)
	for _, tc := range []struct {
		name    string
		policy  dest.Retention
		in      []string
		protect string
		keep    []string
	}{
		{name: "nothing", policy: dest.DefaultRetention(), in: nil, keep: nil},
		{
			name: "fewer than the counts: all kept", policy: dest.DefaultRetention(),
			in: daily(t, "2026-12-02", 5), keep: daily(t, "2026-12-02", 5),
		},
		{
			name: "newest of each day", policy: dest.Retention{Daily: 2},
			in:   names(t, "2026-12-02 03:30", "2026-12-02 14:00", "2026-12-01 03:30", "2026-12-01 23:59", "2026-11-30 03:30"),
			keep: names(t, "2026-12-02 14:00", "2026-12-01 23:59"),
		},
		{
			name: "a year of dailies: 7 days, 4 ISO weeks, 12 months", policy: dest.DefaultRetention(), in: year,
			keep: names(t,
				// 7 daily: Dec 25–31. The weekly tier's picks (Sun Dec 27, Sun
				// Dec 20, 13, 6) overlap the first; the monthly tier adds the
				// last day of each month back to Jan 2026.
				"2026-12-31 03:30", "2026-12-30 03:30", "2026-12-29 03:30", "2026-12-28 03:30",
				"2026-12-27 03:30", "2026-12-26 03:30", "2026-12-25 03:30",
				"2026-12-20 03:30", "2026-12-13 03:30",
				"2026-11-30 03:30", "2026-10-31 03:30", "2026-09-30 03:30", "2026-08-31 03:30",
				"2026-07-31 03:30", "2026-06-30 03:30", "2026-05-31 03:30", "2026-04-30 03:30",
				"2026-03-31 03:30", "2026-02-28 03:30", "2026-01-31 03:30",
			),
		},
		{
			name: "ISO week across a new year", policy: dest.Retention{Weekly: 2},
			// Fri 2027-01-01 is in ISO week 2026-W53, with Mon 2026-12-28.
			in:   names(t, "2027-01-04 03:30", "2027-01-01 03:30", "2026-12-28 03:30", "2026-12-27 03:30"),
			keep: names(t, "2027-01-04 03:30", "2027-01-01 03:30"),
		},
		{
			name: "gaps do not age out the last good backups", policy: dest.Retention{Daily: 3},
			in:   names(t, "2026-12-20 03:30", "2026-11-02 03:30", "2026-11-01 03:30", "2026-10-01 03:30"),
			keep: names(t, "2026-12-20 03:30", "2026-11-02 03:30", "2026-11-01 03:30"),
		},
		{
			name: "all counts zero still keeps the newest", policy: dest.Retention{},
			in: daily(t, "2026-12-02", 3), keep: daily(t, "2026-12-02", 1),
		},
		{
			name: "the one just written is kept even if older", policy: dest.Retention{Daily: 1},
			in: daily(t, "2026-12-02", 3), protect: dest.FileName(time.Date(2026, 11, 30, 3, 30, 0, 0, time.UTC)),
			keep: names(t, "2026-12-02 03:30", "2026-11-30 03:30"),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keep, drop := tc.policy.Select(tc.in, tc.protect)
			require.Equal(t, tc.keep, keep)
			require.Len(t, drop, len(tc.in)-len(tc.keep))
			require.ElementsMatch(t, tc.in, append(keep, drop...))
		})
	}
}

func TestRetentionIgnoresOtherFiles(t *testing.T) {
	t.Parallel()
	others := []string{
		"merchant-01HZX-20261201T033000Z.tillbak", "notes.txt", "till-20261201T033000Z.tillbak.partial",
		"till-2026-12-01.tillbak", ".till-20261201T033000Z.tillbak.123.tmp",
	}
	in := append(daily(t, "2026-12-02", 3), others...)
	keep, drop := dest.Retention{Daily: 1}.Select(in)
	require.Equal(t, daily(t, "2026-12-02", 1), keep)
	require.Equal(t, daily(t, "2026-12-02", 3)[1:], drop)
}

func TestFileName(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 11, 4, 5, 0, time.FixedZone("CST", 8*3600))
	require.Equal(t, "till-20261202T030405Z.tillbak", dest.FileName(at))
	back, ok := dest.ParseName(dest.FileName(at))
	require.True(t, ok)
	require.True(t, back.Equal(at))
}
