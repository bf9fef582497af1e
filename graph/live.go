package graph

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/notify/live"
)

// DefaultLiveRecheck is how often a quiet subscription checks that its
// session is still alive, so that a logout ends it within this long even
// when no event comes.
const DefaultLiveRecheck = 30 * time.Second

type overWebSocketKey struct{}

// OverWebSocket marks ctx as a graphql-transport-ws connection's, the only
// transport that can carry a subscription to its end (the HTTP transports
// would answer the first event and drop the stream).
func OverWebSocket(ctx context.Context) context.Context {
	return context.WithValue(ctx, overWebSocketKey{}, true)
}

var saleEventKinds = map[string]SaleEventKind{
	live.SaleCompleted: SaleEventKindCompleted,
	live.SaleRefunded:  SaleEventKindRefunded,
	live.SaleVoided:    SaleEventKindVoided,
}

var deviceEventKinds = map[string]DeviceEventKind{
	live.DeviceOnline:  DeviceEventKindOnline,
	live.DeviceOffline: DeviceEventKindOffline,
	live.DeviceFault:   DeviceEventKindFault,
}

// saleEvent loads the sale of e as the subscriber, so the privacy rules
// decide whether they see it.
func (r *Resolver) saleEvent(ctx context.Context, e live.Event) (*SaleEvent, error) {
	s, err := r.client.Sale.Get(ctx, pulid.ID(e.SubjectID))
	if err != nil {
		return nil, err
	}
	return &SaleEvent{ID: pulid.ID(e.ID), Kind: saleEventKinds[e.Kind], Sale: s, At: e.At}, nil
}

// deviceEvent loads the device of e as the subscriber.
func (r *Resolver) deviceEvent(ctx context.Context, e live.Event) (*DeviceEvent, error) {
	d, err := r.client.Device.Get(ctx, pulid.ID(e.SubjectID))
	if err != nil {
		return nil, err
	}
	return &DeviceEvent{ID: pulid.ID(e.ID), Kind: deviceEventKinds[e.Kind], Device: d, At: e.At}, nil
}

// liveScope is the stores v follows (nil: all of the merchant's): the
// store asked for, if v may see it; else a terminal session's store, a
// manager's or cashier's stores, or every store for the owner. The same
// rules as for recording a sale (merchants.StoreFor) decide.
func (r *Resolver) liveScope(ctx context.Context, v *viewer.Viewer, storeID *pulid.ID) ([]pulid.ID, error) {
	if !v.IsStaff() {
		return nil, errs.Newf(errs.Forbidden, "only a merchant's staff follow its live feed")
	}
	if v.MerchantSuspended {
		return nil, errs.Newf(errs.Forbidden, "merchant is suspended")
	}
	var deviceStore pulid.ID
	if v.DeviceID != "" {
		d, err := r.client.Device.Get(ctx, v.DeviceID)
		if err != nil {
			return nil, err
		}
		deviceStore = d.StoreID
	}
	switch {
	case storeID != nil:
		st, err := merchants.StoreFor(ctx, r.client, v, *storeID, "storeId")
		if err != nil {
			return nil, err
		}
		if deviceStore != "" && st.ID != deviceStore {
			return nil, &errs.Error{Code: errs.Forbidden, Field: "storeId", Message: "a terminal follows only its own store"}
		}
		return []pulid.ID{st.ID}, nil
	case deviceStore != "":
		return []pulid.ID{deviceStore}, nil
	case v.Role == viewer.RoleOwner:
		return nil, nil
	}
	// Authenticate reads a non-owner's stores; none means none, not all.
	return append([]pulid.ID{}, v.StoreIDs...), nil
}

// follow streams the live events of the subscriber's merchant of the kinds
// in kinds and in their scope, each loaded by load as the subscriber. Each
// such event, and every DefaultLiveRecheck (Services.LiveRecheck), first
// reads the session again: a session that has ended or a merchant
// suspended since ends the stream with that error, and the scope follows
// store reassignments.
func follow[K comparable, T any](ctx context.Context, r *Resolver, storeID *pulid.ID, kinds map[string]K, load func(context.Context, live.Event) (T, error)) (<-chan T, error) {
	if ctx.Value(overWebSocketKey{}) == nil {
		return nil, errs.Newf(errs.BadUserInput, "subscriptions are served over WebSocket (graphql-transport-ws)")
	}
	// The connection may have been opened long before: its session must
	// still be alive now.
	v, err := r.auth.Recheck(ctx, viewer.FromContext(ctx))
	if err != nil {
		return nil, err
	}
	if _, err := r.liveScope(ctx, v, storeID); err != nil {
		return nil, err
	}
	events, cancel, err := r.live.Subscribe(ctx, string(v.MerchantID))
	if err != nil {
		return nil, err
	}
	out := make(chan T)
	go func() {
		defer close(out)
		defer cancel()
		tick := time.NewTicker(cmp.Or(r.liveRecheck, DefaultLiveRecheck))
		defer tick.Stop()
		// recheck is the subscriber as they stand now, in scope.
		recheck := func() (*viewer.Viewer, []pulid.ID, bool) {
			fresh, err := r.auth.Recheck(ctx, v)
			var scope []pulid.ID
			if err == nil {
				scope, err = r.liveScope(ctx, fresh, storeID)
			}
			if err != nil {
				endSubscription(ctx, err)
				return nil, nil, false
			}
			return fresh, scope, true
		}
		for {
			var e live.Event
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if _, _, ok := recheck(); !ok {
					return
				}
				continue
			case got, open := <-events:
				if !open {
					return
				}
				e = got
			}
			if _, shown := kinds[e.Kind]; !shown {
				continue
			}
			fresh, scope, ok := recheck()
			if !ok {
				return
			}
			if scope != nil && !slices.Contains(scope, pulid.ID(e.StoreID)) {
				continue
			}
			item, err := load(viewer.NewContext(ctx, fresh), e)
			if ent.IsNotFound(err) {
				// Not theirs to see (privacy), or gone since.
				continue
			}
			if err != nil {
				endSubscription(ctx, err)
				return
			}
			select {
			case out <- item:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// endSubscription makes err the error the subscription ends with, coded
// as every other error is.
func endSubscription(ctx context.Context, err error) {
	if ctx.Err() != nil {
		// The client has gone (or unsubscribed): nobody to tell, and the
		// transport is already reading the errors.
		return
	}
	presented := ErrorPresenter(slog.Default())(ctx, err)
	if fc := graphql.GetFieldContext(ctx); fc != nil && presented.Path == nil {
		presented.Path = fc.Path()
	}
	transport.AddSubscriptionError(ctx, presented)
}
