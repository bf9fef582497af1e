package storedvalue

import (
	"cmp"
	"context"
	sqldb "database/sql"
	"errors"
	"fmt"
	"slices"

	"entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/schema/svtype"
	"github.com/tillpos/till/ent/storedvaluesettings"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/money"
)

// maxTiers bounds a merchant's bonus tiers.
const maxTiers = 20

// Settings returns the caller's merchant's stored value settings (any
// staff: cashiers show the bonus tiers to customers), creating the row
// with the defaults the first time anyone asks.
func (s *Service) Settings(ctx context.Context, merchantID pulid.ID) (*ent.StoredValueSettings, error) {
	if _, err := staffViewer(ctx); err != nil {
		return nil, err
	}
	return settings(ctx, s.db, merchantID)
}

// settings loads a merchant's settings through client (a transaction's,
// for the rules in force when it writes), creating the default row.
func settings(ctx context.Context, client *ent.Client, merchantID pulid.ID) (*ent.StoredValueSettings, error) {
	st, err := client.StoredValueSettings.Query().Where(storedvaluesettings.MerchantID(merchantID)).Only(ctx)
	if !ent.IsNotFound(err) {
		return st, err
	}
	// The row holds nothing but defaults, so creating it is the
	// system's business, whoever asked first.
	err = client.StoredValueSettings.Create().SetMerchantID(merchantID).
		OnConflict(sql.ConflictColumns(storedvaluesettings.FieldMerchantID)).DoNothing().
		Exec(viewer.NewSystemContext(ctx, "stored value settings defaults"))
	if err != nil && !errors.Is(err, sqldb.ErrNoRows) {
		return nil, fmt.Errorf("creating stored value settings: %w", err)
	}
	return client.StoredValueSettings.Query().Where(storedvaluesettings.MerchantID(merchantID)).Only(ctx)
}

// SettingsPatch changes stored value settings; nil leaves a setting as it
// is. BonusTiers replaces the tiers (empty: no bonus).
type SettingsPatch struct {
	BonusTiers             []*svtype.BonusTier `json:"bonusTiers,omitempty"`
	RefundToBalanceAllowed *bool               `json:"refundToBalanceAllowed,omitempty"`
}

// UpdateSettings changes the caller's merchant's settings: OWNER only,
// audited with the settings before and after. A top-up gets the bonus of
// the tiers in force when it is written, and keeps the tier it got.
func (s *Service) UpdateSettings(ctx context.Context, p SettingsPatch) (*ent.StoredValueSettings, error) {
	v, err := staffViewer(ctx, viewer.RoleOwner)
	if err != nil {
		return nil, err
	}
	var tiers []svtype.BonusTier
	if p.BonusTiers != nil {
		if tiers, err = checkTiers(p.BonusTiers); err != nil {
			return nil, err
		}
	}
	if _, err := settings(ctx, s.db, v.MerchantID); err != nil {
		return nil, err
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.StoredValueSettings, error) {
		// Locked, so that two owners' edits at once each audit what the
		// other left.
		q := tx.StoredValueSettings.Query().Where(storedvaluesettings.MerchantID(v.MerchantID))
		if _, err := q.Clone().Select(storedvaluesettings.FieldID).Modify(db.ForUpdate).Strings(ctx); err != nil {
			return nil, fmt.Errorf("locking stored value settings: %w", err)
		}
		before, err := q.Only(ctx)
		if err != nil {
			return nil, fmt.Errorf("loading stored value settings: %w", err)
		}
		upd := tx.StoredValueSettings.UpdateOne(before)
		if p.BonusTiers != nil {
			upd.SetBonusTiers(tiers)
		}
		if p.RefundToBalanceAllowed != nil {
			upd.SetRefundToBalanceAllowed(*p.RefundToBalanceAllowed)
		}
		after, err := upd.Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("updating stored value settings: %w", err)
		}
		return after, audit.Record(ctx, tx.Client(), audit.Entry{
			Action: "storedvalue.settings_updated", TargetType: "StoredValueSettings", TargetID: after.ID,
			Details: map[string]any{
				"before": map[string]any{"bonusTiers": before.BonusTiers, "refundToBalanceAllowed": before.RefundToBalanceAllowed},
				"after":  map[string]any{"bonusTiers": after.BonusTiers, "refundToBalanceAllowed": after.RefundToBalanceAllowed},
			},
		})
	})
}

// checkTiers checks bonus tiers and returns them by minAmount ascending.
// Each starts at a top-up amount of its own and gives a fixed bonus or a
// percentage (capped or not), never both.
func checkTiers(in []*svtype.BonusTier) ([]svtype.BonusTier, error) {
	if len(in) > maxTiers {
		return nil, errs.Invalid("bonusTiers", "at most %d bonus tiers", maxTiers)
	}
	out := make([]svtype.BonusTier, 0, len(in))
	for i, t := range in {
		f := fmt.Sprintf("bonusTiers[%d]", i)
		switch {
		case t.MinAmount < 1 || t.MinAmount > maxAmount:
			return nil, errs.Invalid(f+".minAmount", "a tier starts at a top-up of 1 to %d", int64(maxAmount))
		case slices.ContainsFunc(out, func(o svtype.BonusTier) bool { return o.MinAmount == t.MinAmount }):
			return nil, errs.Invalid(f+".minAmount", "two tiers start at %d", t.MinAmount)
		case (t.Bonus == nil) == (t.PercentBP == nil):
			return nil, errs.Invalid(f, "a tier gives either a bonus or a percentBp")
		case t.Bonus != nil && (*t.Bonus < 1 || *t.Bonus > maxAmount):
			return nil, errs.Invalid(f+".bonus", "a bonus is 1 to %d", int64(maxAmount))
		case t.PercentBP != nil && (*t.PercentBP < 1 || *t.PercentBP > 10_000):
			return nil, errs.Invalid(f+".percentBp", "a percentage is 1 to 10000 basis points")
		case t.MaxBonus != nil && t.PercentBP == nil:
			return nil, errs.Invalid(f+".maxBonus", "only a percentage is capped")
		case t.MaxBonus != nil && (*t.MaxBonus < 1 || *t.MaxBonus > maxAmount):
			return nil, errs.Invalid(f+".maxBonus", "a cap is 1 to %d", int64(maxAmount))
		}
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b svtype.BonusTier) int { return cmp.Compare(a.MinAmount, b.MinAmount) })
	return out, nil
}

// bonusFor is the bonus a top-up of amount gets under tiers (by minAmount
// ascending): that of the highest tier it reaches, and the tier; none
// below the first.
func bonusFor(tiers []svtype.BonusTier, amount int64) (int64, *svtype.BonusTier) {
	var reached *svtype.BonusTier
	for i := range tiers {
		if tiers[i].MinAmount <= amount {
			reached = &tiers[i]
		}
	}
	switch {
	case reached == nil:
		return 0, nil
	case reached.Bonus != nil:
		return *reached.Bonus, reached
	}
	bonus := money.MulDiv(amount, int64(*reached.PercentBP), 10_000)
	if reached.MaxBonus != nil {
		bonus = min(bonus, *reached.MaxBonus)
	}
	return bonus, reached
}
