package live

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/kv/kvtest"
)

const wait = 5 * time.Second

func receive(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case e, ok := <-ch:
		require.True(t, ok, "subscription ended")
		return e
	case <-time.After(wait):
		t.Fatal("no event within", wait)
		return Event{}
	}
}

func event(merchant, id string) Event {
	return Event{ID: id, MerchantID: merchant, StoreID: "sto_1", Kind: SaleCompleted, SubjectID: "sal_" + id, At: time.Now().UTC().Truncate(time.Millisecond)}
}

func TestBroker(t *testing.T) {
	for _, be := range kvtest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			client := be.Store.Client()
			// Two replicas: each broker holds its own pub/sub connection.
			a, b := New(client, be.Prefix, slog.Default()), New(client, be.Prefix, slog.Default())
			t.Cleanup(func() { require.NoError(t, a.Close()); require.NoError(t, b.Close()) })

			t.Run("replicas see each other's events, per merchant", func(t *testing.T) {
				onB, stop, err := b.Subscribe(t.Context(), "mer_1")
				require.NoError(t, err)
				defer stop()
				other, stopOther, err := b.Subscribe(t.Context(), "mer_2")
				require.NoError(t, err)
				defer stopOther()

				sent := event("mer_1", "1")
				require.NoError(t, a.Publish(t.Context(), sent))
				require.Equal(t, sent, receive(t, onB))
				// mer_2's subscriber got nothing of mer_1's: the next thing
				// it sees is its own event.
				require.NoError(t, a.Publish(t.Context(), event("mer_2", "2")))
				require.Equal(t, "2", receive(t, other).ID)
			})

			t.Run("a slow subscriber does not hold up the others", func(t *testing.T) {
				slow, stopSlow, err := b.Subscribe(t.Context(), "mer_3")
				require.NoError(t, err)
				defer stopSlow()
				fast, stopFast, err := b.Subscribe(t.Context(), "mer_3")
				require.NoError(t, err)
				defer stopFast()

				n := BufferSize + 20
				for i := range n {
					require.NoError(t, a.Publish(t.Context(), event("mer_3", fmt.Sprint(i))))
					require.Equal(t, fmt.Sprint(i), receive(t, fast).ID)
				}
				// The slow one kept the first BufferSize and lost the rest.
				require.Len(t, slow, BufferSize)
				for i := range BufferSize {
					require.Equal(t, fmt.Sprint(i), receive(t, slow).ID)
				}
			})

			t.Run("the last subscriber to leave releases the channel", func(t *testing.T) {
				name := b.channel("mer_4")
				numSub := func() int64 {
					n, err := client.PubSubNumSub(t.Context(), name).Result()
					require.NoError(t, err)
					return n[name]
				}
				first, stop1, err := b.Subscribe(t.Context(), "mer_4")
				require.NoError(t, err)
				_, stop2, err := b.Subscribe(t.Context(), "mer_4")
				require.NoError(t, err)
				// Two local subscribers share one Redis subscription.
				require.EqualValues(t, 1, numSub())

				stop1()
				_, open := <-first
				require.False(t, open, "an ended subscription's channel is closed")
				require.EqualValues(t, 1, numSub())
				stop2()
				require.Eventually(t, func() bool { return numSub() == 0 }, wait, 10*time.Millisecond)

				// Subscribing again works after the release.
				again, stop3, err := b.Subscribe(t.Context(), "mer_4")
				require.NoError(t, err)
				defer stop3()
				require.NoError(t, a.Publish(t.Context(), event("mer_4", "4")))
				require.Equal(t, "4", receive(t, again).ID)
			})

			t.Run("Close ends subscriptions", func(t *testing.T) {
				c := New(client, be.Prefix, slog.Default())
				ch, _, err := c.Subscribe(t.Context(), "mer_5")
				require.NoError(t, err)
				require.NoError(t, c.Close())
				_, open := <-ch
				require.False(t, open)
				_, _, err = c.Subscribe(t.Context(), "mer_5")
				require.ErrorIs(t, err, ErrClosed)
			})
		})
	}
}
