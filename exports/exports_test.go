package exports_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/exportjob"
	"github.com/tillpos/till/ent/schema/exporttype"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/exports"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/sales"
)

// merchant is a merchant with sales for the writer to read.
type merchant struct {
	client  *ent.Client
	id      pulid.ID
	storeID pulid.ID
	sales   *sales.Service
	ctx     *viewer.Viewer
}

func newMerchant(t *testing.T, client *ent.Client, name, currency string) *merchant {
	t.Helper()
	owner, err := merchants.New(client, password.NewHasher(bcrypt.MinCost)).SignUp(t.Context(), merchants.SignUpInput{
		MerchantName: name, OwnerName: "Mei", Email: tilltest.UniqueEmail("owner"), Password: "correct horse battery",
		Currency: currency, TimeZone: "Asia/Tokyo", Locale: "en",
	})
	require.NoError(t, err)
	v := &viewer.Viewer{Kind: viewer.KindStaff, ID: owner.ID, MerchantID: owner.MerchantID, Role: viewer.RoleOwner}
	storeID, err := client.Store.Query().OnlyID(viewer.NewContext(t.Context(), v))
	require.NoError(t, err)
	return &merchant{client: client, id: owner.MerchantID, storeID: storeID, sales: sales.New(client), ctx: v}
}

// record records a sale of one item named name at price, at at.
func (m *merchant) record(t *testing.T, name string, price int64, at time.Time) *ent.Sale {
	t.Helper()
	s, _, err := m.sales.Record(viewer.NewContext(t.Context(), m.ctx), sales.SaleInput{
		IdempotencyKey: fmt.Sprintf("%s-%d-%d", name, price, time.Now().UnixNano()), StoreID: m.storeID, OccurredAt: &at,
		Lines:   []sales.LineInput{{Name: &name, Quantity: 1, UnitPrice: &price}},
		Tenders: []sales.TenderInput{{Type: tender.TypeCASH, Amount: price}},
	})
	require.NoError(t, err)
	return s
}

func write(t *testing.T, client *ent.Client, spec exports.Spec) ([]byte, []int64) {
	t.Helper()
	var buf bytes.Buffer
	var progress []int64
	rows, err := exports.Write(viewer.NewSystemContext(t.Context(), "test"), client, spec, &buf, func(n int64) error {
		progress = append(progress, n)
		return nil
	})
	require.NoError(t, err)
	if len(progress) > 0 {
		require.Equal(t, rows, progress[len(progress)-1])
	}
	return buf.Bytes(), progress
}

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	require.NoError(t, err)
	return rows
}

func readXLSX(t *testing.T, b []byte) [][]string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	require.NoError(t, err)
	defer f.Close()
	rows, err := f.GetRows(f.GetSheetList()[0])
	require.NoError(t, err)
	return rows
}

func col(rows [][]string, name string) []string {
	for i, h := range rows[0] {
		if h == name {
			var out []string
			for _, r := range rows[1:] {
				out = append(out, r[i])
			}
			return out
		}
	}
	return nil
}

// Sales that share an occurred_at across batch boundaries come out once
// each, in (occurred_at, id) order, and progress is reported per batch.
func TestWriteKeysetAcrossBatches(t *testing.T) {
	d := tilltest.OpenDB(t)
	m := newMerchant(t, d.Client, "Lotus Tea", "JPY")
	at := time.Now().UTC().Truncate(time.Hour).Add(-24 * time.Hour)
	var want []string
	for i := range 7 {
		// Pairs share a second: ties sit on the batch boundaries.
		s := m.record(t, "Tea", int64(100+i), at.Add(time.Duration(i/2)*time.Second))
		want = append(want, string(s.ID))
	}
	// Ties are ordered by ID, which record order need not match.
	for i := 0; i+1 < len(want); i += 2 {
		if want[i] > want[i+1] {
			want[i], want[i+1] = want[i+1], want[i]
		}
	}
	spec := exports.Spec{MerchantID: m.id, Kind: exportjob.KindTRANSACTIONS, Format: exportjob.FormatCSV, Batch: 2}
	b, progress := write(t, d.Client, spec)
	rows := readCSV(t, b)
	require.Equal(t, want, col(rows, "Sale ID"))
	require.Equal(t, []int64{2, 4, 6, 7}, progress)
	require.Equal(t, "100", col(rows, "Total")[0], "JPY has no decimals")
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	require.Equal(t, at.In(tokyo).Format(exports.LocalTimeLayout), col(rows, "Occurred at (local)")[0])
	n, err := exports.Count(viewer.NewSystemContext(t.Context(), "test"), d.Client, spec)
	require.NoError(t, err)
	require.Equal(t, int64(7), n)
}

// Text that a spreadsheet would run as a formula is defused, in CSV and
// XLSX alike; amounts (negative ones too) stay numbers; and the XLSX reads
// back as the CSV.
func TestWriteGuardsFormulasAndMatchesCSV(t *testing.T) {
	d := tilltest.OpenDB(t)
	m := newMerchant(t, d.Client, "=cmd|' /C calc'!A0", "KWD")
	at := time.Now().UTC().Truncate(time.Hour).Add(-24 * time.Hour)
	for i, name := range []string{"=1+1", "+SUM(A1)", "-2+3", "@foo", "Plain, with \"quotes\"\nand a newline"} {
		m.record(t, name, int64(1250+i), at.Add(time.Duration(i)*time.Minute))
	}
	other := newMerchant(t, d.Client, "Other", "CNY")
	other.record(t, "Not yours", 100, at)

	for _, kind := range []exportjob.Kind{exportjob.KindTRANSACTIONS, exportjob.KindLINES} {
		spec := exports.Spec{MerchantID: m.id, Kind: kind, Format: exportjob.FormatCSV, Batch: 4}
		csvBytes, _ := write(t, d.Client, spec)
		spec.Format = exportjob.FormatXLSX
		xlsxBytes, _ := write(t, d.Client, spec)
		csvRows := readCSV(t, csvBytes)
		require.Len(t, csvRows, 6, "the other merchant's sale is not there")
		require.Equal(t, csvRows, readXLSX(t, xlsxBytes), kind)
		if kind == exportjob.KindLINES {
			require.Equal(t, []string{"'=1+1", "'+SUM(A1)", "'-2+3", "'@foo", "Plain, with \"quotes\"\nand a newline"},
				col(csvRows, "Item"))
			require.Equal(t, []string{"1.250", "1.251", "1.252", "1.253", "1.254"}, col(csvRows, "Unit price"), "KWD has 3 decimals")
		}
	}
	// Only the store in the filter, and an empty store list exports nothing.
	spec := exports.Spec{MerchantID: m.id, Kind: exportjob.KindTRANSACTIONS, Format: exportjob.FormatCSV,
		Filters: exporttype.Filters{StoreIDs: []pulid.ID{}}}
	b, _ := write(t, d.Client, spec)
	require.Len(t, readCSV(t, b), 1)
}

func TestLinkKeyIsDerived(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	a, err := exports.LinkKey(secret)
	require.NoError(t, err)
	b, err := exports.LinkKey(secret)
	require.NoError(t, err)
	require.Equal(t, a, b, "every replica derives the same key")
	require.Len(t, a, 32)
	require.NotEqual(t, secret, a)
}
