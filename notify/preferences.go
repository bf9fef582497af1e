package notify

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/notificationpreference"
	"github.com/tillpos/till/ent/pushtoken"
	"github.com/tillpos/till/ent/schema/pulid"
	entstaff "github.com/tillpos/till/ent/staff"
	"github.com/tillpos/till/ent/store"
	"github.com/tillpos/till/errs"
)

// Preferences are what a person is told, and when not.
type Preferences struct {
	Events []Kind
	// StoreIDs narrows the stores they hear about; empty is all they work at.
	StoreIDs      []pulid.ID
	MinSaleAmount int64
	QuietHours    *QuietHours
	// DailySummaryAt is the local time of the day's summary.
	DailySummaryAt string
}

// QuietHours ("22:00" to "07:00") silence pushes in each store's local
// time.
type QuietHours struct {
	Start, End string
}

// DefaultSummaryAt is when the daily summary goes out unless changed.
const DefaultSummaryAt = "21:00"

// preferencesOf is st's saved preferences among prefs, or their role's
// defaults.
func preferencesOf(st *ent.Staff, prefs []*ent.NotificationPreference) Preferences {
	for _, p := range prefs {
		if p.StaffID == st.ID {
			return fromRow(p)
		}
	}
	return Preferences{Events: defaultKinds(viewer.Role(st.Role)), DailySummaryAt: DefaultSummaryAt}
}

func fromRow(p *ent.NotificationPreference) Preferences {
	out := Preferences{MinSaleAmount: p.MinSaleAmount, DailySummaryAt: p.DailySummaryAt}
	for _, k := range p.Events {
		out.Events = append(out.Events, Kind(k))
	}
	for _, id := range p.StoreIds {
		out.StoreIDs = append(out.StoreIDs, pulid.ID(id))
	}
	if p.QuietStart != nil && p.QuietEnd != nil {
		out.QuietHours = &QuietHours{Start: *p.QuietStart, End: *p.QuietEnd}
	}
	return out
}

func (p Preferences) wants(k Kind) bool { return slices.Contains(p.Events, k) }

// covers reports whether st hears about storeID: a store they work at (the
// owner works at all) and, if they narrowed it, one they chose.
func (p Preferences) covers(st *ent.Staff, storeID pulid.ID) bool {
	if len(p.StoreIDs) > 0 && !slices.Contains(p.StoreIDs, storeID) {
		return false
	}
	if st.Role == entstaff.RoleOWNER {
		return true
	}
	return slices.ContainsFunc(st.Edges.Stores, func(s *ent.Store) bool { return s.ID == storeID })
}

// quiet reports whether local falls in the quiet hours, which may run past
// midnight ("22:00" to "07:00").
func (p Preferences) quiet(local time.Time) bool {
	if p.QuietHours == nil {
		return false
	}
	start, _ := minuteOfDay(p.QuietHours.Start)
	end, _ := minuteOfDay(p.QuietHours.End)
	now := local.Hour()*60 + local.Minute()
	if start <= end {
		return now >= start && now < end
	}
	return now >= start || now < end
}

// minuteOfDay parses "HH:MM" (24-hour).
func minuteOfDay(hhmm string) (int, bool) {
	t, err := time.Parse("15:04", hhmm)
	if err != nil {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

// MyPreferences is the viewer's preferences.
func (s *Service) MyPreferences(ctx context.Context) (Preferences, error) {
	v, err := staffViewer(ctx)
	if err != nil {
		return Preferences{}, err
	}
	row, err := s.db.NotificationPreference.Query().Where(notificationpreference.StaffID(v.ID)).Only(ctx)
	if ent.IsNotFound(err) {
		return Preferences{Events: defaultKinds(v.Role), DailySummaryAt: DefaultSummaryAt}, nil
	}
	if err != nil {
		return Preferences{}, err
	}
	return fromRow(row), nil
}

// PreferencesUpdate changes some of the viewer's preferences; nil leaves
// one as it is.
type PreferencesUpdate struct {
	Events          []Kind
	StoreIDs        []pulid.ID
	MinSaleAmount   *int64
	QuietHours      *QuietHours
	ClearQuietHours *bool
	DailySummaryAt  *string
}

// UpdatePreferences applies u to the viewer's preferences.
func (s *Service) UpdatePreferences(ctx context.Context, u PreferencesUpdate) (Preferences, error) {
	p, err := s.MyPreferences(ctx)
	if err != nil {
		return p, err
	}
	v := viewer.FromContext(ctx)
	if u.Events != nil {
		for _, k := range u.Events {
			if !slices.Contains(Kinds, k) {
				return p, errs.Invalid("events", "unknown event %q", k)
			}
		}
		p.Events = slices.Compact(slices.Sorted(slices.Values(u.Events)))
	}
	if u.StoreIDs != nil {
		// Stores of another merchant are not found under the viewer's tenancy.
		n, err := s.db.Store.Query().Where(store.IDIn(u.StoreIDs...)).Count(ctx)
		if err != nil {
			return p, err
		}
		if n != len(slices.Compact(slices.Sorted(slices.Values(u.StoreIDs)))) {
			return p, errs.Invalid("storeIds", "no such store")
		}
		p.StoreIDs = u.StoreIDs
	}
	if u.MinSaleAmount != nil {
		if *u.MinSaleAmount < 0 {
			return p, errs.Invalid("minSaleAmount", "must not be negative")
		}
		p.MinSaleAmount = *u.MinSaleAmount
	}
	switch {
	case u.ClearQuietHours != nil && *u.ClearQuietHours:
		p.QuietHours = nil
	case u.QuietHours != nil:
		if err := checkClock("quietHours.start", u.QuietHours.Start); err != nil {
			return p, err
		}
		if err := checkClock("quietHours.end", u.QuietHours.End); err != nil {
			return p, err
		}
		if u.QuietHours.Start == u.QuietHours.End {
			return p, errs.Invalid("quietHours", "start and end must differ")
		}
		p.QuietHours = &QuietHours{Start: u.QuietHours.Start, End: u.QuietHours.End}
	}
	if u.DailySummaryAt != nil {
		if err := checkClock("dailySummaryAt", *u.DailySummaryAt); err != nil {
			return p, err
		}
		p.DailySummaryAt = *u.DailySummaryAt
	}
	events := make([]string, len(p.Events))
	for i, k := range p.Events {
		events[i] = string(k)
	}
	storeIDs := make([]string, len(p.StoreIDs))
	for i, id := range p.StoreIDs {
		storeIDs[i] = string(id)
	}
	create := s.db.NotificationPreference.Create().
		SetStaffID(v.ID).SetEvents(events).SetStoreIds(storeIDs).SetMinSaleAmount(p.MinSaleAmount).
		SetDailySummaryAt(p.DailySummaryAt)
	if p.QuietHours != nil {
		create.SetQuietStart(p.QuietHours.Start).SetQuietEnd(p.QuietHours.End)
	}
	err = create.OnConflictColumns(notificationpreference.FieldStaffID).
		Update(func(up *ent.NotificationPreferenceUpsert) {
			up.UpdateEvents().UpdateStoreIds().UpdateMinSaleAmount().UpdateDailySummaryAt().UpdateUpdatedAt()
			if p.QuietHours != nil {
				up.UpdateQuietStart().UpdateQuietEnd()
			} else {
				up.ClearQuietStart().ClearQuietEnd()
			}
		}).Exec(ctx)
	if err != nil {
		return p, fmt.Errorf("saving notification preferences: %w", err)
	}
	return p, nil
}

func checkClock(field, hhmm string) error {
	if _, ok := minuteOfDay(hhmm); !ok || len(hhmm) != 5 {
		return errs.Invalid(field, "give a 24-hour time as HH:MM, e.g. 22:00")
	}
	return nil
}

// PushTokenInput registers a phone.
type PushTokenInput struct {
	Token      string
	Platform   pushtoken.Platform
	DeviceName *string
	Locale     *string
}

// RegisterPushToken registers the viewer's phone for pushes, or moves it
// to them if someone else registered it before (a shared or handed-on
// phone): the token follows whoever is logged in on it.
func (s *Service) RegisterPushToken(ctx context.Context, in PushTokenInput) (*ent.PushToken, error) {
	v, err := staffViewer(ctx)
	if err != nil {
		return nil, err
	}
	token := strings.TrimSpace(in.Token)
	if token == "" || len(token) > 4096 {
		return nil, errs.Invalid("token", "give the FCM registration token (1 to 4096 characters)")
	}
	if err := pushtoken.PlatformValidator(in.Platform); err != nil {
		return nil, errs.Invalid("platform", "unknown platform %q", in.Platform)
	}
	locale := "en"
	if in.Locale != nil && *in.Locale != "" {
		tag, err := language.Parse(*in.Locale)
		if err != nil {
			return nil, errs.Invalid("locale", "give a BCP 47 language tag such as en or zh-CN")
		}
		locale = tag.String()
	}
	name := ""
	if in.DeviceName != nil {
		name = strings.TrimSpace(*in.DeviceName)
		if len([]rune(name)) > 100 {
			return nil, errs.Invalid("deviceName", "at most 100 characters")
		}
	}
	var id pulid.ID
	err = db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		// The token may be another person's, of another merchant even: it is
		// read and removed as the system, since tenancy hides it.
		sys := viewer.NewSystemContext(ctx, "push-token")
		old, err := tx.PushToken.Query().Where(pushtoken.Token(token)).Only(sys)
		switch {
		case err == nil && old.StaffID == v.ID:
			id = old.ID
			return tx.PushToken.UpdateOne(old).SetPlatform(in.Platform).SetDeviceName(name).SetLocale(locale).Exec(ctx)
		case err == nil:
			if err := tx.PushToken.DeleteOne(old).Exec(sys); err != nil {
				return err
			}
		case !ent.IsNotFound(err):
			return err
		}
		created, err := tx.PushToken.Create().
			SetStaffID(v.ID).SetToken(token).SetPlatform(in.Platform).SetDeviceName(name).SetLocale(locale).
			Save(ctx)
		if err == nil {
			id = created.ID
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("registering a push token: %w", err)
	}
	return s.db.PushToken.Get(ctx, id)
}

// UnregisterPushToken stops pushes to the viewer's phone with token (the
// app calls it when someone logs out); false if it was not theirs.
func (s *Service) UnregisterPushToken(ctx context.Context, token string) (bool, error) {
	v, err := staffViewer(ctx)
	if err != nil {
		return false, err
	}
	n, err := s.db.PushToken.Delete().
		Where(pushtoken.Token(strings.TrimSpace(token)), pushtoken.StaffID(v.ID)).Exec(ctx)
	return n > 0, err
}

// PushTokens lists the viewer's registered phones.
func (s *Service) PushTokens(ctx context.Context) ([]*ent.PushToken, error) {
	if _, err := staffViewer(ctx); err != nil {
		return nil, err
	}
	return s.db.PushToken.Query().Order(ent.Asc(pushtoken.FieldCreatedAt)).All(ctx)
}

// staffViewer is the viewer if a person of a merchant: notifications are
// theirs, not a platform operator's.
func staffViewer(ctx context.Context) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	if !v.IsStaff() {
		return nil, errs.Newf(errs.Forbidden, "notifications are for a merchant's staff")
	}
	return v, nil
}
