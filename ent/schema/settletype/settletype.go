// Package settletype holds the value types of the settlement tables that
// are not plain columns: tender channels, a channel's statement layout, and
// what an imported statement's lines matched.
package settletype

import (
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/tillpos/till/ent/schema/pulid"
)

// Channel is where a tender's money settles: cash in the drawer, the card
// acquirer, or one mobile wallet. Stored value, loyalty and exchange credit
// move no money to a bank and have no channel.
type Channel string

// The channels: CASH, CARD and one per wallet of the tender's wallet enum.
const (
	ChannelCash Channel = "CASH"
	ChannelCard Channel = "CARD"
)

// wallets are the mobile wallets, as the tender's wallet column names them.
var wallets = []string{"WECHAT_PAY", "ALIPAY", "APPLE_PAY", "GOOGLE_PAY", "SAMSUNG_PAY", "UNIONPAY_QR", "PAYPAL", "OTHER"}

// Values lists the channels, for ent's enum columns.
func (Channel) Values() []string {
	return append([]string{string(ChannelCash), string(ChannelCard)}, wallets...)
}

// IsWallet reports whether c is a mobile wallet's channel.
func (c Channel) IsWallet() bool { return slices.Contains(wallets, string(c)) }

// MarshalGQL writes the channel as a GraphQL enum value.
func (c Channel) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(c))) }

// UnmarshalGQL reads a GraphQL enum value.
func (c *Channel) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || !slices.Contains(c.Values(), s) {
		return fmt.Errorf("%v is not a valid SettlementChannelName", v)
	}
	*c = Channel(s)
	return nil
}

// AmountFormat is how a statement writes amounts: MINOR units ("1234") or
// DECIMAL major units with the currency's decimals ("12.34").
type AmountFormat string

// The amount formats.
const (
	AmountMinor   AmountFormat = "MINOR"
	AmountDecimal AmountFormat = "DECIMAL"
)

// Values lists the amount formats.
func (AmountFormat) Values() []string { return []string{string(AmountMinor), string(AmountDecimal)} }

// MarshalGQL writes the format as a GraphQL enum value.
func (f AmountFormat) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(f))) }

// UnmarshalGQL reads a GraphQL enum value.
func (f *AmountFormat) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || !slices.Contains(f.Values(), s) {
		return fmt.Errorf("%v is not a valid StatementAmountFormat", v)
	}
	*f = AmountFormat(s)
	return nil
}

// StatementLayout says where a channel's settlement statement (CSV) keeps
// what reconciliation reads. Columns are header names when the file has a
// header row, 1-based column numbers ("3") otherwise.
type StatementLayout struct {
	ReferenceColumn string       `json:"referenceColumn"`
	AmountColumn    string       `json:"amountColumn"`
	DateColumn      *string      `json:"dateColumn,omitempty"`
	FeeColumn       *string      `json:"feeColumn,omitempty"`
	AmountFormat    AmountFormat `json:"amountFormat"`
	// Delimiter is one character; a comma when empty.
	Delimiter *string `json:"delimiter,omitempty"`
	HasHeader bool    `json:"hasHeader"`
}

// Outcome is what reconciling one statement line (or one of our tenders)
// found.
type Outcome string

// The outcomes.
const (
	// OutcomeMatched: a tender of that reference and amount.
	OutcomeMatched Outcome = "MATCHED"
	// OutcomeMissingOurs: no tender of that reference (or it was matched
	// by an earlier line already).
	OutcomeMissingOurs Outcome = "MISSING_ON_OUR_SIDE"
	// OutcomeMissingTheirs: our tender in the statement's dates that no
	// line names.
	OutcomeMissingTheirs Outcome = "MISSING_ON_THEIRS"
	// OutcomeAmountMismatch: a tender of that reference with another amount.
	OutcomeAmountMismatch Outcome = "AMOUNT_MISMATCH"
)

// Values lists the outcomes.
func (Outcome) Values() []string {
	return []string{string(OutcomeMatched), string(OutcomeMissingOurs), string(OutcomeMissingTheirs), string(OutcomeAmountMismatch)}
}

// MarshalGQL writes the outcome as a GraphQL enum value.
func (o Outcome) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(o))) }

// UnmarshalGQL reads a GraphQL enum value.
func (o *Outcome) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || !slices.Contains(o.Values(), s) {
		return fmt.Errorf("%v is not a valid StatementOutcome", v)
	}
	*o = Outcome(s)
	return nil
}

// StatementLine is one reconciled line: a statement line (Line ≥ 1, the
// file's line number) or, for MISSING_ON_THEIRS, one of our tenders (Line 0).
type StatementLine struct {
	Line      int     `json:"line"`
	Outcome   Outcome `json:"outcome"`
	Reference string  `json:"reference"`
	Date      *string `json:"date,omitempty"`
	// TheirAmount is the statement's amount; OurAmount the tender's (its
	// refunded amount, for a negative statement line).
	TheirAmount *int64    `json:"theirAmount,omitempty"`
	OurAmount   *int64    `json:"ourAmount,omitempty"`
	Fee         *int64    `json:"fee,omitempty"`
	TenderID    *pulid.ID `json:"tenderId,omitempty"`
	SaleID      *pulid.ID `json:"saleId,omitempty"`
}

// DayTotal compares a statement's total for one date with what the
// day's settlement records say the channel took.
type DayTotal struct {
	Date            string `json:"date"`
	StatementAmount int64  `json:"statementAmount"`
	// SettledAmount is nil while the day is not closed.
	SettledAmount *int64 `json:"settledAmount,omitempty"`
	Matches       bool   `json:"matches"`
}
