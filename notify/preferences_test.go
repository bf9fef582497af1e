package notify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	entstaff "github.com/tillpos/till/ent/staff"
)

func at(hhmm string) time.Time {
	t, err := time.Parse("15:04", hhmm)
	if err != nil {
		panic(err)
	}
	return time.Date(2026, 12, 2, t.Hour(), t.Minute(), 0, 0, time.UTC)
}

func TestQuietHours(t *testing.T) {
	overnight := Preferences{QuietHours: &QuietHours{Start: "22:00", End: "07:00"}}
	afternoon := Preferences{QuietHours: &QuietHours{Start: "13:00", End: "14:30"}}
	for _, tc := range []struct {
		p     Preferences
		local string
		quiet bool
	}{
		{overnight, "21:59", false},
		{overnight, "22:00", true},
		{overnight, "23:59", true},
		{overnight, "00:00", true},
		{overnight, "06:59", true},
		{overnight, "07:00", false},
		{afternoon, "12:59", false},
		{afternoon, "13:00", true},
		{afternoon, "14:29", true},
		{afternoon, "14:30", false},
		{Preferences{}, "03:00", false},
	} {
		require.Equal(t, tc.quiet, tc.p.quiet(at(tc.local)), "%+v at %s", tc.p.QuietHours, tc.local)
	}
}

func TestSummaryDue(t *testing.T) {
	p := Preferences{DailySummaryAt: "21:00"}
	require.False(t, summaryDue(p, at("20:59")))
	require.True(t, summaryDue(p, at("21:00")))
	require.True(t, summaryDue(p, at("22:59")), "a server back within the window still sends it")
	require.False(t, summaryDue(p, at("23:00")), "but not long after")
	require.False(t, summaryDue(Preferences{DailySummaryAt: "bad"}, at("21:00")))
}

func TestDefaultsAndStores(t *testing.T) {
	require.Equal(t, Kinds, defaultKinds(viewer.RoleOwner))
	require.NotContains(t, defaultKinds(viewer.RoleManager), SaleCompleted)
	require.Contains(t, defaultKinds(viewer.RoleManager), RiskFlagged)
	require.Empty(t, defaultKinds(viewer.RoleCashier))

	owner := &ent.Staff{ID: "stf_owner", Role: entstaff.RoleOWNER}
	manager := &ent.Staff{ID: "stf_manager", Role: entstaff.RoleMANAGER, Edges: ent.StaffEdges{Stores: []*ent.Store{{ID: "sto_a"}}}}
	require.True(t, Preferences{}.covers(owner, "sto_b"), "the owner works at every store")
	require.True(t, Preferences{}.covers(manager, "sto_a"))
	require.False(t, Preferences{}.covers(manager, "sto_b"), "nor of a store they do not work at")
	require.False(t, Preferences{StoreIDs: []pulid.ID{"sto_a"}}.covers(owner, "sto_b"), "a store narrowed away")

	saved := &ent.NotificationPreference{StaffID: "stf_manager", Events: []string{"SALE_COMPLETED"}, DailySummaryAt: "20:00"}
	p := preferencesOf(manager, []*ent.NotificationPreference{saved})
	require.Equal(t, []Kind{SaleCompleted}, p.Events, "saved preferences replace the role's")
	require.Nil(t, p.QuietHours)
	require.Equal(t, defaultKinds(viewer.RoleOwner), preferencesOf(owner, []*ent.NotificationPreference{saved}).Events)
}

func TestRender(t *testing.T) {
	note := &ent.Notification{TextKey: string(SaleCompleted), Args: map[string]any{
		"store": "Lotus Tea", "amount": float64(123456), "currency": "CNY", "number": float64(1000001),
	}}
	title, body := Render("zh-CN", note)
	require.Equal(t, "新销售", title)
	require.Equal(t, "Lotus Tea 新销售 ¥1,234.56", body)
	title, body = Render("en-GB", note)
	require.Equal(t, "New sale", title)
	require.Equal(t, "New sale CN¥1,234.56 at Lotus Tea", body)

	refund := &ent.Notification{TextKey: string(SaleRefunded), Args: map[string]any{
		"store": "Lotus Tea", "amount": float64(500), "currency": "CNY", "number": float64(1000001),
	}}
	_, body = Render("en", refund)
	require.Equal(t, "Refund CN¥5.00 on sale 1000001 at Lotus Tea", body, "a receipt number prints whole, not as 1e+06")
	for _, k := range Kinds {
		_, ok := texts[k]
		require.True(t, ok, "%s has a text", k)
	}
}
