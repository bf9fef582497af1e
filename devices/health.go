package devices

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/credentialgrant"
	"github.com/tillpos/till/ent/device"
	"github.com/tillpos/till/ent/pairingcode"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/ptr"
	"github.com/tillpos/till/outbox"
)

// Heartbeats from a whole fleet (10,000 terminals every 30 s) must not
// reach the database one by one. A heartbeat is one Redis pipeline: the
// device's live state in a hash and its time in a sorted set of the fleet.
// The snapshot job, run by one replica every SnapshotEvery, writes to the
// database only what changed: a device's health when it moves, its
// last_seen_at at most every persistEvery, and OFFLINE for devices gone
// quiet.
const (
	persistEvery   = 5 * time.Minute
	stateTTL       = 7 * 24 * time.Hour
	snapshotChunk  = 1000
	maxErrors      = 20
	maxErrorLength = 200
	// dayCountersTTL keeps heartbeat counts per day for a month and more.
	dayCountersTTL = 40 * 24 * time.Hour
)

// Heartbeat is what a device reports about itself.
type Heartbeat struct {
	Battery         *int
	Charging        *bool
	PaperLow        *bool
	Network         *string
	AppVersion      *string
	FirmwareVersion *string
	// FreeStorage is free storage in megabytes.
	FreeStorage *int
	Errors      []string
}

// State is a device's live state from its latest heartbeat.
type State struct {
	At          time.Time `json:"at"`
	Battery     *int      `json:"battery,omitempty"`
	Charging    bool      `json:"charging"`
	PaperLow    bool      `json:"paperLow"`
	Network     string    `json:"network,omitempty"`
	FreeStorage *int      `json:"freeStorageMb,omitempty"` // megabytes
	Errors      []string  `json:"errors,omitempty"`
}

// Record stores a heartbeat of dev (authenticated by its credential) and
// returns when it was received, by the service's clock, and when the next
// one is due. App and firmware versions go to the device's row when they
// change (an update was installed).
func (s *Service) Record(ctx context.Context, dev *ent.Device, hb Heartbeat) (receivedAt time.Time, next time.Duration, err error) {
	st, err := checkHeartbeat(hb)
	if err != nil {
		return time.Time{}, 0, err
	}
	now := s.now()
	st.At = now
	raw, err := json.Marshal(st)
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("encoding device state: %w", err)
	}
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.stateKey(dev.ID), "state", raw)
		p.Expire(ctx, s.stateKey(dev.ID), stateTTL)
		p.ZAdd(ctx, s.seenKey(), redis.Z{Score: float64(now.UnixMilli()), Member: string(dev.ID)})
		day, hour := s.dayKey(dev.ID, now), hourField(now)
		p.HIncrBy(ctx, day, beatsField+hour, 1)
		if len(st.Errors) > 0 {
			p.HIncrBy(ctx, day, errorBeatsField+hour, 1)
			p.HIncrBy(ctx, day, errorsField+hour, int64(len(st.Errors)))
		}
		p.Expire(ctx, day, dayCountersTTL)
		return nil
	})
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("recording heartbeat: %w", err)
	}
	app, fw := ptr.Value(hb.AppVersion), ptr.Value(hb.FirmwareVersion)
	if (hb.AppVersion != nil && app != dev.AppVersion) || (hb.FirmwareVersion != nil && fw != dev.FirmwareVersion) {
		upd := s.db.Device.UpdateOneID(dev.ID)
		if hb.AppVersion != nil {
			upd.SetAppVersion(app)
		}
		if hb.FirmwareVersion != nil {
			upd.SetFirmwareVersion(fw)
		}
		if err := upd.Exec(viewer.NewSystemContext(ctx, "heartbeat")); err != nil {
			return time.Time{}, 0, fmt.Errorf("recording device version: %w", err)
		}
		s.forget(ctx, dev.ID)
	}
	return now, s.cfg.HeartbeatEvery, nil
}

func checkHeartbeat(hb Heartbeat) (*State, error) {
	st := &State{Battery: hb.Battery, Charging: ptr.Value(hb.Charging), PaperLow: ptr.Value(hb.PaperLow), FreeStorage: hb.FreeStorage}
	switch {
	case hb.Battery != nil && (*hb.Battery < 0 || *hb.Battery > 100):
		return nil, errs.Invalid("battery", "battery is a percentage, 0 to 100")
	case hb.FreeStorage != nil && *hb.FreeStorage < 0:
		return nil, errs.Invalid("freeStorage", "free storage is not negative")
	case hb.Network != nil && len(*hb.Network) > 16:
		return nil, errs.Invalid("network", "a network type is at most 16 characters")
	case hb.AppVersion != nil && len(*hb.AppVersion) > 32:
		return nil, errs.Invalid("appVersion", "a version is at most 32 characters")
	case hb.FirmwareVersion != nil && len(*hb.FirmwareVersion) > 32:
		return nil, errs.Invalid("firmwareVersion", "a version is at most 32 characters")
	case len(hb.Errors) > maxErrors:
		return nil, errs.Invalid("errors", "at most %d errors a heartbeat", maxErrors)
	}
	for _, e := range hb.Errors {
		if e = strings.TrimSpace(e); e != "" {
			st.Errors = append(st.Errors, clip(e, maxErrorLength))
		}
	}
	if hb.Network != nil {
		st.Network = strings.ToUpper(strings.TrimSpace(*hb.Network))
	}
	return st, nil
}

// LiveStates reads the state from the latest heartbeat of each device in
// ids, in one Redis round trip; a device is missing from the map before its
// first heartbeat (or a week after its last).
func (s *Service) LiveStates(ctx context.Context, ids []pulid.ID) (map[pulid.ID]*State, error) {
	cmds := make([]*redis.StringCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGet(ctx, s.stateKey(id), "state")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("reading device state: %w", err)
	}
	states := make(map[pulid.ID]*State, len(ids))
	for i, cmd := range cmds {
		raw, err := cmd.Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading device state: %w", err)
		}
		var st State
		if err := json.Unmarshal(raw, &st); err != nil {
			return nil, fmt.Errorf("decoding device state: %w", err)
		}
		states[ids[i]] = &st
	}
	return states, nil
}

// health is what a device's latest state says about it at now.
func (s *Service) health(st *State, now time.Time) device.Health {
	switch {
	case st == nil || now.Sub(st.At) > s.cfg.OfflineAfter:
		return device.HealthOFFLINE
	case st.Battery != nil && *st.Battery <= s.cfg.LowBattery && !st.Charging,
		st.PaperLow,
		len(st.Errors) > 0,
		st.FreeStorage != nil && *st.FreeStorage < s.cfg.LowStorageMB:
		return device.HealthNEEDS_ATTENTION
	}
	return device.HealthONLINE
}

// Snapshot writes the fleet's heartbeats to the database: the health and
// last-seen time of each device heard from since the previous snapshot
// (health when it changed, last seen at most every few minutes), and
// OFFLINE, with a device.offline event, for each device that went quiet.
// It also purges pairing codes and credential grants past their time. It
// is safe to run twice, and on several replicas at once: every write is
// the same whoever makes it, or made once (see settle).
func (s *Service) Snapshot(ctx context.Context) error {
	sysCtx := viewer.NewSystemContext(ctx, "device-snapshot")
	now := s.now()
	since := now.Add(-2 * s.cfg.OfflineAfter)
	ids, err := s.rdb.ZRangeByScore(ctx, s.seenKey(), &redis.ZRangeBy{
		Min: strconv.FormatInt(since.UnixMilli(), 10), Max: "+inf",
	}).Result()
	if err != nil {
		return fmt.Errorf("listing devices heard from: %w", err)
	}
	heard := make(map[pulid.ID]bool, len(ids))
	var devs []*ent.Device
	// In chunks: a fleet's worth of ids would pass the engines' limits on
	// query parameters.
	for chunk := range slices.Chunk(ids, snapshotChunk) {
		batch := make([]pulid.ID, len(chunk))
		for i, id := range chunk {
			batch[i] = pulid.ID(id)
			heard[batch[i]] = true
		}
		found, err := s.db.Device.Query().Where(device.IDIn(batch...), device.StatusEQ(device.StatusACTIVE)).All(sysCtx)
		if err != nil {
			return fmt.Errorf("loading devices heard from: %w", err)
		}
		devs = append(devs, found...)
	}
	// Devices the database thinks are up but that were not heard from.
	candidates, err := s.db.Device.Query().
		Where(device.StatusEQ(device.StatusACTIVE), device.HealthNEQ(device.HealthOFFLINE),
			device.Or(device.LastSeenAtIsNil(), device.LastSeenAtLT(now.Add(-s.cfg.OfflineAfter)))).
		All(sysCtx)
	if err != nil {
		return fmt.Errorf("loading quiet devices: %w", err)
	}
	quiet := slices.DeleteFunc(candidates, func(d *ent.Device) bool { return heard[d.ID] })
	outdated := map[string]bool{} // by model and version, for this run
	for chunk := range slices.Chunk(append(devs, quiet...), snapshotChunk) {
		if err := s.settleAll(sysCtx, chunk, outdated, now); err != nil {
			return err
		}
	}
	// Heard-from entries older than the window are no longer needed.
	if err := s.rdb.ZRemRangeByScore(ctx, s.seenKey(), "-inf", "("+strconv.FormatInt(since.UnixMilli(), 10)).Err(); err != nil {
		return fmt.Errorf("trimming devices heard from: %w", err)
	}
	return s.purge(sysCtx, now)
}

// purge deletes what pairing leaves behind once it can no longer be used:
// pairing codes past their expiry (used or not), and credential grants past
// the replay window.
func (s *Service) purge(ctx context.Context, now time.Time) error {
	if _, err := s.db.PairingCode.Delete().Where(pairingcode.ExpiresAtLT(now)).Exec(ctx); err != nil {
		return fmt.Errorf("purging pairing codes: %w", err)
	}
	if _, err := s.db.CredentialGrant.Delete().Where(credentialgrant.ExpiresAtLTE(now)).Exec(ctx); err != nil {
		return fmt.Errorf("purging credential grants: %w", err)
	}
	return nil
}

// settleAll settles each of devs from its live state, read in one round
// trip; outdated remembers, for the run, which model and version pairs are
// no longer supported.
func (s *Service) settleAll(ctx context.Context, devs []*ent.Device, outdated map[string]bool, now time.Time) error {
	ids := make([]pulid.ID, len(devs))
	for i, d := range devs {
		ids[i] = d.ID
	}
	states, err := s.LiveStates(ctx, ids)
	if err != nil {
		return err
	}
	for _, d := range devs {
		key := d.Model + "\x00" + d.AppVersion
		old, known := outdated[key]
		if !known && s.outdated != nil && d.AppVersion != "" {
			if old, err = s.outdated(ctx, d.Model, d.AppVersion); err != nil {
				return err
			}
			outdated[key] = old
		}
		if err := s.settle(ctx, d, states[d.ID], old, now); err != nil {
			return err
		}
	}
	return nil
}

// settle writes what the latest state says about d (and whether its app
// version is still supported), if it differs enough from what the database
// held when d was read; a device going quiet raises device.offline in the
// same transaction, and one heard from again (or first) device.online. The write is conditional on that health, and on the
// device being still in service: a run overlapping this one, or a disable,
// that moved it first wins, and no second event is raised.
func (s *Service) settle(ctx context.Context, d *ent.Device, st *State, outdated bool, now time.Time) error {
	h := s.health(st, now)
	if h == device.HealthONLINE && outdated {
		h = device.HealthNEEDS_ATTENTION
	}
	var seen *time.Time
	if st != nil && (d.LastSeenAt == nil || st.At.Sub(*d.LastSeenAt) >= persistEvery || h != d.Health) {
		seen = &st.At
	}
	if h == d.Health && seen == nil {
		return nil
	}
	return db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		n, err := tx.Device.Update().
			Where(device.ID(d.ID), device.HealthEQ(d.Health), device.StatusEQ(device.StatusACTIVE)).
			SetHealth(h).SetNillableLastSeenAt(seen).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("saving device health: %w", err)
		}
		topic := ""
		switch {
		case n != 1:
		case h == device.HealthOFFLINE && d.Health != device.HealthOFFLINE:
			topic = outbox.DeviceOffline
		case h != device.HealthOFFLINE && d.Health == device.HealthOFFLINE:
			topic = outbox.DeviceOnline
		}
		if topic == "" {
			return nil
		}
		var lastSeen any
		if st != nil {
			lastSeen = st.At
		}
		return outbox.Add(ctx, tx, d.MerchantID, topic, d.ID, map[string]any{
			"deviceId": d.ID, "storeId": d.StoreID, "serialNumber": d.SerialNumber, "lastSeenAt": lastSeen,
		})
	})
}

// dayKey counts a device's heartbeats of one UTC day, by hour: the fields
// are beatsField, errorBeatsField and errorsField followed by hourField.
func (s *Service) dayKey(id pulid.ID, t time.Time) string {
	return s.prefix + "device-day:{" + string(id) + "}:" + t.UTC().Format(time.DateOnly)
}

// The counters of a day key: heartbeats, heartbeats reporting errors, and
// errors reported.
const (
	beatsField      = "beats:"
	errorBeatsField = "errorBeats:"
	errorsField     = "errors:"
)

// hourField is t's UTC hour, 00 to 23, as the counters' fields end.
func hourField(t time.Time) string { return fmt.Sprintf("%02d", t.UTC().Hour()) }

func (s *Service) stateKey(id pulid.ID) string { return s.prefix + "device-state:{" + string(id) + "}" }
func (s *Service) seenKey() string             { return s.prefix + "devices-seen" }

// clip cuts s to at most n characters.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}
