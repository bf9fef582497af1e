package notify

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/device"
	"github.com/tillpos/till/ent/notification"
	"github.com/tillpos/till/ent/notificationpreference"
	"github.com/tillpos/till/ent/pushtoken"
	"github.com/tillpos/till/ent/schema/pulid"
	entstaff "github.com/tillpos/till/ent/staff"
	"github.com/tillpos/till/ent/store"
	"github.com/tillpos/till/notify/live"
	"github.com/tillpos/till/outbox"
)

// topicPush sends one notification to its person's phones.
const topicPush = "notification.push"

// news is what an event tells people: of which kind, about which store,
// the amount that a threshold compares, and the text's arguments.
type news struct {
	kind    Kind
	storeID pulid.ID
	zone    *time.Location // the store's, for quiet hours
	amount  int64          // sales and refunds only; -1 when there is none
	args    map[string]any
}

// fanOut delivers a business event: to the live feed, and as a
// notification to each person who wants it.
func (s *Service) fanOut(ctx context.Context, e *ent.OutboxEvent) error {
	if ev, ok := live.EventFromOutbox(e); ok {
		// A retry publishes again; subscribers drop repeats by ID.
		if err := s.live.Publish(ctx, ev); err != nil {
			return fmt.Errorf("publishing live event: %w", err)
		}
	}
	n, ok, err := s.newsOf(ctx, e)
	if err != nil || !ok {
		return err
	}
	listeners, err := s.listeners(ctx, e.MerchantID)
	if err != nil {
		return err
	}
	return s.notify(ctx, audience(listeners, n, nil), e.MerchantID, e.Topic, pulid.ID(e.SubjectID), "event:"+strconv.Itoa(e.ID), n)
}

// newsOf reads what e tells people; false when it tells them nothing (an
// operators' internal note on a ticket).
func (s *Service) newsOf(ctx context.Context, e *ent.OutboxEvent) (news, bool, error) {
	p := e.Payload
	kind, ok := topicKinds[e.Topic]
	if !ok {
		return news{}, false, nil
	}
	n := news{kind: kind, amount: -1, args: map[string]any{}}
	str := func(key string) string { v, _ := p[key].(string); return v }
	num := func(key string) int64 { v, _ := p[key].(float64); return int64(v) }
	switch e.Topic {
	case outbox.SaleCompleted, outbox.RiskFlagged:
		n.storeID, n.amount = pulid.ID(str("storeId")), num("total")
		n.args["amount"], n.args["currency"], n.args["number"] = n.amount, str("currency"), num("receiptNumber")
	case outbox.SaleRefunded, outbox.SaleVoided:
		n.storeID, n.amount = pulid.ID(str("storeId")), num("amount")
		n.args["amount"], n.args["currency"], n.args["number"] = n.amount, str("currency"), num("receiptNumber")
	case outbox.FeedbackLow:
		n.storeID = pulid.ID(str("storeId"))
	case outbox.DeviceOffline, outbox.DeviceFaultReported:
		d, err := s.db.Device.Query().Where(device.ID(pulid.ID(e.SubjectID))).Only(ctx)
		if err != nil {
			return n, false, fmt.Errorf("reading the device: %w", err)
		}
		n.storeID = d.StoreID
		n.args["device"] = deviceName(d)
		n.args["fault"] = str("category")
	case outbox.TicketUpdated:
		// The merchant hears of what the service desk does with its ticket,
		// not of its own report or the desk's internal notes and assignments.
		change := str("change")
		if internal, _ := p["internal"].(bool); internal || change == "reported" || change == "assigned" {
			return n, false, nil
		}
		t, err := s.db.Ticket.Get(ctx, pulid.ID(e.SubjectID))
		if err != nil {
			return n, false, fmt.Errorf("reading the ticket: %w", err)
		}
		if t.StoreID != nil {
			n.storeID = *t.StoreID
		}
		n.args["subject"], n.args["status"] = t.Title, string(t.Status)
	}
	if n.storeID != "" {
		st, err := s.db.Store.Get(ctx, n.storeID)
		if err != nil {
			return n, false, fmt.Errorf("reading the store: %w", err)
		}
		if n.zone, err = time.LoadLocation(st.TimeZone); err != nil {
			return n, false, fmt.Errorf("store %s time zone: %w", st.ID, err)
		}
		n.args["store"] = st.Name
	}
	return n, true, nil
}

func deviceName(d *ent.Device) string {
	if d.LocationLabel != "" {
		return d.LocationLabel
	}
	return d.SerialNumber
}

// notify writes a notification of n for each of people, and an event that
// pushes each one not silenced by quiet hours, all in one transaction.
// dedupe makes a repeat of the same news (a retried event, a second
// summary run) add nothing.
func (s *Service) notify(ctx context.Context, people []person, merchantID pulid.ID, event string, subjectID pulid.ID, dedupe string, n news) error {
	if len(people) == 0 {
		return nil
	}
	return db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		done, err := tx.Notification.Query().
			Where(notification.StaffIDIn(staffIDs(people)...), notification.DedupeKey(dedupe)).
			Select(notification.FieldStaffID).Strings(ctx)
		if err != nil {
			return err
		}
		for _, p := range people {
			if slices.Contains(done, string(p.staff.ID)) {
				continue
			}
			status := notification.StatusPENDING
			if n.zone != nil && p.pref.quiet(s.now().In(n.zone)) {
				status = notification.StatusSILENCED
			}
			create := tx.Notification.Create().
				SetMerchantID(merchantID).SetStaffID(p.staff.ID).SetEvent(event).SetSubjectID(string(subjectID)).
				SetTextKey(string(n.kind)).SetArgs(n.args).SetStatus(status).SetDedupeKey(dedupe).
				SetCreatedAt(db.Now())
			if n.storeID != "" {
				create.SetStoreID(n.storeID)
			}
			note, err := create.Save(ctx)
			if err != nil {
				return fmt.Errorf("writing a notification: %w", err)
			}
			if status == notification.StatusPENDING {
				if err := outbox.Add(ctx, tx, merchantID, topicPush, note.ID, nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// person is someone a notification may go to, with their preferences.
type person struct {
	staff *ent.Staff
	pref  Preferences
}

// listeners are the merchant's active staff with a phone registered, with
// their preferences: everyone any of its news may go to.
func (s *Service) listeners(ctx context.Context, merchantID pulid.ID) ([]person, error) {
	holders, err := s.db.PushToken.Query().Where(pushtoken.MerchantID(merchantID)).
		Unique(true).Select(pushtoken.FieldStaffID).Strings(ctx)
	if err != nil || len(holders) == 0 {
		return nil, err
	}
	staff, err := s.db.Staff.Query().
		Where(entstaff.IDIn(ids(holders)...), entstaff.MerchantID(merchantID), entstaff.Active(true)).
		WithStores(func(q *ent.StoreQuery) { q.Select(store.FieldID) }).
		All(ctx)
	if err != nil {
		return nil, err
	}
	prefs, err := s.db.NotificationPreference.Query().
		Where(notificationpreference.StaffIDIn(ids(holders)...)).All(ctx)
	if err != nil {
		return nil, err
	}
	people := make([]person, len(staff))
	for i, st := range staff {
		people[i] = person{staff: st, pref: preferencesOf(st, prefs)}
	}
	return people, nil
}

// audience is who of listeners is told n: those who work at n's store,
// want n's kind from that store, (for money) whose threshold n's amount
// reaches, and whom due, if given, lets through.
func audience(listeners []person, n news, due func(Preferences) bool) []person {
	var people []person
	for _, l := range listeners {
		p := l.pref
		if !p.wants(n.kind) || (n.amount >= 0 && n.amount < p.MinSaleAmount) {
			continue
		}
		if (n.storeID != "" && !p.covers(l.staff, n.storeID)) || (due != nil && !due(p)) {
			continue
		}
		people = append(people, l)
	}
	return people
}

func staffIDs(people []person) []pulid.ID {
	ids := make([]pulid.ID, len(people))
	for i, p := range people {
		ids[i] = p.staff.ID
	}
	return ids
}
