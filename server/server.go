// Package server wires Till together: it opens the database and Redis,
// builds the services, and serves the GraphQL API over HTTP.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/tillpos/till/auth"
	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/token"
	"github.com/tillpos/till/backup/dest"
	"github.com/tillpos/till/campaigns"
	"github.com/tillpos/till/catalog"
	"github.com/tillpos/till/config"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/devices"
	"github.com/tillpos/till/exports"
	"github.com/tillpos/till/feed"
	"github.com/tillpos/till/feedback"
	"github.com/tillpos/till/graph"
	"github.com/tillpos/till/keyring"
	"github.com/tillpos/till/kv"
	"github.com/tillpos/till/loyalty"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/notify"
	"github.com/tillpos/till/notify/live"
	"github.com/tillpos/till/notify/push"
	"github.com/tillpos/till/offers"
	"github.com/tillpos/till/outbox"
	"github.com/tillpos/till/pii"
	"github.com/tillpos/till/ratelimit"
	"github.com/tillpos/till/receipts"
	"github.com/tillpos/till/releases"
	"github.com/tillpos/till/reports"
	"github.com/tillpos/till/sales"
	"github.com/tillpos/till/settlement"
	"github.com/tillpos/till/staff"
	"github.com/tillpos/till/storedvalue"
	"github.com/tillpos/till/tickets"
)

// Server is a running Till: its infrastructure, services and HTTP handler.
type Server struct {
	cfg  config.Config
	log  *slog.Logger
	DB   *db.DB
	KV   *kv.Store
	Auth *auth.Service
	// Outbox delivers the events business transactions write: pushes,
	// live-feed messages, receipts.
	Outbox  *outbox.Worker
	handler http.Handler
	jobs    []job
	now     func() time.Time
	// backups is nil when no backups are scheduled.
	backups *backups

	// Receipts sends receipts; its Deliver handles receipt.requested.
	Receipts *receipts.Service
	// Campaigns sends campaigns; its Deliver handles campaigns.Topic.
	Campaigns *campaigns.Service
	// Live carries live events (sales, devices) to subscribers on every
	// replica; the outbox worker publishes to it.
	Live *live.Broker
	// Notify pushes what happens to the merchant's phones.
	Notify *notify.Service
	// Exports writes sales exports in the background and serves their
	// files through signed links.
	Exports *exports.Service
}

// Option adjusts how Open builds a Server.
type Option func(*options)

type options struct {
	authOpts     []auth.Option
	deviceOpts   []devices.Option
	ticketOpts   []tickets.Option
	loyaltyOpts  []loyalty.Option
	campaignOpts []campaigns.Option
	dbOpts       []db.Option
	notifyOpts   []notify.Option
	salesOpts    []sales.Option
	reportOpts   []reports.Option
	push         push.Sender
	outbox       *outbox.Config
	liveRecheck  time.Duration
	now          func() time.Time
	exportOpts   []exports.Option
	// backupProducer and backupLease: see WithBackupProducer.
	backupProducer func(*db.DB) dest.Producer
	backupLease    time.Duration
}

// WithPushSender sends pushes with sender instead of the one the
// configuration names (tests use FCM against a local stand-in).
func WithPushSender(sender push.Sender) Option {
	return func(o *options) { o.push = sender }
}

// WithNotifyOptions passes extra options to the notifications service
// (tests use it for a clock to move into quiet hours and summary times).
func WithNotifyOptions(opts ...notify.Option) Option {
	return func(o *options) { o.notifyOpts = append(o.notifyOpts, opts...) }
}

// WithOutboxConfig tunes the outbox worker (tests shorten its backoff).
func WithOutboxConfig(cfg outbox.Config) Option {
	return func(o *options) { o.outbox = &cfg }
}

// WithDBOptions passes extra options to the database (tests use it to
// count statements).
func WithDBOptions(opts ...db.Option) Option {
	return func(o *options) { o.dbOpts = append(o.dbOpts, opts...) }
}

// WithClock sets the clock that issues and checks tokens and sessions
// (tests move it to expire access tokens).
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithDeviceOptions passes extra options to the devices service (tests use
// it for a clock and pairing limits).
func WithDeviceOptions(opts ...devices.Option) Option {
	return func(o *options) { o.deviceOpts = append(o.deviceOpts, opts...) }
}

// WithTicketOptions passes extra options to the tickets service (tests use
// it for a clock).
func WithTicketOptions(opts ...tickets.Option) Option {
	return func(o *options) { o.ticketOpts = append(o.ticketOpts, opts...) }
}

// WithLoyaltyOptions passes extra options to the loyalty service (tests
// use it for a clock to move past expiries and tier reviews).
func WithLoyaltyOptions(opts ...loyalty.Option) Option {
	return func(o *options) { o.loyaltyOpts = append(o.loyaltyOpts, opts...) }
}

// WithCampaignOptions passes extra options to the campaigns service
// (tests use it for a clock and recording senders).
func WithCampaignOptions(opts ...campaigns.Option) Option {
	return func(o *options) { o.campaignOpts = append(o.campaignOpts, opts...) }
}

// WithLiveRecheck sets how often a quiet subscription checks its session
// (tests shorten it).
func WithLiveRecheck(every time.Duration) Option {
	return func(o *options) { o.liveRecheck = every }
}

// WithSalesOptions passes extra options to the sales service (tests use it
// for a clock to place sales, refunds and voids on chosen days).
func WithSalesOptions(opts ...sales.Option) Option {
	return func(o *options) { o.salesOpts = append(o.salesOpts, opts...) }
}

// WithReportOptions passes extra options to the reports service (tests use
// it for the clock presets such as TODAY resolve against).
func WithReportOptions(opts ...reports.Option) Option {
	return func(o *options) { o.reportOpts = append(o.reportOpts, opts...) }
}

// WithExportOptions passes extra options to the exports service (tests
// use it for a clock and small batches).
func WithExportOptions(opts ...exports.Option) Option {
	return func(o *options) { o.exportOpts = append(o.exportOpts, opts...) }
}

// WithAuthOptions passes extra options to the auth service (tests use it
// for a clock and tighter limits).
func WithAuthOptions(opts ...auth.Option) Option {
	return func(o *options) { o.authOpts = append(o.authOpts, opts...) }
}

// Open connects to the database and Redis named in cfg (or starts the
// embedded ones), applies migrations when configured to, and builds the
// HTTP handler.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (_ *Server, err error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	keys, err := LoadKeys(cfg, log)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, now: time.Now}
	if o.now != nil {
		s.now = o.now
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.DB, err = db.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns, o.dbOpts...); err != nil {
		return nil, err
	}
	// A schema newer than this binary is refused either way; without
	// migrating, so is one that needs `till migrate`.
	if cfg.MigrateOnStart {
		err = s.DB.Migrate(ctx)
	} else {
		err = s.DB.CheckSchema(ctx)
	}
	if err != nil {
		return nil, err
	}
	if s.KV, err = kv.Open(ctx, cfg.RedisURL); err != nil {
		return nil, err
	}
	if s.KV.Embedded() != nil {
		log.Info("using the in-process Redis; sessions end when the server stops", "addr", s.KV.Embedded().Addr())
	}
	var tokenOpts []token.Option
	if o.now != nil {
		tokenOpts = append(tokenOpts, token.WithClock(o.now))
		o.authOpts = append([]auth.Option{auth.WithClock(o.now)}, o.authOpts...)
	}
	issuer, err := token.NewIssuer(keys.JWT, tokenOpts...)
	if err != nil {
		return nil, err
	}
	hasher := password.NewHasher(cfg.PasswordCost)
	authCfg := auth.DefaultConfig()
	authCfg.LoginPerIP = perMinute(cfg.LoginPerIPPerMinute)
	authCfg.LoginPerEmail = perMinute(cfg.LoginPerEmailPerMinute)
	s.Auth = auth.New(s.DB.Client, s.KV.Client(), issuer, hasher, append([]auth.Option{
		auth.WithConfig(authCfg), auth.WithLogger(log), auth.WithKeyPrefix(cfg.RedisPrefix),
	}, o.authOpts...)...)
	box, err := pii.New(keys.PII, keys.BlindIndex)
	if err != nil {
		return nil, err
	}
	loyaltySvc := loyalty.New(s.DB.Client, o.loyaltyOpts...)
	storedValueSvc := storedvalue.New(s.DB.Client)
	offersSvc := offers.New(s.DB.Client)
	// Hooks run in this order, which is the order their rows are locked in.
	customerSvc := customers.New(s.DB.Client, box,
		customers.WithHooks(loyaltySvc.CustomerHooks()), customers.WithHooks(storedValueSvc.CustomerHooks()),
		customers.WithHooks(offersSvc.CustomerHooks()), customers.WithHooks(campaigns.CustomerHooks()))
	devicesCfg := devices.DefaultConfig()
	devicesCfg.PairPerIP = perMinute(cfg.PairPerIPPerMinute)
	devicesCfg.OfflineAfter = cfg.DeviceOfflineAfter
	releasesSvc := releases.New(s.DB.Client)
	devicesSvc := devices.New(s.DB.Client, s.KV.Client(), cfg.RedisPrefix, s.Auth,
		append([]devices.Option{devices.WithConfig(devicesCfg), devices.WithOutdated(releasesSvc.Unsupported)}, o.deviceOpts...)...)
	reportsSvc := reports.New(s.DB.Client, o.reportOpts...)
	settlementSvc := settlement.New(s.DB.Client)
	salesSvc := sales.New(s.DB.Client, append([]sales.Option{sales.WithLogger(log),
		sales.WithHooks(loyaltySvc.SaleHooks()), sales.WithHooks(storedValueSvc.SaleHooks()), sales.WithHooks(offersSvc.SaleHooks()),
		sales.WithHooks(sales.Hooks{Recorded: []sales.SaleFunc{customers.RecordMonth}, Refunded: []sales.RefundFunc{customers.RefundMonth}}),
		sales.WithHooks(reportsSvc.SaleHooks()),
		sales.WithHooks(settlementSvc.SaleHooks())}, o.salesOpts...)...)
	mailer, texter := emailSender(cfg, log), smsSender(cfg, log)
	s.Receipts = receipts.New(s.DB.Client, box, salesSvc, customerSvc, mailer, texter)
	s.Campaigns = campaigns.New(s.DB.Client, customerSvc, keys.BlindIndex,
		append([]campaigns.Option{campaigns.WithPublicURL(cfg.PublicURL), campaigns.WithSenders(texter, mailer)}, o.campaignOpts...)...)
	pusher := o.push
	if pusher == nil {
		if pusher, err = pushSender(ctx, cfg, log); err != nil {
			return nil, err
		}
	}
	s.Live = live.New(s.KV.Client(), cfg.RedisPrefix, log)
	s.Notify = notify.New(s.DB.Client, pusher, s.Live, log, o.notifyOpts...)
	outboxCfg := outbox.DefaultConfig()
	outboxCfg.Poll, outboxCfg.Lease = cfg.OutboxPoll, cfg.OutboxLease
	// A delivery must end well within its lease, or another worker starts
	// it again.
	outboxCfg.Timeout = min(outboxCfg.Timeout, cfg.OutboxLease/2)
	if o.outbox != nil {
		outboxCfg = *o.outbox
	}
	s.Outbox = outbox.NewWorker(s.DB.Client, outboxCfg, log)
	s.Notify.Register(s.Outbox)
	s.Outbox.Handle(receipts.TopicRequested, s.Receipts.Deliver)
	s.Outbox.Handle(campaigns.Topic, s.Campaigns.Deliver)
	linkKey, err := exports.LinkKey(keys.BlindIndex)
	if err != nil {
		return nil, err
	}
	s.Exports = exports.New(s.DB.Client, linkKey, cfg.PublicURL,
		append([]exports.Option{exports.WithLogger(log)}, o.exportOpts...)...)
	s.jobs = []job{
		{name: "campaign-dispatch", every: time.Minute, run: s.Campaigns.Dispatch},
		{name: "customer-segments", every: 24 * time.Hour, run: customerSvc.RefreshAllSegments},
		{name: "daily-summary", every: 5 * time.Minute, run: s.Notify.SendDailySummaries},
		{name: "outbox-prune", every: 24 * time.Hour, run: s.Outbox.Prune},
		{name: "device-snapshot", every: devicesSvc.SnapshotEvery(), run: devicesSvc.Snapshot},
		{name: "loyalty-expiry", every: time.Hour, run: loyaltySvc.Expire},
		{name: "loyalty-tiers", every: 24 * time.Hour, run: loyaltySvc.ReviewTiers},
		{name: "export-prune", every: time.Hour, run: s.Exports.Prune},
	}
	if err := s.scheduleBackups(cfg, o); err != nil {
		return nil, err
	}
	services := graph.Services{
		Auth:        s.Auth,
		Merchants:   merchants.New(s.DB.Client, hasher),
		Staff:       staff.New(s.DB.Client, hasher, s.Auth),
		Customers:   customerSvc,
		Sales:       salesSvc,
		Feedback:    feedback.New(s.DB.Client, salesSvc),
		Devices:     devicesSvc,
		Tickets:     tickets.New(s.DB.Client, devicesSvc, o.ticketOpts...),
		Catalog:     catalog.New(s.DB.Client),
		Feed:        feed.New(s.DB.Client, s.now),
		Releases:    releasesSvc,
		Offers:      offersSvc,
		Loyalty:     loyaltySvc,
		StoredValue: storedValueSvc,
		Receipts:    s.Receipts,
		Campaigns:   s.Campaigns,
		Notify:      s.Notify,
		Live:        s.Live,
		LiveRecheck: o.liveRecheck,
		Reports:     reportsSvc,
		Settlement:  settlementSvc,
		Exports:     s.Exports,
	}
	s.handler = s.routes(s.graphQLHandler(graph.NewSchema(s.DB.Client, services)))
	return s, nil
}

// LoadKeys reads the key material cfg names: inline, from the key file, or
// (in development only) generated into the key file on first use.
func LoadKeys(cfg config.Config, log *slog.Logger) (*keyring.Keys, error) {
	if cfg.KeysJSON != "" {
		return keyring.Parse([]byte(cfg.KeysJSON))
	}
	if cfg.Production {
		return keyring.Load(cfg.KeysFile)
	}
	keys, created, err := keyring.LoadOrCreate(cfg.KeysFile)
	if created {
		log.Warn("generated development keys; set TILL_KEYS or TILL_KEYS_FILE in production", "file", cfg.KeysFile)
	}
	return keys, err
}

// perMinute turns a per-minute count into a limit; 0 means unlimited.
func perMinute(n int) ratelimit.Limit {
	if n <= 0 {
		return ratelimit.Limit{}
	}
	return ratelimit.PerMinute(n)
}

// Handler returns the HTTP handler: /graphql, health checks, playground.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves HTTP on ln until ctx is done, then shuts down gracefully:
// it stops accepting, lets requests in flight finish, and closes
// WebSockets (whose contexts derive from the base context).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(cancelBase)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var background sync.WaitGroup
	background.Go(func() { s.Work(baseCtx, s.cfg.OutboxWorker) })
	// Close must not pull the database from under a delivery.
	defer background.Wait()
	defer cancelBase()
	s.log.Info("serving", "addr", ln.Addr().String(), "production", s.cfg.Production)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Work runs the periodic jobs, the export runner and, with deliver, the
// outbox worker, until ctx is done: `till serve` does it beside serving,
// `till worker` alone.
func (s *Server) Work(ctx context.Context, deliver bool) {
	var wg sync.WaitGroup
	wg.Go(func() { s.runJobs(ctx) })
	wg.Go(func() { s.Exports.Run(ctx) })
	if deliver {
		wg.Go(func() { s.Outbox.Run(ctx) })
	}
	wg.Wait()
}

// Close releases the database and Redis.
func (s *Server) Close() error {
	var errs []error
	if s.Live != nil {
		errs = append(errs, s.Live.Close())
	}
	if s.KV != nil {
		errs = append(errs, s.KV.Close())
	}
	if s.DB != nil {
		errs = append(errs, s.DB.Close())
	}
	return errors.Join(errs...)
}
