// Package ratelimit limits how often something may happen (login attempts
// per IP, API calls per token, ...), with the state kept in Redis so every
// server instance draws on the same budget.
//
// It is a thin wrapper over github.com/go-redis/redis_rate, which runs the
// generic cell rate algorithm (GCRA) as a Lua script: a bucket is a single
// key holding a timestamp, so a check is one atomic round trip and the key
// expires once the bucket is full again.
package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Limit is a rate: Rate events per Period, of which up to Burst may happen
// at once. The zero Limit (IsZero) means unlimited.
type Limit = redis_rate.Limit

// PerSecond returns a Limit of rate events per second with a burst of rate.
func PerSecond(rate int) Limit {
	return redis_rate.PerSecond(rate)
}

// PerMinute returns a Limit of rate events per minute with a burst of rate.
func PerMinute(rate int) Limit {
	return redis_rate.PerMinute(rate)
}

// PerHour returns a Limit of rate events per hour with a burst of rate.
func PerHour(rate int) Limit {
	return redis_rate.PerHour(rate)
}

// Limiter checks and takes tokens from rate-limit buckets in Redis.
type Limiter struct {
	limiter *redis_rate.Limiter
	prefix  string
}

// New returns a Limiter keeping its buckets in client under prefix (e.g.
// "till:rl:"). The bucket for name and key is stored at
// prefix+name+":"+key, to which redis_rate prepends its own "rate:", so
// the Redis key is "rate:"+prefix+name+":"+key. Each call touches only
// that one key, so the Limiter works on a Redis Cluster as well.
func New(client redis.UniversalClient, prefix string) *Limiter {
	return &Limiter{limiter: redis_rate.NewLimiter(client), prefix: prefix}
}

// Allow takes one token from the bucket named name/key (e.g. "login-ip",
// "203.0.113.9"). When the bucket is empty, it returns a *LimitedError
// whose RetryAfter says when a token will be available again; a refused
// call takes no token. A zero limit means unlimited: Allow returns nil
// without touching Redis.
func (l *Limiter) Allow(ctx context.Context, name, key string, limit Limit) error {
	if limit.IsZero() {
		return nil
	}
	if err := validate(limit); err != nil {
		return fmt.Errorf("rate limit %s: %w", name, err)
	}
	res, err := l.limiter.Allow(ctx, l.prefix+name+":"+key, limit)
	if err != nil {
		return fmt.Errorf("checking rate limit %s: %w", name, err)
	}
	return refusal(name, res)
}

// Peek reports, like Allow, whether the bucket named name/key has a token,
// but without taking it. A zero limit means unlimited: Peek returns nil
// without touching Redis.
func (l *Limiter) Peek(ctx context.Context, name, key string, limit Limit) error {
	if limit.IsZero() {
		return nil
	}
	if err := validate(limit); err != nil {
		return fmt.Errorf("rate limit %s: %w", name, err)
	}
	// AllowAtMost with n=0 takes nothing yet refuses, with the right
	// RetryAfter, when less than one token is left. AllowN with n=0 never
	// refuses an exhausted bucket: its script only refuses when the bucket
	// is short of the n tokens asked for.
	res, err := l.limiter.AllowAtMost(ctx, l.prefix+name+":"+key, limit, 0)
	if err != nil {
		return fmt.Errorf("peeking at rate limit %s: %w", name, err)
	}
	return refusal(name, res)
}

// validate rejects limits the GCRA script cannot evaluate: a zero Rate or
// Period divides by zero, and a zero Burst refuses every event.
func validate(limit Limit) error {
	if limit.Rate <= 0 || limit.Period <= 0 || limit.Burst <= 0 {
		return fmt.Errorf("invalid limit %v: rate, period and burst must be positive", limit)
	}
	return nil
}

// refusal turns a redis_rate result into the error Allow and Peek return.
func refusal(name string, res *redis_rate.Result) error {
	// redis_rate sets RetryAfter to -1 exactly when the event is allowed.
	if res.RetryAfter < 0 {
		return nil
	}
	return &LimitedError{Name: name, RetryAfter: res.RetryAfter}
}

// LimitedError is returned when a rate limit refuses an event.
type LimitedError struct {
	// Name is the limit's name, as passed to Allow or Peek.
	Name string
	// RetryAfter is how long until the bucket has a token again.
	RetryAfter time.Duration
}

// Error describes the refusal without the bucket key, which may be
// personal data such as a client IP.
func (e *LimitedError) Error() string {
	return fmt.Sprintf("rate limit %s exceeded: retry after %s", e.Name, e.RetryAfter)
}
