package backup

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/db"
)

// ErrNotEmpty is returned when the target already holds data.
var ErrNotEmpty = errors.New("the target database is not empty")

// ErrMerchantFile is returned when a one-merchant export is given to a
// full restore, which would leave a deployment holding one merchant.
var ErrMerchantFile = errors.New("this is a one-merchant export, not a full backup: import it with till merchant import")

// ErrDamaged is returned when a backup's content does not match its
// manifest: cut short, edited, or not a Till backup.
var ErrDamaged = errors.New("backup is damaged")

// RestoreOptions shape a restore.
type RestoreOptions struct {
	// SchemaVersion, when set, is the schema the target holds; a backup of
	// another version is refused.
	SchemaVersion string
	// Replace empties a non-empty target first (in the same transaction).
	Replace bool
	// Into lets rows join a target that holds other data (a merchant
	// import); Replace is ignored. Integer keys a sequence feeds are left
	// to the target's sequence, as the backup's would collide with its own.
	Into bool
	// Edit may change a row's values before they are inserted.
	Edit func(table string, columns []string, values []any) error
	// Check runs in the restore's transaction once the header is read,
	// before any row is written; an error aborts the restore.
	Check func(ctx context.Context, tx *sql.Tx, m Manifest) error
}

// batchParams bounds the parameters of one INSERT, under SQLite's 32,766
// and PostgreSQL's 65,535.
const batchParams = 30000

// Load reads an unencrypted backup stream into d in one transaction,
// checking every table's count and checksum against the manifest; on any
// mismatch nothing is written.
func Load(ctx context.Context, d *db.DB, r io.Reader, opts RestoreOptions) (Manifest, error) {
	tables, err := schemaPlan()
	if err != nil {
		return Manifest{}, err
	}
	byName := make(map[string]*table, len(tables))
	for _, t := range tables {
		byName[t.Name] = t
	}
	lr := &lineReader{r: bufio.NewReaderSize(r, 1<<16)}
	var head control
	if err := lr.control(&head); err != nil || head.Manifest == nil {
		return Manifest{}, fmt.Errorf("%w: no manifest at the start (%v)", ErrDamaged, err)
	}
	m := *head.Manifest
	if m.Format != Format {
		return m, fmt.Errorf("backup format %d; this version of Till reads format %d", m.Format, Format)
	}
	if m.MerchantID != "" && !opts.Into {
		return m, ErrMerchantFile
	}
	if opts.SchemaVersion != "" && m.SchemaVersion != opts.SchemaVersion {
		return m, fmt.Errorf("backup has schema version %s, the target %s", m.SchemaVersion, opts.SchemaVersion)
	}
	tx, err := d.SQL.BeginTx(ctx, nil)
	if err != nil {
		return m, fmt.Errorf("starting the restore: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback()
		}
	}()
	if opts.Check != nil {
		if err := opts.Check(ctx, tx, m); err != nil {
			return m, err
		}
	}
	if !opts.Into {
		if err := prepareTarget(ctx, tx, d.Dialect, tables, opts.Replace); err != nil {
			return m, err
		}
	}
	l := &loader{tx: tx, dialect: d.Dialect, edit: opts.Edit, into: opts.Into}
	var sums []TableSum
	for {
		var c control
		if err := lr.control(&c); err != nil {
			return m, fmt.Errorf("%w: %v", ErrDamaged, err)
		}
		if c.Manifest != nil {
			if err := sameSums(sums, c.Manifest.Tables); err != nil {
				return m, err
			}
			m.Tables = sums
			break
		}
		t, ok := byName[c.Table]
		if !ok {
			return m, fmt.Errorf("backup holds table %q, which this version of Till does not know", c.Table)
		}
		sum, err := l.table(ctx, t, c.Columns, lr)
		if err != nil {
			return m, fmt.Errorf("restoring table %s: %w", c.Table, err)
		}
		sums = append(sums, sum)
	}
	if err := l.finish(ctx, byName); err != nil {
		return m, err
	}
	if err := tx.Commit(); err != nil {
		return m, fmt.Errorf("committing the restore: %w", err)
	}
	committed = true
	return m, nil
}

// prepareTarget refuses a target holding rows, or empties it on Replace:
// deferred references are cleared first so the deletes, children first,
// never trip a foreign key.
func prepareTarget(ctx context.Context, tx *sql.Tx, dialectName string, tables []*table, replace bool) error {
	var full []*table
	for _, t := range tables {
		q, args := entsql.Dialect(dialectName).Select().SelectExpr(entsql.Expr("1")).From(entsql.Table(t.Name)).Limit(1).Query()
		var one int
		switch err := tx.QueryRowContext(ctx, q, args...).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("checking table %s is empty: %w", t.Name, err)
		default:
			full = append(full, t)
		}
	}
	if len(full) == 0 {
		return nil
	}
	if !replace {
		return fmt.Errorf("%w: table %s has rows (restore with replace to empty it first)", ErrNotEmpty, full[0].Name)
	}
	for _, t := range full {
		for _, i := range t.deferred {
			q, args := entsql.Dialect(dialectName).Update(t.Name).SetNull(t.columns[i].Name).Query()
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("emptying table %s: %w", t.Name, err)
			}
		}
	}
	for _, t := range slices.Backward(full) {
		q, args := entsql.Dialect(dialectName).Delete(t.Name).Query()
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("emptying table %s: %w", t.Name, err)
		}
	}
	return nil
}

func sameSums(have, want []TableSum) error {
	if !slices.Equal(have, want) {
		return fmt.Errorf("%w: the tables read do not match the manifest", ErrDamaged)
	}
	return nil
}

// lineReader reads the stream's lines.
type lineReader struct {
	r *bufio.Reader
}

func (lr *lineReader) line() ([]byte, error) {
	line, err := lr.r.ReadBytes('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return line, nil
}

func (lr *lineReader) control(c *control) error {
	line, err := lr.line()
	if err != nil {
		return err
	}
	return json.Unmarshal(line, c)
}

// loader inserts rows in batches and remembers deferred references.
type loader struct {
	tx      *sql.Tx
	dialect string
	edit    func(string, []string, []any) error
	into    bool
	later   []deferredSet
}

type deferredSet struct {
	table  *table
	key    []any
	column string
	value  any
}

func (l *loader) table(ctx context.Context, t *table, cols []column, lr *lineReader) (TableSum, error) {
	index := make(map[string]int, len(t.columns))
	for i, c := range t.columns {
		index[c.Name] = i
	}
	// Columns of the backup, mapped onto the target's.
	target := make([]int, len(cols))
	names := make([]string, len(cols))
	for i, c := range cols {
		j, ok := index[c.Name]
		if !ok {
			return TableSum{}, fmt.Errorf("backup has column %s, the table does not", c.Name)
		}
		if t.columns[j].Kind != c.Kind {
			return TableSum{}, fmt.Errorf("column %s is %s in the backup, %s here", c.Name, c.Kind, t.columns[j].Kind)
		}
		target[i], names[i] = j, c.Name
	}
	deferred := make([]bool, len(cols))
	for i := range cols {
		deferred[i] = slices.Contains(t.deferred, target[i])
	}
	keyAt := make([]int, len(t.key))
	for k, j := range t.key {
		keyAt[k] = slices.Index(target, j)
		if keyAt[k] < 0 {
			return TableSum{}, fmt.Errorf("backup lacks key column %s", t.columns[j].Name)
		}
	}
	// Joining other data, a sequence-fed key is dropped from the insert so
	// the target numbers the row; nothing may refer to such a key.
	renumber := l.into && t.autoIncrement
	if renumber && (t.referenced || len(t.deferred) > 0) {
		return TableSum{}, fmt.Errorf("table %s has a sequence-fed key other rows refer to, which an import cannot renumber", t.Name)
	}
	insertNames := names
	if renumber {
		insertNames = slices.Delete(slices.Clone(names), keyAt[0], keyAt[0]+1)
	}
	perBatch := max(1, batchParams/len(cols))
	batch := make([][]any, 0, perBatch)
	// Full batches reuse one prepared statement, made when the first one
	// fills: parsing a statement of thousands of placeholders per batch
	// costs SQLite a fifth of a restore.
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	args := make([]any, 0, perBatch*len(cols))
	sum := sha256.New()
	var rows int64
	for {
		line, err := lr.line()
		if err != nil {
			return TableSum{}, fmt.Errorf("%w: %v", ErrDamaged, err)
		}
		if line[0] != '[' {
			var c control
			if err := json.Unmarshal(line, &c); err != nil || c.End == nil || c.End.Name != t.Name {
				return TableSum{}, fmt.Errorf("%w: table %s does not end where it should", ErrDamaged, t.Name)
			}
			if len(batch) > 0 {
				if _, err := l.tx.ExecContext(ctx, insertQuery(l.dialect, t.Name, insertNames, len(batch)), flatten(args[:0], batch)...); err != nil {
					return TableSum{}, err
				}
			}
			got := TableSum{Name: t.Name, Rows: rows, SHA256: hex.EncodeToString(sum.Sum(nil))}
			if got != *c.End {
				return TableSum{}, fmt.Errorf("%w: table %s has %d rows summing to %s, its manifest says %d and %s",
					ErrDamaged, t.Name, got.Rows, got.SHA256, c.End.Rows, c.End.SHA256)
			}
			return got, nil
		}
		sum.Write(line)
		rows++
		values, err := decodeRow(line, cols)
		if err != nil {
			return TableSum{}, fmt.Errorf("%w: row %d: %v", ErrDamaged, rows, err)
		}
		if l.edit != nil {
			if err := l.edit(t.Name, names, values); err != nil {
				return TableSum{}, err
			}
		}
		for i, v := range values {
			if deferred[i] && v != nil {
				key := make([]any, len(keyAt))
				for k, at := range keyAt {
					key[k] = values[at]
				}
				l.later = append(l.later, deferredSet{table: t, key: key, column: names[i], value: v})
				values[i] = nil
			}
		}
		if renumber {
			values = slices.Delete(values, keyAt[0], keyAt[0]+1)
		}
		batch = append(batch, values)
		if len(batch) == perBatch {
			if full == nil {
				if full, err = l.tx.PrepareContext(ctx, insertQuery(l.dialect, t.Name, insertNames, perBatch)); err != nil {
					return TableSum{}, err
				}
			}
			if _, err := full.ExecContext(ctx, flatten(args[:0], batch)...); err != nil {
				return TableSum{}, err
			}
			batch = batch[:0]
		}
	}
}

func decodeRow(line []byte, cols []column) ([]any, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var cells []any
	if err := dec.Decode(&cells); err != nil {
		return nil, err
	}
	if len(cells) != len(cols) {
		return nil, fmt.Errorf("%d values for %d columns", len(cells), len(cols))
	}
	for i, c := range cols {
		v, err := decodeValue(c.Kind, cells[i])
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		cells[i] = v
	}
	return cells, nil
}

// insertQuery is an INSERT of rows rows of cols into table.
func insertQuery(dialectName, table string, cols []string, rows int) string {
	ins := entsql.Dialect(dialectName).Insert(table).Columns(cols...)
	// Any non-nil value becomes a placeholder (nil would be written NULL).
	placeholders := make([]any, len(cols))
	for i := range placeholders {
		placeholders[i] = 0
	}
	for range rows {
		ins.Values(placeholders...)
	}
	q, _ := ins.Query()
	return q
}

// flatten lays batch's rows out as one INSERT's arguments, handing JSON
// to the driver as text: SQLite would keep bytes as a blob, and ent reads
// JSON columns as text.
func flatten(args []any, batch [][]any) []any {
	for _, values := range batch {
		for _, v := range values {
			if raw, ok := v.(json.RawMessage); ok {
				v = string(raw)
			}
			args = append(args, v)
		}
	}
	return args
}

// finish sets the deferred references and moves PostgreSQL's sequences
// past the restored integer keys.
func (l *loader) finish(ctx context.Context, tables map[string]*table) error {
	for _, s := range l.later {
		u := entsql.Dialect(l.dialect).Update(s.table.Name).Set(s.column, s.value)
		preds := make([]*entsql.Predicate, len(s.table.key))
		for k, i := range s.table.key {
			preds[k] = entsql.EQ(s.table.columns[i].Name, s.key[k])
		}
		q, args := u.Where(entsql.And(preds...)).Query()
		if _, err := l.tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("restoring %s.%s: %w", s.table.Name, s.column, err)
		}
	}
	if l.dialect != dialect.Postgres {
		return nil
	}
	for _, t := range tables {
		if !t.autoIncrement {
			continue
		}
		key := t.columns[t.key[0]].Name
		q := fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%[1]s', '%[2]s'), MAX(%[2]q)) FROM %[1]q HAVING MAX(%[2]q) IS NOT NULL`, t.Name, key)
		if _, err := l.tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("advancing the key sequence of %s: %w", t.Name, err)
		}
	}
	return nil
}
