package storedvalue

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/svtype"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/ptr"
)

func TestBonusFor(t *testing.T) {
	t.Parallel()
	tiers, err := checkTiers([]*svtype.BonusTier{
		{MinAmount: 100000, PercentBP: ptr.To(1000), MaxBonus: ptr.To[int64](15000)},
		{MinAmount: 50000, Bonus: ptr.To[int64](5000)},
		{MinAmount: 300000, PercentBP: ptr.To(1250)},
	})
	require.NoError(t, err)
	require.Equal(t, []int64{50000, 100000, 300000}, []int64{tiers[0].MinAmount, tiers[1].MinAmount, tiers[2].MinAmount}, "by minAmount")
	tests := []struct {
		amount, bonus int64
		tier          int // -1: none
	}{
		{49999, 0, -1},
		{50000, 5000, 0},
		{99999, 5000, 0},
		{100000, 10000, 1},
		{120001, 12000, 1}, // rounded down
		{200000, 15000, 1}, // capped
		{300000, 37500, 2},
		{300007, 37500, 2},
	}
	for _, tt := range tests {
		bonus, tier := bonusFor(tiers, tt.amount)
		require.Equal(t, tt.bonus, bonus, "a top-up of %d", tt.amount)
		if tt.tier < 0 {
			require.Nil(t, tier)
		} else {
			require.Equal(t, tiers[tt.tier], *tier)
		}
	}
	bonus, tier := bonusFor(nil, 1_000_000)
	require.Zero(t, bonus)
	require.Nil(t, tier)
}

func TestCheckTiersRefuses(t *testing.T) {
	t.Parallel()
	fixed := func(min, bonus int64) *svtype.BonusTier {
		return &svtype.BonusTier{MinAmount: min, Bonus: &bonus}
	}
	tests := []struct {
		name  string
		tiers []*svtype.BonusTier
		field string
	}{
		{"no start", []*svtype.BonusTier{fixed(0, 10)}, "bonusTiers[0].minAmount"},
		{"two at one amount", []*svtype.BonusTier{fixed(100, 10), fixed(100, 20)}, "bonusTiers[1].minAmount"},
		{"neither bonus nor percentage", []*svtype.BonusTier{{MinAmount: 100}}, "bonusTiers[0]"},
		{"both", []*svtype.BonusTier{{MinAmount: 100, Bonus: ptr.To[int64](1), PercentBP: ptr.To(1)}}, "bonusTiers[0]"},
		{"a zero bonus", []*svtype.BonusTier{fixed(100, 0)}, "bonusTiers[0].bonus"},
		{"over 100%", []*svtype.BonusTier{{MinAmount: 100, PercentBP: ptr.To(10_001)}}, "bonusTiers[0].percentBp"},
		{"a cap on a fixed bonus", []*svtype.BonusTier{{MinAmount: 100, Bonus: ptr.To[int64](1), MaxBonus: ptr.To[int64](1)}}, "bonusTiers[0].maxBonus"},
		{"a zero cap", []*svtype.BonusTier{{MinAmount: 100, PercentBP: ptr.To(1), MaxBonus: ptr.To[int64](0)}}, "bonusTiers[0].maxBonus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkTiers(tt.tiers)
			e, ok := errs.As(err)
			require.True(t, ok, "%v", err)
			require.Equal(t, errs.BadUserInput, e.Code)
			require.Equal(t, tt.field, e.Field)
		})
	}
	many := make([]*svtype.BonusTier, maxTiers+1)
	for i := range many {
		many[i] = fixed(int64(i+1), 1)
	}
	_, err := checkTiers(many)
	require.Equal(t, errs.BadUserInput, errs.CodeOf(err))
}

// Whatever is paid from a balance, its bonus part never outgrows what is
// left, and taking the whole balance takes all of its bonus.
func TestBonusPart(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10_000 {
		balance := 1 + rng.Int64N(maxAmount)
		acc := &ent.StoredValueAccount{Balance: balance, BonusBalance: rng.Int64N(balance + 1)}
		debit := 1 + rng.Int64N(balance)
		part := bonusPart(acc, debit)
		require.GreaterOrEqual(t, part, int64(0))
		require.LessOrEqual(t, part, debit)
		left, leftBonus := balance-debit, acc.BonusBalance-part
		require.GreaterOrEqual(t, leftBonus, int64(0), "%+v less %d", acc, debit)
		require.LessOrEqual(t, leftBonus, left, "%+v less %d", acc, debit)
		require.Equal(t, acc.BonusBalance, bonusPart(acc, balance))
	}
	require.Zero(t, bonusPart(&ent.StoredValueAccount{}, 100))
}
