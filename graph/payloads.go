package graph

import (
	"strings"

	"github.com/tillpos/till/auth"
	"github.com/tillpos/till/ent"
)

// The helpers below map domain results to payload types, passing errors
// through, so resolvers stay one call long.

func authPayload(t *auth.Tokens, err error) (*AuthPayload, error) {
	if err != nil {
		return nil, err
	}
	return &AuthPayload{
		AccessToken: t.AccessToken, AccessTokenExpiresAt: t.AccessTokenExpiresAt,
		RefreshToken: t.RefreshToken, RefreshTokenExpiresAt: t.RefreshTokenExpiresAt,
		Viewer: toViewer(t.Profile),
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

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
