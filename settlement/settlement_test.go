package settlement

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/ent/schema/settletype"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/money"
	"github.com/tillpos/till/internal/ptr"
)

func TestFee(t *testing.T) {
	for _, c := range []struct {
		name        string
		amount      int64
		bp          int
		fixed, want int64
	}{
		{"exact", 10000, 250, 0, 250},
		{"half rounds up", 50, 100, 0, 1},         // 0.5
		{"below half rounds down", 49, 100, 0, 0}, // 0.49
		{"above half rounds up", 151, 100, 0, 2},  // 1.51
		{"fixed added", 1000, 60, 30, 36},
		{"zero rate", 1234, 0, 5, 5},
		{"large amount in 128 bits", 1_000_000_000_000, 10000, 0, 1_000_000_000_000},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, Fee(c.amount, c.bp, c.fixed))
		})
	}
}

func TestParseAmount(t *testing.T) {
	for _, c := range []struct {
		in     string
		format settletype.AmountFormat
		scale  int
		want   int64
		bad    bool
	}{
		{"12.34", settletype.AmountDecimal, 2, 1234, false},
		{"12.3", settletype.AmountDecimal, 2, 1230, false},
		{"12", settletype.AmountDecimal, 2, 1200, false},
		{".50", settletype.AmountDecimal, 2, 50, false},
		{"-5.00", settletype.AmountDecimal, 2, -500, false},
		{"1200", settletype.AmountDecimal, 0, 1200, false},
		{"1234", settletype.AmountMinor, 2, 1234, false},
		{"-75", settletype.AmountMinor, 2, -75, false},
		{"12.345", settletype.AmountDecimal, 2, 0, true},
		{"12.5", settletype.AmountDecimal, 0, 0, true},
		{"12.34", settletype.AmountMinor, 2, 0, true},
		{"1,234.00", settletype.AmountDecimal, 2, 0, true},
		{"12.", settletype.AmountDecimal, 2, 0, true},
		{"", settletype.AmountDecimal, 2, 0, true},
		{"abc", settletype.AmountMinor, 2, 0, true},
		{"9999999999999999", settletype.AmountMinor, 2, 0, true},
	} {
		t.Run(c.in+"/"+string(c.format), func(t *testing.T) {
			got, err := ParseAmount(c.in, c.format, c.scale)
			if c.bad {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

func TestCurrencyScale(t *testing.T) {
	require.Equal(t, 2, money.Scale("CNY"))
	require.Equal(t, 2, money.Scale("USD"))
	require.Equal(t, 0, money.Scale("JPY"))
}

func TestParseStatementWithHeader(t *testing.T) {
	layout := settletype.StatementLayout{
		ReferenceColumn: "Txn Ref", AmountColumn: "Amount", DateColumn: ptr.To("Settled"), FeeColumn: ptr.To("Fee"),
		AmountFormat: settletype.AmountDecimal, Delimiter: ptr.To(";"), HasHeader: true,
	}
	rows, err := parseStatement("\uFEFFSettled;Txn Ref;Amount;Fee\n2026-12-01;R-1;12.34;0.07\n\n2026-12-02T09:00:00+08:00; R-2 ;-5;\n", layout, "CNY")
	require.NoError(t, err)
	require.Equal(t, []statementRow{
		{line: 2, reference: "R-1", amount: 1234, date: ptr.To("2026-12-01"), fee: ptr.To(int64(7))},
		{line: 4, reference: "R-2", amount: -500, date: ptr.To("2026-12-02")},
	}, rows)
}

func TestParseStatementByColumnNumber(t *testing.T) {
	layout := settletype.StatementLayout{ReferenceColumn: "2", AmountColumn: "1", AmountFormat: settletype.AmountMinor}
	rows, err := parseStatement("1800,A\n\"250\",\"B,1\"\n", layout, "JPY")
	require.NoError(t, err)
	require.Equal(t, []statementRow{{line: 1, reference: "A", amount: 1800}, {line: 2, reference: "B,1", amount: 250}}, rows)
}

func TestParseStatementNamesUnreadableLines(t *testing.T) {
	layout := settletype.StatementLayout{ReferenceColumn: "ref", AmountColumn: "amount", AmountFormat: settletype.AmountDecimal, HasHeader: true}
	_, err := parseStatement("ref,amount\nA,1.00\nB,1.001\n,2.00\nC,\"3\n", layout, "CNY")
	e, ok := errs.As(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, errs.BadUserInput, e.Code)
	require.Equal(t, "csv", e.Field)
	require.Contains(t, e.Message, "line 3: amount:")
	require.Contains(t, e.Message, "line 4: a reference")
	require.Contains(t, e.Message, "line 5:")
	require.NotContains(t, e.Message, "line 2")

	_, err = parseStatement("reference,amount\nA,1\n", layout, "CNY")
	require.ErrorContains(t, err, `line 1: the header has no column "ref"`)
}

func TestParseStatementBounds(t *testing.T) {
	layout := settletype.StatementLayout{ReferenceColumn: "1", AmountColumn: "2", AmountFormat: settletype.AmountMinor}
	_, err := parseStatement(string(make([]byte, maxStatementBytes+1)), layout, "CNY")
	require.ErrorContains(t, err, "at most 1 MiB")
	_, err = parseStatement("", layout, "CNY")
	require.ErrorContains(t, err, "no lines")
}

func TestCheckLayout(t *testing.T) {
	ok := settletype.StatementLayout{ReferenceColumn: " ref ", AmountColumn: "amt", AmountFormat: settletype.AmountMinor, HasHeader: true}
	got, err := checkLayout(ok)
	require.NoError(t, err)
	require.Equal(t, "ref", got.ReferenceColumn)
	for field, l := range map[string]settletype.StatementLayout{
		"statement.referenceColumn": {AmountColumn: "2", AmountFormat: settletype.AmountMinor},
		"statement.amountColumn":    {ReferenceColumn: "1", AmountColumn: "amount", AmountFormat: settletype.AmountMinor},
		"statement.amountFormat":    {ReferenceColumn: "1", AmountColumn: "2"},
		"statement.delimiter":       {ReferenceColumn: "1", AmountColumn: "2", AmountFormat: settletype.AmountMinor, Delimiter: ptr.To(`"`)},
	} {
		_, err := checkLayout(l)
		e, ok := errs.As(err)
		require.True(t, ok, "%s: %v", field, err)
		require.Equal(t, field, e.Field)
	}
}
