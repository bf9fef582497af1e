package server_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/devices"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/hook"
	"github.com/tillpos/till/ent/outboxevent"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/ratelimit"
	"github.com/tillpos/till/server"
)

// Devices through the API: pairing a terminal with a code, its credential,
// cashiers logging in on it with a PIN, and taking it out of service.

const (
	devCode   = `mutation($i: CreatePairingCodeInput!) { createPairingCode(input: $i) { code expiresAt store { id } } }`
	devPair   = `mutation($i: PairDeviceInput!) { pairDevice(input: $i) { credential storeName device { id serialNumber model kind status appVersion storeID merchantID } } }`
	devRotate = `mutation($i: DeviceCredentialInput!) { rotateDeviceCredential(input: $i) { credential device { id } } }`
	devPIN    = `mutation($i: LogInWithPinInput!) { logInWithPin(input: $i) { accessToken refreshToken viewer { role staff { id } } } }`
	devAct    = `mutation($i: DeviceActionInput!) { %s(input: $i) { device { id status } } }`
	devMove   = `mutation($i: MoveDeviceInput!) { moveDevice(input: $i) { device { id status storeID locationLabel } } }`
	devList   = `query($w: DeviceWhereInput) { devices(where: $w) { totalCount edges { node { id serialNumber model status merchantID } } } }`
	devPinSet = `mutation($i: SetStaffPinInput!) { setStaffPin(input: $i) { staff { id } } }`
)

type devDevice struct {
	ID, SerialNumber, Model, Kind, Status, AppVersion, StoreID, MerchantID string
}

type devPaired struct {
	Credential string
	StoreName  string
	Device     devDevice
}

// devEnv is a merchant with a manager and a cashier (PIN 2580) at its
// store, on a server whose clock the test moves.
type devEnv struct {
	*tilltest.Env
	owner, manager, cashier *tilltest.Account
	clock                   *devClock
}

type devClock struct{ at time.Time }

func (c *devClock) now() time.Time { return c.at }

func newDevEnv(t *testing.T, pairPerMinute int) *devEnv {
	t.Helper()
	clock := &devClock{at: time.Now()}
	cfg := devices.DefaultConfig()
	cfg.PairPerIP = ratelimit.PerMinute(pairPerMinute)
	env := tilltest.New(t, nil, server.WithDeviceOptions(devices.WithClock(clock.now), devices.WithConfig(cfg)))
	e := &devEnv{Env: env, owner: env.SignUp(t, "Lotus Tea"), clock: clock}
	e.manager = env.AddStaff(t, e.owner, "MANAGER")
	e.cashier = env.AddStaff(t, e.owner, "CASHIER")
	env.Exec(t, e.cashier.Token, devPinSet, map[string]any{"i": map[string]any{"staffId": e.cashier.ID, "pin": "2580"}}).Decode(t, &struct{}{})
	return e
}

func (e *devEnv) code(t *testing.T, by *tilltest.Account, store string) string {
	t.Helper()
	var out struct{ CreatePairingCode struct{ Code string } }
	e.Exec(t, by.Token, devCode, map[string]any{"i": map[string]any{"storeId": store}}).Decode(t, &out)
	return out.CreatePairingCode.Code
}

func (e *devEnv) pairResult(t *testing.T, code, serial string) *tilltest.Result {
	t.Helper()
	return e.Exec(t, "", devPair, map[string]any{"i": devPairInput(code, serial)})
}

// devPairInput is a terminal's pairing request, with a fresh idempotency
// key.
func devPairInput(code, serial string) map[string]any {
	return map[string]any{
		"idempotencyKey": devKey(), "code": code, "serialNumber": serial, "model": "P2 Pro", "kind": "TERMINAL", "appVersion": "1.4.0",
	}
}

// devKey is a fresh idempotency key.
func devKey() string { return "dev-" + rand.Text() }

func (e *devEnv) pair(t *testing.T, code, serial string) devPaired {
	t.Helper()
	var out struct{ PairDevice devPaired }
	e.pairResult(t, code, serial).Decode(t, &out)
	return out.PairDevice
}

func (e *devEnv) pinLogIn(t *testing.T, credential, staffID, pin string) *tilltest.Result {
	t.Helper()
	return e.Exec(t, "", devPIN, map[string]any{"i": map[string]any{"deviceCredential": credential, "staffId": staffID, "pin": pin}})
}

func (e *devEnv) act(t *testing.T, by *tilltest.Account, action, deviceID string) *tilltest.Result {
	t.Helper()
	return e.Exec(t, by.Token, fmt.Sprintf(devAct, action), map[string]any{"i": map[string]any{"deviceId": deviceID, "reason": "lost"}})
}

func TestDevicePairing(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 100)

	custRefused(t, e.Exec(t, e.cashier.Token, devCode, map[string]any{"i": map[string]any{"storeId": e.owner.StoreID}}), "FORBIDDEN", "")
	code := e.code(t, e.manager, e.owner.StoreID)
	require.Len(t, code, 8)
	require.Regexp(t, `^[A-HJKMNP-Z2-9]{8}$`, code, "no 0, O, 1, I or L")

	// Typed in lower case with a dash, as people do.
	typed := code[:4] + "-" + code[4:]
	p := e.pair(t, strings.ToLower(typed), "SN-0001")
	require.Equal(t, "ACTIVE", p.Device.Status)
	require.Equal(t, "SN-0001", p.Device.SerialNumber)
	require.Equal(t, e.owner.StoreID, p.Device.StoreID)
	require.Equal(t, e.owner.MerchantID, p.Device.MerchantID)
	require.Equal(t, "1.4.0", p.Device.AppVersion)
	require.NotEmpty(t, p.StoreName)
	require.Contains(t, p.Credential, p.Device.ID+".")

	custRefused(t, e.pairResult(t, code, "SN-0002"), "BAD_USER_INPUT", "code") // single use
	custRefused(t, e.pairResult(t, "ABCDEFGH", "SN-0002"), "BAD_USER_INPUT", "code")

	expiring := e.code(t, e.owner, e.owner.StoreID)
	e.clock.at = e.clock.at.Add(11 * time.Minute)
	custRefused(t, e.pairResult(t, expiring, "SN-0002"), "BAD_USER_INPUT", "code")

	t.Run("a serial in service at another merchant", func(t *testing.T) {
		other := e.SignUp(t, "Rival Tea")
		custRefused(t, e.pairResult(t, e.code(t, other, other.StoreID), "SN-0001"), "CONFLICT", "serialNumber")
		e.act(t, e.owner, "retireDevice", p.Device.ID).Decode(t, &struct{}{})
		moved := e.pair(t, e.code(t, other, other.StoreID), "SN-0001")
		require.Equal(t, other.MerchantID, moved.Device.MerchantID, "a retired device may start again elsewhere")
	})
}

func TestDevicePairingGuessesAreLimited(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 3)
	for range 3 {
		custRefused(t, e.pairResult(t, "ZZZZZZZZ", "SN-X"), "BAD_USER_INPUT", "code")
	}
	res := e.pairResult(t, e.code(t, e.owner, e.owner.StoreID), "SN-X")
	custRefused(t, res, "RATE_LIMITED", "")
	require.NotNil(t, res.Errors[0].Extensions["retryAfterSeconds"])
}

func TestDevicePINLogInAndDisable(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 100)
	p := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-PIN")

	custRefused(t, e.pinLogIn(t, p.Credential, e.cashier.ID, "1357"), "UNAUTHENTICATED", "")
	custRefused(t, e.pinLogIn(t, p.Credential+"x", e.cashier.ID, "2580"), "UNAUTHENTICATED", "")
	var out struct {
		LogInWithPin struct {
			AccessToken, RefreshToken string
			Viewer                    struct {
				Role  string
				Staff struct{ ID string }
			}
		}
	}
	e.pinLogIn(t, p.Credential, e.cashier.ID, "2580").Decode(t, &out)
	session := out.LogInWithPin
	require.Equal(t, "CASHIER", session.Viewer.Role)
	require.Equal(t, e.cashier.ID, session.Viewer.Staff.ID)

	// The terminal's sales carry it, and it sells only for its store.
	s, _ := saleRecordOK(t, e.Env, session.AccessToken, saleCash(e.owner.StoreID, 1200))
	require.NotNil(t, s.DeviceID)
	require.Equal(t, p.Device.ID, *s.DeviceID)
	other := saleWith(saleCash(e.owner.StoreID, 1200), map[string]any{"deviceId": "dev_01JD7X0Q2N3V4W5X6Y7Z8A9B0C"})
	custRefused(t, e.Exec(t, session.AccessToken, saleRecord, map[string]any{"i": other}), "BAD_USER_INPUT", "deviceId")

	// Disabling ends its sessions and its credential at once.
	custRefused(t, e.act(t, e.cashier, "disableDevice", p.Device.ID), "FORBIDDEN", "")
	e.act(t, e.manager, "disableDevice", p.Device.ID).Decode(t, &struct{}{})
	custRefused(t, e.Exec(t, session.AccessToken, `{ viewer { role } }`, nil), "UNAUTHENTICATED", "")
	custRefused(t, e.Exec(t, "", `mutation($i: RefreshSessionInput!) { refreshSession(input: $i) { accessToken } }`,
		map[string]any{"i": map[string]any{"refreshToken": session.RefreshToken}}), "UNAUTHENTICATED", "")
	custRefused(t, e.pinLogIn(t, p.Credential, e.cashier.ID, "2580"), "UNAUTHENTICATED", "")
	custRefused(t, e.act(t, e.manager, "disableDevice", p.Device.ID), "CONFLICT", "")

	// Enabled, it waits for a new code; paired again, it works again, and
	// the old session stays ended.
	var enabled struct{ EnableDevice struct{ Device devDevice } }
	e.act(t, e.owner, "enableDevice", p.Device.ID).Decode(t, &enabled)
	require.Equal(t, "PENDING", enabled.EnableDevice.Device.Status)
	again := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-PIN")
	require.Equal(t, p.Device.ID, again.Device.ID, "the same device, paired again")
	require.NotEqual(t, p.Credential, again.Credential)
	e.pinLogIn(t, again.Credential, e.cashier.ID, "2580").Decode(t, &struct{}{})
	custRefused(t, e.Exec(t, session.AccessToken, `{ viewer { role } }`, nil), "UNAUTHENTICATED", "")

	t.Run("rotating the credential", func(t *testing.T) {
		var rotated struct{ RotateDeviceCredential struct{ Credential string } }
		e.Exec(t, "", devRotate, map[string]any{"i": map[string]any{"credential": again.Credential, "idempotencyKey": devKey()}}).Decode(t, &rotated)
		fresh := rotated.RotateDeviceCredential.Credential
		custRefused(t, e.pinLogIn(t, again.Credential, e.cashier.ID, "2580"), "UNAUTHENTICATED", "")
		e.pinLogIn(t, fresh, e.cashier.ID, "2580").Decode(t, &struct{}{})
	})

	t.Run("moving it to another store logs its cashiers out", func(t *testing.T) {
		p := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-MOVE")
		var login struct{ LogInWithPin struct{ AccessToken string } }
		e.pinLogIn(t, p.Credential, e.cashier.ID, "2580").Decode(t, &login)
		var st struct {
			CreateStore struct{ Store struct{ ID string } }
		}
		e.Exec(t, e.owner.Token, `mutation($i: CreateStoreInput!) { createStore(input: $i) { store { id } } }`,
			map[string]any{"i": map[string]any{"name": "Lotus Tea Bund", "timeZone": "Asia/Shanghai"}}).Decode(t, &st)
		var moved struct{ MoveDevice struct{ Device devDevice } }
		e.Exec(t, e.owner.Token, devMove, map[string]any{"i": map[string]any{"deviceId": p.Device.ID, "storeId": st.CreateStore.Store.ID}}).Decode(t, &moved)
		require.Equal(t, st.CreateStore.Store.ID, moved.MoveDevice.Device.StoreID)
		custRefused(t, e.Exec(t, login.LogInWithPin.AccessToken, `{ viewer { role } }`, nil), "UNAUTHENTICATED", "")
		custRefused(t, e.pinLogIn(t, p.Credential, e.cashier.ID, "2580"), "UNAUTHENTICATED", "")
	})
}

func TestDeviceFleetAndTenancy(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 100)
	p := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-FLEET-A")
	other := e.SignUp(t, "Rival Tea")
	q := e.pair(t, e.code(t, other, other.StoreID), "SN-FLEET-B")

	var list struct {
		Devices struct {
			TotalCount int
			Edges      []struct{ Node devDevice }
		}
	}
	e.Exec(t, e.owner.Token, devList, nil).Decode(t, &list)
	require.Equal(t, 1, list.Devices.TotalCount, "a merchant sees its own devices")
	require.Equal(t, p.Device.ID, list.Devices.Edges[0].Node.ID)
	custRefused(t, e.act(t, e.owner, "disableDevice", q.Device.ID), "NOT_FOUND", "deviceId")
	var node struct{ Node *struct{ ID string } }
	res := e.Exec(t, e.owner.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": q.Device.ID})
	require.NoError(t, json.Unmarshal(res.Data, &node))
	require.Nil(t, node.Node, "another merchant's device is not there")

	op := e.Operator(t)
	e.Exec(t, op.Token, devList, map[string]any{"w": map[string]any{"model": "P2 Pro", "serialNumberHasPrefix": "SN-FLEET"}}).Decode(t, &list)
	require.Equal(t, 2, list.Devices.TotalCount, "the operator sees the fleet across merchants")
	e.act(t, op, "disableDevice", q.Device.ID).Decode(t, &struct{}{})
}

const (
	devBeat   = `mutation($i: DeviceHeartbeatInput!) { deviceHeartbeat(input: $i) { receivedAt nextHeartbeatInSeconds } }`
	devHealth = `query($id: ID!) { node(id: $id) { ... on Device { health lastSeenAt appVersion state { at battery charging paperLow network freeStorage errors } } } }`
)

type devHealthView struct {
	Health     string
	LastSeenAt *time.Time
	AppVersion string
	State      *struct {
		At          time.Time
		Battery     *int
		Charging    bool
		PaperLow    bool
		Network     *string
		FreeStorage *int
		Errors      []string
	}
}

func (e *devEnv) beat(t *testing.T, credential string, fields map[string]any) *tilltest.Result {
	t.Helper()
	in := map[string]any{"credential": credential}
	for k, v := range fields {
		in[k] = v
	}
	return e.Exec(t, "", devBeat, map[string]any{"i": in})
}

func (e *devEnv) healthOf(t *testing.T, by *tilltest.Account, id string) devHealthView {
	t.Helper()
	var out struct{ Node devHealthView }
	e.Exec(t, by.Token, devHealth, map[string]any{"id": id}).Decode(t, &out)
	return out.Node
}

// snapshot runs the snapshot job as the server would, in the clock's
// next period.
func (e *devEnv) snapshot(t *testing.T) {
	t.Helper()
	e.clock.at = e.clock.at.Add(31 * time.Second)
	require.Contains(t, e.RunDueJobs(t.Context(), e.clock.at), "device-snapshot")
}

func TestDeviceHeartbeatAndHealth(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 100)
	p := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-BEAT")
	h := e.healthOf(t, e.owner, p.Device.ID)
	require.Equal(t, "OFFLINE", h.Health, "no heartbeat yet")
	require.Nil(t, h.State)

	var beat struct {
		DeviceHeartbeat struct{ NextHeartbeatInSeconds int }
	}
	e.beat(t, p.Credential, map[string]any{"battery": 80, "charging": false, "network": "wifi", "freeStorage": 4096}).Decode(t, &beat)
	require.Equal(t, 30, beat.DeviceHeartbeat.NextHeartbeatInSeconds)
	h = e.healthOf(t, e.owner, p.Device.ID)
	require.NotNil(t, h.State, "the live state is there at once")
	require.Equal(t, 80, *h.State.Battery)
	require.Equal(t, "WIFI", *h.State.Network)
	require.Equal(t, "OFFLINE", h.Health, "health follows at the next snapshot")

	e.snapshot(t)
	h = e.healthOf(t, e.owner, p.Device.ID)
	require.Equal(t, "ONLINE", h.Health)
	require.NotNil(t, h.LastSeenAt)

	for _, tt := range []struct {
		name string
		beat map[string]any
		want string
	}{
		{"low battery", map[string]any{"battery": 10, "charging": false}, "NEEDS_ATTENTION"},
		{"low battery, charging", map[string]any{"battery": 10, "charging": true}, "ONLINE"},
		{"paper low", map[string]any{"paperLow": true}, "NEEDS_ATTENTION"},
		{"errors", map[string]any{"errors": []string{"printer jam"}}, "NEEDS_ATTENTION"},
		{"storage low", map[string]any{"freeStorage": 50}, "NEEDS_ATTENTION"},
		{"all well", map[string]any{"battery": 90}, "ONLINE"},
	} {
		e.beat(t, p.Credential, tt.beat).Decode(t, &struct{}{})
		e.snapshot(t)
		require.Equal(t, tt.want, e.healthOf(t, e.owner, p.Device.ID).Health, tt.name)
	}

	var fleet struct{ Devices struct{ TotalCount int } }
	e.beat(t, p.Credential, map[string]any{"paperLow": true}).Decode(t, &struct{}{})
	e.snapshot(t)
	e.Exec(t, e.Operator(t).Token, `{ devices(where: {health: NEEDS_ATTENTION}) { totalCount } }`, nil).Decode(t, &fleet)
	require.Equal(t, 1, fleet.Devices.TotalCount, "the operator filters the fleet by health")

	// Silence past the offline threshold: OFFLINE, and an event for the
	// owner's phone.
	e.clock.at = e.clock.at.Add(6 * time.Minute)
	e.snapshot(t)
	require.Equal(t, "OFFLINE", e.healthOf(t, e.owner, p.Device.ID).Health)
	events, err := e.DB.OutboxEvent.Query().Where(outboxevent.Topic("device.offline"), outboxevent.SubjectID(p.Device.ID)).
		Count(viewer.NewSystemContext(t.Context(), "test"))
	require.NoError(t, err)
	require.Equal(t, 1, events)
	e.snapshot(t)
	events, err = e.DB.OutboxEvent.Query().Where(outboxevent.Topic("device.offline"), outboxevent.SubjectID(p.Device.ID)).
		Count(viewer.NewSystemContext(t.Context(), "test"))
	require.NoError(t, err)
	require.Equal(t, 1, events, "once per going quiet, however often the job runs")

	// Heard from again: back ONLINE, and an event for the back office, as
	// when it was first heard from.
	e.beat(t, p.Credential, map[string]any{"battery": 90}).Decode(t, &struct{}{})
	e.snapshot(t)
	require.Equal(t, "ONLINE", e.healthOf(t, e.owner, p.Device.ID).Health)
	e.snapshot(t)
	events, err = e.DB.OutboxEvent.Query().Where(outboxevent.Topic("device.online"), outboxevent.SubjectID(p.Device.ID)).
		Count(viewer.NewSystemContext(t.Context(), "test"))
	require.NoError(t, err)
	require.Equal(t, 2, events)

	t.Run("versions and refusals", func(t *testing.T) {
		e.beat(t, p.Credential, map[string]any{"appVersion": "1.5.0"}).Decode(t, &struct{}{})
		require.Equal(t, "1.5.0", e.healthOf(t, e.owner, p.Device.ID).AppVersion, "an installed update shows at once")
		custRefused(t, e.beat(t, p.Credential, map[string]any{"battery": 101}), "BAD_USER_INPUT", "battery")
		custRefused(t, e.beat(t, p.Credential+"x", nil), "UNAUTHENTICATED", "")
		e.act(t, e.owner, "disableDevice", p.Device.ID).Decode(t, &struct{}{})
		custRefused(t, e.beat(t, p.Credential, nil), "UNAUTHENTICATED", "")
	})
}

func TestDevicePerformance(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 100)
	p := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-PERF")
	var login struct{ LogInWithPin struct{ AccessToken string } }
	e.pinLogIn(t, p.Credential, e.cashier.ID, "2580").Decode(t, &login)
	kept, _ := saleRecordOK(t, e.Env, login.LogInWithPin.AccessToken, saleCash(e.owner.StoreID, 1800))
	voided, _ := saleRecordOK(t, e.Env, login.LogInWithPin.AccessToken, saleCash(e.owner.StoreID, 700))
	e.Exec(t, e.manager.Token, `mutation($i: VoidSaleInput!) { voidSale(input: $i) { sale { id } } }`,
		map[string]any{"i": map[string]any{"idempotencyKey": saleKey(), "saleId": voided.ID, "reason": "wrong item"}}).Decode(t, &struct{}{})
	saleRecordOK(t, e.Env, e.cashier.Token, saleCash(e.owner.StoreID, 900)) // not on the terminal
	for _, errors := range [][]string{nil, {"printer jam", "paper out"}, nil} {
		e.clock.at = e.clock.at.Add(30 * time.Second)
		e.beat(t, p.Credential, map[string]any{"errors": errors}).Decode(t, &struct{}{})
	}
	e.clock.at = e.clock.at.Add(90 * time.Second) // then three missed

	// Two whole UTC days around now, so that the sales (by the real clock)
	// and the heartbeats (by the test's) both fall inside.
	from := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	var out struct {
		Node struct {
			Performance struct {
				SalesCount, Heartbeats, HeartbeatsWithErrors, Errors int
				SalesAmount                                          int64
				Uptime, ErrorRate                                    float64
			}
		}
	}
	e.Exec(t, e.owner.Token, `query($id: ID!, $from: Time!, $to: Time!) { node(id: $id) { ... on Device {
		performance(from: $from, to: $to) { salesCount salesAmount heartbeats heartbeatsWithErrors errors uptime errorRate } } } }`,
		map[string]any{"id": p.Device.ID, "from": from, "to": from.Add(72 * time.Hour)}).Decode(t, &out)
	perf := out.Node.Performance
	require.Equal(t, 1, perf.SalesCount, "the voided sale and the back-office one do not count")
	require.Equal(t, kept.Total, perf.SalesAmount)
	require.Equal(t, 3, perf.Heartbeats)
	require.Equal(t, 1, perf.HeartbeatsWithErrors)
	require.Equal(t, 2, perf.Errors)
	require.InDelta(t, 1.0/3, perf.ErrorRate, 1e-9)
	require.InDelta(t, 0.5, perf.Uptime, 1e-9, "3 of the 6 heartbeats due since pairing")

	res := e.Exec(t, e.owner.Token, `query($id: ID!, $from: Time!, $to: Time!) { node(id: $id) { ... on Device { performance(from: $from, to: $to) { salesCount } } } }`,
		map[string]any{"id": p.Device.ID, "from": from, "to": from.Add(40 * 24 * time.Hour)})
	custRefused(t, res, "BAD_USER_INPUT", "to")
}

func TestDeviceVersionsAndUnsupportedApps(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 100)
	old1 := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-V1")
	old2 := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-V2")
	current := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-V3")
	e.beat(t, current.Credential, map[string]any{"appVersion": "1.5.0"}).Decode(t, &struct{}{})

	type count struct {
		Model, AppVersion string
		Count             int
	}
	var out struct{ DeviceVersions []count }
	e.Exec(t, e.owner.Token, `{ deviceVersions { model appVersion count } }`, nil).Decode(t, &out)
	require.Equal(t, []count{{"P2 Pro", "1.4.0", 2}, {"P2 Pro", "1.5.0", 1}}, out.DeviceVersions)

	// A release that no longer supports 1.4.0: those devices need attention.
	op := e.Operator(t)
	e.Exec(t, op.Token, `mutation($i: PublishReleaseInput!) { publishRelease(input: $i) { release { id } } }`,
		map[string]any{"i": map[string]any{
			"models": []string{"P2 Pro"}, "channel": "STABLE", "version": "1.6.0", "minSupportedVersion": "1.5.0",
			"downloadUrl": "https://updates.example/p2/1.6.0.apk", "sha256": strings.Repeat("ab", 32), "rolloutPercent": 100,
		}}).Decode(t, &struct{}{})
	for _, d := range []devPaired{old1, old2} {
		e.beat(t, d.Credential, map[string]any{"battery": 90}).Decode(t, &struct{}{})
	}
	e.beat(t, current.Credential, map[string]any{"battery": 90}).Decode(t, &struct{}{})
	e.snapshot(t)
	require.Equal(t, "NEEDS_ATTENTION", e.healthOf(t, e.owner, old1.Device.ID).Health, "1.4.0 is no longer supported")
	require.Equal(t, "NEEDS_ATTENTION", e.healthOf(t, e.owner, old2.Device.ID).Health)
	require.Equal(t, "ONLINE", e.healthOf(t, e.owner, current.Device.ID).Health)

	const check = `query($c: String!, $v: String!) { checkDeviceUpdate(deviceCredential: $c, channel: STABLE, currentVersion: $v) {
		updateAvailable mandatory release { version } } }`
	var update struct {
		CheckDeviceUpdate struct {
			UpdateAvailable, Mandatory bool
			Release                    *struct{ Version string }
		}
	}
	e.Exec(t, "", check, map[string]any{"c": old2.Credential, "v": "1.4.0"}).Decode(t, &update)
	require.True(t, update.CheckDeviceUpdate.UpdateAvailable)
	require.True(t, update.CheckDeviceUpdate.Mandatory, "the terminal learns it must update, without a session")
	require.Equal(t, "1.6.0", update.CheckDeviceUpdate.Release.Version)
	custRefused(t, e.Exec(t, "", check, map[string]any{"c": old2.Credential + "x", "v": "1.4.0"}), "UNAUTHENTICATED", "")

	e.beat(t, old1.Credential, map[string]any{"appVersion": "1.6.0"}).Decode(t, &struct{}{})
	e.snapshot(t)
	require.Equal(t, "ONLINE", e.healthOf(t, e.owner, old1.Device.ID).Health, "updated")

	other := e.SignUp(t, "Rival Tea")
	var theirs struct{ DeviceVersions []count }
	e.Exec(t, other.Token, `{ deviceVersions { model appVersion count } }`, nil).Decode(t, &theirs)
	require.Empty(t, theirs.DeviceVersions, "another merchant counts only its own devices")
	var fleet struct{ DeviceVersions []count }
	e.Exec(t, op.Token, `query { deviceVersions(model: "P2 Pro") { model appVersion count } }`, nil).Decode(t, &fleet)
	require.Equal(t, []count{{"P2 Pro", "1.4.0", 1}, {"P2 Pro", "1.5.0", 1}, {"P2 Pro", "1.6.0", 1}}, fleet.DeviceVersions, "the fleet view")
}

func TestDeviceUptimeCountsFromPairingToNow(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 100)
	day := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	e.clock.at = day.Add(12 * time.Hour)
	p := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-UPTIME")
	for range 10 { // 12:00:30 to 12:05:00, every one on time
		e.clock.at = e.clock.at.Add(30 * time.Second)
		e.beat(t, p.Credential, nil).Decode(t, &struct{}{})
	}
	perf := func(from, to time.Time) (heartbeats int, uptime float64) {
		t.Helper()
		var out struct {
			Node struct {
				Performance struct {
					Heartbeats int
					Uptime     float64
				}
			}
		}
		e.Exec(t, e.owner.Token, `query($id: ID!, $from: Time!, $to: Time!) { node(id: $id) { ... on Device {
			performance(from: $from, to: $to) { heartbeats uptime } } } }`,
			map[string]any{"id": p.Device.ID, "from": from, "to": to}).Decode(t, &out)
		return out.Node.Performance.Heartbeats, out.Node.Performance.Uptime
	}

	beats, uptime := perf(day, day.Add(24*time.Hour))
	require.Equal(t, 10, beats)
	require.InDelta(t, 1, uptime, 1e-9, "paired at noon and never missed one: the day so far, not the whole day")
	e.clock.at = e.clock.at.Add(5 * time.Minute)
	_, uptime = perf(day, day.Add(24*time.Hour))
	require.InDelta(t, 0.5, uptime, 1e-9, "silent for the last 5 of 10 minutes")
	beats, uptime = perf(day.Add(13*time.Hour), day.Add(14*time.Hour))
	require.Zero(t, beats, "heartbeats count by the hours the period touches")
	require.Zero(t, uptime, "nothing was due yet")
}

func TestDeviceHeartbeatTimeIsTheServers(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 100)
	e.clock.at = time.Date(2025, 3, 10, 9, 30, 0, 0, time.UTC)
	p := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-CLOCK")
	var out struct {
		DeviceHeartbeat struct{ ReceivedAt time.Time }
	}
	e.beat(t, p.Credential, nil).Decode(t, &out)
	require.True(t, e.clock.at.Equal(out.DeviceHeartbeat.ReceivedAt), "received at %s", out.DeviceHeartbeat.ReceivedAt)
	require.True(t, e.clock.at.Equal(e.healthOf(t, e.owner, p.Device.ID).State.At), "the live state agrees")
}

func TestDeviceActionsAreAudited(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 100)
	op := e.Operator(t)
	p := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-AUDIT")
	var st struct {
		CreateStore struct{ Store struct{ ID string } }
	}
	e.Exec(t, e.owner.Token, `mutation($i: CreateStoreInput!) { createStore(input: $i) { store { id } } }`,
		map[string]any{"i": map[string]any{"name": "Lotus Tea Annex", "timeZone": "Asia/Shanghai"}}).Decode(t, &st)

	e.act(t, e.manager, "disableDevice", p.Device.ID).Decode(t, &struct{}{})
	e.act(t, e.owner, "enableDevice", p.Device.ID).Decode(t, &struct{}{})
	e.Exec(t, e.owner.Token, devMove, map[string]any{"i": map[string]any{"deviceId": p.Device.ID, "storeId": st.CreateStore.Store.ID}}).Decode(t, &struct{}{})
	e.act(t, op, "retireDevice", p.Device.ID).Decode(t, &struct{}{})

	type entry struct {
		Action, ActorKind, ActorID string
		Details                    map[string]any
	}
	read := func(by *tilltest.Account) []entry {
		t.Helper()
		var out struct {
			AuditEntries struct{ Edges []struct{ Node entry } }
		}
		e.Exec(t, by.Token, `query($id: String!) { auditEntries(where: {targetID: $id, actionHasPrefix: "device."}, orderBy: {field: CREATED_AT}) {
			edges { node { action actorKind actorID details } } } }`, map[string]any{"id": p.Device.ID}).Decode(t, &out)
		entries := make([]entry, len(out.AuditEntries.Edges))
		for i, edge := range out.AuditEntries.Edges {
			entries[i] = edge.Node
		}
		return entries
	}
	got := read(e.owner)
	require.Len(t, got, 5)
	for i, want := range []struct{ action, kind, actor string }{
		{"device.paired", "SYSTEM", ""},
		{"device.disabled", "STAFF", e.manager.ID},
		{"device.enabled", "STAFF", e.owner.ID},
		{"device.moved", "STAFF", e.owner.ID},
		{"device.retired", "OPERATOR", op.ID},
	} {
		require.Equal(t, want.action, got[i].Action)
		require.Equal(t, want.kind, got[i].ActorKind, want.action)
		require.Equal(t, want.actor, got[i].ActorID, want.action)
	}
	require.Equal(t, "lost", got[1].Details["reason"])
	require.Equal(t, st.CreateStore.Store.ID, got[3].Details["store"])
	require.Equal(t, "RETIRED", got[4].Details["status"])
	require.Equal(t, got, read(op), "the operator reads the merchant's log, its own action in it")
	custRefused(t, e.Exec(t, e.cashier.Token, `{ auditEntries { totalCount } }`, nil), "FORBIDDEN", "")
}

func TestDeviceFleetFilters(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 100)
	a1 := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-FILTER-A1")
	a2 := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-FILTER-A2")
	other := e.SignUp(t, "Rival Tea")
	b1 := e.pair(t, e.code(t, other, other.StoreID), "SN-FILTER-B1")
	e.beat(t, a2.Credential, map[string]any{"appVersion": "1.5.0"}).Decode(t, &struct{}{})
	e.beat(t, b1.Credential, map[string]any{"appVersion": "1.5.0"}).Decode(t, &struct{}{})
	op := e.Operator(t)

	ids := func(by *tilltest.Account, where map[string]any) []string {
		t.Helper()
		where["serialNumberHasPrefix"] = "SN-FILTER"
		var out struct {
			Devices struct{ Edges []struct{ Node devDevice } }
		}
		e.Exec(t, by.Token, `query($w: DeviceWhereInput) { devices(where: $w, orderBy: [{field: SERIAL_NUMBER}]) { edges { node { id } } } }`,
			map[string]any{"w": where}).Decode(t, &out)
		var got []string
		for _, edge := range out.Devices.Edges {
			got = append(got, edge.Node.ID)
		}
		return got
	}
	require.Equal(t, []string{a1.Device.ID, a2.Device.ID}, ids(op, map[string]any{"merchantID": e.owner.MerchantID}))
	require.Equal(t, []string{b1.Device.ID}, ids(op, map[string]any{"merchantID": other.MerchantID}))
	require.Equal(t, []string{a2.Device.ID, b1.Device.ID}, ids(op, map[string]any{"appVersion": "1.5.0"}), "across merchants")
	require.Equal(t, []string{b1.Device.ID}, ids(op, map[string]any{"appVersion": "1.5.0", "merchantID": other.MerchantID}))
	require.Equal(t, []string{a2.Device.ID}, ids(e.owner, map[string]any{"appVersion": "1.5.0"}), "a merchant filters only its own")
	require.Empty(t, ids(e.owner, map[string]any{"merchantID": other.MerchantID}))
}

func TestDeviceHealthUnderStagedRollout(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 100)
	var old []devPaired
	for i := range 5 {
		old = append(old, e.pair(t, e.code(t, e.owner, e.owner.StoreID), fmt.Sprintf("SN-STAGED-%d", i)))
	}
	current := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-STAGED-NEW")
	e.beat(t, current.Credential, map[string]any{"appVersion": "1.5.0"}).Decode(t, &struct{}{})
	op := e.Operator(t)
	var rel struct {
		PublishRelease struct{ Release struct{ ID string } }
	}
	e.Exec(t, op.Token, `mutation($i: PublishReleaseInput!) { publishRelease(input: $i) { release { id } } }`,
		map[string]any{"i": map[string]any{
			"models": []string{"P2 Pro"}, "channel": "STABLE", "version": "1.6.0", "minSupportedVersion": "1.5.0",
			"downloadUrl": "https://updates.example/p2/1.6.0.apk", "sha256": strings.Repeat("cd", 32), "rolloutPercent": 0,
		}}).Decode(t, &rel)

	check := func(stage string) {
		t.Helper()
		for _, d := range append(old, current) {
			e.beat(t, d.Credential, map[string]any{"battery": 90}).Decode(t, &struct{}{})
		}
		e.snapshot(t)
		for _, d := range old {
			require.Equal(t, "NEEDS_ATTENTION", e.healthOf(t, e.owner, d.Device.ID).Health, "%s: 1.4.0 is no longer supported, offered the update or not", stage)
		}
		require.Equal(t, "ONLINE", e.healthOf(t, e.owner, current.Device.ID).Health, stage)
	}
	check("paused at 0%")
	e.Exec(t, op.Token, `mutation($i: UpdateReleaseRolloutInput!) { updateReleaseRollout(input: $i) { release { id } } }`,
		map[string]any{"i": map[string]any{"releaseId": rel.PublishRelease.Release.ID, "rolloutPercent": 10}}).Decode(t, &struct{}{})
	check("staged at 10%")
}

func TestDeviceOutOfServiceIsOffline(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 100)
	disabled := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-DOWN-1")
	retired := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-DOWN-2")
	for _, d := range []devPaired{disabled, retired} {
		e.beat(t, d.Credential, nil).Decode(t, &struct{}{})
	}
	e.snapshot(t)
	require.Equal(t, "ONLINE", e.healthOf(t, e.owner, disabled.Device.ID).Health)
	e.act(t, e.owner, "disableDevice", disabled.Device.ID).Decode(t, &struct{}{})
	e.act(t, e.owner, "retireDevice", retired.Device.ID).Decode(t, &struct{}{})
	for _, d := range []devPaired{disabled, retired} {
		require.Equal(t, "OFFLINE", e.healthOf(t, e.owner, d.Device.ID).Health, "out of service at once, not at its last health")
	}
	e.snapshot(t)
	require.Equal(t, "OFFLINE", e.healthOf(t, e.owner, disabled.Device.ID).Health, "and the snapshot leaves it so")
}

func TestDeviceOfflineOnceWhenSnapshotsOverlap(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 100)
	p := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-OVERLAP")
	e.beat(t, p.Credential, nil).Decode(t, &struct{}{})
	e.snapshot(t)
	require.Equal(t, "ONLINE", e.healthOf(t, e.owner, p.Device.ID).Health)

	// A slow run reads the device, and before it writes, the next period's
	// run reads it too and settles it OFFLINE.
	var slow atomic.Bool
	slow.Store(true)
	e.DB.Client.Device.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
		return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
			v, err := next.Query(ctx, q)
			if vw := viewer.FromContext(ctx); vw != nil && vw.Reason == "device-snapshot" && slow.CompareAndSwap(true, false) {
				require.Contains(t, e.RunDueJobs(ctx, e.clock.at.Add(31*time.Second)), "device-snapshot")
			}
			return v, err
		})
	}))
	e.clock.at = e.clock.at.Add(6 * time.Minute)
	e.snapshot(t)
	require.False(t, slow.Load(), "the runs overlapped")
	require.Equal(t, "OFFLINE", e.healthOf(t, e.owner, p.Device.ID).Health)
	events, err := e.DB.OutboxEvent.Query().Where(outboxevent.Topic("device.offline"), outboxevent.SubjectID(p.Device.ID)).
		Count(viewer.NewSystemContext(t.Context(), "test"))
	require.NoError(t, err)
	require.Equal(t, 1, events, "one device.offline however the runs overlap")
}

func TestDeviceFailedChangeLeavesSessionsAlone(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 100)
	p := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-ROLLBACK")
	var before struct{ LogInWithPin struct{ AccessToken string } }
	e.pinLogIn(t, p.Credential, e.cashier.ID, "2580").Decode(t, &before)

	// The disable fails at its last write, and rolls back.
	var failing atomic.Bool
	failing.Store(true)
	e.DB.Client.AuditEntry.Use(func(next ent.Mutator) ent.Mutator {
		return hook.AuditEntryFunc(func(ctx context.Context, m *ent.AuditEntryMutation) (ent.Value, error) {
			if action, _ := m.Action(); action == "device.disabled" && failing.CompareAndSwap(true, false) {
				return nil, errors.New("audit log unavailable")
			}
			return next.Mutate(ctx, m)
		})
	})
	custRefused(t, e.act(t, e.manager, "disableDevice", p.Device.ID), "INTERNAL", "")
	var dev struct{ Node struct{ Status string } }
	e.Exec(t, e.owner.Token, `query($id: ID!) { node(id: $id) { ... on Device { status } } }`, map[string]any{"id": p.Device.ID}).Decode(t, &dev)
	require.Equal(t, "ACTIVE", dev.Node.Status)

	// The device is still in service, and so are its cashiers.
	e.Exec(t, before.LogInWithPin.AccessToken, `{ viewer { role } }`, nil).Decode(t, &struct{}{})
	var after struct{ LogInWithPin struct{ AccessToken string } }
	e.pinLogIn(t, p.Credential, e.cashier.ID, "2580").Decode(t, &after)
	e.Exec(t, after.LogInWithPin.AccessToken, `{ viewer { role } }`, nil).Decode(t, &struct{}{})

	// Redis keeps the device's epoch only for a while, and reads it from the
	// row again.
	keys, err := e.KV.Client().Keys(t.Context(), "*device-epoch:{"+p.Device.ID+"}").Result()
	require.NoError(t, err)
	require.Len(t, keys, 1)
	ttl, err := e.KV.Client().PTTL(t.Context(), keys[0]).Result()
	require.NoError(t, err)
	require.True(t, ttl > 0 && ttl <= 5*time.Minute, "epoch TTL %s", ttl)

	// Disabled for real, it ends them both.
	e.act(t, e.manager, "disableDevice", p.Device.ID).Decode(t, &struct{}{})
	for _, token := range []string{before.LogInWithPin.AccessToken, after.LogInWithPin.AccessToken} {
		custRefused(t, e.Exec(t, token, `{ viewer { role } }`, nil), "UNAUTHENTICATED", "")
	}
}

func TestDeviceStatesLoadInOneRoundTrip(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 100)
	const n = 5
	for i := range n {
		p := e.pair(t, e.code(t, e.owner, e.owner.StoreID), fmt.Sprintf("SN-STATE-%d", i))
		e.beat(t, p.Credential, map[string]any{"battery": 50 + i}).Decode(t, &struct{}{})
	}
	reads := &stateReads{}
	e.KV.Client().AddHook(reads)
	var out struct {
		Devices struct {
			Edges []struct {
				Node struct{ State *struct{ Battery int } }
			}
		}
	}
	e.Exec(t, e.owner.Token, `{ devices { edges { node { state { battery } } } } }`, nil).Decode(t, &out)
	require.Len(t, out.Devices.Edges, n)
	for _, edge := range out.Devices.Edges {
		require.NotNil(t, edge.Node.State)
	}
	require.Equal(t, int32(1), reads.trips.Load(), "every device's state in one Redis round trip")
}

// stateReads counts the Redis round trips that read devices' live state.
type stateReads struct{ trips atomic.Int32 }

func (h *stateReads) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *stateReads) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if readsState(cmd) {
			h.trips.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *stateReads) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if slices.ContainsFunc(cmds, readsState) {
			h.trips.Add(1)
		}
		return next(ctx, cmds)
	}
}

func readsState(cmd redis.Cmder) bool {
	args := cmd.Args()
	return cmd.Name() == "hget" && len(args) > 1 && strings.Contains(fmt.Sprint(args[1]), "device-state:")
}

func TestDevicePairingLeftoversArePurged(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 100)
	e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-PURGE")
	e.code(t, e.owner, e.owner.StoreID) // never used
	sys := viewer.NewSystemContext(t.Context(), "test")
	count := func() (codes, grants int) {
		t.Helper()
		codes, err := e.DB.PairingCode.Query().Count(sys)
		require.NoError(t, err)
		grants, err = e.DB.CredentialGrant.Query().Count(sys)
		require.NoError(t, err)
		return codes, grants
	}
	e.snapshot(t)
	codes, grants := count()
	require.Equal(t, 2, codes, "codes stay until they expire")
	require.Equal(t, 1, grants)

	e.clock.at = e.clock.at.Add(11 * time.Minute)
	fresh := e.code(t, e.owner, e.owner.StoreID)
	e.snapshot(t)
	codes, _ = count()
	require.Equal(t, 1, codes, "expired codes, used or not, are gone")
	e.pair(t, fresh, "SN-PURGE-2")

	e.clock.at = e.clock.at.Add(25 * time.Hour)
	e.snapshot(t)
	codes, grants = count()
	require.Zero(t, codes)
	require.Zero(t, grants, "credentials kept for retries are gone after the replay window")
}
