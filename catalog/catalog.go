// Package catalog keeps a merchant's products: what they sell, at what
// price and tax rate, found at the till by search or by a scanned barcode,
// and loaded in bulk from a CSV file. Every price change is kept with who
// made it.
//
// Who may do what: OWNER and MANAGER create, update and import products;
// every staff member searches and scans them.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/product"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/pan"
	"github.com/tillpos/till/internal/ptr"
)

// Service manages products.
type Service struct {
	db *ent.Client
}

// New returns a Service on client, whose privacy rules confine it to the
// caller's merchant.
func New(client *ent.Client) *Service {
	return &Service{db: client}
}

// Fields are a product's editable fields. On update nil leaves a field as
// it is; an empty Barcode or Category clears it.
type Fields struct {
	SKU       *string
	Barcode   *string
	Name      *string
	Category  *string
	UnitPrice *int64
	Cost      *int64
	ClearCost bool
	TaxRateBp *int
	Active    *bool
}

// Create adds a product. OWNER or MANAGER.
//
// Errors: FORBIDDEN, BAD_USER_INPUT (naming the field), CONFLICT (SKU or
// barcode already on another product).
func (s *Service) Create(ctx context.Context, f Fields) (*ent.Product, error) {
	if _, err := staffViewer(ctx, writers...); err != nil {
		return nil, err
	}
	switch {
	case f.SKU == nil:
		return nil, errs.Invalid("sku", "is required")
	case f.Name == nil:
		return nil, errs.Invalid("name", "is required")
	case f.UnitPrice == nil:
		return nil, errs.Invalid("unitPrice", "is required")
	}
	if err := f.clean(); err != nil {
		return nil, err
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Product, error) {
		create := tx.Product.Create()
		f.set(create.Mutation(), nil)
		p, err := create.Save(ctx)
		if err != nil {
			return nil, conflict(err, f)
		}
		return p, audit.Record(ctx, tx.Client(), audit.Entry{Action: "product.created", TargetType: "Product", TargetID: p.ID})
	})
}

// Update changes a product. OWNER or MANAGER. A new price is kept in the
// product's price changes with who set it. An update that changes nothing
// writes nothing.
//
// Errors: FORBIDDEN, NOT_FOUND, BAD_USER_INPUT (naming the field),
// CONFLICT (SKU or barcode already on another product).
func (s *Service) Update(ctx context.Context, id pulid.ID, f Fields) (*ent.Product, error) {
	v, err := staffViewer(ctx, writers...)
	if err != nil {
		return nil, err
	}
	if err := f.clean(); err != nil {
		return nil, err
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Product, error) {
		// Locked (on PostgreSQL) to the end of the transaction, so that of
		// two price edits at once the second reads the first's price as
		// the old one in the price history.
		old, err := tx.Product.Query().Where(product.ID(id)).Modify(db.ForUpdate).Only(ctx)
		if ent.IsNotFound(err) {
			return nil, errs.Newf(errs.NotFound, "product not found")
		}
		if err != nil {
			return nil, fmt.Errorf("loading product: %w", err)
		}
		changed := f.changes(old)
		if len(changed) == 0 {
			return old, nil
		}
		upd := tx.Product.UpdateOne(old)
		f.set(upd.Mutation(), old)
		p, err := upd.Save(ctx)
		if err != nil {
			return nil, conflict(err, f)
		}
		return p, recordChanges(ctx, tx, v, old, p, changed)
	})
}

// recordChanges audits an update of old to p and keeps a price change in
// the product's history.
func recordChanges(ctx context.Context, tx *ent.Tx, v *viewer.Viewer, old, p *ent.Product, changed []string) error {
	if others := slices.DeleteFunc(slices.Clone(changed), func(f string) bool { return f == "unitPrice" }); len(others) > 0 {
		if err := audit.Record(ctx, tx.Client(), audit.Entry{
			Action: "product.updated", TargetType: "Product", TargetID: p.ID, Details: map[string]any{"fields": others},
		}); err != nil {
			return err
		}
	}
	if old.UnitPrice == p.UnitPrice {
		return nil
	}
	if err := tx.ProductPriceChange.Create().SetProductID(p.ID).SetChangedByID(v.ID).
		SetOldPrice(old.UnitPrice).SetNewPrice(p.UnitPrice).Exec(ctx); err != nil {
		return fmt.Errorf("recording price change: %w", err)
	}
	return audit.Record(ctx, tx.Client(), audit.Entry{
		Action: "product.price_changed", TargetType: "Product", TargetID: p.ID,
		Details: map[string]any{"oldPrice": old.UnitPrice, "newPrice": p.UnitPrice},
	})
}

// writers are the roles that create, update and import products.
var writers = []viewer.Role{viewer.RoleOwner, viewer.RoleManager}

// staffViewer returns the staff viewer in ctx, or FORBIDDEN: operators do
// not work with a merchant's catalog.
func staffViewer(ctx context.Context, roles ...viewer.Role) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	if !v.IsStaff() {
		return nil, errs.Newf(errs.Forbidden, "only a merchant's staff work with its products")
	}
	if len(roles) > 0 && !v.HasRole(roles...) {
		return nil, errs.Newf(errs.Forbidden, "only an owner or a manager may change products")
	}
	return v, nil
}

// clean trims f's text and checks every field given; errors name the
// field as the API does.
func (f *Fields) clean() error {
	trim := func(p *string) {
		if p != nil {
			*p = strings.TrimSpace(*p)
		}
	}
	trim(f.SKU)
	trim(f.Barcode)
	trim(f.Name)
	trim(f.Category)
	if f.SKU != nil {
		if err := code("sku", *f.SKU); err != nil {
			return err
		}
	}
	if f.Barcode != nil && *f.Barcode != "" {
		if err := code("barcode", *f.Barcode); err != nil {
			return err
		}
	}
	if f.Name != nil && (*f.Name == "" || len([]rune(*f.Name)) > 200) {
		return errs.Invalid("name", "must be 1 to 200 characters")
	}
	if f.Category != nil && len([]rune(*f.Category)) > 100 {
		return errs.Invalid("category", "must be at most 100 characters")
	}
	// Names and categories are free text a cashier may paste a card number
	// into; SKUs and barcodes are codes, and an EAN-13 can pass the check.
	if err := pan.Check("name", ptr.Value(f.Name)); err != nil {
		return err
	}
	if err := pan.Check("category", ptr.Value(f.Category)); err != nil {
		return err
	}
	if f.UnitPrice != nil && *f.UnitPrice < 0 {
		return errs.Invalid("unitPrice", "must not be negative")
	}
	if f.Cost != nil && *f.Cost < 0 {
		return errs.Invalid("cost", "must not be negative")
	}
	if f.TaxRateBp != nil && (*f.TaxRateBp < 0 || *f.TaxRateBp > 10000) {
		return errs.Invalid("taxRateBp", "must be 0 to 10000 basis points (0%% to 100%%)")
	}
	return nil
}

// code checks a SKU or barcode: a scanner or a search box types it as one
// word, so it has no spaces.
func code(field, c string) error {
	if c == "" || len(c) > 64 || strings.IndexFunc(c, unicode.IsSpace) >= 0 {
		return errs.Invalid(field, "must be 1 to 64 characters without spaces")
	}
	return nil
}

// changes names the fields f changes about old (every field given when
// old is nil), in a fixed order.
func (f *Fields) changes(old *ent.Product) []string {
	var was ent.Product
	if old != nil {
		was = *old
	}
	var out []string
	add := func(field string, differs bool) {
		if differs || old == nil {
			out = append(out, field)
		}
	}
	if f.SKU != nil {
		add("sku", *f.SKU != was.Sku)
	}
	if f.Barcode != nil {
		add("barcode", *f.Barcode != ptr.Value(was.Barcode))
	}
	if f.Name != nil {
		add("name", *f.Name != was.Name)
	}
	if f.Category != nil {
		add("category", *f.Category != was.Category)
	}
	if f.UnitPrice != nil {
		add("unitPrice", *f.UnitPrice != was.UnitPrice)
	}
	switch {
	case f.ClearCost:
		add("cost", was.Cost != nil)
	case f.Cost != nil:
		add("cost", was.Cost == nil || *f.Cost != *was.Cost)
	}
	if f.TaxRateBp != nil {
		add("taxRateBp", *f.TaxRateBp != was.TaxRateBp)
	}
	if f.Active != nil {
		add("active", *f.Active != was.Active)
	}
	return out
}

// set puts f on m, a create (old nil) or an update of old, with the
// search text of the product it makes.
func (f *Fields) set(m *ent.ProductMutation, old *ent.Product) {
	var sku, name, barcode string
	if old != nil {
		sku, name, barcode = old.Sku, old.Name, ptr.Value(old.Barcode)
	}
	if f.SKU != nil {
		sku = *f.SKU
		m.SetSku(sku)
	}
	if f.Barcode != nil {
		if barcode = *f.Barcode; barcode == "" {
			m.ClearBarcode()
		} else {
			m.SetBarcode(barcode)
		}
	}
	if f.Name != nil {
		name = *f.Name
		m.SetName(name)
	}
	if f.Category != nil {
		m.SetCategory(*f.Category)
	}
	if f.UnitPrice != nil {
		m.SetUnitPrice(*f.UnitPrice)
	}
	switch {
	case f.ClearCost:
		m.ClearCost()
	case f.Cost != nil:
		m.SetCost(*f.Cost)
	}
	if f.TaxRateBp != nil {
		m.SetTaxRateBp(*f.TaxRateBp)
	}
	if f.Active != nil {
		m.SetActive(*f.Active)
	}
	m.SetSearchText(searchText(name, sku, barcode))
}

// searchText is what Search matches query words against: the name's
// words, then " | ", then the SKU and the barcode, lower-cased, each word
// after a space and followed by one. Names lose their "|" so that what
// follows the bar is always a code.
func searchText(name, sku, barcode string) string {
	text := " " + strings.Join(strings.Fields(strings.ToLower(strings.ReplaceAll(name, "|", " "))), " ") + " | " + strings.ToLower(sku) + " "
	if barcode != "" {
		text += strings.ToLower(barcode) + " "
	}
	return text
}

// conflict turns a unique-index violation into CONFLICT naming the SKU
// or barcode that clashed.
func conflict(err error, f Fields) error {
	var ce *ent.ConstraintError
	if !errors.As(err, &ce) {
		return fmt.Errorf("saving product: %w", err)
	}
	switch {
	case strings.Contains(ce.Error(), "barcode") && f.Barcode != nil:
		return &errs.Error{Code: errs.Conflict, Field: "barcode", Message: fmt.Sprintf("another product already has barcode %q", *f.Barcode)}
	case strings.Contains(ce.Error(), "sku") && f.SKU != nil:
		return &errs.Error{Code: errs.Conflict, Field: "sku", Message: fmt.Sprintf("another product already has SKU %q", *f.SKU)}
	}
	return &errs.Error{Code: errs.Conflict, Message: "conflicts with another product"}
}
