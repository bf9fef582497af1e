package loyalty

import (
	"context"
	sqldb "database/sql"
	"fmt"
	"time"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/loyaltyaccount"
	"github.com/tillpos/till/ent/loyaltyentry"
	"github.com/tillpos/till/ent/loyaltylot"
	"github.com/tillpos/till/ent/schema/pulid"
)

// expiringWithin is how far ahead Standing.ExpiringSoon looks.
const expiringWithin = 30 * 24 * time.Hour

// Standing is a customer's points and tier as they stand: what the
// cashier sees at the counter.
type Standing struct {
	CustomerID pulid.ID
	// AccountID is "" for a customer who never had points.
	AccountID    pulid.ID
	Points       int64
	Tier         string
	TierSince    *time.Time
	TierReviewAt *time.Time
	// NextTier is the tier above, and PointsToNextTier what the rolling
	// basis (points, or spend in minor units) still needs to reach it;
	// nil in the top tier.
	NextTier         *string
	PointsToNextTier *int64
	// ExpiringSoon are the points that expire within 30 days, by the
	// time they expire, soonest first.
	ExpiringSoon []Expiring
	// LifetimePoints are all the points ever earned, less those reversed.
	LifetimePoints int64
}

// Expiring is points that expire at At.
type Expiring struct {
	Points int64
	At     time.Time
}

// Standing is customer id's standing; nil when the merchant has no
// program.
//
// Errors: FORBIDDEN (not staff).
func (s *Service) Standing(ctx context.Context, id pulid.ID) (*Standing, error) {
	got, err := s.Standings(ctx, []pulid.ID{id})
	if err != nil {
		return nil, err
	}
	return got[id], nil
}

// Standings are the standings of customers ids, in a fixed number of
// queries however many there are; none when the merchant has no program.
//
// Errors: FORBIDDEN (not staff).
func (s *Service) Standings(ctx context.Context, ids []pulid.ID) (map[pulid.ID]*Standing, error) {
	v, err := staffViewer(ctx)
	if err != nil {
		return nil, err
	}
	prog, err := latest(ctx, s.db, v.MerchantID)
	if err != nil || prog == nil {
		return map[pulid.ID]*Standing{}, err
	}
	accs, err := s.db.LoyaltyAccount.Query().Where(loyaltyaccount.CustomerIDIn(ids...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading loyalty accounts: %w", err)
	}
	now := s.now()
	accIDs := make([]pulid.ID, len(accs))
	for i, a := range accs {
		accIDs[i] = a.ID
	}
	lifetime, err := sumBy(ctx, s.db.LoyaltyEntry.Query().Where(loyaltyentry.AccountIDIn(accIDs...)), loyaltyentry.FieldQualifyingPoints)
	if err != nil {
		return nil, err
	}
	basis, err := tierBases(ctx, s.db, accIDs, prog.TierBasis, now)
	if err != nil {
		return nil, err
	}
	lots, err := s.db.LoyaltyLot.Query().
		Where(loyaltylot.AccountIDIn(accIDs...), loyaltylot.RemainingGT(0), loyaltylot.ExpiresAtLTE(now.Add(expiringWithin))).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading expiring points: %w", err)
	}
	sortLots(lots)
	out := make(map[pulid.ID]*Standing, len(ids))
	for _, id := range ids {
		out[id] = &Standing{CustomerID: id, Tier: prog.Tiers[0].Name, ExpiringSoon: []Expiring{}}
	}
	for _, a := range accs {
		st := &Standing{CustomerID: a.CustomerID, AccountID: a.ID, Points: a.Points, Tier: a.Tier,
			TierSince: &a.TierSince, TierReviewAt: a.TierReviewAt, LifetimePoints: lifetime[a.ID], ExpiringSoon: []Expiring{}}
		for _, l := range lots {
			switch {
			case l.AccountID != a.ID:
				continue
			case !l.ExpiresAt.After(now):
				// Expired, though the job has not reached it yet: the
				// account's next write expires it.
				st.Points -= l.Remaining
				continue
			}
			if n := len(st.ExpiringSoon); n > 0 && st.ExpiringSoon[n-1].At.Equal(*l.ExpiresAt) {
				st.ExpiringSoon[n-1].Points += l.Remaining
			} else {
				st.ExpiringSoon = append(st.ExpiringSoon, Expiring{Points: l.Remaining, At: *l.ExpiresAt})
			}
		}
		out[a.CustomerID] = st
	}
	for _, st := range out {
		if next := tierIndex(prog, st.Tier) + 1; next < len(prog.Tiers) {
			t := prog.Tiers[next]
			need := max(0, t.Threshold-basis[st.AccountID])
			st.NextTier, st.PointsToNextTier = &t.Name, &need
		}
	}
	return out, nil
}

// sumBy sums col of q's entries by account.
func sumBy(ctx context.Context, q *ent.LoyaltyEntryQuery, col string) (map[pulid.ID]int64, error) {
	var rows []struct {
		AccountID pulid.ID        `json:"account_id"`
		Sum       sqldb.NullInt64 `json:"sum"`
	}
	if err := q.GroupBy(loyaltyentry.FieldAccountID).Aggregate(ent.Sum(col)).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("summing loyalty entries: %w", err)
	}
	out := make(map[pulid.ID]int64, len(rows))
	for _, r := range rows {
		out[r.AccountID] = r.Sum.Int64
	}
	return out, nil
}

// Entries is the ledger of st's account (none for a customer without
// one), for paging.
func (s *Service) Entries(ctx context.Context, st *Standing) (*ent.LoyaltyEntryQuery, error) {
	if _, err := staffViewer(ctx); err != nil {
		return nil, err
	}
	return s.db.LoyaltyEntry.Query().Where(loyaltyentry.AccountID(st.AccountID)), nil
}
