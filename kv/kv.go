// Package kv opens the Redis client the server keeps its shared, expiring
// state in (sessions, rate-limit buckets, ...).
//
// The server always talks to Redis through a go-redis client over TCP, even
// when no Redis is configured: Open then starts an in-process
// Redis-protocol server (miniredis) and connects to it like to any other
// Redis, so development, tests and production exercise the same code path.
package kv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Store is an open connection to Redis: a real server, a Redis Cluster, or
// an embedded miniredis.
type Store struct {
	client   redis.UniversalClient
	embedded *miniredis.Miniredis
}

// Open connects to the Redis at redisURL, or, when redisURL is empty, starts
// an in-process Redis-protocol server (miniredis) on a loopback port and
// connects to it through a normal go-redis client.
//
// redisURL selects the client by its form:
//
//   - redis+cluster://[user:pass@]host1:port1,host2:port2[?options]
//     (or rediss+cluster:// for TLS) is a Redis Cluster seeded from the
//     comma-separated hosts; a missing port means 6379.
//   - redis://[user:pass@]host:port?addr=host2:port2[&addr=...] (or
//     rediss://) is a Redis Cluster too: any addr parameter means cluster,
//     as in redis.ParseClusterURL.
//   - any other redis://[user:pass@]host:port[/db][?options], rediss://
//     or unix:// URL is a single Redis server, as in redis.ParseURL.
//
// A cluster URL must not select a database, since Redis Cluster only has
// database 0. Options are go-redis's URL query parameters.
//
// Open pings the server and fails if it does not answer, so a
// misconfigured URL surfaces at startup rather than on the first request.
func Open(ctx context.Context, redisURL string) (*Store, error) {
	if redisURL == "" {
		return openEmbedded(ctx)
	}
	opts, err := parseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("parsing redis URL: %w", err)
	}
	client := opts.newClient()
	if err := client.Ping(ctx).Err(); err != nil {
		// The ping error is what the caller needs; a failure to release
		// the never-used pool would only hide it.
		_ = client.Close()
		return nil, fmt.Errorf("connecting to redis at %s: %w", opts.addrs(), err)
	}
	return &Store{client: client}, nil
}

// openEmbedded starts a miniredis and connects to it over TCP.
func openEmbedded(ctx context.Context) (*Store, error) {
	m := miniredis.NewMiniRedis()
	// Without ClockTTL miniredis only expires keys on FastForward, so a
	// long-running development server would keep every session and
	// rate-limit bucket forever. With it, keys expire as time passes, as in
	// Redis, and tests can still move the clock with SetTime.
	m.ClockTTL(true)
	if err := m.Start(); err != nil {
		return nil, fmt.Errorf("starting embedded redis: %w", err)
	}
	client := redis.NewClient(&redis.Options{Addr: m.Addr()})
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		m.Close()
		return nil, fmt.Errorf("connecting to embedded redis at %s: %w", m.Addr(), err)
	}
	return &Store{client: client, embedded: m}, nil
}

// Client returns the go-redis client, a *redis.Client for a single server
// or a *redis.ClusterClient for a Redis Cluster.
func (s *Store) Client() redis.UniversalClient {
	return s.client
}

// Embedded returns the in-process server when Open was given no URL, and
// nil for a real Redis. Tests use it to move time (SetTime, FastForward).
func (s *Store) Embedded() *miniredis.Miniredis {
	return s.embedded
}

// Ping checks that Redis answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("pinging redis: %w", err)
	}
	return nil
}

// Close closes the client and, if Redis is embedded, stops the server,
// discarding its data.
func (s *Store) Close() error {
	err := s.client.Close()
	if s.embedded != nil {
		s.embedded.Close()
	}
	if err != nil {
		return fmt.Errorf("closing redis client: %w", err)
	}
	return nil
}

// clientOptions is a parsed Redis URL: exactly one of single and cluster is
// set.
type clientOptions struct {
	single  *redis.Options
	cluster *redis.ClusterOptions
}

// newClient creates the client the options describe, without connecting.
func (o clientOptions) newClient() redis.UniversalClient {
	if o.cluster != nil {
		return redis.NewClusterClient(o.cluster)
	}
	return redis.NewClient(o.single)
}

// addrs names the servers for error messages; unlike the URL it carries no
// credentials.
func (o clientOptions) addrs() string {
	if o.cluster != nil {
		return strings.Join(o.cluster.Addrs, ",")
	}
	return o.single.Addr
}

// clusterSchemeSuffix marks a URL scheme as naming a Redis Cluster.
const clusterSchemeSuffix = "+cluster"

// parseURL implements the URL rules documented on Open.
func parseURL(rawURL string) (clientOptions, error) {
	scheme, _, _ := strings.Cut(rawURL, "://")
	if strings.HasSuffix(scheme, clusterSchemeSuffix) {
		seeded, err := seedsToAddrParams(rawURL, scheme)
		if err != nil {
			return clientOptions{}, err
		}
		return parseClusterURL(seeded)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return clientOptions{}, redactURLError(err)
	}
	if u.Query().Has("addr") {
		return parseClusterURL(rawURL)
	}
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return clientOptions{}, redactURLError(err)
	}
	return clientOptions{single: opts}, nil
}

// parseClusterURL parses a URL in redis.ParseClusterURL's addr-parameter
// form.
func parseClusterURL(rawURL string) (clientOptions, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return clientOptions{}, redactURLError(err)
	}
	// redis.ParseClusterURL ignores the path, which would silently drop a
	// database number the operator expected to be used.
	if strings.Trim(u.Path, "/") != "" {
		return clientOptions{}, fmt.Errorf("redis cluster URL selects database %q: a cluster only has database 0", u.Path)
	}
	opts, err := redis.ParseClusterURL(rawURL)
	if err != nil {
		return clientOptions{}, redactURLError(err)
	}
	return clientOptions{cluster: opts}, nil
}

// seedsToAddrParams rewrites "scheme+cluster://auth@h1,h2/path?q" as
// "scheme://auth@h1/path?q&addr=h2", the form redis.ParseClusterURL reads.
// The authority is split by hand because net/url rejects a comma-separated
// host list containing IPv6 literals.
func seedsToAddrParams(rawURL, scheme string) (string, error) {
	rest := strings.TrimPrefix(rawURL, scheme+"://")
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	userinfo, hosts := "", authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, hosts = authority[:i+1], authority[i+1:]
	}
	seeds := strings.Split(hosts, ",")
	for i, seed := range seeds {
		addr, err := seedAddr(seed)
		if err != nil {
			return "", err
		}
		seeds[i] = addr
	}

	base := strings.TrimSuffix(scheme, clusterSchemeSuffix) + "://" + userinfo + seeds[0] + tail
	u, err := url.Parse(base)
	if err != nil {
		return "", redactURLError(err)
	}
	q := u.Query()
	for _, seed := range seeds[1:] {
		q.Add("addr", seed)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// seedAddr normalizes one cluster seed to host:port, defaulting the port
// to 6379 as go-redis does for the URL's own host.
func seedAddr(seed string) (string, error) {
	u := url.URL{Host: seed}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return "", fmt.Errorf("redis cluster URL has an empty seed address %q", seed)
	}
	// url.URL.Port leaves an invalid port on the host rather than failing;
	// only a bracketed IPv6 literal may contain colons.
	if strings.Contains(host, ":") && !strings.HasPrefix(seed, "[") {
		return "", fmt.Errorf("redis cluster URL has an invalid seed address %q", seed)
	}
	if port == "" {
		port = "6379"
	}
	return net.JoinHostPort(host, port), nil
}

// redactURLError drops the URL that net/url quotes in its errors, so a
// password in the URL never reaches the logs.
func redactURLError(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	return err
}
