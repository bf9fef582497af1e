package settlement

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tillpos/till/ent/schema/settletype"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/money"
)

// Bounds on a statement: the file fits in a request, and its lines in one
// reconciliation.
const (
	maxStatementBytes = 1 << 20
	maxStatementLines = 50_000
	// maxLineErrors is how many unreadable lines one error lists.
	maxLineErrors = 20
)

// statementRow is one line of a statement as the layout reads it.
type statementRow struct {
	line      int
	reference string
	amount    int64
	date      *string
	fee       *int64
}

// parseStatement reads a statement with layout, its amounts in currency
// code's minor units. Unreadable lines are BAD_USER_INPUT on csv, naming
// each line (the first maxLineErrors).
func parseStatement(text string, layout settletype.StatementLayout, code string) ([]statementRow, error) {
	if len(text) > maxStatementBytes {
		return nil, errs.Invalid("csv", "a statement is at most %d MiB (the request limit)", maxStatementBytes>>20)
	}
	comma, err := delimiter(layout)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(text, "\uFEFF")))
	r.Comma, r.FieldsPerRecord, r.TrimLeadingSpace, r.ReuseRecord = comma, -1, true, true
	cols, err := columns(r, layout)
	if err != nil {
		return nil, err
	}
	scale := money.Scale(code)
	var rows []statementRow
	var bad []string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			bad = append(bad, fmt.Sprintf("line %d: %v", perr.Line, perr.Err))
			if len(bad) >= maxLineErrors {
				break
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading statement: %w", err)
		}
		line, _ := r.FieldPos(0)
		if len(rows) >= maxStatementLines {
			return nil, errs.Invalid("csv", "a statement has at most %d lines", maxStatementLines)
		}
		row, err := cols.row(rec, layout.AmountFormat, scale)
		if err != nil {
			bad = append(bad, fmt.Sprintf("line %d: %v", line, err))
			if len(bad) >= maxLineErrors {
				break
			}
			continue
		}
		row.line = line
		rows = append(rows, row)
	}
	if len(bad) > 0 {
		return nil, errs.Invalid("csv", "unreadable lines: %s", strings.Join(bad, "; "))
	}
	if len(rows) == 0 {
		return nil, errs.Invalid("csv", "the statement has no lines")
	}
	return rows, nil
}

// columnIndexes are where a statement's fields are, -1 for none.
type columnIndexes struct{ reference, amount, date, fee int }

// columns finds the layout's columns: by name in the header row, or by
// number.
func columns(r *csv.Reader, layout settletype.StatementLayout) (columnIndexes, error) {
	var header map[string]int
	if layout.HasHeader {
		rec, err := r.Read()
		if err != nil {
			return columnIndexes{}, errs.Invalid("csv", "line 1: no header row: %v", err)
		}
		header = make(map[string]int, len(rec))
		for i, name := range rec {
			header[strings.ToLower(strings.TrimSpace(name))] = i
		}
	}
	find := func(col *string) (int, error) {
		if col == nil {
			return -1, nil
		}
		if header == nil {
			return columnNumber(*col) - 1, nil
		}
		i, ok := header[strings.ToLower(*col)]
		if !ok {
			return 0, errs.Invalid("csv", "line 1: the header has no column %q", *col)
		}
		return i, nil
	}
	var c columnIndexes
	var err error
	for _, f := range []struct {
		dst *int
		col *string
	}{{&c.reference, &layout.ReferenceColumn}, {&c.amount, &layout.AmountColumn}, {&c.date, layout.DateColumn}, {&c.fee, layout.FeeColumn}} {
		if *f.dst, err = find(f.col); err != nil {
			return c, err
		}
	}
	return c, nil
}

// row reads one record.
func (c columnIndexes) row(rec []string, format settletype.AmountFormat, scale int) (statementRow, error) {
	get := func(i int) string {
		if i < 0 || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	row := statementRow{reference: get(c.reference)}
	if row.reference == "" || len(row.reference) > 128 {
		return row, errors.New("a reference is 1 to 128 characters")
	}
	var err error
	if row.amount, err = ParseAmount(get(c.amount), format, scale); err != nil {
		return row, fmt.Errorf("amount: %w", err)
	}
	if c.date >= 0 {
		d, err := parseDate(get(c.date))
		if err != nil {
			return row, err
		}
		row.date = &d
	}
	if c.fee >= 0 && get(c.fee) != "" {
		fee, err := ParseAmount(get(c.fee), format, scale)
		if err != nil {
			return row, fmt.Errorf("fee: %w", err)
		}
		row.fee = &fee
	}
	return row, nil
}

// ParseAmount reads an amount in minor units: as written (MINOR, "1234"),
// or in major units with at most scale decimals (DECIMAL, "12.34" is 1234
// at scale 2). A sign is allowed; thousands separators are not.
func ParseAmount(s string, format settletype.AmountFormat, scale int) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	whole, frac, dotted := strings.Cut(digits, ".")
	switch {
	case whole == "" && frac == "":
		return 0, fmt.Errorf("%q is not an amount", s)
	case dotted && format == settletype.AmountMinor:
		return 0, fmt.Errorf("%q has decimals; the layout's amounts are in minor units", s)
	case len(frac) > scale:
		return 0, fmt.Errorf("%q has more than %d decimals", s, scale)
	case len(whole)+scale > 15:
		return 0, fmt.Errorf("%q is too large", s)
	case !allDigits(whole) || !allDigits(frac) || (dotted && frac == ""):
		return 0, fmt.Errorf("%q is not an amount", s)
	}
	if format == settletype.AmountMinor {
		scale = 0
	}
	v, _ := strconv.ParseInt("0"+whole+frac+strings.Repeat("0", scale-len(frac)), 10, 64)
	if neg {
		v = -v
	}
	return v, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// parseDate reads a statement date: YYYY-MM-DD, or an RFC 3339 time (its
// date as written).
func parseDate(s string) (string, error) {
	if _, err := time.Parse(time.DateOnly, s); err == nil {
		return s, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return "", fmt.Errorf("date %q is not YYYY-MM-DD", s)
	}
	return t.Format(time.DateOnly), nil
}

// columnNumber is a 1-based column number, or 0.
func columnNumber(col string) int {
	n, err := strconv.Atoi(col)
	if err != nil || n < 1 || n > 1000 {
		return 0
	}
	return n
}

// delimiter is the layout's field delimiter: one character, a comma by
// default.
func delimiter(l settletype.StatementLayout) (rune, error) {
	if l.Delimiter == nil || *l.Delimiter == "" {
		return ',', nil
	}
	d, size := utf8.DecodeRuneInString(*l.Delimiter)
	if size != len(*l.Delimiter) || d == '"' || d == '\r' || d == '\n' || d == utf8.RuneError {
		return 0, errs.Invalid("statement.delimiter", "a delimiter is one character, not a quote or line break")
	}
	return d, nil
}
