package exports

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/exportjob"
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/ent/schema/exporttype"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/staff"
	"github.com/tillpos/till/ent/store"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/merchants"
)

// Config tunes the export jobs.
type Config struct {
	// Poll is how often an idle runner looks for a job.
	Poll time.Duration
	// Lease is how long a claimed job is the runner's; the runner renews
	// it after every batch, and another runner takes over a job whose
	// lease ran out (its runner died).
	Lease time.Duration
	// MaxAttempts is how many runners may start a job before it FAILS.
	MaxAttempts int
	// Retention is how long a finished file is kept.
	Retention time.Duration
	// LinkTTL is how long a download link is valid.
	LinkTTL time.Duration
	// ChunkSize is the largest piece of a file stored in one row.
	ChunkSize int
	// Batch is how many sales one read fetches.
	Batch int
}

// DefaultConfig is what `till serve` uses.
func DefaultConfig() Config {
	return Config{
		Poll: 5 * time.Second, Lease: 2 * time.Minute, MaxAttempts: 3,
		Retention: 7 * 24 * time.Hour, LinkTTL: 15 * time.Minute,
		ChunkSize: 1 << 20, Batch: DefaultBatch,
	}
}

// Service queues export jobs, runs them, and serves their files.
type Service struct {
	db      *ent.Client
	key     []byte
	baseURL string
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
}

// Option adjusts a Service.
type Option func(*Service)

// WithConfig replaces DefaultConfig.
func WithConfig(cfg Config) Option { return func(s *Service) { s.cfg = cfg } }

// WithClock sets the clock for leases, expiries and links.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithLogger sets the logger.
func WithLogger(log *slog.Logger) Option { return func(s *Service) { s.log = log } }

// New returns a Service over client. linkKey signs download links (see
// LinkKey); baseURL is where they point (the server's public URL).
func New(client *ent.Client, linkKey []byte, baseURL string, opts ...Option) *Service {
	s := &Service{db: client, key: linkKey, baseURL: baseURL, cfg: DefaultConfig(), log: slog.Default(),
		now: time.Now}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// Request is what exportSales asks for.
type Request struct {
	Format     exportjob.Format
	Kind       exportjob.Kind
	StoreID    *pulid.ID
	From       *time.Time
	To         *time.Time
	FromDate   *string
	ToDate     *string
	Status     []sale.Status
	CashierID  *pulid.ID
	DeviceID   *pulid.ID
	CustomerID *pulid.ID
}

// Queued is what exportSales answers.
type Queued struct {
	Job *ent.ExportJob
}

// Request queues an export for the staff viewer in ctx: OWNER or MANAGER
// (FORBIDDEN otherwise), of one store they work at or of all of them.
// BAD_USER_INPUT for a reversed range or a malformed date. Audited.
func (s *Service) Request(ctx context.Context, in Request) (*Queued, error) {
	v := viewer.FromContext(ctx)
	if !v.IsStaff() || !v.HasRole(viewer.RoleOwner, viewer.RoleManager) {
		return nil, errs.Newf(errs.Forbidden, "only owners and managers export sales")
	}
	f, err := s.filters(ctx, v, in)
	if err != nil {
		return nil, err
	}
	job, err := db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.ExportJob, error) {
		job, err := tx.ExportJob.Create().
			SetRequestedByID(v.ID).SetKind(in.Kind).SetFormat(in.Format).SetFilters(f).
			Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("creating export job: %w", err)
		}
		// Exporting transactions is a read of the whole business: who
		// took it, and what it covered, is kept.
		err = audit.Record(ctx, tx.Client(), audit.Entry{
			Action: "sales.exported", TargetType: "ExportJob", TargetID: job.ID,
			Details: map[string]any{"format": in.Format, "kind": in.Kind, "filters": f},
		})
		return job, err
	})
	if err != nil {
		return nil, err
	}
	return &Queued{Job: job}, nil
}

// filters checks in and confines it to the stores v may read.
func (s *Service) filters(ctx context.Context, v *viewer.Viewer, in Request) (exporttype.Filters, error) {
	f := exporttype.Filters{From: in.From, To: in.To, CashierID: in.CashierID, DeviceID: in.DeviceID, CustomerID: in.CustomerID}
	if in.From != nil && in.To != nil && !in.From.Before(*in.To) {
		return f, &errs.Error{Code: errs.BadUserInput, Field: "to", Message: "must be after from"}
	}
	for _, d := range []struct {
		field string
		value *string
		dst   *string
	}{{"fromDate", in.FromDate, &f.FromDate}, {"toDate", in.ToDate, &f.ToDate}} {
		if d.value == nil {
			continue
		}
		if _, err := time.Parse(time.DateOnly, *d.value); err != nil {
			return f, &errs.Error{Code: errs.BadUserInput, Field: d.field, Message: "must be a date, YYYY-MM-DD"}
		}
		*d.dst = *d.value
	}
	if f.FromDate != "" && f.ToDate != "" && f.ToDate < f.FromDate {
		return f, &errs.Error{Code: errs.BadUserInput, Field: "toDate", Message: "must not be before fromDate"}
	}
	for _, st := range in.Status {
		f.Statuses = append(f.Statuses, string(st))
	}
	switch {
	case in.StoreID != nil:
		if _, err := merchants.StoreFor(ctx, s.db, v, *in.StoreID, "storeId"); err != nil {
			return f, err
		}
		f.StoreIDs = []pulid.ID{*in.StoreID}
	case v.Role != viewer.RoleOwner:
		ids := v.StoreIDs
		if ids == nil {
			var err error
			if ids, err = s.db.Store.Query().Where(store.HasStaffWith(staff.ID(v.ID))).IDs(ctx); err != nil {
				return f, fmt.Errorf("loading the stores of %s: %w", v.ID, err)
			}
		}
		// Not nil, even when empty: an empty list exports nothing, nil
		// would export every store.
		f.StoreIDs = append([]pulid.ID{}, ids...)
	}
	return f, nil
}

// Progress is how far job is, 0 to 1.
func Progress(job *ent.ExportJob) float64 {
	switch {
	case job.Status == exportjob.StatusDONE:
		return 1
	case job.RowsTotal <= 0:
		return 0
	}
	return min(1, float64(job.RowsDone)/float64(job.RowsTotal))
}

// Filename is the name a download of job is saved under.
func Filename(job *ent.ExportJob) string {
	kind := "transactions"
	if job.Kind == exportjob.KindLINES {
		kind = "receipt-lines"
	}
	ext := "csv"
	if job.Format == exportjob.FormatXLSX {
		ext = "xlsx"
	}
	return fmt.Sprintf("till-%s-%s.%s", kind, job.CreatedAt.UTC().Format("20060102-150405"), ext)
}

// systemCtx is how the runner, the prune job and downloads read: they act
// for no viewer, and scope every query by merchant and job themselves.
func systemCtx(ctx context.Context) context.Context {
	return viewer.NewSystemContext(ctx, "exports")
}

// newLeaseOwner names one claim of a job, so that a runner whose lease
// ran out cannot write over the runner that took over.
func newLeaseOwner() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var errLeaseLost = errors.New("export job lease lost")
