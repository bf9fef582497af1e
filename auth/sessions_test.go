package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/kv/kvtest"
)

const (
	testIdleTTL = time.Hour
	testMaxTTL  = 3 * time.Hour
)

// testClock is the sessions' clock; on the embedded Redis it moves the
// server's clock and its key TTLs along with it.
type testClock struct {
	mu  sync.Mutex
	now time.Time
	b   kvtest.Backend
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the sessions' clock, and the embedded Redis's TTLs, by d.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	if m := c.b.Store.Embedded(); m != nil {
		m.FastForward(d)
	}
}

// AdvanceAppOnly moves only the sessions' clock, as when a replica's clock
// runs ahead of Redis's.
func (c *testClock) AdvanceAppOnly(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newSessions(b kvtest.Backend) (*Sessions, *testClock) {
	clock := &testClock{now: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC), b: b}
	return &Sessions{rdb: b.Store.Client(), prefix: b.Prefix, idleTTL: testIdleTTL, maxTTL: testMaxTTL, now: clock.Now}, clock
}

// embedded is the miniredis backend, whose clock tests can move.
// create opens a session for subject and returns it with its refresh token.
func create(t *testing.T, s *Sessions, subject pulid.ID) (*Session, string) {
	t.Helper()
	sess := staffSession(subject)
	tok, _, err := s.Create(t.Context(), sess)
	require.NoError(t, err)
	return sess, tok
}

func embedded(t *testing.T) kvtest.Backend {
	t.Helper()
	b := kvtest.Backends(t)[0]
	require.NotNil(t, b.Store.Embedded(), "the first backend is miniredis")
	return b
}

func staffSession(subject pulid.ID) *Session {
	return &Session{
		Kind: viewer.KindStaff, SubjectID: subject, MerchantID: "mer_01TEST",
		Role: viewer.RoleManager, IP: "203.0.113.7", UserAgent: "till-ios/1.0",
	}
}

func TestSessionCreateAndGet(t *testing.T) {
	t.Parallel()
	for _, b := range kvtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s, clock := newSessions(b)
			start := clock.Now()

			sess := staffSession("stf_alice")
			refresh, expires, err := s.Create(ctx, sess)
			require.NoError(t, err)
			require.Len(t, sess.ID, 32, "128 random bits, hex")
			require.Equal(t, start, sess.CreatedAt)
			require.Equal(t, start, sess.RefreshedAt)
			require.Equal(t, start.Add(testMaxTTL), sess.ExpiresAt, "the absolute end")
			require.Equal(t, start.Add(testIdleTTL), expires, "the refresh token lives for the idle window")

			subject, sid, secret, ok := parseRefreshToken(refresh)
			require.True(t, ok, refresh)
			require.True(t, strings.HasPrefix(refresh, "tlr."))
			require.Equal(t, pulid.ID("stf_alice"), subject)
			require.Equal(t, sess.ID, sid)
			require.Equal(t, hashSecret(secret), sess.RefreshHash)

			got, err := s.Get(ctx, "stf_alice", sess.ID)
			require.NoError(t, err)
			require.Equal(t, sess.ID, got.ID)
			require.Equal(t, viewer.KindStaff, got.Kind)
			require.Equal(t, pulid.ID("stf_alice"), got.SubjectID)
			require.Equal(t, pulid.ID("mer_01TEST"), got.MerchantID)
			require.Equal(t, viewer.RoleManager, got.Role)
			require.Equal(t, "203.0.113.7", got.IP)
			require.Equal(t, "till-ios/1.0", got.UserAgent)
			require.Equal(t, sess.RefreshHash, got.RefreshHash)
			require.True(t, sess.ExpiresAt.Equal(got.ExpiresAt))
			require.Empty(t, got.UsedHashes)

			// Redis holds the hash of the refresh secret, never the secret.
			raw, err := b.Store.Client().Get(ctx, s.key("stf_alice", sess.ID)).Result()
			require.NoError(t, err)
			require.NotContains(t, raw, secret)
			require.True(t, strings.HasPrefix(s.key("stf_alice", sess.ID), b.Prefix), "keys carry the prefix")

			// The key expires with the idle window, its index with the
			// absolute lifetime.
			ttl, err := b.Store.Client().PTTL(ctx, s.key("stf_alice", sess.ID)).Result()
			require.NoError(t, err)
			require.InDelta(t, testIdleTTL, ttl, float64(time.Minute))
			ttl, err = b.Store.Client().PTTL(ctx, s.indexKey("stf_alice")).Result()
			require.NoError(t, err)
			require.InDelta(t, testMaxTTL, ttl, float64(time.Minute))

			for _, tc := range []struct {
				name    string
				subject pulid.ID
				sid     string
			}{
				{"unknown session", "stf_alice", "0123456789abcdef0123456789abcdef"},
				{"another subject's key", "stf_mallory", sess.ID},
				{"empty id", "stf_alice", ""},
			} {
				_, err := s.Get(ctx, tc.subject, tc.sid)
				require.ErrorIs(t, err, ErrNoSession, tc.name)
			}

			other := staffSession("stf_alice")
			refresh2, _, err := s.Create(ctx, other)
			require.NoError(t, err)
			require.NotEqual(t, sess.ID, other.ID)
			require.NotEqual(t, refresh, refresh2)
			require.NotEqual(t, sess.RefreshHash, other.RefreshHash)
		})
	}
}

func TestSessionTTL(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		idle       time.Duration
		untilLimit time.Duration
		want       time.Duration
	}{
		{name: "idle window", idle: time.Hour, untilLimit: 10 * time.Hour, want: time.Hour},
		{name: "cut short by the absolute end", idle: time.Hour, untilLimit: 20 * time.Minute, want: 20 * time.Minute},
		{name: "equal", idle: time.Hour, untilLimit: time.Hour, want: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &Sessions{idleTTL: tt.idle}
			require.Equal(t, tt.want, s.ttl(&Session{ExpiresAt: now.Add(tt.untilLimit)}, now))
		})
	}
}

func TestSessionCreateIdleLongerThanLifetime(t *testing.T) {
	t.Parallel()
	b := embedded(t)
	s, clock := newSessions(b)
	s.idleTTL, s.maxTTL = 48*time.Hour, 12*time.Hour
	sess := staffSession("stf_alice")
	_, expires, err := s.Create(t.Context(), sess)
	require.NoError(t, err)
	require.Equal(t, clock.Now().Add(12*time.Hour), expires)
	require.Equal(t, sess.ExpiresAt, expires)
}

func TestRotate(t *testing.T) {
	t.Parallel()
	for _, b := range kvtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s, clock := newSessions(b)
			sess, first := create(t, s, "stf_alice")

			clock.AdvanceAppOnly(10 * time.Minute)
			got, second, expires, err := s.Rotate(ctx, first, nil)
			require.NoError(t, err)
			require.NotEqual(t, first, second)
			require.Equal(t, sess.ID, got.ID, "the same session carries on")
			require.Equal(t, clock.Now(), got.RefreshedAt)
			require.True(t, sess.CreatedAt.Equal(got.CreatedAt))
			require.True(t, sess.ExpiresAt.Equal(got.ExpiresAt), "refreshing never extends the absolute end")
			require.Equal(t, clock.Now().Add(testIdleTTL), expires)
			require.Equal(t, viewer.RoleManager, got.Role)
			require.Equal(t, pulid.ID("mer_01TEST"), got.MerchantID)

			stored, err := s.Get(ctx, "stf_alice", sess.ID)
			require.NoError(t, err)
			require.Equal(t, []string{sess.RefreshHash}, stored.UsedHashes)
			require.NotEqual(t, sess.RefreshHash, stored.RefreshHash)

			_, third, _, err := s.Rotate(ctx, second, nil)
			require.NoError(t, err, "the new token works")
			_, _, _, err = s.Rotate(ctx, third, nil)
			require.NoError(t, err)
		})
	}
}

func TestRotateReuseEndsTheSession(t *testing.T) {
	t.Parallel()
	for _, b := range kvtest.Backends(t) {
		for _, tc := range []struct {
			name  string
			reuse func(tokens []string) string
		}{
			{name: "the token just exchanged", reuse: func(tok []string) string { return tok[len(tok)-2] }},
			{name: "an older token", reuse: func(tok []string) string { return tok[0] }},
		} {
			t.Run(b.Name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				ctx := t.Context()
				s, _ := newSessions(b)
				sess, tok := create(t, s, "stf_alice")
				sibling := staffSession("stf_alice")
				siblingTok, _, err := s.Create(ctx, sibling)
				require.NoError(t, err)

				tokens := []string{tok}
				for range 3 {
					_, next, _, err := s.Rotate(ctx, tokens[len(tokens)-1], nil)
					require.NoError(t, err)
					tokens = append(tokens, next)
				}
				current := tokens[len(tokens)-1]

				ended, next, expires, err := s.Rotate(ctx, tc.reuse(tokens), nil)
				require.ErrorIs(t, err, ErrRefreshReused)
				require.NotNil(t, ended, "the ended session comes back for the log")
				require.Equal(t, sess.ID, ended.ID)
				require.Equal(t, pulid.ID("stf_alice"), ended.SubjectID)
				require.Empty(t, next)
				require.True(t, expires.IsZero())

				_, err = s.Get(ctx, "stf_alice", sess.ID)
				require.ErrorIs(t, err, ErrNoSession, "the whole session has ended")
				_, _, _, err = s.Rotate(ctx, current, nil)
				require.ErrorIs(t, err, ErrInvalidRefresh, "so the thief's or the owner's current token is dead too")
				members, err := b.Store.Client().SMembers(ctx, s.indexKey("stf_alice")).Result()
				require.NoError(t, err)
				require.NotContains(t, members, sess.ID, "and it left the subject's index")

				// Another login of the same person is another family.
				_, _, _, err = s.Rotate(ctx, siblingTok, nil)
				require.NoError(t, err)
			})
		}
	}
}

func TestRotateWrongSecretLeavesSessionAlone(t *testing.T) {
	t.Parallel()
	for _, b := range kvtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s, _ := newSessions(b)
			sess, tok := create(t, s, "stf_alice")

			// A guess at the secret is not a reuse: it must not let anyone
			// who knows a session ID end it.
			guess := formatRefreshToken("stf_alice", sess.ID, randomSecret())
			got, next, _, err := s.Rotate(ctx, guess, nil)
			require.ErrorIs(t, err, ErrInvalidRefresh)
			require.Nil(t, got)
			require.Empty(t, next)

			_, err = s.Get(ctx, "stf_alice", sess.ID)
			require.NoError(t, err)
			_, _, _, err = s.Rotate(ctx, tok, nil)
			require.NoError(t, err, "the real token still works")
		})
	}
}

func TestRotateMalformedTokens(t *testing.T) {
	t.Parallel()
	b := embedded(t)
	ctx := t.Context()
	s, _ := newSessions(b)
	_, tok := create(t, s, "stf_alice")
	_, sid, secret, ok := parseRefreshToken(tok)
	require.True(t, ok)

	tests := []struct {
		name string
		tok  string
	}{
		{"empty", ""},
		{"prefix only", "tlr"},
		{"three parts", "tlr.stf_alice." + sid},
		{"five parts", tok + ".extra"},
		{"wrong prefix", "tla.stf_alice." + sid + "." + secret},
		{"prefix is case-sensitive", "TLR.stf_alice." + sid + "." + secret},
		{"empty subject", "tlr.." + sid + "." + secret},
		{"empty session", "tlr.stf_alice.." + secret},
		{"empty secret", "tlr.stf_alice." + sid + "."},
		{"an access token", "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJzdGZfYWxpY2UifQ.c2ln"},
		{"another subject", "tlr.stf_mallory." + sid + "." + secret},
		{"unknown session", "tlr.stf_alice.0123456789abcdef0123456789abcdef." + secret},
		{"whitespace around", " " + tok + " "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess, next, expires, err := s.Rotate(ctx, tt.tok, nil)
			require.ErrorIs(t, err, ErrInvalidRefresh)
			require.Nil(t, sess)
			require.Empty(t, next)
			require.True(t, expires.IsZero())
		})
	}
	_, _, _, err := s.Rotate(ctx, tok, nil)
	require.NoError(t, err, "none of that touched the real session")
}

func TestParseRefreshToken(t *testing.T) {
	t.Parallel()
	tok := formatRefreshToken("opr_01ABC", "deadbeef", "c2VjcmV0")
	require.Equal(t, "tlr.opr_01ABC.deadbeef.c2VjcmV0", tok)
	subject, sid, secret, ok := parseRefreshToken(tok)
	require.True(t, ok)
	require.Equal(t, pulid.ID("opr_01ABC"), subject)
	require.Equal(t, "deadbeef", sid)
	require.Equal(t, "c2VjcmV0", secret)

	// Secrets are base64url without padding, so they never contain the
	// separator.
	for range 100 {
		require.NotContains(t, randomSecret(), ".")
	}
}

func TestRotateForgetsTheOldestUsedTokens(t *testing.T) {
	t.Parallel()
	b := embedded(t)
	ctx := t.Context()
	s, _ := newSessions(b)
	sess, tok := create(t, s, "stf_alice")

	tokens := []string{tok}
	for range maxUsedHashes + 1 {
		_, next, _, err := s.Rotate(ctx, tokens[len(tokens)-1], nil)
		require.NoError(t, err)
		tokens = append(tokens, next)
	}
	stored, err := s.Get(ctx, "stf_alice", sess.ID)
	require.NoError(t, err)
	require.Len(t, stored.UsedHashes, maxUsedHashes, "the used list is bounded")

	// The very first token has dropped out of the list: it is merely
	// unknown now, and the session lives on.
	_, _, _, err = s.Rotate(ctx, tokens[0], nil)
	require.ErrorIs(t, err, ErrInvalidRefresh)
	_, err = s.Get(ctx, "stf_alice", sess.ID)
	require.NoError(t, err)

	// The second is still remembered.
	_, _, _, err = s.Rotate(ctx, tokens[1], nil)
	require.ErrorIs(t, err, ErrRefreshReused)
	_, err = s.Get(ctx, "stf_alice", sess.ID)
	require.ErrorIs(t, err, ErrNoSession)
}

func TestRotateConcurrentlyOnlyOneWins(t *testing.T) {
	t.Parallel()
	for _, b := range kvtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s, _ := newSessions(b)
			sess, tok := create(t, s, "stf_alice")

			const n = 2
			errsCh := make(chan error, n)
			var start sync.WaitGroup
			start.Add(1)
			for range n {
				go func() {
					start.Wait()
					_, _, _, err := s.Rotate(ctx, tok, nil)
					errsCh <- err
				}()
			}
			start.Done()
			var ok, reused int
			for range n {
				switch err := <-errsCh; {
				case err == nil:
					ok++
				case errors.Is(err, ErrRefreshReused):
					reused++
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}
			require.Equal(t, 1, ok, "one exchange wins")
			require.Equal(t, 1, reused, "the other is a reuse")
			_, err := s.Get(ctx, "stf_alice", sess.ID)
			require.ErrorIs(t, err, ErrNoSession)
		})
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	for _, b := range kvtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s, _ := newSessions(b)
			one, two := staffSession("stf_alice"), staffSession("stf_alice")
			tokOne, _, err := s.Create(ctx, one)
			require.NoError(t, err)
			tokTwo, _, err := s.Create(ctx, two)
			require.NoError(t, err)

			n, err := s.Delete(ctx, "stf_alice", one.ID)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			n, err = s.Delete(ctx, "stf_alice", one.ID)
			require.NoError(t, err)
			require.Equal(t, 0, n, "ending an ended session ends nothing")
			n, err = s.Delete(ctx, "stf_bob", two.ID)
			require.NoError(t, err)
			require.Equal(t, 0, n, "a session is only found under its own subject")

			_, err = s.Get(ctx, "stf_alice", one.ID)
			require.ErrorIs(t, err, ErrNoSession)
			_, _, _, err = s.Rotate(ctx, tokOne, nil)
			require.ErrorIs(t, err, ErrInvalidRefresh)
			members, err := b.Store.Client().SMembers(ctx, s.indexKey("stf_alice")).Result()
			require.NoError(t, err)
			require.Equal(t, []string{two.ID}, members)

			_, _, _, err = s.Rotate(ctx, tokTwo, nil)
			require.NoError(t, err, "the other session is untouched")
		})
	}
}

func TestDeleteAll(t *testing.T) {
	t.Parallel()
	for _, b := range kvtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s, _ := newSessions(b)
			var alice []*Session
			var aliceTokens []string
			for range 3 {
				sess, tok := create(t, s, "stf_alice")
				alice = append(alice, sess)
				aliceTokens = append(aliceTokens, tok)
			}
			bob := staffSession("stf_bob")
			bobTok, _, err := s.Create(ctx, bob)
			require.NoError(t, err)

			n, err := s.DeleteAll(ctx, "stf_alice", alice[1].ID)
			require.NoError(t, err)
			require.Equal(t, 2, n, "all but the kept session")
			for i, sess := range alice {
				_, err := s.Get(ctx, "stf_alice", sess.ID)
				if i == 1 {
					require.NoError(t, err, "kept")
				} else {
					require.ErrorIs(t, err, ErrNoSession)
				}
			}
			_, _, _, err = s.Rotate(ctx, aliceTokens[1], nil)
			require.NoError(t, err)
			_, _, _, err = s.Rotate(ctx, bobTok, nil)
			require.NoError(t, err, "someone else's sessions are untouched")

			n, err = s.DeleteAll(ctx, "stf_alice")
			require.NoError(t, err)
			require.Equal(t, 1, n)
			n, err = s.DeleteAll(ctx, "stf_alice")
			require.NoError(t, err)
			require.Equal(t, 0, n)
			n, err = s.DeleteAll(ctx, "stf_nobody")
			require.NoError(t, err)
			require.Equal(t, 0, n)
		})
	}
}

func TestSessionIdleExpiry(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, clock := newSessions(embedded(t))
	sess, tok := create(t, s, "stf_alice")

	clock.Advance(testIdleTTL - time.Minute)
	_, err := s.Get(ctx, "stf_alice", sess.ID)
	require.NoError(t, err, "alive until the idle window ends")

	clock.Advance(time.Minute)
	_, err = s.Get(ctx, "stf_alice", sess.ID)
	require.ErrorIs(t, err, ErrNoSession)
	_, _, _, err = s.Rotate(ctx, tok, nil)
	require.ErrorIs(t, err, ErrInvalidRefresh)
}

func TestSessionRefreshExtendsIdleWindowUpToTheAbsoluteEnd(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, clock := newSessions(embedded(t))
	sess, tok := create(t, s, "stf_alice")
	end := sess.ExpiresAt

	// Refreshing every 50 minutes keeps a 60-minute idle window open...
	for clock.Now().Add(50 * time.Minute).Before(end) {
		clock.Advance(50 * time.Minute)
		var (
			expires time.Time
			err     error
		)
		_, tok, expires, err = s.Rotate(ctx, tok, nil)
		require.NoError(t, err, "at %s", clock.Now().Sub(sess.CreatedAt))
		want := clock.Now().Add(testIdleTTL)
		if end.Before(want) {
			want = end
		}
		require.Equal(t, want, expires)
	}
	// ...until the absolute end (3h), which no refresh moves: the last
	// refresh (at 2h30m) got only 30 minutes.
	require.Equal(t, 150*time.Minute, clock.Now().Sub(sess.CreatedAt))
	clock.Advance(end.Sub(clock.Now()) - time.Second)
	_, err := s.Get(ctx, "stf_alice", sess.ID)
	require.NoError(t, err)
	clock.Advance(time.Second)
	_, err = s.Get(ctx, "stf_alice", sess.ID)
	require.ErrorIs(t, err, ErrNoSession)
	_, _, _, err = s.Rotate(ctx, tok, nil)
	require.ErrorIs(t, err, ErrInvalidRefresh)
}

func TestRotateRefusesPastTheAbsoluteEndEvenIfRedisStillHasIt(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, clock := newSessions(embedded(t))
	_, tok := create(t, s, "stf_alice")

	// This replica's clock is past the end; Redis's is not.
	clock.AdvanceAppOnly(testMaxTTL)
	_, _, _, err := s.Rotate(ctx, tok, nil)
	require.ErrorIs(t, err, ErrInvalidRefresh)
}

func TestDeleteAllCountsOnlyLiveSessions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, clock := newSessions(embedded(t))
	old := staffSession("stf_alice")
	_, _, err := s.Create(ctx, old)
	require.NoError(t, err)
	clock.Advance(30 * time.Minute)
	recent := staffSession("stf_alice")
	_, _, err = s.Create(ctx, recent)
	require.NoError(t, err)
	clock.Advance(30 * time.Minute) // old has idled out; recent has not

	n, err := s.DeleteAll(ctx, "stf_alice")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	members, err := s.rdb.SMembers(ctx, s.indexKey("stf_alice")).Result()
	require.NoError(t, err)
	require.Empty(t, members, "the index is cleaned of expired sessions too")
}

func TestSessionIndexExpires(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, clock := newSessions(embedded(t))
	_, _, err := s.Create(ctx, staffSession("stf_alice"))
	require.NoError(t, err)
	clock.Advance(testMaxTTL)
	err = s.rdb.Get(ctx, s.indexKey("stf_alice")).Err()
	require.ErrorIs(t, err, redis.Nil, "the index does not outlive the sessions it lists")
}

func TestSessionErrorsOnRedisFailure(t *testing.T) {
	t.Parallel()
	b := embedded(t)
	s, _ := newSessions(b)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, err := s.Create(ctx, staffSession("stf_alice"))
	require.ErrorContains(t, err, "storing session")
	_, err = s.Get(ctx, "stf_alice", "x")
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrNoSession, "a Redis failure is not a logged-out session")
}

// A token that admit refuses is not spent: once admitted it still works.
func TestRotateRefusedByAdmitKeepsToken(t *testing.T) {
	t.Parallel()
	for _, b := range kvtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s, _ := newSessions(b)
			tok, _, err := s.Create(ctx, staffSession("stf_alice"))
			require.NoError(t, err)

			suspended := errors.New("suspended")
			_, _, _, err = s.Rotate(ctx, tok, func(*Session) error { return suspended })
			require.ErrorIs(t, err, suspended)

			_, next, _, err := s.Rotate(ctx, tok, func(*Session) error { return nil })
			require.NoError(t, err)
			require.NotEmpty(t, next)
		})
	}
}
