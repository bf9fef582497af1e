// Package saletype holds the value types of the sales tables that are not
// plain columns: risk actions, and the risk hits and granted discounts kept
// with each sale.
package saletype

import (
	"fmt"
	"io"
	"slices"
	"strconv"
)

// RiskHit is one risk rule that matched a sale: the rule's name, what it
// decided (FLAG or DECLINE), and why, for the reviewer.
type RiskHit struct {
	Rule   string     `json:"rule"`
	Action RiskAction `json:"action"`
	Detail string     `json:"detail"`
}

// RiskAction is what a merchant's risk rule does when it matches a sale.
type RiskAction string

// The risk actions.
const (
	RiskOff     RiskAction = "OFF"
	RiskFlag    RiskAction = "FLAG"
	RiskDecline RiskAction = "DECLINE"
)

// Values lists the risk actions, for ent's enum column.
func (RiskAction) Values() []string {
	return []string{string(RiskOff), string(RiskFlag), string(RiskDecline)}
}

// MarshalGQL writes the action as a GraphQL enum value.
func (a RiskAction) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(string(a)))
}

// UnmarshalGQL reads a GraphQL enum value.
func (a *RiskAction) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || !slices.Contains(a.Values(), s) {
		return fmt.Errorf("%v is not a valid RiskAction", v)
	}
	*a = RiskAction(s)
	return nil
}
