package backup

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"
	"filippo.io/age"
	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/config"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent/migrate"
	"github.com/tillpos/till/internal/tilltest"
)

func init() { scryptWorkFactor = 10 }

// rowsPerTable is how many rows fill populates in every table.
const rowsPerTable = 3

func openSQLite(t *testing.T) *db.DB {
	t.Helper()
	d, err := db.Open(t.Context(), "file:"+filepath.Join(t.TempDir(), "till.db"), 4)
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	require.NoError(t, d.Migrate(t.Context()))
	return d
}

// engines are the (source, target) pairs a backup must cross: SQLite to
// PostgreSQL and back when PostgreSQL is configured, else SQLite to SQLite.
func engines() map[string][2]func(*testing.T) *db.DB {
	if os.Getenv(tilltest.EnvDatabaseURL) == "" {
		return map[string][2]func(*testing.T) *db.DB{"sqlite to sqlite": {openSQLite, openSQLite}}
	}
	return map[string][2]func(*testing.T) *db.DB{
		"sqlite to postgres": {openSQLite, openPostgres},
		"postgres to sqlite": {openPostgres, openSQLite},
	}
}

func openPostgres(t *testing.T) *db.DB { return tilltest.OpenDB(t) }

func passphrase(t *testing.T, pass string) Keys {
	t.Helper()
	k, err := NewKeys(config.BackupKeys{Passphrase: pass})
	require.NoError(t, err)
	return k
}

// fill writes rowsPerTable rows into every table with raw SQL, covering
// every column type, NULLs, awkward text and non-canonical JSON, and
// returns the rows as the backup must encode them.
func fill(t *testing.T, d *db.DB) map[string][][]any {
	t.Helper()
	tables, err := schemaPlan()
	require.NoError(t, err)
	keys := map[string][]any{}
	want := map[string][][]any{}
	base := time.Date(2026, 3, 29, 0, 30, 0, 123456789, time.UTC)
	for _, tb := range tables {
		for r := range rowsPerTable {
			values := make([]any, len(tb.Columns))
			for i, c := range tb.Columns {
				values[i] = fillValue(tb, c, r, i, base, keys)
			}
			_, err := d.SQL.ExecContext(t.Context(), insertQuery(d.Dialect, tb.Name, tb.columnNames(), 1), flatten(nil, [][]any{values})...)
			require.NoError(t, err, "filling %s", tb.Name)
			if len(tb.PrimaryKey) == 1 {
				keys[tb.Name] = append(keys[tb.Name], values[tb.key[0]])
			}
			encoded := make([]any, len(values))
			for i, v := range values {
				if tm, ok := v.(time.Time); ok {
					v = tm.Truncate(time.Microsecond)
				}
				encoded[i] = v
			}
			want[tb.Name] = append(want[tb.Name], encoded)
		}
	}
	return want
}

func fillValue(tb *table, c *schema.Column, r, i int, base time.Time, keys map[string][]any) any {
	for _, fk := range tb.ForeignKeys {
		if fk.Columns[0] == c {
			refs := keys[fk.RefTable.Name]
			if fk.RefTable == tb.Table {
				if r == 0 {
					return nil
				}
				return refs[r-1]
			}
			if len(refs) == 0 {
				return nil
			}
			return refs[r%len(refs)]
		}
	}
	isKey := len(tb.PrimaryKey) == 1 && tb.PrimaryKey[0] == c
	if c.Nullable && !isKey && r == 2 {
		return nil
	}
	switch tb.columns[i].Kind {
	case kindBool:
		return r%2 == 0
	case kindInt:
		if isKey {
			return int64(r + 1)
		}
		return int64(1)<<40 + int64(r*100+i)
	case kindString:
		if len(c.Enums) > 0 {
			return c.Enums[r%len(c.Enums)]
		}
		s := fmt.Sprintf("%s-%d-%d", tb.Name, r, i)
		if !isKey {
			s += " naïve \"q\" \\ <&>\n\t𝄞"
		}
		if c.Size > 0 && int64(len([]rune(s))) > c.Size {
			s = fmt.Sprintf("%d%d", r, i)
		}
		return s
	case kindBytes:
		return []byte{0, byte(r), 0xff, byte(i), '\n'}
	case kindTime:
		return base.Add(time.Duration(r*24+i) * time.Hour)
	case kindJSON:
		raw, _ := canonicalJSON([]byte(fmt.Sprintf(`{ "z": [true, null, 1.50, "%d"], "a": {"n": %d} }`, r, i)))
		return raw
	}
	return nil
}

// rowsOf reads a plain stream back into rows of typed values per table.
func rowsOf(t *testing.T, stream []byte) map[string][][]any {
	t.Helper()
	lr := &lineReader{r: bufio.NewReader(bytes.NewReader(stream))}
	var c control
	require.NoError(t, lr.control(&c))
	out := map[string][][]any{}
	var cols []column
	var name string
	for {
		line, err := lr.line()
		require.NoError(t, err)
		if line[0] == '[' {
			v, err := decodeRow(line, cols)
			require.NoError(t, err)
			out[name] = append(out[name], v)
			continue
		}
		var c control
		require.NoError(t, json.Unmarshal(line, &c))
		if c.Manifest != nil {
			return out
		}
		if c.Table != "" {
			name, cols = c.Table, c.Columns
		}
	}
}

func TestBackupEveryTableAcrossEngines(t *testing.T) {
	t.Parallel()
	for name, pair := range engines() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := pair[0](t)
			want := fill(t, src)
			keys := passphrase(t, "correct horse battery staple")

			var file bytes.Buffer
			m, err := Create(t.Context(), src, &file, keys, Options{SchemaVersion: "test", AppVersion: "v-test"})
			require.NoError(t, err)
			require.Len(t, m.Tables, len(migrate.Tables))
			for _, ts := range m.Tables {
				require.EqualValues(t, rowsPerTable, ts.Rows, "table %s", ts.Name)
			}

			dst := pair[1](t)
			got, err := Restore(t.Context(), dst, bytes.NewReader(file.Bytes()), keys, RestoreOptions{SchemaVersion: "test"})
			require.NoError(t, err)
			require.Equal(t, m.Tables, got.Tables)

			// The restored database reads back as the rows written, on
			// its own engine.
			var again bytes.Buffer
			m2, err := Dump(t.Context(), dst, &again, Options{})
			require.NoError(t, err)
			require.Equal(t, m.Tables, m2.Tables)
			rows := rowsOf(t, again.Bytes())
			for table, wantRows := range want {
				require.Equal(t, wantRows, rows[table], "table %s", table)
			}
			// Integer keys continue after the restored rows.
			require.Greater(t, nextAutoKey(t, dst), int64(rowsPerTable))
		})
	}
}

// nextAutoKey is the key a new row of the first table with an integer
// key would get from the database's sequence.
func nextAutoKey(t *testing.T, d *db.DB) int64 {
	t.Helper()
	tables, err := schemaPlan()
	require.NoError(t, err)
	for _, tb := range tables {
		if !tb.autoIncrement {
			continue
		}
		var n int64
		q := "SELECT seq + 1 FROM sqlite_sequence WHERE name = '" + tb.Name + "'"
		if d.Dialect == dialect.Postgres {
			q = fmt.Sprintf("SELECT nextval(pg_get_serial_sequence('%s', '%s'))", tb.Name, tb.columns[tb.key[0]].Name)
		}
		require.NoError(t, d.SQL.QueryRowContext(t.Context(), q).Scan(&n), "table %s", tb.Name)
		return n
	}
	t.Fatal("no table has an integer key")
	return 0
}

// backupOf fills a fresh SQLite database and returns it with its backup.
func backupOf(t *testing.T, keys Keys) (*db.DB, []byte) {
	t.Helper()
	src := openSQLite(t)
	fill(t, src)
	var file bytes.Buffer
	_, err := Create(t.Context(), src, &file, keys, Options{SchemaVersion: "test"})
	require.NoError(t, err)
	return src, file.Bytes()
}

// requireEmpty fails t unless no table of d holds a row.
func requireEmpty(t *testing.T, d *db.DB) {
	t.Helper()
	m, err := Dump(t.Context(), d, io.Discard, Options{})
	require.NoError(t, err)
	require.Zero(t, m.Rows())
}

func TestRestoreRefusesWhatItCannotTrust(t *testing.T) {
	t.Parallel()
	keys := passphrase(t, "the right one")
	_, file := backupOf(t, keys)

	t.Run("wrong passphrase", func(t *testing.T) {
		t.Parallel()
		dst := openSQLite(t)
		_, err := Restore(t.Context(), dst, bytes.NewReader(file), passphrase(t, "a wrong one"), RestoreOptions{})
		require.ErrorIs(t, err, ErrWrongKey)
		requireEmpty(t, dst)
	})
	t.Run("wrong identity", func(t *testing.T) {
		t.Parallel()
		other := newIdentity(t)
		_, err := Restore(t.Context(), openSQLite(t), bytes.NewReader(file), other, RestoreOptions{})
		require.ErrorIs(t, err, ErrWrongKey)
	})
	for name, offset := range map[string]int{"a byte flipped in the header": 20, "a byte flipped in the data": len(file) / 2, "the last byte flipped": len(file) - 1} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bad := bytes.Clone(file)
			bad[offset] ^= 0x01
			dst := openSQLite(t)
			_, err := Restore(t.Context(), dst, bytes.NewReader(bad), keys, RestoreOptions{})
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrDamaged) || errors.Is(err, ErrWrongKey), "got %v", err)
			requireEmpty(t, dst)
		})
	}
	t.Run("cut short", func(t *testing.T) {
		t.Parallel()
		dst := openSQLite(t)
		_, err := Restore(t.Context(), dst, bytes.NewReader(file[:len(file)*2/3]), keys, RestoreOptions{})
		require.ErrorIs(t, err, ErrDamaged)
		requireEmpty(t, dst)
	})
	t.Run("a row edited and re-encrypted with the key", func(t *testing.T) {
		t.Parallel()
		plain := decrypt(t, file, keys)
		edited := bytes.Replace(plain, []byte(`"merchants-0-3 na`), []byte(`"merchants-0-3 NA`), 1)
		require.False(t, bytes.Equal(plain, edited), "the edit must change the backup")
		dst := openSQLite(t)
		_, err := Restore(t.Context(), dst, bytes.NewReader(encrypt(t, edited, keys)), keys, RestoreOptions{})
		require.ErrorIs(t, err, ErrDamaged)
		require.ErrorContains(t, err, "table merchants")
		requireEmpty(t, dst)
	})
	t.Run("another schema version", func(t *testing.T) {
		t.Parallel()
		_, err := Restore(t.Context(), openSQLite(t), bytes.NewReader(file), keys, RestoreOptions{SchemaVersion: "other"})
		require.ErrorContains(t, err, "schema version test")
	})
}

func TestRestoreIntoNonEmpty(t *testing.T) {
	t.Parallel()
	keys := passphrase(t, "pw")
	src, file := backupOf(t, keys)

	_, err := Restore(t.Context(), src, bytes.NewReader(file), keys, RestoreOptions{})
	require.ErrorIs(t, err, ErrNotEmpty)

	// Replace empties the target first: the result is the backup, not
	// the backup on top of what was there.
	_, err = src.SQL.ExecContext(t.Context(), `UPDATE merchants SET name = 'changed since'`)
	require.NoError(t, err)
	m, err := Restore(t.Context(), src, bytes.NewReader(file), keys, RestoreOptions{Replace: true})
	require.NoError(t, err)
	again, err := Dump(t.Context(), src, io.Discard, Options{})
	require.NoError(t, err)
	require.Equal(t, m.Tables, again.Tables)
}

func TestRecipientKeysAndVerify(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	writeOnly := Keys{recipients: id.recipients}
	_, file := backupOf(t, writeOnly)

	_, err := Restore(t.Context(), openSQLite(t), bytes.NewReader(file), writeOnly, RestoreOptions{})
	require.ErrorIs(t, err, ErrNoKey, "a server holding only the public key cannot read its backups")

	m, err := Verify(t.Context(), openSQLite(t), bytes.NewReader(file), id, "test")
	require.NoError(t, err)
	require.EqualValues(t, rowsPerTable*len(migrate.Tables), m.Rows())
}

func TestNewKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	id := newIdentity(t)
	idFile := filepath.Join(dir, "backup.key")
	require.NoError(t, os.WriteFile(idFile, []byte("# till backup key\n"+id.identities[0].(*age.X25519Identity).String()+"\n"), 0o600))
	passFile := filepath.Join(dir, "pass")
	require.NoError(t, os.WriteFile(passFile, []byte("from a file\n"), 0o600))

	k, err := NewKeys(config.BackupKeys{Recipients: []string{id.identities[0].(*age.X25519Identity).Recipient().String()}, IdentityFile: idFile})
	require.NoError(t, err)
	require.True(t, k.CanWrite())
	require.Len(t, k.identities, 1)

	fromFile, err := NewKeys(config.BackupKeys{PassphraseFile: passFile})
	require.NoError(t, err)
	_, file := backupOf(t, fromFile)
	_, err = Restore(t.Context(), openSQLite(t), bytes.NewReader(file), passphrase(t, "from a file"), RestoreOptions{})
	require.NoError(t, err, "the file's trailing newline is not part of the passphrase")

	_, err = NewKeys(config.BackupKeys{Passphrase: "x", Recipients: []string{"age1x"}})
	require.ErrorContains(t, err, "not both")
	_, err = NewKeys(config.BackupKeys{Recipients: []string{"not-a-key"}})
	require.Error(t, err)
	_, err = Encrypt(io.Discard, Keys{})
	require.ErrorIs(t, err, ErrNoKey)
}

func newIdentity(t *testing.T) Keys {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	return Keys{recipients: []age.Recipient{id.Recipient()}, identities: []age.Identity{id}}
}

func decrypt(t *testing.T, file []byte, keys Keys) []byte {
	t.Helper()
	r, err := Decrypt(bytes.NewReader(file), keys)
	require.NoError(t, err)
	defer r.Close()
	plain, err := io.ReadAll(r)
	require.NoError(t, err)
	return plain
}

func encrypt(t *testing.T, plain []byte, keys Keys) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := Encrypt(&out, keys)
	require.NoError(t, err)
	_, err = w.Write(plain)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return out.Bytes()
}

func TestLoadKeys(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.KeysFile = filepath.Join(t.TempDir(), "keys.json")
	first, err := LoadKeys(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.True(t, first.CanWrite())
	_, file := backupOf(t, first)

	// The key file is made once; a later start reads the same key back.
	again, err := LoadKeys(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	_, err = Restore(t.Context(), openSQLite(t), bytes.NewReader(file), again, RestoreOptions{})
	require.NoError(t, err)

	cfg.Production = true
	_, err = LoadKeys(cfg, slog.New(slog.DiscardHandler))
	require.ErrorIs(t, err, ErrNoKey, "production has no generated key")
	cfg.BackupKeys.Passphrase = "set"
	k, err := LoadKeys(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.True(t, k.CanWrite())
}
