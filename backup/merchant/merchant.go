// Package merchant moves one merchant between deployments: Export writes
// only that merchant's rows as a backup file (encrypted like any backup),
// and Import adds them to a deployment that may hold other merchants.
package merchant

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"

	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqlgraph"

	"github.com/tillpos/till/backup"
	"github.com/tillpos/till/db"
	entmerchant "github.com/tillpos/till/ent/merchant"
	"github.com/tillpos/till/ent/migrate"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/pii"
)

// ErrExists is returned when the merchant, or any row of it, is already in
// the target deployment.
var ErrExists = errors.New("the merchant is already in this deployment")

// ErrNotMerchantFile is returned for a full backup given to Import.
var ErrNotMerchantFile = errors.New("this is a full backup, not a one-merchant export: restore it with till restore")

// ErrNoMerchant is returned when exporting a merchant that does not exist.
var ErrNoMerchant = errors.New("no such merchant")

// Export writes an encrypted file of merchantID's rows, read in one
// snapshot, with its personal data opened (see seal.go). opts supplies the
// versions and clock; its scope and edits are Export's own.
func Export(ctx context.Context, d *db.DB, box *pii.Box, merchantID pulid.ID, w io.Writer, keys backup.Keys, opts backup.Options) (backup.Manifest, error) {
	scopes, err := classify(migrate.Tables)
	if err != nil {
		return backup.Manifest{}, err
	}
	switch found, err := hasMerchant(ctx, d.Dialect, d.SQL, merchantID); {
	case err != nil:
		return backup.Manifest{}, err
	case !found:
		return backup.Manifest{}, fmt.Errorf("%w: %s", ErrNoMerchant, merchantID)
	}
	rows := newRows()
	opts.MerchantID = string(merchantID)
	opts.Scope = func(table string) (*entsql.Predicate, bool) {
		s, ok := scopes[table]
		if !ok {
			return nil, false
		}
		return s.rows(string(merchantID)), true
	}
	opts.Edit = func(table string, columns []string, values []any) error {
		r := rows.of(table, columns, values)
		for _, c := range scopes[table].clear {
			r.set(c, nil)
		}
		if st, ok := sealedTables[table]; ok {
			return st.open(box, r)
		}
		return nil
	}
	m, err := backup.Create(ctx, d, w, keys, opts)
	if err != nil {
		return m, fmt.Errorf("exporting merchant %s: %w", merchantID, err)
	}
	return m, nil
}

// Import adds the merchant in the export r to d in one transaction,
// sealing its personal data under box's active key. It refuses a full
// backup, a merchant d already holds, and rows of any other merchant.
func Import(ctx context.Context, d *db.DB, box *pii.Box, r io.Reader, keys backup.Keys) (backup.Manifest, error) {
	scopes, err := classify(migrate.Tables)
	if err != nil {
		return backup.Manifest{}, err
	}
	var merchantID pulid.ID
	// Join-table rows must point at rows of this file, not at another
	// merchant's rows already in d: the ids of the tables they go through
	// are kept as they load.
	seen := map[string]map[string]bool{}
	for _, s := range scopes {
		if s.via != nil {
			seen[s.via.RefTable.Name] = map[string]bool{}
		}
	}
	rows := newRows()
	m, err := backup.Restore(ctx, d, r, keys, backup.RestoreOptions{
		Into:          true,
		SchemaVersion: db.SchemaVersion(),
		Check: func(ctx context.Context, tx *sql.Tx, m backup.Manifest) error {
			if m.MerchantID == "" {
				return ErrNotMerchantFile
			}
			merchantID = pulid.ID(m.MerchantID)
			found, err := hasMerchant(ctx, d.Dialect, tx, merchantID)
			if found {
				return fmt.Errorf("%w: merchant %s", ErrExists, merchantID)
			}
			return err
		},
		Edit: func(table string, columns []string, values []any) error {
			s, ok := scopes[table]
			if !ok {
				return fmt.Errorf("the file holds table %s, which a merchant export leaves out", table)
			}
			r := rows.of(table, columns, values)
			if err := s.belongs(r, table, merchantID, seen); err != nil {
				return err
			}
			if ids, ok := seen[table]; ok {
				ids[string(r.id())] = true
			}
			if st, ok := sealedTables[table]; ok {
				st.seal(box, merchantID, r)
			}
			return nil
		},
	})
	if sqlgraph.IsUniqueConstraintError(err) {
		return m, fmt.Errorf("%w: a row of merchant %s has a key or unique value (an id, a staff email, a device serial number) this deployment already holds: %v", ErrExists, merchantID, err)
	}
	if err != nil {
		return m, fmt.Errorf("importing merchant %s: %w", merchantID, err)
	}
	return m, nil
}

// belongs checks that a row of the file is the merchant's.
func (s *scope) belongs(r row, table string, merchantID pulid.ID, seen map[string]map[string]bool) error {
	switch {
	case table == entmerchant.Table:
		if r.id() != merchantID {
			return fmt.Errorf("the file holds merchant %s besides %s", r.id(), merchantID)
		}
	case s.via != nil:
		col, ref := s.via.Columns[0].Name, s.via.RefTable.Name
		if v, _ := r.get(col).(string); !seen[ref][v] {
			return fmt.Errorf("table %s: %s %q is not a row of merchant %s in the file", table, col, v, merchantID)
		}
	case r.get(ownerColumn) != string(merchantID):
		return fmt.Errorf("table %s holds a row of merchant %v besides %s", table, r.get(ownerColumn), merchantID)
	}
	return nil
}

// hasMerchant reports whether the merchant is in the database q.
func hasMerchant(ctx context.Context, dialectName string, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id pulid.ID) (bool, error) {
	query, args := entsql.Dialect(dialectName).Select().SelectExpr(entsql.Expr("1")).
		From(entsql.Table(entmerchant.Table)).Where(entsql.EQ(entmerchant.FieldID, string(id))).Query()
	var one int
	switch err := q.QueryRowContext(ctx, query, args...).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("looking for merchant %s: %w", id, err)
	}
	return true, nil
}

// rows caches each table's column positions, the same for all its rows.
type rowsCache map[string]map[string]int

func newRows() rowsCache { return rowsCache{} }

func (c rowsCache) of(table string, columns []string, values []any) row {
	at, ok := c[table]
	if !ok {
		at = make(map[string]int, len(columns))
		for i, name := range columns {
			at[name] = i
		}
		c[table] = at
	}
	return row{at: at, values: values}
}
