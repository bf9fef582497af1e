package kv_test

import (
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/kv"
	"github.com/tillpos/till/kv/kvtest"
)

func TestOpenEmbedded(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store, err := kv.Open(ctx, "")
	require.NoError(t, err)
	m := store.Embedded()
	require.NotNil(t, m)
	require.IsType(t, &redis.Client{}, store.Client())

	start := time.Now()
	m.SetTime(start)
	require.NoError(t, store.Client().Set(ctx, "greeting", "hello", time.Minute).Err())
	got, err := store.Client().Get(ctx, "greeting").Result()
	require.NoError(t, err)
	require.Equal(t, "hello", got)
	require.True(t, m.Exists("greeting"), "the client must talk to the embedded server")

	// Keys expire as the clock passes their TTL, as in a real Redis.
	m.SetTime(start.Add(time.Minute + time.Second))
	require.ErrorIs(t, store.Client().Get(ctx, "greeting").Err(), redis.Nil)

	require.NoError(t, store.Ping(ctx))
	require.NoError(t, store.Close())
	require.Error(t, store.Ping(ctx))
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	// A port that was just free is the closest to a guaranteed refusal.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	store, err := kv.Open(t.Context(), "redis://alice:hunter2@"+addr)
	require.Nil(t, store)
	require.ErrorContains(t, err, "connecting to redis at "+addr)
	require.NotContains(t, err.Error(), "hunter2")
}

func TestOpenInvalidURL(t *testing.T) {
	t.Parallel()
	store, err := kv.Open(t.Context(), "http://cache:6379")
	require.Nil(t, store)
	require.ErrorContains(t, err, "parsing redis URL")
}

func TestStore(t *testing.T) {
	t.Parallel()
	for _, b := range kvtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			client := b.Store.Client()
			key := b.Prefix + "greeting"

			require.NoError(t, b.Store.Ping(ctx))
			require.NoError(t, client.Set(ctx, key, "hello", time.Minute).Err())
			got, err := client.Get(ctx, key).Result()
			require.NoError(t, err)
			require.Equal(t, "hello", got)

			ttl, err := client.TTL(ctx, key).Result()
			require.NoError(t, err)
			require.Greater(t, ttl, time.Duration(0))
			require.LessOrEqual(t, ttl, time.Minute)

			require.Equal(t, b.Name == "embedded", b.Store.Embedded() != nil)
		})
	}
}
