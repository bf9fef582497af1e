// Package config reads Till's configuration from the environment.
//
// With nothing set, Till runs on one machine: a SQLite file, an in-process
// Redis and a key file it generates. Production (TILL_ENV=production)
// refuses to start unless it has PostgreSQL, a real Redis and explicit key
// material.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Config is the server configuration.
type Config struct {
	// Production turns off introspection and the playground and requires
	// real infrastructure and key material.
	Production bool
	// Addr is the HTTP listen address.
	Addr string
	// DatabaseURL is postgres://… or a SQLite file; empty means ./till.db.
	DatabaseURL string
	// DBMaxConns bounds this process's database connections, so replicas
	// times DBMaxConns stays under the server's max_connections.
	DBMaxConns int
	// RedisURL is redis://…, rediss://… or redis+cluster://…; empty starts
	// an in-process Redis.
	RedisURL string
	// RedisPrefix starts every key Till writes to Redis.
	RedisPrefix string
	// KeysFile holds key material (JWT signing, PII encryption); in
	// development it is generated on first start.
	KeysFile string
	// KeysJSON is key material given inline (from a secret manager); it
	// wins over KeysFile.
	KeysJSON string
	// MigrateOnStart applies schema migrations when the server starts.
	MigrateOnStart bool
	LogLevel       slog.Level
	LogJSON        bool
	// APIRatePerSecond and APIBurst bound each session's (or anonymous
	// IP's) requests.
	APIRatePerSecond int
	APIBurst         int
	// LoginPerIPPerMinute and LoginPerEmailPerMinute bound logIn attempts.
	LoginPerIPPerMinute    int
	LoginPerEmailPerMinute int
	// PairPerIPPerMinute bounds pairDevice attempts (code guesses).
	PairPerIPPerMinute int
	// DeviceOfflineAfter without a heartbeat, a device is OFFLINE.
	DeviceOfflineAfter time.Duration
	// PasswordCost is the bcrypt cost for passwords and PINs.
	PasswordCost int
	// MaxDepth and MaxComplexity bound a GraphQL operation.
	MaxDepth      int
	MaxComplexity int
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64
	// TrustedProxies are the load balancers whose X-Forwarded-For is
	// believed when finding the client IP.
	TrustedProxies []netip.Prefix
	// CORSOrigins may call the API from a browser; empty allows none.
	CORSOrigins     []string
	ShutdownTimeout time.Duration
	// SMTPHost is the mail server receipts are sent through (SMTP_HOST);
	// without it emails are logged in development and fail in production.
	SMTPHost string
	// SMTPPort defaults to 587 (submission).
	SMTPPort int
	// SMTPUsername and SMTPPassword authenticate; no username, no AUTH.
	SMTPUsername string
	SMTPPassword string
	// SMTPFrom is the From of Till's emails, e.g. "Till <receipts@example.com>".
	SMTPFrom string
	// SMTPTLS is mandatory (the default), opportunistic, or none (a local
	// development relay; refused in production).
	SMTPTLS string
	// SMSWebhookURL is where text messages are posted, signed with
	// SMSWebhookSecret (see notify/sms); without it they are logged in
	// development and fail in production.
	SMSWebhookURL    string
	SMSWebhookSecret string
	// PublicURL is where customers reach the server (unsubscribe links).
	PublicURL string
	// SMSInboundSecret signs the SMS provider's inbound webhook
	// (POST /sms/inbound); without it the webhook is off.
	SMSInboundSecret string
	// FirebaseCredentials is the service-account JSON file pushes are sent
	// with; empty logs and records pushes instead of sending them.
	FirebaseCredentials string
	// FCMEndpoint replaces Google's FCM endpoint (a test stand-in or a
	// regional proxy).
	FCMEndpoint string
	// OutboxWorker runs the outbox worker in this process; a deployment
	// with dedicated `till worker` processes turns it off in `till serve`.
	OutboxWorker bool
	// OutboxPoll is how long an idle outbox worker waits between looks.
	OutboxPoll time.Duration
	// OutboxLease is how long a claimed event is held by its worker; one
	// that dies mid-delivery gives it back when the lease ends.
	OutboxLease time.Duration
	// BackupTo is where scheduled backups go (TILL_BACKUP_TO, comma
	// separated): directories and s3:// URLs. Empty means a backups folder
	// beside the SQLite file, or nowhere with PostgreSQL.
	BackupTo []string
	// BackupSchedule runs a backup daily in `till serve`
	// (TILL_BACKUP_SCHEDULE=daily, the default, or off).
	BackupSchedule bool
	// BackupAt is when in the UTC day the backup runs (TILL_BACKUP_AT,
	// HH:MM), as the time since midnight.
	BackupAt time.Duration
	// BackupKeepDaily, BackupKeepWeekly and BackupKeepMonthly are how many
	// days, ISO weeks and months keep their newest backup
	// (TILL_BACKUP_KEEP_DAILY, _WEEKLY, _MONTHLY); older ones are deleted
	// after each successful run.
	BackupKeepDaily   int
	BackupKeepWeekly  int
	BackupKeepMonthly int
	// BackupKeys encrypt and decrypt backups. With none set, development
	// generates an age key into till.backup-key.txt beside KeysFile;
	// production has none.
	BackupKeys BackupKeys
}

// BackupKeys name a backup passphrase, or age recipients (public keys,
// enough to write) and an identity file (the private key, to read).
// Each has a _FILE variant, so no secret need sit in the environment.
type BackupKeys struct {
	Passphrase     string
	PassphraseFile string
	Recipients     []string
	RecipientsFile string
	IdentityFile   string
}

// Set reports whether any backup key is configured.
func (k BackupKeys) Set() bool {
	return k.Passphrase != "" || k.PassphraseFile != "" || len(k.Recipients) > 0 || k.RecipientsFile != "" || k.IdentityFile != ""
}

// Default returns the configuration with nothing set.
func Default() Config {
	return Config{
		Addr:                   ":8080",
		RedisPrefix:            "till:",
		KeysFile:               "till.keys.json",
		MigrateOnStart:         true,
		LogLevel:               slog.LevelInfo,
		APIRatePerSecond:       20,
		APIBurst:               40,
		LoginPerIPPerMinute:    30,
		LoginPerEmailPerMinute: 10,
		PairPerIPPerMinute:     10,
		DeviceOfflineAfter:     5 * time.Minute,
		PasswordCost:           10,
		MaxDepth:               10,
		MaxComplexity:          1000,
		MaxBodyBytes:           1 << 20,
		DBMaxConns:             20,
		ShutdownTimeout:        30 * time.Second,
		SMTPPort:               587,
		SMTPTLS:                "mandatory",
		PublicURL:              "http://localhost:8080",
		OutboxWorker:           true,
		OutboxPoll:             100 * time.Millisecond,
		OutboxLease:            2 * time.Minute,
		BackupSchedule:         true,
		BackupAt:               3*time.Hour + 30*time.Minute,
		BackupKeepDaily:        7,
		BackupKeepWeekly:       4,
		BackupKeepMonthly:      12,
	}
}

// FromEnv reads the configuration from getenv (os.Getenv in main).
func FromEnv(getenv func(string) string) (Config, error) {
	c := Default()
	var errs []error
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	num := func(name string, dst *int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				errs = append(errs, fmt.Errorf("%s: want a non-negative integer, got %q", name, v))
				return
			}
			*dst = n
		}
	}
	switch env := getenv("TILL_ENV"); env {
	case "", "development":
	case "production":
		c.Production = true
		c.MigrateOnStart = false
		c.LogJSON = true
	default:
		errs = append(errs, fmt.Errorf("TILL_ENV: want development or production, got %q", env))
	}
	str("TILL_ADDR", &c.Addr)
	str("DATABASE_URL", &c.DatabaseURL)
	str("REDIS_URL", &c.RedisURL)
	str("TILL_REDIS_PREFIX", &c.RedisPrefix)
	str("TILL_KEYS_FILE", &c.KeysFile)
	str("TILL_KEYS", &c.KeysJSON)
	str("TILL_BACKUP_PASSPHRASE", &c.BackupKeys.Passphrase)
	str("TILL_BACKUP_PASSPHRASE_FILE", &c.BackupKeys.PassphraseFile)
	str("TILL_BACKUP_RECIPIENTS_FILE", &c.BackupKeys.RecipientsFile)
	str("TILL_BACKUP_IDENTITY_FILE", &c.BackupKeys.IdentityFile)
	c.BackupKeys.Recipients = splitList(getenv("TILL_BACKUP_RECIPIENTS"))
	str("TILL_PUBLIC_URL", &c.PublicURL)
	str("TILL_SMS_INBOUND_SECRET", &c.SMSInboundSecret)
	num("TILL_DB_MAX_CONNS", &c.DBMaxConns)
	if c.DBMaxConns == 0 {
		errs = append(errs, errors.New("TILL_DB_MAX_CONNS: want at least 1"))
	}
	num("TILL_API_RATE", &c.APIRatePerSecond)
	num("TILL_API_BURST", &c.APIBurst)
	num("TILL_LOGIN_PER_IP", &c.LoginPerIPPerMinute)
	num("TILL_LOGIN_PER_EMAIL", &c.LoginPerEmailPerMinute)
	num("TILL_PAIR_PER_IP", &c.PairPerIPPerMinute)
	if v := getenv("TILL_DEVICE_OFFLINE_AFTER"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute {
			errs = append(errs, fmt.Errorf("TILL_DEVICE_OFFLINE_AFTER: want a duration of at least 1m, got %q", v))
		}
		c.DeviceOfflineAfter = d
	}
	num("TILL_BCRYPT_COST", &c.PasswordCost)
	if c.PasswordCost < bcrypt.MinCost || c.PasswordCost > bcrypt.MaxCost {
		errs = append(errs, fmt.Errorf("TILL_BCRYPT_COST: want %d to %d, got %d", bcrypt.MinCost, bcrypt.MaxCost, c.PasswordCost))
	}
	boolean := func(name string, dst *bool) {
		if v := getenv(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: want true or false, got %q", name, v))
			}
			*dst = b
		}
	}
	boolean("TILL_MIGRATE_ON_START", &c.MigrateOnStart)
	boolean("TILL_OUTBOX_WORKER", &c.OutboxWorker)
	str("FIREBASE_CREDENTIALS", &c.FirebaseCredentials)
	str("TILL_FCM_ENDPOINT", &c.FCMEndpoint)
	if v := getenv("TILL_OUTBOX_POLL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Millisecond || d > time.Minute {
			errs = append(errs, fmt.Errorf("TILL_OUTBOX_POLL: want a duration from 10ms to 1m, got %q", v))
		}
		c.OutboxPoll = d
	}
	if v := getenv("TILL_OUTBOX_LEASE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > time.Hour {
			errs = append(errs, fmt.Errorf("TILL_OUTBOX_LEASE: want a duration from 1s to 1h, got %q", v))
		}
		c.OutboxLease = d
	}
	if v := getenv("TILL_LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("TILL_LOG_LEVEL: %w", err))
		}
	}
	if v := getenv("TILL_LOG_FORMAT"); v != "" {
		c.LogJSON = v == "json"
	}
	for _, p := range splitList(getenv("TILL_TRUSTED_PROXIES")) {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("TILL_TRUSTED_PROXIES: %w", err))
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, prefix)
	}
	c.CORSOrigins = splitList(getenv("TILL_CORS_ORIGINS"))
	str("SMTP_HOST", &c.SMTPHost)
	num("SMTP_PORT", &c.SMTPPort)
	str("SMTP_USERNAME", &c.SMTPUsername)
	str("SMTP_PASSWORD", &c.SMTPPassword)
	str("SMTP_FROM", &c.SMTPFrom)
	str("SMTP_TLS", &c.SMTPTLS)
	str("TILL_SMS_WEBHOOK_URL", &c.SMSWebhookURL)
	str("TILL_SMS_WEBHOOK_SECRET", &c.SMSWebhookSecret)
	errs = append(errs, c.checkMessaging()...)
	c.BackupTo = splitList(getenv("TILL_BACKUP_TO"))
	switch v := getenv("TILL_BACKUP_SCHEDULE"); v {
	case "", "daily":
	case "off":
		c.BackupSchedule = false
	default:
		errs = append(errs, fmt.Errorf("TILL_BACKUP_SCHEDULE: want daily or off, got %q", v))
	}
	if v := getenv("TILL_BACKUP_AT"); v != "" {
		at, err := time.Parse("15:04", v)
		if err != nil {
			errs = append(errs, fmt.Errorf("TILL_BACKUP_AT: want HH:MM (UTC), got %q", v))
		}
		c.BackupAt = time.Duration(at.Hour())*time.Hour + time.Duration(at.Minute())*time.Minute
	}
	num("TILL_BACKUP_KEEP_DAILY", &c.BackupKeepDaily)
	num("TILL_BACKUP_KEEP_WEEKLY", &c.BackupKeepWeekly)
	num("TILL_BACKUP_KEEP_MONTHLY", &c.BackupKeepMonthly)
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// Validate checks that a production configuration names real
// infrastructure and key material.
func (c Config) Validate() error {
	if !c.Production {
		return nil
	}
	var errs []error
	if !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, errors.New("production needs DATABASE_URL=postgres://…"))
	}
	if c.RedisURL == "" {
		errs = append(errs, errors.New("production needs REDIS_URL (the in-process Redis is for development)"))
	}
	if c.KeysJSON == "" && c.KeysFile == Default().KeysFile {
		errs = append(errs, errors.New("production needs explicit key material: TILL_KEYS or TILL_KEYS_FILE"))
	}
	if c.PasswordCost < 10 {
		errs = append(errs, errors.New("production needs TILL_BCRYPT_COST of at least 10"))
	}
	return errors.Join(errs...)
}

// checkMessaging checks the SMTP and SMS webhook settings that are given.
func (c Config) checkMessaging() []error {
	var errs []error
	if c.SMTPHost != "" {
		if c.SMTPFrom == "" {
			errs = append(errs, errors.New("SMTP_FROM: required with SMTP_HOST"))
		} else if _, err := mail.ParseAddress(c.SMTPFrom); err != nil {
			errs = append(errs, fmt.Errorf("SMTP_FROM: %w", err))
		}
		if c.SMTPPort < 1 || c.SMTPPort > 65535 {
			errs = append(errs, fmt.Errorf("SMTP_PORT: want 1 to 65535, got %d", c.SMTPPort))
		}
	}
	switch c.SMTPTLS {
	case "mandatory", "opportunistic":
	case "none":
		if c.Production {
			errs = append(errs, errors.New("SMTP_TLS: none is for a local development relay, not production"))
		}
	default:
		errs = append(errs, fmt.Errorf("SMTP_TLS: want mandatory, opportunistic or none, got %q", c.SMTPTLS))
	}
	if c.SMSWebhookURL != "" {
		u, err := url.Parse(c.SMSWebhookURL)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			errs = append(errs, fmt.Errorf("TILL_SMS_WEBHOOK_URL: want an https:// URL, got %q", c.SMSWebhookURL))
		case u.Scheme == "http" && c.Production:
			errs = append(errs, errors.New("TILL_SMS_WEBHOOK_URL: production posts messages over https only"))
		}
		if c.SMSWebhookSecret == "" {
			errs = append(errs, errors.New("TILL_SMS_WEBHOOK_SECRET: required with TILL_SMS_WEBHOOK_URL"))
		}
	}
	return errs
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
