package server

import (
	"context"
	"time"
)

// jobCheckEvery is how often a replica checks whether a daily job is due.
const jobCheckEvery = time.Hour

// dailyJob is work done once a day by one replica of many.
type dailyJob struct {
	name string
	run  func(context.Context) error
}

// runDailyJobs runs RunDueJobs at start and every jobCheckEvery until ctx
// is done.
func (s *Server) runDailyJobs(ctx context.Context) {
	ticker := time.NewTicker(jobCheckEvery)
	defer ticker.Stop()
	for {
		s.RunDueJobs(ctx, s.now())
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// RunDueJobs runs each daily job that no replica has run on now's day
// (UTC), and returns the names of those it ran.
func (s *Server) RunDueJobs(ctx context.Context, now time.Time) []string {
	var ran []string
	for _, j := range s.jobs {
		if s.runDaily(ctx, j, now) {
			ran = append(ran, j.name)
		}
	}
	return ran
}

// runDaily runs j unless some replica already claimed it for now's day:
// the claim is a Redis key set only if absent, so however many replicas
// check at once, one runs the job. A failed run is logged and not retried
// until the next day; the jobs are safe to run again by hand.
func (s *Server) runDaily(ctx context.Context, j dailyJob, now time.Time) bool {
	key := s.cfg.RedisPrefix + "job:" + j.name + ":" + now.UTC().Format(time.DateOnly)
	claimed, err := s.KV.Client().SetNX(ctx, key, now.UTC().Format(time.RFC3339), 48*time.Hour).Result()
	if err != nil {
		s.log.WarnContext(ctx, "daily job: claiming", "job", j.name, "err", err)
		return false
	}
	if !claimed {
		return false
	}
	start := time.Now()
	if err := j.run(ctx); err != nil {
		s.log.ErrorContext(ctx, "daily job failed", "job", j.name, "err", err)
		return true
	}
	s.log.InfoContext(ctx, "daily job done", "job", j.name, "duration_ms", time.Since(start).Milliseconds())
	return true
}
