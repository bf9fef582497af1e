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
	"github.com/tillpos/till/sales"
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

func releasePayload(r *ent.Release, err error) (*ReleasePayload, error) {
	if err != nil {
		return nil, err
	}
	return &ReleasePayload{Release: r}, nil
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

func salePayload(s *ent.Sale, err error) (*SalePayload, error) {
	if err != nil {
		return nil, err
	}
	return &SalePayload{Sale: s}, nil
}

func refundPayload(res *sales.RefundResult, err error) (*RefundPayload, error) {
	if err != nil {
		return nil, err
	}
	return &RefundPayload{Refund: res.Refund, Sale: res.Sale, Replayed: res.Replayed}, nil
}

func riskListEntryPayload(e *ent.RiskListEntry, err error) (*RiskListEntryPayload, error) {
	if err != nil {
		return nil, err
	}
	return &RiskListEntryPayload{RiskListEntry: e}, nil
}

// uploadPayload is the results of an upload, their sales read again with
// the edges the operation selects, for all of them at once.
func uploadPayload(ctx context.Context, client *ent.Client, results []sales.UploadResult) (*UploadSalesPayload, error) {
	var made []*ent.Sale
	for _, res := range results {
		if res.Sale != nil {
			made = append(made, res.Sale)
		}
	}
	made, err := collected(ctx, client, made, "results", "sale")
	if err != nil {
		return nil, err
	}
	out := &UploadSalesPayload{Results: make([]*UploadSaleResult, len(results))}
	for i, res := range results {
		item := &UploadSaleResult{IdempotencyKey: res.IdempotencyKey, Status: res.Status}
		if res.Sale != nil {
			item.Sale, made = made[0], made[1:]
		}
		if res.Err != nil {
			item.Error = &UploadSaleError{Code: string(res.Err.Code), Message: res.Err.Message}
			if res.Err.Field != "" {
				item.Error.Field = &res.Err.Field
			}
			if res.Err.Rule != "" {
				item.Error.Rule = &res.Err.Rule
			}
		}
		out.Results[i] = item
	}
	return out, nil
}

func devicePayload(d *ent.Device, err error) (*DevicePayload, error) {
	if err != nil {
		return nil, err
	}
	return &DevicePayload{Device: d}, nil
}

func ticketPayload(t *ent.Ticket, err error) (*TicketPayload, error) {
	if err != nil {
		return nil, err
	}
	return &TicketPayload{Ticket: t}, nil
}

func offerPayload(o *ent.Offer, err error) (*OfferPayload, error) {
	if err != nil {
		return nil, err
	}
	return &OfferPayload{Offer: o}, nil
}

func campaignPayload(c *ent.Campaign, err error) (*CampaignPayload, error) {
	if err != nil {
		return nil, err
	}
	return &CampaignPayload{Campaign: c}, nil
}
