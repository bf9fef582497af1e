package server

import (
	"context"
	"time"
)

// jobCheckEvery is how often a replica checks whether a job is due.
const jobCheckEvery = 10 * time.Second

// job is work done once every period by one replica of many.
type job struct {
	name  string
	every time.Duration
	run   func(context.Context) error
}

// runJobs runs RunDueJobs at start and every jobCheckEvery until ctx is
// done.
func (s *Server) runJobs(ctx context.Context) {
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

// RunDueJobs runs each job that no replica has run in now's period (UTC
// days for the daily ones), and returns the names of those it ran.
func (s *Server) RunDueJobs(ctx context.Context, now time.Time) []string {
	var ran []string
	for _, j := range s.jobs {
		if s.runOnce(ctx, j, now) {
			ran = append(ran, j.name)
		}
	}
	return ran
}

// runOnce runs j unless some replica already claimed it for now's period:
// the claim is a Redis key set only if absent, so however many replicas
// check at once, one runs the job. A failed run is logged and not retried
// until the next period; the jobs are safe to run again.
func (s *Server) runOnce(ctx context.Context, j job, now time.Time) bool {
	period := now.UTC().Truncate(j.every)
	key := s.cfg.RedisPrefix + "job:" + j.name + ":" + period.Format(time.RFC3339)
	claimed, err := s.KV.Client().SetNX(ctx, key, now.UTC().Format(time.RFC3339), 2*j.every).Result()
	if err != nil {
		s.log.WarnContext(ctx, "job: claiming", "job", j.name, "err", err)
		return false
	}
	if !claimed {
		return false
	}
	start := time.Now()
	if err := j.run(ctx); err != nil {
		s.log.ErrorContext(ctx, "job failed", "job", j.name, "err", err)
		return true
	}
	s.log.DebugContext(ctx, "job done", "job", j.name, "duration_ms", time.Since(start).Milliseconds())
	return true
}
