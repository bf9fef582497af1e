// Package auth signs people in and tells every request who is calling.
//
// Staff and operators log in with email and password. A login opens a
// Session in Redis and returns a short-lived JWT access token plus an
// opaque refresh token that rotates on each use. Every request's token is
// checked against its live session, so logout, deactivation and "log out
// everywhere" act at once on every replica.
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/token"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/merchant"
	"github.com/tillpos/till/ent/operator"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/staff"
	"github.com/tillpos/till/ent/store"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/ratelimit"
	"github.com/tillpos/till/reqinfo"
)

// Config tunes sessions, login limits and password rotation.
type Config struct {
	// SessionIdleTTL ends a session not refreshed for this long.
	SessionIdleTTL time.Duration
	// SessionMaxTTL ends a session this long after login, however used.
	SessionMaxTTL time.Duration
	// LoginPerIP and LoginPerEmail bound login attempts (GCRA).
	LoginPerIP    ratelimit.Limit
	LoginPerEmail ratelimit.Limit
	// LockoutThreshold failed logins within LockoutWindow lock the account
	// for LockoutDuration.
	LockoutThreshold int
	LockoutWindow    time.Duration
	LockoutDuration  time.Duration
	// PasswordMaxAge is when OWNER, MANAGER and OPERATOR passwords are due
	// to be changed.
	PasswordMaxAge time.Duration
}

// DefaultConfig is the production configuration.
func DefaultConfig() Config {
	return Config{
		SessionIdleTTL:   30 * 24 * time.Hour,
		SessionMaxTTL:    90 * 24 * time.Hour,
		LoginPerIP:       ratelimit.PerMinute(30),
		LoginPerEmail:    ratelimit.PerMinute(10),
		LockoutThreshold: 10,
		LockoutWindow:    15 * time.Minute,
		LockoutDuration:  15 * time.Minute,
		PasswordMaxAge:   90 * 24 * time.Hour,
	}
}

// Service is the authentication service.
type Service struct {
	db       *ent.Client
	rdb      redis.UniversalClient
	prefix   string
	sessions *Sessions
	issuer   *token.Issuer
	hasher   *password.Hasher
	limiter  *ratelimit.Limiter
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithConfig replaces DefaultConfig.
func WithConfig(cfg Config) Option { return func(s *Service) { s.cfg = cfg } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithKeyPrefix sets the prefix of every Redis key the service writes
// (default "till:"), so tests and deployments can share a Redis.
func WithKeyPrefix(p string) Option { return func(s *Service) { s.prefix = p } }

// WithClock sets the clock, for tests.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// New returns a Service.
func New(db *ent.Client, rdb redis.UniversalClient, issuer *token.Issuer, hasher *password.Hasher, opts ...Option) *Service {
	s := &Service{
		db: db, rdb: rdb, issuer: issuer, hasher: hasher,
		prefix: "till:", cfg: DefaultConfig(), log: slog.Default(), now: time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	s.sessions = &Sessions{rdb: rdb, prefix: s.prefix, idleTTL: s.cfg.SessionIdleTTL, maxTTL: s.cfg.SessionMaxTTL, now: s.now}
	s.limiter = ratelimit.New(rdb, s.prefix+"rl:")
	return s
}

// Limiter returns the service's rate limiter, shared with the API's
// per-session limits.
func (s *Service) Limiter() *ratelimit.Limiter { return s.limiter }

// Tokens is what a login or refresh hands the client.
type Tokens struct {
	AccessToken           string
	AccessTokenExpiresAt  time.Time
	RefreshToken          string
	RefreshTokenExpiresAt time.Time
	Profile               *Profile
}

// Profile is a signed-in principal as the API shows it.
type Profile struct {
	Viewer   *viewer.Viewer
	Staff    *ent.Staff
	Operator *ent.Operator
	Merchant *ent.Merchant
	// Stores the staff member works at; every store for an OWNER.
	Stores []*ent.Store
	// PasswordExpiresAt is nil when the password never expires.
	PasswordExpiresAt *time.Time
}

// account is whoever owns a login email: a staff member or an operator.
type account struct {
	kind         viewer.Kind
	id           pulid.ID
	merchantID   pulid.ID
	role         viewer.Role
	email        string
	passwordHash string
	active       bool
}

var errBadCredentials = errs.Newf(errs.Unauthenticated, "invalid email or password")

// LogIn checks an email and password and opens a session.
//
// Errors: RATE_LIMITED (too many attempts from the IP or for the email, or
// the account is locked after repeated failures), UNAUTHENTICATED (wrong
// credentials, deactivated account), FORBIDDEN (merchant suspended).
func (s *Service) LogIn(ctx context.Context, email, secret string) (*Tokens, error) {
	email = NormalizeEmail(email)
	emailKey := digest(email)
	if err := s.Allow(ctx, "login-ip", reqinfo.FromContext(ctx).IP, s.cfg.LoginPerIP); err != nil {
		return nil, err
	}
	if err := s.Allow(ctx, "login-email", emailKey, s.cfg.LoginPerEmail); err != nil {
		return nil, err
	}
	if left, err := s.rdb.PTTL(ctx, s.lockKey(emailKey)).Result(); err != nil {
		return nil, fmt.Errorf("checking lockout: %w", err)
	} else if left > 0 {
		return nil, &errs.Error{Code: errs.RateLimited, RetryAfter: left,
			Message: "account locked after repeated failed logins; try again later"}
	}
	acct, err := s.findAccount(ctx, email)
	if err != nil {
		return nil, err
	}
	if acct == nil {
		s.hasher.Waste(secret)
		return nil, errBadCredentials
	}
	if !s.hasher.Verify(acct.passwordHash, secret) {
		if err := s.recordFailure(ctx, acct, emailKey); err != nil {
			return nil, err
		}
		return nil, errBadCredentials
	}
	if err := s.rdb.Del(ctx, s.failKey(emailKey)).Err(); err != nil {
		return nil, fmt.Errorf("clearing failed logins: %w", err)
	}
	if err := s.checkUsable(ctx, acct); err != nil {
		return nil, err
	}
	if err := s.touchLastLogin(ctx, acct); err != nil {
		return nil, err
	}
	return s.startSession(ctx, acct)
}

// StartStaffSession opens a session for a staff member who has just
// proved who they are some other way (sign-up).
func (s *Service) StartStaffSession(ctx context.Context, m *ent.Staff) (*Tokens, error) {
	return s.startSession(ctx, staffAccount(m))
}

// Refresh exchanges a refresh token for a new token pair.
//
// Errors: UNAUTHENTICATED (unknown, expired or reused token — a reused one
// also ends its session), FORBIDDEN (merchant suspended).
func (s *Service) Refresh(ctx context.Context, refreshToken string) (*Tokens, error) {
	deactivated := false
	sess, next, nextExpiry, err := s.sessions.Rotate(ctx, refreshToken, func(sess *Session) error {
		acct, err := s.loadAccount(ctx, sess.Kind, sess.SubjectID)
		if err != nil {
			return err
		}
		if deactivated = acct == nil || !acct.active; deactivated {
			return errs.Newf(errs.Unauthenticated, "account is deactivated")
		}
		if err := s.checkDevice(ctx, sess); err != nil {
			return err
		}
		return s.checkUsable(ctx, acct)
	})
	switch {
	case errors.Is(err, ErrRefreshReused):
		s.log.WarnContext(ctx, "refresh token reuse; session ended", "subject", sess.SubjectID, "session", sess.ID)
		return nil, errs.Newf(errs.Unauthenticated, "refresh token was already used; the session has ended")
	case errors.Is(err, ErrInvalidRefresh):
		return nil, errs.Newf(errs.Unauthenticated, "invalid or expired refresh token")
	case deactivated:
		subject, sid, _, _ := parseRefreshToken(refreshToken)
		if _, derr := s.sessions.Delete(ctx, subject, sid); derr != nil {
			return nil, derr
		}
		return nil, err
	case err != nil:
		return nil, err
	}
	return s.issue(ctx, sess, next, nextExpiry)
}

// Authenticate turns a bearer access token into the viewer it speaks for.
// It fails with UNAUTHENTICATED when the token is invalid or expired or its
// session has ended.
func (s *Service) Authenticate(ctx context.Context, accessToken string) (*viewer.Viewer, error) {
	claims, err := s.issuer.Verify(accessToken)
	if err != nil {
		return nil, errs.Newf(errs.Unauthenticated, "invalid or expired access token")
	}
	return s.sessionViewer(ctx, pulid.ID(claims.Subject), claims.SessionID)
}

// Recheck reads v's session again, for a connection that outlives the
// access token it was opened with (a subscription): it answers the viewer
// as the session stands now (merchant suspended, stores reassigned), or
// UNAUTHENTICATED once the session has ended.
func (s *Service) Recheck(ctx context.Context, v *viewer.Viewer) (*viewer.Viewer, error) {
	if v == nil || v.SessionID == "" {
		return nil, errs.Newf(errs.Unauthenticated, "not logged in")
	}
	return s.sessionViewer(ctx, v.ID, v.SessionID)
}

// sessionViewer is the viewer of a live session of subject.
func (s *Service) sessionViewer(ctx context.Context, subject pulid.ID, sid string) (*viewer.Viewer, error) {
	sess, err := s.sessions.Get(ctx, subject, sid)
	if errors.Is(err, ErrNoSession) {
		return nil, errs.Newf(errs.Unauthenticated, "session has ended")
	}
	if err != nil {
		return nil, err
	}
	if err := s.checkDevice(ctx, sess); err != nil {
		return nil, err
	}
	v := sess.viewer()
	if !v.IsStaff() {
		return v, nil
	}
	sysCtx := viewer.NewSystemContext(ctx, "authenticate")
	status, err := s.db.Merchant.Query().
		Where(merchant.ID(v.MerchantID)).
		Select(merchant.FieldStatus).
		String(sysCtx)
	if err != nil {
		return nil, fmt.Errorf("checking merchant status: %w", err)
	}
	v.MerchantSuspended = status == string(merchant.StatusSUSPENDED)
	if v.Role != viewer.RoleOwner {
		ids, err := s.db.Store.Query().Where(store.HasStaffWith(staff.ID(v.ID))).IDs(sysCtx)
		if err != nil {
			return nil, fmt.Errorf("loading the stores of staff: %w", err)
		}
		v.StoreIDs = append([]pulid.ID{}, ids...) // never nil: read, maybe none
	}
	return v, nil
}

// LogOut ends the caller's session and reports how many sessions ended.
func (s *Service) LogOut(ctx context.Context) (int, error) {
	v := viewer.FromContext(ctx)
	if v == nil || v.SessionID == "" {
		return 0, errs.Newf(errs.Unauthenticated, "not logged in")
	}
	return s.sessions.Delete(ctx, v.ID, v.SessionID)
}

// LogOutEverywhere ends every session of the caller.
func (s *Service) LogOutEverywhere(ctx context.Context) (int, error) {
	v := viewer.FromContext(ctx)
	if v == nil || v.SessionID == "" {
		return 0, errs.Newf(errs.Unauthenticated, "not logged in")
	}
	return s.sessions.DeleteAll(ctx, v.ID)
}

// EndSessions ends every session of a staff member or operator, for
// deactivation, password resets and role changes.
func (s *Service) EndSessions(ctx context.Context, subject pulid.ID) (int, error) {
	return s.sessions.DeleteAll(ctx, subject)
}

// ChangePassword changes the caller's own password after checking the
// current one, and ends the caller's other sessions.
//
// Errors: BAD_USER_INPUT naming currentPassword (wrong) or newPassword
// (breaks the policy) — not UNAUTHENTICATED, which apps take as "log out" —
// and RATE_LIMITED.
func (s *Service) ChangePassword(ctx context.Context, current, next string) (*Profile, error) {
	v := viewer.FromContext(ctx)
	if v == nil || v.Kind == viewer.KindSystem {
		return nil, errs.Newf(errs.Unauthenticated, "not logged in")
	}
	// The login limit for the email also guards guessing the current
	// password with a stolen access token.
	acct, err := s.loadAccount(ctx, v.Kind, v.ID)
	if err != nil {
		return nil, err
	}
	if acct == nil {
		return nil, errs.Newf(errs.Unauthenticated, "account not found")
	}
	if err := s.Allow(ctx, "login-email", digest(acct.email), s.cfg.LoginPerEmail); err != nil {
		return nil, err
	}
	if !s.hasher.Verify(acct.passwordHash, current) {
		return nil, errs.Invalid("currentPassword", "current password is wrong")
	}
	if err := password.CheckPassword(next, acct.email); err != nil {
		return nil, errs.Invalid("newPassword", "%s", err.Error())
	}
	if next == current {
		return nil, errs.Invalid("newPassword", "new password must differ from the current one")
	}
	hash, err := s.hasher.Hash(next)
	if err != nil {
		return nil, fmt.Errorf("hashing password: %w", err)
	}
	if err := s.setPassword(ctx, acct, hash); err != nil {
		return nil, err
	}
	if _, err := s.sessions.DeleteAll(ctx, v.ID, v.SessionID); err != nil {
		return nil, err
	}
	return s.Profile(ctx)
}

func (s *Service) setPassword(ctx context.Context, acct *account, hash string) error {
	now := s.now()
	sysCtx := viewer.NewSystemContext(ctx, "change-password")
	if acct.kind == viewer.KindOperator {
		return s.db.Operator.UpdateOneID(acct.id).SetPasswordHash(hash).SetPasswordChangedAt(now).Exec(sysCtx)
	}
	return db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		if err := tx.Staff.UpdateOneID(acct.id).SetPasswordHash(hash).SetPasswordChangedAt(now).Exec(ctx); err != nil {
			return fmt.Errorf("saving password: %w", err)
		}
		return audit.Record(ctx, tx.Client(), audit.Entry{Action: "staff.password_changed", TargetType: "Staff", TargetID: acct.id})
	})
}

// Profile returns the caller as the API shows it.
func (s *Service) Profile(ctx context.Context) (*Profile, error) {
	v := viewer.FromContext(ctx)
	if v == nil || v.Kind == viewer.KindSystem {
		return nil, errs.Newf(errs.Unauthenticated, "not logged in")
	}
	p := &Profile{Viewer: v}
	switch v.Kind {
	case viewer.KindOperator:
		op, err := s.db.Operator.Get(ctx, v.ID)
		if err != nil {
			return nil, fmt.Errorf("loading operator: %w", err)
		}
		p.Operator = op
		p.PasswordExpiresAt = s.passwordExpiry(viewer.RoleOperator, op.PasswordChangedAt, op.CreatedAt)
	case viewer.KindStaff:
		m, err := s.db.Staff.Query().Where(staff.ID(v.ID)).WithMerchant().Only(ctx)
		if err != nil {
			return nil, fmt.Errorf("loading staff: %w", err)
		}
		p.Staff, p.Merchant = m, m.Edges.Merchant
		stores := s.db.Store.Query().Order(ent.Asc(store.FieldName))
		if v.Role != viewer.RoleOwner {
			stores = stores.Where(store.HasStaffWith(staff.ID(v.ID)))
		}
		if p.Stores, err = stores.All(ctx); err != nil {
			return nil, fmt.Errorf("loading stores: %w", err)
		}
		p.PasswordExpiresAt = s.passwordExpiry(v.Role, m.PasswordChangedAt, m.CreatedAt)
	}
	return p, nil
}

// passwordExpiry is when a password set at changedAt (or, never changed,
// at created) is due for rotation; nil for roles whose passwords don't
// expire.
func (s *Service) passwordExpiry(role viewer.Role, changedAt *time.Time, created time.Time) *time.Time {
	if role == viewer.RoleCashier || s.cfg.PasswordMaxAge <= 0 {
		return nil
	}
	set := created
	if changedAt != nil {
		set = *changedAt
	}
	due := set.Add(s.cfg.PasswordMaxAge).UTC()
	return &due
}

func (s *Service) startSession(ctx context.Context, acct *account) (*Tokens, error) {
	return s.startSessionOn(ctx, acct, nil)
}

// startSessionOn opens a session, bound to dev when it is not nil.
func (s *Service) startSessionOn(ctx context.Context, acct *account, dev *ent.Device) (*Tokens, error) {
	req := reqinfo.FromContext(ctx)
	sess := &Session{
		Kind: acct.kind, SubjectID: acct.id, MerchantID: acct.merchantID, Role: acct.role,
		IP: req.IP, UserAgent: req.UserAgent,
	}
	if dev != nil {
		sess.DeviceID, sess.DeviceEpoch = dev.ID, dev.SessionEpoch
	}
	refresh, refreshExpiry, err := s.sessions.Create(ctx, sess)
	if err != nil {
		return nil, err
	}
	return s.issue(ctx, sess, refresh, refreshExpiry)
}

func (s *Service) issue(ctx context.Context, sess *Session, refresh string, refreshExpiry time.Time) (*Tokens, error) {
	access, accessExpiry, err := s.issuer.Issue(token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: string(sess.SubjectID)},
		SessionID:        sess.ID,
		Kind:             string(sess.Kind),
		MerchantID:       string(sess.MerchantID),
		Role:             string(sess.Role),
	})
	if err != nil {
		return nil, fmt.Errorf("issuing access token: %w", err)
	}
	profile, err := s.Profile(viewer.NewContext(ctx, sess.viewer()))
	if err != nil {
		return nil, err
	}
	return &Tokens{
		AccessToken: access, AccessTokenExpiresAt: accessExpiry.UTC(),
		RefreshToken: refresh, RefreshTokenExpiresAt: refreshExpiry.UTC(),
		Profile: profile,
	}, nil
}

func (sess *Session) viewer() *viewer.Viewer {
	return &viewer.Viewer{Kind: sess.Kind, ID: sess.SubjectID, MerchantID: sess.MerchantID, Role: sess.Role, SessionID: sess.ID, DeviceID: sess.DeviceID}
}

// findAccount looks a login email up among staff, then operators.
func (s *Service) findAccount(ctx context.Context, email string) (*account, error) {
	sysCtx := viewer.NewSystemContext(ctx, "login")
	m, err := s.db.Staff.Query().Where(staff.Email(email)).Only(sysCtx)
	if err == nil {
		return staffAccount(m), nil
	}
	if !ent.IsNotFound(err) {
		return nil, fmt.Errorf("looking up staff: %w", err)
	}
	op, err := s.db.Operator.Query().Where(operator.Email(email)).Only(sysCtx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up operator: %w", err)
	}
	return operatorAccount(op), nil
}

func (s *Service) loadAccount(ctx context.Context, kind viewer.Kind, id pulid.ID) (*account, error) {
	sysCtx := viewer.NewSystemContext(ctx, "load-account")
	switch kind {
	case viewer.KindStaff:
		m, err := s.db.Staff.Get(sysCtx, id)
		if ent.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("loading staff: %w", err)
		}
		return staffAccount(m), nil
	case viewer.KindOperator:
		op, err := s.db.Operator.Get(sysCtx, id)
		if ent.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("loading operator: %w", err)
		}
		return operatorAccount(op), nil
	}
	return nil, fmt.Errorf("unknown account kind %q", kind)
}

func staffAccount(m *ent.Staff) *account {
	a := &account{kind: viewer.KindStaff, id: m.ID, merchantID: m.MerchantID, role: viewer.Role(m.Role), passwordHash: m.PasswordHash, active: m.Active}
	if m.Email != nil {
		a.email = *m.Email
	}
	return a
}

func operatorAccount(op *ent.Operator) *account {
	return &account{kind: viewer.KindOperator, id: op.ID, role: viewer.RoleOperator, email: op.Email, passwordHash: op.PasswordHash, active: op.Active}
}

// checkUsable refuses deactivated accounts and staff of suspended merchants.
func (s *Service) checkUsable(ctx context.Context, acct *account) error {
	if !acct.active {
		return errs.Newf(errs.Unauthenticated, "account is deactivated")
	}
	if acct.kind != viewer.KindStaff {
		return nil
	}
	m, err := s.db.Merchant.Get(viewer.NewSystemContext(ctx, "login"), acct.merchantID)
	if err != nil {
		return fmt.Errorf("loading merchant: %w", err)
	}
	if m.Status == merchant.StatusSUSPENDED {
		return errs.Newf(errs.Forbidden, "merchant is suspended")
	}
	return nil
}

func (s *Service) touchLastLogin(ctx context.Context, acct *account) error {
	sysCtx := viewer.NewSystemContext(ctx, "login")
	var err error
	if acct.kind == viewer.KindStaff {
		err = s.db.Staff.UpdateOneID(acct.id).SetLastLoginAt(s.now()).Exec(sysCtx)
	} else {
		err = s.db.Operator.UpdateOneID(acct.id).SetLastLoginAt(s.now()).Exec(sysCtx)
	}
	if err != nil {
		return fmt.Errorf("recording login: %w", err)
	}
	return nil
}

// recordFailure counts a failed login for the email and locks the account
// when the count reaches the threshold within the window.
func (s *Service) recordFailure(ctx context.Context, acct *account, emailKey string) error {
	failKey := s.failKey(emailKey)
	n, err := s.rdb.Incr(ctx, failKey).Result()
	if err != nil {
		return fmt.Errorf("counting failed login: %w", err)
	}
	if n == 1 {
		if err := s.rdb.Expire(ctx, failKey, s.cfg.LockoutWindow).Err(); err != nil {
			return fmt.Errorf("counting failed login: %w", err)
		}
	}
	if s.cfg.LockoutThreshold <= 0 || n < int64(s.cfg.LockoutThreshold) {
		return nil
	}
	if _, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.lockKey(emailKey), "1", s.cfg.LockoutDuration)
		p.Del(ctx, failKey)
		return nil
	}); err != nil {
		return fmt.Errorf("locking account: %w", err)
	}
	s.log.WarnContext(ctx, "account locked after failed logins", "kind", acct.kind, "account", acct.id, "failures", n)
	if acct.kind != viewer.KindStaff {
		return nil
	}
	return audit.Record(viewer.NewSystemContext(ctx, "login"), s.db, audit.Entry{
		MerchantID: acct.merchantID, Action: "staff.locked_out", TargetType: "Staff", TargetID: acct.id,
		Details: map[string]any{"failedAttempts": n, "lockedForSeconds": s.cfg.LockoutDuration.Seconds()},
	})
}

// Allow spends one attempt of name for key under limit, or answers
// RATE_LIMITED with when to retry: logins here, pairing in devices.
func (s *Service) Allow(ctx context.Context, name, key string, limit ratelimit.Limit) error {
	err := s.limiter.Allow(ctx, name, key, limit)
	var limited *ratelimit.LimitedError
	if errors.As(err, &limited) {
		return errs.Limited(limited.RetryAfter)
	}
	return err
}

func (s *Service) failKey(emailKey string) string { return s.prefix + "login-fail:" + emailKey }
func (s *Service) lockKey(emailKey string) string { return s.prefix + "login-lock:" + emailKey }

// NormalizeEmail is the canonical form of a login email.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// digest keeps emails out of Redis key names.
func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}
