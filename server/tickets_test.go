package server_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/hook"
	"github.com/tillpos/till/ent/outboxevent"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/outbox"
	"github.com/tillpos/till/server"
	"github.com/tillpos/till/tickets"
)

// Service tickets through the API: reports by staff and by a device, the
// SLA, comments (internal ones hidden from the merchant), assignment, the
// status flow, device swaps and tenant isolation.

const (
	tktFields  = `id kind faultCategory title status priority deviceID storeID reporterKind reporterID assigneeID createdAt slaDueAt resolvedAt closedAt replacementDeviceID merchantID`
	tktReport  = `mutation($i: ReportTicketInput!) { reportTicket(input: $i) { ticket { ` + tktFields + ` } } }`
	tktFault   = `mutation($i: ReportDeviceFaultInput!) { reportDeviceFault(input: $i) { ticket { ` + tktFields + ` } } }`
	tktComment = `mutation($i: CommentOnTicketInput!) { commentOnTicket(input: $i) { comment { id body internal authorKind authorID } ticket { id } } }`
	tktAssign  = `mutation($i: AssignTicketInput!) { assignTicket(input: $i) { ticket { ` + tktFields + ` } } }`
	tktStatus  = `mutation($i: ChangeTicketStatusInput!) { changeTicketStatus(input: $i) { ticket { ` + tktFields + ` } } }`
	tktSwap    = `mutation($i: SwapDeviceInput!) { swapDevice(input: $i) { ticket { ` + tktFields + ` } } }`
	tktGet     = `query($id: ID!) { node(id: $id) { ... on Ticket { id status comments { totalCount edges { node { id body internal authorKind } } } } } }`
	tktList    = `query($w: TicketWhereInput, $o: [TicketOrder!]) { tickets(where: $w, orderBy: $o) { totalCount edges { node { ` + tktFields + ` } } } }`
)

type tktTicket struct {
	ID, Kind, Title, Status, Priority, StoreID, ReporterKind, ReporterID, MerchantID string
	FaultCategory, DeviceID, AssigneeID, ReplacementDeviceID                         *string
	CreatedAt, SLADueAt                                                              time.Time
	ResolvedAt, ClosedAt                                                             *time.Time
}

type tktEnv struct {
	*devEnv
	op *tilltest.Account
}

// newTktEnv is a merchant with an owner, a manager and a cashier (PIN
// 2580), and an operator, on a server whose ticket clock stands at at.
func newTktEnv(t *testing.T, at time.Time) *tktEnv {
	t.Helper()
	clock := &devClock{at: at}
	env := tilltest.New(t, nil, server.WithTicketOptions(tickets.WithClock(clock.now)))
	e := &devEnv{Env: env, owner: env.SignUp(t, "Lotus Tea"), clock: clock}
	e.manager = env.AddStaff(t, e.owner, "MANAGER")
	e.cashier = env.AddStaff(t, e.owner, "CASHIER")
	env.Exec(t, e.cashier.Token, devPinSet, map[string]any{"i": map[string]any{"staffId": e.cashier.ID, "pin": "2580"}}).Decode(t, &struct{}{})
	return &tktEnv{devEnv: e, op: env.Operator(t)}
}

func (e *tktEnv) do(t *testing.T, by *tilltest.Account, query string, in map[string]any) *tilltest.Result {
	t.Helper()
	token := ""
	if by != nil {
		token = by.Token
	}
	return e.Exec(t, token, query, map[string]any{"i": in})
}

// ticket runs a mutation answering a TicketPayload and returns its ticket.
func (e *tktEnv) ticket(t *testing.T, by *tilltest.Account, query string, in map[string]any) tktTicket {
	t.Helper()
	var out map[string]struct{ Ticket tktTicket }
	e.do(t, by, query, in).Decode(t, &out)
	require.Len(t, out, 1)
	for _, p := range out {
		return p.Ticket
	}
	panic("unreachable")
}

func (e *tktEnv) report(t *testing.T, by *tilltest.Account, in map[string]any) tktTicket {
	t.Helper()
	return e.ticket(t, by, tktReport, in)
}

func (e *tktEnv) setStatus(t *testing.T, by *tilltest.Account, id, status string) *tilltest.Result {
	t.Helper()
	return e.do(t, by, tktStatus, map[string]any{"ticketId": id, "status": status})
}

type tktComments struct {
	TotalCount int
	Edges      []struct {
		Node struct {
			ID, Body, AuthorKind string
			Internal             bool
		}
	}
}

// comments reads a ticket's comments as by.
func (e *tktEnv) comments(t *testing.T, by *tilltest.Account, id string) tktComments {
	t.Helper()
	var out struct {
		Node struct{ Comments tktComments }
	}
	e.Exec(t, by.Token, tktGet, map[string]any{"id": id}).Decode(t, &out)
	return out.Node.Comments
}

// events counts the outbox events of topic about subject.
func (e *tktEnv) events(t *testing.T, topic, subject string) int {
	t.Helper()
	n, err := e.DB.Client.OutboxEvent.Query().
		Where(outboxevent.Topic(topic), outboxevent.SubjectID(subject)).
		Count(viewer.NewSystemContext(t.Context(), "test"))
	require.NoError(t, err)
	return n
}

func TestTicketReportAndSLA(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)
	e := newTktEnv(t, at)

	for _, tc := range []struct {
		priority any
		sla      time.Duration
	}{
		{"URGENT", 4 * time.Hour},
		{"HIGH", 24 * time.Hour},
		{nil, 72 * time.Hour}, // NORMAL by default
		{"LOW", 7 * 24 * time.Hour},
	} {
		tk := e.report(t, e.cashier, map[string]any{"kind": "COMPLAINT", "title": "  Slow payouts ", "priority": tc.priority})
		require.Equal(t, "Slow payouts", tk.Title)
		require.Equal(t, "OPEN", tk.Status)
		require.Equal(t, "STAFF", tk.ReporterKind)
		require.Equal(t, e.cashier.ID, tk.ReporterID)
		require.True(t, at.Equal(tk.CreatedAt), "created %s", tk.CreatedAt)
		require.True(t, at.Add(tc.sla).Equal(tk.SLADueAt), "%v: due %s", tc.priority, tk.SLADueAt)
		require.Equal(t, 1, e.events(t, outbox.TicketUpdated, tk.ID))
	}
	require.Equal(t, tickets.SLANormal, 72*time.Hour)

	custRefused(t, e.do(t, e.cashier, tktReport, map[string]any{"kind": "DEVICE_FAULT", "title": "Broken"}), "BAD_USER_INPUT", "deviceId")
	custRefused(t, e.do(t, e.cashier, tktReport, map[string]any{"kind": "SUGGESTION", "title": "Idea", "faultCategory": "PRINTER"}), "BAD_USER_INPUT", "faultCategory")
	custRefused(t, e.do(t, e.cashier, tktReport, map[string]any{"kind": "SUGGESTION", "title": " "}), "BAD_USER_INPUT", "title")
	custRefused(t, e.do(t, nil, tktReport, map[string]any{"kind": "SUGGESTION", "title": "Idea"}), "UNAUTHENTICATED", "")
	custRefused(t, e.do(t, e.op, tktReport, map[string]any{"kind": "SUGGESTION", "title": "Idea"}), "FORBIDDEN", "")

	t.Run("a device reports a fault about itself", func(t *testing.T) {
		p := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-TKT-1")
		tk := e.ticket(t, nil, tktFault, map[string]any{
			"idempotencyKey": devKey(), "deviceCredential": p.Credential, "faultCategory": "PRINTER", "title": "Paper jam", "priority": "HIGH",
		})
		require.Equal(t, "DEVICE_FAULT", tk.Kind)
		require.Equal(t, "PRINTER", *tk.FaultCategory)
		require.Equal(t, "DEVICE", tk.ReporterKind)
		require.Equal(t, p.Device.ID, tk.ReporterID)
		require.Equal(t, p.Device.ID, *tk.DeviceID)
		require.Equal(t, e.owner.StoreID, tk.StoreID)
		require.Equal(t, e.owner.MerchantID, tk.MerchantID)
		require.True(t, at.Add(tickets.SLAHigh).Equal(tk.SLADueAt))
		require.Equal(t, 1, e.events(t, outbox.DeviceFaultReported, p.Device.ID))
		require.Equal(t, 1, e.events(t, outbox.TicketUpdated, tk.ID))

		custRefused(t, e.do(t, nil, tktFault, map[string]any{"idempotencyKey": devKey(), "deviceCredential": p.Credential + "x", "title": "Jam"}), "UNAUTHENTICATED", "")

		// Staff report a fault about a device by its id, the store taken from it.
		byStaff := e.report(t, e.manager, map[string]any{"kind": "DEVICE_FAULT", "faultCategory": "SCANNER", "title": "No beep", "deviceId": p.Device.ID})
		require.Equal(t, e.owner.StoreID, byStaff.StoreID)
		require.Equal(t, 2, e.events(t, outbox.DeviceFaultReported, p.Device.ID))

		var audit struct {
			AuditEntries struct{ TotalCount int }
		}
		e.Exec(t, e.owner.Token, `query { auditEntries(where: {action: "ticket.reported"}) { totalCount } }`, nil).Decode(t, &audit)
		require.Equal(t, 6, audit.AuditEntries.TotalCount)
	})
}

func TestTicketCommentsAndStatusFlow(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)
	e := newTktEnv(t, at)
	op2 := e.Operator(t)
	tk := e.report(t, e.owner, map[string]any{"kind": "COMPLAINT", "title": "Card payouts late", "description": "Since Monday"})

	// Comments: the merchant's, the operator's, and an internal note.
	var c struct {
		CommentOnTicket struct {
			Comment struct {
				ID, Body, AuthorKind, AuthorID string
				Internal                       bool
			}
		}
	}
	e.do(t, e.cashier, tktComment, map[string]any{"ticketId": tk.ID, "body": "Still late today"}).Decode(t, &c)
	require.Equal(t, "STAFF", c.CommentOnTicket.Comment.AuthorKind)
	require.Equal(t, e.cashier.ID, c.CommentOnTicket.Comment.AuthorID)
	e.do(t, e.op, tktComment, map[string]any{"ticketId": tk.ID, "body": "Looking into it"}).Decode(t, &c)
	require.Equal(t, "OPERATOR", c.CommentOnTicket.Comment.AuthorKind)
	e.do(t, e.op, tktComment, map[string]any{"ticketId": tk.ID, "body": "Acquirer batch stuck", "internal": true}).Decode(t, &c)
	internalID := c.CommentOnTicket.Comment.ID
	require.True(t, c.CommentOnTicket.Comment.Internal)
	custRefused(t, e.do(t, e.owner, tktComment, map[string]any{"ticketId": tk.ID, "body": "x", "internal": true}), "FORBIDDEN", "internal")
	custRefused(t, e.do(t, e.owner, tktComment, map[string]any{"ticketId": tk.ID, "body": "  "}), "BAD_USER_INPUT", "body")

	seen := e.comments(t, e.owner, tk.ID)
	require.Equal(t, 2, seen.TotalCount, "the merchant does not see internal notes")
	for _, edge := range seen.Edges {
		require.False(t, edge.Node.Internal)
	}
	require.Equal(t, 2, e.comments(t, e.cashier, tk.ID).TotalCount)
	all := e.comments(t, e.op, tk.ID)
	require.Equal(t, 3, all.TotalCount)
	require.Equal(t, []string{"Still late today", "Looking into it", "Acquirer batch stuck"},
		[]string{all.Edges[0].Node.Body, all.Edges[1].Node.Body, all.Edges[2].Node.Body}, "oldest first")
	var node struct{ Node *struct{ ID string } }
	res := e.Exec(t, e.owner.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": internalID})
	require.NoError(t, json.Unmarshal(res.Data, &node))
	require.Nil(t, node.Node, "nor by its id")
	e.Exec(t, e.op.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": internalID}).Decode(t, &node)
	require.NotNil(t, node.Node)
	require.Equal(t, 4, e.events(t, outbox.TicketUpdated, tk.ID), "the report and one event per comment")

	// Assignment: operators only, to an operator; OPEN becomes IN_PROGRESS.
	custRefused(t, e.do(t, e.owner, tktAssign, map[string]any{"ticketId": tk.ID, "assigneeId": op2.ID}), "FORBIDDEN", "")
	custRefused(t, e.do(t, e.op, tktAssign, map[string]any{"ticketId": tk.ID, "assigneeId": e.owner.ID}), "NOT_FOUND", "assigneeId")
	assigned := e.ticket(t, e.op, tktAssign, map[string]any{"ticketId": tk.ID, "assigneeId": op2.ID})
	require.Equal(t, op2.ID, *assigned.AssigneeID)
	require.Equal(t, "IN_PROGRESS", assigned.Status)

	// The status flow.
	flow := []struct {
		by           *tilltest.Account
		to, wantCode string
	}{
		{e.op, "WAITING_FOR_MERCHANT", ""},
		{e.cashier, "IN_PROGRESS", "FORBIDDEN"},         // cashiers do not move tickets
		{e.manager, "RESOLVED", "FORBIDDEN"},            // valid, but the operator's to make
		{e.manager, "WAITING_FOR_MERCHANT", "CONFLICT"}, // already there
		{e.manager, "IN_PROGRESS", ""},                  // the merchant answered
		{e.op, "OPEN", "CONFLICT"},                      // nothing goes back to OPEN
		{e.op, "RESOLVED", ""},
		{e.owner, "WAITING_FOR_MERCHANT", "CONFLICT"},
		{e.owner, "IN_PROGRESS", ""}, // reopened: not fixed after all
		{op2, "RESOLVED", ""},
		{e.owner, "CLOSED", ""},
		{e.owner, "IN_PROGRESS", "FORBIDDEN"}, // closed is final for the merchant
		{e.op, "RESOLVED", "CONFLICT"},
	}
	for i, step := range flow {
		e.clock.at = at.Add(time.Duration(i+1) * time.Hour)
		res := e.setStatus(t, step.by, tk.ID, step.to)
		if step.wantCode != "" {
			custRefused(t, res, step.wantCode, "")
			continue
		}
		var out struct{ ChangeTicketStatus struct{ Ticket tktTicket } }
		res.Decode(t, &out)
		got := out.ChangeTicketStatus.Ticket
		require.Equal(t, step.to, got.Status, "step %d", i)
		switch step.to {
		case "RESOLVED":
			require.True(t, e.clock.at.Equal(*got.ResolvedAt))
		case "CLOSED":
			require.True(t, e.clock.at.Equal(*got.ClosedAt))
			require.NotNil(t, got.ResolvedAt)
		default:
			require.Nil(t, got.ResolvedAt)
			require.Nil(t, got.ClosedAt)
		}
	}
	reopened := e.ticket(t, e.op, tktStatus, map[string]any{"ticketId": tk.ID, "status": "IN_PROGRESS", "note": "customer wrote again"})
	require.Nil(t, reopened.ClosedAt)

	var audit struct {
		AuditEntries struct{ TotalCount int }
	}
	e.Exec(t, e.owner.Token, `query { auditEntries(where: {action: "ticket.status_changed"}) { totalCount } }`, nil).Decode(t, &audit)
	require.Equal(t, 7, audit.AuditEntries.TotalCount)
}

func TestTicketSwapKeepsStoreHistory(t *testing.T) {
	t.Parallel()
	e := newTktEnv(t, time.Now())
	faulty := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-OLD")
	label := "Front counter"
	e.Exec(t, e.owner.Token, devMove, map[string]any{"i": map[string]any{"deviceId": faulty.Device.ID, "storeId": e.owner.StoreID, "locationLabel": label}}).Decode(t, &struct{}{})
	var login struct{ LogInWithPin struct{ AccessToken string } }
	e.pinLogIn(t, faulty.Credential, e.cashier.ID, "2580").Decode(t, &login)
	sale, _ := saleRecordOK(t, e.Env, login.LogInWithPin.AccessToken, saleCash(e.owner.StoreID, 1500))

	// The spare waits at another store.
	var st struct {
		CreateStore struct{ Store struct{ ID string } }
	}
	e.Exec(t, e.owner.Token, `mutation($i: CreateStoreInput!) { createStore(input: $i) { store { id } } }`,
		map[string]any{"i": map[string]any{"name": "Lotus Tea Depot", "timeZone": "Asia/Shanghai"}}).Decode(t, &st)
	spare := e.pair(t, e.code(t, e.owner, st.CreateStore.Store.ID), "SN-NEW")

	tk := e.ticket(t, nil, tktFault, map[string]any{"idempotencyKey": devKey(), "deviceCredential": faulty.Credential, "faultCategory": "CARD_READER", "title": "Reader dead"})
	swap := map[string]any{"ticketId": tk.ID, "replacementDeviceId": spare.Device.ID, "reason": "reader dead"}
	custRefused(t, e.do(t, e.manager, tktSwap, swap), "FORBIDDEN", "")
	custRefused(t, e.do(t, e.owner, tktSwap, map[string]any{"ticketId": tk.ID, "replacementDeviceId": faulty.Device.ID}), "BAD_USER_INPUT", "replacementDeviceId")
	swapped := e.ticket(t, e.owner, tktSwap, swap)
	require.Equal(t, spare.Device.ID, *swapped.ReplacementDeviceID)
	custRefused(t, e.do(t, e.owner, tktSwap, swap), "CONFLICT", "")

	var devs struct {
		Devices struct {
			Edges []struct {
				Node struct{ ID, Status, StoreID, LocationLabel string }
			}
		}
	}
	e.Exec(t, e.owner.Token, `{ devices(orderBy: [{field: SERIAL_NUMBER}]) { edges { node { id status storeID locationLabel } } } }`, nil).Decode(t, &devs)
	require.Len(t, devs.Devices.Edges, 2)
	newDev, oldDev := devs.Devices.Edges[0].Node, devs.Devices.Edges[1].Node
	require.Equal(t, spare.Device.ID, newDev.ID)
	require.Equal(t, "ACTIVE", newDev.Status)
	require.Equal(t, e.owner.StoreID, newDev.StoreID, "the replacement stands where the old one stood")
	require.Equal(t, label, newDev.LocationLabel)
	require.Equal(t, "RETIRED", oldDev.Status)
	require.Equal(t, e.owner.StoreID, oldDev.StoreID)

	// The store's history stays: the old device's sale and the ticket.
	var sales struct {
		Sales struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	e.Exec(t, e.owner.Token, `query($w: SaleWhereInput) { sales(where: $w) { edges { node { id } } } }`,
		map[string]any{"w": map[string]any{"storeID": e.owner.StoreID, "deviceID": faulty.Device.ID}}).Decode(t, &sales)
	require.Len(t, sales.Sales.Edges, 1)
	require.Equal(t, sale.ID, sales.Sales.Edges[0].Node.ID)
	var list struct{ Tickets struct{ TotalCount int } }
	e.Exec(t, e.owner.Token, tktList, map[string]any{"w": map[string]any{"storeID": e.owner.StoreID, "deviceID": faulty.Device.ID}}).Decode(t, &list)
	require.Equal(t, 1, list.Tickets.TotalCount)
	custRefused(t, e.pinLogIn(t, faulty.Credential, e.cashier.ID, "2580"), "UNAUTHENTICATED", "")

	t.Run("by an operator, keeping the old device disabled", func(t *testing.T) {
		spare2 := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-NEW-2")
		tk := e.report(t, e.cashier, map[string]any{"kind": "DEVICE_FAULT", "faultCategory": "BATTERY", "title": "Battery", "deviceId": spare.Device.ID})
		e.ticket(t, e.op, tktSwap, map[string]any{"ticketId": tk.ID, "replacementDeviceId": spare2.Device.ID, "retire": false})
		var d struct{ Node struct{ Status string } }
		e.Exec(t, e.owner.Token, `query($id: ID!) { node(id: $id) { ... on Device { status } } }`, map[string]any{"id": spare.Device.ID}).Decode(t, &d)
		require.Equal(t, "DISABLED", d.Node.Status)
	})
}

func TestTicketTenantIsolationAndQueue(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)
	e := newTktEnv(t, at)
	rival := e.SignUp(t, "Rival Tea")
	mine := e.report(t, e.owner, map[string]any{"kind": "COMPLAINT", "title": "Mine", "priority": "LOW"})
	e.clock.at = at.Add(time.Hour)
	theirs := e.report(t, rival, map[string]any{"kind": "SUGGESTION", "title": "Theirs", "priority": "URGENT"})
	p := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-ISO")

	var list struct {
		Tickets struct {
			TotalCount int
			Edges      []struct{ Node tktTicket }
		}
	}
	e.Exec(t, rival.Token, tktList, nil).Decode(t, &list)
	require.Equal(t, 1, list.Tickets.TotalCount)
	require.Equal(t, theirs.ID, list.Tickets.Edges[0].Node.ID)
	var node struct{ Node *struct{ ID string } }
	res := e.Exec(t, rival.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": mine.ID})
	require.NoError(t, json.Unmarshal(res.Data, &node))
	require.Nil(t, node.Node)
	custRefused(t, e.do(t, rival, tktComment, map[string]any{"ticketId": mine.ID, "body": "hello"}), "NOT_FOUND", "ticketId")
	custRefused(t, e.setStatus(t, rival, mine.ID, "CLOSED"), "NOT_FOUND", "ticketId")
	custRefused(t, e.do(t, rival, tktSwap, map[string]any{"ticketId": mine.ID, "replacementDeviceId": p.Device.ID}), "NOT_FOUND", "ticketId")
	custRefused(t, e.do(t, rival, tktReport, map[string]any{"kind": "DEVICE_FAULT", "title": "x", "deviceId": p.Device.ID}), "NOT_FOUND", "deviceId")
	require.Zero(t, e.comments(t, e.op, mine.ID).TotalCount, "the rival wrote nothing")

	// The operator's queue: every merchant's open tickets, soonest due first.
	e.Exec(t, e.op.Token, tktList, map[string]any{
		"w": map[string]any{"statusIn": []string{"OPEN", "IN_PROGRESS", "WAITING_FOR_MERCHANT"}},
		"o": []any{map[string]any{"field": "SLA_DUE_AT", "direction": "ASC"}},
	}).Decode(t, &list)
	require.Equal(t, 2, list.Tickets.TotalCount)
	require.Equal(t, []string{theirs.ID, mine.ID}, []string{list.Tickets.Edges[0].Node.ID, list.Tickets.Edges[1].Node.ID})
	require.Equal(t, rival.MerchantID, list.Tickets.Edges[0].Node.MerchantID)
	e.ticket(t, e.op, tktStatus, map[string]any{"ticketId": theirs.ID, "status": "IN_PROGRESS"})
}

func TestTicketDeviceFaultReplaysARetry(t *testing.T) {
	t.Parallel()
	e := newTktEnv(t, time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC))
	p := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-FAULT-RETRY")
	const report = `mutation($i: ReportDeviceFaultInput!) { reportDeviceFault(input: $i) { replayed ticket { id title } } }`
	type answer struct {
		ReportDeviceFault struct {
			Replayed bool
			Ticket   struct{ ID, Title string }
		}
	}
	in := map[string]any{"idempotencyKey": devKey(), "deviceCredential": p.Credential, "faultCategory": "PRINTER", "title": "Paper jam"}
	var first, again answer
	e.do(t, nil, report, in).Decode(t, &first)
	require.False(t, first.ReportDeviceFault.Replayed)
	e.do(t, nil, report, in).Decode(t, &again)
	require.True(t, again.ReportDeviceFault.Replayed)
	require.Equal(t, first.ReportDeviceFault.Ticket.ID, again.ReportDeviceFault.Ticket.ID)
	require.Equal(t, 1, e.events(t, outbox.DeviceFaultReported, p.Device.ID), "one ticket, one event")

	other := map[string]any{"idempotencyKey": in["idempotencyKey"], "deviceCredential": p.Credential, "faultCategory": "PRINTER", "title": "Paper out"}
	custRefused(t, e.do(t, nil, report, other), "IDEMPOTENCY_CONFLICT", "idempotencyKey")
	custRefused(t, e.do(t, nil, report, map[string]any{"deviceCredential": p.Credential, "title": "Paper out"}), "GRAPHQL_VALIDATION_FAILED", "")

	// Sent several times at once, a report still makes one ticket.
	at := map[string]any{"idempotencyKey": devKey(), "deviceCredential": p.Credential, "faultCategory": "SCANNER", "title": "No beep"}
	ids := map[string]bool{}
	for _, res := range devConcurrently(4, func(int) *tilltest.Result { return e.do(t, nil, report, at) }) {
		var got answer
		res.Decode(t, &got)
		ids[got.ReportDeviceFault.Ticket.ID] = true
	}
	require.Len(t, ids, 1)
	var list struct{ Tickets struct{ TotalCount int } }
	e.Exec(t, e.owner.Token, tktList, map[string]any{"w": map[string]any{"deviceID": p.Device.ID}}).Decode(t, &list)
	require.Equal(t, 2, list.Tickets.TotalCount)
}

func TestTicketStaffReportOnlyTheirStoresDevices(t *testing.T) {
	t.Parallel()
	e := newTktEnv(t, time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC))
	var st struct {
		CreateStore struct{ Store struct{ ID string } }
	}
	e.Exec(t, e.owner.Token, `mutation($i: CreateStoreInput!) { createStore(input: $i) { store { id } } }`,
		map[string]any{"i": map[string]any{"name": "Lotus Tea Annex", "timeZone": "Asia/Shanghai"}}).Decode(t, &st)
	elsewhere := e.pair(t, e.code(t, e.owner, st.CreateStore.Store.ID), "SN-ANNEX")
	here := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-HERE")

	fault := func(deviceID string) map[string]any {
		return map[string]any{"kind": "DEVICE_FAULT", "faultCategory": "SCREEN", "title": "Cracked", "deviceId": deviceID}
	}
	for _, by := range []*tilltest.Account{e.cashier, e.manager} {
		custRefused(t, e.do(t, by, tktReport, fault(elsewhere.Device.ID)), "NOT_FOUND", "deviceId")
		require.Equal(t, e.owner.StoreID, e.report(t, by, fault(here.Device.ID)).StoreID)
	}
	require.Equal(t, st.CreateStore.Store.ID, e.report(t, e.owner, fault(elsewhere.Device.ID)).StoreID, "the owner works at every store")
}

func TestTicketSwapLeavesNoStaleCredential(t *testing.T) {
	t.Parallel()
	e := newTktEnv(t, time.Now())
	faulty := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-STALE-OLD")
	spare := e.pair(t, e.code(t, e.owner, e.owner.StoreID), "SN-STALE-NEW")
	e.beat(t, faulty.Credential, nil).Decode(t, &struct{}{})
	require.Contains(t, e.RunDueJobs(t.Context(), time.Now()), "device-snapshot")
	require.Equal(t, "ONLINE", e.healthOf(t, e.owner, faulty.Device.ID).Health)
	tk := e.report(t, e.owner, map[string]any{"kind": "DEVICE_FAULT", "title": "Dead reader", "deviceId": faulty.Device.ID})

	// While the swap's transaction is open, the faulty terminal checks in:
	// its credential check reads the device as it stood, still ACTIVE.
	var during atomic.Value
	var armed atomic.Bool
	armed.Store(true)
	e.DB.Client.AuditEntry.Use(func(next ent.Mutator) ent.Mutator {
		return hook.AuditEntryFunc(func(ctx context.Context, m *ent.AuditEntryMutation) (ent.Value, error) {
			if action, _ := m.Action(); action == "device.retired" && armed.CompareAndSwap(true, false) {
				during.Store(e.beat(t, faulty.Credential, nil).Code())
			}
			return next.Mutate(ctx, m)
		})
	})
	e.ticket(t, e.owner, tktSwap, map[string]any{"ticketId": tk.ID, "replacementDeviceId": spare.Device.ID})
	require.Equal(t, "", during.Load(), "the heartbeat during the swap was still accepted")

	custRefused(t, e.beat(t, faulty.Credential, nil), "UNAUTHENTICATED", "")
	custRefused(t, e.pinLogIn(t, faulty.Credential, e.cashier.ID, "2580"), "UNAUTHENTICATED", "")
	require.Equal(t, "OFFLINE", e.healthOf(t, e.owner, faulty.Device.ID).Health, "retired, it is off the fleet's health")
	e.beat(t, spare.Credential, nil).Decode(t, &struct{}{})
}
