package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent/schema/pulid"
)

// Session is one login: the family of access and refresh tokens issued
// from it. It lives in Redis, so every replica sees a logout at once.
type Session struct {
	ID         string      `json:"id"`
	Kind       viewer.Kind `json:"kind"`
	SubjectID  pulid.ID    `json:"sub"`
	MerchantID pulid.ID    `json:"mid,omitempty"`
	Role       viewer.Role `json:"role"`
	// RefreshHash is the SHA-256 of the one refresh token that is valid now.
	RefreshHash string `json:"rh"`
	// UsedHashes are refresh tokens already exchanged; presenting one again
	// means it was stolen, so the whole session ends (RFC 9700 §4.14.2).
	UsedHashes  []string  `json:"used,omitempty"`
	CreatedAt   time.Time `json:"created"`
	RefreshedAt time.Time `json:"refreshed"`
	// ExpiresAt is the absolute end of the session, however often refreshed.
	ExpiresAt time.Time `json:"expires"`
	IP        string    `json:"ip,omitempty"`
	UserAgent string    `json:"ua,omitempty"`
	// DeviceID is the terminal a PIN login opened the session on, and
	// DeviceEpoch the device's session epoch then: the session ends when
	// the device's epoch moves on (disabled, retired, paired again).
	DeviceID    pulid.ID `json:"dev,omitempty"`
	DeviceEpoch int      `json:"epoch,omitempty"`
}

// Errors from the session store.
var (
	ErrNoSession      = errors.New("session has ended")
	ErrInvalidRefresh = errors.New("invalid refresh token")
	ErrRefreshReused  = errors.New("refresh token reused; session ended")
)

// maxUsedHashes bounds how many exchanged refresh tokens a session
// remembers for reuse detection.
const maxUsedHashes = 50

// Sessions keeps sessions in Redis. Keys carry the subject in a hash tag,
// so a subject's sessions and its index share a Redis Cluster slot and can
// change together in one MULTI.
type Sessions struct {
	rdb    redis.UniversalClient
	prefix string
	// idleTTL is how long a session survives without a refresh.
	idleTTL time.Duration
	// maxTTL is the absolute session lifetime.
	maxTTL time.Duration
	now    func() time.Time
}

func (s *Sessions) key(subject pulid.ID, sid string) string {
	return fmt.Sprintf("%ssess:{%s}:%s", s.prefix, subject, sid)
}

func (s *Sessions) indexKey(subject pulid.ID) string {
	return fmt.Sprintf("%ssess-index:{%s}", s.prefix, subject)
}

// Create stores a new session and returns its first refresh token.
func (s *Sessions) Create(ctx context.Context, sess *Session) (refreshToken string, expiresAt time.Time, err error) {
	now := s.now()
	sess.ID = randomHex(16)
	sess.CreatedAt, sess.RefreshedAt = now, now
	sess.ExpiresAt = now.Add(s.maxTTL)
	secret := randomSecret()
	sess.RefreshHash = hashSecret(secret)
	ttl := s.ttl(sess, now)
	raw, err := json.Marshal(sess)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("encoding session: %w", err)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.key(sess.SubjectID, sess.ID), raw, ttl)
		p.SAdd(ctx, s.indexKey(sess.SubjectID), sess.ID)
		p.Expire(ctx, s.indexKey(sess.SubjectID), s.maxTTL)
		return nil
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("storing session: %w", err)
	}
	return formatRefreshToken(sess.SubjectID, sess.ID, secret), now.Add(ttl), nil
}

// Get returns a live session, or ErrNoSession.
func (s *Sessions) Get(ctx context.Context, subject pulid.ID, sid string) (*Session, error) {
	return load(ctx, s.rdb, s.key(subject, sid))
}

func load(ctx context.Context, c redis.Cmdable, key string) (*Session, error) {
	raw, err := c.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("loading session: %w", err)
	}
	var sess Session
	if err := json.Unmarshal(raw, &sess); err != nil {
		return nil, fmt.Errorf("decoding session: %w", err)
	}
	return &sess, nil
}

// Rotate exchanges a refresh token for the next one. A token exchanged
// before ends the session and returns it with ErrRefreshReused; an unknown
// one returns ErrInvalidRefresh. admit, when not nil, may refuse a valid
// token before it is spent (say, while the merchant is suspended), so that
// the client can use it again later.
func (s *Sessions) Rotate(ctx context.Context, refreshToken string, admit func(*Session) error) (sess *Session, next string, expiresAt time.Time, err error) {
	subject, sid, secret, ok := parseRefreshToken(refreshToken)
	if !ok {
		return nil, "", time.Time{}, ErrInvalidRefresh
	}
	key := s.key(subject, sid)
	presented := hashSecret(secret)
	// A concurrent change to the session (another refresh, a logout) makes
	// the optimistic transaction fail; the retry then sees the new state.
	for range 3 {
		err = s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			sess, err = load(ctx, tx, key)
			if errors.Is(err, ErrNoSession) {
				return ErrInvalidRefresh
			}
			if err != nil {
				return err
			}
			now := s.now()
			if subtle.ConstantTimeCompare([]byte(presented), []byte(sess.RefreshHash)) != 1 {
				if !slices.Contains(sess.UsedHashes, presented) {
					return ErrInvalidRefresh
				}
				_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Del(ctx, key)
					p.SRem(ctx, s.indexKey(subject), sid)
					return nil
				})
				if err != nil {
					return fmt.Errorf("ending session: %w", err)
				}
				return ErrRefreshReused
			}
			if !now.Before(sess.ExpiresAt) {
				return ErrInvalidRefresh
			}
			if admit != nil {
				if err := admit(sess); err != nil {
					return err
				}
			}
			nextSecret := randomSecret()
			sess.UsedHashes = append(sess.UsedHashes, sess.RefreshHash)
			if len(sess.UsedHashes) > maxUsedHashes {
				sess.UsedHashes = sess.UsedHashes[len(sess.UsedHashes)-maxUsedHashes:]
			}
			sess.RefreshHash = hashSecret(nextSecret)
			sess.RefreshedAt = now
			raw, err := json.Marshal(sess)
			if err != nil {
				return fmt.Errorf("encoding session: %w", err)
			}
			ttl := s.ttl(sess, now)
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, raw, ttl)
				return nil
			})
			if err != nil {
				return err
			}
			next, expiresAt = formatRefreshToken(subject, sid, nextSecret), now.Add(ttl)
			return nil
		}, key)
		if !errors.Is(err, redis.TxFailedErr) {
			break
		}
	}
	if errors.Is(err, ErrRefreshReused) {
		return sess, "", time.Time{}, err // the ended session, for the log
	}
	if err != nil {
		return nil, "", time.Time{}, err
	}
	return sess, next, expiresAt, nil
}

// Delete ends one session. It reports how many sessions it ended (0 or 1).
func (s *Sessions) Delete(ctx context.Context, subject pulid.ID, sid string) (int, error) {
	var del *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		del = p.Del(ctx, s.key(subject, sid))
		p.SRem(ctx, s.indexKey(subject), sid)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("ending session: %w", err)
	}
	return int(del.Val()), nil
}

// DeleteAll ends every session of subject except those in keep, and
// reports how many it ended.
func (s *Sessions) DeleteAll(ctx context.Context, subject pulid.ID, keep ...string) (int, error) {
	ids, err := s.rdb.SMembers(ctx, s.indexKey(subject)).Result()
	if err != nil {
		return 0, fmt.Errorf("listing sessions: %w", err)
	}
	ended := 0
	for _, sid := range ids {
		if slices.Contains(keep, sid) {
			continue
		}
		n, err := s.Delete(ctx, subject, sid)
		if err != nil {
			return ended, err
		}
		ended += n
	}
	return ended, nil
}

// ttl is how long a session key lives from now: the idle window, cut short
// by the absolute expiry.
func (s *Sessions) ttl(sess *Session, now time.Time) time.Duration {
	return min(s.idleTTL, sess.ExpiresAt.Sub(now))
}

// refreshPrefix marks Till refresh tokens, so they are recognisable in
// secret scanners and never confused with access tokens.
const refreshPrefix = "tlr"

func formatRefreshToken(subject pulid.ID, sid, secret string) string {
	return strings.Join([]string{refreshPrefix, string(subject), sid, secret}, ".")
}

func parseRefreshToken(tok string) (subject pulid.ID, sid, secret string, ok bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 4 || parts[0] != refreshPrefix || parts[1] == "" || parts[2] == "" || parts[3] == "" {
		return "", "", "", false
	}
	return pulid.ID(parts[1]), parts[2], parts[3], true
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
