package server_test

import (
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/internal/tilltest"
)

// Device writes a terminal retries, through the API: pairing and credential
// rotation replay with their idempotency key, and requests sent at once
// make one write.

const (
	devPairOnce   = `mutation($i: PairDeviceInput!) { pairDevice(input: $i) { credential replayed device { id status } } }`
	devRotateOnce = `mutation($i: DeviceCredentialInput!) { rotateDeviceCredential(input: $i) { credential replayed device { id } } }`
)

type devIssued struct {
	Credential string
	Replayed   bool
	Device     struct{ ID, Status string }
}

// issued decodes the credential a pairDevice or rotateDeviceCredential
// answer carries.
func issued(t *testing.T, res *tilltest.Result) devIssued {
	t.Helper()
	var out map[string]devIssued
	res.Decode(t, &out)
	require.Len(t, out, 1)
	for _, v := range out {
		return v
	}
	panic("unreachable")
}

// devConcurrently runs n requests at once and returns their results.
func devConcurrently(n int, do func(i int) *tilltest.Result) []*tilltest.Result {
	results := make([]*tilltest.Result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = do(i) })
	}
	wg.Wait()
	return results
}

// audited counts the audit entries of action about target, as by sees them.
func (e *devEnv) audited(t *testing.T, by *tilltest.Account, action, target string) int {
	t.Helper()
	var out struct{ AuditEntries struct{ TotalCount int } }
	e.Exec(t, by.Token, `query($a: String!, $id: String!) { auditEntries(where: {action: $a, targetID: $id}) { totalCount } }`,
		map[string]any{"a": action, "id": target}).Decode(t, &out)
	return out.AuditEntries.TotalCount
}

func TestDevicePairingReplaysARetry(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 100)
	in := devPairInput(e.code(t, e.owner, e.owner.StoreID), "SN-RETRY")
	first := issued(t, e.Exec(t, "", devPairOnce, map[string]any{"i": in}))
	require.False(t, first.Replayed)

	// The answer was lost on the way: the terminal sends the request again.
	again := issued(t, e.Exec(t, "", devPairOnce, map[string]any{"i": in}))
	require.True(t, again.Replayed)
	require.Equal(t, first.Device.ID, again.Device.ID)
	require.Equal(t, first.Credential, again.Credential, "the credential the first request was given")
	e.beat(t, again.Credential, nil).Decode(t, &struct{}{})
	require.Equal(t, 1, e.audited(t, e.owner, "device.paired", first.Device.ID), "paired once")

	otherSerial := maps.Clone(in)
	otherSerial["serialNumber"] = "SN-OTHER"
	custRefused(t, e.Exec(t, "", devPairOnce, map[string]any{"i": otherSerial}), "IDEMPOTENCY_CONFLICT", "idempotencyKey")
	otherCode := maps.Clone(in)
	otherCode["code"] = e.code(t, e.owner, e.owner.StoreID)
	custRefused(t, e.Exec(t, "", devPairOnce, map[string]any{"i": otherCode}), "IDEMPOTENCY_CONFLICT", "idempotencyKey")
	noKey := maps.Clone(otherCode)
	noKey["idempotencyKey"] = " "
	custRefused(t, e.Exec(t, "", devPairOnce, map[string]any{"i": noKey}), "BAD_USER_INPUT", "idempotencyKey")

	// A retry gets the credential only while it is the device's.
	e.Exec(t, "", devRotateOnce, map[string]any{"i": map[string]any{"credential": first.Credential, "idempotencyKey": devKey()}}).Decode(t, &struct{}{})
	custRefused(t, e.Exec(t, "", devPairOnce, map[string]any{"i": in}), "BAD_USER_INPUT", "code")

	t.Run("not after the replay window", func(t *testing.T) {
		in := devPairInput(e.code(t, e.owner, e.owner.StoreID), "SN-LATE")
		issued(t, e.Exec(t, "", devPairOnce, map[string]any{"i": in}))
		e.clock.at = e.clock.at.Add(25 * time.Hour)
		custRefused(t, e.Exec(t, "", devPairOnce, map[string]any{"i": in}), "BAD_USER_INPUT", "code")
	})
}

func TestDevicePairingAtOnce(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 100)

	t.Run("one request sent several times", func(t *testing.T) {
		in := devPairInput(e.code(t, e.owner, e.owner.StoreID), "SN-AT-ONCE")
		results := devConcurrently(4, func(int) *tilltest.Result { return e.Exec(t, "", devPairOnce, map[string]any{"i": in}) })
		firsts := 0
		creds := map[string]bool{}
		for _, res := range results {
			got := issued(t, res)
			creds[got.Credential] = true
			if !got.Replayed {
				firsts++
			}
		}
		require.Equal(t, 1, firsts, "one request paired the device, the others replayed it")
		require.Len(t, creds, 1, "all were given the same credential")
		for cred := range creds {
			e.beat(t, cred, nil).Decode(t, &struct{}{})
		}
	})

	t.Run("two terminals with one code", func(t *testing.T) {
		code := e.code(t, e.owner, e.owner.StoreID)
		results := devConcurrently(2, func(i int) *tilltest.Result {
			return e.Exec(t, "", devPairOnce, map[string]any{"i": devPairInput(code, fmt.Sprintf("SN-ONE-CODE-%d", i))})
		})
		var won, lost []*tilltest.Result
		for _, res := range results {
			if len(res.Errors) == 0 {
				won = append(won, res)
			} else {
				lost = append(lost, res)
			}
		}
		require.Len(t, won, 1, "a code pairs one device")
		require.Len(t, lost, 1)
		custRefused(t, lost[0], "BAD_USER_INPUT", "code")
	})

	t.Run("one new serial number at two merchants", func(t *testing.T) {
		other := e.SignUp(t, "Rival Tea")
		const serial = "SN-CONTESTED"
		if e.DB.Dialect != dialect.Postgres {
			// SQLite runs pairings one at a time: the second finds the first's
			// device.
			e.pair(t, e.code(t, other, other.StoreID), serial)
			custRefused(t, e.pairResult(t, e.code(t, e.owner, e.owner.StoreID), serial), "CONFLICT", "serialNumber")
			return
		}
		// The rival's pairing of the serial is still uncommitted when ours
		// looks for it, finds nothing, and inserts: ours then waits on the
		// serial's unique index and fails once the rival's commits.
		ctx := t.Context()
		rival, err := e.DB.SQL.BeginTx(ctx, nil)
		require.NoError(t, err)
		defer rival.Rollback()
		var rivalPID int
		require.NoError(t, rival.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&rivalPID))
		now := time.Now().UTC()
		_, err = rival.ExecContext(ctx, `INSERT INTO devices (id, created_at, updated_at, serial_number, model, kind, status, health, session_epoch, merchant_id, store_id)
			VALUES ($1, $2, $2, $3, 'P2 Pro', 'TERMINAL', 'ACTIVE', 'OFFLINE', 0, $4, $5)`,
			"dev_01JRIVALDEVICE0000000000000", now, serial, other.MerchantID, other.StoreID)
		require.NoError(t, err)
		code := e.code(t, e.owner, e.owner.StoreID)
		answer := make(chan *tilltest.Result, 1)
		go func() { answer <- e.pairResult(t, code, serial) }()
		require.Eventually(t, func() bool {
			var waiting int
			err := e.DB.SQL.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, rivalPID).Scan(&waiting)
			return err == nil && waiting > 0
		}, 10*time.Second, 5*time.Millisecond, "our pairing waits on the rival's")
		require.NoError(t, rival.Commit())
		custRefused(t, <-answer, "CONFLICT", "serialNumber")
	})
}

func TestDeviceRotationReplaysARetry(t *testing.T) {
	t.Parallel()
	e := newDevEnv(t, 100)
	p := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-ROTATE")
	rotate := func(cred, key string) *tilltest.Result {
		return e.Exec(t, "", devRotateOnce, map[string]any{"i": map[string]any{"credential": cred, "idempotencyKey": key}})
	}
	key := devKey()
	first := issued(t, rotate(p.Credential, key))
	require.False(t, first.Replayed)

	// The answer was lost: the terminal still holds the old credential,
	// which no longer works, and retries with it.
	custRefused(t, e.beat(t, p.Credential, nil), "UNAUTHENTICATED", "")
	again := issued(t, rotate(p.Credential, key))
	require.True(t, again.Replayed)
	require.Equal(t, first.Credential, again.Credential, "the terminal is not locked out")
	e.beat(t, again.Credential, nil).Decode(t, &struct{}{})
	require.Equal(t, 1, e.audited(t, e.owner, "device.credential_rotated", p.Device.ID))

	custRefused(t, rotate(first.Credential, key), "IDEMPOTENCY_CONFLICT", "idempotencyKey")
	custRefused(t, rotate(p.Credential, devKey()), "UNAUTHENTICATED", "")

	t.Run("sent several times at once", func(t *testing.T) {
		key := devKey()
		results := devConcurrently(4, func(int) *tilltest.Result { return rotate(first.Credential, key) })
		creds := map[string]bool{}
		for _, res := range results {
			creds[issued(t, res).Credential] = true
		}
		require.Len(t, creds, 1, "one rotation, replayed to the others")
		require.Equal(t, 2, e.audited(t, e.owner, "device.credential_rotated", p.Device.ID))
		for cred := range creds {
			e.beat(t, cred, nil).Decode(t, &struct{}{})
		}
	})

	t.Run("not once the device is disabled", func(t *testing.T) {
		e.act(t, e.owner, "disableDevice", p.Device.ID).Decode(t, &struct{}{})
		custRefused(t, rotate(p.Credential, key), "UNAUTHENTICATED", "")
	})
}
