// Package kvtest gives tests every Redis they should run against: always an
// embedded miniredis, and also the real Redis named by the
// TILL_TEST_REDIS_URL environment variable when it is set.
package kvtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tillpos/till/kv"
)

// EnvURL names the environment variable holding the URL of a real Redis
// (or Redis Cluster) to run tests against in addition to miniredis.
const EnvURL = "TILL_TEST_REDIS_URL"

// cleanupTimeout bounds the key deletion after a test; the test's own
// context is already canceled by then.
const cleanupTimeout = 10 * time.Second

// Backend is one Redis a test runs against.
type Backend struct {
	// Name labels the backend in subtest names: "embedded" or "real".
	Name string
	// Store stays open until the test and all its subtests finish.
	Store *kv.Store
	// Prefix is unique to the test. Tests must put it in every key they
	// write, since a real Redis is shared with parallel test runs; keys
	// containing it anywhere are deleted when the test finishes, which
	// also catches libraries that prepend their own namespace.
	Prefix string
}

// Backends opens a fresh Store on each available Redis and registers
// cleanups that delete the test's keys and close the Stores. Each call
// starts its own miniredis, so a test that moves its clock is isolated.
func Backends(t testing.TB) []Backend {
	t.Helper()
	backends := []Backend{open(t, "embedded", "")}
	if url := os.Getenv(EnvURL); url != "" {
		backends = append(backends, open(t, "real", url))
	}
	return backends
}

func open(t testing.TB, name, url string) Backend {
	t.Helper()
	store, err := kv.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("opening %s redis: %v", name, err)
	}
	b := Backend{Name: name, Store: store, Prefix: "till-test:" + rand.Text() + ":"}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := DeleteKeys(ctx, store.Client(), "*"+b.Prefix+"*"); err != nil {
			t.Errorf("deleting test keys from %s redis: %v", name, err)
		}
		if err := store.Close(); err != nil {
			t.Errorf("closing %s redis: %v", name, err)
		}
	})
	return b
}

// DeleteKeys deletes the keys matching pattern on every master, since a
// SCAN through a cluster client only sees one node.
func DeleteKeys(ctx context.Context, client redis.UniversalClient, pattern string) error {
	if cluster, ok := client.(*redis.ClusterClient); ok {
		return cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return deleteNodeKeys(ctx, node, pattern)
		})
	}
	return deleteNodeKeys(ctx, client, pattern)
}

func deleteNodeKeys(ctx context.Context, node redis.Cmdable, pattern string) error {
	iter := node.Scan(ctx, 0, pattern, 100).Iterator()
	for iter.Next(ctx) {
		if err := node.Del(ctx, iter.Val()).Err(); err != nil {
			return fmt.Errorf("deleting %s: %w", iter.Val(), err)
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("scanning for %s: %w", pattern, err)
	}
	return nil
}
