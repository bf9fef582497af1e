package main

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

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

// After a new PII key is made active, `customers rekey` reseals every
// customer under it, so the old key can then be dropped.
func TestCustomersRekey(t *testing.T) {
	vars, url := dbEnv(t)
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	vars["TILL_KEYS_FILE"] = keysFile
	require.NoError(t, runTill(t, vars, "", "migrate").err)

	old, _, err := keyring.LoadOrCreate(keysFile)
	require.NoError(t, err)
	d, err := db.Open(t.Context(), url, 2)
	require.NoError(t, err)
	defer d.Close()
	owner, err := merchants.New(d.Client, password.NewHasher(bcrypt.MinCost)).SignUp(t.Context(), merchants.SignUpInput{
		MerchantName: "Lotus Tea", OwnerName: "Mei", Email: "mei@lotus.example", Password: "correct horse battery",
		Currency: "CNY", TimeZone: "Asia/Shanghai", Locale: "zh-CN",
	})
	require.NoError(t, err)
	ctx := viewer.NewContext(t.Context(), &viewer.Viewer{
		Kind: viewer.KindStaff, ID: owner.ID, MerchantID: owner.MerchantID, Role: viewer.RoleOwner,
	})
	oldBox, err := pii.New(old.PII, old.BlindIndex)
	require.NoError(t, err)
	phone, email := "13812345678", "fang@example.com"
	c, err := customers.New(d.Client, oldBox).Create(ctx, nil, customers.Profile{Name: ptr("Wang Fang"), Phone: &phone, Email: &email})
	require.NoError(t, err)

	// Rotate: a new active key, the old one kept so existing data opens.
	rotated := *old
	rotated.PII.Keys = map[string][]byte{old.PII.Active: old.PII.Keys[old.PII.Active], "p2": randomKey(t)}
	rotated.PII.Active = "p2"
	data, err := json.Marshal(rotated)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(keysFile, data, 0o600))

	r := runTill(t, vars, "", "customers", "rekey", "--batch", "1")
	require.NoError(t, r.err, r.stderr)
	require.Equal(t, "resealed 1 customers under key p2\n", r.stdout)
	r = runTill(t, vars, "", "customers", "rekey")
	require.NoError(t, r.err, r.stderr)
	require.Equal(t, "resealed 0 customers under key p2\n", r.stdout, "a second run has nothing to do")

	// Only the new key is needed now.
	onlyNew := rotated.PII
	onlyNew.Keys = map[string][]byte{"p2": rotated.PII.Keys["p2"]}
	newBox, err := pii.New(onlyNew, old.BlindIndex)
	require.NoError(t, err)
	reread, err := d.Customer.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, "p2", reread.PiiKeyID)
	view, err := customers.New(d.Client, newBox).ContactView(ctx, reread)
	require.NoError(t, err)
	require.Equal(t, "+8613812345678", *view.Phone)
	require.Equal(t, email, *view.Email)
	found, err := customers.New(d.Client, newBox).Lookup(ctx, customers.LookupKey{Phone: &phone})
	require.NoError(t, err)
	require.Equal(t, c.ID, found.ID, "blind indexes do not change with the encryption key")
}

func TestCustomersRekeyUsage(t *testing.T) {
	t.Parallel()
	vars, _ := dbEnv(t)
	require.EqualError(t, runTill(t, vars, "", "customers").err, "usage: till customers rekey [--batch N]")
	require.EqualError(t, runTill(t, vars, "", "customers", "rekey", "--batch", "0").err, "--batch must be at least 1")
}

func randomKey(t *testing.T) []byte {
	t.Helper()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	return key
}

func ptr[T any](v T) *T { return &v }
