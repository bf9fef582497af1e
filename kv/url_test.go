package kv

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// parsed is the part of clientOptions the URL rules decide.
type parsed struct {
	Cluster     bool
	Network     string
	Addrs       []string
	DB          int
	Username    string
	Password    string
	TLSServer   string
	ReadTimeout time.Duration
}

func summarize(o clientOptions) parsed {
	if o.cluster != nil {
		p := parsed{
			Cluster:     true,
			Addrs:       o.cluster.Addrs,
			Username:    o.cluster.Username,
			Password:    o.cluster.Password,
			ReadTimeout: o.cluster.ReadTimeout,
		}
		if o.cluster.TLSConfig != nil {
			p.TLSServer = o.cluster.TLSConfig.ServerName
		}
		return p
	}
	p := parsed{
		Network:     o.single.Network,
		Addrs:       []string{o.single.Addr},
		DB:          o.single.DB,
		Username:    o.single.Username,
		Password:    o.single.Password,
		ReadTimeout: o.single.ReadTimeout,
	}
	if o.single.TLSConfig != nil {
		p.TLSServer = o.single.TLSConfig.ServerName
	}
	return p
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  string
		want parsed
	}{
		{
			name: "single with database",
			url:  "redis://localhost:6379/2",
			want: parsed{Network: "tcp", Addrs: []string{"localhost:6379"}, DB: 2},
		},
		{
			name: "single with default port and credentials",
			url:  "redis://alice:s3cret@cache.internal",
			want: parsed{Network: "tcp", Addrs: []string{"cache.internal:6379"}, Username: "alice", Password: "s3cret"},
		},
		{
			name: "single over TLS with options",
			url:  "rediss://cache.internal:6380/1?read_timeout=2s",
			want: parsed{Network: "tcp", Addrs: []string{"cache.internal:6380"}, DB: 1, TLSServer: "cache.internal", ReadTimeout: 2 * time.Second},
		},
		{
			name: "single over a unix socket",
			url:  "unix:///run/redis.sock?db=3",
			want: parsed{Network: "unix", Addrs: []string{"/run/redis.sock"}, DB: 3},
		},
		{
			name: "cluster scheme",
			url:  "redis+cluster://h1:6379,h2:6380",
			want: parsed{Cluster: true, Addrs: []string{"h1:6379", "h2:6380"}},
		},
		{
			name: "cluster scheme with TLS, credentials, default port, IPv6 and options",
			url:  "rediss+cluster://alice:s3cret@h1,[::1]:7000/?read_timeout=2s",
			want: parsed{
				Cluster:     true,
				Addrs:       []string{"h1:6379", "[::1]:7000"},
				Username:    "alice",
				Password:    "s3cret",
				TLSServer:   "h1",
				ReadTimeout: 2 * time.Second,
			},
		},
		{
			name: "cluster seeded by addr parameters",
			url:  "redis://alice:s3cret@h1:6379?addr=h2:6379&addr=h3:6379",
			want: parsed{Cluster: true, Addrs: []string{"h1:6379", "h2:6379", "h3:6379"}, Username: "alice", Password: "s3cret"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts, err := parseURL(tc.url)
			require.NoError(t, err)
			require.Equal(t, tc.want, summarize(opts))
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		url     string
		wantErr string
	}{
		{name: "unknown scheme", url: "http://cache:6379", wantErr: "invalid URL scheme"},
		{name: "unknown cluster scheme", url: "http+cluster://h1:6379", wantErr: "invalid URL scheme"},
		{name: "invalid database", url: "redis://cache:6379/x", wantErr: "invalid database number"},
		{name: "unknown option", url: "redis://cache:6379?bogus=1", wantErr: "unexpected option: bogus"},
		{name: "cluster without seeds", url: "redis+cluster://", wantErr: "empty seed address"},
		{name: "cluster with an empty seed", url: "redis+cluster://h1:6379,", wantErr: "empty seed address"},
		{name: "cluster seed with a bad port", url: "redis+cluster://h1:port", wantErr: "invalid seed address"},
		{name: "cluster scheme selecting a database", url: "redis+cluster://h1,h2/2", wantErr: "only has database 0"},
		{name: "addr cluster selecting a database", url: "redis://h1/2?addr=h2:6379", wantErr: "only has database 0"},
		{name: "addr parameter without a port", url: "redis://h1?addr=h2", wantErr: "unable to parse addr param"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseURL(tc.url)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

// TestParseURLRedactsPassword guards against net/url's habit of quoting the
// whole URL, password included, in its errors.
func TestParseURLRedactsPassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  string
	}{
		{name: "single", url: "redis://alice:hunter2@cache:6379/\x7f"},
		{name: "cluster scheme", url: "redis+cluster://alice:hunter2@h1,h2/\x7f"},
		{name: "addr cluster", url: "redis://alice:hunter2@h1/\x7f?addr=h2:6379"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseURL(tc.url)
			require.Error(t, err)
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
}
