// Package receipts sends a sale's receipt to its customer by email or
// text message. Send, called by the API, writes a QUEUED ReceiptDelivery
// and a receipt.requested outbox event in one transaction; Deliver, the
// outbox handler for that topic, renders the receipt in the merchant's
// locale and sends it, and records SENT or FAILED on the delivery.
//
// Receipts are transactional messages: they need no marketing consent.
package receipts

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/receiptdelivery"
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/idempotency"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/notify/email"
	"github.com/tillpos/till/notify/sms"
	"github.com/tillpos/till/outbox"
	"github.com/tillpos/till/pii"
	"github.com/tillpos/till/sales"
)

// TopicRequested is the outbox topic of a receipt to send; its subject is
// the ReceiptDelivery. The outbox worker hands it to Deliver.
const TopicRequested = "receipt.requested"

// Limits on sending one sale's receipt, so a cashier (or a stuck retry
// loop in an app) cannot flood a customer.
const (
	MaxPerSale = 5
	LimitEvery = 24 * time.Hour
)

// Service sends receipts.
type Service struct {
	db        *ent.Client
	box       *pii.Box
	sales     *sales.Service
	customers *customers.Service
	email     email.Sender
	sms       sms.Sender
	now       func() time.Time
}

// New returns a Service sending through mail and text.
func New(client *ent.Client, box *pii.Box, salesSvc *sales.Service, customerSvc *customers.Service, mail email.Sender, text sms.Sender) *Service {
	return &Service{db: client, box: box, sales: salesSvc, customers: customerSvc, email: mail, sms: text, now: db.Now}
}

// SendInput is a request to send a sale's receipt. The JSON form, without
// the key, is what a retry with the key must repeat.
type SendInput struct {
	IdempotencyKey *string                 `json:"-"`
	SaleID         pulid.ID                `json:"saleId"`
	Channel        receiptdelivery.Channel `json:"channel"`
	// To is an email address or a phone number; nil sends to the sale's
	// customer's.
	To *string `json:"to,omitempty"`
}

// Send queues the receipt of a sale for sending, or replays a keyed
// request. Any staff member at the sale's store may send it, a terminal
// only its own store's. Errors: NOT_FOUND (saleId: not the merchant's),
// FORBIDDEN (another store), BAD_USER_INPUT (to: malformed or no address
// to default to), CONFLICT (a voided sale), RATE_LIMITED (MaxPerSale in
// LimitEvery), IDEMPOTENCY_CONFLICT.
func (s *Service) Send(ctx context.Context, in SendInput) (*ent.ReceiptDelivery, error) {
	v := viewer.FromContext(ctx)
	if !v.IsStaff() {
		return nil, errs.Newf(errs.Forbidden, "only a merchant's staff send receipts")
	}
	if err := receiptdelivery.ChannelValidator(in.Channel); err != nil {
		return nil, errs.Invalid("channel", "want EMAIL or SMS")
	}
	if in.IdempotencyKey == nil {
		var d *ent.ReceiptDelivery
		err := db.WithTx(ctx, s.db, func(tx *ent.Tx) (err error) {
			d, err = s.send(ctx, tx, v, in, "")
			return err
		})
		if err != nil {
			return nil, err
		}
		return d.Unwrap(), nil
	}
	key := *in.IdempotencyKey
	if err := idempotency.CheckKey(key); err != nil {
		return nil, err
	}
	d, _, err := idempotency.Once(in,
		func(hash string) (*ent.ReceiptDelivery, error) {
			found, err := s.db.ReceiptDelivery.Query().Where(receiptdelivery.IdempotencyKey(key)).Only(ctx)
			return idempotency.Replayable(found, err, func(d *ent.ReceiptDelivery) string { return d.RequestHash }, hash, "receipt delivery")
		},
		func(hash string) (*ent.ReceiptDelivery, error) {
			var d *ent.ReceiptDelivery
			err := db.WithTx(ctx, s.db, func(tx *ent.Tx) (err error) {
				d, err = s.send(ctx, tx, v, in, hash)
				return err
			})
			if err != nil {
				return nil, err
			}
			return d.Unwrap(), nil
		})
	return d, err
}

func (s *Service) send(ctx context.Context, tx *ent.Tx, v *viewer.Viewer, in SendInput, hash string) (*ent.ReceiptDelivery, error) {
	client := tx.Client()
	// Locking the sale makes concurrent sends of its receipt count each
	// other against the limit (PostgreSQL; SQLite runs one write at a time).
	if _, err := client.Sale.Query().Where(sale.ID(in.SaleID)).Select(sale.FieldID).Modify(db.ForUpdate).Strings(ctx); err != nil {
		return nil, fmt.Errorf("locking sale: %w", err)
	}
	sl, err := client.Sale.Get(ctx, in.SaleID)
	if ent.IsNotFound(err) {
		return nil, &errs.Error{Code: errs.NotFound, Field: "saleId", Message: "sale not found"}
	}
	if err != nil {
		return nil, fmt.Errorf("loading sale: %w", err)
	}
	if _, err := merchants.StoreFor(ctx, client, v, sl.StoreID, "saleId"); err != nil {
		return nil, err
	}
	if v.DeviceID != "" {
		dev, err := client.Device.Get(ctx, v.DeviceID)
		if err != nil {
			return nil, fmt.Errorf("loading the terminal: %w", err)
		}
		if dev.StoreID != sl.StoreID {
			return nil, &errs.Error{Code: errs.Forbidden, Field: "saleId", Message: "the sale is another store's"}
		}
	}
	if sl.Status == sale.StatusVOIDED {
		return nil, errs.Newf(errs.Conflict, "the sale was voided")
	}
	since := s.now().Add(-LimitEvery)
	recent, err := client.ReceiptDelivery.Query().
		Where(receiptdelivery.SaleID(sl.ID), receiptdelivery.CreatedAtGT(since)).
		Order(ent.Asc(receiptdelivery.FieldCreatedAt)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("counting the sale's receipts: %w", err)
	}
	if len(recent) >= MaxPerSale {
		return nil, errs.Limited(recent[len(recent)-MaxPerSale].CreatedAt.Add(LimitEvery).Sub(s.now()))
	}
	to, err := s.destination(ctx, client, sl, in)
	if err != nil {
		return nil, err
	}
	id := pulid.New("rcd")
	masked := pii.MaskEmail(to)
	if in.Channel == receiptdelivery.ChannelSMS {
		masked = pii.MaskPhone(to)
	}
	create := client.ReceiptDelivery.Create().
		SetID(id).
		SetSaleID(sl.ID).SetStoreID(sl.StoreID).
		SetChannel(in.Channel).
		SetDestinationEnc(s.box.Seal(to, SealContext(id))).
		SetPiiKeyID(s.box.ActiveKeyID()).
		SetDestinationMasked(masked).
		SetRequestedByID(v.ID).
		SetCreatedAt(s.now()).
		SetUpdatedAt(s.now())
	if in.IdempotencyKey != nil {
		create.SetIdempotencyKey(*in.IdempotencyKey).SetRequestHash(hash)
	}
	d, err := create.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating receipt delivery: %w", err)
	}
	payload := map[string]any{"deliveryId": d.ID, "saleId": sl.ID, "channel": d.Channel}
	if err := outbox.Add(ctx, tx, v.MerchantID, TopicRequested, d.ID, payload); err != nil {
		return nil, err
	}
	return d, nil
}

// destination is the normalised address to send to: in.To, or else the
// sale's customer's email or phone.
func (s *Service) destination(ctx context.Context, client *ent.Client, sl *ent.Sale, in SendInput) (string, error) {
	if in.To != nil {
		if in.Channel == receiptdelivery.ChannelEMAIL {
			to, err := pii.NormalizeEmail(*in.To)
			if err != nil {
				return "", errs.Invalid("to", "not an email address")
			}
			return to, nil
		}
		m, err := client.Merchant.Get(ctx, sl.MerchantID)
		if err != nil {
			return "", fmt.Errorf("loading merchant: %w", err)
		}
		to, err := pii.NormalizePhone(*in.To, region(m.Locale))
		if err != nil {
			return "", errs.Invalid("to", "not a phone number")
		}
		return to, nil
	}
	what, detail := "an email address", customers.Email
	if in.Channel == receiptdelivery.ChannelSMS {
		what, detail = "a phone number", customers.Phone
	}
	if sl.CustomerID == nil {
		return "", errs.Invalid("to", "the sale has no customer: give %s", what)
	}
	c, err := client.Customer.Get(ctx, *sl.CustomerID)
	if err != nil {
		return "", fmt.Errorf("loading the sale's customer: %w", err)
	}
	to, err := s.customers.OpenDetail(c, detail)
	if err != nil {
		return "", err
	}
	if to == nil {
		return "", errs.Invalid("to", "the customer has no %s on file: give one", strings.TrimPrefix(strings.TrimPrefix(what, "an "), "a "))
	}
	return *to, nil
}

// region is the country a phone number without a country code is taken to
// be in: that of the merchant's locale (zh-CN → CN), as customers do.
func region(locale string) string {
	tag, err := language.Parse(locale)
	if err != nil {
		return "US"
	}
	r, _ := tag.Region()
	return r.String()
}

// SealContext binds a sealed destination to its delivery, so that it does
// not open if copied to another row (a merchant move re-seals with it).
func SealContext(id pulid.ID) string { return string(id) + "|destination" }

// Deliveries lists a sale's deliveries, newest first.
func (s *Service) Deliveries(ctx context.Context, saleID pulid.ID) ([]*ent.ReceiptDelivery, error) {
	return s.db.ReceiptDelivery.Query().Where(receiptdelivery.SaleID(saleID)).
		Order(ent.Desc(receiptdelivery.FieldCreatedAt), ent.Desc(receiptdelivery.FieldID)).All(ctx)
}
