package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/merchants"
)

// `till backup` writes a verified copy to each --to; `backup verify`
// checks it; `restore` refuses a database with data unless --replace, and
// brings back what was backed up; a wrong passphrase is refused.
func TestBackupVerifyRestore(t *testing.T) {
	vars, url := dbEnv(t)
	vars["TILL_BACKUP_PASSPHRASE"] = "a long backup passphrase"
	require.NoError(t, runTill(t, vars, "", "migrate").err)
	d, err := db.Open(t.Context(), url, 2)
	require.NoError(t, err)
	defer d.Close()
	_, err = merchants.New(d.Client, password.NewHasher(bcrypt.MinCost)).SignUp(t.Context(), merchants.SignUpInput{
		MerchantName: "Lotus Tea", OwnerName: "Mei", Email: "mei@lotus.example", Password: "correct horse battery",
		Currency: "CNY", TimeZone: "Asia/Shanghai", Locale: "zh-CN",
	})
	require.NoError(t, err)

	nas, offsite := t.TempDir(), t.TempDir()
	r := runTill(t, vars, "", "backup", "--to", nas, "--to", offsite)
	require.NoError(t, r.err, r.stderr)
	files, err := filepath.Glob(filepath.Join(nas, "till-*.tillbak"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	require.FileExists(t, filepath.Join(offsite, filepath.Base(files[0])))
	require.Contains(t, r.stdout, "wrote and verified "+nas)

	r = runTill(t, vars, "", "backup", "verify", files[0])
	require.NoError(t, r.err, r.stderr)
	require.Contains(t, r.stdout, ": good: ")

	// Restoring over the live database needs --replace.
	r = runTill(t, vars, "", "restore", "--from", files[0])
	require.ErrorContains(t, r.err, "--replace")

	// Into a new database, the merchant is back.
	target, targetURL := dbEnv(t)
	target["TILL_BACKUP_PASSPHRASE"] = vars["TILL_BACKUP_PASSPHRASE"]
	r = runTill(t, target, "", "restore", "--from", files[0])
	require.NoError(t, r.err, r.stderr)
	require.Contains(t, r.stdout, "restored ")
	restored, err := db.Open(t.Context(), targetURL, 1)
	require.NoError(t, err)
	defer restored.Close()
	names, err := restored.Merchant.Query().Select("name").Strings(viewer.NewSystemContext(t.Context(), "test"))
	require.NoError(t, err)
	require.Equal(t, []string{"Lotus Tea"}, names)

	wrong, _ := dbEnv(t)
	wrong["TILL_BACKUP_PASSPHRASE"] = "another passphrase"
	r = runTill(t, wrong, "", "restore", "--from", files[0])
	require.ErrorContains(t, r.err, "encrypted with another key or passphrase")
	r = runTill(t, wrong, "", "backup", "verify", files[0])
	require.ErrorContains(t, r.err, "encrypted with another key or passphrase")
}

// With no --to and no TILL_BACKUP_TO, a SQLite database is backed up
// into backups/ beside it, and `till migrate` does so before it changes a
// database that has data: here one made before versioned migrations.
func TestMigrateTakesARealBackupFirst(t *testing.T) {
	vars, url := dbEnv(t)
	vars["TILL_BACKUP_PASSPHRASE"] = "before upgrades"
	require.NoError(t, runTill(t, vars, "", "migrate").err)
	d, err := db.Open(t.Context(), url, 1)
	require.NoError(t, err)
	_, err = d.SQL.ExecContext(t.Context(), "DROP TABLE "+db.RevisionsTable)
	require.NoError(t, err)
	d.Close()

	r := runTill(t, vars, "", "migrate")
	require.NoError(t, r.err, r.stderr)
	dir := filepath.Join(filepath.Dir(strings.TrimPrefix(url, "file:")), "backups")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Contains(t, r.stdout, "backed up to "+dir)

	r = runTill(t, vars, "", "backup", "verify", filepath.Join(dir, entries[0].Name()))
	require.ErrorContains(t, r.err, "schema version", "a backup of a database from before versioned migrations restores with the release that made it")
}
