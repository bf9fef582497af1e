package catalog

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/text/currency"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/product"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/ptr"
)

// MaxImportRows is how many products one import may hold.
const MaxImportRows = 10_000

// ImportResult is what an import did, or, when Errors is not empty, why
// it did nothing.
type ImportResult struct {
	Created, Updated, Unchanged int
	Errors                      []RowError
}

// RowError is a problem with one row of an import.
type RowError struct {
	// Row is 1 for the first row after the header.
	Row int
	// Column is the header name of the cell at fault; empty for the row.
	Column  string
	Message string
}

// The columns an import reads; sku and name are required.
const (
	colSKU      = "sku"
	colBarcode  = "barcode"
	colName     = "name"
	colCategory = "category"
	colPrice    = "price"
	colCost     = "cost"
	colTaxRate  = "tax_rate"
	colActive   = "active"
)

var columns = []string{colSKU, colBarcode, colName, colCategory, colPrice, colCost, colTaxRate, colActive}

// columnOf names the CSV column of an API field, for errors from clean.
var columnOf = map[string]string{
	"sku": colSKU, "barcode": colBarcode, "name": colName, "category": colCategory,
	"unitPrice": colPrice, "cost": colCost, "taxRateBp": colTaxRate,
}

// Import creates and updates products from a CSV file (see
// ImportProductsInput in schema/catalog.graphql): a row whose SKU exists
// updates that product, any other row creates one. A cell left empty, or
// a column left out, keeps an existing product's value (a new product gets
// the default); a new product needs a price. Prices and costs are in major
// units of the merchant's currency; new prices are kept in the products'
// price changes. Every row is checked first, and nothing is written unless
// all are good; then everything is written in one transaction. OWNER or
// MANAGER.
//
// Errors: FORBIDDEN, BAD_USER_INPUT (field csv) for a file that is not a
// product list at all (no header, no sku or name column, an unknown or
// repeated column, more than MaxImportRows rows, broken CSV). Problems
// with rows are reported in the result.
func (s *Service) Import(ctx context.Context, text string) (*ImportResult, error) {
	v, err := staffViewer(ctx, writers...)
	if err != nil {
		return nil, err
	}
	m, err := s.db.Merchant.Get(ctx, v.MerchantID)
	if err != nil {
		return nil, fmt.Errorf("loading merchant: %w", err)
	}
	digits, err := minorDigits(m.Currency)
	if err != nil {
		return nil, err
	}
	rows, rowErrs, err := parseCSV(text, digits)
	if err != nil {
		return nil, err
	}
	var res *ImportResult
	err = db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		plan, err := planImport(ctx, tx, rows)
		if err != nil {
			return err
		}
		if plan.errors = append(rowErrs, plan.errors...); len(plan.errors) > 0 {
			slices.SortStableFunc(plan.errors, func(a, b RowError) int { return a.Row - b.Row })
			res = &ImportResult{Errors: plan.errors}
			return nil
		}
		res = &ImportResult{Created: len(plan.creates), Updated: len(plan.updates), Unchanged: plan.unchanged}
		return plan.write(ctx, tx, v.ID)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// minorDigits is how many decimals a currency's prices have: 2 for CNY,
// 0 for JPY.
func minorDigits(code string) (int, error) {
	unit, err := currency.ParseISO(code)
	if err != nil {
		return 0, fmt.Errorf("merchant currency %q: %w", code, err)
	}
	scale, _ := currency.Standard.Rounding(unit)
	return scale, nil
}

// importRow is a row of an import that parsed.
type importRow struct {
	row    int
	fields Fields
}

// parseCSV reads an import file into rows, reporting problems with rows
// (as far as they can be seen without the database) as row errors and a
// file that is no product list as BAD_USER_INPUT.
func parseCSV(text string, digits int) ([]importRow, []RowError, error) {
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(text, "\ufeff")))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, errs.Invalid("csv", "is empty; the first row names the columns")
	}
	if err != nil {
		return nil, nil, badCSV(err)
	}
	index := map[string]int{}
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(name))
		if !slices.Contains(columns, name) {
			return nil, nil, errs.Invalid("csv", "unknown column %q; the columns are %s", name, strings.Join(columns, ", "))
		}
		if _, seen := index[name]; seen {
			return nil, nil, errs.Invalid("csv", "column %q is named twice", name)
		}
		index[name] = i
	}
	for _, required := range []string{colSKU, colName} {
		if _, ok := index[required]; !ok {
			return nil, nil, errs.Invalid("csv", "has no %s column", required)
		}
	}
	var rows []importRow
	var rowErrs []RowError
	firstRow := map[string]int{}
	for n := 1; ; n++ {
		record, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, badCSV(err)
		}
		if n > MaxImportRows {
			return nil, nil, errs.Invalid("csv", "has more than %d rows; split it", MaxImportRows)
		}
		if len(record) > len(header) {
			rowErrs = append(rowErrs, RowError{Row: n, Message: fmt.Sprintf("has %d cells; the header names %d columns", len(record), len(header))})
			continue
		}
		f, problems := parseRow(record, index, digits)
		for i := range problems {
			problems[i].Row = n
		}
		rowErrs = append(rowErrs, problems...)
		if f.SKU != nil && *f.SKU != "" {
			if first, dup := firstRow[*f.SKU]; dup {
				rowErrs = append(rowErrs, RowError{Row: n, Column: colSKU, Message: fmt.Sprintf("SKU %q is also on row %d", *f.SKU, first)})
				continue
			}
			firstRow[*f.SKU] = n
		}
		if len(problems) == 0 {
			rows = append(rows, importRow{row: n, fields: f})
		}
	}
	if len(rows)+len(rowErrs) == 0 {
		return nil, nil, errs.Invalid("csv", "has no rows after the header")
	}
	return rows, rowErrs, nil
}

// badCSV reports a file encoding/csv cannot read.
func badCSV(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return errs.Invalid("csv", "is not valid CSV at line %d: %v", pe.Line, pe.Err)
	}
	return errs.Invalid("csv", "is not valid CSV: %v", err)
}

// parseRow reads one record's cells into Fields; an empty cell leaves its
// field nil.
func parseRow(record []string, index map[string]int, digits int) (Fields, []RowError) {
	var f Fields
	var problems []RowError
	cell := func(col string) *string {
		i, ok := index[col]
		if !ok || i >= len(record) {
			return nil
		}
		if v := strings.TrimSpace(record[i]); v != "" {
			return &v
		}
		return nil
	}
	fail := func(col, format string, args ...any) {
		problems = append(problems, RowError{Column: col, Message: fmt.Sprintf(format, args...)})
	}
	amount := func(col string, c *string, digits int) *int64 {
		if c == nil {
			return nil
		}
		n, err := ParseAmount(*c, digits)
		if err != nil {
			fail(col, "%q %v", *c, err)
			return nil
		}
		return &n
	}
	f.SKU, f.Barcode, f.Name, f.Category = cell(colSKU), cell(colBarcode), cell(colName), cell(colCategory)
	if f.SKU == nil {
		fail(colSKU, "is required")
	}
	if f.Name == nil {
		fail(colName, "is required")
	}
	f.UnitPrice = amount(colPrice, cell(colPrice), digits)
	f.Cost = amount(colCost, cell(colCost), digits)
	// A tax rate in percent with up to two decimals is a whole number of
	// basis points; "6%" is read as 6.
	rate := cell(colTaxRate)
	if rate != nil {
		rate = ptr.To(strings.TrimSpace(strings.TrimSuffix(*rate, "%")))
	}
	if bp := amount(colTaxRate, rate, 2); bp != nil {
		if *bp > 10000 {
			fail(colTaxRate, "must be 0 to 100 (percent)")
		} else {
			f.TaxRateBp = ptr.To(int(*bp))
		}
	}
	if c := cell(colActive); c != nil {
		switch strings.ToLower(*c) {
		case "true":
			f.Active = ptr.To(true)
		case "false":
			f.Active = ptr.To(false)
		default:
			fail(colActive, "must be true or false, not %q", *c)
		}
	}
	if err := f.clean(); err != nil {
		e, _ := errs.As(err)
		fail(columnOf[e.Field], "%s", e.Message)
	}
	return f, problems
}

// ParseAmount reads a non-negative decimal number written with a dot
// ("12.50", "12.5", "12") as a whole number of 10^-digits units:
// ParseAmount("12.5", 2) is 1250. Decimals beyond digits must be zeros, so
// "100.00" is 100 yen but "100.5" is no yen amount.
func ParseAmount(s string, digits int) (int64, error) {
	if strings.HasPrefix(s, "-") {
		return 0, errors.New("must not be negative")
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || !allDigits(whole) || !allDigits(frac) {
		return 0, errors.New("is not a number such as 12.50")
	}
	if len(strings.TrimRight(frac, "0")) > digits {
		if digits == 0 {
			return 0, errors.New("must be a whole number")
		}
		return 0, fmt.Errorf("has more than %d decimals", digits)
	}
	units := strings.TrimLeft(whole+(frac + strings.Repeat("0", digits))[:digits], "0")
	if units == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(units, 10, 64)
	if err != nil {
		return 0, errors.New("is too large")
	}
	return n, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// importPlan is what an import will write, found by reading the products
// its rows name.
type importPlan struct {
	creates []Fields
	updates []importUpdate
	// releases are products whose barcode another row takes: cleared
	// first, so the unique index holds after every statement.
	releases  []pulid.ID
	unchanged int
	errors    []RowError
}

type importUpdate struct {
	old     *ent.Product
	fields  Fields
	changed []string
}

// planImport sorts rows into creates, updates and unchanged products, and
// finds what only the database can tell: a new product without a price,
// a barcode already on another product.
func planImport(ctx context.Context, tx *ent.Tx, rows []importRow) (*importPlan, error) {
	skus := make([]string, 0, len(rows))
	var barcodes []string
	for _, r := range rows {
		skus = append(skus, *r.fields.SKU)
		if r.fields.Barcode != nil {
			barcodes = append(barcodes, *r.fields.Barcode)
		}
	}
	existing, err := tx.Product.Query().Where(product.Or(product.SkuIn(skus...), product.BarcodeIn(barcodes...))).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading products: %w", err)
	}
	bySKU := map[string]*ent.Product{}
	// barcodeOf is each product's barcode after the import, by SKU;
	// holder is who holds each barcode now.
	barcodeOf, holder := map[string]string{}, map[string]string{}
	for _, p := range existing {
		bySKU[p.Sku] = p
		if p.Barcode != nil {
			barcodeOf[p.Sku], holder[*p.Barcode] = *p.Barcode, p.Sku
		}
	}
	plan := &importPlan{}
	for _, r := range rows {
		if b := r.fields.Barcode; b != nil {
			barcodeOf[*r.fields.SKU] = *b
		}
	}
	claimed := map[string]int{}
	for _, r := range rows {
		sku, f := *r.fields.SKU, r.fields
		old := bySKU[sku]
		if b := f.Barcode; b != nil {
			if other, held := holder[*b]; held && other != sku && barcodeOf[other] == *b {
				plan.errors = append(plan.errors, RowError{Row: r.row, Column: colBarcode, Message: fmt.Sprintf("barcode %q belongs to product %s", *b, other)})
				continue
			}
			if first, dup := claimed[*b]; dup {
				plan.errors = append(plan.errors, RowError{Row: r.row, Column: colBarcode, Message: fmt.Sprintf("barcode %q is also on row %d", *b, first)})
				continue
			}
			claimed[*b] = r.row
		}
		switch changed := f.changes(old); {
		case old == nil && f.UnitPrice == nil:
			plan.errors = append(plan.errors, RowError{Row: r.row, Column: colPrice, Message: "is required for a new product"})
		case old == nil:
			plan.creates = append(plan.creates, f)
		case len(changed) == 0:
			plan.unchanged++
		default:
			plan.updates = append(plan.updates, importUpdate{old: old, fields: f, changed: changed})
		}
	}
	for _, u := range plan.updates {
		if was := u.old.Barcode; was != nil && slices.Contains(u.changed, "barcode") && claimed[*was] != 0 {
			plan.releases = append(plan.releases, u.old.ID)
		}
	}
	return plan, nil
}

// importBatch is how many rows go into one INSERT, well within both
// engines' limits on statement parameters.
const importBatch = 500

// write makes the plan's changes as staff member by, and audits them.
func (p *importPlan) write(ctx context.Context, tx *ent.Tx, by pulid.ID) error {
	if len(p.releases) > 0 {
		if err := tx.Product.Update().Where(product.IDIn(p.releases...)).ClearBarcode().Exec(ctx); err != nil {
			return fmt.Errorf("releasing barcodes: %w", err)
		}
	}
	written := make([]pulid.ID, 0, len(p.creates)+len(p.updates))
	for batch := range slices.Chunk(p.creates, importBatch) {
		builders := make([]*ent.ProductCreate, len(batch))
		for i, f := range batch {
			builders[i] = tx.Product.Create()
			f.set(builders[i].Mutation(), nil)
		}
		made, err := tx.Product.CreateBulk(builders...).Save(ctx)
		if err != nil {
			return fmt.Errorf("creating products: %w", err)
		}
		for _, m := range made {
			written = append(written, m.ID)
		}
	}
	var prices []*ent.ProductPriceChangeCreate
	for _, u := range p.updates {
		upd := tx.Product.UpdateOneID(u.old.ID)
		u.fields.set(upd.Mutation(), u.old)
		if err := upd.Exec(ctx); err != nil {
			return fmt.Errorf("updating product %s: %w", u.old.Sku, err)
		}
		written = append(written, u.old.ID)
		if slices.Contains(u.changed, "unitPrice") {
			prices = append(prices, tx.ProductPriceChange.Create().SetProductID(u.old.ID).SetChangedByID(by).
				SetOldPrice(u.old.UnitPrice).SetNewPrice(*u.fields.UnitPrice))
		}
	}
	for batch := range slices.Chunk(prices, importBatch) {
		if err := tx.ProductPriceChange.CreateBulk(batch...).Exec(ctx); err != nil {
			return fmt.Errorf("recording price changes: %w", err)
		}
	}
	// A long import stamps its first rows well before it commits; stamping
	// them all again last keeps the change feed's settle lag (see feed)
	// covering the time from stamp to commit.
	stamp := db.Now()
	for batch := range slices.Chunk(written, importBatch) {
		if err := tx.Product.Update().Where(product.IDIn(batch...)).SetUpdatedAt(stamp).Exec(ctx); err != nil {
			return fmt.Errorf("stamping products: %w", err)
		}
	}
	return audit.Record(ctx, tx.Client(), audit.Entry{
		Action: "product.imported", TargetType: "Merchant",
		Details: map[string]any{
			"created": len(p.creates), "updated": len(p.updates), "unchanged": p.unchanged, "priceChanges": len(prices),
		},
	})
}
