package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"time"
)

// Format is the version of the stream layout inside a backup file.
const Format = 1

// Manifest describes a backup. Its header line carries everything but the
// tables; the last line repeats it with every table's count and checksum.
type Manifest struct {
	Format        int       `json:"format"`
	SchemaVersion string    `json:"schema_version"`
	AppVersion    string    `json:"app_version"`
	Dialect       string    `json:"dialect"`
	CreatedAt     time.Time `json:"created_at"`
	// MerchantID is set on a one-merchant export.
	MerchantID string     `json:"merchant_id,omitempty"`
	Tables     []TableSum `json:"tables,omitempty"`
}

// TableSum is one table's row count and the SHA-256 of its rows as the
// backup encodes them, which do not depend on the engine they came from:
// equal sums mean equal rows.
type TableSum struct {
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
	SHA256 string `json:"sha256"`
}

// Rows is the total row count.
func (m Manifest) Rows() int64 {
	var n int64
	for _, t := range m.Tables {
		n += t.Rows
	}
	return n
}

// The stream is JSON lines: a header {"manifest":…}, then per table a
// {"table":…,"columns":[…]} line, its rows as JSON arrays and an
// {"end":…} line with the table's sum, and last {"manifest":…} in full.
type control struct {
	Manifest *Manifest `json:"manifest,omitempty"`
	Table    string    `json:"table,omitempty"`
	Columns  []column  `json:"columns,omitempty"`
	End      *TableSum `json:"end,omitempty"`
}

// lineWriter writes the stream's lines and sums each table's rows.
type lineWriter struct {
	w    io.Writer
	buf  bytes.Buffer
	enc  *json.Encoder
	sum  hash.Hash
	rows int64
	cell []any
}

func newLineWriter(w io.Writer) *lineWriter {
	lw := &lineWriter{w: w, sum: sha256.New()}
	lw.enc = json.NewEncoder(&lw.buf)
	lw.enc.SetEscapeHTML(false)
	return lw
}

func (lw *lineWriter) control(c control) error {
	lw.buf.Reset()
	if err := lw.enc.Encode(c); err != nil {
		return err
	}
	_, err := lw.w.Write(lw.buf.Bytes())
	return err
}

func (lw *lineWriter) beginTable(name string, cols []column) error {
	lw.sum.Reset()
	lw.rows = 0
	return lw.control(control{Table: name, Columns: cols})
}

// row writes one row of typed values (see encodeValue).
func (lw *lineWriter) row(cols []column, values []any) error {
	lw.cell = lw.cell[:0]
	for i, v := range values {
		e, err := encodeValue(cols[i].Kind, v)
		if err != nil {
			return fmt.Errorf("column %s: %w", cols[i].Name, err)
		}
		lw.cell = append(lw.cell, e)
	}
	lw.buf.Reset()
	if err := lw.enc.Encode(lw.cell); err != nil {
		return err
	}
	lw.sum.Write(lw.buf.Bytes())
	lw.rows++
	_, err := lw.w.Write(lw.buf.Bytes())
	return err
}

func (lw *lineWriter) endTable(name string) (TableSum, error) {
	s := TableSum{Name: name, Rows: lw.rows, SHA256: hex.EncodeToString(lw.sum.Sum(nil))}
	return s, lw.control(control{End: &s})
}

// Values travel as Go values of one type per kind: nil, bool, int64,
// string, []byte, time.Time, and json.RawMessage in canonical form.
// On the wire bytes are base64, times RFC 3339 in UTC to the microsecond
// (PostgreSQL's precision) and JSON a string of sorted-key JSON, since
// PostgreSQL's jsonb reorders what SQLite keeps verbatim.
func encodeValue(k kind, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch k {
	case kindBytes:
		b, ok := v.([]byte)
		if !ok {
			return nil, fmt.Errorf("want bytes, have %T", v)
		}
		return base64.StdEncoding.EncodeToString(b), nil
	case kindTime:
		t, ok := v.(time.Time)
		if !ok {
			return nil, fmt.Errorf("want a time, have %T", v)
		}
		return t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano), nil
	case kindJSON:
		raw, ok := v.(json.RawMessage)
		if !ok {
			return nil, fmt.Errorf("want JSON, have %T", v)
		}
		return string(raw), nil
	}
	return v, nil
}

// decodeValue reverses encodeValue for a value json.Unmarshal produced
// (with UseNumber).
func decodeValue(k kind, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch k {
	case kindBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case kindInt:
		if n, ok := v.(json.Number); ok {
			return n.Int64()
		}
	case kindString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case kindBytes:
		if s, ok := v.(string); ok {
			return base64.StdEncoding.DecodeString(s)
		}
	case kindTime:
		if s, ok := v.(string); ok {
			return time.Parse(time.RFC3339Nano, s)
		}
	case kindJSON:
		if s, ok := v.(string); ok {
			return canonicalJSON([]byte(s))
		}
	default:
		return nil, fmt.Errorf("unknown column type %q", k)
	}
	return nil, fmt.Errorf("a %s column cannot hold %T", k, v)
}

// canonicalJSON re-encodes JSON with sorted keys and no insignificant
// space, keeping numbers as written.
func canonicalJSON(raw []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
