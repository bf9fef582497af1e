package ratelimit_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/kv"
	"github.com/tillpos/till/kv/kvtest"
	"github.com/tillpos/till/ratelimit"
)

// clock moves the time the rate-limit script sees: the embedded server's
// clock is set directly, a real Redis needs a real sleep.
func clock(t *testing.T, b kvtest.Backend) (advance func(time.Duration)) {
	t.Helper()
	m := b.Store.Embedded()
	if m == nil {
		return time.Sleep
	}
	now := time.Now()
	m.SetTime(now)
	return func(d time.Duration) {
		now = now.Add(d)
		m.SetTime(now)
	}
}

// requireLimited asserts that err refuses the named limit and returns its
// RetryAfter.
func requireLimited(t *testing.T, err error, name string) time.Duration {
	t.Helper()
	var limited *ratelimit.LimitedError
	require.ErrorAs(t, err, &limited)
	require.Equal(t, name, limited.Name)
	require.Positive(t, limited.RetryAfter)
	return limited.RetryAfter
}

func TestAllowRefusesOnceBurstIsUsed(t *testing.T) {
	t.Parallel()
	// Periods are long enough that no token comes back during the test,
	// even against a real Redis.
	tests := []struct {
		name  string
		limit ratelimit.Limit
	}{
		{name: "per minute", limit: ratelimit.PerMinute(3)},
		{name: "per hour", limit: ratelimit.PerHour(5)},
		{name: "burst above rate", limit: ratelimit.Limit{Rate: 1, Period: time.Minute, Burst: 4}},
		{name: "burst below rate", limit: ratelimit.Limit{Rate: 10, Period: time.Minute, Burst: 2}},
	}
	for _, b := range kvtest.Backends(t) {
		limiter := ratelimit.New(b.Store.Client(), b.Prefix)
		for _, tc := range tests {
			t.Run(b.Name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				ctx := t.Context()
				for range tc.limit.Burst {
					require.NoError(t, limiter.Allow(ctx, tc.name, "203.0.113.9", tc.limit))
				}
				retryAfter := requireLimited(t, limiter.Allow(ctx, tc.name, "203.0.113.9", tc.limit), tc.name)
				require.LessOrEqual(t, retryAfter, tc.limit.Period/time.Duration(tc.limit.Rate))
			})
		}
	}
}

func TestAllowAgainAfterRetryAfter(t *testing.T) {
	t.Parallel()
	for _, b := range kvtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			advance := clock(t, b)
			limiter := ratelimit.New(b.Store.Client(), b.Prefix)
			limit := ratelimit.PerSecond(1)

			require.NoError(t, limiter.Allow(ctx, "login-ip", "203.0.113.9", limit))
			retryAfter := requireLimited(t, limiter.Allow(ctx, "login-ip", "203.0.113.9", limit), "login-ip")

			// Halfway there the bucket is still empty, and refusals took
			// no token: the wait has shrunk rather than grown.
			advance(retryAfter / 2)
			remaining := requireLimited(t, limiter.Allow(ctx, "login-ip", "203.0.113.9", limit), "login-ip")
			require.Less(t, remaining, retryAfter)

			advance(remaining + 50*time.Millisecond)
			require.NoError(t, limiter.Allow(ctx, "login-ip", "203.0.113.9", limit))
		})
	}
}

func TestBucketsAreIndependent(t *testing.T) {
	t.Parallel()
	limit := ratelimit.PerMinute(1)
	for _, b := range kvtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			limiter := ratelimit.New(b.Store.Client(), b.Prefix)
			require.NoError(t, limiter.Allow(ctx, "login-ip", "203.0.113.9", limit))
			requireLimited(t, limiter.Allow(ctx, "login-ip", "203.0.113.9", limit), "login-ip")

			tests := []struct {
				name      string
				limitName string
				key       string
			}{
				{name: "other key", limitName: "login-ip", key: "198.51.100.7"},
				{name: "other name", limitName: "login-user", key: "203.0.113.9"},
			}
			for _, tc := range tests {
				require.NoError(t, limiter.Allow(ctx, tc.limitName, tc.key, limit), tc.name)
			}
		})
	}
}

func TestBucketKey(t *testing.T) {
	t.Parallel()
	for _, b := range kvtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			client := b.Store.Client()
			limiter := ratelimit.New(client, b.Prefix)
			require.NoError(t, limiter.Allow(ctx, "login-ip", "203.0.113.9", ratelimit.PerMinute(10)))

			// One key per bucket, expiring once the bucket is full again.
			ttl, err := client.TTL(ctx, "rate:"+b.Prefix+"login-ip:203.0.113.9").Result()
			require.NoError(t, err)
			require.Positive(t, ttl)
			require.LessOrEqual(t, ttl, 6*time.Second)
		})
	}
}

func TestPeek(t *testing.T) {
	t.Parallel()
	limit := ratelimit.PerMinute(2)
	for _, b := range kvtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			limiter := ratelimit.New(b.Store.Client(), b.Prefix)

			// Peeking more often than the burst takes no token.
			for range limit.Burst + 3 {
				require.NoError(t, limiter.Peek(ctx, "login-ip", "203.0.113.9", limit))
			}
			require.NoError(t, limiter.Allow(ctx, "login-ip", "203.0.113.9", limit))
			require.NoError(t, limiter.Peek(ctx, "login-ip", "203.0.113.9", limit))
			require.NoError(t, limiter.Allow(ctx, "login-ip", "203.0.113.9", limit))

			peeked := requireLimited(t, limiter.Peek(ctx, "login-ip", "203.0.113.9", limit), "login-ip")
			refused := requireLimited(t, limiter.Allow(ctx, "login-ip", "203.0.113.9", limit), "login-ip")
			require.InDelta(t, peeked, refused, float64(100*time.Millisecond))
		})
	}
}

func TestZeroLimitIsUnlimited(t *testing.T) {
	t.Parallel()
	// A closed client fails every command, so any Redis access would
	// surface as an error.
	store, err := kv.Open(t.Context(), "")
	require.NoError(t, err)
	require.NoError(t, store.Close())
	limiter := ratelimit.New(store.Client(), "till:rl:")

	for range 10 {
		require.NoError(t, limiter.Allow(t.Context(), "login-ip", "203.0.113.9", ratelimit.Limit{}))
		require.NoError(t, limiter.Peek(t.Context(), "login-ip", "203.0.113.9", ratelimit.Limit{}))
	}
	require.Error(t, limiter.Allow(t.Context(), "login-ip", "203.0.113.9", ratelimit.PerMinute(1)),
		"the closed client must fail for a real limit, or the test proves nothing")
}

func TestInvalidLimit(t *testing.T) {
	t.Parallel()
	store, err := kv.Open(t.Context(), "")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	limiter := ratelimit.New(store.Client(), "till:rl:")

	tests := []struct {
		name  string
		limit ratelimit.Limit
	}{
		{name: "zero rate", limit: ratelimit.Limit{Period: time.Minute, Burst: 1}},
		{name: "zero period", limit: ratelimit.Limit{Rate: 1, Burst: 1}},
		{name: "zero burst", limit: ratelimit.Limit{Rate: 1, Period: time.Minute}},
		{name: "negative rate", limit: ratelimit.Limit{Rate: -1, Period: time.Minute, Burst: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, check := range []func() error{
				func() error { return limiter.Allow(t.Context(), "login-ip", "203.0.113.9", tc.limit) },
				func() error { return limiter.Peek(t.Context(), "login-ip", "203.0.113.9", tc.limit) },
			} {
				err := check()
				require.ErrorContains(t, err, "invalid limit")
				var limited *ratelimit.LimitedError
				require.NotErrorAs(t, err, &limited)
			}
		})
	}
}

func TestLimitedErrorMessage(t *testing.T) {
	t.Parallel()
	err := &ratelimit.LimitedError{Name: "login-ip", RetryAfter: 1500 * time.Millisecond}
	require.EqualError(t, err, "rate limit login-ip exceeded: retry after 1.5s")
}
