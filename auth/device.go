package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/device"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/staff"
	"github.com/tillpos/till/ent/store"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/reqinfo"
)

var errBadPIN = errs.Newf(errs.Unauthenticated, "wrong staff member or PIN")

// LogInWithPIN opens a session for a staff member on a paired device (dev,
// whose credential the caller has checked) with their PIN. The session is
// bound to the device: it ends the moment the device is disabled, retired
// or paired again.
//
// Errors: RATE_LIMITED (too many attempts from the IP or on the device, or
// the staff member is locked out after repeated wrong PINs),
// UNAUTHENTICATED (wrong staff member or PIN, deactivated, no PIN set, not
// working at the device's store), FORBIDDEN (merchant suspended).
func (s *Service) LogInWithPIN(ctx context.Context, dev *ent.Device, staffID pulid.ID, pin string) (*Tokens, error) {
	if err := s.Allow(ctx, "pin-ip", reqinfo.FromContext(ctx).IP, s.cfg.LoginPerIP); err != nil {
		return nil, err
	}
	if err := s.Allow(ctx, "pin-device", string(dev.ID), s.cfg.LoginPerEmail); err != nil {
		return nil, err
	}
	lockKey := "pin:" + string(staffID)
	if left, err := s.rdb.PTTL(ctx, s.lockKey(lockKey)).Result(); err != nil {
		return nil, fmt.Errorf("checking lockout: %w", err)
	} else if left > 0 {
		return nil, &errs.Error{Code: errs.RateLimited, RetryAfter: left,
			Message: "locked after repeated wrong PINs; try again later"}
	}
	sysCtx := viewer.NewSystemContext(ctx, "pin-login")
	m, err := s.db.Staff.Query().Where(staff.ID(staffID), staff.MerchantID(dev.MerchantID)).Only(sysCtx)
	if ent.IsNotFound(err) {
		s.hasher.Waste(pin)
		return nil, errBadPIN
	}
	if err != nil {
		return nil, fmt.Errorf("loading staff: %w", err)
	}
	acct := staffAccount(m)
	if m.PinHash == "" || !s.hasher.Verify(m.PinHash, pin) {
		if m.PinHash == "" {
			s.hasher.Waste(pin)
		}
		if err := s.recordFailure(ctx, acct, lockKey); err != nil {
			return nil, err
		}
		return nil, errBadPIN
	}
	if err := s.rdb.Del(ctx, s.failKey(lockKey)).Err(); err != nil {
		return nil, fmt.Errorf("clearing failed PINs: %w", err)
	}
	if m.Role != staff.RoleOWNER {
		works, err := s.db.Store.Query().Where(store.ID(dev.StoreID), store.HasStaffWith(staff.ID(m.ID))).Exist(sysCtx)
		if err != nil {
			return nil, fmt.Errorf("loading store staff: %w", err)
		}
		if !works {
			return nil, errs.Newf(errs.Unauthenticated, "you do not work at this device's store")
		}
	}
	if err := s.checkUsable(ctx, acct); err != nil {
		return nil, err
	}
	if err := s.touchLastLogin(ctx, acct); err != nil {
		return nil, err
	}
	return s.startSessionOn(ctx, acct, dev)
}

// EndDeviceSessions ends every session opened on a device at once, by
// moving the device's session epoch on to epoch: call it once the change
// that raised the device's row to epoch has committed, never before (a
// rollback would leave Redis ahead of the row, refusing every new session
// on a device still in service). Sessions carry the epoch they began in and
// are refused once it is no longer current.
func (s *Service) EndDeviceSessions(ctx context.Context, deviceID pulid.ID, epoch int) error {
	if _, err := s.raiseEpoch(ctx, deviceID, epoch); err != nil {
		return fmt.Errorf("ending device sessions: %w", err)
	}
	return nil
}

// deviceEpochTTL is how long Redis keeps a device's session epoch before it
// is read from the row again: the longest a failed write after a commit
// leaves Redis behind the row.
const deviceEpochTTL = 5 * time.Minute

// raiseEpochScript keeps the greater of the epoch a key holds and ARGV[1]
// (for ARGV[2] ms when it writes), and returns it. Epochs only grow, so
// writes arriving out of order, or a reload that read the row just before
// a change, never move the epoch back.
var raiseEpochScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]))
local new = tonumber(ARGV[1])
if cur ~= nil and cur >= new then
  return cur
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return new
`)

func (s *Service) raiseEpoch(ctx context.Context, deviceID pulid.ID, epoch int) (int, error) {
	return raiseEpochScript.Run(ctx, s.rdb, []string{s.epochKey(deviceID)}, epoch, deviceEpochTTL.Milliseconds()).Int()
}

// checkDevice refuses a session opened on a device whose epoch has moved
// on, and deletes it.
func (s *Service) checkDevice(ctx context.Context, sess *Session) error {
	if sess.DeviceID == "" {
		return nil
	}
	current, err := s.deviceEpoch(ctx, sess.DeviceID)
	if err != nil {
		return err
	}
	if current == sess.DeviceEpoch {
		return nil
	}
	if _, err := s.sessions.Delete(ctx, sess.SubjectID, sess.ID); err != nil {
		return err
	}
	return errs.Newf(errs.Unauthenticated, "the device was disabled or paired again; log in again")
}

// deviceEpoch is a device's session epoch: from Redis, or from the
// device's row (then kept in Redis for deviceEpochTTL) when Redis does not
// have it.
func (s *Service) deviceEpoch(ctx context.Context, id pulid.ID) (int, error) {
	raw, err := s.rdb.Get(ctx, s.epochKey(id)).Result()
	if err == nil {
		return strconv.Atoi(raw)
	}
	if !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("reading device epoch: %w", err)
	}
	epochs, err := s.db.Device.Query().Where(device.ID(id)).Select(device.FieldSessionEpoch).
		Ints(viewer.NewSystemContext(ctx, "device-epoch"))
	if err != nil {
		return 0, fmt.Errorf("loading device epoch: %w", err)
	}
	if len(epochs) == 0 {
		return -1, nil // gone: no epoch matches
	}
	epoch, err := s.raiseEpoch(ctx, id, epochs[0])
	if err != nil {
		return 0, fmt.Errorf("caching device epoch: %w", err)
	}
	return epoch, nil
}

func (s *Service) epochKey(id pulid.ID) string { return s.prefix + "device-epoch:{" + string(id) + "}" }
