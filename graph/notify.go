package graph

import (
	"context"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/merchant"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/notify"
)

// renderNotification is note's title and body in locale, or in its
// merchant's locale, read once for a list of notifications.
func (r *Resolver) renderNotification(ctx context.Context, note *ent.Notification, locale *string) (title, body string, err error) {
	if locale == nil {
		l, err := loadListed(ctx, "merchantLocale", note, func(n *ent.Notification) pulid.ID { return n.ID },
			listedNotifications, r.merchantLocales)
		if err != nil {
			return "", "", err
		}
		locale = &l
	}
	title, body = notify.Render(*locale, note)
	return title, body, nil
}

// merchantLocales maps each notification to its merchant's locale.
func (r *Resolver) merchantLocales(ctx context.Context, notes []*ent.Notification) (map[pulid.ID]string, error) {
	ids := idsOf(notes, func(n *ent.Notification) pulid.ID { return n.MerchantID })
	merchants, err := r.client.Merchant.Query().Where(merchant.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, err
	}
	locales := map[pulid.ID]string{}
	for _, m := range merchants {
		locales[m.ID] = m.Locale
	}
	out := make(map[pulid.ID]string, len(notes))
	for _, n := range notes {
		out[n.ID] = locales[n.MerchantID]
	}
	return out, nil
}

func listedNotifications(result any) ([]*ent.Notification, bool) {
	if list, ok := result.([]*ent.NotificationEdge); ok {
		return nodesOf(list, func(e *ent.NotificationEdge) *ent.Notification { return e.Node }), true
	}
	return nil, false
}
