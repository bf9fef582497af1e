package sales

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/rule"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/product"
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/ent/salecounter"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/staffday"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/idempotency"
	"github.com/tillpos/till/internal/pan"
	"github.com/tillpos/till/internal/ptr"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/outbox"
)

// How far a terminal's clock may run ahead, and how old an offline sale
// may be when it is uploaded.
const (
	maxClockSkew   = 10 * time.Minute
	maxOfflineAge  = 30 * 24 * time.Hour
	maxNoteRunes   = 500
	maxNameRunes   = 200
	maxUploadSales = 500
)

// LineInput is one line of a sale: a product, or a free-text item.
type LineInput struct {
	ProductID *pulid.ID `json:"productId,omitempty"`
	Name      *string   `json:"name,omitempty"`
	Quantity  int       `json:"quantity"`
	// UnitPrice defaults to the product's price; another price overrides it.
	UnitPrice    *int64 `json:"unitPrice,omitempty"`
	LineDiscount *int64 `json:"lineDiscount,omitempty"`
	// TaxRateBP is for a free-text item; a product's line takes its rate.
	TaxRateBP *int `json:"taxRateBp,omitempty"`
}

// SaleInput is a sale as a terminal records it. The JSON form, without the
// idempotency key and the offline flag, is what a retry must repeat.
type SaleInput struct {
	IdempotencyKey string        `json:"-"`
	StoreID        pulid.ID      `json:"storeId"`
	DeviceID       *pulid.ID     `json:"deviceId,omitempty"`
	CustomerID     *pulid.ID     `json:"customerId,omitempty"`
	Lines          []LineInput   `json:"lines"`
	OrderDiscount  *int64        `json:"orderDiscount,omitempty"`
	Tenders        []TenderInput `json:"tenders"`
	OccurredAt     *time.Time    `json:"occurredAt,omitempty"`
	Note           *string       `json:"note,omitempty"`
	ExpectedTotal  *int64        `json:"expectedTotal,omitempty"`
	// Rewards are loyalty rewards the customer redeems with points in
	// this sale; Offers are offers applied to it.
	Rewards []pulid.ID `json:"rewards,omitempty"`
	Offers  []pulid.ID `json:"offers,omitempty"`
	// Offline marks a sale uploaded after being recorded offline. A retry
	// that comes by the other path still replays.
	Offline bool `json:"-"`
}

// exchangeKeyPrefix marks the key of the new sale of an exchange, made
// from the exchange's own key; clients may not use it.
const exchangeKeyPrefix = "exchange:"

// checkKey checks an idempotency key's shape.
func checkKey(key string) error {
	if err := idempotency.CheckKey(key); err != nil {
		return err
	}
	if strings.HasPrefix(key, exchangeKeyPrefix) {
		return errs.Invalid("idempotencyKey", "%q starts keys Till makes for exchanges", exchangeKeyPrefix)
	}
	return nil
}

// Record records a sale, or replays it: the same key with the same request
// returns the sale it made (replayed true) however often it is sent, and
// with a different request IDEMPOTENCY_CONFLICT. Concurrent requests with
// one key make one sale.
func (s *Service) Record(ctx context.Context, in SaleInput) (_ *ent.Sale, replayed bool, err error) {
	v, err := viewer.Staff(ctx)
	if err != nil {
		return nil, false, err
	}
	if err := checkKey(in.IdempotencyKey); err != nil {
		return nil, false, err
	}
	if in.OccurredAt != nil {
		// The same instant written with another offset is the same sale.
		utc := in.OccurredAt.UTC()
		in.OccurredAt = &utc
	}
	// A request with the key that commits while this one runs makes this
	// one fail on the key, or on a check of what the other wrote (the
	// customer's daily limit it used, the card use it counted): Once
	// answers it with the sale the key made.
	sl, replayed, err := idempotency.Once(in,
		func(hash string) (*ent.Sale, error) { return s.priorSale(ctx, in.IdempotencyKey, hash) },
		func(hash string) (*ent.Sale, error) {
			return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Sale, error) { return s.record(ctx, tx, v, in, hash, 0) })
		})
	if err != nil {
		s.auditDecline(ctx, err, "Store", in.StoreID, in.IdempotencyKey)
	}
	return sl, replayed, err
}

// priorSale returns the sale made with key, if its request hashed to hash;
// IDEMPOTENCY_CONFLICT if it did not; nil if there is none. Keys are the
// merchant's, so the lookup is too, beyond the caller's stores.
func (s *Service) priorSale(ctx context.Context, key, hash string) (*ent.Sale, error) {
	prior, err := s.db.Sale.Query().Where(sale.IdempotencyKey(key)).Only(rule.AllStores(ctx))
	return idempotency.Replayable(prior, err, func(sl *ent.Sale) string { return sl.RequestHash }, hash, "sale")
}

// auditDecline records a sale the risk rules declined, if err is one.
// Nothing of the sale was written, so the audit log is where a reviewer
// finds it, with what the rule matched. The entry is about targetType
// targetID: the sale's store, or the sale an exchange returned items to.
func (s *Service) auditDecline(ctx context.Context, err error, targetType string, targetID pulid.ID, key string) {
	var d *declined
	if !errors.As(err, &d) {
		return
	}
	err = audit.Record(ctx, s.db, audit.Entry{
		Action: "sale.declined", TargetType: targetType, TargetID: targetID,
		Details: map[string]any{"rule": d.hit.Rule, "detail": d.hit.Detail, "idempotencyKey": key},
	})
	if err != nil {
		s.log.ErrorContext(ctx, "auditing a declined sale", "err", err)
	}
}

// record writes a new sale in tx; credit is the value of items returned in
// an exchange, which pays for it first.
//
// Rows are locked (on PostgreSQL) in one order, shared with refunds: the
// customer, then the store's counter, then the cashier's day. The counter
// is taken as late as possible: its row lock serialises the store's sales
// until commit, and is what keeps receipt numbers free of gaps and
// repeats.
func (s *Service) record(ctx context.Context, tx *ent.Tx, v *viewer.Viewer, in SaleInput, hash string, credit int64) (*ent.Sale, error) {
	client := tx.Client()
	st, err := merchants.StoreFor(ctx, client, v, in.StoreID, "storeId")
	if err != nil {
		return nil, err
	}
	now := s.now()
	occurred, err := occurredAt(in.OccurredAt, now)
	if err != nil {
		return nil, err
	}
	// A sale is offline when it comes by upload or happened earlier than
	// a terminal's clock can be off.
	offline := in.Offline || occurred.Before(now.Add(-maxClockSkew))
	if in.Note != nil && utf8.RuneCountInString(*in.Note) > maxNoteRunes {
		return nil, errs.Invalid("note", "a note is at most %d characters", maxNoteRunes)
	}
	if err := pan.Check("note", ptr.Value(in.Note)); err != nil {
		return nil, err
	}
	deviceID, err := saleDevice(ctx, client, v, in.DeviceID, st.ID)
	if err != nil {
		return nil, err
	}
	merchant, err := client.Merchant.Get(ctx, v.MerchantID)
	if err != nil {
		return nil, fmt.Errorf("loading merchant: %w", err)
	}
	settings, err := Settings(ctx, client, v.MerchantID)
	if err != nil {
		return nil, err
	}
	c, snapshots, err := priceLines(ctx, client, in.Lines, settings.PricesIncludeTax, ptr.Value(in.OrderDiscount))
	if err != nil {
		return nil, err
	}
	var cust *ent.Customer
	if in.CustomerID != nil {
		// Resolve locks the customer's row (see lockCustomer), as the
		// daily limit and the lock order need.
		if cust, err = customerByID(ctx, client, *in.CustomerID, "customerId"); err != nil {
			return nil, err
		}
	}
	granted, err := s.discounts(ctx, tx, c, in, DiscountQuery{MerchantID: v.MerchantID, StoreID: st.ID, Customer: cust, At: occurred, Offline: offline})
	if err != nil {
		return nil, err
	}
	if in.ExpectedTotal != nil && *in.ExpectedTotal != c.total {
		return nil, errs.Invalid("expectedTotal", "the sale comes to %d, not %d", c.total, *in.ExpectedTotal)
	}
	applied := min(credit, c.total)
	change, err := checkTenders(in.Tenders, c.total-applied, "tenders")
	if err != nil {
		return nil, err
	}
	tenderInputs := in.Tenders
	if applied > 0 {
		tenderInputs = append([]TenderInput{{Type: tender.TypeEXCHANGE, Amount: applied}}, in.Tenders...)
	}
	if err := s.checkBalanceTenders(in.Tenders, cust); err != nil {
		return nil, err
	}
	date := businessDate(st, occurred)
	limits, err := saleLimits(rule.AllStores(ctx), client, settings, in.Tenders, c.total, cust, date)
	if err != nil {
		return nil, err
	}
	risks, err := assess(ctx, client, settings, assessment{
		store: st, cashier: v.ID, total: c.total, tenders: in.Tenders, customer: cust, at: occurred, now: now,
	})
	if err != nil {
		return nil, err
	}
	hits, err := decide(append(limits, risks...), offline)
	if err != nil {
		return nil, err
	}
	hits = append(hits, discountHits(granted)...)

	counter, err := nextReceipt(ctx, tx, v.MerchantID, st.ID, c.total)
	if err != nil {
		return nil, err
	}
	create := tx.Sale.Create().
		SetIdempotencyKey(in.IdempotencyKey).
		SetRequestHash(hash).
		SetStoreID(st.ID).
		SetCashierID(v.ID).
		SetNillableDeviceID(deviceID).
		SetReceiptNumber(counter.LastReceiptNumber).
		SetCurrency(merchant.Currency).
		SetSubtotal(c.subtotal).
		SetOrderDiscount(c.orderDiscount).
		SetDiscountTotal(c.discountTotal).
		SetTaxTotal(c.taxTotal).
		SetTotal(c.total).
		SetChangeDue(change).
		SetPricesIncludeTax(c.pricesIncludeTax).
		SetOccurredAt(occurred).
		SetBusinessDate(date).
		SetOffline(in.Offline).
		SetNote(strings.TrimSpace(ptr.Value(in.Note))).
		SetRiskHits(hits).
		SetDiscounts(discountsOf(granted))
	if cust != nil {
		// Read before RecordVisit counts this sale: the reports tell new
		// customers from returning ones, and a void takes back the same.
		create.SetCustomerID(cust.ID).SetNewCustomer(cust.VisitsCount == 0)
	}
	if flagged(hits) {
		create.SetRiskDecision(sale.RiskDecisionFLAG).SetReviewStatus(sale.ReviewStatusPENDING)
	}
	sl, err := create.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating sale: %w", err)
	}
	if err := createLines(ctx, tx, sl.ID, c, snapshots); err != nil {
		return nil, err
	}
	tenders, err := createTenders(ctx, tx, sl.ID, tenderInputs)
	if err != nil {
		return nil, err
	}
	for _, t := range tenders {
		if pay := s.hooks.Tenders[t.Type]; pay != nil {
			if err := pay(ctx, tx, sl, t); err != nil {
				return nil, err
			}
		}
	}
	if err := redeem(ctx, tx, sl, granted); err != nil {
		return nil, err
	}
	for _, recorded := range s.hooks.Recorded {
		if err := recorded(ctx, tx, sl, tenders); err != nil {
			return nil, err
		}
	}
	if cust != nil {
		if err := customers.RecordVisit(ctx, tx, cust.ID, st.ID, c.total, occurred); err != nil {
			return nil, err
		}
	}
	if err := addStaffDay(ctx, tx, v.MerchantID, v.ID, date, c.total, 0); err != nil {
		return nil, err
	}
	if err := saleEvents(ctx, tx, sl); err != nil {
		return nil, err
	}
	return sl, audit.Record(ctx, client, audit.Entry{
		Action: "sale.recorded", TargetType: "Sale", TargetID: sl.ID,
		Details: map[string]any{"total": sl.Total, "receiptNumber": sl.ReceiptNumber, "offline": sl.Offline},
	})
}

// saleDevice is the terminal a sale is recorded on: the one the cashier
// logged in on with their PIN, which must be paired to the sale's store; or
// a device of the merchant the input names, for a sale relayed from
// elsewhere (the back office, an offline upload); or none.
func saleDevice(ctx context.Context, client *ent.Client, v *viewer.Viewer, named *pulid.ID, storeID pulid.ID) (*pulid.ID, error) {
	id := named
	if v.DeviceID != "" {
		if named != nil && *named != v.DeviceID {
			return nil, errs.Invalid("deviceId", "a terminal records sales as itself")
		}
		id = &v.DeviceID
	}
	if id == nil {
		return nil, nil
	}
	dev, err := client.Device.Get(ctx, *id)
	if ent.IsNotFound(err) {
		return nil, &errs.Error{Code: errs.NotFound, Field: "deviceId", Message: "device not found"}
	}
	if err != nil {
		return nil, fmt.Errorf("loading device: %w", err)
	}
	if v.DeviceID != "" && dev.StoreID != storeID {
		return nil, errs.Invalid("storeId", "this terminal is paired to another store")
	}
	return id, nil
}

// occurredAt is when a sale happened: the terminal's time, if it is not in
// the future (beyond clock skew) nor too old to upload, or now.
func occurredAt(at *time.Time, now time.Time) (time.Time, error) {
	if at == nil {
		return now, nil
	}
	t := at.UTC().Truncate(time.Microsecond)
	switch {
	case t.After(now.Add(maxClockSkew)):
		return time.Time{}, errs.Invalid("occurredAt", "the sale is in the future; check the terminal's clock")
	case t.Before(now.Add(-maxOfflineAge)):
		return time.Time{}, errs.Invalid("occurredAt", "a sale older than %d days cannot be uploaded", int(maxOfflineAge.Hours()/24))
	}
	return t, nil
}

// lineSnapshot is what a line keeps of its product as it was when sold.
type lineSnapshot struct {
	productID *pulid.ID
	sku       string
	name      string
	category  string
	unitCost  *int64
}

// priceLines completes lines from their products and prices them.
func priceLines(ctx context.Context, client *ent.Client, lines []LineInput, pricesIncludeTax bool, orderDiscount int64) (*cart, []lineSnapshot, error) {
	if len(lines) > maxLines {
		return nil, nil, errs.Invalid("lines", "a sale has at most %d lines", maxLines)
	}
	var ids []pulid.ID
	for _, l := range lines {
		if l.ProductID != nil {
			ids = append(ids, *l.ProductID)
		}
	}
	products := map[pulid.ID]*ent.Product{}
	if len(ids) > 0 {
		found, err := client.Product.Query().Where(product.IDIn(ids...)).All(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("loading products: %w", err)
		}
		for _, p := range found {
			products[p.ID] = p
		}
	}
	c := &cart{pricesIncludeTax: pricesIncludeTax, orderDiscount: orderDiscount, lines: make([]cartLine, len(lines))}
	snapshots := make([]lineSnapshot, len(lines))
	for i, l := range lines {
		field := fmt.Sprintf("lines[%d]", i)
		cl := cartLine{quantity: l.Quantity, lineDiscount: ptr.Value(l.LineDiscount)}
		snap := &snapshots[i]
		if l.ProductID != nil {
			p := products[*l.ProductID]
			switch {
			case p == nil:
				return nil, nil, &errs.Error{Code: errs.NotFound, Field: field + ".productId", Message: "product not found"}
			case !p.Active:
				return nil, nil, errs.Invalid(field+".productId", "%s is no longer sold", p.Name)
			case l.Name != nil || l.TaxRateBP != nil:
				return nil, nil, errs.Invalid(field, "a product's line takes its name and tax rate from the product")
			}
			cl.unitPrice, cl.taxRateBP = p.UnitPrice, p.TaxRateBp
			*snap = lineSnapshot{productID: &p.ID, sku: p.Sku, name: p.Name, category: p.Category, unitCost: p.Cost}
		} else {
			name := strings.TrimSpace(ptr.Value(l.Name))
			switch {
			case name == "" || utf8.RuneCountInString(name) > maxNameRunes:
				return nil, nil, errs.Invalid(field+".name", "an item without a product needs a name of 1 to %d characters", maxNameRunes)
			case l.UnitPrice == nil:
				return nil, nil, errs.Invalid(field+".unitPrice", "an item without a product needs a unit price")
			}
			if err := pan.Check(field+".name", name); err != nil {
				return nil, nil, err
			}
			cl.taxRateBP = ptr.Value(l.TaxRateBP)
			snap.name = name
		}
		if l.UnitPrice != nil {
			cl.unitPrice = *l.UnitPrice
		}
		c.lines[i] = cl
	}
	if err := c.price(); err != nil {
		return nil, nil, err
	}
	return c, snapshots, nil
}

func createLines(ctx context.Context, tx *ent.Tx, saleID pulid.ID, c *cart, snapshots []lineSnapshot) error {
	builders := make([]*ent.SaleLineCreate, len(c.lines))
	for i, l := range c.lines {
		snap := snapshots[i]
		builders[i] = tx.SaleLine.Create().
			SetSaleID(saleID).
			SetPosition(i).
			SetNillableProductID(snap.productID).
			SetSku(snap.sku).
			SetName(snap.name).
			SetCategory(snap.category).
			SetQuantity(l.quantity).
			SetUnitPrice(l.unitPrice).
			SetLineDiscount(l.lineDiscount).
			SetOrderDiscount(l.orderDiscount).
			SetTaxRateBp(l.taxRateBP).
			SetTax(l.tax).
			SetTotal(l.total).
			SetNillableUnitCost(snap.unitCost)
	}
	if err := tx.SaleLine.CreateBulk(builders...).Exec(ctx); err != nil {
		return fmt.Errorf("creating sale lines: %w", err)
	}
	return nil
}

func createTenders(ctx context.Context, tx *ent.Tx, saleID pulid.ID, tenders []TenderInput) ([]*ent.Tender, error) {
	if len(tenders) == 0 {
		return nil, nil
	}
	builders := make([]*ent.TenderCreate, len(tenders))
	for i, t := range tenders {
		b := tx.Tender.Create().
			SetSaleID(saleID).
			SetType(t.Type).
			SetAmount(t.Amount).
			SetNillableCardType(t.CardType).
			SetNillableCardBrand(trimmed(t.CardBrand)).
			SetNillableCardLast4(t.CardLast4).
			SetNillableWallet(t.Wallet).
			SetNillableReference(trimmed(t.Reference))
		if t.Type == tender.TypeCASH {
			tendered := t.Amount
			if t.Tendered != nil {
				tendered = *t.Tendered
			}
			b.SetTendered(tendered).SetChange(tendered - t.Amount)
		}
		builders[i] = b
	}
	created, err := tx.Tender.CreateBulk(builders...).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating tenders: %w", err)
	}
	return created, nil
}

// checkBalanceTenders refuses STORED_VALUE and LOYALTY tenders without a
// customer whose balance pays them, or while no loyalty domain is there to
// debit it.
func (s *Service) checkBalanceTenders(tenders []TenderInput, cust *ent.Customer) error {
	for i, t := range tenders {
		if t.Type != tender.TypeSTORED_VALUE && t.Type != tender.TypeLOYALTY {
			continue
		}
		field := fmt.Sprintf("tenders[%d].type", i)
		if s.hooks.Tenders[t.Type] == nil {
			return errs.Invalid(field, "%s payments are not available: no stored value or loyalty program runs here", t.Type)
		}
		if cust == nil {
			return errs.Invalid(field, "a %s payment needs the customer whose balance pays it", t.Type)
		}
	}
	return nil
}

// lockCustomer locks a customer's row (on PostgreSQL) to the end of the
// transaction: what one customer may spend in a day is checked under it,
// and sales and refunds take it before the cashier's day.
func lockCustomer(ctx context.Context, client *ent.Client, id pulid.ID) error {
	if _, err := client.Customer.Query().Where(customer.ID(id)).Select(customer.FieldID).Modify(db.ForUpdate).Strings(ctx); err != nil {
		return fmt.Errorf("locking customer: %w", err)
	}
	return nil
}

// nextReceipt takes the store's next receipt number and adds the sale to
// the store's figures.
func nextReceipt(ctx context.Context, tx *ent.Tx, merchantID, storeID pulid.ID, total int64) (*ent.SaleCounter, error) {
	err := tx.SaleCounter.Create().
		SetMerchantID(merchantID).SetStoreID(storeID).
		SetLastReceiptNumber(1).SetSalesCount(1).SetSalesAmount(total).
		OnConflict(sql.ConflictColumns(salecounter.FieldStoreID)).
		AddLastReceiptNumber(1).AddSalesCount(1).AddSalesAmount(total).
		Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("taking a receipt number: %w", err)
	}
	counter, err := tx.SaleCounter.Query().Where(salecounter.StoreID(storeID)).Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the receipt number: %w", err)
	}
	return counter, nil
}

// addStaffDay adds to a staff member's sales and refunds of a business day.
func addStaffDay(ctx context.Context, tx *ent.Tx, merchantID, staffID pulid.ID, date string, sales, refunds int64) error {
	err := tx.StaffDay.Create().
		SetMerchantID(merchantID).SetStaffID(staffID).SetBusinessDate(date).
		SetSalesAmount(sales).SetRefundsAmount(refunds).
		OnConflict(sql.ConflictColumns(staffday.FieldStaffID, staffday.FieldBusinessDate)).
		AddSalesAmount(sales).AddRefundsAmount(refunds).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("counting the cashier's day: %w", err)
	}
	return nil
}

// saleEvents writes the outbox events a new sale raises.
func saleEvents(ctx context.Context, tx *ent.Tx, sl *ent.Sale) error {
	payload := map[string]any{
		"saleId": sl.ID, "storeId": sl.StoreID, "cashierId": sl.CashierID,
		"receiptNumber": sl.ReceiptNumber, "total": sl.Total, "currency": sl.Currency,
		"occurredAt": sl.OccurredAt, "offline": sl.Offline, "flagged": sl.RiskDecision == sale.RiskDecisionFLAG,
	}
	if err := outbox.Add(ctx, tx, sl.MerchantID, outbox.SaleCompleted, sl.ID, payload); err != nil {
		return err
	}
	if sl.RiskDecision == sale.RiskDecisionFLAG {
		payload["riskHits"] = sl.RiskHits
		return outbox.Add(ctx, tx, sl.MerchantID, outbox.RiskFlagged, sl.ID, payload)
	}
	return nil
}

// trimmed is *p without surrounding space, or nil.
func trimmed(p *string) *string {
	if p == nil {
		return nil
	}
	s := strings.TrimSpace(*p)
	return &s
}
