// Package live carries live events (a sale completed, a device went
// offline) from the replica that delivers them to every replica with a
// subscriber, through Redis pub/sub, so the owner's phone sees a sale
// whichever replica it is connected to.
//
// A Broker keeps one pub/sub connection for the whole process and
// multiplexes its local subscribers over it: a merchant's channel is
// subscribed when its first local subscriber arrives and unsubscribed when
// the last leaves. go-redis reconnects the connection and subscribes it
// again on its own. Pub/sub delivers at most once; an event published while
// the connection is down is lost to this replica's subscribers, which is
// acceptable for a live view (the sales query is the record).
package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Event is one live event of a merchant.
type Event struct {
	// ID is the outbox event's id: delivery is at least once, so a
	// subscriber may see a repeat and dedupes by ID.
	ID         string `json:"id"`
	MerchantID string `json:"merchantId"`
	// StoreID is "" for merchant-wide events.
	StoreID string `json:"storeId,omitempty"`
	// Kind is one of the Kind constants.
	Kind string `json:"kind"`
	// SubjectID is the sale or device the event is about.
	SubjectID string    `json:"subjectId"`
	At        time.Time `json:"at"`
}

// Event kinds.
const (
	SaleCompleted = "SALE_COMPLETED"
	SaleRefunded  = "SALE_REFUNDED"
	SaleVoided    = "SALE_VOIDED"
	DeviceOnline  = "DEVICE_ONLINE"
	DeviceOffline = "DEVICE_OFFLINE"
	DeviceFault   = "DEVICE_FAULT"
)

// BufferSize is how many events a subscriber may fall behind by; beyond
// it, its events are dropped (and logged) rather than holding up the
// other subscribers.
const BufferSize = 64

// subscribeTimeout bounds the wait for Redis to confirm a subscription.
const subscribeTimeout = 10 * time.Second

// ErrClosed is returned by Subscribe after Close.
var ErrClosed = errors.New("live: broker closed")

// Broker publishes live events and fans them out to local subscribers.
type Broker struct {
	client redis.UniversalClient
	prefix string
	log    *slog.Logger

	// cmdMu orders SUBSCRIBE and UNSUBSCRIBE as the subscriber set changes,
	// without holding mu (which delivery takes) while Redis is dialled.
	cmdMu  sync.Mutex
	pubsub *redis.PubSub
	done   chan struct{} // closed when the delivery loop has ended

	mu     sync.Mutex
	subs   map[string]map[*subscriber]struct{} // by Redis channel
	ready  map[string][]chan struct{}          // waiting for Redis to confirm a channel
	closed bool
}

type subscriber struct {
	ch      chan Event
	channel string
	dropped int
}

// New returns a broker on client whose channels are named
// "<prefix>live:<merchantID>".
func New(client redis.UniversalClient, prefix string, log *slog.Logger) *Broker {
	return &Broker{
		client: client, prefix: prefix, log: log,
		subs: map[string]map[*subscriber]struct{}{}, ready: map[string][]chan struct{}{},
	}
}

func (b *Broker) channel(merchantID string) string {
	return b.prefix + "live:" + merchantID
}

// Publish sends e to every subscriber of e.MerchantID on every replica.
// In a Redis Cluster PUBLISH reaches every node, so subscribers connected
// to any node receive it.
func (b *Broker) Publish(ctx context.Context, e Event) error {
	if e.MerchantID == "" {
		return fmt.Errorf("publishing live event %s: no merchant", e.ID)
	}
	msg, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encoding live event: %w", err)
	}
	if err := b.client.Publish(ctx, b.channel(e.MerchantID), msg).Err(); err != nil {
		return fmt.Errorf("publishing live event: %w", err)
	}
	return nil
}

// Subscribe returns the events of merchantID from the moment Redis has
// confirmed the subscription, and a function that ends it (also called
// when ctx is done). The channel is closed when the subscription ends or
// the broker closes. A subscriber more than BufferSize events behind loses
// the newer ones.
func (b *Broker) Subscribe(ctx context.Context, merchantID string) (<-chan Event, func(), error) {
	name := b.channel(merchantID)
	sub := &subscriber{ch: make(chan Event, BufferSize), channel: name}

	b.cmdMu.Lock()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.cmdMu.Unlock()
		return nil, nil, ErrClosed
	}
	first := len(b.subs[name]) == 0
	if first {
		b.subs[name] = map[*subscriber]struct{}{}
	}
	b.subs[name][sub] = struct{}{}
	var confirmed chan struct{}
	if first {
		confirmed = make(chan struct{})
		b.ready[name] = append(b.ready[name], confirmed)
	}
	b.mu.Unlock()
	var err error
	if first {
		err = b.subscribeRedis(ctx, name)
	}
	b.cmdMu.Unlock()

	if err == nil && first {
		err = b.awaitConfirmation(ctx, name, confirmed)
	} else if err == nil {
		// The channel is already subscribed, or about to be: wait for the
		// confirmation another subscriber may still be waiting for.
		err = b.awaitExisting(ctx, name)
	}
	if err != nil {
		b.unsubscribe(sub)
		return nil, nil, fmt.Errorf("subscribing to live events: %w", err)
	}
	var once sync.Once
	cancel := func() { once.Do(func() { b.unsubscribe(sub) }) }
	stop := context.AfterFunc(ctx, cancel)
	return sub.ch, func() { stop(); cancel() }, nil
}

// subscribeRedis subscribes the process's connection to name, opening it
// (and the delivery loop) on first use. The caller holds cmdMu.
func (b *Broker) subscribeRedis(ctx context.Context, name string) error {
	if b.pubsub == nil {
		// Opened with the first channel: in a cluster the connection goes
		// to that channel's node, which hears every PUBLISH like any other.
		b.pubsub = b.client.Subscribe(context.WithoutCancel(ctx), name)
		b.done = make(chan struct{})
		go b.deliver(b.pubsub.ChannelWithSubscriptions(redis.WithChannelSize(256)))
		return nil
	}
	return b.pubsub.Subscribe(ctx, name)
}

// awaitConfirmation waits until Redis confirms the subscription to name,
// so that an event published after Subscribe returns is not missed.
func (b *Broker) awaitConfirmation(ctx context.Context, name string, confirmed chan struct{}) error {
	timer := time.NewTimer(subscribeTimeout)
	defer timer.Stop()
	select {
	case <-confirmed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return fmt.Errorf("redis did not confirm the subscription to %s within %s", name, subscribeTimeout)
	}
}

// awaitExisting waits for a confirmation of name still pending, if any.
func (b *Broker) awaitExisting(ctx context.Context, name string) error {
	b.mu.Lock()
	pending := b.ready[name]
	b.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	return b.awaitConfirmation(ctx, name, pending[len(pending)-1])
}

// unsubscribe removes sub and closes its channel; the last subscriber of a
// channel unsubscribes the connection from it.
func (b *Broker) unsubscribe(sub *subscriber) {
	b.cmdMu.Lock()
	defer b.cmdMu.Unlock()
	b.mu.Lock()
	set, ok := b.subs[sub.channel]
	if _, in := set[sub]; !ok || !in {
		b.mu.Unlock()
		return
	}
	delete(set, sub)
	close(sub.ch)
	last := len(set) == 0
	if last {
		delete(b.subs, sub.channel)
		delete(b.ready, sub.channel)
	}
	closed := b.closed
	b.mu.Unlock()
	if last && !closed && b.pubsub != nil {
		// A failed UNSUBSCRIBE leaves go-redis without the channel, so a
		// reconnect does not subscribe it again; messages still arriving
		// find no subscriber and are dropped.
		if err := b.pubsub.Unsubscribe(context.Background(), sub.channel); err != nil {
			b.log.Warn("unsubscribing from live events", "channel", sub.channel, "err", err)
		}
	}
}

// deliver reads the connection and hands each event to the subscribers of
// its channel without blocking on any of them.
func (b *Broker) deliver(msgs <-chan any) {
	defer close(b.done)
	for m := range msgs {
		switch m := m.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				b.confirm(m.Channel)
			}
		case *redis.Message:
			var e Event
			if err := json.Unmarshal([]byte(m.Payload), &e); err != nil {
				b.log.Warn("dropping a malformed live event", "channel", m.Channel, "err", err)
				continue
			}
			b.fanOut(m.Channel, e)
		}
	}
}

func (b *Broker) confirm(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.ready[name] {
		close(c)
	}
	delete(b.ready, name)
}

func (b *Broker) fanOut(name string, e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for sub := range b.subs[name] {
		select {
		case sub.ch <- e:
		default:
			sub.dropped++
			b.log.Warn("a live subscriber is too slow; dropping an event",
				"merchant", e.MerchantID, "event", e.ID, "kind", e.Kind, "dropped", sub.dropped)
		}
	}
}

// Close ends every subscription and closes the pub/sub connection.
func (b *Broker) Close() error {
	b.cmdMu.Lock()
	defer b.cmdMu.Unlock()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for name, set := range b.subs {
		for sub := range set {
			close(sub.ch)
		}
		delete(b.subs, name)
	}
	b.mu.Unlock()
	if b.pubsub == nil {
		return nil
	}
	err := b.pubsub.Close()
	<-b.done
	if err != nil {
		return fmt.Errorf("closing live events connection: %w", err)
	}
	return nil
}
