package exports

import (
	"archive/zip"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/tillpos/till/ent/exportjob"
)

// sheet is where rows go: a CSV or an XLSX file.
type sheet interface {
	header(cols []string) error
	row(cells []cell) error
	// close finishes the file on the writer it was made with.
	close() error
}

func newSheet(format exportjob.Format, w io.Writer) (sheet, error) {
	switch format {
	case exportjob.FormatCSV:
		return &csvSheet{w: csv.NewWriter(w)}, nil
	case exportjob.FormatXLSX:
		return newXLSXSheet(w)
	}
	return nil, fmt.Errorf("unknown export format %q", format)
}

// ContentType is the media type of a file in format.
func ContentType(format exportjob.Format) string {
	if format == exportjob.FormatXLSX {
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "text/csv; charset=utf-8"
}

type csvSheet struct {
	w   *csv.Writer
	rec []string
}

func (s *csvSheet) header(cols []string) error {
	return s.w.Write(cols)
}

func (s *csvSheet) row(cells []cell) error {
	s.rec = s.rec[:0]
	for _, c := range cells {
		s.rec = append(s.rec, c.String())
	}
	return s.w.Write(s.rec)
}

func (s *csvSheet) close() error {
	s.w.Flush()
	return s.w.Error()
}

// xlsxSheet writes through excelize's StreamWriter, which keeps a bounded
// buffer of rows in memory and spills the rest to a temporary file; the
// finished workbook is then zipped straight onto the writer.
type xlsxSheet struct {
	w      io.Writer
	f      *excelize.File
	sw     *excelize.StreamWriter
	styles map[int]int // money style per currency scale
	n      int
	vals   []any
}

const xlsxSheetName = "Sales"

func newXLSXSheet(w io.Writer) (*xlsxSheet, error) {
	f := excelize.NewFile()
	if err := f.SetSheetName("Sheet1", xlsxSheetName); err != nil {
		return nil, fmt.Errorf("naming sheet: %w", err)
	}
	sw, err := f.NewStreamWriter(xlsxSheetName)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("starting xlsx stream: %w", err)
	}
	return &xlsxSheet{w: w, f: f, sw: sw, styles: map[int]int{}}, nil
}

func (s *xlsxSheet) header(cols []string) error {
	vals := make([]any, len(cols))
	for i, c := range cols {
		vals[i] = c
	}
	return s.write(vals)
}

func (s *xlsxSheet) row(cells []cell) error {
	s.vals = s.vals[:0]
	for _, c := range cells {
		switch c.kind {
		case intCell:
			s.vals = append(s.vals, c.num)
		case moneyCell:
			style, err := s.moneyStyle(c.scale)
			if err != nil {
				return err
			}
			// A double holds every amount below 2^53 minor units exactly
			// enough to print back to the same decimal.
			s.vals = append(s.vals, excelize.Cell{StyleID: style, Value: float64(c.num) / math.Pow10(c.scale)})
		default:
			s.vals = append(s.vals, c.String())
		}
	}
	return s.write(s.vals)
}

func (s *xlsxSheet) write(vals []any) error {
	s.n++
	cellName, err := excelize.CoordinatesToCellName(1, s.n)
	if err != nil {
		return err
	}
	if err := s.sw.SetRow(cellName, vals); err != nil {
		return fmt.Errorf("writing xlsx row %d: %w", s.n, err)
	}
	return nil
}

// moneyStyle shows amounts with their currency's decimals.
func (s *xlsxSheet) moneyStyle(scale int) (int, error) {
	if id, ok := s.styles[scale]; ok {
		return id, nil
	}
	format := "0"
	if scale > 0 {
		format += "." + strings.Repeat("0", scale)
	}
	id, err := s.f.NewStyle(&excelize.Style{CustomNumFmt: &format})
	if err != nil {
		return 0, fmt.Errorf("making xlsx money style: %w", err)
	}
	s.styles[scale] = id
	return id, nil
}

func (s *xlsxSheet) close() error {
	defer s.f.Close() // removes the spilled temporary files
	if err := s.sw.Flush(); err != nil {
		return fmt.Errorf("finishing xlsx stream: %w", err)
	}
	// excelize assembles the zip in a bytes.Buffer (as big as the file)
	// unless its zip writer is given another destination: ours writes
	// straight onto s.w, and the buffer it hands back stays empty. (The
	// buffer is only patched for parts over 4 GiB, which a sheet of sales
	// does not reach.)
	s.f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zip.NewWriter(s.w) })
	if _, err := s.f.WriteTo(io.Discard); err != nil {
		return fmt.Errorf("writing xlsx: %w", err)
	}
	return nil
}
