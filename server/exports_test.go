package server_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/tillpos/till/exports"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/server"
)

// Sales exports through the API: a job queued with exportSales, run by the
// runner, watched through exportJob, downloaded over a signed link by
// anyone who holds it, and refused to whoever should not have it.

const (
	exportJobFields = `id status format kind rowsTotal rowsDone progress bytes downloadUrl urlExpiresAt expiresAt error createdAt`
	exportSales     = `mutation($i: ExportSalesInput!) { exportSales(input: $i) { job { ` + exportJobFields + ` } } }`
	exportJobQuery  = `query($id: ID!) { exportJob(id: $id) { ` + exportJobFields + ` } }`
)

type exportJob struct {
	ID           string
	Status       string
	Format       string
	Kind         string
	RowsTotal    int64
	RowsDone     int64
	Progress     float64
	Bytes        int64
	DownloadURL  *string
	URLExpiresAt *time.Time
	ExpiresAt    *time.Time
	Error        *string
}

type exportEnv struct {
	*saleEnv
	clock *tilltest.Clock
}

// newExportEnv is a sale env whose exports read two sales a batch and
// store files in 256-byte chunks, so that small exports cross both
// boundaries.
func newExportEnv(t *testing.T) *exportEnv {
	clock := tilltest.NewClock(time.Now())
	cfg := exports.DefaultConfig()
	cfg.Batch, cfg.ChunkSize = 2, 256
	return &exportEnv{
		saleEnv: newSaleEnv(t, server.WithExportOptions(exports.WithConfig(cfg), exports.WithClock(clock.Now))),
		clock:   clock,
	}
}

func (e *exportEnv) request(t *testing.T, token string, in map[string]any) exportJob {
	t.Helper()
	var out struct{ ExportSales struct{ Job exportJob } }
	e.Exec(t, token, exportSales, map[string]any{"i": in}).Decode(t, &out)
	return out.ExportSales.Job
}

func (e *exportEnv) job(t *testing.T, token, id string) exportJob {
	t.Helper()
	var out struct{ ExportJob exportJob }
	e.Exec(t, token, exportJobQuery, map[string]any{"id": id}).Decode(t, &out)
	return out.ExportJob
}

// run runs the due export jobs now, as a worker would.
func (e *exportEnv) run(t *testing.T) int {
	t.Helper()
	n, err := e.Server.Exports.RunDue(t.Context())
	require.NoError(t, err)
	return n
}

// download GETs link from the test server, without an access token.
func (e *exportEnv) download(t *testing.T, link string) (*http.Response, []byte) {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	resp, err := http.Get(e.URL + u.RequestURI())
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

// export queues, runs and downloads an export as the holder of token.
func (e *exportEnv) export(t *testing.T, token string, in map[string]any) (exportJob, []byte) {
	t.Helper()
	job := e.request(t, token, in)
	require.Equal(t, "QUEUED", job.Status)
	require.Nil(t, job.DownloadURL)
	require.Equal(t, 1, e.run(t))
	job = e.job(t, token, job.ID)
	require.Equal(t, "DONE", job.Status, "job %+v", job)
	require.NotNil(t, job.DownloadURL)
	resp, body := e.download(t, *job.DownloadURL)
	require.Equal(t, http.StatusOK, resp.StatusCode, "body %s", body)
	require.Equal(t, strconv.FormatInt(job.Bytes, 10), resp.Header.Get("Content-Length"))
	require.Contains(t, resp.Header.Get("Content-Disposition"), "attachment; filename=till-")
	require.Len(t, body, int(job.Bytes))
	return job, body
}

func parseCSV(t *testing.T, body []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	require.NoError(t, err)
	return rows
}

func parseXLSX(t *testing.T, body []byte) [][]string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(body))
	require.NoError(t, err)
	defer f.Close()
	rows, err := f.GetRows(f.GetSheetList()[0])
	require.NoError(t, err)
	return rows
}

// column is the named column of rows, below the header.
func column(t *testing.T, rows [][]string, name string) []string {
	t.Helper()
	for i, h := range rows[0] {
		if h == name {
			var out []string
			for _, r := range rows[1:] {
				out = append(out, r[i])
			}
			return out
		}
	}
	t.Fatalf("no column %q in %v", name, rows[0])
	return nil
}

func TestExportSales(t *testing.T) {
	e := newExportEnv(t)
	first := e.record(t, e.cashier.Token, saleOf(e.owner.StoreID,
		[]any{saleItem("=HYPERLINK(\"http://evil\")", 2, 1250, 0), saleItem("Tea", 1, 300, 0)}, saleCard(2800, "ref-1")))
	second := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 1999))
	third := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 500))
	e.refund(t, e.manager.Token, saleVoid, map[string]any{"idempotencyKey": saleKey(), "saleId": third.ID, "reason": "mistake"})
	sales := []saleSale{first, second, third}

	job, body := e.export(t, e.owner.Token, map[string]any{"format": "CSV"})
	require.Equal(t, int64(3), job.RowsTotal)
	require.Equal(t, int64(3), job.RowsDone)
	require.Equal(t, 1.0, job.Progress)
	require.Greater(t, job.Bytes, int64(256), "the file spans several chunks")
	rows := parseCSV(t, body)
	require.Len(t, rows, 4)
	var ids, receipts, totals []string
	for _, s := range sales {
		ids = append(ids, s.ID)
		receipts = append(receipts, strconv.FormatInt(s.ReceiptNumber, 10))
		totals = append(totals, exportDecimal(s.Total))
	}
	require.Equal(t, ids, column(t, rows, "Sale ID"))
	require.Equal(t, receipts, column(t, rows, "Receipt number"))
	require.Equal(t, totals, column(t, rows, "Total"))
	require.Equal(t, []string{"COMPLETED", "COMPLETED", "VOIDED"}, column(t, rows, "Status"))
	require.Equal(t, []string{"0.00", "0.00", "5.00"}, column(t, rows, "Refunded"))
	require.Equal(t, []string{"CARD visa *4242 28.00", "CASH 19.99", "CASH 5.00"}, column(t, rows, "Tenders"))
	require.Equal(t, []string{"CNY", "CNY", "CNY"}, column(t, rows, "Currency"))
	for i, s := range sales {
		require.Equal(t, s.OccurredAt.UTC().Format(time.RFC3339), column(t, rows, "Occurred at (UTC)")[i])
		require.Equal(t, s.OccurredAt.In(exportShanghai(t)).Format(exports.LocalTimeLayout), column(t, rows, "Occurred at (local)")[i])
		require.Equal(t, s.BusinessDate, column(t, rows, "Business date")[i])
	}

	t.Run("lines, with the formula guard", func(t *testing.T) {
		_, body := e.export(t, e.owner.Token, map[string]any{"format": "CSV", "kind": "LINES"})
		rows := parseCSV(t, body)
		require.Equal(t, []string{`'=HYPERLINK("http://evil")`, "Tea", "Tea", "Tea"}, column(t, rows, "Item"))
		require.Equal(t, []string{"2", "1", "1", "1"}, column(t, rows, "Quantity"))
		require.Equal(t, []string{"12.50", "3.00", "19.99", "5.00"}, column(t, rows, "Unit price"))
		require.Equal(t, []string{first.ID, first.ID, second.ID, third.ID}, column(t, rows, "Sale ID"))
	})

	t.Run("XLSX holds what the CSV holds", func(t *testing.T) {
		for _, kind := range []string{"TRANSACTIONS", "LINES"} {
			_, csvBody := e.export(t, e.owner.Token, map[string]any{"format": "CSV", "kind": kind})
			job, xlsxBody := e.export(t, e.owner.Token, map[string]any{"format": "XLSX", "kind": kind})
			require.Equal(t, "XLSX", job.Format)
			require.Equal(t, parseCSV(t, csvBody), parseXLSX(t, xlsxBody), kind)
		}
	})

	t.Run("filters", func(t *testing.T) {
		_, body := e.export(t, e.owner.Token, map[string]any{"format": "CSV", "status": []string{"VOIDED"}})
		require.Equal(t, []string{third.ID}, column(t, parseCSV(t, body), "Sale ID"))
		_, body = e.export(t, e.owner.Token, map[string]any{"format": "CSV", "from": second.OccurredAt.Format(time.RFC3339Nano)})
		require.Equal(t, []string{second.ID, third.ID}, column(t, parseCSV(t, body), "Sale ID"))
		_, body = e.export(t, e.owner.Token, map[string]any{"format": "CSV", "fromDate": "2000-01-01", "toDate": "2000-01-02"})
		require.Len(t, parseCSV(t, body), 1, "the header only")
		res := e.Exec(t, e.owner.Token, exportSales, map[string]any{"i": map[string]any{"format": "CSV", "fromDate": "01/02/2026"}})
		saleWantErr(t, res, "BAD_USER_INPUT", "fromDate")
	})

	t.Run("a manager exports the stores they work at", func(t *testing.T) {
		other := e.store(t, e.owner.Token, "Harbour")
		elsewhere := e.record(t, e.owner.Token, saleCash(other, 800))
		_, body := e.export(t, e.manager.Token, map[string]any{"format": "CSV"})
		require.Equal(t, ids, column(t, parseCSV(t, body), "Sale ID"))
		res := e.Exec(t, e.manager.Token, exportSales, map[string]any{"i": map[string]any{"format": "CSV", "storeId": other}})
		saleWantErr(t, res, "FORBIDDEN", "storeId")
		_, body = e.export(t, e.owner.Token, map[string]any{"format": "CSV", "storeId": other})
		require.Equal(t, []string{elsewhere.ID}, column(t, parseCSV(t, body), "Sale ID"))
	})

	t.Run("cashiers are forbidden", func(t *testing.T) {
		res := e.Exec(t, e.cashier.Token, exportSales, map[string]any{"i": map[string]any{"format": "CSV"}})
		saleWantErr(t, res, "FORBIDDEN", "")
		res = e.Exec(t, e.cashier.Token, exportJobQuery, map[string]any{"id": job.ID})
		saleWantErr(t, res, "FORBIDDEN", "")
	})

	t.Run("another merchant cannot read the job or bend the link", func(t *testing.T) {
		b := e.SignUp(t, "Other Tea")
		e.record(t, b.Token, saleCash(b.StoreID, 4200))
		res := e.Exec(t, b.Token, exportJobQuery, map[string]any{"id": job.ID})
		saleWantErr(t, res, "NOT_FOUND", "")
		var page struct {
			ExportJobs struct{ TotalCount int }
		}
		e.Exec(t, b.Token, `{ exportJobs(first: 10) { totalCount } }`, nil).Decode(t, &page)
		require.Zero(t, page.ExportJobs.TotalCount)
		bJob, body := e.export(t, b.Token, map[string]any{"format": "CSV"})
		require.Len(t, parseCSV(t, body), 2, "B's one sale, not A's")
		// A's signature does not open B's job, nor B's A's.
		aLink := e.job(t, e.owner.Token, job.ID).DownloadURL
		u, err := url.Parse(*aLink)
		require.NoError(t, err)
		u.Path = "/exports/" + bJob.ID
		exportRefused(t, e, u.String(), http.StatusForbidden)
	})

	t.Run("a tampered or expired link is refused", func(t *testing.T) {
		link := *e.job(t, e.owner.Token, job.ID).DownloadURL
		u, err := url.Parse(link)
		require.NoError(t, err)
		q := u.Query()
		exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
		require.NoError(t, err)
		q.Set("exp", strconv.FormatInt(exp+3600, 10))
		u.RawQuery = q.Encode()
		exportRefused(t, e, u.String(), http.StatusForbidden)
		q = u.Query()
		q.Set("exp", strconv.FormatInt(exp, 10))
		q.Set("sig", "00"+q.Get("sig")[2:])
		u.RawQuery = q.Encode()
		exportRefused(t, e, u.String(), http.StatusForbidden)
		exportRefused(t, e, e.URL+"/exports/"+job.ID, http.StatusForbidden)

		e.clock.Advance(16 * time.Minute)
		exportRefused(t, e, link, http.StatusGone)
		fresh := e.job(t, e.owner.Token, job.ID)
		require.NotNil(t, fresh.DownloadURL, "reading the job issues a fresh link")
		resp, _ := e.download(t, *fresh.DownloadURL)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	})

	t.Run("files expire after a week; the job stays", func(t *testing.T) {
		link := *e.job(t, e.owner.Token, job.ID).DownloadURL
		e.clock.Advance(7*24*time.Hour + time.Minute)
		require.NoError(t, e.Server.Exports.Prune(t.Context()))
		expired := e.job(t, e.owner.Token, job.ID)
		require.Equal(t, "EXPIRED", expired.Status)
		require.Nil(t, expired.DownloadURL)
		exportRefused(t, e, link, http.StatusGone)
	})
}

// TestExportSalesRunnerTakesOver checks that a job whose runner died is
// taken over once its lease runs out, and written whole.
func TestExportSalesRunnerTakesOver(t *testing.T) {
	e := newExportEnv(t)
	for range 5 {
		e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 100))
	}
	job := e.request(t, e.owner.Token, map[string]any{"format": "CSV"})
	_, err := e.DB.SQL.ExecContext(t.Context(),
		`UPDATE export_jobs SET status = 'RUNNING', lease_owner = 'dead', lease_until = $1, attempts = 1, rows_done = 2 WHERE id = $2`,
		e.clock.Now().Add(time.Minute), job.ID)
	require.NoError(t, err)
	require.Zero(t, e.run(t), "the lease still holds")
	require.Equal(t, 0.0, e.job(t, e.owner.Token, job.ID).Progress, "rows not counted yet")
	e.clock.Advance(2 * time.Minute)
	require.Equal(t, 1, e.run(t))
	done := e.job(t, e.owner.Token, job.ID)
	require.Equal(t, "DONE", done.Status)
	resp, body := e.download(t, *done.DownloadURL)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, parseCSV(t, body), 6)
}

func exportRefused(t *testing.T, e *exportEnv, link string, status int) {
	t.Helper()
	resp, body := e.download(t, link)
	require.Equal(t, status, resp.StatusCode, "body %s", body)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var msg struct{ Error, Code string }
	require.NoError(t, json.Unmarshal(body, &msg))
	require.NotEmpty(t, msg.Error)
}

func exportDecimal(minor int64) string {
	return strconv.FormatInt(minor/100, 10) + "." + strconv.FormatInt(100+minor%100, 10)[1:]
}

func exportShanghai(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	return loc
}
