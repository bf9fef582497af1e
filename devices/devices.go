// Package devices keeps a merchant's POS terminals, tablets and phones:
// pairing them to a store with a short code, the credential each proves
// itself with, and the remote actions that take them out of service.
//
// Who may do what: the owner, and a manager at the device's store, make
// pairing codes and disable, enable, retire or move devices; a platform
// operator may do the same to any merchant's devices. A device pairs
// itself with a code, and rotates its own credential.
package devices

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
}

// DefaultConfig is the production configuration.
func DefaultConfig() Config {
	return Config{
		CodeTTL: 10 * time.Minute, PairPerIP: ratelimit.PerMinute(10),
		HeartbeatEvery: 30 * time.Second, OfflineAfter: 5 * time.Minute, SnapshotEvery: 30 * time.Second,
		LowBattery: 15, LowStorageMB: 200,
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

// PairInput is what a terminal sends to pair itself.
type PairInput struct {
	Code         string
	SerialNumber string
	Model        string
	Kind         *device.Kind
	AppVersion   *string
}

var errBadCode = errs.Invalid("code", "invalid or expired pairing code")

// Pair pairs a device to the store of a pairing code and returns it with
// its credential, shown only now. A device paired before at the same
// merchant is paired again (its old credential and sessions end); one in
// service at another merchant is refused.
func (s *Service) Pair(ctx context.Context, in PairInput) (*Paired, error) {
	if err := s.auth.Allow(ctx, "pair-ip", reqinfo.FromContext(ctx).IP, s.cfg.PairPerIP); err != nil {
		return nil, err
	}
	serial, model := strings.TrimSpace(in.SerialNumber), strings.TrimSpace(in.Model)
	switch {
	case serial == "" || len(serial) > 64:
		return nil, errs.Invalid("serialNumber", "a serial number is 1 to 64 characters")
	case model == "" || len(model) > 64:
		return nil, errs.Invalid("model", "a model is 1 to 64 characters")
	case in.AppVersion != nil && len(*in.AppVersion) > 32:
		return nil, errs.Invalid("appVersion", "an app version is at most 32 characters")
	}
	code := normalizeCode(in.Code)
	if len(code) != codeLength {
		return nil, errBadCode
	}
	// The caller is a terminal, not yet anyone: the pairing is the system's
	// doing, on behalf of the manager who made the code.
	sysCtx := viewer.NewSystemContext(ctx, "pair-device")
	secret := rand.Text()
	now := s.now()
	var dev *ent.Device
	err := db.WithTx(sysCtx, s.db, func(tx *ent.Tx) error {
		pc, err := tx.PairingCode.Query().Where(pairingcode.CodeHash(digest(code))).Only(sysCtx)
		if ent.IsNotFound(err) {
			return errBadCode
		}
		if err != nil {
			return fmt.Errorf("loading pairing code: %w", err)
		}
		// Claimed by a conditional update, so a code pairs one device even
		// when two terminals send it at once.
		claimed, err := tx.PairingCode.Update().
			Where(pairingcode.ID(pc.ID), pairingcode.UsedAtIsNil(), pairingcode.ExpiresAtGT(now)).
			SetUsedAt(now).Save(sysCtx)
		if err != nil {
			return fmt.Errorf("claiming pairing code: %w", err)
		}
		if claimed != 1 {
			return errBadCode
		}
		existing, err := tx.Device.Query().
			Where(device.SerialNumber(serial), device.StatusNEQ(device.StatusRETIRED)).
			Only(sysCtx)
		switch {
		case ent.IsNotFound(err):
			create := tx.Device.Create().SetMerchantID(pc.MerchantID).SetSerialNumber(serial)
			setPaired(create.Mutation(), pc.StoreID, model, in, secret, now)
			dev, err = create.Save(sysCtx)
		case err != nil:
			return fmt.Errorf("loading device: %w", err)
		case existing.MerchantID != pc.MerchantID:
			return &errs.Error{Code: errs.Conflict, Field: "serialNumber",
				Message: "this device is in service at another merchant; it must be retired there first"}
		default:
			upd := tx.Device.UpdateOne(existing).AddSessionEpoch(1)
			setPaired(upd.Mutation(), pc.StoreID, model, in, secret, now)
			if dev, err = upd.Save(sysCtx); err == nil {
				s.forget(ctx, dev.ID)
				err = s.auth.EndDeviceSessions(ctx, dev.ID, dev.SessionEpoch)
			}
		}
		if err != nil {
			return fmt.Errorf("pairing device: %w", err)
		}
		if err := tx.PairingCode.UpdateOne(pc).SetDeviceID(dev.ID).Exec(sysCtx); err != nil {
			return fmt.Errorf("recording paired device: %w", err)
		}
		return audit.Record(sysCtx, tx.Client(), audit.Entry{
			MerchantID: dev.MerchantID, Action: "device.paired", TargetType: "Device", TargetID: dev.ID,
			Details: map[string]any{"store": dev.StoreID, "serialNumber": serial, "model": model, "codeBy": pc.CreatedByID},
		})
	})
	if err != nil {
		return nil, err
	}
	s.forget(ctx, dev.ID)
	return s.paired(ctx, dev.Unwrap(), secret)
}

// Paired is a device and the credential it has just been given, shown
// only now.
type Paired struct {
	Device     *ent.Device
	StoreName  string
	Credential string
}

// paired is dev with its new secret, and its store's name for the
// terminal's screen (the terminal has no session to look it up with).
func (s *Service) paired(ctx context.Context, dev *ent.Device, secret string) (*Paired, error) {
	st, err := s.db.Store.Get(viewer.NewSystemContext(ctx, "pair-device"), dev.StoreID)
	if err != nil {
		return nil, fmt.Errorf("loading store: %w", err)
	}
	return &Paired{Device: dev, StoreName: st.Name, Credential: string(dev.ID) + "." + secret}, nil
}

// setPaired sets what pairing gives a device: its store, model, version,
// a fresh credential, ACTIVE.
func setPaired(m *ent.DeviceMutation, storeID pulid.ID, model string, in PairInput, secret string, now time.Time) {
	m.SetStoreID(storeID)
	m.SetModel(model)
	if in.Kind != nil {
		m.SetKind(*in.Kind)
	}
	if in.AppVersion != nil {
		m.SetAppVersion(strings.TrimSpace(*in.AppVersion))
	}
	m.SetStatus(device.StatusACTIVE)
	m.SetCredentialHash(digest(secret))
	m.SetCredentialRotatedAt(now)
	m.SetPairedAt(now)
}

var errBadCredential = errs.Newf(errs.Unauthenticated, "invalid device credential")

// Authenticate returns the ACTIVE device a credential belongs to.
func (s *Service) Authenticate(ctx context.Context, cred string) (*ent.Device, error) {
	id, secret, ok := strings.Cut(cred, ".")
	if !ok || !strings.HasPrefix(id, "dev_") {
		return nil, errBadCredential
	}
	dev, err := s.cachedDevice(ctx, pulid.ID(id))
	if err != nil {
		return nil, err
	}
	if dev == nil || dev.Status != device.StatusACTIVE ||
		subtle.ConstantTimeCompare([]byte(dev.CredentialHash), []byte(digest(secret))) != 1 {
		return nil, errBadCredential
	}
	return dev, nil
}

// cachedDevice is what checking a credential needs of a device, from Redis
// or, on a miss, from the database (then kept in Redis for a while):
// heartbeats authenticate every 30 s and must not each read the database.
// Every change to these fields forgets the cached copy.
func (s *Service) cachedDevice(ctx context.Context, id pulid.ID) (*ent.Device, error) {
	key := s.prefix + "device-cred:{" + string(id) + "}"
	if raw, err := s.rdb.Get(ctx, key).Bytes(); err == nil {
		var d cachedDevice
		if err := json.Unmarshal(raw, &d); err == nil {
			return d.device(id), nil
		}
	} else if !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("reading device cache: %w", err)
	}
	dev, err := s.db.Device.Get(viewer.NewSystemContext(ctx, "device-credential"), id)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading device: %w", err)
	}
	raw, err := json.Marshal(cachedDevice{
		MerchantID: dev.MerchantID, StoreID: dev.StoreID, Status: dev.Status, Hash: dev.CredentialHash,
		Epoch: dev.SessionEpoch, App: dev.AppVersion, Firmware: dev.FirmwareVersion, Serial: dev.SerialNumber, Model: dev.Model,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding device cache: %w", err)
	}
	if err := s.rdb.Set(ctx, key, raw, credentialCacheTTL).Err(); err != nil {
		return nil, fmt.Errorf("caching device: %w", err)
	}
	return dev, nil
}

// credentialCacheTTL bounds how long a cached credential check may outlive
// a change whose forget failed.
const credentialCacheTTL = 10 * time.Minute

type cachedDevice struct {
	MerchantID pulid.ID      `json:"m"`
	StoreID    pulid.ID      `json:"s"`
	Status     device.Status `json:"st"`
	Hash       string        `json:"h"`
	Epoch      int           `json:"e"`
	App        string        `json:"a"`
	Firmware   string        `json:"f"`
	Serial     string        `json:"sn"`
	Model      string        `json:"mo"`
}

func (c cachedDevice) device(id pulid.ID) *ent.Device {
	return &ent.Device{
		ID: id, MerchantID: c.MerchantID, StoreID: c.StoreID, Status: c.Status, CredentialHash: c.Hash,
		SessionEpoch: c.Epoch, AppVersion: c.App, FirmwareVersion: c.Firmware, SerialNumber: c.Serial, Model: c.Model,
	}
}

// forget drops the cached copy of a device after a change. Callers forget
// before their commit and again after it; a failure is logged: the copy
// expires within credentialCacheTTL, and sessions on the device end
// through their epoch whatever the copy says.
func (s *Service) forget(ctx context.Context, id pulid.ID) {
	if err := s.rdb.Del(ctx, s.prefix+"device-cred:{"+string(id)+"}").Err(); err != nil {
		slog.ErrorContext(ctx, "forgetting cached device", "device", id, "err", err)
	}
}

// RotateCredential gives a device a new credential in place of the one it
// presents, which stops working at once.
func (s *Service) RotateCredential(ctx context.Context, cred string) (*Paired, error) {
	dev, err := s.Authenticate(ctx, cred)
	if err != nil {
		return nil, err
	}
	secret := rand.Text()
	sysCtx := viewer.NewSystemContext(ctx, "device-credential")
	dev, err = db.InTx(sysCtx, s.db, func(tx *ent.Tx) (*ent.Device, error) {
		// Only if the credential is still the one presented: two rotations
		// at once leave one winner.
		n, err := tx.Device.Update().
			Where(device.ID(dev.ID), device.CredentialHash(dev.CredentialHash)).
			SetCredentialHash(digest(secret)).SetCredentialRotatedAt(s.now()).
			Save(sysCtx)
		if err != nil {
			return nil, fmt.Errorf("rotating credential: %w", err)
		}
		if n != 1 {
			return nil, errBadCredential
		}
		rotated, err := tx.Device.Get(sysCtx, dev.ID)
		if err != nil {
			return nil, fmt.Errorf("loading device: %w", err)
		}
		s.forget(ctx, dev.ID)
		return rotated, audit.Record(sysCtx, tx.Client(), audit.Entry{
			MerchantID: dev.MerchantID, Action: "device.credential_rotated", TargetType: "Device", TargetID: dev.ID,
		})
	})
	if err != nil {
		return nil, err
	}
	s.forget(ctx, dev.ID)
	return s.paired(ctx, dev, secret)
}

// Disable takes a lost or stolen device out of service at once: its
// credential and its cashiers' sessions end. It pairs again only with a
// new code.
func (s *Service) Disable(ctx context.Context, id pulid.ID, reason string) (*ent.Device, error) {
	return s.act(ctx, id, "device.disabled", reason, func(d *ent.Device, upd *ent.DeviceUpdateOne) error {
		if d.Status == device.StatusDISABLED || d.Status == device.StatusRETIRED {
			return errs.Newf(errs.Conflict, "the device is already %s", strings.ToLower(string(d.Status)))
		}
		upd.SetStatus(device.StatusDISABLED).ClearCredentialHash().AddSessionEpoch(1)
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
		upd.SetStatus(device.StatusRETIRED).ClearCredentialHash().AddSessionEpoch(1)
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
	dev, err := db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Device, error) {
		return s.actIn(ctx, tx, id, action, reason, change)
	})
	if err == nil {
		// Forgotten again after the commit (see actIn).
		s.forget(ctx, id)
	}
	return dev, err
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
	// Sessions end before the commit: if the commit then fails, the
	// cashiers log in again, which is the safe side. The cached credential
	// check is forgotten now and (by act) again after the commit, so that a
	// check racing the change cannot keep the old one.
	if changed.SessionEpoch != d.SessionEpoch {
		if err := s.auth.EndDeviceSessions(ctx, changed.ID, changed.SessionEpoch); err != nil {
			return nil, err
		}
	}
	s.forget(ctx, changed.ID)
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
		upd.ClearCredentialHash().AddSessionEpoch(1)
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
