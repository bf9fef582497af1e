package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"
)

// result is what one scenario measured.
type result struct {
	name     string
	requests int
	errors   int
	elapsed  time.Duration
	// latencies of every request, failed ones too, sorted.
	latencies []time.Duration
	// errorCounts counts errors by message.
	errorCounts map[string]int
}

func (r result) perSecond() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// percentile is the nearest-rank p-th percentile (0 < p ≤ 100).
func (r result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	rank := int(math.Ceil(float64(len(r.latencies)) * p / 100))
	return r.latencies[max(0, min(rank, len(r.latencies))-1)]
}

// drive runs send on clients goroutines, each starting requests back to
// back until d has passed. A request in flight at the deadline finishes
// and counts: requests are never cut off, so a slow one is a latency, not
// an error. elapsed runs until the last one is back.
func drive(ctx context.Context, name string, clients int, d time.Duration, send request) result {
	type worker struct {
		latencies []time.Duration
		errs      map[string]int
	}
	workers := make([]worker, clients)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for i := range workers {
		w := &workers[i]
		w.errs = map[string]int{}
		// Each client has its own generator (no lock to contend for),
		// seeded by its number so runs are comparable.
		rng := mrand.New(mrand.NewPCG(uint64(i), 42))
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				err := send(ctx, i, rng)
				w.latencies = append(w.latencies, time.Since(t0))
				if err != nil {
					w.errs[err.Error()]++
				}
			}
		})
	}
	wg.Wait()
	r := result{name: name, elapsed: time.Since(start), errorCounts: map[string]int{}}
	for _, w := range workers {
		r.latencies = append(r.latencies, w.latencies...)
		for msg, n := range w.errs {
			r.errorCounts[msg] += n
			r.errors += n
		}
	}
	r.requests = len(r.latencies)
	slices.Sort(r.latencies)
	return r
}

func printResults(w io.Writer, results []result) {
	const row = "%-15s %9s %7s %9s %10s %10s %10s %10s\n"
	fmt.Fprintf(w, row, "scenario", "requests", "errors", "req/s", "p50", "p95", "p99", "max")
	for _, r := range results {
		fmt.Fprintf(w, row, r.name, strconv.Itoa(r.requests), strconv.Itoa(r.errors), fmt.Sprintf("%.1f", r.perSecond()),
			ms(r.percentile(50)), ms(r.percentile(95)), ms(r.percentile(99)), ms(r.percentile(100)))
	}
	for _, r := range results {
		// The most frequent messages first; a few are enough to go on.
		msgs := slices.SortedFunc(maps.Keys(r.errorCounts), func(a, b string) int {
			return cmp.Or(cmp.Compare(r.errorCounts[b], r.errorCounts[a]), cmp.Compare(a, b))
		})
		for _, msg := range msgs[:min(len(msgs), 5)] {
			fmt.Fprintf(w, "%s error ×%d: %s\n", r.name, r.errorCounts[msg], msg)
		}
	}
}

// ms formats d in milliseconds, to 10 µs.
func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
