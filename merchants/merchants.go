// Package merchants onboards merchants and manages their profile, status
// and stores.
package merchants

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/merchant"
	"github.com/tillpos/till/ent/operator"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/staff"
	"github.com/tillpos/till/errs"
)

// Service manages merchants and their stores.
type Service struct {
	db     *ent.Client
	hasher *password.Hasher
	now    func() time.Time
}

// New returns a Service.
func New(client *ent.Client, hasher *password.Hasher) *Service {
	return &Service{db: client, hasher: hasher, now: db.Now}
}

// SignUpInput is what a new merchant gives to start.
type SignUpInput struct {
	MerchantName string
	OwnerName    string
	Email        string
	Password     string
	Currency     string
	TimeZone     string
	Locale       string
	StoreName    string
}

// SignUp creates a merchant, its first store and its OWNER in one
// transaction, and returns the owner.
//
// Errors: BAD_USER_INPUT (naming the field), CONFLICT (email taken).
func (s *Service) SignUp(ctx context.Context, in SignUpInput) (*ent.Staff, error) {
	in.Email = strings.ToLower(strings.TrimSpace(in.Email))
	if in.Locale == "" {
		in.Locale = "en"
	}
	if err := validateSignUp(&in); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(in.Password)
	if err != nil {
		return nil, fmt.Errorf("hashing password: %w", err)
	}
	ctx = viewer.NewSystemContext(ctx, "signup")
	owner, err := db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Staff, error) {
		if err := EnsureEmailFree(ctx, tx.Client(), in.Email); err != nil {
			return nil, err
		}
		m, err := tx.Merchant.Create().
			SetName(in.MerchantName).
			SetCurrency(in.Currency).
			SetLocale(in.Locale).
			Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("creating merchant: %w", err)
		}
		st, err := tx.Store.Create().
			SetMerchantID(m.ID).
			SetName(in.StoreName).
			SetTimeZone(in.TimeZone).
			Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("creating store: %w", err)
		}
		owner, err := tx.Staff.Create().
			SetMerchantID(m.ID).
			SetName(in.OwnerName).
			SetEmail(in.Email).
			SetRole(staff.RoleOWNER).
			SetPasswordHash(hash).
			SetPasswordChangedAt(s.now()).
			AddStores(st).
			Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("creating owner: %w", err)
		}
		return owner, audit.Record(ctx, tx.Client(), audit.Entry{
			MerchantID: m.ID, Action: "merchant.signed_up", TargetType: "Merchant", TargetID: m.ID,
			Details: map[string]any{"owner": string(owner.ID), "store": string(st.ID)},
		})
	})
	if ent.IsConstraintError(err) {
		return nil, &errs.Error{Code: errs.Conflict, Field: "email", Message: "email is already registered"}
	}
	return owner, err
}

func validateSignUp(in *SignUpInput) error {
	in.MerchantName = strings.TrimSpace(in.MerchantName)
	in.OwnerName = strings.TrimSpace(in.OwnerName)
	if in.StoreName = strings.TrimSpace(in.StoreName); in.StoreName == "" {
		in.StoreName = in.MerchantName
	}
	if err := validateName("merchantName", in.MerchantName); err != nil {
		return err
	}
	if err := validateName("ownerName", in.OwnerName); err != nil {
		return err
	}
	if err := ValidateEmail("email", in.Email); err != nil {
		return err
	}
	if err := password.CheckPassword(in.Password, in.Email); err != nil {
		return errs.Invalid("password", "%s", err.Error())
	}
	code, err := ValidateCurrency(in.Currency)
	if err != nil {
		return err
	}
	in.Currency = code
	if err := ValidateTimeZone("timeZone", in.TimeZone); err != nil {
		return err
	}
	locale, err := ValidateLocale(in.Locale)
	if err != nil {
		return err
	}
	in.Locale = locale
	return validateName("storeName", in.StoreName)
}

// EnsureEmailFree fails with CONFLICT when a staff member or operator
// already logs in with email. Emails are unique per table by index; this
// also keeps them unique across the two, since logIn looks in both.
func EnsureEmailFree(ctx context.Context, client *ent.Client, email string) error {
	ctx = viewer.NewSystemContext(ctx, "email-check")
	taken, err := client.Staff.Query().Where(staff.Email(email)).Exist(ctx)
	if err == nil && !taken {
		taken, err = client.Operator.Query().Where(operator.Email(email)).Exist(ctx)
	}
	if err != nil {
		return fmt.Errorf("checking email: %w", err)
	}
	if taken {
		return &errs.Error{Code: errs.Conflict, Field: "email", Message: "email is already registered"}
	}
	return nil
}

// UpdateInput changes a merchant's profile; nil fields stay as they are.
type UpdateInput struct {
	Name   *string
	Locale *string
	// CashiersSeeFullContact lets cashiers reveal customers' contact details.
	CashiersSeeFullContact *bool
}

// Update changes the caller's merchant. OWNER only.
func (s *Service) Update(ctx context.Context, in UpdateInput) (*ent.Merchant, error) {
	v := viewer.FromContext(ctx)
	if !v.IsStaff() || !v.HasRole(viewer.RoleOwner) {
		return nil, errs.Newf(errs.Forbidden, "only the owner can change the merchant")
	}
	changes := map[string]any{}
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if err := validateName("name", name); err != nil {
			return nil, err
		}
		changes["name"] = name
	}
	if in.Locale != nil {
		locale, err := ValidateLocale(*in.Locale)
		if err != nil {
			return nil, err
		}
		changes["locale"] = locale
	}
	if in.CashiersSeeFullContact != nil {
		changes["cashiersSeeFullContact"] = *in.CashiersSeeFullContact
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Merchant, error) {
		upd := tx.Merchant.UpdateOneID(v.MerchantID)
		if name, ok := changes["name"].(string); ok {
			upd.SetName(name)
		}
		if locale, ok := changes["locale"].(string); ok {
			upd.SetLocale(locale)
		}
		if full, ok := changes["cashiersSeeFullContact"].(bool); ok {
			upd.SetCashiersSeeFullContact(full)
		}
		m, err := upd.Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("updating merchant: %w", err)
		}
		return m, audit.Record(ctx, tx.Client(), audit.Entry{Action: "merchant.updated", TargetType: "Merchant", TargetID: m.ID, Details: changes})
	})
}

// Suspend stops a merchant's staff from using Till until Reactivate.
// OPERATOR only. Errors: FORBIDDEN, NOT_FOUND, BAD_USER_INPUT.
func (s *Service) Suspend(ctx context.Context, id pulid.ID, reason string) (*ent.Merchant, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, errs.Invalid("reason", "a reason is required")
	}
	return s.setStatus(ctx, id, merchant.StatusSUSPENDED, reason)
}

// Reactivate lifts a suspension. OPERATOR only.
func (s *Service) Reactivate(ctx context.Context, id pulid.ID) (*ent.Merchant, error) {
	return s.setStatus(ctx, id, merchant.StatusACTIVE, "")
}

func (s *Service) setStatus(ctx context.Context, id pulid.ID, status merchant.Status, reason string) (*ent.Merchant, error) {
	if !viewer.FromContext(ctx).IsOperator() {
		return nil, errs.Newf(errs.Forbidden, "only platform operators can change a merchant's status")
	}
	m, err := db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Merchant, error) {
		upd := tx.Merchant.UpdateOneID(id).SetStatus(status)
		if status == merchant.StatusSUSPENDED {
			upd.SetSuspendedAt(s.now()).SetSuspendedReason(reason)
		} else {
			upd.ClearSuspendedAt().ClearSuspendedReason()
		}
		m, err := upd.Save(ctx)
		if err != nil {
			return nil, err
		}
		return m, audit.Record(ctx, tx.Client(), audit.Entry{
			MerchantID: id, Action: "merchant." + strings.ToLower(string(status)), TargetType: "Merchant", TargetID: id,
			Details: map[string]any{"reason": reason},
		})
	})
	if ent.IsNotFound(err) {
		return nil, errs.Newf(errs.NotFound, "merchant not found")
	}
	return m, err
}

func validateName(field, name string) error {
	if name == "" {
		return errs.Invalid(field, "must not be empty")
	}
	if len([]rune(name)) > 200 {
		return errs.Invalid(field, "must be at most 200 characters")
	}
	return nil
}

// ValidateEmail checks the shape of a login email (already normalised).
func ValidateEmail(field, email string) error {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || !strings.Contains(domain, ".") || strings.ContainsAny(email, " \t\r\n") || len(email) > 254 {
		return errs.Invalid(field, "must be a valid email address")
	}
	return nil
}

// notMoney are ISO 4217 codes for metals, funds and testing, which no
// merchant sells in.
var notMoney = map[string]bool{
	"XAG": true, "XAU": true, "XPD": true, "XPT": true, "XBA": true, "XBB": true, "XBC": true,
	"XBD": true, "XDR": true, "XSU": true, "XUA": true, "XTS": true, "XXX": true,
}

// ValidateCurrency checks an ISO 4217 code and returns it upper-cased.
func ValidateCurrency(code string) (string, error) {
	unit, err := currency.ParseISO(strings.TrimSpace(code))
	if err != nil || notMoney[unit.String()] {
		return "", errs.Invalid("currency", "must be an ISO 4217 code such as USD or CNY")
	}
	return unit.String(), nil
}

// ValidateTimeZone checks an IANA time zone name.
func ValidateTimeZone(field, tz string) error {
	if tz == "" || tz == "Local" {
		return errs.Invalid(field, "must be an IANA time zone such as Asia/Shanghai")
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return errs.Invalid(field, "must be an IANA time zone such as Asia/Shanghai")
	}
	return nil
}

// ValidateLocale checks a BCP 47 tag and returns its canonical form.
func ValidateLocale(tag string) (string, error) {
	t, err := language.Parse(strings.TrimSpace(tag))
	if err != nil {
		return "", errs.Invalid("locale", "must be a BCP 47 language tag such as en or zh-CN")
	}
	return t.String(), nil
}
