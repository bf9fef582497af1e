package customers_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the sign-up's store time zone resolves on hosts without zoneinfo

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"golang.org/x/crypto/bcrypt"

	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/store"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/keyring"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/pii"
)

// perfEnvCustomers overrides how many customers BenchmarkLookupByPhone
// loads (default perfDefaultCustomers), for quick runs.
const (
	perfEnvCustomers     = "TILL_BENCH_CUSTOMERS"
	perfDefaultCustomers = 1_000_000
)

// BenchmarkLookupByPhone measures Service.Lookup by phone, as the till's
// customer search does it, against one merchant holding a million
// customers (TILL_BENCH_CUSTOMERS to change). It runs on SQLite, or on
// the PostgreSQL named by TILL_TEST_DATABASE_URL:
//
//	go test -run '^$' -bench LookupByPhone -benchtime 2000x ./customers/
//
// The customers are written with raw SQL (multi-row INSERTs on SQLite,
// COPY on PostgreSQL) but are what the service itself stores: phone and
// email sealed with a pii.Box under the customer's id, and their blind
// indexes under the merchant. Each lookup is of a different random
// customer, typed as a cashier would (national format, no +86), and goes
// through the real service with a staff viewer: the merchant read for
// the phone region, then the customer read with the tenant filter.
func BenchmarkLookupByPhone(b *testing.B) {
	n := perfDefaultCustomers
	if s := os.Getenv(perfEnvCustomers); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			b.Fatalf("%s=%q: want a positive number of customers", perfEnvCustomers, s)
		}
	}
	fx := perfSetup(b)
	cpu0, _ := perfCPUTime()
	load := perfLoad(b, fx.db, fx.box, fx.merchant, n)
	cpu1, _ := perfCPUTime()
	start := time.Now()
	perfSettle(b, fx.db)
	// A parent benchmark's log shows only with -v; its first child's always.
	loaded := fmt.Sprintf("%s: loaded %d customers in %s (%.0f rows/s; %s CPU in this process), then %s in %s",
		perfEngine(fx.db), n, load.Round(time.Millisecond), float64(n)/load.Seconds(), (cpu1 - cpu0).Round(time.Millisecond),
		perfSettleWhat(fx.db), time.Since(start).Round(time.Millisecond))

	// Lookups hit random customers, chosen before timing starts.
	rng := rand.New(rand.NewPCG(1, 2))
	hits := make([]string, 8192)
	for i := range hits {
		hits[i] = perfNational(rng.IntN(n))
	}
	// A number no customer has: the index says so without reading a row.
	misses := make([]string, len(hits))
	for i := range misses {
		misses[i] = fmt.Sprintf("139%08d", rng.IntN(100_000_000))
	}
	// Check the data before measuring: the rows are found and open.
	for _, i := range []int{0, n / 2, n - 1} {
		c, err := fx.svc.Lookup(fx.ctx, customers.LookupKey{Phone: new(perfNational(i))})
		if err != nil || c == nil {
			b.Fatalf("looking up customer %d: %v, %v", i, c, err)
		}
		v, err := fx.svc.ContactView(fx.ctx, c)
		if err != nil || v.Phone == nil || *v.Phone != perfPhone(i) || c.MemberCode != perfMemberCode(i) {
			b.Fatalf("customer %d: contact %+v, member code %s, error %v", i, v, c.MemberCode, err)
		}
	}

	// And the plan at this size, from the query the service sends.
	rec := &perfRecorder{Driver: entsql.OpenDB(fx.db.Dialect, fx.db.SQL)}
	if _, err := customers.New(ent.NewClient(ent.Driver(rec)), fx.box).Lookup(fx.ctx, customers.LookupKey{Phone: &hits[0]}); err != nil {
		b.Fatal(err)
	}
	q := rec.only(b, perfFromCustomers)
	plan := perfExplain(b, fx.db, q, false)
	if !slices.ContainsFunc(plan, func(l string) bool { return strings.Contains(l, "customer_merchant_id_phone_index") }) {
		b.Fatalf("the lookup does not use customer_merchant_id_phone_index:\n  %s", strings.Join(plan, "\n  "))
	}
	if fx.db.Dialect == dialect.Postgres {
		// What the probe itself costs the server, without the round trip.
		args, _ := q.args.([]any)
		var lines []string
		rows, err := fx.db.SQL.QueryContext(b.Context(), "EXPLAIN (ANALYZE, BUFFERS) "+q.query, args...)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				b.Fatal(err)
			}
			if strings.Contains(l, "Buffers") || strings.Contains(l, "Execution Time") {
				lines = append(lines, strings.TrimSpace(l))
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			b.Fatal(err)
		}
		plan = append(plan, "EXPLAIN ANALYZE: "+strings.Join(slices.Compact(lines), "; "))
	}

	b.Run("hit", func(b *testing.B) {
		b.Logf("%s\n  plan: %s", loaded, strings.Join(plan, "\n        "))
		perfLoop(b, func(i int) {
			c, err := fx.svc.Lookup(fx.ctx, customers.LookupKey{Phone: &hits[i%len(hits)]})
			if err != nil || c == nil {
				b.Fatalf("looking up %s: %v, %v", hits[i%len(hits)], c, err)
			}
		})
		b.ReportMetric(float64(n), "customers")
		b.ReportMetric(load.Seconds(), "load-s")
	})
	b.Run("miss", func(b *testing.B) {
		perfLoop(b, func(i int) {
			c, err := fx.svc.Lookup(fx.ctx, customers.LookupKey{Phone: &misses[i%len(misses)]})
			if err != nil || c != nil {
				b.Fatalf("looking up %s: %v, %v", misses[i%len(misses)], c, err)
			}
		})
	})
}

// perfLoop runs op with 0, 1, 2… for the benchmark's iterations and
// reports allocations and, besides the wall-clock ns/op, the CPU time per
// op this process used (cpu-ns/op): on a busy machine the first grows
// with the load of others, the second much less. On PostgreSQL the
// server's own CPU is not in it.
func perfLoop(b *testing.B, op func(i int)) {
	b.ReportAllocs()
	cpu0, ok := perfCPUTime()
	i := 0
	for b.Loop() {
		op(i)
		i++
	}
	if cpu1, _ := perfCPUTime(); ok && i > 0 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(i), "cpu-ns/op")
	}
}

// perfFixture is a merchant on a database of the test's own, with a
// customers.Service and a context acting as the merchant's owner.
type perfFixture struct {
	db       *db.DB
	box      *pii.Box
	svc      *customers.Service
	merchant perfMerchant
	ctx      context.Context
}

// perfMerchant is what a customer row refers to.
type perfMerchant struct {
	ID, StaffID, StoreID pulid.ID
}

func perfSetup(tb testing.TB) *perfFixture {
	tb.Helper()
	d := tilltest.OpenDB(tb)
	keys, err := keyring.Generate()
	if err != nil {
		tb.Fatal(err)
	}
	box, err := pii.New(keys.PII, keys.BlindIndex)
	if err != nil {
		tb.Fatal(err)
	}
	m, role := perfSignUp(tb, d, "Lotus Tea")
	ctx := viewer.NewContext(tb.Context(), &viewer.Viewer{
		Kind: viewer.KindStaff, ID: m.StaffID, MerchantID: m.ID, Role: role, SessionID: "perf",
	})
	return &perfFixture{db: d, box: box, svc: customers.New(d.Client, box), merchant: m, ctx: ctx}
}

// perfSignUp signs a merchant up as the API does, in zh-CN so that phones
// typed without a country code are Chinese.
func perfSignUp(tb testing.TB, d *db.DB, name string) (perfMerchant, viewer.Role) {
	tb.Helper()
	owner, err := merchants.New(d.Client, password.NewHasher(bcrypt.MinCost)).SignUp(tb.Context(), merchants.SignUpInput{
		MerchantName: name, OwnerName: name + " Owner", Email: tilltest.UniqueEmail("owner"),
		Password: tilltest.Password, Currency: "CNY", TimeZone: "Asia/Shanghai", Locale: "zh-CN",
	})
	if err != nil {
		tb.Fatalf("signing up: %v", err)
	}
	storeID, err := d.Store.Query().Where(store.MerchantID(owner.MerchantID)).OnlyID(viewer.NewSystemContext(tb.Context(), "perf-test"))
	if err != nil {
		tb.Fatalf("finding the store: %v", err)
	}
	return perfMerchant{ID: owner.MerchantID, StaffID: owner.ID, StoreID: storeID}, viewer.Role(owner.Role)
}

// Customer i of a merchant: a distinct valid mainland mobile number, an
// email and a 10-digit member code.
func perfPhone(i int) string      { return fmt.Sprintf("+86138%08d", i) }
func perfNational(i int) string   { return fmt.Sprintf("138%08d", i) }
func perfEmail(i int) string      { return fmt.Sprintf("c%07d@lotus.example", i) }
func perfMemberCode(i int) string { return strconv.Itoa(8_000_000_000 + i) }

// perfColumns are the customer columns perfLoad writes; the others keep
// their defaults or stay NULL.
var perfColumns = []string{
	"id", "created_at", "updated_at", "name", "search_text",
	"phone_enc", "phone_index", "email_enc", "email_index", "pii_key_id",
	"member_code", "push_consent", "sms_consent", "email_consent", "status",
	"visits_count", "total_spent", "merchant_id", "customer_created_by", "customer_store",
}

// perfBatch is how many rows one SQLite INSERT carries: 20 columns × 1,000
// rows stays under SQLite's 32,766 bound parameters.
const perfBatch = 1000

// perfLoad writes customers 0…n-1 of m and returns how long it took. The
// sealing and indexing runs on every CPU; the rows go to the database as
// multi-row INSERTs in transactions of 100,000 rows on SQLite, and as one
// COPY on PostgreSQL.
func perfLoad(tb testing.TB, d *db.DB, box *pii.Box, m perfMerchant, n int) time.Duration {
	tb.Helper()
	start := time.Now()
	chunks := make(chan [][]any, 2*runtime.GOMAXPROCS(0))
	next := make(chan int)
	// Whatever happens to the writer, the generators stop and do not block.
	defer func() {
		for range chunks {
		}
	}()
	ctx, cancel := context.WithCancel(tb.Context())
	defer cancel()
	go func() {
		defer close(next)
		for from := 0; from < n; from += perfBatch {
			select {
			case next <- from:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for from := range next {
				select {
				case chunks <- perfRows(box, m, from, min(from+perfBatch, n)):
				case <-ctx.Done():
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(chunks) }()

	conn, err := d.SQL.Conn(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	if d.Dialect == dialect.Postgres {
		err = conn.Raw(func(dc any) error {
			_, err := dc.(*stdlib.Conn).Conn().CopyFrom(ctx, pgx.Identifier{"customers"}, perfColumns, &perfCopySource{chunks: chunks})
			return err
		})
	} else {
		err = perfInsertSQLite(ctx, conn, chunks)
	}
	if err != nil {
		tb.Fatalf("loading customers: %v", err)
	}
	elapsed := time.Since(start)

	var got int
	if err := d.SQL.QueryRowContext(ctx, perfRebind(d, "SELECT count(*) FROM customers WHERE merchant_id = ?"), string(m.ID)).Scan(&got); err != nil {
		tb.Fatal(err)
	}
	if got < n {
		tb.Fatalf("loaded %d customers, want %d", got, n)
	}
	return elapsed
}

// perfRows makes customers from…to-1 of m as Service.Create would store
// them.
func perfRows(box *pii.Box, m perfMerchant, from, to int) [][]any {
	now := time.Now().UTC().Truncate(time.Microsecond) // as the schema stores times
	rows := make([][]any, 0, to-from)
	for i := from; i < to; i++ {
		id := pulid.New("cus")
		name := fmt.Sprintf("Customer %07d", i)
		phone, email := perfPhone(i), perfEmail(i)
		rows = append(rows, []any{
			string(id), now, now, name, " " + strings.ToLower(name),
			box.Seal(phone, string(id)+"|phone"), box.Index(string(m.ID), "phone", phone),
			box.Seal(email, string(id)+"|email"), box.Index(string(m.ID), "email", email), box.ActiveKeyID(),
			perfMemberCode(i), false, false, false, "ACTIVE",
			int64(0), int64(0), string(m.ID), string(m.StaffID), string(m.StoreID),
		})
	}
	return rows
}

// perfInsertSQLite inserts the chunks with multi-row INSERTs, committing
// every 100 of them. SQLite would keep a statement journal for each
// multi-row INSERT (to undo just that statement if a row failed a
// constraint or a foreign key), which costs more than the insert itself;
// INSERT OR ROLLBACK and foreign keys off for the load do without it. The
// references need no checking: every row names the merchant, staff member
// and store just read from the database, and a duplicate still fails the
// load. The connection also gets a large page cache for the load, and its
// settings back afterwards so the benchmark runs as configured.
func perfInsertSQLite(ctx context.Context, conn *sql.Conn, chunks <-chan [][]any) (err error) {
	for _, p := range []string{"PRAGMA cache_size = -524288", "PRAGMA foreign_keys = OFF"} { // 512 MiB
		if _, err := conn.ExecContext(ctx, p); err != nil {
			return err
		}
	}
	defer func() {
		for _, p := range []string{"PRAGMA cache_size = -2000", "PRAGMA foreign_keys = ON"} {
			if _, perr := conn.ExecContext(context.WithoutCancel(ctx), p); err == nil {
				err = perr
			}
		}
	}()
	var (
		tx    *sql.Tx
		full  *sql.Stmt
		count int
	)
	defer func() {
		if tx != nil {
			_ = tx.Rollback()
		}
	}()
	for chunk := range chunks {
		if tx == nil {
			if tx, err = conn.BeginTx(ctx, nil); err != nil {
				return err
			}
			if full, err = tx.PrepareContext(ctx, perfInsertSQL(perfBatch)); err != nil {
				return err
			}
		}
		args := make([]any, 0, len(chunk)*len(perfColumns))
		for _, row := range chunk {
			args = append(args, row...)
		}
		if len(chunk) == perfBatch {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, perfInsertSQL(len(chunk)), args...)
		}
		if err != nil {
			return err
		}
		if count++; count%100 == 0 {
			err, tx = tx.Commit(), nil
			if err != nil {
				return err
			}
		}
	}
	if tx != nil {
		err, tx = tx.Commit(), nil
	}
	return err
}

func perfInsertSQL(rows int) string {
	var sb strings.Builder
	sb.WriteString("INSERT OR ROLLBACK INTO customers (" + strings.Join(perfColumns, ", ") + ") VALUES ")
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(perfColumns)), ", ") + ")"
	for i := range rows {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(row)
	}
	return sb.String()
}

// perfCopySource feeds the chunks to pgx's CopyFrom.
type perfCopySource struct {
	chunks <-chan [][]any
	rows   [][]any
	row    []any
}

func (s *perfCopySource) Next() bool {
	for len(s.rows) == 0 {
		var ok bool
		if s.rows, ok = <-s.chunks; !ok {
			return false
		}
	}
	s.row, s.rows = s.rows[0], s.rows[1:]
	return true
}

func (s *perfCopySource) Values() ([]any, error) { return s.row, nil }
func (s *perfCopySource) Err() error             { return nil }

// perfSettle brings the database to its steady state after a bulk load:
// SQLite moves the WAL into the database file, PostgreSQL does what
// autovacuum would (statistics, visibility map, hint bits).
func perfSettle(tb testing.TB, d *db.DB) {
	tb.Helper()
	q := "PRAGMA wal_checkpoint(TRUNCATE)"
	if d.Dialect == dialect.Postgres {
		q = "VACUUM ANALYZE customers"
	}
	if _, err := d.SQL.ExecContext(tb.Context(), q); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

func perfSettleWhat(d *db.DB) string {
	if d.Dialect == dialect.Postgres {
		return "VACUUM ANALYZE"
	}
	return "WAL checkpoint"
}

func perfEngine(d *db.DB) string {
	if d.Dialect == dialect.Postgres {
		return "postgresql"
	}
	return "sqlite"
}

// perfRebind turns ? placeholders into PostgreSQL's $n.
func perfRebind(d *db.DB, q string) string {
	if d.Dialect != dialect.Postgres {
		return q
	}
	var sb strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			sb.WriteString("$" + strconv.Itoa(n))
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
