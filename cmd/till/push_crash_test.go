package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/config"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/notify/push/fcmtest"
)

// Killing the server (SIGKILL) while its pushes are on their way to FCM
// loses none: after a restart on the same database, the push of every
// acknowledged sale reaches FCM from the new process, once its lease on
// the old one's claims has run out.
func TestCrashLosesNoPush(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real till process")
	}
	t.Parallel()
	const sales = 5
	bin := buildTill(t)
	fcm := fcmtest.NewServer(t)
	var (
		mu      sync.Mutex
		killed  bool
		held    = make(chan struct{}, 1)
		release = make(chan struct{})
	)
	// Until the kill, FCM holds every request: the pushes are in flight.
	fcm.OnMessage(func(fcmtest.Request) {
		mu.Lock()
		hold := !killed
		mu.Unlock()
		if hold {
			select {
			case held <- struct{}{}:
			default: // a retry of one already held
			}
			<-release
		}
	})
	vars := append(crashEnv(t),
		"FIREBASE_CREDENTIALS="+fcm.CredentialsFile(), "TILL_FCM_ENDPOINT="+fcm.URL+"/v1", "TILL_OUTBOX_LEASE=2s")

	first := startTill(t, bin, vars)
	owner := first.env.SignUp(t, "Push Crash Tea")
	first.env.Exec(t, owner.Token, `mutation($i: RegisterPushTokenInput!) { registerPushToken(input: $i) { id } }`,
		map[string]any{"i": map[string]any{"token": "owner-phone", "platform": "ANDROID"}}).Decode(t, &struct{}{})
	client := &http.Client{Timeout: 20 * time.Second}
	ids := map[string]bool{}
	for i := range sales {
		out, err := recordCrashSale(t.Context(), client, first.url, owner.Token, newCrashSale(0, i, owner.StoreID))
		require.NoError(t, err)
		ids[out.Sale.ID] = true
	}
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("no push reached FCM from the first process")
	}
	first.kill(t)
	mu.Lock()
	killed = true
	killedAt := time.Now()
	mu.Unlock()
	close(release)

	startTill(t, bin, vars)
	require.Eventually(t, func() bool {
		for _, r := range fcm.RequestsFor("owner-phone") {
			message, _ := r.Body["message"].(map[string]any)
			data, _ := message["data"].(map[string]any)
			if id, _ := data["subjectId"].(string); r.At.After(killedAt) {
				delete(ids, id)
			}
		}
		return len(ids) == 0
	}, 60*time.Second, 100*time.Millisecond, "every sale's push is sent by the restarted server")
}

// `till worker` delivers what `till serve` replicas wrote, serving nothing.
func TestWorkerDeliversWithoutServing(t *testing.T) {
	fcm := fcmtest.NewServer(t)
	cfg := tilltest.Config(t)
	api := tilltest.New(t, func(c *config.Config) { *c = cfg })
	owner := api.SignUp(t, "Worker Tea")
	api.Exec(t, owner.Token, `mutation($i: RegisterPushTokenInput!) { registerPushToken(input: $i) { id } }`,
		map[string]any{"i": map[string]any{"token": "owner-phone", "platform": "IOS"}}).Decode(t, &struct{}{})
	sale, err := recordCrashSale(t.Context(), http.DefaultClient, api.URL, owner.Token, newCrashSale(0, 0, owner.StoreID))
	require.NoError(t, err)

	vars := map[string]string{
		"DATABASE_URL": cfg.DatabaseURL, "TILL_MIGRATE_ON_START": "false", "TILL_KEYS_FILE": cfg.KeysFile,
		"REDIS_URL": cfg.RedisURL, "TILL_REDIS_PREFIX": cfg.RedisPrefix, "TILL_LOG_LEVEL": "warn",
		"FIREBASE_CREDENTIALS": fcm.CredentialsFile(), "TILL_FCM_ENDPOINT": fcm.URL + "/v1",
		// The first start's catch-up backup would compete for the CPU with
		// the delivery this test waits for; backups have tests of their own.
		"TILL_BACKUP_SCHEDULE": "off",
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan result, 1)
	go func() {
		var stdout, stderr bytes.Buffer
		err := run(ctx, []string{"worker"}, strings.NewReader(""), &stdout, &stderr, func(k string) string { return vars[k] })
		done <- result{err: err, stdout: stdout.String(), stderr: stderr.String()}
	}()
	require.Eventually(t, func() bool { return len(fcm.RequestsFor("owner-phone")) == 1 }, 20*time.Second, 20*time.Millisecond)
	message, _ := fcm.RequestsFor("owner-phone")[0].Body["message"].(map[string]any)
	require.Equal(t, sale.Sale.ID, message["data"].(map[string]any)["saleId"])
	stop()
	r := <-done
	require.NoError(t, r.err, r.stderr)
}
