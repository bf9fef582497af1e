package loyalty

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/loyaltyentry"
	"github.com/tillpos/till/ent/loyaltyredemption"
	"github.com/tillpos/till/ent/loyaltyreward"
	"github.com/tillpos/till/ent/schema/loyaltytype"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/schema/saletype"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/idempotency"
	"github.com/tillpos/till/internal/money"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/sales"
)

// Bounds of rewards.
const (
	// maxPerSale is how many rewards one sale may redeem.
	maxPerSale     = 20
	maxNameRunes   = 100
	maxBasisPoints = 10_000
)

// RewardInput makes a reward: exactly the fields of its kind (a product
// for FREE_PRODUCT, an amount for FIXED_DISCOUNT, a percentage and
// optionally a cap for PERCENT_DISCOUNT).
type RewardInput struct {
	Name        string             `json:"name"`
	Kind        loyaltyreward.Kind `json:"kind"`
	ProductID   *pulid.ID          `json:"productId,omitempty"`
	Amount      *int64             `json:"amount,omitempty"`
	PercentBP   *int               `json:"percentBp,omitempty"`
	MaxDiscount *int64             `json:"maxDiscount,omitempty"`
	PointsCost  int64              `json:"pointsCost"`
	MinTier     *string            `json:"minTier,omitempty"`
	Active      *bool              `json:"active,omitempty"`
}

// RewardPatch changes a reward; left-out fields stay as they are. Its kind
// does not change.
type RewardPatch struct {
	RewardID    pulid.ID  `json:"rewardId"`
	Name        *string   `json:"name,omitempty"`
	ProductID   *pulid.ID `json:"productId,omitempty"`
	Amount      *int64    `json:"amount,omitempty"`
	PercentBP   *int      `json:"percentBp,omitempty"`
	MaxDiscount *int64    `json:"maxDiscount,omitempty"`
	PointsCost  *int64    `json:"pointsCost,omitempty"`
	MinTier     *string   `json:"minTier,omitempty"`
	Active      *bool     `json:"active,omitempty"`
}

// Rewards lists the caller's merchant's rewards, the active ones only
// when activeOnly, by points cost.
//
// Errors: FORBIDDEN (not staff).
func (s *Service) Rewards(ctx context.Context, activeOnly bool) ([]*ent.LoyaltyReward, error) {
	if _, err := staffViewer(ctx); err != nil {
		return nil, err
	}
	q := s.db.LoyaltyReward.Query()
	if activeOnly {
		q.Where(loyaltyreward.Active(true))
	}
	found, err := q.Order(ent.Asc(loyaltyreward.FieldPointsCost), ent.Asc(loyaltyreward.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading rewards: %w", err)
	}
	return found, nil
}

// CreateReward adds a reward (OWNER or MANAGER; audited).
//
// Errors: FORBIDDEN (a cashier), NOT_FOUND (productId), BAD_USER_INPUT.
func (s *Service) CreateReward(ctx context.Context, in RewardInput) (*ent.LoyaltyReward, error) {
	if _, err := staffViewer(ctx, managers...); err != nil {
		return nil, err
	}
	r := &ent.LoyaltyReward{Name: in.Name, Kind: in.Kind, ProductID: in.ProductID, Amount: in.Amount, PercentBp: in.PercentBP,
		MaxDiscount: in.MaxDiscount, PointsCost: in.PointsCost, MinTier: in.MinTier, Active: in.Active == nil || *in.Active}
	if err := s.checkReward(ctx, r); err != nil {
		return nil, err
	}
	var created *ent.LoyaltyReward
	err := db.WithTx(ctx, s.db, func(tx *ent.Tx) (err error) {
		created, err = tx.LoyaltyReward.Create().SetName(r.Name).SetKind(r.Kind).SetNillableProductID(r.ProductID).
			SetNillableAmount(r.Amount).SetNillablePercentBp(r.PercentBp).SetNillableMaxDiscount(r.MaxDiscount).
			SetPointsCost(r.PointsCost).SetNillableMinTier(r.MinTier).SetActive(r.Active).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("creating reward: %w", err)
		}
		return audit.Record(ctx, tx.Client(), audit.Entry{
			Action: "loyalty.reward_created", TargetType: "LoyaltyReward", TargetID: created.ID,
			Details: map[string]any{"name": r.Name, "kind": r.Kind, "pointsCost": r.PointsCost},
		})
	})
	if err != nil {
		return nil, err
	}
	return created.Unwrap(), nil
}

// UpdateReward changes the reward patch names (OWNER or MANAGER; audited). A reward
// already redeemed keeps its redemptions as they were.
//
// Errors: FORBIDDEN (a cashier), NOT_FOUND (rewardId, productId),
// BAD_USER_INPUT.
func (s *Service) UpdateReward(ctx context.Context, patch RewardPatch) (*ent.LoyaltyReward, error) {
	if _, err := staffViewer(ctx, managers...); err != nil {
		return nil, err
	}
	var updated *ent.LoyaltyReward
	err := db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		r, err := tx.LoyaltyReward.Get(ctx, patch.RewardID)
		if ent.IsNotFound(err) {
			return &errs.Error{Code: errs.NotFound, Field: "rewardId", Message: "reward not found"}
		}
		if err != nil {
			return fmt.Errorf("loading reward: %w", err)
		}
		next := *r
		if patch.Name != nil {
			next.Name = *patch.Name
		}
		if patch.PointsCost != nil {
			next.PointsCost = *patch.PointsCost
		}
		if patch.Active != nil {
			next.Active = *patch.Active
		}
		next.ProductID = cmpOr(patch.ProductID, r.ProductID)
		next.Amount = cmpOr(patch.Amount, r.Amount)
		next.PercentBp = cmpOr(patch.PercentBP, r.PercentBp)
		next.MaxDiscount = cmpOr(patch.MaxDiscount, r.MaxDiscount)
		next.MinTier = cmpOr(patch.MinTier, r.MinTier)
		if err := s.checkReward(ctx, &next); err != nil {
			return err
		}
		updated, err = tx.LoyaltyReward.UpdateOne(r).SetName(next.Name).SetNillableProductID(next.ProductID).
			SetNillableAmount(next.Amount).SetNillablePercentBp(next.PercentBp).SetNillableMaxDiscount(next.MaxDiscount).
			SetPointsCost(next.PointsCost).SetNillableMinTier(next.MinTier).SetActive(next.Active).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("updating reward: %w", err)
		}
		return audit.Record(ctx, tx.Client(), audit.Entry{
			Action: "loyalty.reward_updated", TargetType: "LoyaltyReward", TargetID: r.ID,
			Details: map[string]any{"patch": patch},
		})
	})
	if err != nil {
		return nil, err
	}
	return updated.Unwrap(), nil
}

// cmpOr is v when given, else was.
func cmpOr[T any](v, was *T) *T {
	if v != nil {
		return v
	}
	return was
}

// checkReward checks r's fields for its kind (and trims its name and
// tier).
func (s *Service) checkReward(ctx context.Context, r *ent.LoyaltyReward) error {
	r.Name = strings.TrimSpace(r.Name)
	if r.MinTier != nil {
		tier := strings.ToUpper(strings.TrimSpace(*r.MinTier))
		r.MinTier = &tier
	}
	switch {
	case r.Name == "" || utf8.RuneCountInString(r.Name) > maxNameRunes:
		return errs.Invalid("name", "a reward's name is 1 to %d characters", maxNameRunes)
	case r.PointsCost < 1 || r.PointsCost > maxPoints:
		return errs.Invalid("pointsCost", "a reward costs 1 to %d points", int64(maxPoints))
	case r.MinTier != nil && *r.MinTier == "":
		return errs.Invalid("minTier", "name a tier, or leave it out")
	}
	if r.MinTier != nil {
		prog, err := latest(ctx, s.db, viewer.FromContext(ctx).MerchantID)
		if err != nil {
			return err
		}
		if prog != nil && !slices.ContainsFunc(prog.Tiers, func(t loyaltytype.Tier) bool { return t.Name == *r.MinTier }) {
			return errs.Invalid("minTier", "the program has no tier %s", *r.MinTier)
		}
	}
	switch r.Kind {
	case loyaltyreward.KindFREE_PRODUCT:
		if r.ProductID == nil || r.Amount != nil || r.PercentBp != nil || r.MaxDiscount != nil {
			return errs.Invalid("productId", "a FREE_PRODUCT reward names a product, and no amount or percentage")
		}
		if _, err := s.db.Product.Get(ctx, *r.ProductID); ent.IsNotFound(err) {
			return &errs.Error{Code: errs.NotFound, Field: "productId", Message: "product not found"}
		} else if err != nil {
			return fmt.Errorf("loading product: %w", err)
		}
	case loyaltyreward.KindFIXED_DISCOUNT:
		if r.Amount == nil || *r.Amount < 1 || *r.Amount > maxPoints || r.ProductID != nil || r.PercentBp != nil || r.MaxDiscount != nil {
			return errs.Invalid("amount", "a FIXED_DISCOUNT reward takes an amount of 1 to %d off, and nothing else", int64(maxPoints))
		}
	case loyaltyreward.KindPERCENT_DISCOUNT:
		if r.PercentBp == nil || *r.PercentBp < 1 || *r.PercentBp > maxBasisPoints || r.ProductID != nil || r.Amount != nil {
			return errs.Invalid("percentBp", "a PERCENT_DISCOUNT reward takes 1 to %d basis points off", maxBasisPoints)
		}
		if r.MaxDiscount != nil && (*r.MaxDiscount < 1 || *r.MaxDiscount > maxPoints) {
			return errs.Invalid("maxDiscount", "a cap is 1 to %d", int64(maxPoints))
		}
	default:
		return errs.Invalid("kind", "%s is not a reward kind", r.Kind)
	}
	return nil
}

// field names the i'th reward of a sale's input.
func field(i int) string { return fmt.Sprintf("rewards[%d]", i) }

// tierGate is why acc (nil: no account yet, the base tier) may not redeem
// r under p, or "".
func tierGate(p *ent.LoyaltyProgramVersion, acc *ent.LoyaltyAccount, r *ent.LoyaltyReward) string {
	if r.MinTier == nil {
		return ""
	}
	need := slices.IndexFunc(p.Tiers, func(t loyaltytype.Tier) bool { return t.Name == *r.MinTier })
	held := 0
	if acc != nil {
		held = tierIndex(p, acc.Tier)
	}
	if need > held {
		return fmt.Sprintf("%q is for %s members and above; the customer is %s", r.Name, *r.MinTier, p.Tiers[held].Name)
	}
	return ""
}

// Discounts implements sales.Discounter: it prices the rewards in
// q.Rewards, in order (one listed twice redeems twice): a free product is
// one unit of the first line of that product not yet given free; a fixed
// discount at most what the order comes to; a percentage of the order, at
// most its cap. The customer's points must cover them all; Redeem debits
// them once the sale is written, under the account's lock taken here.
//
// Errors: NOT_FOUND (rewards[i]: not the merchant's), BAD_USER_INPUT
// (rewards: no customer or program; rewards[i]: inactive, above the
// customer's tier, no line of its product, takes nothing off, more points
// than the customer has).
func (s *Service) Discounts(ctx context.Context, tx *ent.Tx, q sales.DiscountQuery) ([]sales.Discount, error) {
	if len(q.Rewards) == 0 {
		return nil, nil
	}
	if len(q.Rewards) > maxPerSale {
		return nil, errs.Invalid("rewards", "a sale redeems at most %d rewards", maxPerSale)
	}
	if q.Customer == nil {
		return nil, errs.Invalid("rewards", "rewards are redeemed with points: the sale needs its customer")
	}
	prog, err := running(ctx, tx.Client(), q.MerchantID, q.At, "rewards")
	if err != nil {
		return nil, err
	}
	found, err := tx.LoyaltyReward.Query().Where(loyaltyreward.IDIn(q.Rewards...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading rewards: %w", err)
	}
	acc, err := s.lockAccount(ctx, tx, q.Customer.ID)
	if err != nil {
		return nil, err
	}
	var held, need int64
	if acc != nil {
		held = acc.Points
	}
	taken := make([]int64, len(q.Lines))
	free := make([]int, len(q.Lines))
	left := q.Net
	granted := make([]sales.Discount, 0, len(q.Rewards))
	for i, id := range q.Rewards {
		idx := slices.IndexFunc(found, func(r *ent.LoyaltyReward) bool { return r.ID == id })
		if idx < 0 {
			return nil, &errs.Error{Code: errs.NotFound, Field: field(i), Message: "reward not found"}
		}
		r := found[idx]
		if !r.Active {
			return nil, errs.Invalid(field(i), "%q is no longer offered", r.Name)
		}
		if why := tierGate(prog, acc, r); why != "" {
			return nil, errs.Invalid(field(i), "%s", why)
		}
		if need += r.PointsCost; need > held {
			return nil, errs.Invalid(field(i), "the rewards need %d points; the customer has %d", need, held)
		}
		d := sales.Discount{Kind: saletype.DiscountReward, RefID: r.ID, Label: r.Name}
		switch r.Kind {
		case loyaltyreward.KindFREE_PRODUCT:
			line := slices.IndexFunc(q.Lines, func(l sales.DiscountLine) bool {
				return l.ProductID != nil && *l.ProductID == *r.ProductID
			})
			for line >= 0 && line < len(q.Lines) && (q.Lines[line].ProductID == nil || *q.Lines[line].ProductID != *r.ProductID ||
				free[line] >= q.Lines[line].Quantity || q.Lines[line].Net-taken[line] <= 0) {
				line++
			}
			if line < 0 || line >= len(q.Lines) {
				return nil, errs.Invalid(field(i), "%q gives a product the sale has no (more) units of", r.Name)
			}
			d.Line = &line
			d.Amount = min(q.Lines[line].UnitPrice, q.Lines[line].Net-taken[line], left)
			free[line]++
			taken[line] += d.Amount
		case loyaltyreward.KindFIXED_DISCOUNT:
			d.Amount = min(*r.Amount, left)
		case loyaltyreward.KindPERCENT_DISCOUNT:
			d.Amount = money.MulDiv(max(q.Net, 0), int64(*r.PercentBp), maxBasisPoints)
			if r.MaxDiscount != nil {
				d.Amount = min(d.Amount, *r.MaxDiscount)
			}
			d.Amount = min(d.Amount, left)
		}
		if d.Amount <= 0 {
			return nil, errs.Invalid(field(i), "%q takes nothing off this sale", r.Name)
		}
		left -= d.Amount
		granted = append(granted, d)
	}
	return granted, nil
}

// Redeem implements sales.Discounter: it debits the points of each reward
// Discounts granted sl and records its redemption, in the sale's
// transaction. The balance is checked again: a LOYALTY tender of the same
// sale may have taken points since.
func (s *Service) Redeem(ctx context.Context, tx *ent.Tx, sl *ent.Sale, granted []sales.Discount) error {
	if sl.CustomerID == nil {
		return fmt.Errorf("redeeming rewards for sale %s: the sale has no customer", sl.ID)
	}
	acc, err := s.lockAccount(ctx, tx, *sl.CustomerID)
	if err != nil {
		return err
	}
	ids := make([]pulid.ID, len(granted))
	for i, d := range granted {
		ids[i] = d.RefID
	}
	found, err := tx.LoyaltyReward.Query().Where(loyaltyreward.IDIn(ids...)).All(ctx)
	if err != nil {
		return fmt.Errorf("loading rewards: %w", err)
	}
	for i, d := range granted {
		r := found[slices.IndexFunc(found, func(r *ent.LoyaltyReward) bool { return r.ID == d.RefID })]
		if acc == nil || acc.Points < r.PointsCost {
			return errs.Invalid(field(i), "%q needs %d points; the customer has %d left", r.Name, r.PointsCost, pointsOf(acc))
		}
		red, err := tx.LoyaltyRedemption.Create().SetRewardID(r.ID).SetAccountID(acc.ID).SetSaleID(sl.ID).
			SetStoreID(sl.StoreID).SetStaffID(sl.CashierID).SetPoints(r.PointsCost).SetDiscountAmount(d.Amount).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("recording loyalty redemption: %w", err)
		}
		acc, _, err = post(ctx, tx, acc, posting{
			kind: loyaltyentry.KindREDEEM, points: -r.PointsCost, at: sl.OccurredAt,
			saleID: &sl.ID, rewardID: &r.ID, redemptionID: &red.ID, staffID: &sl.CashierID,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// pointsOf is acc's balance; 0 without an account.
func pointsOf(acc *ent.LoyaltyAccount) int64 {
	if acc == nil {
		return 0
	}
	return acc.Points
}

// RedeemInput redeems a reward outside a sale (a gift handed over at a
// store). The JSON form, without the key, is what a retry must repeat.
type RedeemInput struct {
	IdempotencyKey string   `json:"-"`
	CustomerID     pulid.ID `json:"customerId"`
	RewardID       pulid.ID `json:"rewardId"`
	StoreID        pulid.ID `json:"storeId"`
}

// RedeemResult is a redemption and the customer's points as they stand
// after it.
type RedeemResult struct {
	Redemption *ent.LoyaltyRedemption
	Loyalty    *Standing
	Replayed   bool
}

// RedeemReward debits a reward's points from a customer outside a sale:
// any staff member, at a store they work at; audited. Retries with the
// same key replay; the same key for another request is
// IDEMPOTENCY_CONFLICT.
//
// Errors: FORBIDDEN (not staff, not at storeId), NOT_FOUND (customerId,
// rewardId, storeId), BAD_USER_INPUT (no program; rewardId: inactive,
// above the customer's tier, more points than the customer has).
func (s *Service) RedeemReward(ctx context.Context, in RedeemInput) (*RedeemResult, error) {
	v, err := staffViewer(ctx)
	if err != nil {
		return nil, err
	}
	if err := idempotency.CheckKey(in.IdempotencyKey); err != nil {
		return nil, err
	}
	res, _, err := idempotency.Once(in,
		func(hash string) (*RedeemResult, error) { return s.priorRedemption(ctx, in.IdempotencyKey, hash) },
		func(hash string) (*RedeemResult, error) { return s.redeemReward(ctx, v, in, hash) })
	return res, err
}

// redeemReward writes the redemption in a transaction of its own.
func (s *Service) redeemReward(ctx context.Context, v *viewer.Viewer, in RedeemInput, hash string) (*RedeemResult, error) {
	var red *ent.LoyaltyRedemption
	err := db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		client := tx.Client()
		st, err := merchants.StoreFor(ctx, client, v, in.StoreID, "storeId")
		if err != nil {
			return err
		}
		cust, err := customers.ResolveForWrite(ctx, client, in.CustomerID)
		if err != nil {
			return err
		}
		now := s.now()
		prog, err := running(ctx, client, v.MerchantID, now, "rewardId")
		if err != nil {
			return err
		}
		r, err := client.LoyaltyReward.Get(ctx, in.RewardID)
		if ent.IsNotFound(err) {
			return &errs.Error{Code: errs.NotFound, Field: "rewardId", Message: "reward not found"}
		}
		if err != nil {
			return fmt.Errorf("loading reward: %w", err)
		}
		acc, err := s.lockAccount(ctx, tx, cust.ID)
		if err != nil {
			return err
		}
		switch {
		case !r.Active:
			return errs.Invalid("rewardId", "%q is no longer offered", r.Name)
		case tierGate(prog, acc, r) != "":
			return errs.Invalid("rewardId", "%s", tierGate(prog, acc, r))
		case pointsOf(acc) < r.PointsCost:
			return errs.Invalid("rewardId", "%q needs %d points; the customer has %d", r.Name, r.PointsCost, pointsOf(acc))
		}
		red, err = tx.LoyaltyRedemption.Create().SetRewardID(r.ID).SetAccountID(acc.ID).SetStoreID(st.ID).
			SetStaffID(v.ID).SetPoints(r.PointsCost).SetDiscountAmount(0).
			SetIdempotencyKey(in.IdempotencyKey).SetRequestHash(hash).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("recording loyalty redemption: %w", err)
		}
		_, _, err = post(ctx, tx, acc, posting{
			kind: loyaltyentry.KindREDEEM, points: -r.PointsCost, at: now,
			rewardID: &r.ID, redemptionID: &red.ID, staffID: &v.ID,
		})
		if err != nil {
			return err
		}
		return audit.Record(ctx, client, audit.Entry{
			Action: "loyalty.reward_redeemed", TargetType: "Customer", TargetID: cust.ID,
			Details: map[string]any{"redemptionId": red.ID, "rewardId": r.ID, "points": r.PointsCost, "storeId": st.ID},
		})
	})
	if err != nil {
		return nil, err
	}
	red = red.Unwrap()
	acc, err := s.db.LoyaltyAccount.Get(ctx, red.AccountID)
	if err != nil {
		return nil, fmt.Errorf("loading loyalty account: %w", err)
	}
	standing, err := s.Standing(ctx, acc.CustomerID)
	if err != nil {
		return nil, err
	}
	return &RedeemResult{Redemption: red, Loyalty: standing}, nil
}

// priorRedemption returns the redemption made with key and the customer's
// points as they stand now, if its request hashed to hash;
// IDEMPOTENCY_CONFLICT if it did not; nil if there is none.
func (s *Service) priorRedemption(ctx context.Context, key, hash string) (*RedeemResult, error) {
	found, err := s.db.LoyaltyRedemption.Query().Where(loyaltyredemption.IdempotencyKey(key)).Only(ctx)
	prior, err := idempotency.Replayable(found, err, func(r *ent.LoyaltyRedemption) string { return r.RequestHash }, hash, "redemption")
	if prior == nil || err != nil {
		return nil, err
	}
	acc, err := s.db.LoyaltyAccount.Get(ctx, prior.AccountID)
	if err != nil {
		return nil, fmt.Errorf("loading loyalty account: %w", err)
	}
	standing, err := s.Standing(ctx, acc.CustomerID)
	if err != nil {
		return nil, err
	}
	return &RedeemResult{Redemption: prior, Loyalty: standing, Replayed: true}, nil
}
