package dest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"sync"
	"time"
)

// Producer writes one complete (encrypted) backup file to w.
type Producer func(ctx context.Context, w io.Writer) (Summary, error)

// Summary is what a Producer reports about the backup it wrote.
type Summary struct {
	Tables int
	Rows   int64
}

// Outcome sums a Result up.
type Outcome string

// Outcomes of a run.
const (
	// OK: every destination holds a verified copy.
	OK Outcome = "ok"
	// Partial: some destinations hold a verified copy, some failed.
	Partial Outcome = "partial"
	// Failed: no destination holds a copy.
	Failed Outcome = "failed"
)

// ErrMismatch is a copy that read back differently from what was written.
var ErrMismatch = errors.New("copy does not match what was written")

// errStoppedReading is a destination whose Put returned before the end.
var errStoppedReading = errors.New("destination stopped reading before the end")

// errAllFailed stops the producer once no destination is left to write to.
var errAllFailed = errors.New("every backup destination failed")

// Result is what one Run did.
type Result struct {
	// Name is the backup's file name in every destination.
	Name string
	// Size and SHA256 (hex) are of the bytes the producer wrote.
	Size    int64
	SHA256  string
	Summary Summary
	// Duration covers production, upload and verification.
	Duration time.Duration
	// Produce is why producing the backup failed; then no copy was kept.
	Produce error
	// Copies has one entry per destination, in the order given to Run.
	Copies []Copy
}

// Copy is the outcome at one destination.
type Copy struct {
	Destination string
	// Err is why the copy failed (writing, or verifying it); nil when the
	// copy is kept and verified.
	Err error
	// Pruned are the old backups Prune deleted here; PruneErr why pruning
	// stopped.
	Pruned   []string
	PruneErr error

	dest Destination
}

// Outcome sums r up.
func (r *Result) Outcome() Outcome {
	ok := 0
	for _, c := range r.Copies {
		if c.Err == nil {
			ok++
		}
	}
	switch {
	case r.Produce != nil || ok == 0:
		return Failed
	case ok < len(r.Copies):
		return Partial
	default:
		return OK
	}
}

// Err is every failure of the run, nil when each destination holds a
// verified copy. Pruning failures are not included: the backup itself is
// safe.
func (r *Result) Err() error {
	var errs []error
	if r.Produce != nil {
		errs = append(errs, fmt.Errorf("producing %s: %w", r.Name, r.Produce))
	}
	for _, c := range r.Copies {
		// A copy that failed only because production did says nothing new.
		if c.Err != nil && (r.Produce == nil || !errors.Is(c.Err, r.Produce)) {
			errs = append(errs, fmt.Errorf("%s: %w", c.Destination, c.Err))
		}
	}
	if len(errs) == 0 && len(r.Copies) == 0 {
		errs = append(errs, errors.New("no backup destination"))
	}
	return errors.Join(errs...)
}

// LogAttrs describes r for a structured log line.
func (r *Result) LogAttrs() []any {
	attrs := []any{"file", r.Name, "outcome", string(r.Outcome()), "size", r.Size, "sha256", r.SHA256,
		"tables", r.Summary.Tables, "rows", r.Summary.Rows, "duration_ms", r.Duration.Milliseconds()}
	if r.Produce != nil {
		attrs = append(attrs, "err", r.Produce.Error())
	}
	for i, c := range r.Copies {
		group := []any{"to", c.Destination, "ok", c.Err == nil}
		if c.Err != nil {
			group = append(group, "err", c.Err.Error())
		}
		if len(c.Pruned) > 0 {
			group = append(group, "pruned", len(c.Pruned))
		}
		if c.PruneErr != nil {
			group = append(group, "prune_err", c.PruneErr.Error())
		}
		attrs = append(attrs, slog.Group(fmt.Sprintf("copy%d", i), group...))
	}
	return attrs
}

// Run produces one backup and streams it to every destination at once,
// then reads each copy back and checks its size and SHA-256. A copy that
// does not match is deleted and reported failed. A destination that fails
// is dropped while the others carry on; only when all have failed is the
// producer stopped.
func Run(ctx context.Context, name string, produce Producer, dests ...Destination) *Result {
	start := time.Now()
	r := &Result{Name: name, Copies: make([]Copy, len(dests))}
	defer func() { r.Duration = time.Since(start) }()
	if len(dests) == 0 {
		return r
	}
	targets := make([]*target, len(dests))
	var puts sync.WaitGroup
	for i, d := range dests {
		r.Copies[i] = Copy{Destination: d.String(), dest: d}
		pr, pw := io.Pipe()
		t := &target{pw: pw}
		targets[i] = t
		puts.Go(func() {
			t.putErr = d.Put(ctx, name, pr)
			// Writes to a destination that has returned fail instead of
			// blocking; after a complete read this changes nothing.
			pr.CloseWithError(errStoppedReading)
		})
	}
	sum := sha256.New()
	counter := &countingWriter{h: sum}
	fan := &fanout{targets: targets}
	r.Summary, r.Produce = produce(ctx, io.MultiWriter(counter, fan))
	for _, t := range targets {
		if r.Produce != nil {
			t.pw.CloseWithError(r.Produce)
		} else {
			t.pw.Close()
		}
	}
	puts.Wait()
	r.Size, r.SHA256 = counter.n, hex.EncodeToString(sum.Sum(nil))
	for i, t := range targets {
		if r.Copies[i].Err = t.failure(); r.Copies[i].Err == nil && r.Produce != nil {
			r.Copies[i].Err = fmt.Errorf("not written: %w", r.Produce)
		}
	}
	if r.Produce != nil {
		return r
	}
	var verifies sync.WaitGroup
	for i := range r.Copies {
		c := &r.Copies[i]
		if c.Err != nil {
			continue
		}
		verifies.Go(func() {
			if c.Err = verify(ctx, c.dest, name, r.Size, r.SHA256); c.Err != nil {
				// An unverified copy must not pass for a backup later, nor
				// count as the newest when old ones are pruned.
				if err := c.dest.Delete(context.WithoutCancel(ctx), name); err != nil && !errors.Is(err, fs.ErrNotExist) {
					c.Err = errors.Join(c.Err, fmt.Errorf("deleting the unverified copy: %w", err))
				}
			}
		})
	}
	verifies.Wait()
	return r
}

// target is one destination's end of the stream.
type target struct {
	pw       *io.PipeWriter
	writeErr error // the first failed write
	putErr   error // what Put returned
}

// failure is why the copy failed, nil if it was written whole.
func (t *target) failure() error {
	switch {
	case t.putErr != nil:
		return t.putErr
	case t.writeErr != nil:
		return fmt.Errorf("writing: %w", t.writeErr)
	}
	return nil
}

// fanout writes to every target still going. Unlike io.MultiWriter it
// drops a target that fails rather than stopping, so one destination
// being down costs only its own copy.
type fanout struct {
	targets []*target
}

func (f *fanout) Write(p []byte) (int, error) {
	live := 0
	for _, t := range f.targets {
		if t.writeErr != nil {
			continue
		}
		if _, err := t.pw.Write(p); err != nil {
			t.writeErr = err
			continue
		}
		live++
	}
	if live == 0 {
		return 0, errAllFailed
	}
	return len(p), nil
}

// countingWriter hashes and counts what passes.
type countingWriter struct {
	h hash.Hash
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.h.Write(p)
	c.n += int64(len(p))
	return len(p), nil
}

// verify reads the copy called name back from d and checks it has size
// bytes hashing to sum.
func verify(ctx context.Context, d Destination, name string, size int64, sum string) error {
	rc, err := d.Open(ctx, name)
	if err != nil {
		return fmt.Errorf("verifying: opening the copy: %w", err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return fmt.Errorf("verifying: reading the copy: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != size || got != sum {
		return fmt.Errorf("verifying: %w: read %d bytes with SHA-256 %s, wrote %d with %s", ErrMismatch, n, got, size, sum)
	}
	return nil
}
