package server_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/config"
	"github.com/tillpos/till/ent/outboxevent"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/notify/live"
	"github.com/tillpos/till/server"
)

// The live feed through graphql-transport-ws, on two replicas sharing one
// database and one Redis: events are published the way the outbox worker
// does (live.EventFromOutbox on the row the sale wrote, then Publish).

const liveSaleEvents = `subscription($store: ID) { saleEvents(storeId: $store) { id kind at sale { id total storeID } } }`

type liveSaleEvent struct {
	ID   string
	Kind string
	At   time.Time
	Sale struct {
		ID      string
		Total   int64
		StoreID string
	}
}

// liveSub is one subscription on its own WebSocket; a goroutine reads the
// socket (answering pings), since a read given up on closes the socket.
type liveSub struct {
	msgs chan wsMessage
	seen map[string]bool
}

func subscribeLive(t *testing.T, env *tilltest.Env, token, query string, vars map[string]any) *liveSub {
	t.Helper()
	ctx, conn := dialWS(t, env, nil)
	initWS(t, ctx, conn, `{"Authorization":"Bearer `+token+`"}`)
	sub, err := json.Marshal(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}})
	require.NoError(t, err)
	writeWS(t, ctx, conn, string(sub))
	s := &liveSub{msgs: make(chan wsMessage, 100), seen: map[string]bool{}}
	go func() {
		defer close(s.msgs)
		for {
			_, raw, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var msg wsMessage
			if json.Unmarshal(raw, &msg) != nil {
				return
			}
			if msg.Type == "ping" {
				_ = conn.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`))
				continue
			}
			s.msgs <- msg
		}
	}()
	return s
}

// next is the next message that is not a repeat of an event already seen
// (delivery is at least once), or nil after within.
func (s *liveSub) next(t *testing.T, within time.Duration) *wsMessage {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case msg, ok := <-s.msgs:
			require.True(t, ok, "the subscription's socket closed")
			if msg.Type == "next" {
				var res struct {
					Data map[string]*struct{ ID string }
				}
				require.NoError(t, json.Unmarshal(msg.Payload, &res))
				if id := eventID(res.Data); id != "" {
					if s.seen[id] {
						continue
					}
					s.seen[id] = true
				}
			}
			return &msg
		case <-timer.C:
			return nil
		}
	}
}

// eventID is the id of the one event in a subscription result.
func eventID(data map[string]*struct{ ID string }) string {
	for _, e := range data {
		if e != nil {
			return e.ID
		}
	}
	return ""
}

// saleEvent decodes a "next" carrying a saleEvents result.
func saleEventOf(t *testing.T, msg *wsMessage) liveSaleEvent {
	t.Helper()
	require.NotNil(t, msg, "no event")
	require.Equal(t, "next", msg.Type, "%s", msg.Payload)
	var res tilltest.Result
	require.NoError(t, json.Unmarshal(msg.Payload, &res))
	var out struct{ SaleEvents liveSaleEvent }
	res.Decode(t, &out)
	return out.SaleEvents
}

// liveEnv is two replicas on one database and one Redis.
type liveEnv struct {
	a, b *tilltest.Env
	// replica starts another replica on them.
	replica func(opts ...server.Option) *tilltest.Env
}

func newLiveEnv(t *testing.T) *liveEnv {
	cfg := tilltest.Config(t)
	if cfg.RedisURL == "" {
		// One embedded Redis for both replicas.
		cfg.RedisURL = "redis://" + miniredis.RunT(t).Addr()
	}
	a := tilltest.New(t, func(c *config.Config) { *c = cfg })
	replica := func(opts ...server.Option) *tilltest.Env {
		return tilltest.New(t, func(c *config.Config) { *c = cfg; c.MigrateOnStart = false }, opts...)
	}
	return &liveEnv{a: a, b: replica(), replica: replica}
}

// publish raises the live event of the outbox row topic wrote about
// subject, as the outbox worker does, through replica a.
func (e *liveEnv) publish(t *testing.T, topic, subject string) live.Event {
	t.Helper()
	row, err := e.a.DB.OutboxEvent.Query().Where(outboxevent.Topic(topic), outboxevent.SubjectID(subject)).
		Only(viewer.NewSystemContext(t.Context(), "test"))
	require.NoError(t, err)
	ev, ok := live.EventFromOutbox(row)
	require.True(t, ok)
	require.NoError(t, e.a.Live.Publish(t.Context(), ev))
	return ev
}

// publishUntil publishes the event again until s receives something: the
// subscription is live only once the server has subscribed, which the
// protocol does not acknowledge. Repeats carry the same id.
func (e *liveEnv) publishUntil(t *testing.T, s *liveSub, topic, subject string) *wsMessage {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		e.publish(t, topic, subject)
		if msg := s.next(t, 200*time.Millisecond); msg != nil {
			return msg
		}
	}
	t.Fatal("no event within 10s")
	return nil
}

// sale records a cash sale of total at store as acc through replica a.
func (e *liveEnv) sale(t *testing.T, acc *tilltest.Account, store string, total int64) saleSale {
	t.Helper()
	s, _ := saleRecordOK(t, e.a, acc.Token, saleCash(store, total))
	return s
}

func TestLiveFeed(t *testing.T) {
	e := newLiveEnv(t)
	owner := e.a.SignUp(t, "Lotus Tea")
	cashier := e.a.AddStaff(t, owner, "CASHIER")
	var st struct {
		CreateStore struct{ Store struct{ ID string } }
	}
	e.a.Exec(t, owner.Token, `mutation($i: CreateStoreInput!) { createStore(input: $i) { store { id } } }`,
		map[string]any{"i": map[string]any{"name": "Lotus Tea Bund", "timeZone": "Asia/Shanghai"}}).Decode(t, &st)
	second := st.CreateStore.Store.ID
	other := e.a.SignUp(t, "Other Tea")

	// The owner's phone is connected to replica b; the sale is recorded
	// and its event delivered on replica a.
	ownerSub := subscribeLive(t, e.b, owner.Token, liveSaleEvents, nil)
	otherSub := subscribeLive(t, e.b, other.Token, liveSaleEvents, nil)

	t.Run("a sale on one replica reaches a subscriber on the other", func(t *testing.T) {
		s := e.sale(t, owner, owner.StoreID, 1250)
		got := saleEventOf(t, e.publishUntil(t, ownerSub, "sale.completed", s.ID))
		require.Equal(t, "COMPLETED", got.Kind)
		require.Equal(t, s.ID, got.Sale.ID)
		require.EqualValues(t, 1250, got.Sale.Total)
		require.Equal(t, owner.StoreID, got.Sale.StoreID)
		row, err := e.a.DB.OutboxEvent.Query().Where(outboxevent.SubjectID(s.ID)).Only(viewer.NewSystemContext(t.Context(), "test"))
		require.NoError(t, err)
		require.Equal(t, strconv.Itoa(row.ID), got.ID)
		require.WithinDuration(t, row.CreatedAt, got.At, time.Millisecond)
	})

	t.Run("another merchant's subscriber sees none of it", func(t *testing.T) {
		first := e.sale(t, other, other.StoreID, 300)
		require.Equal(t, first.ID, saleEventOf(t, e.publishUntil(t, otherSub, "sale.completed", first.ID)).Sale.ID)
		mine := e.sale(t, owner, owner.StoreID, 400)
		require.Equal(t, mine.ID, saleEventOf(t, e.publishUntil(t, ownerSub, "sale.completed", mine.ID)).Sale.ID)
		// The next thing the other merchant sees is their own next sale.
		next := e.sale(t, other, other.StoreID, 500)
		require.Equal(t, next.ID, saleEventOf(t, e.publishUntil(t, otherSub, "sale.completed", next.ID)).Sale.ID)
	})

	t.Run("storeId and a cashier's stores narrow the feed", func(t *testing.T) {
		secondSub := subscribeLive(t, e.b, owner.Token, liveSaleEvents, map[string]any{"store": second})
		cashierSub := subscribeLive(t, e.b, cashier.Token, liveSaleEvents, nil)
		atFirst := e.sale(t, owner, owner.StoreID, 600)
		require.Equal(t, atFirst.ID, saleEventOf(t, e.publishUntil(t, cashierSub, "sale.completed", atFirst.ID)).Sale.ID)
		atSecond := e.sale(t, owner, second, 700)
		require.Equal(t, atSecond.ID, saleEventOf(t, e.publishUntil(t, secondSub, "sale.completed", atSecond.ID)).Sale.ID)

		// The cashier works at the first store only, and the second
		// subscription follows the second store only: after an event of
		// the other store, each sees the next of its own first.
		atSecond2 := e.sale(t, owner, second, 800)
		e.publish(t, "sale.completed", atSecond2.ID)
		require.Equal(t, atSecond2.ID, saleEventOf(t, secondSub.next(t, 10*time.Second)).Sale.ID)
		atFirst2 := e.sale(t, owner, owner.StoreID, 900)
		require.Equal(t, atFirst2.ID, saleEventOf(t, e.publishUntil(t, cashierSub, "sale.completed", atFirst2.ID)).Sale.ID)
		atSecond3 := e.sale(t, owner, second, 1000)
		require.Equal(t, atSecond3.ID, saleEventOf(t, e.publishUntil(t, secondSub, "sale.completed", atSecond3.ID)).Sale.ID)
	})

	t.Run("refunds and voids", func(t *testing.T) {
		sub := subscribeLive(t, e.b, owner.Token, liveSaleEvents, nil)
		s := e.sale(t, owner, owner.StoreID, 1100)
		var voided struct{ VoidSale saleRefundResult }
		e.a.Exec(t, owner.Token, saleVoid, map[string]any{"i": map[string]any{
			"saleId": s.ID, "idempotencyKey": saleKey(), "reason": "wrong item",
		}}).Decode(t, &voided)
		got := saleEventOf(t, e.publishUntil(t, sub, "sale.voided", s.ID))
		require.Equal(t, "VOIDED", got.Kind)
		require.Equal(t, s.ID, got.Sale.ID)
	})

	t.Run("a cashier cannot follow another store, nor anyone another merchant's", func(t *testing.T) {
		for _, tc := range []struct {
			token, store, code string
		}{
			{cashier.Token, second, "FORBIDDEN"},
			{owner.Token, other.StoreID, "NOT_FOUND"},
		} {
			ctx, conn := dialWS(t, e.b, nil)
			initWS(t, ctx, conn, `{"Authorization":"Bearer `+tc.token+`"}`)
			res := subscribeWSVars(t, ctx, conn, liveSaleEvents, map[string]any{"store": tc.store})
			require.Equal(t, tc.code, res.Code(), "%+v", res.Errors)
			requireNoData(t, res)
		}
	})

	t.Run("over HTTP a subscription is refused", func(t *testing.T) {
		res := e.b.Exec(t, owner.Token, liveSaleEvents, nil)
		require.Equal(t, "BAD_USER_INPUT", res.Code())
	})

	t.Run("logging out ends the subscription with UNAUTHENTICATED", func(t *testing.T) {
		manager := e.a.AddStaff(t, owner, "MANAGER")
		sub := subscribeLive(t, e.b, manager.Token, liveSaleEvents, nil)
		s := e.sale(t, owner, owner.StoreID, 1200)
		require.Equal(t, s.ID, saleEventOf(t, e.publishUntil(t, sub, "sale.completed", s.ID)).Sale.ID)

		var out struct{ LogOut struct{ EndedSessions int } }
		e.a.Exec(t, manager.Token, `mutation { logOut { endedSessions } }`, nil).Decode(t, &out)
		require.Equal(t, 1, out.LogOut.EndedSessions)
		after := e.sale(t, owner, owner.StoreID, 1300)
		e.publish(t, "sale.completed", after.ID)
		requireEndedWith(t, sub.next(t, 10*time.Second), "UNAUTHENTICATED")
	})

	t.Run("device faults reach the back office", func(t *testing.T) {
		d := &devEnv{Env: e.a, owner: owner}
		p := d.pair(t, d.code(t, owner, owner.StoreID), "SN-LIVE-1")
		sub := subscribeLive(t, e.b, owner.Token, `subscription { deviceEvents { id kind at device { id serialNumber storeID } } }`, nil)
		var reported struct {
			ReportTicket struct{ Ticket struct{ ID string } }
		}
		e.a.Exec(t, owner.Token, tktReport, map[string]any{"i": map[string]any{
			"kind": "DEVICE_FAULT", "faultCategory": "SCANNER", "title": "No beep", "deviceId": p.Device.ID,
		}}).Decode(t, &reported)
		msg := e.publishUntil(t, sub, "device.fault_reported", p.Device.ID)
		require.Equal(t, "next", msg.Type, "%s", msg.Payload)
		var res tilltest.Result
		require.NoError(t, json.Unmarshal(msg.Payload, &res))
		var out struct {
			DeviceEvents struct {
				Kind   string
				Device struct{ ID, SerialNumber, StoreID string }
			}
		}
		res.Decode(t, &out)
		require.Equal(t, "FAULT", out.DeviceEvents.Kind)
		require.Equal(t, p.Device.ID, out.DeviceEvents.Device.ID)
		require.Equal(t, "SN-LIVE-1", out.DeviceEvents.Device.SerialNumber)
		require.Equal(t, owner.StoreID, out.DeviceEvents.Device.StoreID)

		// Its first heartbeat brings it ONLINE, once the snapshot job has run.
		d.beat(t, p.Credential, map[string]any{"battery": 90}).Decode(t, &struct{}{})
		require.Contains(t, e.a.RunDueJobs(t.Context(), time.Now().Add(time.Hour)), "device-snapshot")
		msg = e.publishUntil(t, sub, "device.online", p.Device.ID)
		require.NoError(t, json.Unmarshal(msg.Payload, &res))
		res.Decode(t, &out)
		require.Equal(t, "ONLINE", out.DeviceEvents.Kind)
		require.Equal(t, p.Device.ID, out.DeviceEvents.Device.ID)
	})

	t.Run("a terminal's session follows the terminal's store", func(t *testing.T) {
		// The cashier works at both stores; on the first store's terminal
		// they see its sales only.
		both := e.a.AddStaff(t, owner, "CASHIER")
		e.a.Exec(t, owner.Token, `mutation($i: UpdateStaffInput!) { updateStaff(input: $i) { staff { id } } }`,
			map[string]any{"i": map[string]any{"staffId": both.ID, "storeIds": []string{owner.StoreID, second}}}).Decode(t, &struct{}{})
		both = e.a.LogIn(t, both.Email, tilltest.Password)
		e.a.Exec(t, both.Token, devPinSet, map[string]any{"i": map[string]any{"staffId": both.ID, "pin": "2580"}}).Decode(t, &struct{}{})
		d := &devEnv{Env: e.a, owner: owner}
		p := d.pair(t, d.code(t, owner, owner.StoreID), "SN-LIVE-2")
		var login struct{ LogInWithPin struct{ AccessToken string } }
		d.pinLogIn(t, p.Credential, both.ID, "2580").Decode(t, &login)
		terminal := login.LogInWithPin.AccessToken

		sub := subscribeLive(t, e.b, terminal, liveSaleEvents, nil)
		first := e.sale(t, owner, owner.StoreID, 1500)
		require.Equal(t, first.ID, saleEventOf(t, e.publishUntil(t, sub, "sale.completed", first.ID)).Sale.ID)
		elsewhere := e.sale(t, owner, second, 1600)
		e.publish(t, "sale.completed", elsewhere.ID)
		next := e.sale(t, owner, owner.StoreID, 1700)
		require.Equal(t, next.ID, saleEventOf(t, e.publishUntil(t, sub, "sale.completed", next.ID)).Sale.ID)

		ctx, conn := dialWS(t, e.b, nil)
		initWS(t, ctx, conn, `{"Authorization":"Bearer `+terminal+`"}`)
		res := subscribeWSVars(t, ctx, conn, liveSaleEvents, map[string]any{"store": second})
		require.Equal(t, "FORBIDDEN", res.Code(), "%+v", res.Errors)
	})

	t.Run("a quiet subscription ends soon after logging out", func(t *testing.T) {
		quick := e.replica(server.WithLiveRecheck(100 * time.Millisecond))
		manager := e.a.AddStaff(t, owner, "MANAGER")
		sub := subscribeLive(t, quick, manager.Token, liveSaleEvents, nil)
		s := e.sale(t, owner, owner.StoreID, 1800)
		require.Equal(t, s.ID, saleEventOf(t, e.publishUntil(t, sub, "sale.completed", s.ID)).Sale.ID)
		e.a.Exec(t, manager.Token, `mutation { logOut { endedSessions } }`, nil).Decode(t, &struct{}{})
		// No event comes; the periodic check ends it.
		requireEndedWith(t, sub.next(t, 5*time.Second), "UNAUTHENTICATED")
	})

	t.Run("replica a's outbox worker delivers it", func(t *testing.T) {
		sub := subscribeLive(t, e.b, owner.Token, liveSaleEvents, nil)
		warm := e.sale(t, owner, owner.StoreID, 100)
		e.publishUntil(t, sub, "sale.completed", warm.ID) // the subscription is live
		s := e.sale(t, owner, owner.StoreID, 4200)
		require.NoError(t, e.a.Server.Outbox.Drain(t.Context()))
		for {
			msg := sub.next(t, 10*time.Second)
			require.NotNil(t, msg, "the worker's event arrives")
			got := saleEventOf(t, msg)
			if got.Sale.ID != s.ID {
				continue // the owner's earlier sales, delivered by the same drain
			}
			require.Equal(t, s.ID, got.Sale.ID)
			require.EqualValues(t, 4200, got.Sale.Total)
			break
		}
	})

	t.Run("suspending the merchant ends the subscription with FORBIDDEN", func(t *testing.T) {
		op := e.a.Operator(t)
		s := e.sale(t, other, other.StoreID, 1400)
		require.Equal(t, s.ID, saleEventOf(t, e.publishUntil(t, otherSub, "sale.completed", s.ID)).Sale.ID)
		e.a.Exec(t, op.Token, `mutation($i: SuspendMerchantInput!) { suspendMerchant(input: $i) { merchant { id } } }`,
			map[string]any{"i": map[string]any{"merchantId": other.MerchantID, "reason": "chargebacks"}}).Decode(t, &struct{}{})
		e.publish(t, "sale.completed", s.ID)
		requireEndedWith(t, otherSub.next(t, 10*time.Second), "FORBIDDEN")
	})
}

// requireEndedWith checks that msg ends a subscription with one error of
// code.
func requireEndedWith(t *testing.T, msg *wsMessage, code string) {
	t.Helper()
	require.NotNil(t, msg, "the subscription ends")
	require.Equal(t, "error", msg.Type, "%s", msg.Payload)
	var errors []tilltest.Error
	require.NoError(t, json.Unmarshal(msg.Payload, &errors))
	require.Len(t, errors, 1)
	require.Equal(t, code, errors[0].Extensions["code"])
}

// subscribeWSVars subscribes with variables and returns the one result of
// an operation that ends at once (a refusal).
func subscribeWSVars(t *testing.T, ctx context.Context, conn *websocket.Conn, query string, vars map[string]any) *tilltest.Result {
	t.Helper()
	sub, err := json.Marshal(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}})
	require.NoError(t, err)
	writeWS(t, ctx, conn, string(sub))
	next := readWS(t, ctx, conn)
	require.Equal(t, "next", next.Type, "%+v %s", next, next.Payload)
	var res tilltest.Result
	require.NoError(t, json.Unmarshal(next.Payload, &res))
	require.Equal(t, wsMessage{ID: "1", Type: "complete"}, readWS(t, ctx, conn))
	return &res
}
