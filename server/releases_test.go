package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/releases"
)

// Device software releases through the API: operators publish, roll out
// and withdraw; devices (a cashier's session) ask what to install.

const (
	relFields   = `id models channel version minSupportedVersion downloadURL sha256 notes rolloutPercent status publishedBy`
	relPublish  = `mutation($i: PublishReleaseInput!) { publishRelease(input: $i) { release { ` + relFields + ` } } }`
	relRollout  = `mutation($i: UpdateReleaseRolloutInput!) { updateReleaseRollout(input: $i) { release { id rolloutPercent } } }`
	relWithdraw = `mutation($i: WithdrawReleaseInput!) { withdrawRelease(input: $i) { release { id status withdrawnAt } } }`
	relCheck    = `query($m: String!, $c: ReleaseChannel!, $v: String!, $sn: String!) {
		checkForUpdate(model: $m, channel: $c, currentVersion: $v, serialNumber: $sn) { updateAvailable mandatory release { id version channel } } }`
)

var relSHA = strings.Repeat("ab", 32)

type relRelease struct {
	ID                  string
	Models              []string
	Channel             string
	Version             string
	MinSupportedVersion *string
	DownloadURL         string
	Sha256              string
	Notes               *string
	RolloutPercent      int
	Status              string
	PublishedBy         string
}

type relUpdate struct {
	UpdateAvailable bool
	Mandatory       bool
	Release         *struct{ ID, Version, Channel string }
}

// relEnv is saleEnv's merchant and staff (whose cashier stands in for a
// device) and a platform operator.
type relEnv struct {
	*saleEnv
	op *tilltest.Account
}

func newRelEnv(t *testing.T) *relEnv {
	t.Helper()
	se := newSaleEnv(t)
	return &relEnv{saleEnv: se, op: se.Operator(t)}
}

// input is a valid publishRelease input for version, adjusted by kv pairs.
func relInput(channel, version string, percent int, kv ...any) map[string]any {
	in := map[string]any{
		"models": []string{"T2", "P1"}, "channel": channel, "version": version,
		"downloadUrl": "https://dl.till.example/t2/" + version + ".bin", "sha256": relSHA,
		"rolloutPercent": percent,
	}
	for i := 0; i < len(kv); i += 2 {
		in[kv[i].(string)] = kv[i+1]
	}
	return in
}

func (e *relEnv) publish(t *testing.T, in map[string]any) relRelease {
	t.Helper()
	var out struct{ PublishRelease struct{ Release relRelease } }
	e.Exec(t, e.op.Token, relPublish, map[string]any{"i": in}).Decode(t, &out)
	return out.PublishRelease.Release
}

func (e *relEnv) setRollout(t *testing.T, id string, percent int) {
	t.Helper()
	var out struct {
		UpdateReleaseRollout struct{ Release struct{ RolloutPercent int } }
	}
	e.Exec(t, e.op.Token, relRollout, map[string]any{"i": map[string]any{"releaseId": id, "rolloutPercent": percent}}).Decode(t, &out)
	require.Equal(t, percent, out.UpdateReleaseRollout.Release.RolloutPercent)
}

func (e *relEnv) check(t *testing.T, model, channel, current, serial string) relUpdate {
	t.Helper()
	var out struct{ CheckForUpdate relUpdate }
	e.Exec(t, e.cashier.Token, relCheck, map[string]any{"m": model, "c": channel, "v": current, "sn": serial}).Decode(t, &out)
	return out.CheckForUpdate
}

func (u relUpdate) version() string {
	if u.Release == nil {
		return ""
	}
	return u.Release.Version
}

func requireCode(t *testing.T, res *tilltest.Result, code, field string) {
	t.Helper()
	require.NotEmpty(t, res.Errors, "want %s", code)
	require.Equal(t, code, res.Code(), "%+v", res.Errors)
	if field != "" {
		require.Equal(t, field, res.Errors[0].Extensions["field"], "%+v", res.Errors)
	}
}

func TestReleasePublishValidationAndRoles(t *testing.T) {
	t.Parallel()
	e := newRelEnv(t)
	rel := e.publish(t, relInput("STABLE", "v2.4.1", 25,
		"minSupportedVersion", "2.0.0", "notes", "  faster receipts  ", "models", []string{" T2 ", "P1", "T2"},
		"sha256", strings.ToUpper(relSHA)))
	require.Equal(t, "2.4.1", rel.Version, "stored without the v")
	require.Equal(t, []string{"T2", "P1"}, rel.Models, "trimmed and de-duplicated")
	require.Equal(t, "STABLE", rel.Channel)
	require.Equal(t, "2.0.0", *rel.MinSupportedVersion)
	require.Equal(t, relSHA, rel.Sha256, "lower-cased")
	require.Equal(t, "faster receipts", *rel.Notes)
	require.Equal(t, 25, rel.RolloutPercent)
	require.Equal(t, "PUBLISHED", rel.Status)
	require.Equal(t, e.op.ID, rel.PublishedBy)
	require.True(t, strings.HasPrefix(rel.ID, "rel_"))
	require.Equal(t, []string{"release.published by OPERATOR " + e.op.ID}, relAudit(t, e.Env, e.op, rel.ID), "publishing is audited")

	t.Run("invalid input names the field", func(t *testing.T) {
		for _, tc := range []struct {
			name, field string
			kv          []any
		}{
			{"version", "version", []any{"version", "2.5"}},
			{"version with build", "version", []any{"version", "2.5.0+7"}},
			{"version garbage", "version", []any{"version", "latest"}},
			{"min version", "minSupportedVersion", []any{"minSupportedVersion", "2.x"}},
			{"min newer than release", "minSupportedVersion", []any{"minSupportedVersion", "3.0.0"}},
			{"http url", "downloadUrl", []any{"downloadUrl", "http://dl.till.example/a.bin"}},
			{"not a url", "downloadUrl", []any{"downloadUrl", "dl.till.example/a.bin"}},
			{"short hash", "sha256", []any{"sha256", "abc123"}},
			{"non-hex hash", "sha256", []any{"sha256", strings.Repeat("zz", 32)}},
			{"no models", "models", []any{"models", []string{}}},
			{"blank model", "models", []any{"models", []string{"T2", " "}}},
			{"percent over", "rolloutPercent", []any{"rolloutPercent", 101}},
			{"percent under", "rolloutPercent", []any{"rolloutPercent", -1}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				in := relInput("STABLE", "2.5.0", 10, tc.kv...)
				requireCode(t, e.Exec(t, e.op.Token, relPublish, map[string]any{"i": in}), "BAD_USER_INPUT", tc.field)
			})
		}
	})

	t.Run("a version is published once per channel", func(t *testing.T) {
		res := e.Exec(t, e.op.Token, relPublish, map[string]any{"i": relInput("STABLE", "2.4.1", 10)})
		requireCode(t, res, "CONFLICT", "version")
		beta := e.publish(t, relInput("BETA", "2.4.1", 10))
		require.Equal(t, "BETA", beta.Channel, "the same version on another channel is fine")
	})

	t.Run("only operators write", func(t *testing.T) {
		for _, who := range []*tilltest.Account{e.owner, e.cashier} {
			requireCode(t, e.Exec(t, who.Token, relPublish, map[string]any{"i": relInput("STABLE", "9.0.0", 10)}), "FORBIDDEN", "")
			requireCode(t, e.Exec(t, who.Token, relRollout, map[string]any{"i": map[string]any{"releaseId": rel.ID, "rolloutPercent": 100}}), "FORBIDDEN", "")
			requireCode(t, e.Exec(t, who.Token, relWithdraw, map[string]any{"i": map[string]any{"releaseId": rel.ID}}), "FORBIDDEN", "")
		}
		requireCode(t, e.Exec(t, "", relPublish, map[string]any{"i": relInput("STABLE", "9.0.0", 10)}), "UNAUTHENTICATED", "")
		requireCode(t, e.Exec(t, e.op.Token, relRollout, map[string]any{"i": map[string]any{"releaseId": "rel_01JD7X0Q2N3V4W5X6Y7Z8A9B0C", "rolloutPercent": 5}}), "NOT_FOUND", "releaseId")
	})

	t.Run("everyone signed in reads", func(t *testing.T) {
		const list = `query($w: ReleaseWhereInput) { releases(where: $w, orderBy: [{field: VERSION, direction: DESC}]) { totalCount edges { node { version channel } } } }`
		for _, who := range []*tilltest.Account{e.op, e.owner, e.cashier} {
			var out struct {
				Releases struct {
					TotalCount int
					Edges      []struct {
						Node struct{ Version, Channel string }
					}
				}
			}
			e.Exec(t, who.Token, list, map[string]any{"w": map[string]any{"channel": "STABLE"}}).Decode(t, &out)
			require.Equal(t, 1, out.Releases.TotalCount)
			require.Equal(t, "2.4.1", out.Releases.Edges[0].Node.Version)
			var node struct{ Node *struct{ Version string } }
			e.Exec(t, who.Token, `query($id: ID!) { node(id: $id) { ... on Release { version } } }`, map[string]any{"id": rel.ID}).Decode(t, &node)
			require.Equal(t, "2.4.1", node.Node.Version)
		}
		requireCode(t, e.Exec(t, "", list, nil), "UNAUTHENTICATED", "")
		requireCode(t, e.Exec(t, "", relCheck, map[string]any{"m": "T2", "c": "STABLE", "v": "1.0.0", "sn": "SN1"}), "UNAUTHENTICATED", "")
	})
}

func TestReleaseCheckForUpdateChannels(t *testing.T) {
	t.Parallel()
	e := newRelEnv(t)
	e.publish(t, relInput("STABLE", "1.0.0", 100))
	e.publish(t, relInput("STABLE", "1.1.0", 100))
	e.publish(t, relInput("STABLE", "1.10.0", 100, "models", []string{"P1"}))
	e.publish(t, relInput("BETA", "1.2.0-beta.1", 100, "models", []string{"T2"}))
	e.publish(t, relInput("BETA", "1.2.0-beta.10", 100, "models", []string{"T2"}))
	e.publish(t, relInput("BETA", "1.2.0-beta.2", 100, "models", []string{"T2"}))

	u := e.check(t, "T2", "STABLE", "1.0.0", "SN-1")
	require.Equal(t, "1.1.0", u.version(), "STABLE devices get no betas")
	require.True(t, u.UpdateAvailable)
	require.False(t, u.Mandatory)

	require.Equal(t, "1.10.0", e.check(t, "P1", "STABLE", "1.0.0", "SN-1").version(), "1.10 is newer than 1.2: versions sort as versions")
	require.Equal(t, "1.2.0-beta.10", e.check(t, "T2", "BETA", "1.0.0", "SN-1").version(), "beta.10 is newer than beta.2")

	u = e.check(t, "T2", "STABLE", "v1.1.0", "SN-1")
	require.Equal(t, "1.1.0", u.version(), "the device runs the latest")
	require.False(t, u.UpdateAvailable)
	u = e.check(t, "T2", "STABLE", "1.3.0+dev.4", "SN-1")
	require.Equal(t, "1.1.0", u.version())
	require.False(t, u.UpdateAvailable, "a device ahead of the latest is not downgraded")

	u = e.check(t, "X9", "STABLE", "1.0.0", "SN-1")
	require.Nil(t, u.Release, "no release for the model")
	require.False(t, u.UpdateAvailable)

	// A STABLE release newer than the newest beta reaches BETA devices; an
	// older one does not replace the beta.
	e.publish(t, relInput("STABLE", "1.1.1", 100, "models", []string{"T2"}))
	require.Equal(t, "1.2.0-beta.10", e.check(t, "T2", "BETA", "1.0.0", "SN-1").version())
	e.publish(t, relInput("STABLE", "1.2.0", 100, "models", []string{"T2"}))
	u = e.check(t, "T2", "BETA", "1.2.0-beta.10", "SN-1")
	require.Equal(t, "1.2.0", u.version())
	require.Equal(t, "STABLE", u.Release.Channel)
	require.True(t, u.UpdateAvailable)

	for _, tc := range []struct{ m, v, sn, field string }{
		{"T2", "1.0", "SN-1", "currentVersion"},
		{"T2", "abc", "SN-1", "currentVersion"},
		{" ", "1.0.0", "SN-1", "model"},
		{"T2", "1.0.0", " ", "serialNumber"},
	} {
		res := e.Exec(t, e.cashier.Token, relCheck, map[string]any{"m": tc.m, "c": "STABLE", "v": tc.v, "sn": tc.sn})
		requireCode(t, res, "BAD_USER_INPUT", tc.field)
	}
}

// TestReleaseRolloutStages rolls a release out in stages to a fleet of
// devices: each device's answer is the same on every check, raising the
// percentage only adds devices, and who is in is the bucket the package
// documents.
func TestReleaseRolloutStages(t *testing.T) {
	t.Parallel()
	e := newRelEnv(t)
	e.publish(t, relInput("STABLE", "1.0.0", 100))
	next := e.publish(t, relInput("STABLE", "2.0.0", 0))

	const devices = 120
	serial := func(i int) string { return fmt.Sprintf("TILL-T2-%05d", i) }
	onNext := func() map[string]bool {
		got := map[string]bool{}
		for i := range devices {
			u := e.check(t, "T2", "STABLE", "1.0.0", serial(i))
			require.Equal(t, u.version() == "2.0.0", u.UpdateAvailable)
			if u.version() == "2.0.0" {
				got[serial(i)] = true
			} else {
				require.Equal(t, "1.0.0", u.version(), "left out of 2.0.0, a device is offered the release before it")
			}
		}
		return got
	}
	prev := onNext()
	require.Empty(t, prev, "0% reaches nobody")
	for _, percent := range []int{10, 50, 100} {
		e.setRollout(t, next.ID, percent)
		got := onNext()
		for sn := range prev {
			require.True(t, got[sn], "raising to %d%% kept %s", percent, sn)
		}
		for i := range devices {
			want := releases.Bucket(pulid.ID(next.ID), serial(i)) < percent
			require.Equal(t, want, got[serial(i)], "device %s at %d%%", serial(i), percent)
		}
		require.Equal(t, got, onNext(), "the same devices on a repeat check at %d%%", percent)
		prev = got
	}
	require.Len(t, prev, devices, "100% reaches everyone")
	require.Contains(t, relAudit(t, e.Env, e.op, next.ID), "release.rollout_changed by OPERATOR "+e.op.ID)

	// Lowering a rollout (a halt) takes devices out again.
	e.setRollout(t, next.ID, 0)
	require.Empty(t, onNext())
}

func TestReleaseMandatory(t *testing.T) {
	t.Parallel()
	e := newRelEnv(t)
	e.publish(t, relInput("STABLE", "1.0.0", 100))
	e.publish(t, relInput("STABLE", "2.0.0", 100, "minSupportedVersion", "1.5.0"))

	u := e.check(t, "T2", "STABLE", "1.4.9", "SN-1")
	require.Equal(t, "2.0.0", u.version())
	require.True(t, u.Mandatory, "1.4.9 is below the minimum 1.5.0")
	u = e.check(t, "T2", "STABLE", "1.5.0-rc.1", "SN-1")
	require.True(t, u.Mandatory, "a pre-release of the minimum is below it")
	u = e.check(t, "T2", "STABLE", "1.5.0", "SN-1")
	require.True(t, u.UpdateAvailable)
	require.False(t, u.Mandatory)

	// A newer release's minimum counts even while its rollout leaves the
	// device out: the device must move to what it is offered.
	e.publish(t, relInput("STABLE", "3.0.0", 0, "minSupportedVersion", "1.8.0"))
	u = e.check(t, "T2", "STABLE", "1.6.0", "SN-1")
	require.Equal(t, "2.0.0", u.version())
	require.True(t, u.Mandatory)
	u = e.check(t, "T2", "STABLE", "2.0.0", "SN-1")
	require.False(t, u.UpdateAvailable)
	require.False(t, u.Mandatory, "nothing to install is never mandatory")
}

func TestReleaseWithdraw(t *testing.T) {
	t.Parallel()
	e := newRelEnv(t)
	e.publish(t, relInput("STABLE", "1.0.0", 100))
	bad := e.publish(t, relInput("STABLE", "1.1.0", 100))
	require.Equal(t, "1.1.0", e.check(t, "T2", "STABLE", "1.0.0", "SN-1").version())

	var out struct {
		WithdrawRelease struct {
			Release struct{ Status, WithdrawnAt string }
		}
	}
	e.Exec(t, e.op.Token, relWithdraw, map[string]any{"i": map[string]any{"releaseId": bad.ID, "reason": "crashes on print"}}).Decode(t, &out)
	require.Equal(t, "WITHDRAWN", out.WithdrawRelease.Release.Status)
	require.NotEmpty(t, out.WithdrawRelease.Release.WithdrawnAt)
	require.Contains(t, relAudit(t, e.Env, e.op, bad.ID), "release.withdrawn by OPERATOR "+e.op.ID)

	u := e.check(t, "T2", "STABLE", "1.0.0", "SN-1")
	require.Equal(t, "1.0.0", u.version(), "a withdrawn release is offered to no one")
	require.False(t, u.UpdateAvailable)
	u = e.check(t, "T2", "STABLE", "1.1.0", "SN-1")
	require.Equal(t, "1.0.0", u.version())
	require.False(t, u.UpdateAvailable, "devices that installed it are not told to downgrade")

	// Withdrawing again changes nothing; a withdrawn rollout cannot change.
	e.Exec(t, e.op.Token, relWithdraw, map[string]any{"i": map[string]any{"releaseId": bad.ID}}).Decode(t, &out)
	require.Equal(t, "WITHDRAWN", out.WithdrawRelease.Release.Status)
	res := e.Exec(t, e.op.Token, relRollout, map[string]any{"i": map[string]any{"releaseId": bad.ID, "rolloutPercent": 50}})
	requireCode(t, res, "CONFLICT", "")
	// The version stays taken on its channel.
	requireCode(t, e.Exec(t, e.op.Token, relPublish, map[string]any{"i": relInput("STABLE", "1.1.0", 100)}), "CONFLICT", "version")
}

// relAudit lists the platform audit log's entries about a release, as
// "action by KIND id", oldest first, read by the operator by.
func relAudit(t *testing.T, env *tilltest.Env, by *tilltest.Account, releaseID string) []string {
	t.Helper()
	var out struct {
		PlatformAuditEntries struct {
			Edges []struct {
				Node struct{ Action, ActorKind, ActorID string }
			}
		}
	}
	env.Exec(t, by.Token, `query($id: String!) { platformAuditEntries(where: {targetID: $id}, orderBy: {field: CREATED_AT}) {
		edges { node { action actorKind actorID } } } }`, map[string]any{"id": releaseID}).Decode(t, &out)
	var entries []string
	for _, e := range out.PlatformAuditEntries.Edges {
		entries = append(entries, e.Node.Action+" by "+e.Node.ActorKind+" "+e.Node.ActorID)
	}
	return entries
}

// Actions on the platform itself go to the platform's audit log, which
// only operators read.
func TestPlatformAuditLog(t *testing.T) {
	t.Parallel()
	env := tilltest.New(t, nil)
	op := env.Operator(t)
	require.Equal(t, []string{"operator.created by SYSTEM "}, relAudit(t, env, op, op.ID), "`till operator create` is the system's doing")

	owner := env.SignUp(t, "Lotus Tea")
	res := env.Exec(t, owner.Token, `{ platformAuditEntries { totalCount } }`, nil)
	// A privacy denial reads as NOT_FOUND, as everywhere.
	custRefused(t, res, "NOT_FOUND", "")
}
