package server

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// jobCheckEvery is how often a replica checks whether a job is due.
const jobCheckEvery = 10 * time.Second

// job is work done once every period by one replica of many.
type job struct {
	name  string
	every time.Duration
	// at shifts the periods: a daily job with at 3h30m is due once each
	// day from 03:30 UTC.
	at time.Duration
	// lease, when set, is for long work: rather than claiming the period
	// outright, a replica holds a lease on the job, renewed while it runs,
	// and the period is marked done when the run ends. A replica that dies
	// mid-run leaves the period to another once its lease expires; a run
	// longer than the period holds the next one back until it ends.
	lease time.Duration
	// done, for a leased job, says whether the period's work exists
	// already although Redis does not know it (the in-process Redis
	// forgets on restart).
	done func(ctx context.Context, period time.Time) (bool, error)
	run  func(context.Context) error
}

// runJobs runs the due jobs at start and every jobCheckEvery until ctx is
// done. Leased jobs check in loops of their own, so a long run holds up
// nothing else.
func (s *Server) runJobs(ctx context.Context) {
	var short []job
	var wg sync.WaitGroup
	for _, j := range s.jobs {
		if j.lease > 0 {
			wg.Go(func() { s.loopJobs(ctx, []job{j}) })
		} else {
			short = append(short, j)
		}
	}
	s.loopJobs(ctx, short)
	wg.Wait()
}

func (s *Server) loopJobs(ctx context.Context, jobs []job) {
	ticker := time.NewTicker(jobCheckEvery)
	defer ticker.Stop()
	for {
		for _, j := range jobs {
			s.runOnce(ctx, j, s.now())
		}
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

// period is the start of the period now falls in.
func (j job) period(now time.Time) time.Time {
	return now.UTC().Add(-j.at).Truncate(j.every).Add(j.at)
}

func (s *Server) jobKey(j job, suffix string) string {
	return s.cfg.RedisPrefix + "job:" + j.name + ":" + suffix
}

// runOnce runs j unless some replica already claimed it for now's period:
// the claim is a Redis key set only if absent, so however many replicas
// check at once, one runs the job (a leased job is claimed through its
// lease instead, see runLeased). A failed run is logged and not retried
// until the next period; the jobs are safe to run again.
func (s *Server) runOnce(ctx context.Context, j job, now time.Time) bool {
	if j.lease > 0 {
		return s.runLeased(ctx, j, now)
	}
	key := s.jobKey(j, j.period(now).Format(time.RFC3339))
	claimed, err := s.KV.Client().SetNX(ctx, key, now.UTC().Format(time.RFC3339), 2*j.every).Result()
	if err != nil {
		s.log.WarnContext(ctx, "job: claiming", "job", j.name, "err", err)
		return false
	}
	if !claimed {
		return false
	}
	s.runJob(ctx, j)
	return true
}

func (s *Server) runJob(ctx context.Context, j job) {
	start := time.Now()
	if err := j.run(ctx); err != nil {
		s.log.ErrorContext(ctx, "job failed", "job", j.name, "err", err)
		return
	}
	s.log.DebugContext(ctx, "job done", "job", j.name, "duration_ms", time.Since(start).Milliseconds())
}

var (
	// renewLease extends the lease KEYS[1] by ARGV[2] ms if ARGV[1] holds it.
	renewLease = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) end return 0`)
	// releaseLease deletes the lease KEYS[1] if ARGV[1] holds it.
	releaseLease = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end return 0`)
	errLeaseLost = errors.New("job lease lost to another replica")
)

// runLeased runs j if its period is not done and no replica holds its
// lease; see job.lease.
func (s *Server) runLeased(ctx context.Context, j job, now time.Time) bool {
	rdb := s.KV.Client()
	period := j.period(now)
	doneKey, leaseKey := s.jobKey(j, period.Format(time.RFC3339)), s.jobKey(j, "lease")
	isDone := func() bool {
		n, err := rdb.Exists(ctx, doneKey).Result()
		if err != nil {
			s.log.WarnContext(ctx, "job: checking", "job", j.name, "err", err)
		}
		return err != nil || n > 0
	}
	if isDone() {
		return false
	}
	token := rand.Text()
	leased, err := rdb.SetNX(ctx, leaseKey, token, j.lease).Result()
	if err != nil {
		s.log.WarnContext(ctx, "job: leasing", "job", j.name, "err", err)
		return false
	}
	if !leased {
		return false
	}
	defer func() {
		if err := releaseLease.Run(context.WithoutCancel(ctx), rdb, []string{leaseKey}, token).Err(); err != nil {
			s.log.WarnContext(ctx, "job: releasing lease", "job", j.name, "err", err)
		}
	}()
	markDone := func() {
		if err := rdb.Set(context.WithoutCancel(ctx), doneKey, now.UTC().Format(time.RFC3339), 2*j.every).Err(); err != nil {
			s.log.WarnContext(ctx, "job: marking done", "job", j.name, "err", err)
		}
	}
	// Another replica may have finished the period since the first look.
	if isDone() {
		return false
	}
	if j.done != nil {
		done, err := j.done(ctx, period)
		if err != nil {
			s.log.WarnContext(ctx, "job: checking for earlier work", "job", j.name, "err", err)
		}
		if done {
			markDone()
			return false
		}
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		s.keepLease(runCtx, cancel, j, leaseKey, token)
	}()
	s.runJob(runCtx, j)
	// A run cut short, by shutdown or by losing the lease, leaves the
	// period to be done again.
	cut := runCtx.Err() != nil
	cancel(nil)
	<-renewed
	if !cut {
		markDone()
	}
	return true
}

// keepLease renews the lease every third of its length until ctx is done,
// and cancels the run (with errLeaseLost) if the lease is found gone: a
// replica too slow to renew must not carry on beside the one that took
// over.
func (s *Server) keepLease(ctx context.Context, cancel context.CancelCauseFunc, j job, key, token string) {
	ticker := time.NewTicker(j.lease / 3)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		held, err := renewLease.Run(ctx, s.KV.Client(), []string{key}, token, j.lease.Milliseconds()).Int()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			// Redis may be back before the lease runs out.
			s.log.WarnContext(ctx, "job: renewing lease", "job", j.name, "err", err)
		case held == 0:
			s.log.ErrorContext(ctx, "job: lease lost; stopping", "job", j.name)
			cancel(errLeaseLost)
			return
		}
	}
}
