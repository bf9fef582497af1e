package devices

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/credentialgrant"
	"github.com/tillpos/till/ent/device"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/idempotency"
)

var errBadCredential = errs.Newf(errs.Unauthenticated, "invalid device credential")

// parseCredential splits a credential into its device's id and its secret.
func parseCredential(cred string) (pulid.ID, string, bool) {
	id, secret, ok := strings.Cut(cred, ".")
	if !ok || !strings.HasPrefix(id, "dev_") || secret == "" {
		return "", "", false
	}
	return pulid.ID(id), secret, true
}

// Authenticate returns the ACTIVE device a credential belongs to.
func (s *Service) Authenticate(ctx context.Context, cred string) (*ent.Device, error) {
	id, secret, ok := parseCredential(cred)
	if !ok {
		return nil, errBadCredential
	}
	dev, err := s.cachedDevice(ctx, id)
	if err != nil {
		return nil, err
	}
	if dev == nil || dev.Status != device.StatusACTIVE ||
		subtle.ConstantTimeCompare([]byte(dev.CredentialHash), []byte(digest(secret))) != 1 {
		return nil, errBadCredential
	}
	return dev, nil
}

// credentialCacheTTL bounds how long a cached credential check lives, and
// so how long it may outlive a change whose mark after the commit failed.
const credentialCacheTTL = 10 * time.Minute

// cachedDevice is what checking a credential needs of a device, from Redis
// or, on a miss, from the database (then kept in Redis for a while):
// heartbeats authenticate every 30 s and must not each read the database.
//
// A copy never outlives a change: every change marks the key after its
// commit (see forget), and a copy read from the database is kept only if
// no mark came while it was read (WATCH), since the row read may then be
// the one from before the change.
func (s *Service) cachedDevice(ctx context.Context, id pulid.ID) (*ent.Device, error) {
	key := s.credKey(id)
	raw, err := s.rdb.Get(ctx, key).Bytes()
	switch {
	case err == nil && len(raw) > 0:
		var d cachedDevice
		if err := json.Unmarshal(raw, &d); err == nil {
			return d.device(id), nil
		}
	case err != nil && !errors.Is(err, redis.Nil):
		return nil, fmt.Errorf("reading device cache: %w", err)
	}
	var dev *ent.Device
	err = s.rdb.Watch(ctx, func(tx *redis.Tx) error {
		var err error
		if dev, err = s.loadDevice(ctx, id); dev == nil || err != nil {
			return err
		}
		raw, err := json.Marshal(cachedDevice{
			MerchantID: dev.MerchantID, StoreID: dev.StoreID, Status: dev.Status, Hash: dev.CredentialHash,
			Epoch: dev.SessionEpoch, App: dev.AppVersion, Firmware: dev.FirmwareVersion, Serial: dev.SerialNumber, Model: dev.Model,
		})
		if err != nil {
			return fmt.Errorf("encoding device cache: %w", err)
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, raw, credentialCacheTTL)
			return nil
		})
		return err
	}, key)
	if errors.Is(err, redis.TxFailedErr) {
		// A change committed while the row was read: read it again, now
		// after the change, and leave the caching to the next check.
		return s.loadDevice(ctx, id)
	}
	if err != nil {
		return nil, fmt.Errorf("caching device: %w", err)
	}
	return dev, nil
}

// loadDevice reads device id for a credential check; nil if there is none.
func (s *Service) loadDevice(ctx context.Context, id pulid.ID) (*ent.Device, error) {
	dev, err := s.db.Device.Get(viewer.NewSystemContext(ctx, "device-credential"), id)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading device: %w", err)
	}
	return dev, nil
}

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

func (s *Service) credKey(id pulid.ID) string { return s.prefix + "device-cred:{" + string(id) + "}" }

// forget marks the cached copy of a device stale after a committed change:
// an empty value, which reads as a miss and, unlike a deletion, aborts a
// copy being read meanwhile (see cachedDevice). A failure is logged: the
// copy expires within credentialCacheTTL.
func (s *Service) forget(ctx context.Context, id pulid.ID) {
	if err := s.rdb.Set(ctx, s.credKey(id), "", credentialCacheTTL).Err(); err != nil {
		slog.ErrorContext(ctx, "forgetting cached device", "device", id, "err", err)
	}
}

// onCommit has Redis follow a change to dev made in tx, once tx has
// committed: the cached credential check is forgotten and, when
// endSessions, the device's session epoch moves on to dev's, ending its
// cashiers' sessions. Nothing happens for a change rolled back, which would
// leave Redis ahead of the row. The writes outlive a cancelled request: a
// lost device must be cut off even if the manager's app goes away.
func (s *Service) onCommit(tx *ent.Tx, dev *ent.Device, endSessions bool) {
	id, epoch := dev.ID, dev.SessionEpoch
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			if err := next.Commit(ctx, tx); err != nil {
				return err
			}
			ctx = context.WithoutCancel(ctx)
			if endSessions {
				// Logged, not returned: the change has committed, and the
				// epoch is read from the row again within auth's epoch TTL.
				if err := s.auth.EndDeviceSessions(ctx, id, epoch); err != nil {
					slog.ErrorContext(ctx, "ending device sessions after commit", "device", id, "err", err)
				}
			}
			s.forget(ctx, id)
			return nil
		})
	})
}

// RotateCredential gives a device a new credential in place of the one it
// presents, which stops working at once. A retry with the same idempotency
// key and old credential within the replay window gets the same new
// credential (replayed), so a lost answer does not lock the device out;
// the same key with another credential is IDEMPOTENCY_CONFLICT.
func (s *Service) RotateCredential(ctx context.Context, cred, key string) (*Paired, error) {
	if err := idempotency.CheckKey(key); err != nil {
		return nil, err
	}
	id, oldSecret, ok := parseCredential(cred)
	if !ok {
		return nil, errBadCredential
	}
	g := newGrant("rotate:"+string(id), key, oldSecret)
	req := struct {
		Credential string `json:"credential"`
	}{digest(cred)}
	// A request with the key that commits meanwhile makes this one fail on
	// the credential or the key: Once answers it as a retry.
	res, _, err := idempotency.Once(req,
		func(hash string) (*Paired, error) { return s.replay(ctx, g, hash) },
		func(hash string) (*Paired, error) {
			secret := rand.Text()
			dev, err := s.rotate(ctx, cred, g, hash, secret)
			if err != nil {
				return nil, err
			}
			return s.paired(ctx, dev, secret, false)
		})
	return res, err
}

// rotate checks cred and replaces it with secret in one transaction, with
// the grant for a retry and the audit entry.
func (s *Service) rotate(ctx context.Context, cred string, g grant, hash, secret string) (*ent.Device, error) {
	dev, err := s.Authenticate(ctx, cred)
	if err != nil {
		return nil, err
	}
	sysCtx := viewer.NewSystemContext(ctx, "device-credential")
	return db.InTx(sysCtx, s.db, func(tx *ent.Tx) (*ent.Device, error) {
		// Only if the credential is still the one presented: two rotations
		// at once leave one winner.
		n, err := tx.Device.Update().
			Where(device.ID(dev.ID), device.CredentialHash(dev.CredentialHash), device.StatusEQ(device.StatusACTIVE)).
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
		if err := s.keep(sysCtx, tx, g, hash, rotated, secret); err != nil {
			return nil, err
		}
		s.onCommit(tx, rotated, false)
		return rotated, audit.Record(sysCtx, tx.Client(), audit.Entry{
			MerchantID: dev.MerchantID, Action: "device.credential_rotated", TargetType: "Device", TargetID: dev.ID,
		})
	})
}

// A grant keeps the credential a pairing or a rotation issued, for a retry
// of the same request: keyHash finds it (the idempotency key in its scope:
// "pair", or the rotation of one device), sealKey opens it. The seal key
// comes from the key and proof, a secret only the caller holds (the
// pairing code, or the credential rotated away), so neither the database
// nor another caller can open it.
type grant struct {
	keyHash string
	sealKey []byte
}

func newGrant(scope, key, proof string) grant {
	sealKey, err := hkdf.Key(sha256.New, []byte(proof), nil, "till device credential\x00"+scope+"\x00"+key, 32)
	if err != nil {
		panic(err) // only for a length HKDF-SHA256 cannot make
	}
	return grant{keyHash: digest(scope + "\x00" + key), sealKey: sealKey}
}

// keep seals secret, just issued to dev in tx by the request hashed hash,
// under g until the replay window closes. A second request with the key
// fails here (the key hash is unique) and is then answered by replay.
func (s *Service) keep(ctx context.Context, tx *ent.Tx, g grant, hash string, dev *ent.Device, secret string) error {
	now := s.now()
	// A lapsed grant with the key, not yet purged, gives way.
	if _, err := tx.CredentialGrant.Delete().Where(credentialgrant.KeyHash(g.keyHash), credentialgrant.ExpiresAtLTE(now)).Exec(ctx); err != nil {
		return fmt.Errorf("dropping a lapsed credential grant: %w", err)
	}
	aead, err := g.aead()
	if err != nil {
		return err
	}
	err = tx.CredentialGrant.Create().
		SetMerchantID(dev.MerchantID).SetKeyHash(g.keyHash).SetRequestHash(hash).SetDeviceID(dev.ID).
		SetSealed(aead.Seal(nil, nil, []byte(secret), []byte(g.keyHash))).
		SetExpiresAt(now.Add(s.cfg.ReplayWindow)).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("keeping the credential for a retry: %w", err)
	}
	return nil
}

// replay answers a retry: the device and credential an earlier request
// with g's key issued, if that request hashed to hash and the credential
// is still the device's (not since rotated, paired again, disabled);
// IDEMPOTENCY_CONFLICT if the key was used for another request; nil if
// there is nothing to replay.
func (s *Service) replay(ctx context.Context, g grant, hash string) (*Paired, error) {
	sysCtx := viewer.NewSystemContext(ctx, "device-credential")
	found, err := s.db.CredentialGrant.Query().
		Where(credentialgrant.KeyHash(g.keyHash), credentialgrant.ExpiresAtGT(s.now())).
		Only(sysCtx)
	prior, err := idempotency.Replayable(found, err, func(cg *ent.CredentialGrant) string { return cg.RequestHash }, hash, "request")
	if prior == nil || err != nil {
		return nil, err
	}
	aead, err := g.aead()
	if err != nil {
		return nil, err
	}
	secret, err := aead.Open(nil, nil, prior.Sealed, []byte(g.keyHash))
	if err != nil {
		return nil, fmt.Errorf("opening a credential grant: %w", err)
	}
	dev, err := s.db.Device.Get(sysCtx, prior.DeviceID)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading device: %w", err)
	}
	if dev.Status != device.StatusACTIVE || dev.CredentialHash != digest(string(secret)) {
		return nil, nil
	}
	return s.paired(ctx, dev, string(secret), true)
}

func (g grant) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(g.sealKey)
	if err != nil {
		return nil, fmt.Errorf("sealing credential: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("sealing credential: %w", err)
	}
	return aead, nil
}
