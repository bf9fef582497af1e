package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/backup/dest"
	"github.com/tillpos/till/backup/dest/desttest"
	"github.com/tillpos/till/config"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/platformauditentry"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/server"
)

// backupEnv is two replicas sharing a database, a Redis and backup
// destinations (a directory and a fake S3), on one clock.
type backupEnv struct {
	cfg   config.Config
	clock *tilltest.Clock
	mr    *miniredis.Miniredis // nil on a real Redis
	dir   dest.Destination
	s3    dest.Destination
	a, b  *tilltest.Env
	// produced counts backups produced; fail makes the producer fail;
	// hold, when set, holds the run that the test receives started from.
	produced atomic.Int32
	fail     atomic.Bool
	hold     chan struct{}
	started  chan struct{}
}

func newBackupEnv(t *testing.T, configure func(*config.Config), opts ...server.Option) *backupEnv {
	t.Helper()
	e := &backupEnv{clock: tilltest.NewClock(time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC))}
	cfg := tilltest.Config(t)
	if cfg.RedisURL == "" {
		e.mr = miniredis.RunT(t)
		cfg.RedisURL = "redis://" + e.mr.Addr()
	}
	dir := filepath.Join(t.TempDir(), "backups")
	fake := desttest.NewS3(t, "till")
	cfg.BackupTo = []string{dir, fake.URL}
	if configure != nil {
		configure(&cfg)
	}
	e.cfg = cfg
	e.dir = dest.NewDir(dir)
	var err error
	e.s3, err = dest.Parse(fake.URL)
	require.NoError(t, err)
	opts = append([]server.Option{server.WithClock(e.clock.Now), server.WithBackupProducer(e.producer)}, opts...)
	e.a = tilltest.New(t, func(c *config.Config) { *c = cfg }, opts...)
	e.b = e.replica(t, opts...)
	return e
}

// replica starts another server on e's database, Redis and destinations.
func (e *backupEnv) replica(t *testing.T, opts ...server.Option) *tilltest.Env {
	return tilltest.New(t, func(c *config.Config) { *c = e.cfg; c.MigrateOnStart = false }, opts...)
}

// producer stands in for backup.Dump: it writes a few hundred KiB naming
// the database.
func (e *backupEnv) producer(d *db.DB) dest.Producer {
	return func(ctx context.Context, w io.Writer) (dest.Summary, error) {
		e.produced.Add(1)
		if e.hold != nil {
			// Only the run the test waits for is held; another (which the
			// test says must not happen) goes straight through and fails it.
			select {
			case e.started <- struct{}{}:
				select {
				case <-e.hold:
				case <-ctx.Done():
					return dest.Summary{}, ctx.Err()
				}
			default:
			}
		}
		if e.fail.Load() {
			return dest.Summary{}, errors.New("snapshot failed")
		}
		for i := range 5000 {
			if _, err := fmt.Fprintf(w, "%s backup line %06d ..........................................\n", d.Dialect, i); err != nil {
				return dest.Summary{}, err
			}
		}
		return dest.Summary{Tables: 1, Rows: 5000}, nil
	}
}

// due runs the due jobs on both replicas at the clock's time and says how
// many backups that took.
func (e *backupEnv) due(t *testing.T) int {
	t.Helper()
	before := e.produced.Load()
	var ran int
	for _, r := range []*tilltest.Env{e.a, e.b} {
		for _, name := range r.RunDueJobs(t.Context(), e.clock.Now()) {
			if name == "backup" {
				ran++
			}
		}
	}
	require.Equal(t, int32(ran), e.produced.Load()-before)
	return ran
}

func (e *backupEnv) list(t *testing.T, d dest.Destination) []string {
	t.Helper()
	names, err := d.List(t.Context())
	require.NoError(t, err)
	return names
}

// expire lets d pass for Redis key lifetimes.
func (e *backupEnv) expire(d time.Duration) {
	if e.mr != nil {
		e.mr.FastForward(d)
		return
	}
	time.Sleep(d)
}

func (e *backupEnv) audit(t *testing.T) []*ent.PlatformAuditEntry {
	t.Helper()
	entries, err := e.a.DB.PlatformAuditEntry.Query().
		Where(platformauditentry.ActionHasPrefix("backup.")).
		Order(ent.Asc(platformauditentry.FieldCreatedAt)).
		All(viewer.NewSystemContext(t.Context(), "test"))
	require.NoError(t, err)
	return entries
}

type readyBackup struct {
	LastOutcome   string
	LastFile      string
	LastAt        *time.Time
	LastSuccessAt *time.Time
}

func (e *backupEnv) ready(t *testing.T) readyBackup {
	t.Helper()
	resp, err := http.Get(e.b.URL + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out struct{ Backup *readyBackup }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.NotNil(t, out.Backup)
	return *out.Backup
}

func TestBackupScheduleRunsDailyOnOneReplica(t *testing.T) {
	e := newBackupEnv(t, func(c *config.Config) { c.BackupKeepDaily, c.BackupKeepWeekly, c.BackupKeepMonthly = 2, 0, 0 })
	require.Equal(t, "none", e.ready(t).LastOutcome)

	// 03:00, no backup anywhere yet: the last period's is taken at once.
	require.Equal(t, 1, e.due(t), "one replica of two backs up")
	first := dest.FileName(e.clock.Now())
	require.Equal(t, []string{first}, e.list(t, e.dir))
	require.Equal(t, []string{first}, e.list(t, e.s3))
	st := e.ready(t)
	require.Equal(t, "ok", st.LastOutcome)
	require.Equal(t, first, st.LastFile)
	require.NotNil(t, st.LastSuccessAt)

	e.clock.Set(time.Date(2026, 12, 2, 3, 29, 0, 0, time.UTC))
	require.Zero(t, e.due(t), "done for this period")
	e.clock.Set(time.Date(2026, 12, 2, 3, 30, 5, 0, time.UTC))
	require.Equal(t, 1, e.due(t), "03:30 starts a new period")
	require.Zero(t, e.due(t))

	// Four more days; retention keeps the newest of the last two.
	for range 4 {
		e.clock.Advance(24 * time.Hour)
		require.Equal(t, 1, e.due(t))
	}
	want := []string{dest.FileName(e.clock.Now().Add(-24 * time.Hour)), dest.FileName(e.clock.Now())}
	require.ElementsMatch(t, want, e.list(t, e.dir))
	require.ElementsMatch(t, want, e.list(t, e.s3))

	entries := e.audit(t)
	require.Len(t, entries, 6)
	last := entries[len(entries)-1]
	require.Equal(t, "backup.succeeded", last.Action)
	require.Equal(t, dest.FileName(e.clock.Now()), last.TargetID)
	require.Equal(t, "ok", last.Details["outcome"])
	require.Len(t, last.Details["copies"], 2)
	require.Contains(t, e.a.Logs()+e.b.Logs(), "backup ok")

	t.Run("a restarted replica with a fresh Redis does not back up again", func(t *testing.T) {
		c := tilltest.New(t, func(c *config.Config) {
			*c = e.cfg
			c.RedisURL, c.MigrateOnStart = "", false
		}, server.WithClock(e.clock.Now), server.WithBackupProducer(e.producer))
		before := e.produced.Load()
		require.NotContains(t, c.RunDueJobs(t.Context(), e.clock.Now()), "backup")
		require.Equal(t, before, e.produced.Load())
	})

	t.Run("failure is reported and keeps old backups", func(t *testing.T) {
		e.fail.Store(true)
		e.clock.Advance(24 * time.Hour)
		require.Equal(t, 1, e.due(t))
		require.ElementsMatch(t, want, e.list(t, e.dir), "nothing written, nothing pruned")
		st := e.ready(t)
		require.Equal(t, "failed", st.LastOutcome)
		require.Equal(t, dest.FileName(e.clock.Now()), st.LastFile)
		require.NotNil(t, st.LastSuccessAt, "the last success is still known")
		failed := e.audit(t)
		require.Equal(t, "backup.failed", failed[len(failed)-1].Action)
		require.Equal(t, "snapshot failed", failed[len(failed)-1].Details["error"])
		require.Contains(t, e.a.Logs()+e.b.Logs(), "backup failed")
		require.Zero(t, e.due(t), "a failed run waits for the next period")
	})
}

func TestBackupScheduleOneDestinationDown(t *testing.T) {
	down := desttest.NewS3(t, "till")
	down.Server.Close()
	e := newBackupEnv(t, func(c *config.Config) { c.BackupTo = append(c.BackupTo, down.URL) })
	require.Equal(t, 1, e.due(t))
	require.Len(t, e.list(t, e.dir), 1)
	require.Len(t, e.list(t, e.s3), 1)
	require.Equal(t, "partial", e.ready(t).LastOutcome)
	entries := e.audit(t)
	require.Equal(t, "backup.partial", entries[0].Action)
	logs := e.a.Logs() + e.b.Logs()
	require.Contains(t, logs, "backup partial")
	require.NotContains(t, logs, "fake/secret", "credentials are never logged")
	require.NotContains(t, fmt.Sprint(entries[0].Details), "fake/secret")
}

func TestBackupLease(t *testing.T) {
	const lease = 400 * time.Millisecond
	e := newBackupEnv(t, nil, server.WithBackupLease(lease))
	leaseKey := e.cfg.RedisPrefix + "job:backup:lease"

	t.Run("a replica that died holding the lease gives way when it expires", func(t *testing.T) {
		rdb := e.a.KV.Client()
		// Longer than ours, so the other jobs running first cannot outlast it.
		const deadLease = 2 * time.Second
		require.NoError(t, rdb.Set(t.Context(), leaseKey, "dead-replica", deadLease).Err())
		require.Zero(t, e.due(t))
		e.expire(deadLease + 100*time.Millisecond)
		require.Equal(t, 1, e.due(t))
	})

	t.Run("a backup longer than its period holds the next one back", func(t *testing.T) {
		e.hold, e.started = make(chan struct{}), make(chan struct{})
		defer func() { e.hold = nil }()
		done := make(chan []string)
		e.clock.Advance(24 * time.Hour)
		at := e.clock.Now()
		go func() { done <- e.a.RunDueJobs(context.WithoutCancel(t.Context()), at) }()
		<-e.started
		// Past the lease: only renewal keeps it.
		time.Sleep(2 * lease)
		require.NotContains(t, e.b.RunDueJobs(t.Context(), at.Add(24*time.Hour)), "backup", "the lease is held")
		close(e.hold)
		require.Contains(t, <-done, "backup")
		e.hold = nil
		e.clock.Advance(24 * time.Hour)
		require.Contains(t, e.b.RunDueJobs(t.Context(), e.clock.Now()), "backup", "the next period runs once the first ends")
	})
}

func TestBackupDefaultDestination(t *testing.T) {
	cfg := config.Default()
	cfg.DatabaseURL = "file:" + filepath.Join(os.TempDir(), "shop", "till.db")
	to, err := server.BackupDestinations(cfg)
	require.NoError(t, err)
	require.Len(t, to, 1)
	require.Equal(t, filepath.Join(os.TempDir(), "shop", "backups"), to[0].String())

	cfg.DatabaseURL = "postgres://till@db/till"
	to, err = server.BackupDestinations(cfg)
	require.NoError(t, err)
	require.Empty(t, to, "PostgreSQL has no file to sit beside")

	cfg.BackupTo = []string{"ftp://nope"}
	_, err = server.BackupDestinations(cfg)
	require.ErrorContains(t, err, "TILL_BACKUP_TO")
}
