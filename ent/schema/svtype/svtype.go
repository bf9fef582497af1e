// Package svtype holds the value types of the stored value tables that are
// not plain columns: the merchant's top-up bonus tiers, and the tier a
// top-up was given its bonus by.
package svtype

// BonusTier is one step of a merchant's top-up bonus: a top-up of at least
// MinAmount gets Bonus on top (pay 500, get 550), or PercentBP basis points
// of its amount, rounded down and capped at MaxBonus when that is set.
type BonusTier struct {
	MinAmount int64  `json:"minAmount"`
	Bonus     *int64 `json:"bonus,omitempty"`
	PercentBP *int   `json:"percentBp,omitempty"`
	MaxBonus  *int64 `json:"maxBonus,omitempty"`
}
