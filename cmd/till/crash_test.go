package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/kv"
	"github.com/tillpos/till/kv/kvtest"
)

// Killing the server (SIGKILL) in the middle of a stream of recordSale
// calls loses no acknowledged sale and leaves no half-written one: after a
// restart on the same database every acknowledged key replays its sale,
// every stored sale is whole (its lines and tenders add up to its total),
// receipt numbers run 1..N without gaps or repeats, and a key that was in
// flight when the server died either replays or records its sale, once.
func TestCrashLosesNoAcknowledgedSale(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real till process")
	}
	t.Parallel()
	const (
		clients   = 8
		killAfter = 100 // acknowledged sales before the kill
	)
	t.Logf("backends: %s", tilltest.Backends())
	bin := buildTill(t)
	vars := crashEnv(t)

	first := startTill(t, bin, vars)
	owner := first.env.SignUp(t, "Crash Tea")
	require.NotEmpty(t, owner.StoreID)

	// Clients record sales until the server dies under them.
	var (
		mu       sync.Mutex
		sent     = map[string]crashSale{} // every key that went out
		acked    = map[string]crashSale{} // keys answered with a sale
		acks     atomic.Int64
		killed   atomic.Bool
		enough   = make(chan struct{})
		enoughMu sync.Once
		wg       sync.WaitGroup
	)
	client := &http.Client{Timeout: 20 * time.Second}
	for w := range clients {
		wg.Go(func() {
			for i := 0; ; i++ {
				if killed.Load() {
					return
				}
				s := newCrashSale(w, i, owner.StoreID)
				mu.Lock()
				sent[s.key] = s
				mu.Unlock()
				out, err := recordCrashSale(t.Context(), client, first.url, owner.Token, s)
				if err != nil {
					if !killed.Load() {
						t.Errorf("client %d: sale %s failed while the server was up: %v", w, s.key, err)
					}
					return // in flight when the server died: unknown
				}
				if out.Replayed {
					t.Errorf("client %d: a fresh key %s replayed", w, s.key)
				}
				s.id, s.receipt = out.Sale.ID, out.Sale.ReceiptNumber
				mu.Lock()
				acked[s.key] = s
				mu.Unlock()
				if acks.Add(1) >= killAfter {
					enoughMu.Do(func() { close(enough) })
				}
			}
		})
	}
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	select {
	case <-enough:
	case <-stopped: // every client failed
	case <-time.After(30 * time.Second):
	}
	if acks.Load() < killAfter {
		killed.Store(true)
		first.kill(t)
		wg.Wait()
		t.Fatalf("only %d sales acknowledged before the clients stopped or 30s passed", acks.Load())
	}
	killed.Store(true)
	first.kill(t) // SIGKILL: no shutdown, requests in flight are cut off
	wg.Wait()
	if t.Failed() {
		return
	}
	var inFlight []string
	for key := range sent {
		if _, ok := acked[key]; !ok {
			inFlight = append(inFlight, key)
		}
	}
	slices.Sort(inFlight)
	t.Logf("before the kill: %d sales acknowledged, %d in flight", len(acked), len(inFlight))

	// Restart on the same database and keys; with the in-process Redis
	// the sessions died with the process, so log in again.
	second := startTill(t, bin, vars)
	owner = second.env.LogIn(t, owner.Email, owner.Password)
	env := second.env

	// What survived: every acknowledged sale and some of those in flight,
	// each whole, numbered 1..N.
	stored := listCrashSales(t, env, owner.Token)
	byKey := map[string]storedSale{}
	for _, s := range stored {
		_, dup := byKey[s.IdempotencyKey]
		require.False(t, dup, "key %s has two sales", s.IdempotencyKey)
		byKey[s.IdempotencyKey] = s
		want, ok := sent[s.IdempotencyKey]
		require.True(t, ok, "sale %s has a key no client sent: %q", s.ID, s.IdempotencyKey)
		requireWholeSale(t, s, want)
	}
	requireReceiptsOneToN(t, stored)
	for key, s := range acked {
		got, ok := byKey[key]
		require.True(t, ok, "acknowledged sale %s (key %s, receipt %d) is gone after the crash", s.id, key, s.receipt)
		require.Equal(t, s.id, got.ID, "key %s", key)
		require.Equal(t, s.receipt, got.ReceiptNumber, "key %s", key)
	}
	committed := len(stored) - len(acked)
	t.Logf("after the restart: %d sales stored: %d acknowledged + %d of the %d in flight that committed before the kill",
		len(stored), len(acked), committed, len(inFlight))

	// Retries: an acknowledged key replays its sale; a key that was in
	// flight replays if it committed and records its sale if it did not,
	// never a conflict.
	for key, s := range acked {
		out, err := recordCrashSale(t.Context(), http.DefaultClient, second.url, owner.Token, s)
		require.NoError(t, err, "retrying acknowledged key %s", key)
		require.True(t, out.Replayed, "acknowledged key %s did not replay", key)
		require.Equal(t, s.id, out.Sale.ID, "key %s", key)
		require.Equal(t, s.receipt, out.Sale.ReceiptNumber, "key %s", key)
	}
	created := 0
	for _, key := range inFlight {
		s := sent[key]
		out, err := recordCrashSale(t.Context(), http.DefaultClient, second.url, owner.Token, s)
		require.NoError(t, err, "retrying in-flight key %s", key)
		if prior, ok := byKey[key]; ok {
			require.True(t, out.Replayed, "in-flight key %s committed before the kill but did not replay", key)
			require.Equal(t, prior.ID, out.Sale.ID, "key %s", key)
		} else {
			require.False(t, out.Replayed, "in-flight key %s replayed a sale that was not stored", key)
			created++
		}
		require.Equal(t, s.total, out.Sale.Total, "key %s", key)
	}
	// One more sale: the receipt counter carries on where the sales end.
	extra := newCrashSale(clients, 0, owner.StoreID)
	sent[extra.key] = extra
	out, err := recordCrashSale(t.Context(), http.DefaultClient, second.url, owner.Token, extra)
	require.NoError(t, err)
	require.False(t, out.Replayed)
	require.Equal(t, int64(len(stored)+created+1), out.Sale.ReceiptNumber, "the next receipt number follows the stored sales")

	after := listCrashSales(t, env, owner.Token)
	require.Len(t, after, len(stored)+created+1)
	for _, s := range after {
		requireWholeSale(t, s, sent[s.IdempotencyKey])
	}
	requireReceiptsOneToN(t, after)
	t.Logf("after the retries: %d in-flight keys replayed, %d recorded anew; %d sales numbered 1..%d",
		len(inFlight)-created, created, len(after), len(after))
}

// crashSale is one recordSale request and, once acknowledged, its answer.
type crashSale struct {
	key   string
	input map[string]any
	total int64
	lines int
	// Set when the server acknowledged the sale.
	id      string
	receipt int64
}

// newCrashSale is the i-th sale of client w: two free-text lines (one
// discounted) paid partly in cash, with change, and partly by card, so
// that the sale, its lines and its tenders are several rows.
func newCrashSale(w, i int, store string) crashSale {
	key := fmt.Sprintf("crash-%d-%d-%s", w, i, rand.Text())
	qty, tea, cake, discount := int64(1+i%3), int64(1200+100*(w%5)), int64(2500+10*(i%7)), int64(100*(i%2))
	total := qty*tea + cake - discount // prices include tax by default
	cash := total / 2
	return crashSale{
		key: key, total: total, lines: 2,
		input: map[string]any{
			"idempotencyKey": key, "storeId": store, "expectedTotal": total,
			"lines": []any{
				map[string]any{"name": "Jasmine tea", "quantity": qty, "unitPrice": tea, "taxRateBp": 600},
				map[string]any{"name": "Mooncake", "quantity": 1, "unitPrice": cake, "lineDiscount": discount, "taxRateBp": 1300},
			},
			"tenders": []any{
				map[string]any{"type": "CASH", "amount": cash, "tendered": cash + 50},
				map[string]any{"type": "CARD", "amount": total - cash, "cardType": "CREDIT", "cardBrand": "VISA", "cardLast4": "4242"},
			},
		},
	}
}

// storedSale is a sale as the API returns it.
type storedSale struct {
	ID             string
	IdempotencyKey string
	ReceiptNumber  int64
	Status         string
	Total          int64
	Lines          []struct{ Total int64 }
	Tenders        []struct {
		Type   string
		Amount int64
	}
}

const crashSaleFields = `id idempotencyKey receiptNumber status total lines { total } tenders { type amount }`

type recordSaleOut struct {
	Replayed bool
	Sale     storedSale
}

// recordCrashSale sends s's recordSale. Any failure is an error: a
// transport error (the server died), an HTTP status or a GraphQL error.
func recordCrashSale(ctx context.Context, client *http.Client, url, token string, s crashSale) (*recordSaleOut, error) {
	body, err := json.Marshal(map[string]any{
		"query":     `mutation($i: RecordSaleInput!) { recordSale(input: $i) { replayed sale { ` + crashSaleFields + ` } } }`,
		"variables": map[string]any{"i": s.input},
	})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var res struct {
		Data *struct {
			RecordSale *recordSaleOut `json:"recordSale"`
		} `json:"data"`
		Errors []tilltest.Error `json:"errors"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("HTTP %d: decoding %q: %w", resp.StatusCode, raw, err)
	}
	switch {
	case len(res.Errors) > 0:
		return nil, fmt.Errorf("HTTP %d: GraphQL errors: %+v", resp.StatusCode, res.Errors)
	case resp.StatusCode != http.StatusOK || res.Data == nil || res.Data.RecordSale == nil:
		return nil, fmt.Errorf("HTTP %d without a sale: %s", resp.StatusCode, raw)
	}
	return res.Data.RecordSale, nil
}

// listCrashSales pages through all the merchant's sales.
func listCrashSales(t *testing.T, env *tilltest.Env, token string) []storedSale {
	t.Helper()
	var all []storedSale
	var after any
	for {
		var out struct {
			Sales struct {
				TotalCount int
				PageInfo   struct {
					HasNextPage bool
					EndCursor   string
				}
				Edges []struct{ Node storedSale }
			}
		}
		env.Exec(t, token, `query($after: Cursor) { sales(first: 100, after: $after, orderBy: [{field: RECEIPT_NUMBER, direction: ASC}]) {
			totalCount pageInfo { hasNextPage endCursor } edges { node { `+crashSaleFields+` } } } }`,
			map[string]any{"after": after}).Decode(t, &out)
		for _, e := range out.Sales.Edges {
			all = append(all, e.Node)
		}
		if !out.Sales.PageInfo.HasNextPage {
			require.Len(t, all, out.Sales.TotalCount, "the pages hold every sale")
			return all
		}
		after = out.Sales.PageInfo.EndCursor
	}
}

// requireWholeSale checks that s has all its rows and that they add up.
func requireWholeSale(t *testing.T, s storedSale, want crashSale) {
	t.Helper()
	require.Equal(t, "COMPLETED", s.Status, "sale %s", s.ID)
	require.Equal(t, want.total, s.Total, "sale %s total", s.ID)
	require.Len(t, s.Lines, want.lines, "sale %s lines", s.ID)
	require.Len(t, s.Tenders, 2, "sale %s tenders", s.ID)
	var lines, tenders int64
	for _, l := range s.Lines {
		lines += l.Total
	}
	for _, tn := range s.Tenders {
		tenders += tn.Amount
	}
	require.Equal(t, s.Total, lines, "sale %s: the lines add up to the total", s.ID)
	require.Equal(t, s.Total, tenders, "sale %s: the tenders add up to the total", s.ID)
}

// requireReceiptsOneToN checks that the sales' receipt numbers are exactly
// 1..len(sales).
func requireReceiptsOneToN(t *testing.T, sales []storedSale) {
	t.Helper()
	numbers := make([]int64, len(sales))
	for i, s := range sales {
		numbers[i] = s.ReceiptNumber
	}
	slices.Sort(numbers)
	for i, n := range numbers {
		require.Equal(t, int64(i+1), n, "receipt numbers run 1..%d without gaps or repeats: %v", len(sales), numbers)
	}
}

// buildTill builds the till command into a temporary directory.
func buildTill(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "till")
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		// The packages are already compiled for the race detector, and
		// the server then runs under it too.
		args = append(args, "-race")
	}
	start := time.Now()
	out, err := exec.CommandContext(t.Context(), goTool, append(args, ".")...).CombinedOutput()
	require.NoError(t, err, "go %s:\n%s", strings.Join(args, " "), out)
	t.Logf("built till (race detector: %v) in %s", raceEnabled(), time.Since(start).Round(time.Millisecond))
	return bin
}

// raceEnabled reports whether this test binary was built with -race.
func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// crashEnv is the environment of both runs of the server: the test's own
// database (SQLite, or a schema of TILL_TEST_DATABASE_URL) and key file,
// and TILL_TEST_REDIS_URL under a key prefix of its own when set.
func crashEnv(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	vars := map[string]string{
		"DATABASE_URL":     tilltest.DatabaseURL(t),
		"TILL_KEYS_FILE":   filepath.Join(dir, "keys.json"),
		"TILL_BCRYPT_COST": "4",
		// Eight clients share one session and one IP.
		"TILL_API_RATE":     "0",
		"TILL_LOGIN_PER_IP": "0",
		"TILL_LOG_LEVEL":    "warn",
		"HOME":              dir,
	}
	if url := os.Getenv(kvtest.EnvURL); url != "" {
		prefix := "till-test:" + rand.Text() + ":"
		vars["REDIS_URL"], vars["TILL_REDIS_PREFIX"] = url, prefix
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			store, err := kv.Open(ctx, url)
			if err != nil {
				t.Errorf("opening redis to delete test keys: %v", err)
				return
			}
			defer store.Close()
			if err := kvtest.DeleteKeys(ctx, store.Client(), "*"+prefix+"*"); err != nil {
				t.Errorf("deleting test keys: %v", err)
			}
		})
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// tillProcess is a running `till serve`.
type tillProcess struct {
	cmd    *exec.Cmd
	url    string
	env    *tilltest.Env
	exited chan struct{}
	logs   *syncBuffer
}

// startTill runs `till serve` on a free port with env, and waits until it
// is ready. It is stopped when t ends, before t's database is dropped.
func startTill(t *testing.T, bin string, env []string) *tillProcess {
	t.Helper()
	addr := freeAddr(t)
	p := &tillProcess{
		cmd:    exec.Command(bin, "serve", "--addr", addr),
		url:    "http://" + addr,
		exited: make(chan struct{}),
		logs:   new(syncBuffer),
	}
	p.env = &tilltest.Env{URL: p.url}
	p.cmd.Env = env
	p.cmd.Dir = filepath.Dir(bin)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	require.NoError(t, p.cmd.Start())
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("log of till pid %d:\n%s", p.cmd.Process.Pid, p.logs)
		}
	})
	deadline := time.After(30 * time.Second)
	for {
		resp, err := http.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("till exited before it was ready (%v):\n%s", p.cmd.ProcessState, p.logs)
		case <-deadline:
			t.Fatalf("till not ready after 30s:\n%s", p.logs)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// kill kills the process with SIGKILL and waits until it is gone.
func (p *tillProcess) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Kill())
	<-p.exited
	require.Equal(t, "signal: killed", p.cmd.ProcessState.String())
}

// stop shuts the process down gracefully, or kills it after 10s.
func (p *tillProcess) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// syncBuffer collects a child's output, written from exec's copying
// goroutines and read by the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
