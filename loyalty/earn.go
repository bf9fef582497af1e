package loyalty

import (
	"context"
	"fmt"
	"math/bits"
	"slices"
	"time"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/loyaltyentry"
	"github.com/tillpos/till/ent/schema/loyaltytype"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/tender"
)

// tierYear is how far back the tier basis looks: a rolling 12 months.
const tierYear = 12

// roundDiv is a*b/c rounded by r, for non-negative a, b and positive c,
// taken in 128 bits; at most maxPoints.
func roundDiv(a, b, c int64, r loyaltytype.Rounding) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) {
		return maxPoints
	}
	q, rem := bits.Div64(hi, lo, uint64(c))
	switch {
	case r == loyaltytype.RoundUp && rem > 0:
		q++
	case r == loyaltytype.RoundNearest && rem >= uint64(c)-rem:
		q++
	}
	return min(int64(q), maxPoints)
}

// Earned is the points eligible (minor units paid with earning tenders)
// earns under p in a tier of multiplierBP: none under the minimum spend;
// else eligible × pointsPerUnit / unitAmount, rounded by p's rule, times
// the multiplier, rounded again by the rule.
func Earned(p *ent.LoyaltyProgramVersion, eligible int64, multiplierBP int) int64 {
	if eligible <= 0 || eligible < p.MinSpend {
		return 0
	}
	base := roundDiv(eligible, p.PointsPerUnit, p.UnitAmount, p.Rounding)
	return roundDiv(base, int64(multiplierBP), baseBP, p.Rounding)
}

// Eligible is what a sale's tenders pay with types p lets earn: cash
// net of change (a tender's amount is what it pays), never an exchange's
// credit.
func Eligible(p *ent.LoyaltyProgramVersion, tenders []*ent.Tender) int64 {
	var sum int64
	for _, t := range tenders {
		if t.Type != tender.TypeEXCHANGE && slices.Contains(p.EarningTenders, string(t.Type)) {
			sum += t.Amount
		}
	}
	return sum
}

// tierIndex is the index of the tier named name in p, or 0 (the base
// tier) when p has no such tier any more.
func tierIndex(p *ent.LoyaltyProgramVersion, name string) int {
	return max(0, slices.IndexFunc(p.Tiers, func(t loyaltytype.Tier) bool { return t.Name == name }))
}

// qualified is the index of the highest tier of p that basis reaches.
func qualified(p *ent.LoyaltyProgramVersion, basis int64) int {
	i := 0
	for j, t := range p.Tiers {
		if basis >= t.Threshold {
			i = j
		}
	}
	return i
}

// recorded earns sl's points for its customer under the program in force
// when it happened, in the tier the customer holds; and moves them up a
// tier at once when the rolling basis reaches the next one. Sales
// has locked the customer.
func (s *Service) recorded(ctx context.Context, tx *ent.Tx, sl *ent.Sale, tenders []*ent.Tender) error {
	if sl.CustomerID == nil {
		return nil
	}
	prog, err := programAt(ctx, tx.Client(), sl.MerchantID, sl.OccurredAt)
	if err != nil || prog == nil || !prog.Enabled {
		return err
	}
	eligible := Eligible(prog, tenders)
	if eligible <= 0 || eligible < prog.MinSpend {
		return nil
	}
	acc, err := s.openAccount(ctx, tx, sl.MerchantID, *sl.CustomerID, prog)
	if err != nil {
		return err
	}
	points := Earned(prog, eligible, prog.Tiers[tierIndex(prog, acc.Tier)].MultiplierBP)
	acc, _, err = post(ctx, tx, acc, posting{
		kind: loyaltyentry.KindEARN, points: points, qualPoints: points, qualSpend: eligible,
		at: sl.OccurredAt, expiresAt: expiry(prog, sl.OccurredAt),
		saleID: &sl.ID, staffID: &sl.CashierID, version: &prog.Version,
	})
	if err != nil {
		return err
	}
	return s.upgrade(ctx, tx, acc, prog)
}

// upgrade moves acc up to the tier its rolling basis reaches under p, if
// that is higher than the one it holds; the tier is reviewed 12 months on.
func (s *Service) upgrade(ctx context.Context, tx *ent.Tx, acc *ent.LoyaltyAccount, p *ent.LoyaltyProgramVersion) error {
	if tierIndex(p, acc.Tier) == len(p.Tiers)-1 {
		return nil // the top tier: nowhere to go, no basis to sum
	}
	now := s.now()
	basis, err := tierBasis(ctx, tx.Client(), acc, p.TierBasis, now)
	if err != nil {
		return err
	}
	to := qualified(p, basis)
	if to <= tierIndex(p, acc.Tier) {
		return nil
	}
	err = tx.LoyaltyAccount.UpdateOne(acc).SetTier(p.Tiers[to].Name).SetTierSince(now).
		SetTierReviewAt(now.AddDate(0, tierYear, 0)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("moving up a tier: %w", err)
	}
	return nil
}

// tierBases is what the entries of accounts ids add to the tier basis
// (points earned or net spend) in the 12 months up to at, by account.
func tierBases(ctx context.Context, client *ent.Client, ids []pulid.ID, basis loyaltytype.TierBasis, at time.Time) (map[pulid.ID]int64, error) {
	col := loyaltyentry.FieldQualifyingPoints
	if basis == loyaltytype.BasisSpend {
		col = loyaltyentry.FieldQualifyingSpend
	}
	return sumBy(ctx, client.LoyaltyEntry.Query().Where(loyaltyentry.AccountIDIn(ids...),
		loyaltyentry.OccurredAtGT(at.AddDate(0, -tierYear, 0)), loyaltyentry.OccurredAtLTE(at)), col)
}

// tierBasis is tierBases for acc alone.
func tierBasis(ctx context.Context, client *ent.Client, acc *ent.LoyaltyAccount, basis loyaltytype.TierBasis, at time.Time) (int64, error) {
	bases, err := tierBases(ctx, client, []pulid.ID{acc.ID}, basis, at)
	return bases[acc.ID], err
}
