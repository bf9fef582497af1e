package loyalty

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/loyaltytype"
	"github.com/tillpos/till/ent/tender"
)

func TestEarned(t *testing.T) {
	t.Parallel()
	prog := func(r loyaltytype.Rounding, ppu, unit, minSpend int64) *ent.LoyaltyProgramVersion {
		p := defaultProgram()
		p.Rounding, p.PointsPerUnit, p.UnitAmount, p.MinSpend = r, ppu, unit, minSpend
		return p
	}
	tests := []struct {
		name     string
		p        *ent.LoyaltyProgramVersion
		eligible int64
		bp       int
		want     int64
	}{
		{"1 per ¥1, rounded down", prog(loyaltytype.RoundDown, 1, 100, 0), 1899, baseBP, 18},
		{"rounded to nearest, down", prog(loyaltytype.RoundNearest, 1, 100, 0), 1849, baseBP, 18},
		{"rounded to nearest, half up", prog(loyaltytype.RoundNearest, 1, 100, 0), 1850, baseBP, 19},
		{"rounded up", prog(loyaltytype.RoundUp, 1, 100, 0), 1801, baseBP, 19},
		{"exact needs no rounding up", prog(loyaltytype.RoundUp, 1, 100, 0), 1800, baseBP, 18},
		{"under the minimum spend", prog(loyaltytype.RoundDown, 1, 100, 2000), 1999, baseBP, 0},
		{"at the minimum spend", prog(loyaltytype.RoundDown, 1, 100, 2000), 2000, baseBP, 20},
		{"nothing eligible", prog(loyaltytype.RoundDown, 1, 100, 0), 0, baseBP, 0},
		{"×1.25, down: 18 → 22.5", prog(loyaltytype.RoundDown, 1, 100, 0), 1800, 12500, 22},
		{"×1.25, nearest: 18 → 22.5", prog(loyaltytype.RoundNearest, 1, 100, 0), 1800, 12500, 23},
		{"×1.5, up: 17 → 25.5", prog(loyaltytype.RoundUp, 1, 100, 0), 1700, 15000, 26},
		{"5 points per ¥10: 29.99 × 5 / 10", prog(loyaltytype.RoundDown, 5, 1000, 0), 2999, baseBP, 14},
		{"no overflow on a huge sale", prog(loyaltytype.RoundDown, maxPointsPerUnit, 1, 0), maxPoints, maxMultiplierBP, maxPoints},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Earned(tt.p, tt.eligible, tt.bp))
		})
	}
}

func TestEligible(t *testing.T) {
	t.Parallel()
	p := defaultProgram()
	tenders := []*ent.Tender{
		{Type: tender.TypeEXCHANGE, Amount: 500},
		{Type: tender.TypeCASH, Amount: 700, Change: 300},
		{Type: tender.TypeSTORED_VALUE, Amount: 1000},
		{Type: tender.TypeCARD, Amount: 250},
		{Type: tender.TypeLOYALTY, Amount: 100},
	}
	require.Equal(t, int64(950), Eligible(p, tenders), "cash (net of change, as its amount is) and card; not stored value, points or exchange credit")
	p.EarningTenders = append(p.EarningTenders, string(tender.TypeSTORED_VALUE))
	require.Equal(t, int64(1950), Eligible(p, tenders))
}

func TestTiers(t *testing.T) {
	t.Parallel()
	p := defaultProgram()
	require.Equal(t, 0, qualified(p, 999))
	require.Equal(t, 1, qualified(p, 1000))
	require.Equal(t, 2, qualified(p, 1_000_000))
	require.Equal(t, 2, tierIndex(p, "GOLD"))
	require.Equal(t, 0, tierIndex(p, "PLATINUM"), "a tier the program no longer has counts as the base tier")
	require.Error(t, checkTiers([]loyaltytype.Tier{{Name: "A", Threshold: 10, MultiplierBP: baseBP}}), "the base tier's threshold is 0")
	require.Error(t, checkTiers([]loyaltytype.Tier{{Name: "A", MultiplierBP: baseBP}, {Name: "B", MultiplierBP: baseBP}}), "thresholds rise")
	require.Error(t, checkTiers([]loyaltytype.Tier{{Name: "A", MultiplierBP: baseBP}, {Name: "A", Threshold: 5, MultiplierBP: baseBP}}), "names once")
	require.NoError(t, checkTiers(loyaltytype.DefaultTiers()))
}

func TestFIFO(t *testing.T) {
	t.Parallel()
	at := func(d int) *time.Time { v := time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC); return &v }
	old, newer := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	never := &ent.LoyaltyLot{ID: "a", CreatedAt: old}
	late := &ent.LoyaltyLot{ID: "b", CreatedAt: old, ExpiresAt: at(9)}
	soonNew := &ent.LoyaltyLot{ID: "c", CreatedAt: newer, ExpiresAt: at(2)}
	soonOld := &ent.LoyaltyLot{ID: "d", CreatedAt: old, ExpiresAt: at(2)}
	lots := []*ent.LoyaltyLot{never, late, soonNew, soonOld}
	sortLots(lots)
	require.Equal(t, []*ent.LoyaltyLot{soonOld, soonNew, late, never}, lots, "first to expire first, then oldest; never-expiring last")
}
