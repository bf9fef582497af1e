package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// TestBench runs the whole tool briefly, so CI keeps it working: set-up
// against the current schema, every scenario without a single error. It
// runs on SQLite and the in-process Redis, or on the PostgreSQL and Redis
// the test suite is pointed at (in a schema and key prefix of its own).
func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and loads it for a second")
	}
	env := map[string]string{
		"DATABASE_URL":     os.Getenv("TILL_TEST_DATABASE_URL"),
		"REDIS_URL":        os.Getenv("TILL_TEST_REDIS_URL"),
		"TILL_BCRYPT_COST": "4", // logins are set-up, not what is measured
	}
	o, err := parseFlags([]string{"-c", "2", "-d", "300ms", "-products", "10", "-customers", "20", "-cashiers", "2", "-sales", "10", "-devices", "5"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	results, err := run(t.Context(), o, func(k string) string { return env[k] }, &stdout, &stderr)
	t.Logf("output:\n%s\nlog:\n%s", &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(scenarioNames) {
		t.Fatalf("got %d results, want one per scenario (%s)", len(results), strings.Join(scenarioNames, ", "))
	}
	for i, r := range results {
		if r.name != scenarioNames[i] || r.requests == 0 || r.errors != 0 || r.elapsed < 300*time.Millisecond {
			t.Errorf("%s: %d requests, %d errors in %s; want %s with requests and no errors %v",
				r.name, r.requests, r.errors, r.elapsed, scenarioNames[i], r.errorCounts)
		}
	}
	if !strings.Contains(stdout.String(), "p99") {
		t.Errorf("no table printed")
	}
}
