package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/tillpos/till/devices"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/feedback"
	"github.com/tillpos/till/loyalty"
	"github.com/tillpos/till/sales"
	"github.com/tillpos/till/storedvalue"
)

// Per-operation loading of what ent's field collection cannot eager-load:
// resolver-only fields such as Sale.receipt (entgql v0.7.0 has no
// CollectedFor), data ent does not own (a device's live state in Redis),
// and edges of objects a mutation returns. When an item of a list asks for
// such a field, the field is loaded for the whole list at once: the list is
// found among the field's parents, so no batching window is waited for.

type loadersKey struct{}

// loaders is the state one operation's resolvers share: a batch per list
// and field.
type loaders struct {
	mu      sync.Mutex
	batches map[batchKey]any
}

type batchKey struct {
	list  *graphql.FieldContext
	field string
}

// batch is what one field loaded for the items of one list, on the first
// ask for any of them.
type batch[V any] struct {
	once    sync.Once
	fetched map[pulid.ID]bool
	got     map[pulid.ID]V
	err     error
}

// Loaders is operation middleware that gives each operation its own
// loaders. Without it, each item loads on its own.
func Loaders(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	return next(context.WithValue(ctx, loadersKey{}, &loaders{batches: map[batchKey]any{}}))
}

// loadListed returns what fetch loads for item, fetched together with the
// items listed beside it: listed recognises a list among the field's
// parents' results and gives its items. Outside a list, item loads alone.
func loadListed[T, V any](ctx context.Context, field string, item T, idOf func(T) pulid.ID,
	listed func(result any) ([]T, bool), fetch func(context.Context, []T) (map[pulid.ID]V, error)) (V, error) {
	var none V
	alone := func() (V, error) {
		got, err := fetch(ctx, []T{item})
		return got[idOf(item)], err
	}
	l, _ := ctx.Value(loadersKey{}).(*loaders)
	list, items := listedWith(ctx, listed)
	if l == nil || list == nil {
		return alone()
	}
	key := batchKey{list: list, field: field}
	l.mu.Lock()
	b, _ := l.batches[key].(*batch[V])
	if b == nil {
		b = &batch[V]{}
		l.batches[key] = b
	}
	l.mu.Unlock()
	b.once.Do(func() {
		b.fetched = make(map[pulid.ID]bool, len(items))
		for _, it := range items {
			b.fetched[idOf(it)] = true
		}
		b.got, b.err = fetch(ctx, items)
	})
	switch id := idOf(item); {
	case b.err != nil:
		return none, b.err
	case b.fetched[id]:
		return b.got[id], nil
	}
	return alone()
}

// listedWith finds the list the object whose field is being resolved is an
// element of, a few levels up (list → element → object → this field), and
// the items in it; nil when the object is not in a list.
func listedWith[T any](ctx context.Context, listed func(result any) ([]T, bool)) (*graphql.FieldContext, []T) {
	fc := graphql.GetFieldContext(ctx)
	for range 4 {
		if fc = fc.Parent; fc == nil {
			return nil, nil
		}
		if items, ok := listed(fc.Result); ok {
			return fc, items
		}
	}
	return nil, nil
}

// receipt is the receipt of sl, built together with those of the sales
// listed beside it (a connection's page, an upload's results): a fixed
// number of queries for the whole list instead of several per sale.
func (r *Resolver) receipt(ctx context.Context, sl *ent.Sale) (*sales.Receipt, error) {
	return loadListed(ctx, "receipt", sl, saleID, listedSales, func(ctx context.Context, list []*ent.Sale) (map[pulid.ID]*sales.Receipt, error) {
		built, err := r.sales.Receipts(ctx, list)
		if err != nil {
			return nil, err
		}
		byID := make(map[pulid.ID]*sales.Receipt, len(built))
		for i, rc := range built {
			byID[list[i].ID] = rc
		}
		return byID, nil
	})
}

func saleID(sl *ent.Sale) pulid.ID { return sl.ID }

// listedSales gives the sales of the lists sales are shown in.
func listedSales(result any) ([]*ent.Sale, bool) {
	switch list := result.(type) {
	case []*ent.Sale:
		return list, true
	case []*ent.SaleEdge:
		return nodesOf(list, func(e *ent.SaleEdge) *ent.Sale { return e.Node }), true
	case []*UploadSaleResult:
		var out []*ent.Sale
		for _, res := range list {
			if res.Sale != nil {
				out = append(out, res.Sale)
			}
		}
		return out, true
	}
	return nil, false
}

// deviceState is the live state of d, read from Redis in one round trip
// with those of the devices listed beside it.
func (r *Resolver) deviceState(ctx context.Context, d *ent.Device) (*devices.State, error) {
	return loadListed(ctx, "state", d, deviceID, listedDevices, func(ctx context.Context, list []*ent.Device) (map[pulid.ID]*devices.State, error) {
		return r.devices.LiveStates(ctx, idsOf(list, deviceID))
	})
}

func deviceID(d *ent.Device) pulid.ID { return d.ID }

// listedDevices gives the devices of the lists devices are shown in.
func listedDevices(result any) ([]*ent.Device, bool) {
	switch list := result.(type) {
	case []*ent.Device:
		return list, true
	case []*ent.DeviceEdge:
		return nodesOf(list, func(e *ent.DeviceEdge) *ent.Device { return e.Node }), true
	}
	return nil, false
}

// collected reads sales again with the edges the operation selects of
// them at path below the current field (their lines, tenders, …): one
// query for the sales and one per edge, instead of one per edge and sale.
// A sale the caller cannot read again stays as it was.
func collected(ctx context.Context, client *ent.Client, list []*ent.Sale, path ...string) ([]*ent.Sale, error) {
	field := selectedAt(ctx, path...)
	if field == nil || len(list) == 0 {
		return list, nil
	}
	ids := make([]pulid.ID, len(list))
	for i, sl := range list {
		ids[i] = sl.ID
	}
	q, err := client.Sale.Query().Where(sale.IDIn(ids...)).
		CollectFields(graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: *field}))
	if err != nil {
		return nil, err
	}
	found, err := q.All(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[pulid.ID]*ent.Sale, len(found))
	for _, sl := range found {
		byID[sl.ID] = sl
	}
	out := make([]*ent.Sale, len(list))
	for i, sl := range list {
		if out[i] = byID[sl.ID]; out[i] == nil {
			out[i] = sl
		}
	}
	return out, nil
}

// selectedAt is the field the operation selects at path (field names)
// below the current field, or nil.
func selectedAt(ctx context.Context, path ...string) *graphql.CollectedField {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return nil
	}
	oc := graphql.GetOperationContext(ctx)
	field := fc.Field
walk:
	for _, name := range path {
		for _, f := range graphql.CollectFields(oc, field.Selections, nil) {
			if f.Name == name {
				field = f
				continue walk
			}
		}
		return nil
	}
	return &field
}

// storedValueOf is the stored value balance of c, read in one query with
// those of the customers listed beside it (a search's page).
func (r *Resolver) storedValueOf(ctx context.Context, c *ent.Customer) (*storedvalue.Balance, error) {
	return loadListed(ctx, "storedValue", c, customerID, listedCustomers, func(ctx context.Context, list []*ent.Customer) (map[pulid.ID]*storedvalue.Balance, error) {
		return r.storedValue.Balances(ctx, idsOf(list, customerID))
	})
}

// loyaltyOf is the loyalty standing of c, read in a fixed number of
// queries with those of the customers listed beside it (a search's page);
// nil when the merchant has no program.
func (r *Resolver) loyaltyOf(ctx context.Context, c *ent.Customer) (*loyalty.Standing, error) {
	return loadListed(ctx, "loyalty", c, customerID, listedCustomers, func(ctx context.Context, list []*ent.Customer) (map[pulid.ID]*loyalty.Standing, error) {
		return r.loyalty.Standings(ctx, idsOf(list, customerID))
	})
}

func customerID(c *ent.Customer) pulid.ID { return c.ID }

// storeRating is how st is rated, counted in one query with the stores
// listed beside it.
func (r *Resolver) storeRating(ctx context.Context, st *ent.Store) (*feedback.Summary, error) {
	return loadListed(ctx, "rating", st, storeID, listedStores, func(ctx context.Context, list []*ent.Store) (map[pulid.ID]*feedback.Summary, error) {
		return r.feedback.StoreSummaries(ctx, idsOf(list, storeID))
	})
}

// productRating is how p is rated, counted in one query with the products
// listed beside it (a catalog page).
func (r *Resolver) productRating(ctx context.Context, p *ent.Product) (*feedback.Summary, error) {
	return loadListed(ctx, "rating", p, productID, listedProducts, func(ctx context.Context, list []*ent.Product) (map[pulid.ID]*feedback.Summary, error) {
		return r.feedback.ProductSummaries(ctx, idsOf(list, productID))
	})
}

func storeID(st *ent.Store) pulid.ID { return st.ID }

func productID(p *ent.Product) pulid.ID { return p.ID }

// idsOf is the ids of list.
func idsOf[T any](list []T, idOf func(T) pulid.ID) []pulid.ID {
	ids := make([]pulid.ID, len(list))
	for i, it := range list {
		ids[i] = idOf(it)
	}
	return ids
}

// listedStores gives the stores of the lists stores are shown in.
func listedStores(result any) ([]*ent.Store, bool) {
	switch list := result.(type) {
	case []*ent.Store:
		return list, true
	case []*ent.StoreEdge:
		return nodesOf(list, func(e *ent.StoreEdge) *ent.Store { return e.Node }), true
	}
	return nil, false
}

// listedProducts gives the products of the lists products are shown in.
func listedProducts(result any) ([]*ent.Product, bool) {
	switch list := result.(type) {
	case []*ent.Product:
		return list, true
	case []*ent.ProductEdge:
		return nodesOf(list, func(e *ent.ProductEdge) *ent.Product { return e.Node }), true
	}
	return nil, false
}

// nodesOf is the nodes of a connection's edges.
func nodesOf[E, N any](edges []E, node func(E) N) []N {
	out := make([]N, len(edges))
	for i, e := range edges {
		out[i] = node(e)
	}
	return out
}

// listedCustomers gives the customers of the lists customers are shown in.
func listedCustomers(result any) ([]*ent.Customer, bool) {
	switch list := result.(type) {
	case []*ent.Customer:
		return list, true
	case []*ent.CustomerEdge:
		return nodesOf(list, func(e *ent.CustomerEdge) *ent.Customer { return e.Node }), true
	}
	return nil, false
}
