package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/keyring"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/pii"
)

// `merchant export` writes a merchant's file that `merchant import` adds
// to another deployment with other PII keys, where its customers are
// found by phone; a second import is refused.
func TestMerchantExportImport(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	identity := filepath.Join(t.TempDir(), "identity.txt")
	require.NoError(t, os.WriteFile(identity, []byte(id.String()+"\n"), 0o600))
	deployment := func() (map[string]string, string, *pii.Box) {
		vars, url := dbEnv(t)
		vars["TILL_KEYS_FILE"] = filepath.Join(t.TempDir(), "keys.json")
		vars["TILL_BACKUP_RECIPIENTS"] = id.Recipient().String()
		vars["TILL_BACKUP_IDENTITY_FILE"] = identity
		require.NoError(t, runTill(t, vars, "", "migrate").err)
		keys, _, err := keyring.LoadOrCreate(vars["TILL_KEYS_FILE"])
		require.NoError(t, err)
		box, err := pii.New(keys.PII, keys.BlindIndex)
		require.NoError(t, err)
		return vars, url, box
	}
	srcVars, srcURL, srcBox := deployment()
	src, err := db.Open(t.Context(), srcURL, 2)
	require.NoError(t, err)
	defer src.Close()
	owner, err := merchants.New(src.Client, password.NewHasher(bcrypt.MinCost)).SignUp(t.Context(), merchants.SignUpInput{
		MerchantName: "Lotus Tea", OwnerName: "Mei", Email: "mei@lotus.example", Password: "correct horse battery",
		Currency: "CNY", TimeZone: "Asia/Shanghai", Locale: "zh-CN",
	})
	require.NoError(t, err)
	ctx := viewer.NewContext(t.Context(), &viewer.Viewer{
		Kind: viewer.KindStaff, ID: owner.ID, MerchantID: owner.MerchantID, Role: viewer.RoleOwner,
	})
	phone := "13812345678"
	c, err := customers.New(src.Client, srcBox).Create(ctx, nil, customers.Profile{Name: ptr("Wang Fang"), Phone: &phone})
	require.NoError(t, err)

	dir := t.TempDir()
	r := runTill(t, srcVars, "", "merchant", "export", "--merchant", string(owner.MerchantID), "--out", dir)
	require.NoError(t, r.err, r.stderr)
	files, err := filepath.Glob(filepath.Join(dir, "merchant-"+string(owner.MerchantID)+"-*Z.tillbak"))
	require.NoError(t, err)
	require.Len(t, files, 1, "the file is named for the merchant and the time")
	require.Contains(t, r.stdout, "exported merchant "+string(owner.MerchantID))
	r = runTill(t, srcVars, "", "merchant", "export", "--merchant", string(owner.MerchantID), "--out", files[0])
	require.ErrorContains(t, r.err, "already exists")

	dstVars, dstURL, dstBox := deployment()
	r = runTill(t, dstVars, "", "merchant", "import", "--from", files[0])
	require.NoError(t, r.err, r.stderr)
	require.True(t, strings.HasPrefix(r.stdout, "imported merchant "+string(owner.MerchantID)+": "), r.stdout)

	dst, err := db.Open(t.Context(), dstURL, 2)
	require.NoError(t, err)
	defer dst.Close()
	found, err := customers.New(dst.Client, dstBox).Lookup(ctx, customers.LookupKey{Phone: &phone})
	require.NoError(t, err)
	require.Equal(t, c.ID, found.ID)
	require.Equal(t, dstBox.ActiveKeyID(), found.PiiKeyID)

	r = runTill(t, dstVars, "", "merchant", "import", "--from", files[0])
	require.ErrorContains(t, r.err, "already in this deployment")
}
