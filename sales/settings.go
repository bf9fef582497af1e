package sales

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/risklistentry"
	"github.com/tillpos/till/ent/salessettings"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/schema/saletype"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/pan"
)

// Settings loads a merchant's sales settings, creating the row with the
// defaults the first time anyone asks.
func Settings(ctx context.Context, client *ent.Client, merchantID pulid.ID) (*ent.SalesSettings, error) {
	st, err := client.SalesSettings.Query().Where(salessettings.MerchantID(merchantID)).Only(ctx)
	if !ent.IsNotFound(err) {
		return st, err
	}
	// Operators read settings too, and may not write tenant rows; the row
	// holds nothing but defaults, so creating it is the system's business.
	sysCtx := viewer.NewSystemContext(ctx, "sales settings defaults")
	err = client.SalesSettings.Create().SetMerchantID(merchantID).
		OnConflict(sql.ConflictColumns(salessettings.FieldMerchantID)).DoNothing().
		Exec(sysCtx)
	if err != nil && !isNoRows(err) {
		return nil, fmt.Errorf("creating sales settings: %w", err)
	}
	return client.SalesSettings.Query().Where(salessettings.MerchantID(merchantID)).Only(ctx)
}

// SettingsPatch changes sales settings; nil leaves a setting as it is.
type SettingsPatch struct {
	PricesIncludeTax            *bool
	AcceptedTenders             []tender.Type
	MaxSaleAmount               *int64
	ClearMaxSaleAmount          bool
	MaxRefundPerCashierDay      *int64
	ClearMaxRefundPerCashierDay bool
	CustomerDailyLimit          *int64
	ClearCustomerDailyLimit     bool
	RefundToCashAllowed         *bool
	LargeTicketAction           *saletype.RiskAction
	LargeTicketFactor           *int
	LargeTicketMinSales         *int
	VelocityAction              *saletype.RiskAction
	VelocityMax                 *int
	VelocityWindowMinutes       *int
	RefundRatioAction           *saletype.RiskAction
	RefundRatioPercent          *int
	RefundRatioMinSales         *int64
	BlacklistAction             *saletype.RiskAction
}

// UpdateSettings changes the caller's merchant's sales settings: OWNER only,
// audited.
func (s *Service) UpdateSettings(ctx context.Context, p SettingsPatch) (*ent.SalesSettings, error) {
	v, err := viewer.Staff(ctx, viewer.RoleOwner)
	if err != nil {
		return nil, err
	}
	current, err := Settings(ctx, s.db, v.MerchantID)
	if err != nil {
		return nil, err
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.SalesSettings, error) {
		upd := tx.SalesSettings.UpdateOne(current)
		m := upd.Mutation()
		if p.PricesIncludeTax != nil {
			m.SetPricesIncludeTax(*p.PricesIncludeTax)
		}
		if p.AcceptedTenders != nil {
			names, err := acceptedTenders(p.AcceptedTenders)
			if err != nil {
				return nil, err
			}
			m.SetAcceptedTenders(names)
		}
		limits := []struct {
			field string
			value *int64
			clear bool
			set   func(int64)
			unset func()
		}{
			{"maxSaleAmount", p.MaxSaleAmount, p.ClearMaxSaleAmount, m.SetMaxSaleAmount, m.ClearMaxSaleAmount},
			{"maxRefundPerCashierDay", p.MaxRefundPerCashierDay, p.ClearMaxRefundPerCashierDay, m.SetMaxRefundPerCashierDay, m.ClearMaxRefundPerCashierDay},
			{"customerDailyLimit", p.CustomerDailyLimit, p.ClearCustomerDailyLimit, m.SetCustomerDailyLimit, m.ClearCustomerDailyLimit},
		}
		for _, l := range limits {
			switch {
			case l.clear && l.value != nil:
				return nil, errs.Invalid(l.field, "set a limit or clear it, not both")
			case l.clear:
				l.unset()
			case l.value != nil && (*l.value <= 0 || *l.value > maxAmount):
				return nil, errs.Invalid(l.field, "a limit is between 1 and %d", int64(maxAmount))
			case l.value != nil:
				l.set(*l.value)
			}
		}
		if p.RefundToCashAllowed != nil {
			m.SetRefundToCashAllowed(*p.RefundToCashAllowed)
		}
		if p.LargeTicketAction != nil {
			m.SetLargeTicketAction(*p.LargeTicketAction)
		}
		if p.VelocityAction != nil {
			m.SetVelocityAction(*p.VelocityAction)
		}
		if p.RefundRatioAction != nil {
			m.SetRefundRatioAction(*p.RefundRatioAction)
		}
		if p.BlacklistAction != nil {
			m.SetBlacklistAction(*p.BlacklistAction)
		}
		numbers := []struct {
			field    string
			value    *int
			min, max int
			set      func(int)
		}{
			{"largeTicketFactor", p.LargeTicketFactor, 2, 1000, m.SetLargeTicketFactor},
			{"largeTicketMinSales", p.LargeTicketMinSales, 1, 1_000_000, m.SetLargeTicketMinSales},
			{"velocityMax", p.VelocityMax, 1, 1000, m.SetVelocityMax},
			{"velocityWindowMinutes", p.VelocityWindowMinutes, 1, 7 * 24 * 60, m.SetVelocityWindowMinutes},
			{"refundRatioPercent", p.RefundRatioPercent, 1, 100, m.SetRefundRatioPercent},
		}
		for _, n := range numbers {
			if n.value == nil {
				continue
			}
			if *n.value < n.min || *n.value > n.max {
				return nil, errs.Invalid(n.field, "must be between %d and %d", n.min, n.max)
			}
			n.set(*n.value)
		}
		if p.RefundRatioMinSales != nil {
			if *p.RefundRatioMinSales < 0 || *p.RefundRatioMinSales > maxAmount {
				return nil, errs.Invalid("refundRatioMinSales", "must be between 0 and %d", int64(maxAmount))
			}
			m.SetRefundRatioMinSales(*p.RefundRatioMinSales)
		}
		st, err := upd.Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("updating sales settings: %w", err)
		}
		return st, audit.Record(ctx, tx.Client(), audit.Entry{
			Action: "sales_settings.updated", TargetType: "SalesSettings", TargetID: st.ID,
			Details: map[string]any{"fields": m.Fields()},
		})
	})
}

// acceptedTenders checks a list of accepted tender types: at least one, no
// repeats, never the internal EXCHANGE.
func acceptedTenders(types []tender.Type) ([]string, error) {
	if len(types) == 0 {
		return nil, errs.Invalid("acceptedTenders", "accept at least one tender type")
	}
	var names []string
	for _, t := range types {
		if t == tender.TypeEXCHANGE {
			return nil, errs.Invalid("acceptedTenders", "EXCHANGE credit is always accepted")
		}
		if !slices.Contains(names, string(t)) {
			names = append(names, string(t))
		}
	}
	return names, nil
}

// AddRiskListEntry blacklists a card or wallet reference, or a customer:
// OWNER or MANAGER, audited. A customer is named by ID and must exist.
func (s *Service) AddRiskListEntry(ctx context.Context, kind risklistentry.Kind, value, reason string) (*ent.RiskListEntry, error) {
	v, err := viewer.Staff(ctx, viewer.RoleOwner, viewer.RoleManager)
	if err != nil {
		return nil, err
	}
	value, reason = strings.TrimSpace(value), strings.TrimSpace(reason)
	switch {
	case value == "" || len(value) > 128:
		return nil, errs.Invalid("value", "a value is 1 to 128 characters")
	case reason == "":
		return nil, errs.Invalid("reason", "say why")
	case kind == risklistentry.KindCARD_REFERENCE && pan.Contains(value):
		return nil, errs.Invalid("value", "this looks like a full card number: use the processor's reference")
	case utf8.RuneCountInString(reason) > maxNoteRunes:
		return nil, errs.Invalid("reason", "at most %d characters", maxNoteRunes)
	}
	if err := pan.Check("reason", reason); err != nil {
		return nil, err
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.RiskListEntry, error) {
		if kind == risklistentry.KindCUSTOMER {
			var id pulid.ID
			if err := id.UnmarshalGQL(value); err != nil || id.Prefix() != "cus" {
				return nil, errs.Invalid("value", "a customer is named by their ID")
			}
			if _, err := customerByID(ctx, tx.Client(), id, "value"); err != nil {
				return nil, err
			}
		}
		e, err := tx.RiskListEntry.Create().SetKind(kind).SetValue(value).SetReason(reason).SetCreatedByID(v.ID).Save(ctx)
		if ent.IsConstraintError(err) {
			return nil, errs.Newf(errs.Conflict, "already on the list")
		}
		if err != nil {
			return nil, fmt.Errorf("adding risk list entry: %w", err)
		}
		return e, audit.Record(ctx, tx.Client(), audit.Entry{
			Action: "risk_list.added", TargetType: "RiskListEntry", TargetID: e.ID,
			Details: map[string]any{"kind": kind, "value": value, "reason": reason},
		})
	})
}

// RemoveRiskListEntry takes an entry off the list: OWNER or MANAGER, audited.
func (s *Service) RemoveRiskListEntry(ctx context.Context, id pulid.ID) (*ent.RiskListEntry, error) {
	if _, err := viewer.Staff(ctx, viewer.RoleOwner, viewer.RoleManager); err != nil {
		return nil, err
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.RiskListEntry, error) {
		e, err := tx.RiskListEntry.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil, &errs.Error{Code: errs.NotFound, Field: "riskListEntryId", Message: "risk list entry not found"}
		}
		if err != nil {
			return nil, fmt.Errorf("loading risk list entry: %w", err)
		}
		if err := tx.RiskListEntry.DeleteOne(e).Exec(ctx); err != nil {
			return nil, fmt.Errorf("removing risk list entry: %w", err)
		}
		return e, audit.Record(ctx, tx.Client(), audit.Entry{
			Action: "risk_list.removed", TargetType: "RiskListEntry", TargetID: e.ID,
			Details: map[string]any{"kind": e.Kind, "value": e.Value},
		})
	})
}
