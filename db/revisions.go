package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	atlasschema "ariga.io/atlas/sql/schema"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// RevisionsTable records which migrations a database has had, one row per
// migration file, as Atlas's executor reports them.
const RevisionsTable = "till_schema_revisions"

// revisions is Atlas's RevisionReadWriter on RevisionsTable, written with
// plain SQL so it needs nothing from Atlas's cloud or CLI.
type revisions struct {
	conn    atlasschema.ExecQuerier
	dialect string
}

var _ atlasmigrate.RevisionReadWriter = (*revisions)(nil)

var revisionColumns = []string{
	"version", "description", "type", "applied", "total", "executed_at", "execution_time",
	"error", "error_stmt", "hash", "partial_hashes", "operator_version",
}

// create makes the table if it is missing.
func (r *revisions) create(ctx context.Context) error {
	ts := "timestamptz"
	if r.dialect == dialect.SQLite {
		ts = "datetime"
	}
	_, err := r.conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+RevisionsTable+` (
	version text PRIMARY KEY,
	description text NOT NULL,
	type bigint NOT NULL,
	applied bigint NOT NULL,
	total bigint NOT NULL,
	executed_at `+ts+` NOT NULL,
	execution_time bigint NOT NULL,
	error text NOT NULL,
	error_stmt text NOT NULL,
	hash text NOT NULL,
	partial_hashes text NOT NULL,
	operator_version text NOT NULL
)`)
	if err != nil {
		return fmt.Errorf("creating %s: %w", RevisionsTable, err)
	}
	return nil
}

// Ident names the table, so Atlas ignores it when checking a database is clean.
func (r *revisions) Ident() *atlasmigrate.TableIdent {
	return &atlasmigrate.TableIdent{Name: RevisionsTable}
}

// ReadRevisions returns every revision, oldest version first.
func (r *revisions) ReadRevisions(ctx context.Context) ([]*atlasmigrate.Revision, error) {
	return r.read(ctx, nil)
}

// ReadRevision returns the revision of version, or
// atlasmigrate.ErrRevisionNotExist.
func (r *revisions) ReadRevision(ctx context.Context, version string) (*atlasmigrate.Revision, error) {
	revs, err := r.read(ctx, entsql.EQ("version", version))
	if err != nil {
		return nil, err
	}
	if len(revs) == 0 {
		return nil, atlasmigrate.ErrRevisionNotExist
	}
	return revs[0], nil
}

func (r *revisions) read(ctx context.Context, where *entsql.Predicate) ([]*atlasmigrate.Revision, error) {
	sel := entsql.Dialect(r.dialect).Select(revisionColumns...).From(entsql.Table(RevisionsTable)).OrderBy("version")
	if where != nil {
		sel.Where(where)
	}
	query, args := sel.Query()
	rows, err := r.conn.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", RevisionsTable, err)
	}
	defer rows.Close()
	var revs []*atlasmigrate.Revision
	for rows.Next() {
		var (
			rev     atlasmigrate.Revision
			typ     int64
			elapsed int64
			partial string
		)
		if err := rows.Scan(&rev.Version, &rev.Description, &typ, &rev.Applied, &rev.Total, &rev.ExecutedAt,
			&elapsed, &rev.Error, &rev.ErrorStmt, &rev.Hash, &partial, &rev.OperatorVersion); err != nil {
			return nil, fmt.Errorf("reading %s: %w", RevisionsTable, err)
		}
		rev.Type = atlasmigrate.RevisionType(typ)
		rev.ExecutionTime = time.Duration(elapsed)
		if err := json.Unmarshal([]byte(partial), &rev.PartialHashes); err != nil {
			return nil, fmt.Errorf("reading %s %s: partial hashes: %w", RevisionsTable, rev.Version, err)
		}
		revs = append(revs, &rev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", RevisionsTable, err)
	}
	return revs, nil
}

// WriteRevision inserts or replaces the revision of rev.Version.
func (r *revisions) WriteRevision(ctx context.Context, rev *atlasmigrate.Revision) error {
	partial, err := json.Marshal(rev.PartialHashes)
	if err != nil {
		return err
	}
	query, args := entsql.Dialect(r.dialect).Insert(RevisionsTable).Columns(revisionColumns...).
		Values(rev.Version, rev.Description, int64(rev.Type), rev.Applied, rev.Total, rev.ExecutedAt.UTC(),
			int64(rev.ExecutionTime), rev.Error, rev.ErrorStmt, rev.Hash, string(partial), rev.OperatorVersion).
		OnConflict(entsql.ConflictColumns("version"), entsql.ResolveWithNewValues()).
		Query()
	if _, err := r.conn.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("writing %s %s: %w", RevisionsTable, rev.Version, err)
	}
	return nil
}

// DeleteRevision removes the revision of version.
func (r *revisions) DeleteRevision(ctx context.Context, version string) error {
	query, args := entsql.Dialect(r.dialect).Delete(RevisionsTable).Where(entsql.EQ("version", version)).Query()
	if _, err := r.conn.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("deleting %s %s: %w", RevisionsTable, version, err)
	}
	return nil
}

// listTables names the tables of the connected schema.
func listTables(ctx context.Context, conn atlasschema.ExecQuerier, dialectName string) ([]string, error) {
	query := `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	if dialectName == dialect.SQLite {
		query = `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	}
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("listing tables: %w", err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	return names, nil
}
