package graph

import (
	"context"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/tillpos/till/auth"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/ent"
)

// AuthPayload is a new session's tokens and whose session it is.
type AuthPayload struct {
	AccessToken           string    `json:"accessToken"`
	AccessTokenExpiresAt  time.Time `json:"accessTokenExpiresAt"`
	RefreshToken          string    `json:"refreshToken"`
	RefreshTokenExpiresAt time.Time `json:"refreshTokenExpiresAt"`
	Viewer                *Viewer   `json:"viewer"`
	// session is the new session's viewer: the request that opened it is
	// anonymous, yet the payload's viewer subtree must load as its owner.
	session *viewer.Viewer
}

// ResolveAsNewSession is field middleware: the fields of an AuthPayload
// resolve as the session it opened.
func ResolveAsNewSession(ctx context.Context, next graphql.Resolver) (any, error) {
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Parent != nil {
		if p, ok := fc.Parent.Result.(*AuthPayload); ok && p.session != nil {
			ctx = viewer.NewContext(ctx, p.session)
		}
	}
	return next(ctx)
}

// The helpers below map domain results to payload types, passing errors
// through, so resolvers stay one call long.

func authPayload(t *auth.Tokens, err error) (*AuthPayload, error) {
	if err != nil {
		return nil, err
	}
	return &AuthPayload{
		AccessToken: t.AccessToken, AccessTokenExpiresAt: t.AccessTokenExpiresAt,
		RefreshToken: t.RefreshToken, RefreshTokenExpiresAt: t.RefreshTokenExpiresAt,
		Viewer: toViewer(t.Profile), session: t.Profile.Viewer,
	}, nil
}

func toViewer(p *auth.Profile) *Viewer {
	return &Viewer{
		Kind:              ViewerKind(strings.ToUpper(string(p.Viewer.Kind))),
		Role:              ViewerRole(p.Viewer.Role),
		Staff:             p.Staff,
		Operator:          p.Operator,
		Merchant:          p.Merchant,
		Stores:            p.Stores,
		PasswordExpiresAt: p.PasswordExpiresAt,
	}
}

func merchantPayload(m *ent.Merchant, err error) (*MerchantPayload, error) {
	if err != nil {
		return nil, err
	}
	return &MerchantPayload{Merchant: m}, nil
}

func storePayload(s *ent.Store, err error) (*StorePayload, error) {
	if err != nil {
		return nil, err
	}
	return &StorePayload{Store: s}, nil
}

func staffPayload(s *ent.Staff, err error) (*StaffPayload, error) {
	if err != nil {
		return nil, err
	}
	return &StaffPayload{Staff: s}, nil
}

// deref is *p, or the zero value when p is nil.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func customerPayload(c *ent.Customer, err error) (*CustomerPayload, error) {
	if err != nil {
		return nil, err
	}
	return &CustomerPayload{Customer: c}, nil
}

func consent(in *CustomerConsentInput) customers.Consent {
	if in == nil {
		return customers.Consent{}
	}
	return customers.Consent{Push: in.Push, SMS: in.Sms, Email: in.Email}
}
