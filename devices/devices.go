// Package devices keeps a merchant's POS terminals, tablets and phones:
// pairing them to a store with a short code, the credential each proves
// itself with, and the remote actions that take them out of service.
//
// Who may do what: the owner, and a manager at the device's store, make
// pairing codes and disable, enable, retire or move devices; a platform
// operator may do the same to any merchant's devices. A device pairs
// itself with a code, and rotates its own credential; both carry an
// idempotency key, so that a retry whose answer was lost gets the same
// credential back.
//
// Redis holds what every request checks (the cached credential check, the
// session epoch that ends cashiers' sessions): it follows the database,
// written once a change has committed, never before.
package devices

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/device"
	"github.com/tillpos/till/ent/pairingcode"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/idempotency"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/ratelimit"
	"github.com/tillpos/till/reqinfo"
)

// codeAlphabet leaves out characters read for one another (0/O, 1/I/L).
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

const codeLength = 8

// Config tunes pairing and health.
type Config struct {
	// CodeTTL is how long a pairing code can be used.
	CodeTTL time.Duration
	// PairPerIP bounds pairing attempts (and so code guesses) per IP.
	PairPerIP ratelimit.Limit
	// HeartbeatEvery is how often devices are asked to report.
	HeartbeatEvery time.Duration
	// OfflineAfter without a heartbeat, a device is OFFLINE.
	OfflineAfter time.Duration
	// SnapshotEvery is how often heartbeats are written to the database.
	SnapshotEvery time.Duration
	// LowBattery (percent, not charging) and LowStorageMB make a device
	// NEEDS_ATTENTION, as do low paper and reported errors.
	LowBattery   int
	LowStorageMB int
	// ReplayWindow is how long a retried pairing or rotation (same
	// idempotency key, same request) is given the credential the first
	// request was.
	ReplayWindow time.Duration
}

// DefaultConfig is the production configuration.
func DefaultConfig() Config {
	return Config{
		CodeTTL: 10 * time.Minute, PairPerIP: ratelimit.PerMinute(10),
		HeartbeatEvery: 30 * time.Second, OfflineAfter: 5 * time.Minute, SnapshotEvery: 30 * time.Second,
		LowBattery: 15, LowStorageMB: 200, ReplayWindow: 24 * time.Hour,
	}
}

// Service manages devices.
type Service struct {
	outdated func(ctx context.Context, model, version string) (bool, error)
	db       *ent.Client
	rdb      redis.UniversalClient
	prefix   string
	auth     *auth.Service
	cfg      Config
	now      func() time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithConfig sets the pairing configuration.
func WithConfig(cfg Config) Option { return func(s *Service) { s.cfg = cfg } }

// WithOutdated sets how the health check tells a device's app version is
// no longer supported (the releases domain knows).
func WithOutdated(outdated func(ctx context.Context, model, version string) (bool, error)) Option {
	return func(s *Service) { s.outdated = outdated }
}

// WithClock sets the clock (tests move it past a code's expiry).
func WithClock(now func() time.Time) Option {
	return func(s *Service) { s.now = func() time.Time { return now().Truncate(time.Microsecond) } }
}

// New returns a Service keeping devices' live state in rdb under prefix;
// sessions on devices end through authSvc.
func New(client *ent.Client, rdb redis.UniversalClient, prefix string, authSvc *auth.Service, opts ...Option) *Service {
	s := &Service{db: client, rdb: rdb, prefix: prefix, auth: authSvc, cfg: DefaultConfig(), now: db.Now}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// SnapshotEvery is how often Snapshot should run.
func (s *Service) SnapshotEvery() time.Duration { return s.cfg.SnapshotEvery }

// PairingCode is a new code, shown once.
type PairingCode struct {
	Code      string
	ExpiresAt time.Time
	Store     *ent.Store
}

// CreatePairingCode makes a single-use code that pairs one device to
// storeID within the configured time.
func (s *Service) CreatePairingCode(ctx context.Context, storeID pulid.ID) (*PairingCode, error) {
	v := viewer.FromContext(ctx)
	if !v.IsStaff() || !v.HasRole(viewer.RoleOwner, viewer.RoleManager) {
		return nil, errs.Newf(errs.Forbidden, "only the owner or a manager pairs devices")
	}
	st, err := merchants.StoreFor(ctx, s.db, v, storeID, "storeId")
	if err != nil {
		return nil, err
	}
	code := newCode()
	expires := s.now().Add(s.cfg.CodeTTL)
	_, err = db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.PairingCode, error) {
		pc, err := tx.PairingCode.Create().
			SetCodeHash(digest(code)).SetStoreID(st.ID).SetCreatedByID(v.ID).SetExpiresAt(expires).
			Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("creating pairing code: %w", err)
		}
		return pc, audit.Record(ctx, tx.Client(), audit.Entry{
			Action: "device.pairing_code_created", TargetType: "Store", TargetID: st.ID,
			Details: map[string]any{"expiresAt": expires},
		})
	})
	if err != nil {
		return nil, err
	}
	return &PairingCode{Code: code, ExpiresAt: expires, Store: st}, nil
}

// PairInput is what a terminal sends to pair itself. Its JSON form, without
// the idempotency key, is what a retry must repeat.
type PairInput struct {
	IdempotencyKey string       `json:"-"`
	Code           string       `json:"code"`
	SerialNumber   string       `json:"serialNumber"`
	Model          string       `json:"model"`
	Kind           *device.Kind `json:"kind,omitempty"`
	AppVersion     *string      `json:"appVersion,omitempty"`
}

var errBadCode = errs.Invalid("code", "invalid or expired pairing code")

// Pair pairs a device to the store of a pairing code and returns it with
// its credential, shown only now. A device paired before at the same
// merchant is paired again (its old credential and sessions end); one in
// service at another merchant is refused with CONFLICT.
//
// A retry with the same idempotency key and input within the replay window
// gets the same device and credential (replayed), however often it comes
// and even while the first is still running; the key with other input is
// IDEMPOTENCY_CONFLICT.
func (s *Service) Pair(ctx context.Context, in PairInput) (*Paired, error) {
	if err := s.auth.Allow(ctx, "pair-ip", reqinfo.FromContext(ctx).IP, s.cfg.PairPerIP); err != nil {
		return nil, err
	}
	if err := idempotency.CheckKey(in.IdempotencyKey); err != nil {
		return nil, err
	}
	in.SerialNumber, in.Model = strings.TrimSpace(in.SerialNumber), strings.TrimSpace(in.Model)
	if in.AppVersion != nil {
		v := strings.TrimSpace(*in.AppVersion)
		in.AppVersion = &v
	}
	switch {
	case in.SerialNumber == "" || len(in.SerialNumber) > 64:
		return nil, errs.Invalid("serialNumber", "a serial number is 1 to 64 characters")
	case in.Model == "" || len(in.Model) > 64:
		return nil, errs.Invalid("model", "a model is 1 to 64 characters")
	case in.AppVersion != nil && len(*in.AppVersion) > 32:
		return nil, errs.Invalid("appVersion", "an app version is at most 32 characters")
	}
	in.Code = normalizeCode(in.Code)
	if len(in.Code) != codeLength {
		return nil, errBadCode
	}
	g := newGrant("pair", in.IdempotencyKey, in.Code)
	// A request with the key that commits meanwhile makes this one fail on
	// the code or the key: Once answers it as a retry.
	res, _, err := idempotency.Once(in,
		func(hash string) (*Paired, error) { return s.replay(ctx, g, hash) },
		func(hash string) (*Paired, error) {
			secret := rand.Text()
			dev, err := s.pair(ctx, in, g, hash, secret)
			if err != nil {
				return nil, err
			}
			return s.paired(ctx, dev, secret, false)
		})
	return res, err
}

// pair writes a pairing in one transaction: the code claimed, the device
// made or paired again with secret, the grant kept for a retry, the audit
// entry.
func (s *Service) pair(ctx context.Context, in PairInput, g grant, hash, secret string) (*ent.Device, error) {
	// The caller is a terminal, not yet anyone: the pairing is the system's
	// doing, on behalf of the manager who made the code.
	sysCtx := viewer.NewSystemContext(ctx, "pair-device")
	now := s.now()
	return db.InTx(sysCtx, s.db, func(tx *ent.Tx) (*ent.Device, error) {
		pc, err := tx.PairingCode.Query().Where(pairingcode.CodeHash(digest(in.Code))).Only(sysCtx)
		if ent.IsNotFound(err) {
			return nil, errBadCode
		}
		if err != nil {
			return nil, fmt.Errorf("loading pairing code: %w", err)
		}
		// Claimed by a conditional update, so a code pairs one device even
		// when two terminals send it at once.
		claimed, err := tx.PairingCode.Update().
			Where(pairingcode.ID(pc.ID), pairingcode.UsedAtIsNil(), pairingcode.ExpiresAtGT(now)).
			SetUsedAt(now).Save(sysCtx)
		if err != nil {
			return nil, fmt.Errorf("claiming pairing code: %w", err)
		}
		if claimed != 1 {
			return nil, errBadCode
		}
		existing, err := tx.Device.Query().
			Where(device.SerialNumber(in.SerialNumber), device.StatusNEQ(device.StatusRETIRED)).
			Only(sysCtx)
		var dev *ent.Device
		switch {
		case ent.IsNotFound(err):
			create := tx.Device.Create().SetMerchantID(pc.MerchantID).SetSerialNumber(in.SerialNumber)
			setPaired(create.Mutation(), pc.StoreID, in, secret, now)
			dev, err = create.Save(sysCtx)
			if ent.IsConstraintError(err) {
				// The same new serial number paired with another code at the
				// same moment (PostgreSQL; SQLite runs pairings one at a time).
				return nil, &errs.Error{Code: errs.Conflict, Field: "serialNumber",
					Message: "this device was just paired with another code; try again"}
			}
		case err != nil:
			return nil, fmt.Errorf("loading device: %w", err)
		case existing.MerchantID != pc.MerchantID:
			return nil, errSerialInService
		default:
			upd := tx.Device.UpdateOne(existing).AddSessionEpoch(1)
			setPaired(upd.Mutation(), pc.StoreID, in, secret, now)
			if dev, err = upd.Save(sysCtx); err == nil {
				s.onCommit(tx, dev, true)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("pairing device: %w", err)
		}
		if err := tx.PairingCode.UpdateOne(pc).SetDeviceID(dev.ID).Exec(sysCtx); err != nil {
			return nil, fmt.Errorf("recording paired device: %w", err)
		}
		if err := s.keep(sysCtx, tx, g, hash, dev, secret); err != nil {
			return nil, err
		}
		return dev, audit.Record(sysCtx, tx.Client(), audit.Entry{
			MerchantID: dev.MerchantID, Action: "device.paired", TargetType: "Device", TargetID: dev.ID,
			Details: map[string]any{"store": dev.StoreID, "serialNumber": in.SerialNumber, "model": in.Model, "codeBy": pc.CreatedByID},
		})
	})
}

var errSerialInService = &errs.Error{Code: errs.Conflict, Field: "serialNumber",
	Message: "this device is in service at another merchant; it must be retired there first"}

// Paired is a device and the credential it has just been given, shown
// only now.
type Paired struct {
	Device     *ent.Device
	StoreName  string
	Credential string
	// Replayed is whether this answers a retry of the request that issued
	// the credential.
	Replayed bool
}

// paired is dev with its secret, and its store's name for the terminal's
// screen (the terminal has no session to look it up with).
func (s *Service) paired(ctx context.Context, dev *ent.Device, secret string, replayed bool) (*Paired, error) {
	st, err := s.db.Store.Get(viewer.NewSystemContext(ctx, "pair-device"), dev.StoreID)
	if err != nil {
		return nil, fmt.Errorf("loading store: %w", err)
	}
	return &Paired{Device: dev, StoreName: st.Name, Credential: string(dev.ID) + "." + secret, Replayed: replayed}, nil
}

// setPaired sets what pairing gives a device: its store, model, version,
// a fresh credential, ACTIVE.
func setPaired(m *ent.DeviceMutation, storeID pulid.ID, in PairInput, secret string, now time.Time) {
	m.SetStoreID(storeID)
	m.SetModel(in.Model)
	if in.Kind != nil {
		m.SetKind(*in.Kind)
	}
	if in.AppVersion != nil {
		m.SetAppVersion(*in.AppVersion)
	}
	m.SetStatus(device.StatusACTIVE)
	m.SetCredentialHash(digest(secret))
	m.SetCredentialRotatedAt(now)
	m.SetPairedAt(now)
}

// Disable takes a lost or stolen device out of service at once: its
// credential and its cashiers' sessions end. It pairs again only with a
// new code.
func (s *Service) Disable(ctx context.Context, id pulid.ID, reason string) (*ent.Device, error) {
	return s.act(ctx, id, "device.disabled", reason, func(d *ent.Device, upd *ent.DeviceUpdateOne) error {
		if d.Status == device.StatusDISABLED || d.Status == device.StatusRETIRED {
			return errs.Newf(errs.Conflict, "the device is already %s", strings.ToLower(string(d.Status)))
		}
		upd.SetStatus(device.StatusDISABLED).SetHealth(device.HealthOFFLINE).ClearCredentialHash().AddSessionEpoch(1)
		return nil
	})
}

// Enable lets a disabled device be paired again (PENDING until it is).
func (s *Service) Enable(ctx context.Context, id pulid.ID) (*ent.Device, error) {
	return s.act(ctx, id, "device.enabled", "", func(d *ent.Device, upd *ent.DeviceUpdateOne) error {
		if d.Status != device.StatusDISABLED {
			return errs.Newf(errs.Conflict, "only a disabled device is enabled")
		}
		upd.SetStatus(device.StatusPENDING)
		return nil
	})
}

// Retire takes a device out of service for good; its serial number may
// then be paired at another merchant.
func (s *Service) Retire(ctx context.Context, id pulid.ID, reason string) (*ent.Device, error) {
	return s.act(ctx, id, "device.retired", reason, func(d *ent.Device, upd *ent.DeviceUpdateOne) error {
		if d.Status == device.StatusRETIRED {
			return errs.Newf(errs.Conflict, "the device is already retired")
		}
		upd.SetStatus(device.StatusRETIRED).SetHealth(device.HealthOFFLINE).ClearCredentialHash().AddSessionEpoch(1)
		return nil
	})
}

// Move puts a device in another of the merchant's stores; the cashiers
// logged in on it for the old store are logged out.
func (s *Service) Move(ctx context.Context, id, storeID pulid.ID, label *string) (*ent.Device, error) {
	return s.act(ctx, id, "device.moved", "", func(d *ent.Device, upd *ent.DeviceUpdateOne) error {
		if d.Status == device.StatusRETIRED {
			return errs.Newf(errs.Conflict, "a retired device stays where it is")
		}
		if err := s.checkStore(ctx, d.MerchantID, storeID); err != nil {
			return err
		}
		upd.SetStoreID(storeID).AddSessionEpoch(1)
		if label != nil {
			upd.SetLocationLabel(strings.TrimSpace(*label))
		}
		return nil
	})
}

// checkStore checks that the caller may put a device in storeID of the
// device's merchant.
func (s *Service) checkStore(ctx context.Context, merchantID, storeID pulid.ID) error {
	v := viewer.FromContext(ctx)
	if v.IsOperator() {
		st, err := s.db.Store.Get(ctx, storeID)
		if ent.IsNotFound(err) || (err == nil && st.MerchantID != merchantID) {
			return &errs.Error{Code: errs.NotFound, Field: "storeId", Message: "store not found"}
		}
		return err
	}
	_, err := merchants.StoreFor(ctx, s.db, v, storeID, "storeId")
	return err
}

// act changes a device as the owner, a manager at its store or a platform
// operator: change checks the device as it stands and sets what changes;
// the change, the end of the device's sessions and the audit entry (with
// reason) go together.
func (s *Service) act(ctx context.Context, id pulid.ID, action, reason string, change func(*ent.Device, *ent.DeviceUpdateOne) error) (*ent.Device, error) {
	v := viewer.FromContext(ctx)
	if !v.IsOperator() && !(v.IsStaff() && v.HasRole(viewer.RoleOwner, viewer.RoleManager)) {
		return nil, errs.Newf(errs.Forbidden, "only the owner, a manager or a platform operator may do this")
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Device, error) {
		return s.actIn(ctx, tx, id, action, reason, change)
	})
}

// actIn is act inside the caller's transaction tx, once the caller's role
// has been checked.
func (s *Service) actIn(ctx context.Context, tx *ent.Tx, id pulid.ID, action, reason string, change func(*ent.Device, *ent.DeviceUpdateOne) error) (*ent.Device, error) {
	v := viewer.FromContext(ctx)
	// Operators read every merchant's devices but write no tenant rows:
	// their action is written as the system, the operator named in the
	// audit entry.
	writeCtx := ctx
	if v.IsOperator() {
		writeCtx = viewer.NewSystemContext(ctx, action)
	}
	d, err := tx.Device.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, &errs.Error{Code: errs.NotFound, Field: "deviceId", Message: "device not found"}
	}
	if err != nil {
		return nil, fmt.Errorf("loading device: %w", err)
	}
	if v.IsStaff() {
		if _, err := merchants.StoreFor(ctx, tx.Client(), v, d.StoreID, "deviceId"); err != nil {
			return nil, err
		}
	}
	upd := tx.Device.UpdateOne(d)
	if err := change(d, upd); err != nil {
		return nil, err
	}
	changed, err := upd.Save(writeCtx)
	if err != nil {
		return nil, fmt.Errorf("updating device: %w", err)
	}
	// Sessions end, and the cached credential check goes, once the change
	// has committed (see onCommit).
	s.onCommit(tx, changed, changed.SessionEpoch != d.SessionEpoch)
	return changed, audit.Record(ctx, tx.Client(), audit.Entry{
		MerchantID: changed.MerchantID, Action: action, TargetType: "Device", TargetID: changed.ID,
		Details: map[string]any{"reason": reason, "status": changed.Status, "store": changed.StoreID},
	})
}

// Replace swaps a faulty device for another of the merchant's, inside the
// caller's transaction tx (a service ticket records the swap with it): the
// replacement takes the old device's store and location label, and the old
// one is retired (or only disabled, when retire is false, e.g. to come back
// from repair). Both devices' cashier sessions end; both changes are
// audited. The owner or a platform operator only. History — sales, tickets
// — belongs to the store and the old device's id, and stays where it is.
func (s *Service) Replace(ctx context.Context, tx *ent.Tx, oldID, newID pulid.ID, retire bool, reason string) (old, replacement *ent.Device, err error) {
	v := viewer.FromContext(ctx)
	if !v.IsOperator() && !(v.IsStaff() && v.Role == viewer.RoleOwner) {
		return nil, nil, errs.Newf(errs.Forbidden, "only the owner or a platform operator swaps devices")
	}
	if oldID == newID {
		return nil, nil, errs.Invalid("replacementDeviceId", "a device cannot replace itself")
	}
	prev, err := tx.Device.Get(ctx, oldID)
	if ent.IsNotFound(err) {
		return nil, nil, &errs.Error{Code: errs.NotFound, Field: "deviceId", Message: "device not found"}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("loading device: %w", err)
	}
	if prev.Status == device.StatusRETIRED || prev.Status == device.StatusDISABLED {
		return nil, nil, errs.Newf(errs.Conflict, "the device is already %s", strings.ToLower(string(prev.Status)))
	}
	replacement, err = s.actIn(ctx, tx, newID, "device.swapped_in", reason, func(d *ent.Device, upd *ent.DeviceUpdateOne) error {
		switch {
		case d.MerchantID != prev.MerchantID:
			return &errs.Error{Code: errs.NotFound, Field: "replacementDeviceId", Message: "device not found"}
		case d.Status != device.StatusACTIVE:
			return &errs.Error{Code: errs.Conflict, Field: "replacementDeviceId", Message: "the replacement must be paired and active"}
		}
		upd.SetStoreID(prev.StoreID).SetLocationLabel(prev.LocationLabel)
		if d.StoreID != prev.StoreID {
			upd.AddSessionEpoch(1)
		}
		return nil
	})
	if err != nil {
		return nil, nil, relabel(err, "deviceId", "replacementDeviceId")
	}
	action := "device.retired"
	if !retire {
		action = "device.disabled"
	}
	old, err = s.actIn(ctx, tx, oldID, action, reason, func(_ *ent.Device, upd *ent.DeviceUpdateOne) error {
		if retire {
			upd.SetStatus(device.StatusRETIRED)
		} else {
			upd.SetStatus(device.StatusDISABLED)
		}
		upd.SetHealth(device.HealthOFFLINE).ClearCredentialHash().AddSessionEpoch(1)
		return nil
	})
	return old, replacement, err
}

// relabel renames the field of a coded error from one input field to another.
func relabel(err error, from, to string) error {
	if e, ok := errs.As(err); ok && e.Field == from {
		c := *e
		c.Field = to
		return &c
	}
	return err
}

// newCode is a random pairing code from the unambiguous alphabet.
func newCode() string {
	b := make([]byte, codeLength)
	for i := range b {
		b[i] = codeAlphabet[randIndex(len(codeAlphabet))]
	}
	return string(b)
}

// randIndex is a uniformly random index below n (n < 256), by rejection.
func randIndex(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		_, _ = rand.Read(b[:])
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}

// normalizeCode reads a code as typed: any case, with spaces or dashes.
func normalizeCode(code string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.ToUpper(strings.TrimSpace(code)))
}

// digest hashes a pairing code or a device secret: both are random and
// long enough that a fast hash is the right one.
func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
