package main

import (
	"bytes"
	"encoding/csv"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/sales"
)

// `till export` writes a merchant's sales on the host, as CSV to standard
// output or as XLSX to a file, with the rows the API's export has.
func TestExport(t *testing.T) {
	vars, url := dbEnv(t)
	require.NoError(t, runTill(t, vars, "", "migrate").err)
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
	storeID, err := d.Store.Query().OnlyID(ctx)
	require.NoError(t, err)
	svc := sales.New(d.Client)
	for i, price := range []int64{1250, 300} {
		_, _, err := svc.Record(ctx, sales.SaleInput{
			IdempotencyKey: "k" + string(rune('a'+i)), StoreID: storeID,
			Lines:   []sales.LineInput{{Name: ptr("Tea"), Quantity: 1, UnitPrice: ptr(price)}},
			Tenders: []sales.TenderInput{{Type: tender.TypeCASH, Amount: price}},
		})
		require.NoError(t, err)
	}

	r := runTill(t, vars, "", "export", "--merchant", string(owner.MerchantID), "--out", "-")
	require.NoError(t, r.err, r.stderr)
	require.Contains(t, r.stderr, "exported 2 rows")
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3)
	require.Equal(t, "Total", rows[0][13])
	require.Equal(t, []string{"12.50", "3.00"}, []string{rows[1][13], rows[2][13]})

	out := filepath.Join(t.TempDir(), "sales.xlsx")
	r = runTill(t, vars, "", "export", "--merchant", string(owner.MerchantID), "--format", "xlsx",
		"--store", string(storeID), "--from", "2000-01-01", "--out", out)
	require.NoError(t, r.err, r.stderr)
	f, err := excelize.OpenFile(out)
	require.NoError(t, err)
	defer f.Close()
	xrows, err := f.GetRows(f.GetSheetList()[0])
	require.NoError(t, err)
	require.Equal(t, rows, xrows)

	r = runTill(t, vars, "", "export", "--merchant", string(owner.MerchantID), "--to", "2000-01-01", "--kind", "lines", "--out", "-")
	require.NoError(t, r.err, r.stderr)
	require.Equal(t, 1, bytes.Count([]byte(r.stdout), []byte("\n")), "the header only")
}

func TestExportUsage(t *testing.T) {
	vars, _ := dbEnv(t)
	require.NoError(t, runTill(t, vars, "", "migrate").err)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--out", "-"}, "--merchant is required"},
		{[]string{"--merchant", "mer_x"}, "--out is required"},
		{[]string{"--merchant", "mer_x", "--format", "pdf", "--out", "-"}, "--format"},
		{[]string{"--merchant", "mer_x", "--kind", "rows", "--out", "-"}, "--kind"},
		{[]string{"--merchant", "mer_x", "--from", "yesterday", "--out", "-"}, "--from"},
		{[]string{"--merchant", string(pulid.ID("mer_none")), "--out", "-"}, "merchant mer_none"},
	} {
		r := runTill(t, vars, "", append([]string{"export"}, tc.args...)...)
		require.ErrorContains(t, r.err, tc.want, tc.args)
	}
}
