package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/backup/dest"
	"github.com/tillpos/till/config"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/platformauditentry"
	"github.com/tillpos/till/ent/schema/pulid"
)

// defaultBackupLease is how long a replica holds the backup job without
// renewing; one that dies mid-backup gives it up this long after.
const defaultBackupLease = 2 * time.Minute

// Platform audit actions a scheduled backup records: the operators' trace
// of it, and what /readyz reports from.
const (
	actionBackupSucceeded = "backup.succeeded"
	actionBackupPartial   = "backup.partial"
	actionBackupFailed    = "backup.failed"
)

// backups is the backup schedule's setup.
type backups struct {
	produce dest.Producer
	to      []dest.Destination
	keep    dest.Retention
}

// WithBackupProducer turns on scheduled backups: producer(db) writes each
// backup file. Without it `till serve` takes none.
func WithBackupProducer(producer func(*db.DB) dest.Producer) Option {
	return func(o *options) { o.backupProducer = producer }
}

// WithBackupLease sets how long a replica's hold on the backup job lasts
// unless renewed (tests shorten it).
func WithBackupLease(d time.Duration) Option {
	return func(o *options) { o.backupLease = d }
}

// BackupDestinations parses where cfg sends backups: TILL_BACKUP_TO, or
// by default a backups folder beside the SQLite file (none for
// PostgreSQL).
func BackupDestinations(cfg config.Config) ([]dest.Destination, error) {
	specs := cfg.BackupTo
	if len(specs) == 0 {
		if dir := db.BackupDir(cfg.DatabaseURL); dir != "" {
			specs = []string{dir}
		}
	}
	to, err := dest.ParseAll(specs)
	if err != nil {
		return nil, fmt.Errorf("TILL_BACKUP_TO: %w", err)
	}
	return to, nil
}

// scheduleBackups adds the daily backup job when there is a producer, a
// destination and the schedule is on, and warns where production is left
// without backups.
func (s *Server) scheduleBackups(cfg config.Config, o options) error {
	to, err := BackupDestinations(cfg)
	if err != nil {
		return err
	}
	switch {
	case !cfg.BackupSchedule:
		if cfg.Production {
			s.log.Warn("backups: the schedule is off (TILL_BACKUP_SCHEDULE=off); take them by other means")
		}
		return nil
	case len(to) == 0:
		s.log.Warn("backups: no destination; set TILL_BACKUP_TO to directories or s3:// URLs")
		return nil
	case o.backupProducer == nil:
		return nil
	}
	s.backups = &backups{
		produce: o.backupProducer(s.DB),
		to:      to,
		keep:    dest.Retention{Daily: cfg.BackupKeepDaily, Weekly: cfg.BackupKeepWeekly, Monthly: cfg.BackupKeepMonthly},
	}
	lease := defaultBackupLease
	if o.backupLease > 0 {
		lease = o.backupLease
	}
	s.jobs = append(s.jobs, job{
		name: "backup", every: 24 * time.Hour, at: cfg.BackupAt, lease: lease,
		done: s.backedUpSince, run: s.backUp,
	})
	names := make([]string, len(to))
	for i, d := range to {
		names[i] = d.String()
	}
	s.log.Info("backups scheduled", "at_utc", time.Time{}.Add(cfg.BackupAt).Format("15:04"), "to", names,
		"keep_daily", cfg.BackupKeepDaily, "keep_weekly", cfg.BackupKeepWeekly, "keep_monthly", cfg.BackupKeepMonthly)
	return nil
}

// backUp takes one backup to every destination, prunes old ones where the
// new copy is verified, and reports the outcome.
func (s *Server) backUp(ctx context.Context) error {
	b := s.backups
	r := dest.Run(ctx, dest.FileName(s.now()), b.produce, b.to...)
	r.Prune(ctx, b.keep)
	s.reportBackup(ctx, r)
	return r.Err()
}

// backedUpSince reports whether every destination already holds a backup
// taken at or after period.
func (s *Server) backedUpSince(ctx context.Context, period time.Time) (bool, error) {
	for _, d := range s.backups.to {
		names, err := d.List(ctx)
		if err != nil {
			return false, fmt.Errorf("listing %s: %w", d, err)
		}
		found := false
		for _, n := range names {
			if at, ok := dest.ParseName(n); ok && !at.Before(period) {
				found = true
				break
			}
		}
		if !found {
			return false, nil
		}
	}
	return true, nil
}

// reportBackup logs r and records it in the platform audit log, which
// operators read and /readyz reports from. Outbox events belong to a
// merchant, and a backup concerns the whole platform.
func (s *Server) reportBackup(ctx context.Context, r *dest.Result) {
	action, level := actionBackupSucceeded, slog.LevelInfo
	switch r.Outcome() {
	case dest.Partial:
		action, level = actionBackupPartial, slog.LevelError
	case dest.Failed:
		action, level = actionBackupFailed, slog.LevelError
	}
	s.log.Log(ctx, level, "backup "+string(r.Outcome()), r.LogAttrs()...)
	copies := make([]map[string]any, len(r.Copies))
	for i, c := range r.Copies {
		copies[i] = map[string]any{"to": c.Destination, "ok": c.Err == nil, "pruned": len(c.Pruned)}
		if c.Err != nil {
			copies[i]["error"] = c.Err.Error()
		}
		if c.PruneErr != nil {
			copies[i]["pruneError"] = c.PruneErr.Error()
		}
	}
	details := map[string]any{
		"outcome": string(r.Outcome()), "size": r.Size, "sha256": r.SHA256, "tables": r.Summary.Tables,
		"rows": r.Summary.Rows, "durationMs": r.Duration.Milliseconds(), "copies": copies,
	}
	if r.Produce != nil {
		details["error"] = r.Produce.Error()
	}
	err := audit.RecordPlatform(viewer.NewSystemContext(context.WithoutCancel(ctx), "backup"), s.DB.Client, audit.Entry{
		Action: action, TargetType: "Backup", TargetID: pulid.ID(r.Name), Details: details,
	})
	if err != nil {
		s.log.ErrorContext(ctx, "backup: recording the outcome", "err", err)
	}
}

// backupStatus is what /readyz says of backups: the last run and the last
// fully successful one, for a monitor to alert on.
func (s *Server) backupStatus(ctx context.Context) (map[string]any, error) {
	ctx = viewer.NewSystemContext(ctx, "readiness")
	latest := func(actions ...string) (*ent.PlatformAuditEntry, error) {
		e, err := s.DB.PlatformAuditEntry.Query().
			Where(platformauditentry.ActionIn(actions...)).
			Order(ent.Desc(platformauditentry.FieldCreatedAt)).
			First(ctx)
		if ent.IsNotFound(err) {
			return nil, nil
		}
		return e, err
	}
	status := map[string]any{"lastOutcome": "none"}
	last, err := latest(actionBackupSucceeded, actionBackupPartial, actionBackupFailed)
	if err != nil || last == nil {
		return status, err
	}
	status["lastOutcome"], status["lastAt"], status["lastFile"] = last.Details["outcome"], last.CreatedAt.UTC(), last.TargetID
	ok, err := latest(actionBackupSucceeded)
	if err != nil {
		return nil, err
	}
	if ok != nil {
		status["lastSuccessAt"], status["lastSuccessFile"] = ok.CreatedAt.UTC(), ok.TargetID
	}
	return status, nil
}
