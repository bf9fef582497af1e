package customers

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/segmentrules"
	"github.com/tillpos/till/errs"
)

// Rules says how a merchant's customers are scored and named. Each score
// (recency, frequency, monetary) runs 1–5; the four cut points of each
// separate the scores (see score). In QUINTILES mode the cut points are
// recomputed from the merchant's own customers by RefreshSegments; in
// THRESHOLDS mode they are the merchant's.
type Rules struct {
	Mode string
	// RecencyDays: at most [0] days since the last visit scores 5, at most
	// [1] 4, [2] 3, [3] 2, more 1.
	RecencyDays []int
	// FrequencyVisits: at least [3] visits score 5, [2] 4, [1] 3, [0] 2,
	// fewer 1.
	FrequencyVisits []int
	// MonetarySpent is cut like FrequencyVisits, in minor units.
	MonetarySpent []int64
	// NewDays: first seen at most this long ago with at most one visit is NEW.
	NewDays    int
	ComputedAt *time.Time
}

// Modes of Rules.
const (
	ModeQuintiles  = "QUINTILES"
	ModeThresholds = "THRESHOLDS"
)

// DefaultRules are used until a merchant's segments are first computed.
func DefaultRules() Rules {
	return Rules{
		Mode:            ModeQuintiles,
		RecencyDays:     []int{30, 60, 120, 180},
		FrequencyVisits: []int{2, 3, 5, 10},
		MonetarySpent:   []int64{10_000, 30_000, 60_000, 100_000},
		NewDays:         30,
	}
}

func (r Rules) validate() error {
	if r.Mode != ModeQuintiles && r.Mode != ModeThresholds {
		return errs.Invalid("mode", "must be QUINTILES or THRESHOLDS")
	}
	if len(r.RecencyDays) != 4 || !slices.IsSorted(r.RecencyDays) || r.RecencyDays[0] < 0 {
		return errs.Invalid("recencyDays", "must be four ascending day counts")
	}
	if len(r.FrequencyVisits) != 4 || !slices.IsSorted(r.FrequencyVisits) || r.FrequencyVisits[0] < 1 {
		return errs.Invalid("frequencyVisits", "must be four ascending visit counts, from 1")
	}
	if len(r.MonetarySpent) != 4 || !slices.IsSorted(r.MonetarySpent) || r.MonetarySpent[0] < 0 {
		return errs.Invalid("monetarySpent", "must be four ascending amounts")
	}
	if r.NewDays < 1 || r.NewDays > 365 {
		return errs.Invalid("newDays", "must be 1 to 365")
	}
	return nil
}

// scoreUp is 5 for value at or above cuts[3], down to 1 below cuts[0].
func scoreUp[T int | int64](value T, cuts []T) int {
	score := 1
	for _, c := range cuts {
		if value >= c {
			score++
		}
	}
	return score
}

// Classify scores a customer at now and names their segment.
func (r Rules) Classify(c *ent.Customer, now time.Time) (segment customer.Segment, rfm string) {
	firstSeen := c.CreatedAt
	if c.FirstVisitAt != nil {
		firstSeen = *c.FirstVisitAt
	}
	isNew := c.VisitsCount <= 1 && now.Sub(firstSeen) <= time.Duration(r.NewDays)*24*time.Hour
	if c.LastVisitAt == nil {
		if isNew {
			return customer.SegmentNEW, ""
		}
		return customer.SegmentOCCASIONAL, ""
	}
	days := int(now.Sub(*c.LastVisitAt) / (24 * time.Hour))
	recency := 1
	for i, cut := range r.RecencyDays {
		if days <= cut {
			recency = 5 - i
			break
		}
	}
	frequency := scoreUp(c.VisitsCount, r.FrequencyVisits)
	monetary := scoreUp(c.TotalSpent, r.MonetarySpent)
	rfm = fmt.Sprintf("%d%d%d", recency, frequency, monetary)
	switch {
	case isNew:
		return customer.SegmentNEW, rfm
	case recency == 1:
		return customer.SegmentLOST, rfm
	case recency <= 2 && frequency >= 3:
		return customer.SegmentAT_RISK, rfm
	case monetary == 5 && recency >= 3:
		return customer.SegmentHIGH_VALUE, rfm
	case frequency >= 4 && recency >= 4:
		return customer.SegmentLOYAL, rfm
	}
	return customer.SegmentOCCASIONAL, rfm
}

// loadRules returns a merchant's rules, or the defaults.
func loadRules(ctx context.Context, client *ent.Client, merchantID pulid.ID) (Rules, error) {
	row, err := client.SegmentRules.Query().Where(segmentrules.MerchantID(merchantID)).Only(ctx)
	if ent.IsNotFound(err) {
		return DefaultRules(), nil
	}
	if err != nil {
		return Rules{}, fmt.Errorf("loading segment rules: %w", err)
	}
	return Rules{
		Mode: string(row.Mode), RecencyDays: row.RecencyDays, FrequencyVisits: row.FrequencyVisits,
		MonetarySpent: row.MonetarySpent, NewDays: row.NewDays, ComputedAt: row.ComputedAt,
	}, nil
}

// saveRules writes a merchant's rules.
func saveRules(ctx context.Context, client *ent.Client, merchantID pulid.ID, r Rules) error {
	err := client.SegmentRules.Create().
		SetMerchantID(merchantID).SetMode(segmentrules.Mode(r.Mode)).
		SetRecencyDays(r.RecencyDays).SetFrequencyVisits(r.FrequencyVisits).SetMonetarySpent(r.MonetarySpent).
		SetNewDays(r.NewDays).SetNillableComputedAt(r.ComputedAt).
		OnConflictColumns(segmentrules.FieldMerchantID).
		UpdateMode().UpdateRecencyDays().UpdateFrequencyVisits().UpdateMonetarySpent().UpdateNewDays().UpdateComputedAt().UpdateUpdatedAt().
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("saving segment rules: %w", err)
	}
	return nil
}

// SegmentRules returns the caller's merchant's rules.
func (s *Service) SegmentRules(ctx context.Context) (Rules, error) {
	v, err := staffViewer(ctx)
	if err != nil {
		return Rules{}, err
	}
	return loadRules(ctx, s.db, v.MerchantID)
}

// UpdateCustomerSegmentRules sets the caller's merchant's rules and recomputes its
// segments at once. OWNER or MANAGER; audited. In QUINTILES mode the cut
// points given are replaced by the computed ones.
func (s *Service) UpdateCustomerSegmentRules(ctx context.Context, r Rules) (Rules, error) {
	v, err := staffViewer(ctx, managers...)
	if err != nil {
		return Rules{}, err
	}
	if err := r.validate(); err != nil {
		return Rules{}, err
	}
	r.ComputedAt = nil
	err = db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		if err := saveRules(ctx, tx.Client(), v.MerchantID, r); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Client(), audit.Entry{Action: "customers.segment_rules_updated", TargetType: "Merchant", TargetID: v.MerchantID,
			Details: map[string]any{"mode": r.Mode, "newDays": r.NewDays}})
	})
	if err != nil {
		return Rules{}, err
	}
	// Rescoring runs in batches of its own, as the daily job does: the
	// rules are kept even if it fails, and the job finishes it.
	return s.RefreshSegments(ctx, v.MerchantID)
}

// segments in the order the dashboard lists them.
var segments = []customer.Segment{
	customer.SegmentNEW, customer.SegmentLOYAL, customer.SegmentHIGH_VALUE,
	customer.SegmentAT_RISK, customer.SegmentLOST, customer.SegmentOCCASIONAL,
}

// SegmentCount is how many active customers a segment holds.
type SegmentCount struct {
	Segment customer.Segment
	Count   int
}

// SegmentCounts counts the caller's merchant's active customers per
// segment, every segment listed (zero included), for the dashboard.
func (s *Service) SegmentCounts(ctx context.Context) ([]*SegmentCount, error) {
	if _, err := staffViewer(ctx); err != nil {
		return nil, err
	}
	totals, err := s.segmentTotals(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*SegmentCount, len(totals))
	for i, t := range totals {
		out[i] = &SegmentCount{Segment: t.Segment, Count: t.Count}
	}
	return out, nil
}

// rescoreBatch is how many customers RefreshSegments reads at a time.
const rescoreBatch = 1000

// RefreshSegments recomputes a merchant's cut points (in QUINTILES mode)
// and every active customer's segment; recency moves with the calendar, so
// a scheduled job runs it daily. It runs as a system job, so every query
// names the merchant.
func (s *Service) RefreshSegments(ctx context.Context, merchantID pulid.ID) (Rules, error) {
	ctx = viewer.NewSystemContext(ctx, "customer-segments")
	now := s.now()
	rules, err := loadRules(ctx, s.db, merchantID)
	if err != nil {
		return Rules{}, err
	}
	if rules.Mode == ModeQuintiles {
		if err := s.quintiles(ctx, merchantID, now, &rules); err != nil {
			return Rules{}, err
		}
	}
	after := pulid.ID("")
	for {
		page, err := s.db.Customer.Query().
			Where(customer.MerchantID(merchantID), customer.StatusEQ(customer.StatusACTIVE), customer.IDGT(after)).
			Order(ent.Asc(customer.FieldID)).Limit(rescoreBatch).
			All(ctx)
		if err != nil {
			return Rules{}, fmt.Errorf("reading customers: %w", err)
		}
		if len(page) == 0 {
			break
		}
		changed := map[[2]string][]pulid.ID{}
		for _, c := range page {
			seg, rfm := rules.Classify(c, now)
			if seg != c.Segment || rfm != c.Rfm {
				key := [2]string{string(seg), rfm}
				changed[key] = append(changed[key], c.ID)
			}
		}
		for key, ids := range changed {
			err := s.db.Customer.Update().Where(customer.IDIn(ids...)).
				SetSegment(customer.Segment(key[0])).SetRfm(key[1]).Exec(ctx)
			if err != nil {
				return Rules{}, fmt.Errorf("updating segments: %w", err)
			}
		}
		after = page[len(page)-1].ID
	}
	rules.ComputedAt = &now
	return rules, saveRules(ctx, s.db, merchantID, rules)
}

// quintiles sets rules' cut points to the values that split the merchant's
// active, visiting customers into fifths on each score.
func (s *Service) quintiles(ctx context.Context, merchantID pulid.ID, now time.Time, rules *Rules) error {
	visiting := s.db.Customer.Query().Where(
		customer.MerchantID(merchantID), customer.StatusEQ(customer.StatusACTIVE), customer.LastVisitAtNotNil())
	n, err := visiting.Clone().Count(ctx)
	if err != nil {
		return fmt.Errorf("counting customers: %w", err)
	}
	if n < 5 {
		return nil // too few to split; keep the cut points as they are
	}
	// The customer at each fifth, best first: for cut k (1..4) the one at
	// offset n*k/5 - 1 in descending order of the score's measure.
	at := func(field string, k int) (*ent.Customer, error) {
		return visiting.Clone().Order(ent.Desc(field), ent.Asc(customer.FieldID)).Offset(n*k/5 - 1).First(ctx)
	}
	for k := 1; k <= 4; k++ {
		c, err := at(customer.FieldLastVisitAt, k)
		if err != nil {
			return fmt.Errorf("computing recency cut: %w", err)
		}
		rules.RecencyDays[k-1] = int(now.Sub(*c.LastVisitAt) / (24 * time.Hour))
		if c, err = at(customer.FieldVisitsCount, k); err != nil {
			return fmt.Errorf("computing frequency cut: %w", err)
		}
		rules.FrequencyVisits[4-k] = max(c.VisitsCount, 1)
		if c, err = at(customer.FieldTotalSpent, k); err != nil {
			return fmt.Errorf("computing monetary cut: %w", err)
		}
		rules.MonetarySpent[4-k] = c.TotalSpent
	}
	return nil
}
