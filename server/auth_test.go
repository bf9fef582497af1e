package server_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/auth"
	"github.com/tillpos/till/config"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/ratelimit"
	"github.com/tillpos/till/server"
)

const viewerQuery = `{ viewer { kind role staff { id name email role } merchant { id name currency status } stores { id name timeZone } passwordExpiresAt } }`

type viewerData struct {
	Viewer struct {
		Kind  string
		Role  string
		Staff *struct {
			ID, Name, Email, Role string
		}
		Merchant *struct {
			ID, Name, Currency, Status string
		}
		Stores []struct {
			ID, Name, TimeZone string
		}
		PasswordExpiresAt *time.Time
	}
}

func TestSignUpLogInViewerLogOut(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")

	var v viewerData
	env.Exec(t, owner.Token, viewerQuery, nil).Decode(t, &v)
	require.Equal(t, "STAFF", v.Viewer.Kind)
	require.Equal(t, "OWNER", v.Viewer.Role)
	require.Equal(t, owner.Email, v.Viewer.Staff.Email)
	require.Equal(t, "Lotus Tea", v.Viewer.Merchant.Name)
	require.Equal(t, "CNY", v.Viewer.Merchant.Currency)
	require.Equal(t, "ACTIVE", v.Viewer.Merchant.Status)
	require.Len(t, v.Viewer.Stores, 1)
	require.Equal(t, "Asia/Shanghai", v.Viewer.Stores[0].TimeZone)
	require.NotNil(t, v.Viewer.PasswordExpiresAt, "an OWNER's password expires")
	require.WithinDuration(t, time.Now().Add(90*24*time.Hour), *v.Viewer.PasswordExpiresAt, time.Hour)

	session := env.LogIn(t, owner.Email, tilltest.Password)
	res := env.Exec(t, session.Token, `mutation { logOut { endedSessions } }`, nil)
	var out struct{ LogOut struct{ EndedSessions int } }
	res.Decode(t, &out)
	require.Equal(t, 1, out.LogOut.EndedSessions)

	res = env.Exec(t, session.Token, viewerQuery, nil)
	require.Equal(t, "UNAUTHENTICATED", res.Code(), "a logged-out token is refused at once")
	// The sign-up session is a different session and still works.
	env.Exec(t, owner.Token, viewerQuery, nil).Decode(t, &v)
}

func TestAnonymousIsUnauthenticated(t *testing.T) {
	env := tilltest.New(t, nil)
	for _, q := range []string{viewerQuery, `{ stores { totalCount } }`, `mutation { logOut { endedSessions } }`} {
		res := env.Exec(t, "", q, nil)
		require.Equal(t, "UNAUTHENTICATED", res.Code(), q)
	}
}

func TestLogInWrongPassword(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")
	wrong := env.LogInResult(t, owner.Email, "not the password")
	require.Equal(t, "UNAUTHENTICATED", wrong.Code())
	unknown := env.LogInResult(t, "nobody@nowhere.example", "not the password")
	require.Equal(t, "UNAUTHENTICATED", unknown.Code())
	require.Equal(t, wrong.Errors[0].Message, unknown.Errors[0].Message, "an unknown email is indistinguishable from a wrong password")
	// Emails are case-insensitive.
	env.LogIn(t, strings.ToUpper(owner.Email), tilltest.Password)
}

func TestExpiredAndTamperedTokens(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	env := tilltest.New(t, nil, server.WithClock(clock))
	owner := env.SignUp(t, "Lotus Tea")

	parts := strings.Split(owner.Token, ".")
	require.Len(t, parts, 3)
	sig := []byte(parts[2])
	sig[len(sig)/2] ^= 1
	tampered := parts[0] + "." + parts[1] + "." + string(sig)
	for name, tok := range map[string]string{
		"tampered signature": tampered,
		"not a JWT":          "garbage",
		"refresh as access":  owner.Refresh,
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, "UNAUTHENTICATED", env.Exec(t, tok, viewerQuery, nil).Code())
		})
	}
	res := env.Post(t, map[string]string{"Authorization": "Basic abc"}, map[string]any{"query": viewerQuery})
	require.Equal(t, "UNAUTHENTICATED", res.Code())

	mu.Lock()
	now = now.Add(16 * time.Minute)
	mu.Unlock()
	res = env.Exec(t, owner.Token, viewerQuery, nil)
	require.Equal(t, "UNAUTHENTICATED", res.Code(), "access tokens live 15 minutes")
	// The refresh token still opens a new access token.
	res = env.Exec(t, "", `mutation($i: RefreshSessionInput!) { refreshSession(input: $i) { accessToken } }`,
		map[string]any{"i": map[string]any{"refreshToken": owner.Refresh}})
	var out struct{ RefreshSession struct{ AccessToken string } }
	res.Decode(t, &out)
	var v viewerData
	env.Exec(t, out.RefreshSession.AccessToken, viewerQuery, nil).Decode(t, &v)
	require.Equal(t, owner.ID, v.Viewer.Staff.ID)
}

func TestPublicOperationsWorkWithStaleToken(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")
	env.Exec(t, owner.Token, `mutation { logOut { endedSessions } }`, nil)
	// An app that still sends its dead access token can log in again.
	res := env.Exec(t, owner.Token, `mutation($i: LogInInput!) { logIn(input: $i) { accessToken } }`,
		map[string]any{"i": map[string]any{"email": owner.Email, "password": tilltest.Password}})
	require.Empty(t, res.Errors)
}

func refresh(t *testing.T, env *tilltest.Env, token string) *tilltest.Result {
	t.Helper()
	return env.Exec(t, "", `mutation($i: RefreshSessionInput!) { refreshSession(input: $i) { accessToken refreshToken } }`,
		map[string]any{"i": map[string]any{"refreshToken": token}})
}

func TestRefreshRotatesAndReuseRevokesFamily(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")

	var first struct {
		RefreshSession struct{ AccessToken, RefreshToken string }
	}
	refresh(t, env, owner.Refresh).Decode(t, &first)
	require.NotEqual(t, owner.Refresh, first.RefreshSession.RefreshToken)

	var second struct {
		RefreshSession struct{ AccessToken, RefreshToken string }
	}
	refresh(t, env, first.RefreshSession.RefreshToken).Decode(t, &second)

	// Replaying a token already exchanged means it leaked: the whole
	// session ends, including the newest tokens.
	res := refresh(t, env, owner.Refresh)
	require.Equal(t, "UNAUTHENTICATED", res.Code())
	require.Equal(t, "UNAUTHENTICATED", refresh(t, env, second.RefreshSession.RefreshToken).Code())
	require.Equal(t, "UNAUTHENTICATED", env.Exec(t, second.RefreshSession.AccessToken, viewerQuery, nil).Code())
	require.Equal(t, "UNAUTHENTICATED", env.Exec(t, first.RefreshSession.AccessToken, viewerQuery, nil).Code())

	// An unknown or malformed token is refused without harm to others.
	other := env.LogIn(t, owner.Email, tilltest.Password)
	for _, bad := range []string{"", "tlr.x.y.z", "nonsense", other.Refresh + "x"} {
		require.Equal(t, "UNAUTHENTICATED", refresh(t, env, bad).Code(), bad)
	}
	var v viewerData
	env.Exec(t, other.Token, viewerQuery, nil).Decode(t, &v)
}

func TestLogOutEverywhere(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")
	phone := env.LogIn(t, owner.Email, tilltest.Password)
	tablet := env.LogIn(t, owner.Email, tilltest.Password)

	var out struct{ LogOutEverywhere struct{ EndedSessions int } }
	env.Exec(t, phone.Token, `mutation { logOutEverywhere { endedSessions } }`, nil).Decode(t, &out)
	require.Equal(t, 3, out.LogOutEverywhere.EndedSessions)
	for _, a := range []*tilltest.Account{owner, phone, tablet} {
		require.Equal(t, "UNAUTHENTICATED", env.Exec(t, a.Token, viewerQuery, nil).Code())
		require.Equal(t, "UNAUTHENTICATED", refresh(t, env, a.Refresh).Code())
	}
}

func TestLoginRateLimitAndLockout(t *testing.T) {
	// Short windows stand in for production's minutes, so the test can
	// watch them pass on a real Redis too.
	const window = 2 * time.Second
	cfg := auth.DefaultConfig()
	cfg.LoginPerEmail = ratelimit.Limit{Rate: 10, Period: window, Burst: 10}
	cfg.LockoutWindow, cfg.LockoutDuration = window, window
	env := tilltest.New(t, nil, server.WithAuthOptions(auth.WithConfig(cfg)))
	owner := env.SignUp(t, "Lotus Tea")

	codes := map[string]int{}
	for range 30 {
		codes[env.LogInResult(t, owner.Email, "wrong password!").Code()]++
	}
	require.Equal(t, 10, codes["UNAUTHENTICATED"], "10 failures lock the account: %v", codes)
	require.Equal(t, 20, codes["RATE_LIMITED"], "%v", codes)

	res := env.LogInResult(t, owner.Email, tilltest.Password)
	require.Equal(t, "RATE_LIMITED", res.Code(), "the right password is refused while locked")
	require.Greater(t, res.Errors[0].Extensions["retryAfterSeconds"], 0.0)

	var audit struct {
		AuditEntries struct {
			Edges []struct {
				Node struct{ Action, ActorKind, TargetID string }
			}
		}
	}
	env.Exec(t, owner.Token, `{ auditEntries(first: 100) { edges { node { action actorKind targetID } } } }`, nil).Decode(t, &audit)
	var lockouts int
	for _, e := range audit.AuditEntries.Edges {
		if e.Node.Action == "staff.locked_out" {
			lockouts++
			require.Equal(t, owner.ID, e.Node.TargetID)
			require.Equal(t, "SYSTEM", e.Node.ActorKind)
		}
	}
	require.Equal(t, 1, lockouts, "one lockout, one audit entry")

	time.Sleep(window + 200*time.Millisecond)
	env.LogIn(t, owner.Email, tilltest.Password)
}

func TestLoginRateLimitPerIP(t *testing.T) {
	env := tilltest.New(t, func(c *config.Config) { c.LoginPerIPPerMinute = 5 })
	codes := map[string]int{}
	for i := range 8 {
		// Different emails: only the per-IP limit can refuse them.
		codes[env.LogInResult(t, fmt.Sprintf("nobody%d@nowhere.example", i), "wrong password!").Code()]++
	}
	require.Equal(t, map[string]int{"UNAUTHENTICATED": 5, "RATE_LIMITED": 3}, codes)
}
