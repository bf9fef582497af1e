package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/sales"
)

// Per-operation loading of what ent's field collection cannot eager-load:
// resolver-only fields such as Sale.receipt (entgql v0.7.0 has no
// CollectedFor), and edges of objects a mutation returns.

type loadersKey struct{}

// loaders is the state one operation's resolvers share.
type loaders struct {
	mu sync.Mutex
	// receipts are batches of receipts, one per list of sales the
	// operation shows, keyed by the list's field context.
	receipts map[*graphql.FieldContext]*receiptBatch
}

// WithLoaders returns ctx with fresh per-operation loaders. The server
// wraps every operation in it; without it, each receipt loads on its own.
func WithLoaders(ctx context.Context) context.Context {
	return context.WithValue(ctx, loadersKey{}, &loaders{receipts: map[*graphql.FieldContext]*receiptBatch{}})
}

// receiptBatch is the receipts of the sales of one list, built on the
// first ask for any of them.
type receiptBatch struct {
	once  sync.Once
	sales []*ent.Sale
	built map[pulid.ID]*sales.Receipt
	err   error
}

// receipt is the receipt of sl, built together with those of the sales
// listed beside it (a connection's page, an upload's results): a fixed
// number of queries for the whole list instead of several per sale.
func (r *Resolver) receipt(ctx context.Context, sl *ent.Sale) (*sales.Receipt, error) {
	l, _ := ctx.Value(loadersKey{}).(*loaders)
	list, siblings := listedWith(ctx)
	if l == nil || list == nil {
		return r.sales.Receipt(ctx, sl)
	}
	l.mu.Lock()
	b := l.receipts[list]
	if b == nil {
		b = &receiptBatch{sales: siblings}
		l.receipts[list] = b
	}
	l.mu.Unlock()
	b.once.Do(func() {
		built, err := r.sales.Receipts(ctx, b.sales)
		b.built, b.err = make(map[pulid.ID]*sales.Receipt, len(built)), err
		for i, rc := range built {
			b.built[b.sales[i].ID] = rc
		}
	})
	if b.err != nil {
		return nil, b.err
	}
	if rc := b.built[sl.ID]; rc != nil {
		return rc, nil
	}
	return r.sales.Receipt(ctx, sl)
}

// listedWith finds the list the sale whose field is being resolved is an
// element of, a few levels up (list → element → sale → this field), and
// the sales in it; nil when the sale is not in a list.
func listedWith(ctx context.Context) (*graphql.FieldContext, []*ent.Sale) {
	fc := graphql.GetFieldContext(ctx)
	for range 4 {
		if fc = fc.Parent; fc == nil {
			return nil, nil
		}
		var out []*ent.Sale
		switch list := fc.Result.(type) {
		case []*ent.Sale:
			out = list
		case []*ent.SaleEdge:
			for _, e := range list {
				out = append(out, e.Node)
			}
		case []*UploadSaleResult:
			for _, res := range list {
				if res.Sale != nil {
					out = append(out, res.Sale)
				}
			}
		default:
			continue
		}
		return fc, out
	}
	return nil, nil
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
