package graph

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/tillpos/till/devices"
	"github.com/tillpos/till/ent/schema/pulid"
)

// Per-operation batch loaders for data ent does not own: a list of devices
// asking for their live state reads every state from Redis in one round
// trip, not one per device.

// loadWait is how long a batch waits after its first key for the rest: the
// fields of a list's items resolve concurrently, all at about once.
const loadWait = 2 * time.Millisecond

type loadersKey struct{}

type loaders struct {
	deviceStates *batcher[pulid.ID, *devices.State]
}

// Loaders is operation middleware that gives each operation its own
// loaders over svc.
func Loaders(svc Services) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		return next(context.WithValue(ctx, loadersKey{}, &loaders{
			deviceStates: &batcher[pulid.ID, *devices.State]{fetch: svc.Devices.LiveStates},
		}))
	}
}

// deviceState is device id's live state, through the operation's loader.
func (r *Resolver) deviceState(ctx context.Context, id pulid.ID) (*devices.State, error) {
	l, ok := ctx.Value(loadersKey{}).(*loaders)
	if !ok {
		// A schema served without Loaders: one read for the one device.
		states, err := r.devices.LiveStates(ctx, []pulid.ID{id})
		return states[id], err
	}
	return l.deviceStates.load(ctx, id)
}

// batcher gathers the keys asked for within loadWait of the first and
// fetches them in one call. It keeps nothing once a batch is answered, so a
// long-lived operation (a subscription) never reads an old value.
type batcher[K comparable, V any] struct {
	fetch func(context.Context, []K) (map[K]V, error)
	mu    sync.Mutex
	open  *batch[K, V]
}

type batch[K comparable, V any] struct {
	keys []K
	done chan struct{}
	got  map[K]V
	err  error
}

func (b *batcher[K, V]) load(ctx context.Context, key K) (V, error) {
	b.mu.Lock()
	bt := b.open
	if bt == nil {
		bt = &batch[K, V]{done: make(chan struct{})}
		b.open = bt
		// The batch runs with the context of the load that opened it: the
		// operation's, as every other load's.
		time.AfterFunc(loadWait, func() { b.run(ctx, bt) })
	}
	bt.keys = append(bt.keys, key)
	b.mu.Unlock()
	select {
	case <-bt.done:
		return bt.got[key], bt.err
	case <-ctx.Done():
		var none V
		return none, ctx.Err()
	}
}

func (b *batcher[K, V]) run(ctx context.Context, bt *batch[K, V]) {
	b.mu.Lock()
	b.open = nil
	keys := bt.keys
	b.mu.Unlock()
	bt.got, bt.err = b.fetch(ctx, keys)
	close(bt.done)
}
