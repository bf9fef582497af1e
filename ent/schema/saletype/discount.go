package saletype

import (
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/tillpos/till/ent/schema/pulid"
)

// Discount is a discount another domain granted a sale: a loyalty reward
// paid with points, or an offer. It is kept with the sale, so that the
// receipt and the books show what each one took.
type Discount struct {
	Kind DiscountKind `json:"kind"`
	// RefID is the reward's or offer's id.
	RefID pulid.ID `json:"refId"`
	// Label is what the receipt prints ("Free coffee").
	Label string `json:"label"`
	// Line is the index of the line discounted (a free product); nil for
	// a discount of the whole order.
	Line   *int  `json:"line,omitempty"`
	Amount int64 `json:"amount"`
	// Flag says which limit the discount went past, granted to a sale made
	// offline (the terminal gave it already); the sale is flagged for
	// review. Empty for a discount within its limits.
	Flag string `json:"flag,omitempty"`
}

// DiscountKind says which domain granted a discount.
type DiscountKind string

// The discount kinds.
const (
	DiscountReward DiscountKind = "REWARD"
	DiscountOffer  DiscountKind = "OFFER"
)

// Values lists the discount kinds.
func (DiscountKind) Values() []string {
	return []string{string(DiscountReward), string(DiscountOffer)}
}

// MarshalGQL writes the kind as a GraphQL enum value.
func (k DiscountKind) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(string(k)))
}

// UnmarshalGQL reads a GraphQL enum value.
func (k *DiscountKind) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || !slices.Contains(k.Values(), s) {
		return fmt.Errorf("%v is not a valid DiscountKind", v)
	}
	*k = DiscountKind(s)
	return nil
}
