package graph

// This file will not be regenerated automatically.
//
// It serves as dependency injection for your app, add any dependencies you require here.

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/tillpos/till/auth"
	"github.com/tillpos/till/campaigns"
	"github.com/tillpos/till/catalog"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/devices"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/exports"
	"github.com/tillpos/till/feed"
	"github.com/tillpos/till/feedback"
	"github.com/tillpos/till/loyalty"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/notify"
	"github.com/tillpos/till/notify/live"
	"github.com/tillpos/till/offers"
	"github.com/tillpos/till/receipts"
	"github.com/tillpos/till/releases"
	"github.com/tillpos/till/reports"
	"github.com/tillpos/till/sales"
	"github.com/tillpos/till/settlement"
	"github.com/tillpos/till/staff"
	"github.com/tillpos/till/storedvalue"
	"github.com/tillpos/till/tickets"
)

// Resolver holds the services the resolvers call.
type Resolver struct {
	client    *ent.Client
	auth      *auth.Service
	merchants *merchants.Service
	staff     *staff.Service
	customers *customers.Service
	sales     *sales.Service
	feedback  *feedback.Service
	catalog   *catalog.Service
	feed      *feed.Service
	devices   *devices.Service
	releases  *releases.Service
	tickets   *tickets.Service
	offers    *offers.Service
	// loyalty keeps points, tiers and rewards.
	loyalty *loyalty.Service
	// storedValue keeps prepaid balances.
	storedValue *storedvalue.Service
	// receipts sends receipts by email and text message.
	receipts *receipts.Service
	// campaigns sends messages to customer segments.
	campaigns *campaigns.Service
	// notify keeps push tokens, preferences and notifications.
	notify *notify.Service
	// live carries live events to subscriptions.
	live        *live.Broker
	liveRecheck time.Duration
	// reports answers the dashboard from the sales rollups.
	reports *reports.Service
	// settlement keeps shifts, closes days and reconciles statements.
	settlement *settlement.Service
	// exports queues sales exports and signs their download links.
	exports *exports.Service
}

// Services are the domain services the resolvers call.
type Services struct {
	Auth      *auth.Service
	Merchants *merchants.Service
	Staff     *staff.Service
	Customers *customers.Service
	Sales     *sales.Service
	Feedback  *feedback.Service
	Catalog   *catalog.Service
	Feed      *feed.Service
	Devices   *devices.Service
	Releases  *releases.Service
	Tickets   *tickets.Service
	Offers    *offers.Service
	// Loyalty keeps points, tiers and rewards.
	Loyalty *loyalty.Service
	// StoredValue keeps prepaid balances.
	StoredValue *storedvalue.Service
	// Receipts sends receipts by email and text message.
	Receipts *receipts.Service
	// Campaigns sends messages to customer segments.
	Campaigns *campaigns.Service
	// Notify keeps push tokens, preferences and notifications.
	Notify *notify.Service
	// Live carries live events to subscriptions.
	Live *live.Broker
	// Reports answers the dashboard from the sales rollups.
	Reports *reports.Service
	// LiveRecheck is how often a quiet subscription checks its session;
	// DefaultLiveRecheck when 0.
	LiveRecheck time.Duration
	// Settlement keeps shifts, closes days and reconciles statements.
	Settlement *settlement.Service
	// Exports queues sales exports and signs their download links.
	Exports *exports.Service
}

// NewSchema returns Till's executable GraphQL schema.
func NewSchema(client *ent.Client, svc Services) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{Resolvers: &Resolver{
		client: client, auth: svc.Auth, merchants: svc.Merchants, staff: svc.Staff, customers: svc.Customers,
		sales: svc.Sales, feedback: svc.Feedback, devices: svc.Devices, releases: svc.Releases, tickets: svc.Tickets,
		catalog: svc.Catalog, feed: svc.Feed, offers: svc.Offers, loyalty: svc.Loyalty, storedValue: svc.StoredValue,
		receipts:  svc.Receipts,
		campaigns: svc.Campaigns,
		notify:    svc.Notify,
		live:      svc.Live, liveRecheck: svc.LiveRecheck,
		reports:    svc.Reports,
		settlement: svc.Settlement,
		exports:    svc.Exports,
	}})
}

// nodes looks ids up for the nodes field. entgql fails the whole list when
// a single id fails, but puts a null and an error in the place of each that
// fails among several; clients get the second shape for any number of ids.
func nodes(ctx context.Context, client *ent.Client, ids []pulid.ID) ([]ent.Noder, error) {
	found, err := client.Noders(ctx, ids, ent.WithNodeType(ent.IDToType))
	if len(ids) == 1 && err != nil {
		graphql.AddError(graphql.WithPathContext(ctx, graphql.NewPathWithIndex(0)), err)
		return []ent.Noder{nil}, nil
	}
	return found, err
}
