package releases_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/semver"

	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/releases"
	"github.com/tillpos/till/releases/version"
)

func TestReleaseVersionParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "1.2.3", want: "1.2.3"},
		{in: " v1.2.3 ", want: "1.2.3"},
		{in: "2.5.0-beta.1", want: "2.5.0-beta.1"},
		{in: "2.5.0-rc.1+build.7", want: "2.5.0-rc.1"},
		{in: "1.3.0+dev.4", want: "1.3.0"},
		{in: "1.3+dev.4", wantErr: true},
		{in: "0.0.0", want: "0.0.0"},
		{in: "9999999999.0.0", want: "9999999999.0.0"},
		{in: "", wantErr: true},
		{in: "1", wantErr: true},
		{in: "1.2", wantErr: true},
		{in: "v1.2-beta", wantErr: true},
		{in: "1.2.3.4", wantErr: true},
		{in: "01.2.3", wantErr: true},
		{in: "1.2.3-01", wantErr: true},
		{in: "1.2.3-", wantErr: true},
		{in: "1.2.3-beta..1", wantErr: true},
		{in: "1.2.x", wantErr: true},
		{in: "10000000000.0.0", wantErr: true},
		{in: "1.0.0-" + strings.Repeat("a", 64), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := version.Parse(tt.in)
			if tt.wantErr {
				require.ErrorIs(t, err, version.ErrInvalid)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.NoError(t, version.Check(got))
		})
	}
	require.Error(t, version.Check("v1.2.3"), "stored versions carry no v")
	require.Error(t, version.Check("1.2.3+b"), "stored versions carry no build metadata")
}

// TestReleaseVersionKeyOrder checks that keys sort exactly as semver
// precedence orders the versions, including the pre-release rules.
func TestReleaseVersionKeyOrder(t *testing.T) {
	t.Parallel()
	// In precedence order (semver.org §11 and more).
	ordered := []string{
		"0.0.1", "0.1.0", "0.9.9", "0.10.0",
		"1.0.0-0", "1.0.0-1", "1.0.0-2", "1.0.0-10", "1.0.0-A", "1.0.0-a",
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-alpha-x",
		"1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
		"1.0.1", "1.1.0-beta", "1.1.0", "1.9.0", "1.10.0", "2.0.0", "10.0.0", "9999999999.0.0",
	}
	for i := 1; i < len(ordered); i++ {
		a, b := ordered[i-1], ordered[i]
		require.Negative(t, semver.Compare("v"+a, "v"+b), "the list itself: %s < %s", a, b)
		require.Negative(t, version.Compare(a, b))
		require.Less(t, version.Key(a), version.Key(b), "key(%s) < key(%s)", a, b)
	}
	// Every pair, both ways, agrees with semver.
	shuffled := slices.Clone(ordered)
	slices.Reverse(shuffled)
	sort.Slice(shuffled, func(i, j int) bool { return version.Key(shuffled[i]) < version.Key(shuffled[j]) })
	require.Equal(t, ordered, shuffled)
	require.Equal(t, "0000000001.0000000002.0000000003~", version.Key("1.2.3"))
}

func TestReleaseBucketDeterministic(t *testing.T) {
	t.Parallel()
	rel := pulid.ID("rel_01JD7X0Q2N3V4W5X6Y7Z8A9B0C")
	b := releases.Bucket(rel, "SN-0001")
	for range 100 {
		require.Equal(t, b, releases.Bucket(rel, "SN-0001"))
	}
	require.GreaterOrEqual(t, b, 0)
	require.Less(t, b, 100)
	// Raising the percentage only adds devices.
	for p := range 100 {
		if releases.InRollout(rel, "SN-0001", p) {
			require.True(t, releases.InRollout(rel, "SN-0001", p+1))
		}
	}
	require.False(t, releases.InRollout(rel, "SN-0001", 0))
	require.True(t, releases.InRollout(rel, "SN-0001", 100))
}

// TestReleaseBucketSpread checks that buckets spread evenly over devices and
// that a device's bucket for one release says nothing about another's.
func TestReleaseBucketSpread(t *testing.T) {
	t.Parallel()
	const n = 10000
	// Fixed IDs keep the test deterministic.
	relA, relB := pulid.ID("rel_01JD7X0Q2N3V4W5X6Y7Z8A9B0C"), pulid.ID("rel_01JD7X0Q2N3V4W5X6Y7Z8A9B0D")
	inA, inBoth := 0, 0
	counts := make([]int, 100)
	for i := range n {
		key := fmt.Sprintf("SN-%06d", i)
		counts[releases.Bucket(relA, key)]++
		a := releases.InRollout(relA, key, 30)
		if a {
			inA++
			if releases.InRollout(relB, key, 30) {
				inBoth++
			}
		}
	}
	require.InDelta(t, 0.30, float64(inA)/n, 0.03, "30%% rollout takes 27–33%% of devices")
	// Independent: about 30% of those in A's 30% are in B's too (not all).
	require.InDelta(t, 0.30, float64(inBoth)/float64(inA), 0.05)
	for b, c := range counts {
		require.InDelta(t, n/100, c, 45, "bucket %d holds %d of %d devices", b, c, n)
	}
}
