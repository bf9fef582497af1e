package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/db"
)

// Options shape a dump.
type Options struct {
	AppVersion string
	// SchemaVersion is recorded in the manifest; empty means the
	// database's own (it may be behind this binary's, before migrating).
	SchemaVersion string
	// MerchantID marks the manifest of a one-merchant export.
	MerchantID string
	// Scope narrows the rows read from a table; it returns false to leave
	// the table out. Nil takes every row of every table.
	Scope func(table string) (where *entsql.Predicate, ok bool)
	// Edit may change a row's values before they are written (in place);
	// values are as described at encodeValue.
	Edit func(table string, columns []string, values []any) error
	// Now stamps the manifest; nil means time.Now.
	Now func() time.Time
}

// Dump writes a logical snapshot of every table to w, unencrypted, read
// in one transaction: a repeatable-read snapshot on PostgreSQL, a WAL read
// snapshot on SQLite. Neither blocks writers while it runs.
func Dump(ctx context.Context, d *db.DB, w io.Writer, opts Options) (Manifest, error) {
	tables, err := schemaPlan()
	if err != nil {
		return Manifest{}, err
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if opts.SchemaVersion == "" {
		st, err := d.MigrationStatus(ctx)
		if err != nil {
			return Manifest{}, fmt.Errorf("reading the schema version: %w", err)
		}
		opts.SchemaVersion = st.Current
	}
	m := Manifest{
		Format: Format, SchemaVersion: opts.SchemaVersion, AppVersion: opts.AppVersion,
		Dialect: d.Dialect, CreatedAt: now().UTC().Truncate(time.Second), MerchantID: opts.MerchantID,
	}
	txOpts := &sql.TxOptions{ReadOnly: true}
	if d.Dialect == dialect.Postgres {
		txOpts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := d.SQL.BeginTx(ctx, txOpts)
	if err != nil {
		return m, fmt.Errorf("starting the snapshot: %w", err)
	}
	// A read-only transaction has nothing to commit.
	defer tx.Rollback() //nolint:errcheck

	lw := newLineWriter(w)
	header := m
	if err := lw.control(control{Manifest: &header}); err != nil {
		return m, err
	}
	for _, t := range tables {
		where, ok := (*entsql.Predicate)(nil), true
		if opts.Scope != nil {
			where, ok = opts.Scope(t.Name)
		}
		if !ok {
			continue
		}
		live, err := liveTable(ctx, tx, d.Dialect, t)
		if err != nil {
			return m, fmt.Errorf("reading the columns of table %s: %w", t.Name, err)
		}
		if live == nil {
			// The database is behind this binary (a backup before
			// migrating): it has not made this table yet.
			continue
		}
		sum, err := dumpTable(ctx, tx, d.Dialect, live, where, lw, opts.Edit)
		if err != nil {
			return m, fmt.Errorf("backing up table %s: %w", t.Name, err)
		}
		m.Tables = append(m.Tables, sum)
	}
	if err := lw.control(control{Manifest: &m}); err != nil {
		return m, err
	}
	return m, nil
}

func dumpTable(ctx context.Context, tx *sql.Tx, dialectName string, t *table, where *entsql.Predicate, lw *lineWriter, edit func(string, []string, []any) error) (TableSum, error) {
	names := t.columnNames()
	sel := entsql.Dialect(dialectName).Select(names...).From(entsql.Table(t.Name))
	if where != nil {
		sel.Where(where)
	}
	for _, i := range t.key {
		sel.OrderExprFunc(keyOrder(t.columns[i]))
	}
	query, args := sel.Query()
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return TableSum{}, err
	}
	defer rows.Close()
	if err := lw.beginTable(t.Name, t.columns); err != nil {
		return TableSum{}, err
	}
	dest := make([]any, len(t.columns))
	for i, c := range t.columns {
		dest[i] = scanTarget(c.Kind)
	}
	values := make([]any, len(t.columns))
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return TableSum{}, err
		}
		for i, c := range t.columns {
			if values[i], err = scanned(c.Kind, dest[i]); err != nil {
				return TableSum{}, fmt.Errorf("column %s: %w", c.Name, err)
			}
		}
		if edit != nil {
			if err := edit(t.Name, names, values); err != nil {
				return TableSum{}, err
			}
		}
		if err := lw.row(t.columns, values); err != nil {
			return TableSum{}, err
		}
	}
	if err := rows.Err(); err != nil {
		return TableSum{}, err
	}
	return lw.endTable(t.Name)
}

// liveTable is t with the columns the database has: a database behind
// this binary (backed up before migrating) may lack new ones and keep old
// ones, typed by their declared type. Known columns keep the schema's
// order and the rest follow by name, so both engines write one layout.
// It is nil when the table does not exist.
func liveTable(ctx context.Context, tx *sql.Tx, dialectName string, t *table) (*table, error) {
	q := `SELECT name, type FROM pragma_table_info(?)`
	if dialectName == dialect.Postgres {
		q = `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`
	}
	rows, err := tx.QueryContext(ctx, q, t.Name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	declared := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		declared[name] = typ
	}
	if err := rows.Err(); err != nil || len(declared) == 0 {
		return nil, err
	}
	live := *t
	live.columns, live.key, live.deferred = nil, nil, nil
	for i, c := range t.columns {
		if _, ok := declared[c.Name]; ok {
			if slices.Contains(t.key, i) {
				live.key = append(live.key, len(live.columns))
			}
			live.columns = append(live.columns, c)
			delete(declared, c.Name)
		}
	}
	if len(live.key) != len(t.key) {
		return nil, errors.New("the table lacks its key column")
	}
	for _, name := range slices.Sorted(maps.Keys(declared)) {
		k, err := declaredKind(declared[name])
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", name, err)
		}
		live.columns = append(live.columns, column{Name: name, Kind: k})
	}
	return &live, nil
}

// declaredKind is the kind of a column this binary's schema does not
// have, from its SQL type on either engine.
func declaredKind(typ string) (kind, error) {
	t := strings.ToLower(typ)
	switch {
	case strings.Contains(t, "bool"):
		return kindBool, nil
	case strings.Contains(t, "int"):
		return kindInt, nil
	case strings.Contains(t, "json"):
		return kindJSON, nil
	case strings.Contains(t, "time"), strings.Contains(t, "date"):
		return kindTime, nil
	case strings.Contains(t, "blob"), strings.Contains(t, "bytea"):
		return kindBytes, nil
	case strings.Contains(t, "char"), strings.Contains(t, "text"), strings.Contains(t, "uuid"):
		return kindString, nil
	}
	return "", fmt.Errorf("type %q has no backup encoding", typ)
}

func (t *table) columnNames() []string {
	names := make([]string, len(t.columns))
	for i, c := range t.columns {
		names[i] = c.Name
	}
	return names
}

// keyOrder sorts text keys by bytes on PostgreSQL too (its default
// collation may not), so both engines read rows in one order and their
// sums agree.
func keyOrder(c column) func(*entsql.Builder) {
	return func(b *entsql.Builder) {
		b.Ident(c.Name)
		if c.Kind == kindString && b.Dialect() == dialect.Postgres {
			b.WriteString(` COLLATE "C"`)
		}
	}
}

func scanTarget(k kind) any {
	switch k {
	case kindBool:
		return new(sql.NullBool)
	case kindInt:
		return new(sql.NullInt64)
	case kindBytes:
		return new([]byte)
	case kindTime:
		return new(sql.NullTime)
	}
	return new(sql.NullString)
}

func scanned(k kind, dest any) (any, error) {
	switch v := dest.(type) {
	case *sql.NullBool:
		if v.Valid {
			return v.Bool, nil
		}
	case *sql.NullInt64:
		if v.Valid {
			return v.Int64, nil
		}
	case *[]byte:
		if *v != nil {
			return append([]byte(nil), *v...), nil
		}
	case *sql.NullTime:
		if v.Valid {
			return v.Time, nil
		}
	case *sql.NullString:
		if !v.Valid {
			return nil, nil
		}
		if k == kindJSON {
			return canonicalJSON([]byte(v.String))
		}
		return v.String, nil
	}
	return nil, nil
}
