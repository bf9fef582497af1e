// Package staff manages a merchant's people: adding them, their roles,
// stores, PINs and passwords, and taking access away.
//
// Who may manage whom: an OWNER manages everyone; a MANAGER manages
// MANAGERs and CASHIERs but never an OWNER (nor makes anyone one); a
// CASHIER manages nobody, though anyone may set their own PIN.
package staff

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	entstaff "github.com/tillpos/till/ent/staff"
	"github.com/tillpos/till/ent/store"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/merchants"
)

// SessionEnder ends a person's sessions; auth.Service implements it.
type SessionEnder interface {
	EndSessions(ctx context.Context, subject pulid.ID) (int, error)
}

// Service manages staff.
type Service struct {
	db       *ent.Client
	hasher   *password.Hasher
	sessions SessionEnder
	now      func() time.Time
}

// New returns a Service.
func New(client *ent.Client, hasher *password.Hasher, sessions SessionEnder) *Service {
	return &Service{db: client, hasher: hasher, sessions: sessions, now: db.Now}
}

// CanManage reports whether actor may manage someone who has (or is to
// get) role target.
func CanManage(actor *viewer.Viewer, target entstaff.Role) bool {
	if !actor.IsStaff() {
		return false
	}
	switch actor.Role {
	case viewer.RoleOwner:
		return true
	case viewer.RoleManager:
		return target != entstaff.RoleOWNER
	default:
		return false
	}
}

// CreateInput describes a new staff member.
type CreateInput struct {
	Name     string
	Email    *string
	Phone    *string
	Role     entstaff.Role
	Password *string
	PIN      *string
	StoreIDs []pulid.ID
}

// Create adds a staff member.
//
// Errors: FORBIDDEN (role matrix), BAD_USER_INPUT, CONFLICT (email taken).
func (s *Service) Create(ctx context.Context, in CreateInput) (*ent.Staff, error) {
	v := viewer.FromContext(ctx)
	if !CanManage(v, in.Role) {
		return nil, errs.Newf(errs.Forbidden, "you cannot add a staff member with role %s", in.Role)
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		return nil, errs.Invalid("name", "must not be empty")
	}
	var email string
	if in.Email != nil && strings.TrimSpace(*in.Email) != "" {
		email = strings.ToLower(strings.TrimSpace(*in.Email))
		if err := merchants.ValidateEmail("email", email); err != nil {
			return nil, err
		}
	}
	hasPassword := in.Password != nil && *in.Password != ""
	switch {
	case in.Role != entstaff.RoleCASHIER && email == "":
		return nil, errs.Invalid("email", "is required for role %s, who logs in with email and password", in.Role)
	case email != "" && !hasPassword:
		return nil, errs.Invalid("password", "required when an email is given")
	case hasPassword && email == "":
		return nil, errs.Invalid("email", "required when a password is given")
	case !hasPassword && (in.PIN == nil || *in.PIN == ""):
		return nil, errs.Invalid("pin", "a cashier without a password needs a PIN")
	}
	create := func(tx *ent.Tx) (*ent.Staff, error) {
		c := tx.Staff.Create().SetName(in.Name).SetRole(in.Role)
		if in.Phone != nil {
			c.SetPhone(strings.TrimSpace(*in.Phone))
		}
		if email != "" {
			if err := merchants.EnsureEmailFree(ctx, tx.Client(), email); err != nil {
				return nil, err
			}
			hash, err := s.hashPassword("password", *in.Password, email)
			if err != nil {
				return nil, err
			}
			c.SetEmail(email).SetPasswordHash(hash).SetPasswordChangedAt(s.now())
		}
		if in.PIN != nil && *in.PIN != "" {
			hash, err := s.hashPIN(*in.PIN)
			if err != nil {
				return nil, err
			}
			c.SetPinHash(hash)
		}
		if err := checkStores(ctx, tx.Client(), in.StoreIDs); err != nil {
			return nil, err
		}
		c.AddStoreIDs(in.StoreIDs...)
		return c.Save(ctx)
	}
	m, err := db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Staff, error) {
		m, err := create(tx)
		if err != nil {
			return nil, err
		}
		return m, audit.Record(ctx, tx.Client(), audit.Entry{
			Action: "staff.created", TargetType: "Staff", TargetID: m.ID,
			Details: map[string]any{"role": string(m.Role)},
		})
	})
	if ent.IsConstraintError(err) {
		return nil, &errs.Error{Code: errs.Conflict, Field: "email", Message: "email is already registered"}
	}
	return m, err
}

// UpdateInput changes a staff member; nil fields stay as they are.
type UpdateInput struct {
	ID    pulid.ID
	Name  *string
	Phone *string
	Role  *entstaff.Role
	// StoreIDs, when not nil, replaces the staff member's stores.
	StoreIDs []pulid.ID
}

// Update changes a staff member's details, role or stores. A role change
// ends their sessions, since the role travels in their tokens.
func (s *Service) Update(ctx context.Context, in UpdateInput) (*ent.Staff, error) {
	roleChanged := false
	m, err := s.change(ctx, in.ID, "staff.updated", func(tx *ent.Tx, target *ent.Staff, details map[string]any) (*ent.StaffUpdateOne, error) {
		upd := tx.Staff.UpdateOne(target)
		if in.Name != nil {
			name := strings.TrimSpace(*in.Name)
			if name == "" {
				return nil, errs.Invalid("name", "must not be empty")
			}
			upd.SetName(name)
			details["name"] = name
		}
		if in.Phone != nil {
			upd.SetPhone(strings.TrimSpace(*in.Phone))
		}
		if in.Role != nil && *in.Role != target.Role {
			if !CanManage(viewer.FromContext(ctx), *in.Role) {
				return nil, errs.Newf(errs.Forbidden, "you cannot give the role %s", *in.Role)
			}
			if target.Role == entstaff.RoleOWNER {
				if err := ensureAnotherOwner(ctx, tx, target.ID); err != nil {
					return nil, err
				}
			}
			upd.SetRole(*in.Role)
			details["role"] = string(*in.Role)
			roleChanged = true
		}
		if in.StoreIDs != nil {
			if err := checkStores(ctx, tx.Client(), in.StoreIDs); err != nil {
				return nil, err
			}
			upd.ClearStores().AddStoreIDs(in.StoreIDs...)
			details["stores"] = len(in.StoreIDs)
		}
		return upd, nil
	})
	if err != nil || !roleChanged {
		return m, err
	}
	return m, s.endSessions(ctx, m.ID)
}

// SetPIN sets a staff member's PIN; anyone may set their own.
func (s *Service) SetPIN(ctx context.Context, id pulid.ID, pin string) (*ent.Staff, error) {
	hash, err := s.hashPIN(pin)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, id, "staff.pin_set", func(tx *ent.Tx, target *ent.Staff, _ map[string]any) (*ent.StaffUpdateOne, error) {
		return tx.Staff.UpdateOne(target).SetPinHash(hash), nil
	})
}

// ResetPassword sets a new password for a staff member with a login email
// and ends their sessions. Nobody resets their own: that is changePassword,
// which asks for the current one, so a stolen token cannot take the account.
func (s *Service) ResetPassword(ctx context.Context, id pulid.ID, newPassword string) (*ent.Staff, error) {
	m, err := s.change(ctx, id, "staff.password_reset", func(tx *ent.Tx, target *ent.Staff, _ map[string]any) (*ent.StaffUpdateOne, error) {
		if target.ID == viewer.FromContext(ctx).ID {
			return nil, errs.Invalid("staffId", "use changePassword to change your own password")
		}
		if target.Email == nil {
			return nil, errs.Invalid("staffId", "this staff member has no login email")
		}
		hash, err := s.hashPassword("newPassword", newPassword, *target.Email)
		if err != nil {
			return nil, err
		}
		return tx.Staff.UpdateOne(target).SetPasswordHash(hash).SetPasswordChangedAt(s.now()), nil
	})
	if err != nil {
		return nil, err
	}
	return m, s.endSessions(ctx, m.ID)
}

// Deactivate takes a staff member's access away and ends their sessions at
// once. Nobody deactivates themselves or the last active OWNER.
func (s *Service) Deactivate(ctx context.Context, id pulid.ID) (*ent.Staff, error) {
	if v := viewer.FromContext(ctx); v != nil && v.ID == id {
		return nil, errs.Invalid("staffId", "you cannot deactivate yourself")
	}
	m, err := s.change(ctx, id, "staff.deactivated", func(tx *ent.Tx, target *ent.Staff, _ map[string]any) (*ent.StaffUpdateOne, error) {
		if target.Role == entstaff.RoleOWNER {
			if err := ensureAnotherOwner(ctx, tx, target.ID); err != nil {
				return nil, err
			}
		}
		return tx.Staff.UpdateOne(target).SetActive(false), nil
	})
	if err != nil {
		return nil, err
	}
	return m, s.endSessions(ctx, m.ID)
}

// Reactivate gives a deactivated staff member their access back.
func (s *Service) Reactivate(ctx context.Context, id pulid.ID) (*ent.Staff, error) {
	return s.change(ctx, id, "staff.reactivated", func(tx *ent.Tx, target *ent.Staff, _ map[string]any) (*ent.StaffUpdateOne, error) {
		return tx.Staff.UpdateOne(target).SetActive(true), nil
	})
}

// change loads the target in the caller's merchant, checks the caller may
// manage it (or it is the caller's own PIN), applies edit and audits it,
// all in one transaction.
func (s *Service) change(ctx context.Context, id pulid.ID, action string,
	edit func(tx *ent.Tx, target *ent.Staff, details map[string]any) (*ent.StaffUpdateOne, error),
) (*ent.Staff, error) {
	v := viewer.FromContext(ctx)
	if !v.IsStaff() {
		return nil, errs.Newf(errs.Forbidden, "only a merchant's staff manage its staff")
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Staff, error) {
		target, err := tx.Staff.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil, errs.Newf(errs.NotFound, "staff member not found")
		}
		if err != nil {
			return nil, fmt.Errorf("loading staff: %w", err)
		}
		ownPIN := action == "staff.pin_set" && target.ID == v.ID
		if !ownPIN && !CanManage(v, target.Role) {
			return nil, errs.Newf(errs.Forbidden, "you cannot manage a staff member with role %s", target.Role)
		}
		details := map[string]any{}
		upd, err := edit(tx, target, details)
		if err != nil {
			return nil, err
		}
		m, err := upd.Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("saving staff: %w", err)
		}
		return m, audit.Record(ctx, tx.Client(), audit.Entry{Action: action, TargetType: "Staff", TargetID: m.ID, Details: details})
	})
}

// ensureAnotherOwner keeps a merchant from losing its last active OWNER.
// It locks every active owner first, so two owners removing each other at
// once cannot both see the other as the one who stays.
func ensureAnotherOwner(ctx context.Context, tx *ent.Tx, leaving pulid.ID) error {
	owners, err := tx.Staff.Query().
		Where(entstaff.RoleEQ(entstaff.RoleOWNER), entstaff.Active(true)).
		Order(ent.Asc(entstaff.FieldID)).
		Select(entstaff.FieldID).
		Modify(db.ForUpdate).
		Strings(ctx)
	if err != nil {
		return fmt.Errorf("locking owners: %w", err)
	}
	if !slices.ContainsFunc(owners, func(id string) bool { return id != string(leaving) }) {
		return errs.Newf(errs.Conflict, "a merchant must keep at least one active owner")
	}
	return nil
}

// checkStores fails unless every id is a store of the caller's merchant.
func checkStores(ctx context.Context, client *ent.Client, ids []pulid.ID) error {
	unique := slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(unique) == 0 {
		return nil
	}
	n, err := client.Store.Query().Where(store.IDIn(unique...)).Count(ctx)
	if err != nil {
		return fmt.Errorf("checking stores: %w", err)
	}
	if n != len(unique) {
		// Another merchant's store is as absent as one that never was.
		return &errs.Error{Code: errs.NotFound, Field: "storeIds", Message: "store not found"}
	}
	return nil
}

func (s *Service) hashPassword(field, secret, email string) (string, error) {
	if err := password.CheckPassword(secret, email); err != nil {
		return "", errs.Invalid(field, "%s", err.Error())
	}
	hash, err := s.hasher.Hash(secret)
	if err != nil {
		return "", fmt.Errorf("hashing password: %w", err)
	}
	return hash, nil
}

func (s *Service) hashPIN(pin string) (string, error) {
	if err := password.CheckPIN(pin); err != nil {
		return "", errs.Invalid("pin", "%s", err.Error())
	}
	hash, err := s.hasher.Hash(pin)
	if err != nil {
		return "", fmt.Errorf("hashing PIN: %w", err)
	}
	return hash, nil
}

// endSessions runs after the change has committed: a failure here leaves
// the change in place and reports the error, so the caller retries.
func (s *Service) endSessions(ctx context.Context, id pulid.ID) error {
	if _, err := s.sessions.EndSessions(ctx, id); err != nil {
		return fmt.Errorf("ending sessions: %w", err)
	}
	return nil
}
