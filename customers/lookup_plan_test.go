package customers_test

import (
	"context"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
)

// TestLookupPlans checks that each way a cashier recognises a customer is
// one probe of the merchant's unique index, on SQLite and PostgreSQL: it
// records the SQL that Service.Lookup really sends (tenant filter
// included) and asks the database for its plan, on a few hundred
// customers of two merchants, both before any statistics (SQLite in
// production never gathers them) and after ANALYZE, and on PostgreSQL
// also the generic plan a cached prepared statement may use. The planner
// chooses the index by itself: nothing discourages sequential scans.
func TestLookupPlans(t *testing.T) {
	fx := perfSetup(t)
	other, _ := perfSignUp(t, fx.db, "Other Tea")
	const n = 300
	perfLoad(t, fx.db, fx.box, fx.merchant, n)
	perfLoad(t, fx.db, fx.box, other, n)

	rec := &perfRecorder{Driver: entsql.OpenDB(fx.db.Dialect, fx.db.SQL)}
	svc := customers.New(ent.NewClient(ent.Driver(rec)), fx.box)

	const i = 123
	cases := []struct {
		name  string
		key   customers.LookupKey
		index string
	}{
		{"phone", customers.LookupKey{Phone: new("138 " + perfNational(i)[3:7] + " " + perfNational(i)[7:])}, "customer_merchant_id_phone_index"},
		{"email", customers.LookupKey{Email: new(" " + strings.ToUpper(perfEmail(i)))}, "customer_merchant_id_email_index"},
		{"member code", customers.LookupKey{MemberCode: new(perfMemberCode(i))}, "customer_merchant_id_member_code"},
	}
	type variant struct {
		name             string
		analyze, generic bool
	}
	variants := []variant{{name: "no statistics"}, {name: "analyzed", analyze: true}}
	if fx.db.Dialect == dialect.Postgres {
		// pgx caches prepared statements, so after a few runs PostgreSQL
		// may plan a lookup once for any values.
		variants = append(variants, variant{name: "generic plan", generic: true})
	}
	for _, v := range variants {
		if v.analyze {
			q := "ANALYZE"
			if fx.db.Dialect == dialect.Postgres {
				q = "ANALYZE customers"
			}
			if _, err := fx.db.SQL.ExecContext(t.Context(), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		for _, tc := range cases {
			t.Run(v.name+"/"+tc.name, func(t *testing.T) {
				rec.reset()
				c, err := svc.Lookup(fx.ctx, tc.key)
				if err != nil || c == nil || c.MemberCode != perfMemberCode(i) {
					t.Fatalf("Lookup found %v, %v; want the customer with card %s", c, err, perfMemberCode(i))
				}
				q := rec.only(t, perfFromCustomers)
				plan := perfExplain(t, fx.db, q, v.generic)
				_, from, _ := strings.Cut(q.query, " FROM ")
				t.Logf("SELECT … FROM %s\n  args: %v\n  plan:\n    %s", from, q.args, strings.Join(plan, "\n    "))
				if !slices.ContainsFunc(plan, func(line string) bool { return strings.Contains(line, tc.index) }) {
					t.Errorf("the plan does not use %s:\n  %s", tc.index, strings.Join(plan, "\n  "))
				}
				if slices.ContainsFunc(plan, perfFullScan.MatchString) {
					t.Errorf("the plan scans the whole table:\n  %s", strings.Join(plan, "\n  "))
				}
			})
		}
	}
}

var (
	// perfFromCustomers matches a query reading the customers table, as
	// ent quotes it on either engine.
	perfFromCustomers = regexp.MustCompile("(?i)\\bFROM [`\"]?customers[`\"]?")
	// perfFullScan matches SQLite's "SCAN customers" (not SEARCH) and
	// PostgreSQL's "Seq Scan".
	perfFullScan = regexp.MustCompile(`\bSCAN customers\b|Seq Scan`)
)

// perfExplain returns the plan of q, one line per row: the detail column
// of SQLite's EXPLAIN QUERY PLAN, the lines of PostgreSQL's EXPLAIN. On
// PostgreSQL, generic asks for the plan made for any values, as a
// prepared statement may reuse.
func perfExplain(t testing.TB, d *db.DB, q perfQuery, generic bool) []string {
	t.Helper()
	ctx := t.Context()
	args, _ := q.args.([]any)
	conn, err := d.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	explain := "EXPLAIN QUERY PLAN " + q.query
	if d.Dialect == dialect.Postgres {
		explain = "EXPLAIN " + q.query
	}
	if generic {
		values := make([]string, len(args))
		for i, a := range args {
			// Ent's arguments here are strings or string types (the status).
			s := reflect.ValueOf(a)
			if s.Kind() != reflect.String {
				t.Fatalf("argument %d of %s is a %T, not a string", i+1, q.query, a)
			}
			values[i] = "'" + strings.ReplaceAll(s.String(), "'", "''") + "'"
		}
		for _, s := range []string{"SET plan_cache_mode = force_generic_plan", "PREPARE perf_lookup AS " + q.query} {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		defer func() {
			for _, s := range []string{"DEALLOCATE perf_lookup", "RESET plan_cache_mode"} {
				if _, err := conn.ExecContext(context.WithoutCancel(ctx), s); err != nil {
					t.Errorf("%s: %v", s, err)
				}
			}
		}()
		explain, args = "EXPLAIN EXECUTE perf_lookup("+strings.Join(values, ", ")+")", nil
	}
	rows, err := conn.QueryContext(ctx, explain, args...)
	if err != nil {
		t.Fatalf("%s: %v", explain, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if d.Dialect == dialect.Postgres {
			err = rows.Scan(&line)
		} else {
			var id, parent, notUsed int
			err = rows.Scan(&id, &parent, &notUsed, &line)
		}
		if err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// perfQuery is one query ent sent.
type perfQuery struct {
	query string
	args  any
}

// perfRecorder is an ent driver that records the queries it passes on.
type perfRecorder struct {
	dialect.Driver
	mu      sync.Mutex
	queries []perfQuery
}

func (r *perfRecorder) Query(ctx context.Context, query string, args, v any) error {
	r.mu.Lock()
	r.queries = append(r.queries, perfQuery{query: query, args: args})
	r.mu.Unlock()
	return r.Driver.Query(ctx, query, args, v)
}

func (r *perfRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queries = nil
}

// only returns the one recorded query matching re.
func (r *perfRecorder) only(t testing.TB, re *regexp.Regexp) perfQuery {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var found []perfQuery
	for _, q := range r.queries {
		if re.MatchString(q.query) {
			found = append(found, q)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one query matching %s, got %d: %v", re, len(found), found)
	}
	return found[0]
}
