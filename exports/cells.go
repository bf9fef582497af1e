package exports

import (
	"strconv"
	"strings"

	"github.com/tillpos/till/internal/money"
)

// cell is one value of a row: text, an integer, or an amount of money in
// minor units, which CSV prints as a decimal and XLSX stores as a number.
type cell struct {
	kind  cellKind
	text  string
	num   int64
	scale int
}

type cellKind int

const (
	textCell cellKind = iota
	intCell
	moneyCell
)

func text(s string) cell { return cell{kind: textCell, text: s} }

func integer(n int64) cell { return cell{kind: intCell, num: n} }

func amount(minor int64, scale int) cell { return cell{kind: moneyCell, num: minor, scale: scale} }

// String is the cell as CSV writes it, and as a spreadsheet shows it.
func (c cell) String() string {
	switch c.kind {
	case intCell:
		return strconv.FormatInt(c.num, 10)
	case moneyCell:
		return money.Format(c.num, c.scale)
	default:
		return guard(c.text)
	}
}

// guard defuses formula injection: a spreadsheet runs text that starts
// with = + - @ (or a tab or carriage return, which some strip first) as a
// formula, so such text gets a leading apostrophe, which shows it as text.
// Numbers are cells of their own kind and are never guarded.
func guard(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
