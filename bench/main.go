// Command bench is a load test of Till's GraphQL API over HTTP.
//
//	go run ./bench [-c 16] [-d 10s] [-scenario recordSale,lookupCustomer,salesPage] [-url URL]
//
// It signs up a merchant, seeds products, customers, cashier sessions and
// some sales, then runs each scenario in turn with -c concurrent clients
// for -d and prints requests, errors, req/s and latency percentiles.
//
// Without -url it starts its own Till in this process on a free port, on
// the database and Redis the environment names, as `till serve` does:
// DATABASE_URL=postgres://… (the bench creates a schema of its own there
// and drops it afterwards, so a shared database is left as it was) or a
// fresh SQLite file in a temporary directory; REDIS_URL or the in-process
// Redis (under a unique key prefix, deleted afterwards). API and login
// rate limits are off, since one client IP sends everything.
//
// With -url it loads a server that is already running; start that one with
// TILL_API_RATE=0 TILL_LOGIN_PER_IP=0, or the rate limits are what you
// measure. Each run signs up a new merchant, which stays there.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	url       string
	scenarios []string
	clients   int
	duration  time.Duration
	products  int
	customers int
	cashiers  int
	sales     int
	devices   int
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	if _, err := run(ctx, o, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	scenarios := fs.String("scenario", strings.Join(scenarioNames, ","), "comma-separated scenarios to run, in order")
	fs.StringVar(&o.url, "url", "", "GraphQL endpoint of a running server (e.g. http://127.0.0.1:8080/graphql); empty starts one in-process")
	fs.IntVar(&o.clients, "c", 16, "concurrent clients")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "how long each scenario runs")
	fs.IntVar(&o.products, "products", 200, "products to seed")
	fs.IntVar(&o.customers, "customers", 1000, "customers to seed")
	fs.IntVar(&o.cashiers, "cashiers", 4, "cashier sessions the clients share")
	fs.IntVar(&o.devices, "devices", 200, "terminals to pair, which send the heartbeats")
	fs.IntVar(&o.sales, "sales", 200, "sales to record before the scenarios, so the sales page has something to list")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.scenarios = strings.Split(*scenarios, ",")
	var errs []error
	for _, s := range o.scenarios {
		if !slices.Contains(scenarioNames, s) {
			errs = append(errs, fmt.Errorf("unknown scenario %q (want %s)", s, strings.Join(scenarioNames, ", ")))
		}
	}
	if o.clients < 1 || o.duration <= 0 || o.cashiers < 1 || o.customers < 1 || o.devices < 1 || o.products < 0 || o.sales < 0 {
		errs = append(errs, errors.New("-c, -d, -cashiers, -customers and -devices must be positive; -products and -sales not negative"))
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(stderr, err)
		fs.Usage()
		return o, err
	}
	return o, nil
}

// run starts or reaches the server, seeds it, runs the scenarios and prints
// the table to stdout. It returns the results (for the test) and an error
// only when the bench itself could not run.
func run(ctx context.Context, o options, getenv func(string) string, stdout, stderr io.Writer) ([]result, error) {
	url, engine := o.url, "remote"
	if url == "" {
		local, err := startLocal(ctx, getenv, stderr)
		if err != nil {
			return nil, fmt.Errorf("starting till: %w", err)
		}
		defer local.close()
		url, engine = local.url, local.engine
	}
	c := newClient(url, o.clients)
	start := time.Now()
	f, err := setUp(ctx, c, o, stderr)
	if err != nil {
		return nil, fmt.Errorf("setting up: %w", err)
	}
	lines := "products"
	switch {
	case len(f.products) == 0 && o.products > 0:
		lines = "free-text items (createProduct failed)"
	case len(f.products) == 0:
		lines = "free-text items"
	}
	fmt.Fprintf(stdout, "till bench: engine=%s GOMAXPROCS=%d %s clients=%d duration=%s\n",
		engine, runtime.GOMAXPROCS(0), runtime.Version(), o.clients, o.duration)
	fmt.Fprintf(stdout, "setup: %d products, %d customers, %d cashier sessions, %d devices, %d sales; sales sell %s; %s\n",
		len(f.products), len(f.customers), len(f.cashiers), len(f.devices), o.sales, lines, time.Since(start).Round(time.Millisecond))
	var results []result
	for _, name := range o.scenarios {
		if ctx.Err() != nil {
			return results, ctx.Err()
		}
		results = append(results, drive(ctx, name, o.clients, o.duration, scenarios[name](c, f)))
	}
	printResults(stdout, results)
	return results, nil
}
