package exports

import (
	"context"
	"errors"
	"fmt"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/exportchunk"
	"github.com/tillpos/till/ent/exportjob"
	"github.com/tillpos/till/ent/predicate"
	"github.com/tillpos/till/ent/schema/pulid"
)

// Run runs due export jobs until ctx is done, looking every Poll when
// there are none. Every replica may run it: a job is claimed by one.
func (s *Service) Run(ctx context.Context) {
	for {
		if _, err := s.RunDue(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "exports: running jobs", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.cfg.Poll):
		}
	}
}

// RunDue runs jobs one at a time until none is due, and returns how many
// it ran (tests and the worker call it).
func (s *Service) RunDue(ctx context.Context) (int, error) {
	ctx = systemCtx(ctx)
	n := 0
	for ctx.Err() == nil {
		job, owner, err := s.claim(ctx)
		if err != nil || job == nil {
			return n, err
		}
		s.run(ctx, job, owner)
		n++
	}
	return n, ctx.Err()
}

// due are the jobs a runner may take: queued, or running under a lease
// that ran out.
func (s *Service) due(now time.Time) predicate.ExportJob {
	return exportjob.Or(exportjob.StatusEQ(exportjob.StatusQUEUED),
		exportjob.And(exportjob.StatusEQ(exportjob.StatusRUNNING), exportjob.LeaseUntilLT(now)))
}

// claim takes the oldest due job under a new lease. On PostgreSQL, a job
// another runner is claiming is skipped rather than waited for; SQLite runs
// one write transaction at a time. A job that has been started
// MaxAttempts times (its runners died) FAILS instead.
func (s *Service) claim(ctx context.Context) (*ent.ExportJob, string, error) {
	now := s.now()
	if ok, err := s.db.ExportJob.Query().Where(s.due(now)).Exist(ctx); err != nil || !ok {
		return nil, "", err
	}
	var (
		job   *ent.ExportJob
		owner = newLeaseOwner()
	)
	err := db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		found, err := tx.ExportJob.Query().Where(s.due(now)).
			Order(exportjob.ByCreatedAt(), exportjob.ByID()).Limit(1).
			Modify(skipLocked).All(ctx)
		if err != nil || len(found) == 0 {
			return err
		}
		up := tx.ExportJob.UpdateOne(found[0])
		if found[0].Attempts >= s.cfg.MaxAttempts {
			return up.SetStatus(exportjob.StatusFAILED).SetError("the export stopped repeatedly").
				SetFinishedAt(now).ClearLeaseOwner().ClearLeaseUntil().Exec(ctx)
		}
		job, err = up.SetStatus(exportjob.StatusRUNNING).SetLeaseOwner(owner).
			SetLeaseUntil(now.Add(s.cfg.Lease)).AddAttempts(1).
			SetRowsDone(0).SetBytes(0).Save(ctx)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("claiming an export job: %w", err)
	}
	if job == nil {
		// Another runner took it, or it failed: look again.
		return s.claim(ctx)
	}
	return job, owner, nil
}

func skipLocked(s *entsql.Selector) {
	if s.Dialect() != dialect.SQLite {
		s.ForUpdate(entsql.WithLockAction(entsql.SkipLocked), entsql.WithLockTables(exportjob.Table))
	}
}

// run writes job's file and records the outcome.
func (s *Service) run(ctx context.Context, job *ent.ExportJob, owner string) {
	err := s.write(ctx, job, owner)
	if errors.Is(err, errLeaseLost) || ctx.Err() != nil {
		// Another runner has it, or we are stopping and the lease hands it
		// on.
		s.log.WarnContext(ctx, "exports: job given up", "job", job.ID, "err", err)
		return
	}
	ctx = context.WithoutCancel(ctx)
	if err == nil {
		err = s.leased(ctx, job.ID, owner, func(u *ent.ExportJobUpdate) {
			u.SetStatus(exportjob.StatusDONE).SetFinishedAt(s.now()).
				SetExpiresAt(s.now().Add(s.cfg.Retention)).ClearLeaseOwner().ClearLeaseUntil()
		})
		if err == nil {
			return
		}
	}
	s.log.ErrorContext(ctx, "exports: job failed", "job", job.ID, "merchant", job.MerchantID, "err", err)
	// The file is partial: its chunks go, the job says why.
	err = db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		// Only while the job is still ours: the chunks may be another
		// runner's by now.
		err := s.leasedIn(ctx, tx.Client(), job.ID, owner, func(u *ent.ExportJobUpdate) {
			u.SetStatus(exportjob.StatusFAILED).SetError("the export could not be written").
				SetFinishedAt(s.now()).ClearLeaseOwner().ClearLeaseUntil()
		})
		if err != nil {
			return err
		}
		_, err = tx.ExportChunk.Delete().Where(exportchunk.JobID(job.ID)).Exec(ctx)
		return err
	})
	if err != nil && !errors.Is(err, errLeaseLost) {
		s.log.ErrorContext(ctx, "exports: recording failure", "job", job.ID, "err", err)
	}
}

// write counts the rows, then streams the file into chunks, renewing the
// lease and recording progress after every batch.
func (s *Service) write(ctx context.Context, job *ent.ExportJob, owner string) error {
	spec := Spec{MerchantID: job.MerchantID, Kind: job.Kind, Format: job.Format, Filters: job.Filters, Batch: s.cfg.Batch}
	total, err := Count(ctx, s.db, spec)
	if err != nil {
		return err
	}
	err = db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		// A previous runner's partial file.
		if _, err := tx.ExportChunk.Delete().Where(exportchunk.JobID(job.ID)).Exec(ctx); err != nil {
			return err
		}
		return s.leasedIn(ctx, tx.Client(), job.ID, owner, func(u *ent.ExportJobUpdate) { u.SetRowsTotal(total) })
	})
	if err != nil {
		return err
	}
	cw := &chunkWriter{s: s, ctx: ctx, job: job, owner: owner, buf: make([]byte, 0, s.cfg.ChunkSize)}
	rows, err := Write(ctx, s.db, spec, cw, func(rows int64) error {
		cw.rows = rows
		return s.leased(ctx, job.ID, owner, func(u *ent.ExportJobUpdate) { u.SetRowsDone(rows) })
	})
	if err != nil {
		return err
	}
	cw.rows = rows
	return cw.flush()
}

// leased applies set to job id if owner still holds its lease, and renews
// the lease; errLeaseLost if it does not.
func (s *Service) leased(ctx context.Context, id pulid.ID, owner string, set func(*ent.ExportJobUpdate)) error {
	return s.leasedIn(ctx, s.db, id, owner, set)
}

func (s *Service) leasedIn(ctx context.Context, client *ent.Client, id pulid.ID, owner string, set func(*ent.ExportJobUpdate)) error {
	u := client.ExportJob.Update().
		Where(exportjob.ID(id), exportjob.LeaseOwner(owner), exportjob.StatusEQ(exportjob.StatusRUNNING)).
		SetLeaseUntil(s.now().Add(s.cfg.Lease))
	set(u)
	n, err := u.Save(ctx)
	if err != nil {
		return fmt.Errorf("updating export job: %w", err)
	}
	if n == 0 {
		return errLeaseLost
	}
	return nil
}

// chunkWriter stores what it is written in ExportChunk rows of up to
// ChunkSize bytes, each with the job's size and a renewed lease, so memory
// holds one chunk whatever the file's size.
type chunkWriter struct {
	s     *Service
	ctx   context.Context
	job   *ent.ExportJob
	owner string
	buf   []byte
	seq   int
	bytes int64
	rows  int64
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), cap(w.buf)-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == cap(w.buf) {
			if err := w.flush(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// flush stores the buffered bytes as the next chunk.
func (w *chunkWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	err := db.WithTx(w.ctx, w.s.db, func(tx *ent.Tx) error {
		err := w.s.leasedIn(w.ctx, tx.Client(), w.job.ID, w.owner, func(u *ent.ExportJobUpdate) {
			u.SetBytes(w.bytes + int64(len(w.buf))).SetRowsDone(w.rows)
		})
		if err != nil {
			return err
		}
		return tx.ExportChunk.Create().SetMerchantID(w.job.MerchantID).SetJobID(w.job.ID).
			SetSeq(w.seq).SetData(w.buf).Exec(w.ctx)
	})
	if err != nil {
		return fmt.Errorf("storing export chunk %d: %w", w.seq, err)
	}
	w.seq++
	w.bytes += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

// Prune deletes the files of exports past their expiry and marks them
// EXPIRED; the job rows stay, as a record of what was exported.
func (s *Service) Prune(ctx context.Context) error {
	ctx = systemCtx(ctx)
	ids, err := s.db.ExportJob.Query().
		Where(exportjob.StatusEQ(exportjob.StatusDONE), exportjob.ExpiresAtLTE(s.now())).IDs(ctx)
	if err != nil {
		return fmt.Errorf("finding expired exports: %w", err)
	}
	for _, id := range ids {
		// One job per transaction: a year's file is many chunks.
		err := db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
			if _, err := tx.ExportChunk.Delete().Where(exportchunk.JobID(id)).Exec(ctx); err != nil {
				return err
			}
			return tx.ExportJob.UpdateOneID(id).SetStatus(exportjob.StatusEXPIRED).Exec(ctx)
		})
		if err != nil {
			return fmt.Errorf("expiring export %s: %w", id, err)
		}
	}
	return nil
}
