package storedvalue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/storedvalueentry"
	"github.com/tillpos/till/ent/storedvaluetopup"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/idempotency"
	"github.com/tillpos/till/internal/ptr"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/outbox"
	"github.com/tillpos/till/sales"
)

// TopUpInput is a top-up as a terminal sends it. The JSON form, without the
// idempotency key, is what a retry must repeat.
type TopUpInput struct {
	IdempotencyKey string   `json:"-"`
	CustomerID     pulid.ID `json:"customerId"`
	StoreID        pulid.ID `json:"storeId"`
	Amount         int64    `json:"amount"`
	// Tender is how the customer pays: CASH, CARD or MOBILE_WALLET, with
	// the fields a sale's tender of the type takes; its amount is Amount.
	Tender sales.TenderInput `json:"tender"`
	// ExpectedBonus is the bonus the terminal showed the customer: a
	// different bonus (the tiers changed meanwhile) is refused.
	ExpectedBonus *int64 `json:"expectedBonus,omitempty"`
}

// TopUpResult is a top-up and the balance as it stands after it.
type TopUpResult struct {
	TopUp       *ent.StoredValueTopUp
	StoredValue *Balance
	// Replayed is true when the key had made this top-up before.
	Replayed bool
}

// TopUp pays money into a customer's balance, with the bonus the
// merchant's tiers give it then, or replays it: the same key with the same
// request returns the top-up it made (Replayed) however often it is sent,
// and with a different request IDEMPOTENCY_CONFLICT. Concurrent requests
// with one key make one top-up. The top-up, its TOP_UP and BONUS entries,
// the balance, the storedvalue.topped_up event and the audit entry commit
// together.
func (s *Service) TopUp(ctx context.Context, in TopUpInput) (*TopUpResult, error) {
	v, err := staffViewer(ctx)
	if err != nil {
		return nil, err
	}
	if err := idempotency.CheckKey(in.IdempotencyKey); err != nil {
		return nil, err
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	// A request with the key that commits while this one runs makes this
	// one fail on the key: Once answers it as a retry.
	res, _, err := idempotency.Once(in,
		func(hash string) (*TopUpResult, error) { return s.priorTopUp(ctx, in.IdempotencyKey, hash) },
		func(hash string) (*TopUpResult, error) {
			var res *TopUpResult
			err := db.WithTx(ctx, s.db, func(tx *ent.Tx) (err error) {
				res, err = s.topUp(ctx, tx, v, in, hash)
				return err
			})
			if err != nil {
				return nil, err
			}
			res.TopUp = res.TopUp.Unwrap()
			return res, nil
		})
	return res, err
}

// check checks what can be checked without the database: the amount and
// the tender, as sales check theirs (no full card numbers).
func (in *TopUpInput) check() error {
	if in.Amount < 1 || in.Amount > maxAmount {
		return errs.Invalid("amount", "a top-up is 1 to %d", int64(maxAmount))
	}
	if !slices.Contains([]tender.Type{tender.TypeCASH, tender.TypeCARD, tender.TypeMOBILE_WALLET}, in.Tender.Type) {
		return errs.Invalid("tender.type", "a top-up is paid in cash, by card or mobile wallet")
	}
	in.Tender.Amount = in.Amount
	if err := sales.CheckTender(in.Tender, "tender"); err != nil {
		return err
	}
	if in.ExpectedBonus != nil && *in.ExpectedBonus < 0 {
		return errs.Invalid("expectedBonus", "a bonus is not negative")
	}
	return nil
}

// priorTopUp returns what the top-up made with key is now, if its request
// hashed to hash; IDEMPOTENCY_CONFLICT if it did not; nil if there is none.
func (s *Service) priorTopUp(ctx context.Context, key, hash string) (*TopUpResult, error) {
	found, err := s.db.StoredValueTopUp.Query().Where(storedvaluetopup.IdempotencyKey(key)).Only(ctx)
	prior, err := idempotency.Replayable(found, err, func(t *ent.StoredValueTopUp) string { return t.RequestHash }, hash, "top-up")
	if prior == nil || err != nil {
		return nil, err
	}
	balance, err := s.balances(ctx, s.db, []pulid.ID{prior.CustomerID})
	if err != nil {
		return nil, err
	}
	return &TopUpResult{TopUp: prior, StoredValue: balance[prior.CustomerID], Replayed: true}, nil
}

// topUp writes a new top-up in tx. The customer is locked first, then the
// account (the lock order of sales).
func (s *Service) topUp(ctx context.Context, tx *ent.Tx, v *viewer.Viewer, in TopUpInput, hash string) (*TopUpResult, error) {
	client := tx.Client()
	st, err := merchants.StoreFor(ctx, client, v, in.StoreID, "storeId")
	if err != nil {
		return nil, err
	}
	if v.DeviceID != "" {
		dev, err := client.Device.Get(ctx, v.DeviceID)
		if err != nil {
			return nil, fmt.Errorf("loading the terminal: %w", err)
		}
		if dev.StoreID != st.ID {
			return nil, errs.Invalid("storeId", "this terminal is paired to another store")
		}
	}
	cust, err := customers.ResolveForWrite(ctx, client, in.CustomerID)
	if err != nil {
		return nil, err
	}
	saleSettings, err := sales.Settings(ctx, client, v.MerchantID)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(saleSettings.AcceptedTenders, string(in.Tender.Type)) {
		return nil, errs.Invalid("tender.type", "the merchant does not accept %s", in.Tender.Type)
	}
	set, err := settings(ctx, client, v.MerchantID)
	if err != nil {
		return nil, err
	}
	bonus, tier := bonusFor(set.BonusTiers, in.Amount)
	if in.ExpectedBonus != nil && *in.ExpectedBonus != bonus {
		return nil, errs.Invalid("expectedBonus", "the top-up gets a bonus of %d, not %d", bonus, *in.ExpectedBonus)
	}
	merchant, err := client.Merchant.Get(ctx, v.MerchantID)
	if err != nil {
		return nil, fmt.Errorf("loading merchant: %w", err)
	}
	acc, err := openAccount(ctx, tx, cust.ID, st.ID)
	if err != nil {
		return nil, err
	}
	t := in.Tender
	create := tx.StoredValueTopUp.Create().
		SetIdempotencyKey(in.IdempotencyKey).
		SetRequestHash(hash).
		SetAccountID(acc.ID).
		SetCustomerID(cust.ID).
		SetStoreID(st.ID).
		SetStaffID(v.ID).
		SetNillableDeviceID(ptr.NonZero(v.DeviceID)).
		SetAmount(in.Amount).
		SetBonus(bonus).
		SetCurrency(merchant.Currency).
		SetTenderType(string(t.Type)).
		SetNillableCardBrand(trimmed(t.CardBrand)).
		SetNillableCardLast4(t.CardLast4).
		SetNillableReference(trimmed(t.Reference))
	if tier != nil {
		create.SetBonusTier(tier)
	}
	if t.CardType != nil {
		create.SetCardType(string(*t.CardType))
	}
	if t.Wallet != nil {
		create.SetWallet(string(*t.Wallet))
	}
	if t.Type == tender.TypeCASH {
		tendered := ptr.Value(t.Tendered)
		if t.Tendered == nil {
			tendered = in.Amount
		}
		create.SetTendered(tendered).SetChange(tendered - in.Amount)
	}
	topUp, err := create.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating top-up: %w", err)
	}
	by := posting{staffID: v.ID, storeID: &st.ID, deviceID: ptr.NonZero(v.DeviceID), topUpID: &topUp.ID}
	paid := by
	paid.kind, paid.amount = storedvalueentry.KindTOP_UP, in.Amount
	ps := []posting{paid}
	if bonus > 0 {
		extra := by
		extra.kind, extra.amount, extra.bonus = storedvalueentry.KindBONUS, bonus, bonus
		ps = append(ps, extra)
	}
	acc, _, err = post(ctx, tx, acc, ps...)
	if errors.Is(err, errFull) {
		return nil, errs.Invalid("amount", "the balance would pass %d", int64(maxAmount))
	}
	if err != nil {
		return nil, err
	}
	payload := map[string]any{
		"topUpId": topUp.ID, "customerId": cust.ID, "storeId": st.ID, "staffId": v.ID,
		"amount": topUp.Amount, "bonus": topUp.Bonus, "currency": topUp.Currency, "balance": acc.Balance,
	}
	if err := outbox.Add(ctx, tx, v.MerchantID, outbox.StoredValueToppedUp, topUp.ID, payload); err != nil {
		return nil, err
	}
	err = audit.Record(ctx, client, audit.Entry{
		Action: "storedvalue.topped_up", TargetType: "Customer", TargetID: cust.ID,
		Details: map[string]any{"topUpId": topUp.ID, "amount": topUp.Amount, "bonus": topUp.Bonus, "tender": topUp.TenderType, "storeId": st.ID},
	})
	if err != nil {
		return nil, err
	}
	return &TopUpResult{TopUp: topUp, StoredValue: balanceOf(cust.ID, acc)}, nil
}

// TenderOf is how a top-up was paid, as a tender of its amount.
func TenderOf(t *ent.StoredValueTopUp) *sales.TenderInput {
	out := &sales.TenderInput{
		Type: tender.Type(t.TenderType), Amount: t.Amount, Tendered: t.Tendered,
		CardBrand: t.CardBrand, CardLast4: t.CardLast4, Reference: t.Reference,
	}
	if t.CardType != nil {
		out.CardType = ptr.To(tender.CardType(*t.CardType))
	}
	if t.Wallet != nil {
		out.Wallet = ptr.To(tender.Wallet(*t.Wallet))
	}
	return out
}

// trimmed is *p without surrounding space, or nil.
func trimmed(p *string) *string {
	if p == nil {
		return nil
	}
	return ptr.To(strings.TrimSpace(*p))
}
