package server_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/notify/push"
	"github.com/tillpos/till/notify/push/fcmtest"
	"github.com/tillpos/till/outbox"
	"github.com/tillpos/till/server"
)

// BenchmarkPushLatency records b.N sales at 50 a second through the API,
// with the outbox worker running as in `till serve`, and measures how long
// after each recordSale call began its push reached the (local) FCM
// endpoint: an upper bound on commit-to-push latency.
//
//	go test ./server/ -run '^$' -bench PushLatency -benchtime 500x
func BenchmarkPushLatency(b *testing.B) {
	const perSecond = 50
	fcm := fcmtest.NewServer(b)
	sender, err := push.NewFCM(b.Context(), fcm.CredentialsFile(), fcm.ClientOptions()...)
	require.NoError(b, err)
	e := newSaleEnv(b, server.WithPushSender(sender), server.WithOutboxConfig(outbox.DefaultConfig()))
	e.Exec(b, e.owner.Token, registerPush, map[string]any{"i": map[string]any{"token": "owner-phone", "platform": "ANDROID"}}).Decode(b, &struct{}{})

	var mu sync.Mutex
	arrived := map[string]time.Time{}
	fcm.OnMessage(func(r fcmtest.Request) {
		message, _ := r.Body["message"].(map[string]any)
		data, _ := message["data"].(map[string]any)
		if id, ok := data["subjectId"].(string); ok {
			mu.Lock()
			arrived[id] = r.At
			mu.Unlock()
		}
	})
	ctx, stop := context.WithCancel(context.Background())
	worker := make(chan struct{})
	go func() {
		defer close(worker)
		e.Server.Outbox.Run(ctx)
	}()
	defer func() { stop(); <-worker }()

	started := map[string]time.Time{}
	var startedMu sync.Mutex
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / perSecond)
	defer tick.Stop()
	b.ResetTimer()
	for range b.N {
		<-tick.C
		wg.Go(func() {
			at := time.Now()
			s := e.record(b, e.cashier.Token, saleCash(e.owner.StoreID, 1000))
			startedMu.Lock()
			started[s.ID] = at
			startedMu.Unlock()
		})
	}
	wg.Wait()
	require.Eventually(b, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(arrived) == b.N
	}, 30*time.Second, 10*time.Millisecond, "every sale's push arrives")
	b.StopTimer()

	latencies := make([]time.Duration, 0, b.N)
	for id, at := range started {
		latencies = append(latencies, arrived[id].Sub(at))
	}
	slices.Sort(latencies)
	quantile := func(q float64) float64 {
		return float64(latencies[int(q*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(quantile(0.5), "p50-ms")
	b.ReportMetric(quantile(0.99), "p99-ms")
	b.ReportMetric(quantile(1), "max-ms")
	b.ReportMetric(0, "ns/op")
}
