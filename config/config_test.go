package config_test

import (
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/config"
)

// env returns a getenv reading only vars, so the tests never see the
// environment they run in.
func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// prodEnv is a complete, valid production environment.
func prodEnv() map[string]string {
	return map[string]string{
		"TILL_ENV":     "production",
		"DATABASE_URL": "postgres://till:secret@db.internal:5432/till?sslmode=require",
		"REDIS_URL":    "rediss://cache.internal:6380",
		"TILL_KEYS":    `{"jwt":"…"}`,
	}
}

func TestFromEnvDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		vars map[string]string
	}{
		{name: "nothing set", vars: nil},
		{name: "development named", vars: map[string]string{"TILL_ENV": "development"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.FromEnv(env(tc.vars))
			require.NoError(t, err)
			require.Equal(t, config.Default(), c)

			require.False(t, c.Production)
			require.Equal(t, ":8080", c.Addr)
			require.Empty(t, c.DatabaseURL, "empty means the SQLite file ./till.db")
			require.Empty(t, c.RedisURL, "empty means the in-process Redis")
			require.Equal(t, "till:", c.RedisPrefix)
			require.Equal(t, "till.keys.json", c.KeysFile)
			require.Empty(t, c.KeysJSON)
			require.True(t, c.MigrateOnStart)
			require.Equal(t, slog.LevelInfo, c.LogLevel)
			require.False(t, c.LogJSON)
			require.Equal(t, 20, c.APIRatePerSecond)
			require.Equal(t, 40, c.APIBurst)
			require.Equal(t, 30, c.LoginPerIPPerMinute)
			require.Equal(t, 10, c.LoginPerEmailPerMinute)
			require.Equal(t, 10, c.PasswordCost)
			require.Equal(t, 10, c.MaxDepth)
			require.Equal(t, 1000, c.MaxComplexity)
			require.Equal(t, int64(1<<20), c.MaxBodyBytes)
			require.Empty(t, c.TrustedProxies)
			require.Empty(t, c.CORSOrigins)
			require.Equal(t, 30*time.Second, c.ShutdownTimeout)
			require.Equal(t, 20, c.DBMaxConns)
			require.Empty(t, c.BackupTo, "empty means beside the SQLite file")
			require.True(t, c.BackupSchedule)
			require.Equal(t, 3*time.Hour+30*time.Minute, c.BackupAt)
			require.Equal(t, []int{7, 4, 12}, []int{c.BackupKeepDaily, c.BackupKeepWeekly, c.BackupKeepMonthly})
		})
	}
}

func TestFromEnvOverrides(t *testing.T) {
	t.Parallel()
	c, err := config.FromEnv(env(map[string]string{
		"TILL_ADDR":                 "127.0.0.1:9000",
		"DATABASE_URL":              "file:/var/lib/till/till.db",
		"REDIS_URL":                 "redis://127.0.0.1:6379/2",
		"TILL_REDIS_PREFIX":         "shop1:",
		"TILL_KEYS_FILE":            "/etc/till/keys.json",
		"TILL_KEYS":                 `{"k":1}`,
		"TILL_DB_MAX_CONNS":         "4",
		"TILL_API_RATE":             "0",
		"TILL_API_BURST":            "5",
		"TILL_LOGIN_PER_IP":         "7",
		"TILL_LOGIN_PER_EMAIL":      "3",
		"TILL_PAIR_PER_IP":          "4",
		"TILL_DEVICE_OFFLINE_AFTER": "90s",
		"TILL_BCRYPT_COST":          "12",
		"TILL_MIGRATE_ON_START":     "false",
		"TILL_LOG_LEVEL":            "debug",
		"TILL_LOG_FORMAT":           "json",
		"TILL_TRUSTED_PROXIES":      " 10.0.0.0/8, ,fd00::/8 ",
		"TILL_CORS_ORIGINS":         "https://pos.example, https://admin.example,",
		"FIREBASE_CREDENTIALS":      "/etc/till/firebase.json",
		"TILL_FCM_ENDPOINT":         "http://127.0.0.1:9999",
		"TILL_OUTBOX_WORKER":        "false",
		"TILL_OUTBOX_POLL":          "250ms",
		"TILL_OUTBOX_LEASE":         "30s",
		"TILL_BACKUP_TO":            "/mnt/nas/till, s3://K:S@s3.example.com/bucket/till",
		"TILL_BACKUP_SCHEDULE":      "off",
		"TILL_BACKUP_AT":            "22:05",
		"TILL_BACKUP_KEEP_DAILY":    "14",
		"TILL_BACKUP_KEEP_WEEKLY":   "0",
		"TILL_BACKUP_KEEP_MONTHLY":  "24",
	}))
	require.NoError(t, err)
	require.False(t, c.Production)
	require.Equal(t, "127.0.0.1:9000", c.Addr)
	require.Equal(t, "file:/var/lib/till/till.db", c.DatabaseURL)
	require.Equal(t, "redis://127.0.0.1:6379/2", c.RedisURL)
	require.Equal(t, "shop1:", c.RedisPrefix)
	require.Equal(t, "/etc/till/keys.json", c.KeysFile)
	require.Equal(t, `{"k":1}`, c.KeysJSON)
	require.Equal(t, 4, c.DBMaxConns)
	require.Equal(t, 0, c.APIRatePerSecond, "0 is allowed: it turns the limit off")
	require.Equal(t, 5, c.APIBurst)
	require.Equal(t, 7, c.LoginPerIPPerMinute)
	require.Equal(t, 3, c.LoginPerEmailPerMinute)
	require.Equal(t, 4, c.PairPerIPPerMinute)
	require.Equal(t, 90*time.Second, c.DeviceOfflineAfter)
	require.Equal(t, 12, c.PasswordCost)
	require.False(t, c.MigrateOnStart)
	require.Equal(t, slog.LevelDebug, c.LogLevel)
	require.True(t, c.LogJSON)
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}, c.TrustedProxies)
	require.Equal(t, []string{"https://pos.example", "https://admin.example"}, c.CORSOrigins)
	require.Equal(t, "/etc/till/firebase.json", c.FirebaseCredentials)
	require.Equal(t, "http://127.0.0.1:9999", c.FCMEndpoint)
	require.False(t, c.OutboxWorker)
	require.Equal(t, 250*time.Millisecond, c.OutboxPoll)
	require.Equal(t, 30*time.Second, c.OutboxLease)
	require.Equal(t, []string{"/mnt/nas/till", "s3://K:S@s3.example.com/bucket/till"}, c.BackupTo)
	require.False(t, c.BackupSchedule)
	require.Equal(t, 22*time.Hour+5*time.Minute, c.BackupAt)
	require.Equal(t, []int{14, 0, 24}, []int{c.BackupKeepDaily, c.BackupKeepWeekly, c.BackupKeepMonthly})
	// Not configurable from the environment: still the defaults.
	d := config.Default()
	require.Equal(t, d.MaxDepth, c.MaxDepth)
	require.Equal(t, d.MaxBodyBytes, c.MaxBodyBytes)
}

func TestFromEnvProductionDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.FromEnv(env(prodEnv()))
	require.NoError(t, err)
	require.True(t, c.Production)
	require.False(t, c.MigrateOnStart, "production migrates with `till migrate`, not on start")
	require.True(t, c.LogJSON, "production logs JSON")

	vars := prodEnv()
	vars["TILL_MIGRATE_ON_START"] = "true"
	vars["TILL_LOG_FORMAT"] = "text"
	c, err = config.FromEnv(env(vars))
	require.NoError(t, err)
	require.True(t, c.MigrateOnStart, "TILL_MIGRATE_ON_START overrides the production default")
	require.False(t, c.LogJSON, "TILL_LOG_FORMAT overrides the production default")
}

func TestFromEnvRefusesBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		vars    map[string]string
		wantMsg []string
	}{
		{name: "unknown TILL_ENV", vars: map[string]string{"TILL_ENV": "staging"},
			wantMsg: []string{`TILL_ENV: want development or production, got "staging"`}},
		{name: "TILL_ENV is case-sensitive", vars: map[string]string{"TILL_ENV": "Production"},
			wantMsg: []string{`TILL_ENV: want development or production, got "Production"`}},
		{name: "rate not a number", vars: map[string]string{"TILL_API_RATE": "fast"},
			wantMsg: []string{`TILL_API_RATE: want a non-negative integer, got "fast"`}},
		{name: "negative burst", vars: map[string]string{"TILL_API_BURST": "-1"},
			wantMsg: []string{`TILL_API_BURST: want a non-negative integer, got "-1"`}},
		{name: "login per IP fraction", vars: map[string]string{"TILL_LOGIN_PER_IP": "1.5"},
			wantMsg: []string{`TILL_LOGIN_PER_IP: want a non-negative integer, got "1.5"`}},
		{name: "login per email", vars: map[string]string{"TILL_LOGIN_PER_EMAIL": "ten"},
			wantMsg: []string{`TILL_LOGIN_PER_EMAIL: want a non-negative integer, got "ten"`}},
		{name: "bcrypt cost", vars: map[string]string{"TILL_BCRYPT_COST": "x"},
			wantMsg: []string{`TILL_BCRYPT_COST: want a non-negative integer, got "x"`}},
		{name: "device offline too soon", vars: map[string]string{"TILL_DEVICE_OFFLINE_AFTER": "10s"},
			wantMsg: []string{`TILL_DEVICE_OFFLINE_AFTER: want a duration of at least 1m, got "10s"`}},
		{name: "device offline not a duration", vars: map[string]string{"TILL_DEVICE_OFFLINE_AFTER": "soon"},
			wantMsg: []string{`TILL_DEVICE_OFFLINE_AFTER: want a duration of at least 1m, got "soon"`}},
		{name: "no database connections", vars: map[string]string{"TILL_DB_MAX_CONNS": "0"},
			wantMsg: []string{"TILL_DB_MAX_CONNS: want at least 1"}},
		{name: "database connections not a number", vars: map[string]string{"TILL_DB_MAX_CONNS": "many"},
			wantMsg: []string{`TILL_DB_MAX_CONNS: want a non-negative integer, got "many"`}},
		{name: "migrate flag", vars: map[string]string{"TILL_MIGRATE_ON_START": "sometimes"},
			wantMsg: []string{`TILL_MIGRATE_ON_START: want true or false, got "sometimes"`}},
		{name: "outbox worker flag", vars: map[string]string{"TILL_OUTBOX_WORKER": "maybe"},
			wantMsg: []string{`TILL_OUTBOX_WORKER: want true or false, got "maybe"`}},
		{name: "outbox poll too fast", vars: map[string]string{"TILL_OUTBOX_POLL": "1ms"},
			wantMsg: []string{`TILL_OUTBOX_POLL: want a duration from 10ms to 1m, got "1ms"`}},
		{name: "outbox lease too short", vars: map[string]string{"TILL_OUTBOX_LEASE": "100ms"},
			wantMsg: []string{`TILL_OUTBOX_LEASE: want a duration from 1s to 1h, got "100ms"`}},
		{name: "backup schedule", vars: map[string]string{"TILL_BACKUP_SCHEDULE": "hourly"},
			wantMsg: []string{`TILL_BACKUP_SCHEDULE: want daily or off, got "hourly"`}},
		{name: "backup time", vars: map[string]string{"TILL_BACKUP_AT": "25:00"},
			wantMsg: []string{`TILL_BACKUP_AT: want HH:MM (UTC), got "25:00"`}},
		{name: "backup keep", vars: map[string]string{"TILL_BACKUP_KEEP_WEEKLY": "-1"},
			wantMsg: []string{`TILL_BACKUP_KEEP_WEEKLY: want a non-negative integer, got "-1"`}},
		{name: "log level", vars: map[string]string{"TILL_LOG_LEVEL": "loud"},
			wantMsg: []string{"TILL_LOG_LEVEL:"}},
		{name: "trusted proxy is not a prefix", vars: map[string]string{"TILL_TRUSTED_PROXIES": "10.0.0.0/8,not-a-cidr"},
			wantMsg: []string{"TILL_TRUSTED_PROXIES:", "not-a-cidr"}},
		{
			name: "every problem is reported at once",
			vars: map[string]string{"TILL_ENV": "qa", "TILL_API_RATE": "-3", "TILL_LOG_LEVEL": "chatty"},
			wantMsg: []string{
				`TILL_ENV: want development or production, got "qa"`,
				`TILL_API_RATE: want a non-negative integer, got "-3"`,
				"TILL_LOG_LEVEL:",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.FromEnv(env(tt.vars))
			require.Error(t, err)
			for _, msg := range tt.wantMsg {
				require.ErrorContains(t, err, msg)
			}
			require.Equal(t, config.Config{}, c, "no half-read configuration on error")
		})
	}
}

// The bcrypt cost is handed to password.NewHasher, which panics outside
// bcrypt's range [4, 31]; the configuration must refuse such a value with
// an error instead of letting the server or `till operator create` crash.
func TestFromEnvRefusesUnusableBcryptCost(t *testing.T) {
	t.Parallel()
	for _, cost := range []string{"0", "3", "32", "100"} {
		t.Run(cost, func(t *testing.T) {
			t.Parallel()
			_, err := config.FromEnv(env(map[string]string{"TILL_BCRYPT_COST": cost}))
			require.ErrorContains(t, err, "TILL_BCRYPT_COST")
		})
	}
	for _, cost := range []string{"4", "10", "31"} {
		t.Run(cost, func(t *testing.T) {
			t.Parallel()
			_, err := config.FromEnv(env(map[string]string{"TILL_BCRYPT_COST": cost}))
			require.NoError(t, err)
		})
	}
}

func TestValidateProduction(t *testing.T) {
	t.Parallel()
	const (
		msgDatabase = "production needs DATABASE_URL=postgres://…"
		msgRedis    = "production needs REDIS_URL (the in-process Redis is for development)"
		msgKeys     = "production needs explicit key material: TILL_KEYS or TILL_KEYS_FILE"
		msgCost     = "production needs TILL_BCRYPT_COST of at least 10"
	)
	all := []string{msgDatabase, msgRedis, msgKeys, msgCost}
	tests := []struct {
		name    string
		change  func(vars map[string]string)
		wantMsg []string // nil: valid
	}{
		{name: "complete", change: func(map[string]string) {}},
		{name: "postgresql scheme", change: func(v map[string]string) { v["DATABASE_URL"] = "postgresql://db/till" }},
		{name: "keys file instead of inline keys", change: func(v map[string]string) {
			delete(v, "TILL_KEYS")
			v["TILL_KEYS_FILE"] = "/run/secrets/till-keys.json"
		}},
		{name: "redis cluster", change: func(v map[string]string) { v["REDIS_URL"] = "redis+cluster://a:6379,b:6379" }},
		{name: "bcrypt cost 10", change: func(v map[string]string) { v["TILL_BCRYPT_COST"] = "10" }},

		{name: "no database", change: func(v map[string]string) { delete(v, "DATABASE_URL") },
			wantMsg: []string{msgDatabase}},
		{name: "sqlite file", change: func(v map[string]string) { v["DATABASE_URL"] = "file:/var/lib/till/till.db" },
			wantMsg: []string{msgDatabase}},
		{name: "sqlite path", change: func(v map[string]string) { v["DATABASE_URL"] = "/var/lib/till/till.db" },
			wantMsg: []string{msgDatabase}},
		{name: "postgres scheme not at the start", change: func(v map[string]string) { v["DATABASE_URL"] = "file:postgres://x" },
			wantMsg: []string{msgDatabase}},
		{name: "no redis", change: func(v map[string]string) { delete(v, "REDIS_URL") },
			wantMsg: []string{msgRedis}},
		{name: "no keys", change: func(v map[string]string) { delete(v, "TILL_KEYS") },
			wantMsg: []string{msgKeys}},
		{name: "bcrypt cost too low", change: func(v map[string]string) { v["TILL_BCRYPT_COST"] = "9" },
			wantMsg: []string{msgCost}},
		{name: "nothing but TILL_ENV", change: func(v map[string]string) {
			for k := range v {
				if k != "TILL_ENV" {
					delete(v, k)
				}
			}
			v["TILL_BCRYPT_COST"] = "4"
		}, wantMsg: all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vars := prodEnv()
			tt.change(vars)
			c, err := config.FromEnv(env(vars))
			if tt.wantMsg == nil {
				require.NoError(t, err)
				require.True(t, c.Production)
				return
			}
			require.Error(t, err)
			for _, msg := range all {
				if slices.Contains(tt.wantMsg, msg) {
					require.ErrorContains(t, err, msg)
				} else {
					require.NotContains(t, err.Error(), msg, "only the broken setting is reported")
				}
			}
			// One problem per line, so the operator sees each.
			require.Len(t, strings.Split(err.Error(), "\n"), len(tt.wantMsg))
		})
	}
}

func TestValidateDevelopmentAcceptsAnything(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.PasswordCost = 4
	c.KeysJSON = ""
	require.NoError(t, c.Validate())

	c.Production = true
	require.Error(t, c.Validate(), "the same configuration is refused in production")
}
