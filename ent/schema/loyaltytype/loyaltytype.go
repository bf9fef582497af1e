// Package loyaltytype holds the value types of the loyalty tables that are
// not plain columns: a program's rounding rule, what its tiers are earned
// by, and the tiers themselves.
package loyaltytype

import (
	"fmt"
	"io"
	"slices"
	"strconv"
)

// Tier is one member tier of a program: reached when the rolling
// 12-month basis (points earned, or net spend) comes to Threshold; points
// earned in it are multiplied by MultiplierBP basis points (10000 = ×1).
// A program's first tier is its base tier, of threshold 0.
type Tier struct {
	Name         string `json:"name"`
	Threshold    int64  `json:"threshold"`
	MultiplierBP int    `json:"multiplierBp"`
}

// DefaultTiers are a new program's tiers: MEMBER, SILVER at 1000 (×1.25)
// and GOLD at 5000 (×1.5).
func DefaultTiers() []Tier {
	return []Tier{
		{Name: "MEMBER", Threshold: 0, MultiplierBP: 10000},
		{Name: "SILVER", Threshold: 1000, MultiplierBP: 12500},
		{Name: "GOLD", Threshold: 5000, MultiplierBP: 15000},
	}
}

// Rounding is how a program rounds the points a sale earns.
type Rounding string

// The rounding rules.
const (
	RoundDown    Rounding = "DOWN"
	RoundNearest Rounding = "NEAREST"
	RoundUp      Rounding = "UP"
)

// Values lists the rounding rules, for ent's enum column.
func (Rounding) Values() []string {
	return []string{string(RoundDown), string(RoundNearest), string(RoundUp)}
}

// MarshalGQL writes the rule as a GraphQL enum value.
func (r Rounding) MarshalGQL(w io.Writer) { marshal(w, string(r)) }

// UnmarshalGQL reads a GraphQL enum value.
func (r *Rounding) UnmarshalGQL(v any) error {
	s, err := unmarshal(v, r.Values(), "LoyaltyRounding")
	*r = Rounding(s)
	return err
}

// TierBasis is what a program's tiers are reached by, over a rolling 12
// months: the points earned, or the net spend.
type TierBasis string

// The tier bases.
const (
	BasisPoints TierBasis = "POINTS"
	BasisSpend  TierBasis = "SPEND"
)

// Values lists the tier bases, for ent's enum column.
func (TierBasis) Values() []string {
	return []string{string(BasisPoints), string(BasisSpend)}
}

// MarshalGQL writes the basis as a GraphQL enum value.
func (b TierBasis) MarshalGQL(w io.Writer) { marshal(w, string(b)) }

// UnmarshalGQL reads a GraphQL enum value.
func (b *TierBasis) UnmarshalGQL(v any) error {
	s, err := unmarshal(v, b.Values(), "LoyaltyTierBasis")
	*b = TierBasis(s)
	return err
}

func marshal(w io.Writer, s string) { _, _ = io.WriteString(w, strconv.Quote(s)) }

func unmarshal(v any, values []string, name string) (string, error) {
	s, ok := v.(string)
	if !ok || !slices.Contains(values, s) {
		return "", fmt.Errorf("%v is not a valid %s", v, name)
	}
	return s, nil
}
