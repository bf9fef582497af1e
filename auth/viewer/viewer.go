// Package viewer carries who is calling through a context.Context.
//
// auth puts a Viewer in the context of every authenticated request; nothing
// else constructs one except tests and named system jobs, which use
// NewSystemContext. Privacy rules and domain services read it with
// FromContext.
package viewer

import (
	"context"
	"slices"

	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
)

// Kind says what sort of principal a Viewer is.
type Kind string

// Viewer kinds.
const (
	KindStaff    Kind = "staff"
	KindOperator Kind = "operator"
	// KindSystem is a job or bootstrap path acting on behalf of the platform
	// itself (sign-up before any account exists, login lookups, migrations).
	KindSystem Kind = "system"
)

// Role is a staff member's or operator's role. Its values match the GraphQL
// Role enum.
type Role string

// Roles, from most to least powerful within a merchant.
const (
	RoleOwner    Role = "OWNER"
	RoleManager  Role = "MANAGER"
	RoleCashier  Role = "CASHIER"
	RoleOperator Role = "OPERATOR"
)

// Viewer is the caller of a request.
type Viewer struct {
	Kind Kind
	// ID is the staff member's or operator's ID; empty for the system.
	ID pulid.ID
	// MerchantID is set for staff: every tenant-owned read and write is
	// confined to it.
	MerchantID pulid.ID
	Role       Role
	// SessionID identifies the login session the request came with.
	SessionID string
	// MerchantSuspended is set for staff of a suspended merchant; the API
	// refuses them with FORBIDDEN except to let them log out.
	MerchantSuspended bool
	// Reason names the system job, for logs and audit entries.
	Reason string
	// DeviceID is the terminal a cashier logged in on with a PIN; empty
	// for sessions opened with a password.
	DeviceID pulid.ID
	// StoreIDs are the stores a staff member other than the owner works
	// at, read when the request was authenticated, so that confining them
	// to their stores is a plain list in every query. Nil when they were
	// not read (a viewer made by hand); checks then look them up.
	StoreIDs []pulid.ID
}

// IsStaff reports whether v is a merchant's staff member.
func (v *Viewer) IsStaff() bool { return v != nil && v.Kind == KindStaff }

// IsOperator reports whether v is a platform operator.
func (v *Viewer) IsOperator() bool { return v != nil && v.Kind == KindOperator }

// IsSystem reports whether v is a named system job.
func (v *Viewer) IsSystem() bool { return v != nil && v.Kind == KindSystem }

// HasRole reports whether v holds one of roles.
func (v *Viewer) HasRole(roles ...Role) bool {
	return v != nil && slices.Contains(roles, v.Role)
}

type ctxKey struct{}

// NewContext returns a copy of ctx carrying v.
func NewContext(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, ctxKey{}, v)
}

// FromContext returns the viewer in ctx, or nil when there is none.
func FromContext(ctx context.Context) *Viewer {
	v, _ := ctx.Value(ctxKey{}).(*Viewer)
	return v
}

// NewSystemContext returns ctx acting as the platform itself. reason names
// the job ("signup", "login") and must be a constant at the call site, so
// every bypass of tenant rules is greppable.
func NewSystemContext(ctx context.Context, reason string) context.Context {
	return NewContext(ctx, &Viewer{Kind: KindSystem, Reason: reason})
}

// Staff returns the staff viewer in ctx, or FORBIDDEN; with roles, the
// viewer must hold one of them.
func Staff(ctx context.Context, roles ...Role) (*Viewer, error) {
	v := FromContext(ctx)
	if !v.IsStaff() {
		return nil, errs.Newf(errs.Forbidden, "only a merchant's staff do this")
	}
	if len(roles) > 0 && !v.HasRole(roles...) {
		return nil, errs.Newf(errs.Forbidden, "your role may not do this")
	}
	return v, nil
}
