package loyalty

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/loyaltyprogramversion"
	"github.com/tillpos/till/ent/predicate"
	"github.com/tillpos/till/ent/schema/loyaltytype"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
)

// Bounds of a program's rules.
const (
	maxPointsPerUnit = 1_000_000
	maxUnitAmount    = 1_000_000_000
	maxExpiryMonths  = 120
	maxTiers         = 10
	// maxMultiplierBP is ×10.
	maxMultiplierBP = 100_000
	// baseBP is a multiplier of ×1.
	baseBP = 10_000
	// maxVersions bounds the history LoyaltyProgram.versions lists.
	maxVersions = 100
)

// earningTypes are the tender types a program may let earn: not an
// exchange's credit, which is goods given back.
var earningTypes = []tender.Type{tender.TypeCASH, tender.TypeCARD, tender.TypeMOBILE_WALLET, tender.TypeSTORED_VALUE, tender.TypeLOYALTY}

// ProgramPatch changes a merchant's program: each field given replaces the
// current version's (or, for the first version, the default's).
type ProgramPatch struct {
	Enabled        *bool                  `json:"enabled,omitempty"`
	PointsPerUnit  *int64                 `json:"pointsPerUnit,omitempty"`
	UnitAmount     *int64                 `json:"unitAmount,omitempty"`
	Rounding       *loyaltytype.Rounding  `json:"rounding,omitempty"`
	MinSpend       *int64                 `json:"minSpend,omitempty"`
	EarningTenders []tender.Type          `json:"earningTenders,omitempty"`
	ExpiryMonths   *int                   `json:"expiryMonths,omitempty"`
	PointValue     *int64                 `json:"pointValue,omitempty"`
	Tiers          []loyaltytype.Tier     `json:"tiers,omitempty"`
	TierBasis      *loyaltytype.TierBasis `json:"tierBasis,omitempty"`
}

// defaultProgram is the program a merchant's first version patches: 1
// point per 100 minor units, rounded down, earned by cash, card and
// wallet payments, never expiring, no LOYALTY tender, the default tiers by
// points earned.
func defaultProgram() *ent.LoyaltyProgramVersion {
	return &ent.LoyaltyProgramVersion{
		Enabled: true, PointsPerUnit: 1, UnitAmount: 100, Rounding: loyaltytype.RoundDown,
		EarningTenders: []string{string(tender.TypeCASH), string(tender.TypeCARD), string(tender.TypeMOBILE_WALLET)},
		Tiers:          loyaltytype.DefaultTiers(), TierBasis: loyaltytype.BasisPoints,
	}
}

// apply is p's rules with patch's changes, checked.
func (patch ProgramPatch) apply(p *ent.LoyaltyProgramVersion) (*ent.LoyaltyProgramVersion, error) {
	next := *p
	set := func(dst *int64, src *int64) {
		if src != nil {
			*dst = *src
		}
	}
	if patch.Enabled != nil {
		next.Enabled = *patch.Enabled
	}
	set(&next.PointsPerUnit, patch.PointsPerUnit)
	set(&next.UnitAmount, patch.UnitAmount)
	set(&next.MinSpend, patch.MinSpend)
	set(&next.PointValue, patch.PointValue)
	if patch.Rounding != nil {
		next.Rounding = *patch.Rounding
	}
	if patch.ExpiryMonths != nil {
		next.ExpiryMonths = *patch.ExpiryMonths
	}
	if patch.TierBasis != nil {
		next.TierBasis = *patch.TierBasis
	}
	if patch.EarningTenders != nil {
		next.EarningTenders = []string{}
		for i, t := range patch.EarningTenders {
			if !slices.Contains(earningTypes, t) {
				return nil, errs.Invalid(fmt.Sprintf("earningTenders[%d]", i), "%s payments cannot earn points", t)
			}
			if !slices.Contains(next.EarningTenders, string(t)) {
				next.EarningTenders = append(next.EarningTenders, string(t))
			}
		}
	}
	if patch.Tiers != nil {
		next.Tiers = make([]loyaltytype.Tier, len(patch.Tiers))
		for i, t := range patch.Tiers {
			t.Name = strings.ToUpper(strings.TrimSpace(t.Name))
			next.Tiers[i] = t
		}
	}
	switch {
	case next.PointsPerUnit < 0 || next.PointsPerUnit > maxPointsPerUnit:
		return nil, errs.Invalid("pointsPerUnit", "points per unit are 0 to %d", maxPointsPerUnit)
	case next.UnitAmount < 1 || next.UnitAmount > maxUnitAmount:
		return nil, errs.Invalid("unitAmount", "a unit is 1 to %d minor units", maxUnitAmount)
	case next.MinSpend < 0 || next.MinSpend > maxPoints:
		return nil, errs.Invalid("minSpend", "a minimum spend is 0 to %d", int64(maxPoints))
	case next.PointValue < 0 || next.PointValue > maxUnitAmount:
		return nil, errs.Invalid("pointValue", "a point's value is 0 to %d minor units", maxUnitAmount)
	case next.ExpiryMonths < 0 || next.ExpiryMonths > maxExpiryMonths:
		return nil, errs.Invalid("expiryMonths", "points expire after 0 (never) to %d months", maxExpiryMonths)
	}
	return &next, checkTiers(next.Tiers)
}

// checkTiers checks a program's tiers: 1 to maxTiers, named once each, the
// first of threshold 0, thresholds rising, multipliers ×0 to ×10.
func checkTiers(tiers []loyaltytype.Tier) error {
	if len(tiers) == 0 || len(tiers) > maxTiers {
		return errs.Invalid("tiers", "a program has 1 to %d tiers", maxTiers)
	}
	for i, t := range tiers {
		f := fmt.Sprintf("tiers[%d]", i)
		switch {
		case t.Name == "" || len(t.Name) > 40:
			return errs.Invalid(f+".name", "a tier's name is 1 to 40 characters")
		case slices.IndexFunc(tiers, func(o loyaltytype.Tier) bool { return o.Name == t.Name }) < i:
			return errs.Invalid(f+".name", "tier %s is named twice", t.Name)
		case i == 0 && t.Threshold != 0:
			return errs.Invalid(f+".threshold", "the first tier is the base tier, of threshold 0")
		case i > 0 && t.Threshold <= tiers[i-1].Threshold:
			return errs.Invalid(f+".threshold", "thresholds rise from tier to tier")
		case t.Threshold > maxPoints:
			return errs.Invalid(f+".threshold", "a threshold is at most %d", int64(maxPoints))
		case t.MultiplierBP < 0 || t.MultiplierBP > maxMultiplierBP:
			return errs.Invalid(f+".multiplierBp", "a multiplier is 0 to %d basis points", maxMultiplierBP)
		}
	}
	return nil
}

// UpdateProgram writes the next version of the caller's merchant's
// program, effective now: the current rules with patch's changes (OWNER
// only, audited). Sales that happened before now keep earning under the
// versions they happened under.
//
// Errors: FORBIDDEN (not the owner), BAD_USER_INPUT (a rule out of
// range), CONFLICT (another change was written at the same moment).
func (s *Service) UpdateProgram(ctx context.Context, patch ProgramPatch) (*ent.LoyaltyProgramVersion, error) {
	v, err := staffViewer(ctx, viewer.RoleOwner)
	if err != nil {
		return nil, err
	}
	var written *ent.LoyaltyProgramVersion
	err = db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		cur, err := latest(ctx, tx.Client(), v.MerchantID)
		if err != nil {
			return err
		}
		base, version := defaultProgram(), 1
		if cur != nil {
			base, version = cur, cur.Version+1
		}
		next, err := patch.apply(base)
		if err != nil {
			return err
		}
		now := s.now()
		if cur != nil && !now.After(cur.EffectiveFrom) {
			now = cur.EffectiveFrom.Add(time.Microsecond)
		}
		written, err = tx.LoyaltyProgramVersion.Create().
			SetVersion(version).SetEffectiveFrom(now).SetStaffID(v.ID).
			SetEnabled(next.Enabled).SetPointsPerUnit(next.PointsPerUnit).SetUnitAmount(next.UnitAmount).
			SetRounding(next.Rounding).SetMinSpend(next.MinSpend).SetEarningTenders(next.EarningTenders).
			SetExpiryMonths(next.ExpiryMonths).SetPointValue(next.PointValue).SetTiers(next.Tiers).
			SetTierBasis(next.TierBasis).
			Save(ctx)
		if ent.IsConstraintError(err) {
			return errs.Newf(errs.Conflict, "the program was changed at the same moment; read it again")
		}
		if err != nil {
			return fmt.Errorf("writing loyalty program: %w", err)
		}
		return audit.Record(ctx, tx.Client(), audit.Entry{
			Action: "loyalty.program_updated", TargetType: "LoyaltyProgramVersion", TargetID: written.ID,
			Details: map[string]any{"version": version, "patch": patch},
		})
	})
	if err != nil {
		return nil, err
	}
	return written.Unwrap(), nil
}

// Program is the caller's merchant's program as it stands: its latest
// version, or nil when it has none.
//
// Errors: FORBIDDEN (not staff).
func (s *Service) Program(ctx context.Context) (*ent.LoyaltyProgramVersion, error) {
	v, err := staffViewer(ctx)
	if err != nil {
		return nil, err
	}
	return latest(ctx, s.db, v.MerchantID)
}

// Versions are the versions of p's program, newest first (at most
// maxVersions).
func (s *Service) Versions(ctx context.Context, p *ent.LoyaltyProgramVersion) ([]*ent.LoyaltyProgramVersion, error) {
	found, err := s.db.LoyaltyProgramVersion.Query().
		Where(loyaltyprogramversion.MerchantID(p.MerchantID)).
		Order(ent.Desc(loyaltyprogramversion.FieldVersion)).
		Limit(maxVersions).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading loyalty program versions: %w", err)
	}
	return found, nil
}

// latest is merchantID's latest program version, nil when it has none.
func latest(ctx context.Context, client *ent.Client, merchantID pulid.ID) (*ent.LoyaltyProgramVersion, error) {
	return latestWhere(ctx, client, merchantID)
}

// programAt is the version of merchantID's program in force at t: the
// latest effective by then; nil when there was none.
func programAt(ctx context.Context, client *ent.Client, merchantID pulid.ID, t time.Time) (*ent.LoyaltyProgramVersion, error) {
	return latestWhere(ctx, client, merchantID, loyaltyprogramversion.EffectiveFromLTE(t))
}

// latestWhere is merchantID's latest program version of those where
// picks, nil when there is none.
func latestWhere(ctx context.Context, client *ent.Client, merchantID pulid.ID, where ...predicate.LoyaltyProgramVersion) (*ent.LoyaltyProgramVersion, error) {
	p, err := client.LoyaltyProgramVersion.Query().
		Where(loyaltyprogramversion.MerchantID(merchantID)).
		Where(where...).
		Order(ent.Desc(loyaltyprogramversion.FieldVersion)).
		First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading loyalty program: %w", err)
	}
	return p, nil
}

// running is the program in force at t, or BAD_USER_INPUT naming field
// when the merchant has none or it is switched off.
func running(ctx context.Context, client *ent.Client, merchantID pulid.ID, t time.Time, field string) (*ent.LoyaltyProgramVersion, error) {
	p, err := programAt(ctx, client, merchantID, t)
	if err != nil {
		return nil, err
	}
	if p == nil || !p.Enabled {
		return nil, errs.Invalid(field, "no loyalty program runs here")
	}
	return p, nil
}

// expiry is when points credited at t under p expire; nil: never.
func expiry(p *ent.LoyaltyProgramVersion, t time.Time) *time.Time {
	if p == nil || p.ExpiryMonths == 0 {
		return nil
	}
	at := t.AddDate(0, p.ExpiryMonths, 0)
	return &at
}
