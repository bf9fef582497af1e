package catalog

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/product"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
)

// Search finds products whose name has a word starting with each word of
// query, or whose SKU or barcode starts with it, case-insensitively. Best
// first: active products before inactive ones; within each, an exact SKU
// or barcode, then names starting with the query, then the rest; by name
// within each. It scans the merchant's products (through the merchant_id
// index) with the same LIKE on both engines. Ranked results page by
// position: the cursor carries the offset.
func (s *Service) Search(ctx context.Context, query string, after *entgql.Cursor[pulid.ID], first *int) (*ent.ProductConnection, error) {
	if _, err := staffViewer(ctx); err != nil {
		return nil, err
	}
	// The bar separates names from codes in the search text; it is never a
	// word to look for.
	words := strings.Fields(strings.ToLower(strings.ReplaceAll(query, "|", " ")))
	if len(words) == 0 {
		return nil, errs.Invalid("query", "must not be empty")
	}
	offset, err := offsetAfter(after)
	if err != nil {
		return nil, err
	}
	limit := 20
	if first != nil {
		limit = *first
	}
	q := s.db.Product.Query()
	for _, w := range words {
		q.Where(product.SearchTextContains(" " + w))
	}
	total, err := q.Clone().Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("counting products: %w", err)
	}
	rows, err := q.Order(product.ByActive(sql.OrderDesc()), rank(words), product.ByName(), product.ByID()).
		Offset(offset).Limit(limit + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("searching products: %w", err)
	}
	conn := &ent.ProductConnection{TotalCount: total, Edges: []*ent.ProductEdge{}}
	conn.PageInfo.HasPreviousPage = offset > 0
	if len(rows) > limit {
		conn.PageInfo.HasNextPage, rows = true, rows[:limit]
	}
	for i, p := range rows {
		conn.Edges = append(conn.Edges, &ent.ProductEdge{Node: p, Cursor: ent.Cursor{ID: p.ID, Value: offset + i + 1}})
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &conn.Edges[0].Cursor, &conn.Edges[n-1].Cursor
	}
	return conn, nil
}

// offsetAfter is the position a searchProducts cursor carries; 0 without one.
func offsetAfter(after *entgql.Cursor[pulid.ID]) (int, error) {
	if after == nil {
		return 0, nil
	}
	n, err := strconv.Atoi(fmt.Sprint(after.Value))
	if err != nil || n < 0 {
		return 0, errs.Invalid("after", "is not a cursor from searchProducts")
	}
	return n, nil
}

// rank orders products by how well they match the query words (see
// Search and searchText): 0 for a single word that is the whole SKU or
// barcode (a code after the bar, followed by a space), 1 for a name
// starting with the words, 2 for the rest. Both sides are lower-case, so
// LIKE behaves the same on SQLite (case-insensitive) and PostgreSQL
// (case-sensitive).
func rank(words []string) product.OrderOption {
	phrase := likeEscaper.Replace(strings.Join(words, " "))
	return func(s *sql.Selector) {
		col := s.C(product.FieldSearchText)
		// A predicate, not OrderExprFunc: only a predicate carries its
		// arguments into the query.
		s.OrderExpr(sql.P(func(b *sql.Builder) {
			b.WriteString("CASE")
			if len(words) == 1 {
				b.WriteString(" WHEN " + col + " LIKE ").Arg("% |% " + phrase + " %").WriteString(` ESCAPE '\' THEN 0`)
			}
			b.WriteString(" WHEN " + col + " LIKE ").Arg(" " + phrase + "%").WriteString(` ESCAPE '\' THEN 1`).
				WriteString(" ELSE 2 END")
		}))
	}
}

// likeEscaper makes a LIKE pattern match its text literally.
var likeEscaper = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)

// ByBarcode returns the product with barcode, active or not, in one
// unique-index lookup; nil when there is none. Every staff member scans.
func (s *Service) ByBarcode(ctx context.Context, barcode string) (*ent.Product, error) {
	if _, err := staffViewer(ctx); err != nil {
		return nil, err
	}
	barcode = strings.TrimSpace(barcode)
	if barcode == "" {
		return nil, errs.Invalid("barcode", "must not be empty")
	}
	p, err := s.db.Product.Query().Where(product.Barcode(barcode)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up barcode: %w", err)
	}
	return p, nil
}
