package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/internal/tilltest"
)

// Customers through the API, as the apps use them: registering, updating,
// archiving, recognising at the counter, searching, the masking of contact
// details for cashiers and revealing them, merging duplicates, the privacy
// rights of export and erasure, tenant isolation, and that no contact
// detail is ever stored readable.

const (
	custFields = `id merchantID createdAt updatedAt name phone email address contactMasked birthday gender notes tags memberCode
		pushConsent pushConsentAt smsConsent smsConsentAt emailConsent emailConsentAt status mergedIntoID
		visitsCount totalSpent createdBy { id } store { id }`

	custCreate  = `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { ` + custFields + ` } } }`
	custUpdate  = `mutation($i: UpdateCustomerInput!) { updateCustomer(input: $i) { customer { ` + custFields + ` } } }`
	custArchive = `mutation($i: CustomerIdInput!) { archiveCustomer(input: $i) { customer { ` + custFields + ` } } }`
	custMerge   = `mutation($i: MergeCustomersInput!) { mergeCustomers(input: $i) { customer { ` + custFields + ` } } }`
	custReveal  = `mutation($i: CustomerIdInput!) { revealCustomerContact(input: $i) { phone email address } }`
	custExport  = `mutation($i: CustomerIdInput!) { exportCustomerData(input: $i) { customerId data } }`
	custErase   = `mutation($i: CustomerIdInput!) { eraseCustomer(input: $i) { customer { ` + custFields + ` } } }`
	custLookup  = `query($i: LookupCustomerInput!) { lookupCustomer(input: $i) { ` + custFields + ` } }`
	custSearch  = `query($q: String!, $first: Int, $after: Cursor) { searchCustomers(query: $q, first: $first, after: $after) {
		totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ` + custFields + ` } } } }`
	custNode           = `query($id: ID!) { node(id: $id) { id ... on Customer { ` + custFields + ` } } }`
	custUpdateMerchant = `mutation($i: UpdateMerchantInput!) { updateMerchant(input: $i) { merchant { id locale cashiersSeeFullContact } } }`

	// A well-formed ID of a customer that does not exist.
	custNoCustomer = "cus_01JD7X0Q2N3V4W5X6Y7Z8A9B0C"
)

var custRoles = []string{"OWNER", "MANAGER", "CASHIER"}

// custManages says whether role may archive, merge, export and erase.
func custManages(role string) bool { return role != "CASHIER" }

type custRef struct{ ID string }

type custCustomer struct {
	ID             string
	MerchantID     string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	Name           string
	Phone          *string
	Email          *string
	Address        *string
	ContactMasked  bool
	Birthday       *string
	Gender         *string
	Notes          *string
	Tags           []string
	MemberCode     string
	PushConsent    bool
	PushConsentAt  *time.Time
	SmsConsent     bool
	SmsConsentAt   *time.Time
	EmailConsent   bool
	EmailConsentAt *time.Time
	Status         string
	MergedIntoID   *string
	VisitsCount    int
	TotalSpent     int64
	CreatedBy      *custRef
	Store          *custRef
}

type custPage struct {
	TotalCount int
	PageInfo   struct {
		HasNextPage bool
		EndCursor   *string
	}
	Edges []struct {
		Cursor string
		Node   custCustomer
	}
}

func (p custPage) names() []string {
	names := []string{}
	for _, e := range p.Edges {
		names = append(names, e.Node.Name)
	}
	return names
}

type custAudit struct {
	Action    string
	ActorKind string
	ActorID   *string
	TargetID  *string
	Details   map[string]any
}

// custPerson is a customer's contact details as a cashier types them, and
// as the API should give them back.
type custPerson struct {
	phone, e164, national, maskedPhone string
	email, emailNorm, maskedEmail      string
	address                            string
}

// custEnv is a test server with merchant "Lotus Tea" (locale zh-CN, so
// phones without a country code are Chinese) and its owner, a manager and
// a cashier.
type custEnv struct {
	*tilltest.Env
	owner, manager, cashier *tilltest.Account
	seq                     int
}

func newCustEnv(t *testing.T) *custEnv {
	t.Helper()
	env := tilltest.New(t, nil)
	c := &custEnv{Env: env, owner: env.SignUp(t, "Lotus Tea")}
	c.setMerchant(t, c.owner, map[string]any{"locale": "zh-CN"})
	c.manager = env.AddStaff(t, c.owner, "MANAGER")
	c.cashier = env.AddStaff(t, c.owner, "CASHIER")
	return c
}

func (c *custEnv) as(role string) *tilltest.Account {
	switch role {
	case "OWNER":
		return c.owner
	case "MANAGER":
		return c.manager
	case "CASHIER":
		return c.cashier
	}
	panic("unknown role " + role)
}

// person returns contact details no other customer of this env has.
func (c *custEnv) person() custPerson {
	c.seq++
	national := fmt.Sprintf("1390%03d%04d", c.seq, 4321+c.seq)
	local := fmt.Sprintf("jade.orchid%d", c.seq)
	return custPerson{
		phone:       national[:3] + " " + national[3:7] + " " + national[7:],
		e164:        "+86" + national,
		national:    national,
		maskedPhone: national[:3] + "****" + national[7:],
		email:       "Jade.Orchid" + fmt.Sprint(c.seq) + "@Lotus.Example",
		emailNorm:   local + "@lotus.example",
		maskedEmail: local[:1] + strings.Repeat("*", len(local)-1) + "@lotus.example",
		address:     fmt.Sprintf("%d Plum Blossom Lane, Hangzhou", 100+c.seq),
	}
}

func (c *custEnv) setMerchant(t *testing.T, by *tilltest.Account, input map[string]any) {
	t.Helper()
	c.call(t, by.Token, custUpdateMerchant, input).Decode(t, &struct{}{})
}

// call runs query with input as $i.
func (c *custEnv) call(t *testing.T, token, query string, input map[string]any) *tilltest.Result {
	t.Helper()
	return c.Exec(t, token, query, map[string]any{"i": input})
}

// custRefused asserts res failed with code and, when field is not empty, that
// extensions.field names it.
func custRefused(t *testing.T, res *tilltest.Result, code, field string) {
	t.Helper()
	require.NotEmpty(t, res.Errors, "want %s, got data %s", code, res.Data)
	require.Equal(t, code, res.Code(), "%+v", res.Errors)
	if field != "" {
		require.Equal(t, field, res.Errors[0].Extensions["field"], "%+v", res.Errors)
	}
}

// custPayload decodes the customer in a createCustomer, updateCustomer,
// archiveCustomer, mergeCustomers or eraseCustomer payload.
func custPayload(t *testing.T, res *tilltest.Result) custCustomer {
	t.Helper()
	var out map[string]struct{ Customer custCustomer }
	res.Decode(t, &out)
	require.Len(t, out, 1)
	for _, p := range out {
		require.NotEmpty(t, p.Customer.ID)
		return p.Customer
	}
	panic("unreachable")
}

func (c *custEnv) create(t *testing.T, by *tilltest.Account, input map[string]any) custCustomer {
	t.Helper()
	return custPayload(t, c.call(t, by.Token, custCreate, input))
}

// newCustomer registers name with fresh contact details as the owner.
func (c *custEnv) newCustomer(t *testing.T, name string, extra map[string]any) (custCustomer, custPerson) {
	t.Helper()
	p := c.person()
	in := map[string]any{"name": name, "phone": p.phone, "email": p.email, "address": p.address}
	for k, v := range extra {
		in[k] = v
	}
	return c.create(t, c.owner, in), p
}

func (c *custEnv) update(t *testing.T, by *tilltest.Account, id string, input map[string]any) custCustomer {
	t.Helper()
	input["customerId"] = id
	return custPayload(t, c.call(t, by.Token, custUpdate, input))
}

// read reads a customer through node(id:) as the holder of token.
func (c *custEnv) read(t *testing.T, token, id string) custCustomer {
	t.Helper()
	var out struct{ Node *custCustomer }
	c.Exec(t, token, custNode, map[string]any{"id": id}).Decode(t, &out)
	require.NotNil(t, out.Node, "customer %s", id)
	return *out.Node
}

// lookup runs lookupCustomer with key, failing on errors.
func (c *custEnv) lookup(t *testing.T, token string, key map[string]any) *custCustomer {
	t.Helper()
	var out struct{ LookupCustomer *custCustomer }
	c.call(t, token, custLookup, key).Decode(t, &out)
	return out.LookupCustomer
}

// lookupID is the id lookupCustomer finds for key, "" for none.
func (c *custEnv) lookupID(t *testing.T, token string, key map[string]any) string {
	t.Helper()
	if found := c.lookup(t, token, key); found != nil {
		return found.ID
	}
	return ""
}

func (c *custEnv) search(t *testing.T, token, query string, first int, after *string) custPage {
	t.Helper()
	vars := map[string]any{"q": query}
	if first > 0 {
		vars["first"] = first
	}
	if after != nil {
		vars["after"] = *after
	}
	var out struct{ SearchCustomers custPage }
	c.Exec(t, token, custSearch, vars).Decode(t, &out)
	return out.SearchCustomers
}

// audit returns the owner's merchant's audit entries with action (about
// targetID, when not empty), oldest first.
func (c *custEnv) audit(t *testing.T, owner *tilltest.Account, action, targetID string) []custAudit {
	t.Helper()
	where := map[string]any{"action": action}
	if targetID != "" {
		where["targetID"] = targetID
	}
	var out struct {
		AuditEntries struct {
			TotalCount int
			Edges      []struct{ Node custAudit }
		}
	}
	c.Exec(t, owner.Token, `query($w: AuditEntryWhereInput) {
		auditEntries(where: $w, first: 100, orderBy: {field: CREATED_AT}) {
			totalCount edges { node { action actorKind actorID targetID details } } } }`,
		map[string]any{"w": where}).Decode(t, &out)
	entries := []custAudit{}
	for _, e := range out.AuditEntries.Edges {
		entries = append(entries, e.Node)
	}
	require.Len(t, entries, out.AuditEntries.TotalCount)
	return entries
}

// requireAudited asserts there are want entries with action about target,
// each by actor.
func (c *custEnv) requireAudited(t *testing.T, action, target string, actor *tilltest.Account, want int) {
	t.Helper()
	entries := c.audit(t, c.owner, action, target)
	require.Len(t, entries, want, "%s entries about %s", action, target)
	for _, e := range entries {
		require.Equal(t, "STAFF", e.ActorKind)
		require.NotNil(t, e.ActorID)
		require.Equal(t, actor.ID, *e.ActorID, "%s is by %s", action, actor.Email)
	}
}

// rows is how many customers the database holds, of any merchant.
func (c *custEnv) rows(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, c.DB.SQL.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM customers").Scan(&n))
	return n
}

// stored is cu with its times as PostgreSQL keeps them (to the
// microsecond), for comparing what a mutation answered with what is read
// back later; TestCustomerPayloadTimes checks the difference on its own.
func (cu custCustomer) stored() custCustomer {
	us := func(at *time.Time) *time.Time {
		if at == nil {
			return nil
		}
		tr := at.Truncate(time.Microsecond)
		return &tr
	}
	cu.CreatedAt, cu.UpdatedAt = cu.CreatedAt.Truncate(time.Microsecond), cu.UpdatedAt.Truncate(time.Microsecond)
	cu.PushConsentAt, cu.SmsConsentAt, cu.EmailConsentAt = us(cu.PushConsentAt), us(cu.SmsConsentAt), us(cu.EmailConsentAt)
	return cu
}

func custStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// requireFull asserts an OWNER's or MANAGER's view of p's details.
func requireFull(t *testing.T, got custCustomer, p custPerson) {
	t.Helper()
	require.False(t, got.ContactMasked)
	require.Equal(t, p.e164, custStr(got.Phone))
	require.Equal(t, p.emailNorm, custStr(got.Email))
	require.Equal(t, p.address, custStr(got.Address))
}

// requireMasked asserts a CASHIER's view of p's details.
func requireMasked(t *testing.T, got custCustomer, p custPerson) {
	t.Helper()
	require.True(t, got.ContactMasked)
	require.Equal(t, p.maskedPhone, custStr(got.Phone))
	require.Equal(t, p.maskedEmail, custStr(got.Email))
	require.Nil(t, got.Address, "cashiers are not shown the address")
}

func requireView(t *testing.T, role string, got custCustomer, p custPerson) {
	t.Helper()
	if role == "CASHIER" {
		requireMasked(t, got, p)
	} else {
		requireFull(t, got, p)
	}
}

// requireAt asserts at is set and falls between from and to.
func requireAt(t *testing.T, at *time.Time, from, to time.Time, what string) {
	t.Helper()
	require.NotNil(t, at, what)
	require.False(t, at.Before(from.Add(-time.Millisecond)), "%s %s is before the request (%s)", what, at, from)
	require.False(t, at.After(to.Add(time.Millisecond)), "%s %s is after the response (%s)", what, at, to)
}

func requireSameTime(t *testing.T, want, got *time.Time, what string) {
	t.Helper()
	require.NotNil(t, want, what)
	require.NotNil(t, got, what)
	require.True(t, want.Truncate(time.Microsecond).Equal(got.Truncate(time.Microsecond)), "%s: want %s, got %s", what, want, got)
}

func TestCustomerCreate(t *testing.T) {
	c := newCustEnv(t)
	for _, role := range custRoles {
		t.Run(role, func(t *testing.T) {
			actor := c.as(role)
			p := c.person()
			before := time.Now()
			got := c.create(t, actor, map[string]any{
				"name": "  Mei Lin  ", "phone": p.phone, "email": p.email, "address": p.address,
				"birthday": "1990-05-17", "gender": "FEMALE", "notes": "Prefers oolong",
				"tags":    []string{" VIP ", "VIP", "", "  ", "tea lover", "tea lover "},
				"consent": map[string]any{"push": true, "sms": false},
				"storeId": c.owner.StoreID,
			})
			after := time.Now()

			// What the one registering is shown.
			require.Equal(t, "Mei Lin", got.Name)
			requireView(t, role, got, p)

			// What was stored, as the owner sees it.
			full := c.read(t, c.owner.Token, got.ID)
			require.Equal(t, c.owner.MerchantID, full.MerchantID)
			require.Equal(t, "Mei Lin", full.Name)
			requireFull(t, full, p)
			require.Equal(t, "1990-05-17", custStr(full.Birthday))
			require.Equal(t, "FEMALE", custStr(full.Gender))
			require.Equal(t, "Prefers oolong", custStr(full.Notes))
			require.Equal(t, []string{"VIP", "tea lover"}, full.Tags, "tags trimmed, blanks and repeats dropped, order kept")
			require.Regexp(t, `^[1-9][0-9]{9}$`, full.MemberCode, "a generated 10-digit member code")
			require.True(t, full.PushConsent)
			requireAt(t, full.PushConsentAt, before, after, "pushConsentAt")
			require.False(t, full.SmsConsent)
			requireAt(t, full.SmsConsentAt, before, after, "smsConsentAt (a refusal is a decision too)")
			require.False(t, full.EmailConsent)
			require.Nil(t, full.EmailConsentAt, "no email decision was given")
			require.Equal(t, "ACTIVE", full.Status)
			require.Nil(t, full.MergedIntoID)
			require.Zero(t, full.VisitsCount)
			require.Zero(t, full.TotalSpent)
			require.NotNil(t, full.CreatedBy)
			require.Equal(t, actor.ID, full.CreatedBy.ID)
			require.NotNil(t, full.Store)
			require.Equal(t, c.owner.StoreID, full.Store.ID)
			requireAt(t, &full.CreatedAt, before, after, "createdAt")

			// The one registering reads the same customer back.
			again := c.read(t, actor.Token, got.ID)
			require.Equal(t, got.stored(), again.stored())

			require.Equal(t, got.ID, c.lookupID(t, actor.Token, map[string]any{"memberCode": full.MemberCode}))
			c.requireAudited(t, "customer.created", got.ID, actor, 1)
		})
	}

	t.Run("member code given, no store, no consent", func(t *testing.T) {
		got := c.create(t, c.cashier, map[string]any{"name": "Wei Zhang", "memberCode": "  CARD-0042 "})
		require.Equal(t, "CARD-0042", got.MemberCode)
		require.Nil(t, got.Store)
		require.Nil(t, got.Phone)
		require.Nil(t, got.Email)
		require.Nil(t, got.Address)
		require.Empty(t, got.Tags)
		require.False(t, got.PushConsent || got.SmsConsent || got.EmailConsent)
		require.Nil(t, got.PushConsentAt)
		require.Nil(t, got.SmsConsentAt)
		require.Nil(t, got.EmailConsentAt)
		require.Equal(t, got.ID, c.lookupID(t, c.owner.Token, map[string]any{"memberCode": "CARD-0042"}))
	})

	t.Run("generated member codes differ", func(t *testing.T) {
		codes := map[string]bool{}
		for i := range 5 {
			got := c.create(t, c.cashier, map[string]any{"name": fmt.Sprintf("Walk-in %d", i)})
			require.Regexp(t, `^[1-9][0-9]{9}$`, got.MemberCode)
			codes[got.MemberCode] = true
		}
		require.Len(t, codes, 5)
	})
}

// A mutation answers with the times that were stored, so that a client
// can use them: filter on them, compare them with a later read.
func TestCustomerPayloadTimes(t *testing.T) {
	c := newCustEnv(t)
	created, _ := c.newCustomer(t, "Mei Lin", map[string]any{"consent": map[string]any{"push": true}})
	read := c.read(t, c.owner.Token, created.ID)
	require.True(t, created.CreatedAt.Equal(read.CreatedAt), "createCustomer said createdAt %s, it reads back as %s", created.CreatedAt, read.CreatedAt)
	require.True(t, created.UpdatedAt.Equal(read.UpdatedAt), "createCustomer said updatedAt %s, it reads back as %s", created.UpdatedAt, read.UpdatedAt)
	require.True(t, created.PushConsentAt.Equal(*read.PushConsentAt), "createCustomer said pushConsentAt %s, it reads back as %s", created.PushConsentAt, read.PushConsentAt)

	updated := c.update(t, c.owner, created.ID, map[string]any{"notes": "x"})
	read = c.read(t, c.owner.Token, created.ID)
	require.True(t, updated.UpdatedAt.Equal(read.UpdatedAt), "updateCustomer said updatedAt %s, it reads back as %s", updated.UpdatedAt, read.UpdatedAt)
}

// Every refusal names the field and leaves nothing behind: no customer,
// no audit entry, nothing a lookup finds.
func TestCustomerCreateRefused(t *testing.T) {
	c := newCustEnv(t)
	taken, takenP := c.newCustomer(t, "Taken Customer", map[string]any{"memberCode": "CARD-0007"})
	tomorrow := time.Now().AddDate(0, 0, 2).Format(time.DateOnly)

	cases := []struct {
		name        string
		set         map[string]any
		code, field string
	}{
		{"no name", map[string]any{"name": ""}, "BAD_USER_INPUT", "name"},
		{"blank name", map[string]any{"name": "   "}, "BAD_USER_INPUT", "name"},
		{"name too long", map[string]any{"name": strings.Repeat("n", 201)}, "BAD_USER_INPUT", "name"},
		{"short phone", map[string]any{"phone": "12345"}, "BAD_USER_INPUT", "phone"},
		{"words for a phone", map[string]any{"phone": "call me"}, "BAD_USER_INPUT", "phone"},
		{"phone one digit short", map[string]any{"phone": "139 1234 567"}, "BAD_USER_INPUT", "phone"},
		{"email without domain", map[string]any{"email": "mei@"}, "BAD_USER_INPUT", "email"},
		{"email without dot in domain", map[string]any{"email": "mei@localhost"}, "BAD_USER_INPUT", "email"},
		{"email with display name", map[string]any{"email": "Mei <mei@lotus.example>"}, "BAD_USER_INPUT", "email"},
		{"not an email", map[string]any{"email": "mei lin"}, "BAD_USER_INPUT", "email"},
		{"birthday day first", map[string]any{"birthday": "17/05/1990"}, "BAD_USER_INPUT", "birthday"},
		{"birthday not a date", map[string]any{"birthday": "1990-02-30"}, "BAD_USER_INPUT", "birthday"},
		{"birthday in the future", map[string]any{"birthday": tomorrow}, "BAD_USER_INPUT", "birthday"},
		{"tag too long", map[string]any{"tags": []string{"ok", strings.Repeat("t", 41)}}, "BAD_USER_INPUT", "tags"},
		{"member code with a space", map[string]any{"memberCode": "CARD 99"}, "BAD_USER_INPUT", "memberCode"},
		{"member code too long", map[string]any{"memberCode": strings.Repeat("9", 33)}, "BAD_USER_INPUT", "memberCode"},
		{"no such store", map[string]any{"storeId": "sto_01JD7X0Q2N3V4W5X6Y7Z8A9B0C"}, "NOT_FOUND", "storeId"},
		{"phone taken (as written)", map[string]any{"phone": takenP.phone}, "CONFLICT", "phone"},
		{"phone taken (another form)", map[string]any{"phone": "+86-" + takenP.national}, "CONFLICT", "phone"},
		{"email taken (another case)", map[string]any{"email": strings.ToUpper(takenP.email)}, "CONFLICT", "email"},
		{"member code taken", map[string]any{"memberCode": "CARD-0007"}, "CONFLICT", "memberCode"},
		{"member code taken (padded)", map[string]any{"memberCode": " CARD-0007 "}, "CONFLICT", "memberCode"},
	}
	for _, role := range custRoles {
		for _, tc := range cases {
			t.Run(role+"/"+tc.name, func(t *testing.T) {
				actor := c.as(role)
				p := c.person()
				in := map[string]any{"name": "Wei Zhang", "phone": p.phone, "email": p.email, "address": p.address,
					"tags": []string{"refusedtag"}}
				for k, v := range tc.set {
					in[k] = v
				}
				rows, created := c.rows(t), len(c.audit(t, c.owner, "customer.created", ""))

				custRefused(t, c.call(t, actor.Token, custCreate, in), tc.code, tc.field)

				require.Equal(t, rows, c.rows(t), "no customer was written")
				require.Len(t, c.audit(t, c.owner, "customer.created", ""), created, "nothing was audited")
				if tc.field != "phone" {
					require.Empty(t, c.lookupID(t, c.owner.Token, map[string]any{"phone": p.phone}))
				}
				if tc.field != "email" {
					require.Empty(t, c.lookupID(t, c.owner.Token, map[string]any{"email": p.email}))
				}
				require.Zero(t, c.search(t, c.owner.Token, "refusedtag", 0, nil).TotalCount)
			})
		}
	}
	// The customer whose details were asked for is as they were.
	require.Equal(t, taken.stored(), c.read(t, c.owner.Token, taken.ID).stored())
}

func TestCustomerUpdate(t *testing.T) {
	c := newCustEnv(t)
	other, otherP := c.newCustomer(t, "Other Customer", map[string]any{"memberCode": "CARD-0100"})

	for _, role := range custRoles {
		t.Run(role, func(t *testing.T) {
			actor := c.as(role)
			orig, p := c.newCustomer(t, "Mei Lin", map[string]any{
				"birthday": "1990-05-17", "gender": "FEMALE", "notes": "Prefers oolong", "tags": []string{"VIP", "tea"},
				"consent": map[string]any{"push": true, "sms": false}, "storeId": c.owner.StoreID,
			})
			updates := 0

			t.Run("partial update", func(t *testing.T) {
				got := c.update(t, actor, orig.ID, map[string]any{"name": "  Mei Lin-Zhang "})
				updates++
				require.Equal(t, "Mei Lin-Zhang", got.Name)
				requireView(t, role, got, p)
				now := c.read(t, c.owner.Token, orig.ID)
				require.False(t, now.UpdatedAt.Before(orig.UpdatedAt))
				want := orig
				want.Name, want.UpdatedAt = "Mei Lin-Zhang", now.UpdatedAt
				require.Equal(t, want.stored(), now.stored(), "only the name changed")
			})

			p2 := c.person()
			t.Run("new contact details in other forms", func(t *testing.T) {
				got := c.update(t, actor, orig.ID, map[string]any{
					"phone": "+86 (" + p2.national[:3] + ") " + p2.national[3:7] + "-" + p2.national[7:],
					"email": strings.ToUpper(p2.email), "address": p2.address, "tags": []string{"Regular", " Regular"},
				})
				updates++
				requireView(t, role, got, p2)
				require.Equal(t, []string{"Regular"}, got.Tags)
				requireFull(t, c.read(t, c.owner.Token, orig.ID), p2)
				require.Empty(t, c.lookupID(t, actor.Token, map[string]any{"phone": p.phone}), "the old phone no longer finds them")
				require.Empty(t, c.lookupID(t, actor.Token, map[string]any{"email": p.email}), "the old email no longer finds them")
				require.Equal(t, orig.ID, c.lookupID(t, actor.Token, map[string]any{"phone": p2.national}))
				require.Equal(t, orig.ID, c.lookupID(t, actor.Token, map[string]any{"email": p2.emailNorm}))
			})

			t.Run("consent time moves only when the decision does", func(t *testing.T) {
				before := time.Now()
				got := c.update(t, actor, orig.ID, map[string]any{"consent": map[string]any{"push": true, "sms": true}})
				after := time.Now()
				updates++
				require.True(t, got.PushConsent)
				requireSameTime(t, orig.PushConsentAt, got.PushConsentAt, "push: the same decision keeps its time")
				require.True(t, got.SmsConsent)
				requireAt(t, got.SmsConsentAt, before, after, "sms: a new decision gets a new time")
				require.False(t, got.EmailConsent)
				require.Nil(t, got.EmailConsentAt, "email: not decided")

				// Leaving consent out changes none of it.
				again := c.update(t, actor, orig.ID, map[string]any{"notes": "Likes jasmine"})
				updates++
				requireSameTime(t, orig.PushConsentAt, again.PushConsentAt, "pushConsentAt")
				requireSameTime(t, got.SmsConsentAt, again.SmsConsentAt, "smsConsentAt")

				before = time.Now()
				withdrawn := c.update(t, actor, orig.ID, map[string]any{"consent": map[string]any{"push": false, "sms": true}})
				after = time.Now()
				updates++
				require.False(t, withdrawn.PushConsent)
				requireAt(t, withdrawn.PushConsentAt, before, after, "withdrawing push consent is recorded when made")
				require.True(t, withdrawn.SmsConsent)
				requireSameTime(t, got.SmsConsentAt, withdrawn.SmsConsentAt, "smsConsentAt")
			})

			t.Run("empty strings clear", func(t *testing.T) {
				got := c.update(t, actor, orig.ID, map[string]any{
					"phone": "", "email": "", "address": "", "birthday": "", "notes": "", "tags": []string{}, "clearGender": true,
				})
				updates++
				for _, view := range []custCustomer{got, c.read(t, c.owner.Token, orig.ID)} {
					require.Nil(t, view.Phone)
					require.Nil(t, view.Email)
					require.Nil(t, view.Address)
					require.Nil(t, view.Birthday)
					require.Nil(t, view.Gender)
					require.Empty(t, custStr(view.Notes))
					require.Empty(t, view.Tags)
					require.Equal(t, "Mei Lin-Zhang", view.Name, "what was left out stays")
					require.Equal(t, orig.MemberCode, view.MemberCode)
				}
				require.Empty(t, c.lookupID(t, actor.Token, map[string]any{"phone": p2.phone}))
				require.Empty(t, c.lookupID(t, actor.Token, map[string]any{"email": p2.email}))
				require.Equal(t, orig.ID, c.lookupID(t, actor.Token, map[string]any{"memberCode": orig.MemberCode}))
			})

			t.Run("refusals change nothing", func(t *testing.T) {
				for _, tc := range []struct {
					name        string
					set         map[string]any
					code, field string
				}{
					{"no name", map[string]any{"name": ""}, "BAD_USER_INPUT", "name"},
					{"blank name", map[string]any{"name": "  "}, "BAD_USER_INPUT", "name"},
					{"bad phone", map[string]any{"phone": "12"}, "BAD_USER_INPUT", "phone"},
					{"bad email", map[string]any{"email": "nope@"}, "BAD_USER_INPUT", "email"},
					{"future birthday", map[string]any{"birthday": "2999-01-01"}, "BAD_USER_INPUT", "birthday"},
					{"member code cleared", map[string]any{"memberCode": ""}, "BAD_USER_INPUT", "memberCode"},
					{"member code with a space", map[string]any{"memberCode": "A B"}, "BAD_USER_INPUT", "memberCode"},
					{"another's phone", map[string]any{"phone": "+86" + otherP.national}, "CONFLICT", "phone"},
					{"another's email", map[string]any{"email": strings.ToUpper(otherP.emailNorm)}, "CONFLICT", "email"},
					{"another's member code", map[string]any{"memberCode": other.MemberCode}, "CONFLICT", "memberCode"},
					{"another's phone with a valid name", map[string]any{"name": "Changed", "phone": otherP.phone}, "CONFLICT", "phone"},
				} {
					t.Run(tc.name, func(t *testing.T) {
						was := c.read(t, c.owner.Token, orig.ID)
						in := map[string]any{"customerId": orig.ID}
						for k, v := range tc.set {
							in[k] = v
						}
						custRefused(t, c.call(t, actor.Token, custUpdate, in), tc.code, tc.field)
						require.Equal(t, was, c.read(t, c.owner.Token, orig.ID))
					})
				}
				custRefused(t, c.call(t, actor.Token, custUpdate, map[string]any{"customerId": custNoCustomer, "name": "X"}), "NOT_FOUND", "")
			})

			c.requireAudited(t, "customer.updated", orig.ID, actor, updates)
		})
	}
	require.Equal(t, otherP.e164, custStr(c.read(t, c.owner.Token, other.ID).Phone), "the other customer kept their phone")
}

func TestCustomerArchive(t *testing.T) {
	c := newCustEnv(t)
	for _, role := range custRoles {
		t.Run(role, func(t *testing.T) {
			actor := c.as(role)
			word := "quill" + strings.ToLower(role)
			orig, p := c.newCustomer(t, "Ines "+strings.ToUpper(word[:1])+word[1:], nil)
			require.Equal(t, 1, c.search(t, actor.Token, word, 0, nil).TotalCount)

			res := c.call(t, actor.Token, custArchive, map[string]any{"customerId": orig.ID})
			if !custManages(role) {
				custRefused(t, res, "FORBIDDEN", "")
				require.Equal(t, orig.stored(), c.read(t, c.owner.Token, orig.ID).stored())
				require.Equal(t, 1, c.search(t, actor.Token, word, 0, nil).TotalCount)
				require.Empty(t, c.audit(t, c.owner, "customer.archived", orig.ID))
				return
			}
			got := custPayload(t, res)
			require.Equal(t, "ARCHIVED", got.Status)
			require.Equal(t, "ARCHIVED", c.read(t, c.owner.Token, orig.ID).Status)
			c.requireAudited(t, "customer.archived", orig.ID, actor, 1)

			for _, who := range custRoles {
				page := c.search(t, c.as(who).Token, word, 0, nil)
				require.Zero(t, page.TotalCount, "archived customers drop out of search (%s)", who)
				require.Empty(t, page.Edges)
				for _, key := range []map[string]any{{"phone": p.phone}, {"email": p.email}, {"memberCode": orig.MemberCode}} {
					found := c.lookup(t, c.as(who).Token, key)
					require.NotNil(t, found, "lookup still finds an archived customer by %v (%s)", key, who)
					require.Equal(t, orig.ID, found.ID)
					require.Equal(t, "ARCHIVED", found.Status)
				}
			}
			custRefused(t, c.call(t, actor.Token, custArchive, map[string]any{"customerId": orig.ID}), "BAD_USER_INPUT", "customerId")
			custRefused(t, c.call(t, actor.Token, custArchive, map[string]any{"customerId": custNoCustomer}), "NOT_FOUND", "")
			c.requireAudited(t, "customer.archived", orig.ID, actor, 1)
		})
	}
}

func TestCustomerLookup(t *testing.T) {
	c := newCustEnv(t)
	mei := c.create(t, c.owner, map[string]any{
		"name": "Mei Lin", "phone": "13812345678", "email": "Mei.Lin@Lotus.Example", "memberCode": "LT-000123",
	})
	p := custPerson{e164: "+8613812345678", maskedPhone: "138****5678", emailNorm: "mei.lin@lotus.example", maskedEmail: "m******@lotus.example"}
	// Another customer, so a lookup that ignored its key would be caught.
	c.newCustomer(t, "Wei Zhang", nil)

	found := []struct {
		name string
		key  map[string]any
	}{
		{"phone, national", map[string]any{"phone": "13812345678"}},
		{"phone, E.164", map[string]any{"phone": "+8613812345678"}},
		{"phone, spaced", map[string]any{"phone": "+86 138 1234 5678"}},
		{"phone, dashed", map[string]any{"phone": "138-1234-5678"}},
		{"phone, international prefix", map[string]any{"phone": "0086 138 1234 5678"}},
		{"phone, padded", map[string]any{"phone": "  138 1234 5678  "}},
		{"email, as stored", map[string]any{"email": "mei.lin@lotus.example"}},
		{"email, upper case", map[string]any{"email": "MEI.LIN@LOTUS.EXAMPLE"}},
		{"email, mixed case padded", map[string]any{"email": " Mei.Lin@lotus.EXAMPLE "}},
		{"member code", map[string]any{"memberCode": "LT-000123"}},
		{"member code, padded", map[string]any{"memberCode": " LT-000123 "}},
		{"phone with the other keys empty", map[string]any{"phone": "13812345678", "email": "", "memberCode": ""}},
	}
	notFound := []struct {
		name string
		key  map[string]any
	}{
		{"another phone", map[string]any{"phone": "13812345679"}},
		{"the number in another country", map[string]any{"phone": "+852 6123 4567"}},
		{"another email", map[string]any{"email": "mei.lin@lotus.example.org"}},
		{"another member code", map[string]any{"memberCode": "LT-000124"}},
		{"member code in another case", map[string]any{"memberCode": "lt-000123"}},
	}
	refused := []struct {
		name  string
		key   map[string]any
		field string
	}{
		{"no key", map[string]any{}, ""},
		{"only blanks", map[string]any{"phone": " ", "email": ""}, ""},
		{"phone and email", map[string]any{"phone": "13812345678", "email": "mei.lin@lotus.example"}, ""},
		{"email and member code", map[string]any{"email": "mei.lin@lotus.example", "memberCode": "LT-000123"}, ""},
		{"all three", map[string]any{"phone": "13812345678", "email": "mei.lin@lotus.example", "memberCode": "LT-000123"}, ""},
		{"not a phone", map[string]any{"phone": "12"}, "phone"},
		{"not an email", map[string]any{"email": "mei.lin"}, "email"},
	}
	for _, role := range custRoles {
		token := c.as(role).Token
		for _, tc := range found {
			t.Run(role+"/finds by "+tc.name, func(t *testing.T) {
				got := c.lookup(t, token, tc.key)
				require.NotNil(t, got)
				require.Equal(t, mei.ID, got.ID)
				require.Equal(t, "Mei Lin", got.Name)
				if role == "CASHIER" {
					require.True(t, got.ContactMasked)
					require.Equal(t, p.maskedPhone, custStr(got.Phone))
					require.Equal(t, p.maskedEmail, custStr(got.Email))
				} else {
					require.False(t, got.ContactMasked)
					require.Equal(t, p.e164, custStr(got.Phone))
					require.Equal(t, p.emailNorm, custStr(got.Email))
				}
			})
		}
		for _, tc := range notFound {
			t.Run(role+"/none for "+tc.name, func(t *testing.T) {
				res := c.call(t, token, custLookup, tc.key)
				require.Empty(t, res.Errors)
				require.JSONEq(t, `{"lookupCustomer": null}`, string(res.Data))
			})
		}
		for _, tc := range refused {
			t.Run(role+"/refuses "+tc.name, func(t *testing.T) {
				custRefused(t, c.call(t, token, custLookup, tc.key), "BAD_USER_INPUT", tc.field)
			})
		}
	}

	// A merchant whose locale has no country other than the default reads
	// numbers without a country code as US numbers.
	t.Run("phones of an en merchant are US numbers", func(t *testing.T) {
		pine := c.SignUp(t, "Pine Bakery")
		us := c.create(t, pine, map[string]any{"name": "Ann Lee", "phone": "(415) 555-2671"})
		require.Equal(t, "+14155552671", custStr(us.Phone))
		cn := c.create(t, pine, map[string]any{"name": "Li Na", "phone": "+86 139 1234 5678"})
		require.Equal(t, "+8613912345678", custStr(cn.Phone))
		custRefused(t, c.call(t, pine.Token, custCreate, map[string]any{"name": "Wu Lei", "phone": "13812345678"}), "BAD_USER_INPUT", "phone")

		for _, phone := range []string{"415.555.2671", "+1 415 555 2671", "1-415-555-2671", "4155552671"} {
			require.Equal(t, us.ID, c.lookupID(t, pine.Token, map[string]any{"phone": phone}), phone)
		}
		require.Equal(t, cn.ID, c.lookupID(t, pine.Token, map[string]any{"phone": "+8613912345678"}))
		custRefused(t, c.call(t, pine.Token, custLookup, map[string]any{"phone": "13912345678"}), "BAD_USER_INPUT", "phone")
	})
}

func TestCustomerSearch(t *testing.T) {
	c := newCustEnv(t)
	ids := map[string]string{}
	people := map[string]custPerson{}
	for _, cu := range []struct {
		name string
		tags []string
	}{
		{"Mei Lin", []string{"VIP", "tea lover"}},
		{"Lin Wei", []string{"regular"}},
		{"Linda Park", nil},
		{"Ada Mei", []string{"vip"}},
		{"Zhou Malin", []string{"Oolong Club"}},
		{"Bob Stone", []string{"linen buyer"}},
	} {
		got, p := c.newCustomer(t, cu.name, map[string]any{"tags": cu.tags})
		ids[cu.name], people[cu.name] = got.ID, p
	}

	cases := []struct {
		query string
		want  []string
	}{
		// Ranked: names starting with the query, then names with a word
		// starting with it, then tag matches; by name within each.
		{"lin", []string{"Lin Wei", "Linda Park", "Mei Lin", "Bob Stone"}},
		{"LIN", []string{"Lin Wei", "Linda Park", "Mei Lin", "Bob Stone"}},
		{"  lin  ", []string{"Lin Wei", "Linda Park", "Mei Lin", "Bob Stone"}},
		{"linda", []string{"Linda Park"}},
		{"mei lin", []string{"Mei Lin"}},
		{"lin mei", []string{"Mei Lin"}},
		{"MEI   LIN", []string{"Mei Lin"}},
		{"mei", []string{"Mei Lin", "Ada Mei"}},
		{"vip", []string{"Ada Mei", "Mei Lin"}},
		{"vip lin", []string{"Mei Lin"}},
		{"tea", []string{"Mei Lin"}},
		{"lov", []string{"Mei Lin"}},
		{"club", []string{"Zhou Malin"}},
		{"oolong zhou", []string{"Zhou Malin"}},
		{"alin", nil},
		{"ei", nil},
		// Nothing starts so: near names instead, most similar first
		// (trigrams shared: 5 of 15, then 4 of 13 each, by name).
		{"mei park", []string{"Linda Park", "Ada Mei", "Mei Lin"}},
		{"lnda park", []string{"Linda Park"}},
		{"zhou maln", []string{"Zhou Malin"}},
		{"xyz", nil},
		{"%", nil},
		{"_", nil},
		{"l%n", nil},
	}
	for _, role := range custRoles {
		token := c.as(role).Token
		for _, tc := range cases {
			t.Run(role+"/"+tc.query, func(t *testing.T) {
				page := c.search(t, token, tc.query, 0, nil)
				want := tc.want
				if want == nil {
					want = []string{}
				}
				require.Equal(t, want, page.names(), "word-prefix matches on name and tags, every word, best first; else near names")
				require.Equal(t, len(want), page.TotalCount)
				require.False(t, page.PageInfo.HasNextPage)
				for _, e := range page.Edges {
					require.Equal(t, ids[e.Node.Name], e.Node.ID)
					requireView(t, role, e.Node, people[e.Node.Name])
				}
			})
		}

		t.Run(role+"/pages", func(t *testing.T) {
			first := c.search(t, token, "lin", 2, nil)
			require.Equal(t, []string{"Lin Wei", "Linda Park"}, first.names())
			require.Equal(t, 4, first.TotalCount)
			require.True(t, first.PageInfo.HasNextPage)
			require.NotNil(t, first.PageInfo.EndCursor)

			second := c.search(t, token, "lin", 2, first.PageInfo.EndCursor)
			require.Equal(t, []string{"Mei Lin", "Bob Stone"}, second.names())
			require.False(t, second.PageInfo.HasNextPage)

			rest := c.search(t, token, "lin", 1, &second.Edges[0].Cursor)
			require.Equal(t, []string{"Bob Stone"}, rest.names())
			require.False(t, rest.PageInfo.HasNextPage)
		})

		t.Run(role+"/empty query", func(t *testing.T) {
			for _, q := range []string{"", "   "} {
				custRefused(t, c.Exec(t, token, custSearch, map[string]any{"q": q}), "BAD_USER_INPUT", "query")
			}
		})
	}

	t.Run("follows renames and new tags", func(t *testing.T) {
		c.update(t, c.cashier, ids["Linda Park"], map[string]any{"name": "Linda Qiu", "tags": []string{"Jasmine"}})
		require.Equal(t, []string{"Linda Qiu"}, c.search(t, c.owner.Token, "qiu", 0, nil).names())
		require.Equal(t, []string{"Linda Qiu"}, c.search(t, c.owner.Token, "jasm", 0, nil).names())
		require.Empty(t, c.search(t, c.owner.Token, "park", 0, nil).names())
		require.Equal(t, []string{"Linda Qiu"}, c.search(t, c.owner.Token, "lynda qiu", 0, nil).names(), "near the new name")
	})

	t.Run("near names leave erased customers and other merchants out", func(t *testing.T) {
		require.Equal(t, []string{"Zhou Malin"}, c.search(t, c.owner.Token, "zhou maln", 0, nil).names())
		c.call(t, c.owner.Token, custErase, map[string]any{"customerId": ids["Zhou Malin"]}).Decode(t, &struct{}{})
		require.Empty(t, c.search(t, c.owner.Token, "zhou maln", 0, nil).names())

		other := newCustEnv(t)
		other.newCustomer(t, "Bob Stone", nil)
		require.Equal(t, []string{"Bob Stone"}, c.search(t, c.owner.Token, "bob ston", 0, nil).names(), "only this merchant's Bob")
	})
}

func TestCustomerContactMasking(t *testing.T) {
	c := newCustEnv(t)
	mei := c.create(t, c.owner, map[string]any{
		"name": "Mei Lin", "phone": "138 1234 5678", "email": "Mei.Lin@Lotus.Example", "address": "8 West Lake Road, Hangzhou",
	})
	meiP := custPerson{
		e164: "+8613812345678", maskedPhone: "138****5678",
		emailNorm: "mei.lin@lotus.example", maskedEmail: "m******@lotus.example", address: "8 West Lake Road, Hangzhou",
	}
	ann := c.create(t, c.owner, map[string]any{"name": "Ann Lee", "phone": "+1 (415) 555-2671", "email": "ab@x.example"})
	annP := custPerson{e164: "+14155552671", maskedPhone: "415***2671", emailNorm: "ab@x.example", maskedEmail: "a**@x.example"}
	bare := c.create(t, c.owner, map[string]any{"name": "Bare Customer"})

	views := map[string]func(t *testing.T, token, id string, key map[string]any, word string) custCustomer{
		"node": func(t *testing.T, token, id string, _ map[string]any, _ string) custCustomer {
			return c.read(t, token, id)
		},
		"lookupCustomer": func(t *testing.T, token, _ string, key map[string]any, _ string) custCustomer {
			got := c.lookup(t, token, key)
			require.NotNil(t, got)
			return *got
		},
		"searchCustomers": func(t *testing.T, token, _ string, _ map[string]any, word string) custCustomer {
			page := c.search(t, token, word, 0, nil)
			require.Len(t, page.Edges, 1)
			return page.Edges[0].Node
		},
	}
	for _, role := range custRoles {
		token := c.as(role).Token
		for name, view := range views {
			t.Run(role+"/"+name, func(t *testing.T) {
				requireView(t, role, view(t, token, mei.ID, map[string]any{"memberCode": mei.MemberCode}, "mei"), meiP)
				requireView(t, role, view(t, token, ann.ID, map[string]any{"email": "AB@x.example"}, "ann"), annP)
				got := view(t, token, bare.ID, map[string]any{"memberCode": bare.MemberCode}, "bare")
				require.Nil(t, got.Phone)
				require.Nil(t, got.Email)
				require.Nil(t, got.Address)
				require.Equal(t, role == "CASHIER", got.ContactMasked)
			})
		}
	}

	t.Run("mutation payloads are masked for cashiers too", func(t *testing.T) {
		p := c.person()
		created := c.create(t, c.cashier, map[string]any{"name": "Wei Zhang", "phone": p.phone, "email": p.email, "address": p.address})
		requireMasked(t, created, p)
		updated := c.update(t, c.cashier, created.ID, map[string]any{"notes": "new"})
		requireMasked(t, updated, p)
		requireFull(t, c.update(t, c.manager, created.ID, map[string]any{"notes": "newer"}), p)
	})

	t.Run("allowing reveals does not unmask reads", func(t *testing.T) {
		c.setMerchant(t, c.owner, map[string]any{"cashiersSeeFullContact": true})
		requireMasked(t, c.read(t, c.cashier.Token, mei.ID), meiP)
		requireMasked(t, *c.lookup(t, c.cashier.Token, map[string]any{"phone": "13812345678"}), meiP)
	})
}

func TestCustomerRevealContact(t *testing.T) {
	c := newCustEnv(t)
	requireRevealed := func(t *testing.T, res *tilltest.Result, p custPerson) {
		t.Helper()
		var out struct{ RevealCustomerContact map[string]any }
		res.Decode(t, &out)
		require.Equal(t, map[string]any{"phone": p.e164, "email": p.emailNorm, "address": p.address}, out.RevealCustomerContact)
	}

	for _, role := range []string{"OWNER", "MANAGER"} {
		t.Run(role+" reveals", func(t *testing.T) {
			actor := c.as(role)
			orig, p := c.newCustomer(t, "Mei Lin", nil)
			requireRevealed(t, c.call(t, actor.Token, custReveal, map[string]any{"customerId": orig.ID}), p)
			requireRevealed(t, c.call(t, actor.Token, custReveal, map[string]any{"customerId": orig.ID}), p)
			c.requireAudited(t, "customer.contact_revealed", orig.ID, actor, 2)
		})
	}

	orig, p := c.newCustomer(t, "Wei Zhang", nil)
	reveal := func(t *testing.T, who *tilltest.Account) *tilltest.Result {
		t.Helper()
		return c.call(t, who.Token, custReveal, map[string]any{"customerId": orig.ID})
	}

	t.Run("CASHIER only once the owner allows it", func(t *testing.T) {
		audited := func() int { return len(c.audit(t, c.owner, "customer.contact_revealed", orig.ID)) }
		before := audited()

		custRefused(t, reveal(t, c.cashier), "FORBIDDEN", "")
		require.Equal(t, before, audited(), "a refused reveal reveals nothing to audit")

		custRefused(t, c.call(t, c.manager.Token, custUpdateMerchant, map[string]any{"cashiersSeeFullContact": true}), "FORBIDDEN", "")
		custRefused(t, c.call(t, c.cashier.Token, custUpdateMerchant, map[string]any{"cashiersSeeFullContact": true}), "FORBIDDEN", "")
		custRefused(t, reveal(t, c.cashier), "FORBIDDEN", "")

		var out struct {
			UpdateMerchant struct {
				Merchant struct{ CashiersSeeFullContact bool }
			}
		}
		c.call(t, c.owner.Token, custUpdateMerchant, map[string]any{"cashiersSeeFullContact": true}).Decode(t, &out)
		require.True(t, out.UpdateMerchant.Merchant.CashiersSeeFullContact)

		requireRevealed(t, reveal(t, c.cashier), p)
		requireRevealed(t, reveal(t, c.cashier), p)
		entries := c.audit(t, c.owner, "customer.contact_revealed", orig.ID)
		require.Len(t, entries, before+2, "each reveal is audited")
		for _, e := range entries[before:] {
			require.Equal(t, c.cashier.ID, custStr(e.ActorID))
			require.Equal(t, orig.ID, custStr(e.TargetID))
		}
		custRefused(t, c.call(t, c.cashier.Token, custReveal, map[string]any{"customerId": custNoCustomer}), "NOT_FOUND", "")

		c.setMerchant(t, c.owner, map[string]any{"cashiersSeeFullContact": false})
		custRefused(t, reveal(t, c.cashier), "FORBIDDEN", "")
		require.Len(t, c.audit(t, c.owner, "customer.contact_revealed", orig.ID), before+2)
	})

	t.Run("cashiers do not read the audit log", func(t *testing.T) {
		res := c.Exec(t, c.cashier.Token, `{ auditEntries(where: {action: "customer.contact_revealed"}) { totalCount } }`, nil)
		if len(res.Errors) == 0 {
			var out struct{ AuditEntries struct{ TotalCount int } }
			res.Decode(t, &out)
			require.Zero(t, out.AuditEntries.TotalCount)
		}
	})

	t.Run("unknown customer", func(t *testing.T) {
		custRefused(t, c.call(t, c.owner.Token, custReveal, map[string]any{"customerId": custNoCustomer}), "NOT_FOUND", "")
	})
}

func TestCustomerMerge(t *testing.T) {
	c := newCustEnv(t)

	// pair registers a survivor with a phone and little else, and a
	// duplicate with every detail.
	pair := func(t *testing.T, tag string) (survivor, dup custCustomer, sp, dp custPerson) {
		t.Helper()
		sp, dp = c.person(), c.person()
		survivor = c.create(t, c.owner, map[string]any{
			"name": "Mei Lin " + tag, "phone": sp.phone, "tags": []string{"VIP", "tea"},
			"consent": map[string]any{"push": true},
		})
		dup = c.create(t, c.owner, map[string]any{
			"name": "Meiling " + tag, "phone": dp.phone, "email": dp.email, "address": dp.address,
			"birthday": "1990-05-17", "gender": "FEMALE", "notes": "likes oolong", "tags": []string{"tea", "oolong"},
			"consent": map[string]any{"sms": true},
		})
		return survivor, dup, sp, dp
	}

	for _, role := range custRoles {
		t.Run(role, func(t *testing.T) {
			actor := c.as(role)
			tag := "m" + strings.ToLower(role)
			survivor, dup, sp, dp := pair(t, tag)
			res := c.call(t, actor.Token, custMerge, map[string]any{"survivorId": survivor.ID, "duplicateId": dup.ID})
			if !custManages(role) {
				custRefused(t, res, "FORBIDDEN", "")
				require.Equal(t, survivor.stored(), c.read(t, c.owner.Token, survivor.ID).stored())
				require.Equal(t, dup.stored(), c.read(t, c.owner.Token, dup.ID).stored())
				require.Empty(t, c.audit(t, c.owner, "customer.merged", survivor.ID))
				return
			}
			got := custPayload(t, res)
			require.Equal(t, survivor.ID, got.ID)
			stored := c.read(t, c.owner.Token, survivor.ID)
			require.Equal(t, got.stored(), stored.stored())
			require.Equal(t, "Mei Lin "+tag, stored.Name, "the survivor keeps its name")
			require.Equal(t, "ACTIVE", stored.Status)
			require.Equal(t, []string{"VIP", "tea", "oolong"}, stored.Tags, "tags join")
			require.Equal(t, sp.e164, custStr(stored.Phone), "the survivor keeps its own phone")
			require.Equal(t, dp.emailNorm, custStr(stored.Email), "and takes the email it lacked")
			require.Equal(t, dp.address, custStr(stored.Address), "and the address")
			require.Equal(t, "1990-05-17", custStr(stored.Birthday))
			require.Equal(t, "FEMALE", custStr(stored.Gender))
			require.Equal(t, "likes oolong", custStr(stored.Notes))
			require.True(t, stored.PushConsent)
			requireSameTime(t, survivor.PushConsentAt, stored.PushConsentAt, "pushConsentAt")
			require.True(t, stored.SmsConsent, "the later decision stands")
			requireSameTime(t, dup.SmsConsentAt, stored.SmsConsentAt, "smsConsentAt")
			require.Equal(t, survivor.MemberCode, stored.MemberCode)

			gone := c.read(t, c.owner.Token, dup.ID)
			require.Equal(t, "MERGED", gone.Status)
			require.NotNil(t, gone.MergedIntoID)
			require.Equal(t, survivor.ID, *gone.MergedIntoID)
			require.Nil(t, gone.Phone, "the duplicate gave up its contact details")
			require.Nil(t, gone.Email)
			require.Nil(t, gone.Address)

			for _, who := range custRoles {
				token := c.as(who).Token
				require.Equal(t, survivor.ID, c.lookupID(t, token, map[string]any{"memberCode": dup.MemberCode}),
					"the duplicate's card finds the survivor (%s)", who)
				require.Equal(t, survivor.ID, c.lookupID(t, token, map[string]any{"email": dp.email}))
				require.Equal(t, survivor.ID, c.lookupID(t, token, map[string]any{"phone": sp.phone}))
				require.Empty(t, c.lookupID(t, token, map[string]any{"phone": dp.phone}), "the duplicate's phone was dropped")
				require.Equal(t, []string{"Mei Lin " + tag}, c.search(t, token, tag, 0, nil).names(), "only the survivor is listed")
				require.Equal(t, []string{"Mei Lin " + tag}, c.search(t, token, "oolong "+tag, 0, nil).names())
			}

			entries := c.audit(t, c.owner, "customer.merged", survivor.ID)
			require.Len(t, entries, 1)
			require.Equal(t, actor.ID, custStr(entries[0].ActorID))
			require.Equal(t, dup.ID, entries[0].Details["duplicate"])

			// What a merge leaves cannot be merged or changed again.
			for _, tc := range []struct {
				name                  string
				survivorID, duplicate string
				field                 string
			}{
				{"into itself", survivor.ID, survivor.ID, "duplicateId"},
				{"into the merged one", dup.ID, survivor.ID, "survivorId"},
				{"the merged one again", survivor.ID, dup.ID, "duplicateId"},
			} {
				t.Run("refuses merging "+tc.name, func(t *testing.T) {
					was := c.read(t, c.owner.Token, survivor.ID)
					custRefused(t, c.call(t, actor.Token, custMerge, map[string]any{"survivorId": tc.survivorID, "duplicateId": tc.duplicate}),
						"BAD_USER_INPUT", tc.field)
					require.Equal(t, was, c.read(t, c.owner.Token, survivor.ID))
					require.Len(t, c.audit(t, c.owner, "customer.merged", survivor.ID), 1)
				})
			}
			custRefused(t, c.call(t, actor.Token, custUpdate, map[string]any{"customerId": dup.ID, "name": "Back"}), "BAD_USER_INPUT", "customerId")
			custRefused(t, c.call(t, actor.Token, custMerge, map[string]any{"survivorId": survivor.ID, "duplicateId": custNoCustomer}), "NOT_FOUND", "")
			custRefused(t, c.call(t, actor.Token, custMerge, map[string]any{"survivorId": custNoCustomer, "duplicateId": survivor.ID}), "NOT_FOUND", "")
		})
	}

	t.Run("the survivor's details win", func(t *testing.T) {
		sp, dp := c.person(), c.person()
		survivor := c.create(t, c.owner, map[string]any{"name": "Wei Zhang", "phone": sp.phone, "email": sp.email, "address": sp.address, "birthday": "1980-01-02"})
		dup := c.create(t, c.owner, map[string]any{"name": "W Zhang", "phone": dp.phone, "email": dp.email, "address": dp.address, "birthday": "1981-03-04"})
		got := custPayload(t, c.call(t, c.manager.Token, custMerge, map[string]any{"survivorId": survivor.ID, "duplicateId": dup.ID}))
		requireFull(t, got, sp)
		require.Equal(t, "1980-01-02", custStr(got.Birthday))
		require.Empty(t, c.lookupID(t, c.owner.Token, map[string]any{"email": dp.email}), "the duplicate's email went with it")
	})

	t.Run("a card merged twice finds the last survivor", func(t *testing.T) {
		first := c.create(t, c.owner, map[string]any{"name": "Card One"})
		second := c.create(t, c.owner, map[string]any{"name": "Card Two"})
		last := c.create(t, c.owner, map[string]any{"name": "Card Three"})
		custPayload(t, c.call(t, c.owner.Token, custMerge, map[string]any{"survivorId": second.ID, "duplicateId": first.ID}))
		custPayload(t, c.call(t, c.owner.Token, custMerge, map[string]any{"survivorId": last.ID, "duplicateId": second.ID}))
		for _, code := range []string{first.MemberCode, second.MemberCode, last.MemberCode} {
			found := c.lookup(t, c.owner.Token, map[string]any{"memberCode": code})
			require.NotNil(t, found, code)
			require.Equal(t, last.ID, found.ID, "card %s finds the customer it now belongs to", code)
			require.Equal(t, "ACTIVE", found.Status)
		}
	})
}

// Merges at once that involve the same customer run one after the other:
// one duplicate merged into two survivors at once is merged once (the
// second finds it merged) and its visits and spending count once; two
// customers merged into each other at once do not deadlock.
func TestCustomerMergeConcurrent(t *testing.T) {
	c := newCustEnv(t)
	type figures struct {
		VisitsCount  int
		TotalSpent   int64
		Status       string
		MergedIntoID *string
		Sales        struct{ TotalCount int }
	}
	read := func(t *testing.T, id string) figures {
		t.Helper()
		var out struct{ Node figures }
		c.Exec(t, c.owner.Token, `query($id: ID!) { node(id: $id) { ... on Customer { visitsCount totalSpent status mergedIntoID sales { totalCount } } } }`,
			map[string]any{"id": id}).Decode(t, &out)
		return out.Node
	}
	buyer := func(t *testing.T, name string, amount int64) string {
		t.Helper()
		id := c.create(t, c.owner, map[string]any{"name": name}).ID
		c.Exec(t, c.cashier.Token, saleRecord, map[string]any{"i": saleWith(saleCash(c.owner.StoreID, amount), map[string]any{"customerId": id})}).Decode(t, &struct{}{})
		return id
	}
	merge := func(survivor, duplicate string) func(int) *tilltest.Result {
		return func(i int) *tilltest.Result {
			by := []*tilltest.Account{c.owner, c.manager}[i%2]
			return c.Exec(t, by.Token, custMerge, map[string]any{"i": map[string]any{"survivorId": survivor, "duplicateId": duplicate}})
		}
	}
	// winner is the index of the one result without errors; the others
	// must have been refused as merging a merged customer.
	winner := func(t *testing.T, results []*tilltest.Result) int {
		t.Helper()
		won := -1
		for i, res := range results {
			if len(res.Errors) == 0 {
				require.Equal(t, -1, won, "only one merge succeeds")
				won = i
				continue
			}
			require.Equal(t, "BAD_USER_INPUT", res.Code(), "%+v", res.Errors)
		}
		require.NotEqual(t, -1, won, "one merge succeeds: %+v", results)
		return won
	}

	for round := range 4 {
		t.Run(fmt.Sprintf("one duplicate into two survivors/%d", round), func(t *testing.T) {
			survivors := []string{buyer(t, "Survivor A", 100), buyer(t, "Survivor C", 10)}
			dup := buyer(t, "Duplicate B", 1000)
			results := saleParallel(2, func(i int) *tilltest.Result { return merge(survivors[i], dup)(i) })
			won := winner(t, results)
			for i, id := range survivors {
				got := read(t, id)
				want := []int64{100, 10}[i]
				visits := 1
				if i == won {
					want, visits = want+1000, 2
				}
				require.Equal(t, want, got.TotalSpent, "survivor %d", i)
				require.Equal(t, visits, got.VisitsCount, "survivor %d", i)
				require.Equal(t, visits, got.Sales.TotalCount, "survivor %d", i)
			}
			gone := read(t, dup)
			require.Equal(t, "MERGED", gone.Status)
			require.Equal(t, survivors[won], custStr(gone.MergedIntoID))
			require.Len(t, c.audit(t, c.owner, "customer.merged", survivors[won]), 1)
			require.Empty(t, c.audit(t, c.owner, "customer.merged", survivors[1-won]))
		})
		t.Run(fmt.Sprintf("two customers into each other/%d", round), func(t *testing.T) {
			pair := []string{buyer(t, "Twin D", 300), buyer(t, "Twin E", 40)}
			results := saleParallel(2, func(i int) *tilltest.Result { return merge(pair[i], pair[1-i])(i) })
			won := winner(t, results)
			kept, gone := read(t, pair[won]), read(t, pair[1-won])
			require.Equal(t, "ACTIVE", kept.Status)
			require.Equal(t, int64(340), kept.TotalSpent)
			require.Equal(t, 2, kept.VisitsCount)
			require.Equal(t, "MERGED", gone.Status)
			require.Equal(t, pair[won], custStr(gone.MergedIntoID))
		})
	}
}

// A platform operator reads a merchant's customers (masked) but changes,
// finds or rates none of them: every customer operation refuses them.
func TestCustomerOperatorRefused(t *testing.T) {
	c := newCustEnv(t)
	op := c.Operator(t)
	a, ap := c.newCustomer(t, "Mei Lin", nil)
	b, _ := c.newCustomer(t, "Wei Zhang", nil)
	var sold struct {
		RecordSale struct{ Sale struct{ ID string } }
	}
	c.Exec(t, c.cashier.Token, saleRecord, map[string]any{"i": saleWith(saleCash(c.owner.StoreID, 500), map[string]any{"customerId": a.ID})}).Decode(t, &sold)
	var saved struct {
		CreateSavedSegment struct{ SavedSegment struct{ ID string } }
	}
	c.call(t, c.owner.Token, `mutation($i: CreateSavedSegmentInput!) { createSavedSegment(input: $i) { savedSegment { id } } }`,
		map[string]any{"name": "All"}).Decode(t, &saved)
	before := c.read(t, c.owner.Token, a.ID)
	rows := c.rows(t)

	for _, tc := range []struct {
		name, query string
		vars        map[string]any
	}{
		{"createCustomer", custCreate, map[string]any{"i": map[string]any{"name": "Sneaky", "phone": c.person().phone}}},
		{"updateCustomer", custUpdate, map[string]any{"i": map[string]any{"customerId": a.ID, "name": "Taken Over"}}},
		{"archiveCustomer", custArchive, map[string]any{"i": map[string]any{"customerId": a.ID}}},
		{"mergeCustomers", custMerge, map[string]any{"i": map[string]any{"survivorId": a.ID, "duplicateId": b.ID}}},
		{"revealCustomerContact", custReveal, map[string]any{"i": map[string]any{"customerId": a.ID}}},
		{"exportCustomerData", custExport, map[string]any{"i": map[string]any{"customerId": a.ID}}},
		{"eraseCustomer", custErase, map[string]any{"i": map[string]any{"customerId": a.ID}}},
		{"updateCustomerSegmentRules", `mutation($i: UpdateSegmentRulesInput!) { updateCustomerSegmentRules(input: $i) { mode } }`,
			map[string]any{"i": map[string]any{"mode": "THRESHOLDS", "recencyDays": []int{7, 14, 30, 60}, "frequencyVisits": []int{2, 3, 4, 5},
				"monetarySpent": []int64{1, 2, 3, 4}, "newDays": 30}}},
		{"createSavedSegment", `mutation($i: CreateSavedSegmentInput!) { createSavedSegment(input: $i) { savedSegment { id } } }`,
			map[string]any{"i": map[string]any{"name": "Mine"}}},
		{"deleteSavedSegment", `mutation($i: SavedSegmentIdInput!) { deleteSavedSegment(input: $i) { deletedId } }`,
			map[string]any{"i": map[string]any{"savedSegmentId": saved.CreateSavedSegment.SavedSegment.ID}}},
		{"lookupCustomer", custLookup, map[string]any{"i": map[string]any{"phone": ap.e164}}},
		{"searchCustomers", custSearch, map[string]any{"q": "mei"}},
		{"recordFeedback", fbRecord, map[string]any{"i": map[string]any{"saleId": sold.RecordSale.Sale.ID, "rating": 1, "category": "SERVICE"}}},
		{"recommendedProducts", fbRecommend, map[string]any{"id": a.ID, "first": 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := c.Exec(t, op.Token, tc.query, tc.vars)
			custRefused(t, res, "FORBIDDEN", "")
			require.NotContains(t, string(res.Data), "Mei")
		})
	}
	require.Equal(t, before, c.read(t, c.owner.Token, a.ID), "nothing changed")
	require.Equal(t, rows, c.rows(t))
	var left struct {
		Feedback      struct{ TotalCount int }
		SavedSegments struct{ TotalCount int }
	}
	c.Exec(t, c.owner.Token, `{ feedback { totalCount } savedSegments { totalCount } }`, nil).Decode(t, &left)
	require.Zero(t, left.Feedback.TotalCount)
	require.Equal(t, 1, left.SavedSegments.TotalCount)
	var rules struct{ CustomerSegmentRules struct{ Mode string } }
	c.Exec(t, c.owner.Token, `{ customerSegmentRules { mode } }`, nil).Decode(t, &rules)
	require.Equal(t, "QUINTILES", rules.CustomerSegmentRules.Mode)
	require.Empty(t, c.audit(t, c.owner, "customer.exported", a.ID))
	require.Empty(t, c.audit(t, c.owner, "customer.contact_revealed", a.ID))
}

func TestCustomerExportAndErase(t *testing.T) {
	c := newCustEnv(t)
	export := func(t *testing.T, by *tilltest.Account, id string) map[string]any {
		t.Helper()
		var out struct {
			ExportCustomerData struct {
				CustomerID string
				Data       map[string]any
			}
		}
		c.call(t, by.Token, custExport, map[string]any{"customerId": id}).Decode(t, &out)
		require.Equal(t, id, out.ExportCustomerData.CustomerID)
		return out.ExportCustomerData.Data
	}
	trail := func(data map[string]any) []string {
		var actions []string
		events, _ := data["auditTrail"].([]any)
		for _, e := range events {
			ev, _ := e.(map[string]any)
			action, _ := ev["action"].(string)
			actions = append(actions, action)
		}
		return actions
	}

	for _, role := range custRoles {
		t.Run(role, func(t *testing.T) {
			actor := c.as(role)
			name := "Jasmine " + strings.ToUpper(role[:1]) + strings.ToLower(role[1:]) + "son"
			orig, p := c.newCustomer(t, name, map[string]any{
				"birthday": "1990-05-17", "gender": "FEMALE", "notes": "allergic to peanuts", "tags": []string{"VIP", "Peony Club"},
				"consent": map[string]any{"push": true, "email": true}, "memberCode": "EX-" + role,
			})
			c.update(t, c.owner, orig.ID, map[string]any{"consent": map[string]any{"sms": true}})
			c.call(t, c.owner.Token, custReveal, map[string]any{"customerId": orig.ID}).Decode(t, &struct{}{})

			if !custManages(role) {
				custRefused(t, c.call(t, actor.Token, custExport, map[string]any{"customerId": orig.ID}), "FORBIDDEN", "")
				custRefused(t, c.call(t, actor.Token, custErase, map[string]any{"customerId": orig.ID}), "FORBIDDEN", "")
				stored := c.read(t, c.owner.Token, orig.ID)
				require.Equal(t, "ACTIVE", stored.Status)
				require.Equal(t, name, stored.Name)
				requireFull(t, stored, p)
				require.Empty(t, c.audit(t, c.owner, "customer.exported", orig.ID))
				require.Empty(t, c.audit(t, c.owner, "customer.erased", orig.ID))
				return
			}

			t.Run("export", func(t *testing.T) {
				data := export(t, actor, orig.ID)
				require.Equal(t, orig.ID, data["id"])
				require.Equal(t, "ACTIVE", data["status"])
				require.Equal(t, name, data["name"])
				require.Equal(t, "EX-"+role, data["memberCode"])
				require.Equal(t, p.e164, data["phone"], "decrypted")
				require.Equal(t, p.emailNorm, data["email"])
				require.Equal(t, p.address, data["address"])
				require.Equal(t, "1990-05-17", data["birthday"])
				require.Equal(t, "FEMALE", data["gender"])
				require.Equal(t, "allergic to peanuts", data["notes"])
				require.Equal(t, []any{"VIP", "Peony Club"}, data["tags"])
				consent, ok := data["consent"].(map[string]any)
				require.True(t, ok, "consent: %v", data["consent"])
				for channel, granted := range map[string]bool{"push": true, "sms": true, "email": true} {
					ch, ok := consent[channel].(map[string]any)
					require.True(t, ok, "consent.%s: %v", channel, consent[channel])
					require.Equal(t, granted, ch["granted"], channel)
					require.NotEmpty(t, ch["at"], "consent.%s.at", channel)
				}
				require.Equal(t, []string{"customer.created", "customer.updated", "customer.contact_revealed"}, trail(data))
				c.requireAudited(t, "customer.exported", orig.ID, actor, 1)

				// A second export shows the first in the trail.
				require.Equal(t, []string{"customer.created", "customer.updated", "customer.contact_revealed", "customer.exported"},
					trail(export(t, actor, orig.ID)))
				c.requireAudited(t, "customer.exported", orig.ID, actor, 2)
			})

			t.Run("erase", func(t *testing.T) {
				got := custPayload(t, c.call(t, actor.Token, custErase, map[string]any{"customerId": orig.ID}))
				for _, view := range []custCustomer{got, c.read(t, c.owner.Token, orig.ID)} {
					require.Equal(t, "ERASED", view.Status)
					require.NotContains(t, view.Name, "Jasmine")
					require.Nil(t, view.Phone)
					require.Nil(t, view.Email)
					require.Nil(t, view.Address)
					require.Nil(t, view.Birthday)
					require.Nil(t, view.Gender)
					require.Empty(t, custStr(view.Notes))
					require.Empty(t, view.Tags)
					require.NotEqual(t, "EX-"+role, view.MemberCode)
					require.False(t, view.PushConsent || view.SmsConsent || view.EmailConsent)
					require.Nil(t, view.PushConsentAt)
					require.Nil(t, view.SmsConsentAt)
					require.Nil(t, view.EmailConsentAt)
					require.Nil(t, view.CreatedBy, "who registered them is no longer linked")
				}
				c.requireAudited(t, "customer.erased", orig.ID, actor, 1)

				for _, who := range custRoles {
					token := c.as(who).Token
					for _, key := range []map[string]any{{"phone": p.phone}, {"email": p.email}, {"memberCode": "EX-" + role}} {
						require.Empty(t, c.lookupID(t, token, key), "lookup by %v (%s)", key, who)
					}
					require.Zero(t, c.search(t, token, "jasmine", 0, nil).TotalCount)
					require.Zero(t, c.search(t, token, "peony", 0, nil).TotalCount)
				}

				data := export(t, actor, orig.ID)
				require.Equal(t, "ERASED", data["status"])
				raw, err := json.Marshal(data)
				require.NoError(t, err)
				for _, pii := range []string{"Jasmine", p.e164, p.national, p.emailNorm, p.address, "1990-05-17", "FEMALE", "peanuts", "Peony", "EX-" + role} {
					require.NotContains(t, string(raw), pii, "an export after erasure holds no personal data")
				}
				for _, channel := range []string{"push", "sms", "email"} {
					ch := data["consent"].(map[string]any)[channel].(map[string]any)
					require.Equal(t, false, ch["granted"])
					require.Nil(t, ch["at"])
				}

				// The freed contact details and card may be registered again.
				again := c.create(t, c.owner, map[string]any{"name": "New Holder", "phone": p.phone, "email": p.email, "memberCode": "EX-" + role})
				require.Equal(t, again.ID, c.lookupID(t, c.owner.Token, map[string]any{"memberCode": "EX-" + role}))

				// An erased customer stays erased.
				erased := c.read(t, c.owner.Token, orig.ID)
				custRefused(t, c.call(t, actor.Token, custUpdate, map[string]any{"customerId": orig.ID, "name": "Jasmine"}), "BAD_USER_INPUT", "customerId")
				custRefused(t, c.call(t, actor.Token, custMerge, map[string]any{"survivorId": again.ID, "duplicateId": orig.ID}), "BAD_USER_INPUT", "duplicateId")
				custRefused(t, c.call(t, actor.Token, custMerge, map[string]any{"survivorId": orig.ID, "duplicateId": again.ID}), "BAD_USER_INPUT", "survivorId")
				require.Equal(t, erased, c.read(t, c.owner.Token, orig.ID))
				var revealed struct{ RevealCustomerContact map[string]any }
				c.call(t, actor.Token, custReveal, map[string]any{"customerId": orig.ID}).Decode(t, &revealed)
				require.Equal(t, map[string]any{"phone": nil, "email": nil, "address": nil}, revealed.RevealCustomerContact)
			})
		})
	}

	t.Run("unknown customer", func(t *testing.T) {
		custRefused(t, c.call(t, c.owner.Token, custExport, map[string]any{"customerId": custNoCustomer}), "NOT_FOUND", "")
		custRefused(t, c.call(t, c.owner.Token, custErase, map[string]any{"customerId": custNoCustomer}), "NOT_FOUND", "")
	})

	// Merged duplicates are the same person: erasing the survivor must not
	// leave them findable or their details behind.
	t.Run("erasing a survivor", func(t *testing.T) {
		survivor, _ := c.newCustomer(t, "Peony Survivor", nil)
		dup, _ := c.newCustomer(t, "Peony Duplicate", map[string]any{"birthday": "1985-07-08", "notes": "old card", "tags": []string{"Lotus Club"}})
		custPayload(t, c.call(t, c.owner.Token, custMerge, map[string]any{"survivorId": survivor.ID, "duplicateId": dup.ID}))
		require.Equal(t, survivor.ID, c.lookupID(t, c.owner.Token, map[string]any{"memberCode": dup.MemberCode}))
		custPayload(t, c.call(t, c.owner.Token, custErase, map[string]any{"customerId": survivor.ID}))

		t.Run("the duplicate's card finds no one", func(t *testing.T) {
			res := c.call(t, c.owner.Token, custLookup, map[string]any{"memberCode": dup.MemberCode})
			require.Empty(t, res.Errors)
			require.JSONEq(t, `{"lookupCustomer": null}`, string(res.Data), "erased customers are never found")
		})
		t.Run("the duplicate keeps none of their data", func(t *testing.T) {
			left := c.read(t, c.owner.Token, dup.ID)
			require.NotContains(t, left.Name, "Peony")
			require.Nil(t, left.Birthday)
			require.Empty(t, custStr(left.Notes))
			require.Empty(t, left.Tags)
		})
	})
}

// Erasure leaves nothing of the person anywhere: not in their rows, their
// merged duplicates' rows, their feedback, the events their feedback
// raised, or the audit log. Their sale stays, anonymous, for the books.
func TestCustomerEraseLeavesNothing(t *testing.T) {
	c := newCustEnv(t)
	sp, dp := c.person(), c.person()
	survivor := c.create(t, c.owner, map[string]any{
		"name": "Quillon Marwick", "phone": sp.phone, "email": sp.email, "address": sp.address,
		"birthday": "1977-04-23", "notes": "allergic to hazelnuts", "tags": []string{"Orchid Circle"}, "memberCode": "QM-SURVIVOR",
	})
	dup := c.create(t, c.owner, map[string]any{
		"name": "Q. Marwick", "phone": dp.phone, "email": dp.email, "address": dp.address,
		"notes": "old paper card", "tags": []string{"Heron Club"}, "memberCode": "QM-DUPLICATE",
	})
	var sold struct {
		RecordSale struct{ Sale struct{ ID string } }
	}
	c.Exec(t, c.cashier.Token, saleRecord, map[string]any{"i": saleWith(saleCash(c.owner.StoreID, 1200), map[string]any{"customerId": dup.ID})}).Decode(t, &sold)
	saleID := sold.RecordSale.Sale.ID
	// A low rating, so that it raises an event too.
	c.Exec(t, c.cashier.Token, fbRecord, map[string]any{"i": map[string]any{
		"saleId": saleID, "rating": 1, "category": "SERVICE", "comment": "Quillon Marwick says call 138 back about the cold oolong",
	}}).Decode(t, &struct{}{})
	// The receipt goes to the duplicate's email; it is still queued when
	// the customer is erased.
	c.Exec(t, c.cashier.Token, receiptSend, map[string]any{"sale": saleID, "channel": "EMAIL"}).Decode(t, &struct{}{})
	custPayload(t, c.call(t, c.manager.Token, custMerge, map[string]any{"survivorId": survivor.ID, "duplicateId": dup.ID}))
	c.call(t, c.manager.Token, custExport, map[string]any{"customerId": survivor.ID}).Decode(t, &struct{}{})
	custPayload(t, c.call(t, c.owner.Token, custErase, map[string]any{"customerId": survivor.ID}))
	require.NoError(t, c.Server.Outbox.Drain(t.Context()), "the queued receipt is dropped, not dead-lettered")
	var dead struct{ OutboxEvents []struct{ Topic string } }
	c.Exec(t, c.owner.Token, `{ outboxEvents(status: DEAD) { topic } }`, nil).Decode(t, &dead)
	require.Empty(t, dead.OutboxEvents)

	var needles []string
	for _, p := range []custPerson{sp, dp} {
		needles = append(needles, p.phone, p.e164, p.national, p.email, p.emailNorm, strings.Split(p.emailNorm, "@")[0], p.address)
	}
	needles = append(needles, "Quillon", "Marwick", "1977-04-23", "hazelnuts", "Orchid Circle", "QM-SURVIVOR",
		"old paper card", "Heron Club", "QM-DUPLICATE", "cold oolong")
	custRequireNowhere(t, c.Env, needles)

	var out struct {
		Node struct {
			ID                string
			Total             int64
			Customer          struct{ ID, Status string }
			ReceiptDeliveries []struct{ ID string }
		}
	}
	c.Exec(t, c.owner.Token, `query($id: ID!) { node(id: $id) { id ... on Sale { total customer { id status } receiptDeliveries { id } } } }`,
		map[string]any{"id": saleID}).Decode(t, &out)
	require.Equal(t, int64(1200), out.Node.Total, "the sale stays for the books")
	require.Empty(t, out.Node.ReceiptDeliveries, "where its receipt went is erased with the customer")
	require.Equal(t, survivor.ID, out.Node.Customer.ID, "with the anonymous survivor")
	require.Equal(t, "ERASED", out.Node.Customer.Status)
}

// Merchant B can neither see nor touch merchant A's customers: each
// answers as a customer that does not exist would.
func TestCustomerTenantIsolation(t *testing.T) {
	c := newCustEnv(t)
	a, ap := c.newCustomer(t, "Mei Lin", map[string]any{"memberCode": "SHARED-1", "tags": []string{"VIP"}, "birthday": "1990-05-17"})

	pine := c.SignUp(t, "Pine Bakery")
	c.setMerchant(t, pine, map[string]any{"locale": "zh-CN", "cashiersSeeFullContact": true})
	pineCashier := c.AddStaff(t, pine, "CASHIER")
	bp := c.person()
	b := c.create(t, pine, map[string]any{"name": "Bo Yang", "phone": bp.phone, "email": bp.email, "address": bp.address})

	aBefore := c.read(t, c.owner.Token, a.ID)
	auditBefore := custAuditAbout(t, c, a.ID)

	for _, who := range []*tilltest.Account{pine, pineCashier} {
		t.Run(who.Email+"/lookup", func(t *testing.T) {
			for _, key := range []map[string]any{{"phone": ap.phone}, {"phone": ap.e164}, {"email": ap.email}, {"memberCode": "SHARED-1"}} {
				res := c.call(t, who.Token, custLookup, key)
				require.Empty(t, res.Errors)
				require.JSONEq(t, `{"lookupCustomer": null}`, string(res.Data), "B looks up %v", key)
			}
		})
		t.Run(who.Email+"/search", func(t *testing.T) {
			for _, q := range []string{"mei", "lin", "vip"} {
				page := c.search(t, who.Token, q, 0, nil)
				require.Zero(t, page.TotalCount, q)
				require.Empty(t, page.Edges, q)
			}
		})
		t.Run(who.Email+"/node", func(t *testing.T) {
			for _, q := range []string{custNode, `query($id: ID!) { node(id: $id) { id } }`} {
				res := c.Exec(t, who.Token, q, map[string]any{"id": a.ID})
				require.Equal(t, "NOT_FOUND", res.Code(), "%+v", res.Errors)
				require.JSONEq(t, `{"node": null}`, string(res.Data))
			}
			res := c.Exec(t, who.Token, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{a.ID, b.ID}})
			var out struct{ Nodes []*struct{ ID string } }
			require.NoError(t, json.Unmarshal(res.Data, &out))
			require.Len(t, out.Nodes, 2)
			require.Nil(t, out.Nodes[0], "A's customer is not B's to see")
			require.NotNil(t, out.Nodes[1])
			require.Equal(t, b.ID, out.Nodes[1].ID)
		})
		t.Run(who.Email+"/update", func(t *testing.T) {
			custRefused(t, c.call(t, who.Token, custUpdate, map[string]any{"customerId": a.ID, "name": "Taken Over", "phone": ""}), "NOT_FOUND", "")
		})
		t.Run(who.Email+"/reveal", func(t *testing.T) {
			custRefused(t, c.call(t, who.Token, custReveal, map[string]any{"customerId": a.ID}), "NOT_FOUND", "")
		})
	}

	t.Run("B's owner", func(t *testing.T) {
		for _, tc := range []struct {
			name, query string
			input       map[string]any
		}{
			{"archive", custArchive, map[string]any{"customerId": a.ID}},
			{"merge A's into B's", custMerge, map[string]any{"survivorId": b.ID, "duplicateId": a.ID}},
			{"merge B's into A's", custMerge, map[string]any{"survivorId": a.ID, "duplicateId": b.ID}},
			{"export", custExport, map[string]any{"customerId": a.ID}},
			{"erase", custErase, map[string]any{"customerId": a.ID}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := c.call(t, pine.Token, tc.query, tc.input)
				custRefused(t, res, "NOT_FOUND", "")
				require.NotContains(t, string(res.Data), "Mei")
				absent := map[string]any{}
				for k, v := range tc.input {
					absent[k] = v
					if v == a.ID {
						absent[k] = custNoCustomer
					}
				}
				missing := c.call(t, pine.Token, tc.query, absent)
				require.NotEmpty(t, missing.Errors)
				require.Equal(t, missing.Errors[0].Message, res.Errors[0].Message, "answers as for a customer that does not exist")
			})
		}
		got := c.read(t, pine.Token, b.ID)
		require.Equal(t, "ACTIVE", got.Status, "B's own customer was not merged")
		requireFull(t, got, bp)
	})

	t.Run("B cannot register at A's store", func(t *testing.T) {
		rows := c.rows(t)
		custRefused(t, c.call(t, pine.Token, custCreate, map[string]any{"name": "Sneaky", "storeId": c.owner.StoreID}), "NOT_FOUND", "storeId")
		require.Equal(t, rows, c.rows(t))
	})

	t.Run("the same details at two merchants are two customers", func(t *testing.T) {
		twin := c.create(t, pine, map[string]any{"name": "Mei Lin", "phone": ap.phone, "email": ap.email, "memberCode": "SHARED-1"})
		require.Equal(t, c.owner.MerchantID, a.MerchantID)
		require.Equal(t, pine.MerchantID, twin.MerchantID)
		for _, key := range []map[string]any{{"phone": ap.phone}, {"email": ap.email}, {"memberCode": "SHARED-1"}} {
			require.Equal(t, twin.ID, c.lookupID(t, pine.Token, key), "B finds its own by %v", key)
			require.Equal(t, a.ID, c.lookupID(t, c.owner.Token, key), "A finds its own by %v", key)
		}
		require.Equal(t, []string{twin.ID}, custIDs(c.search(t, pine.Token, "mei", 0, nil)))
		require.Equal(t, []string{a.ID}, custIDs(c.search(t, c.owner.Token, "mei", 0, nil)))
	})

	t.Run("A's customer is unchanged", func(t *testing.T) {
		require.Equal(t, aBefore, c.read(t, c.owner.Token, a.ID))
		var revealed struct{ RevealCustomerContact map[string]any }
		c.call(t, c.owner.Token, custReveal, map[string]any{"customerId": a.ID}).Decode(t, &revealed)
		require.Equal(t, map[string]any{"phone": ap.e164, "email": ap.emailNorm, "address": ap.address}, revealed.RevealCustomerContact)
		after := custAuditAbout(t, c, a.ID)
		require.Equal(t, append(auditBefore, "customer.contact_revealed"), after, "nothing B did was done to A's customer")
	})
}

// custAuditAbout lists the actions A's owner sees audited about target.
func custAuditAbout(t *testing.T, c *custEnv, target string) []string {
	t.Helper()
	var out struct {
		AuditEntries struct {
			Edges []struct{ Node custAudit }
		}
	}
	c.Exec(t, c.owner.Token, `query($w: AuditEntryWhereInput) { auditEntries(where: $w, first: 100, orderBy: {field: CREATED_AT}) { edges { node { action } } } }`,
		map[string]any{"w": map[string]any{"targetID": target}}).Decode(t, &out)
	actions := []string{}
	for _, e := range out.AuditEntries.Edges {
		actions = append(actions, e.Node.Action)
	}
	return actions
}

func custIDs(p custPage) []string {
	ids := []string{}
	for _, e := range p.Edges {
		ids = append(ids, e.Node.ID)
	}
	return ids
}

// The entgql customers connection the schema offers lists the merchant's
// own customers, masked for cashiers like every other read.
func TestCustomerList(t *testing.T) {
	c := newCustEnv(t)
	mei, p := c.newCustomer(t, "Mei Lin", nil)
	pine := c.SignUp(t, "Pine Bakery")
	c.create(t, pine, map[string]any{"name": "Bo Yang"})

	const list = `{ customers(first: 10) { totalCount edges { node { id name phone email address contactMasked } } } }`
	for _, role := range custRoles {
		t.Run(role, func(t *testing.T) {
			var out struct{ Customers custPage }
			c.Exec(t, c.as(role).Token, list, nil).Decode(t, &out)
			require.Equal(t, 1, out.Customers.TotalCount)
			require.Equal(t, []string{mei.ID}, custIDs(out.Customers))
			requireView(t, role, out.Customers.Edges[0].Node, p)
		})
	}
}

// Contact details are stored only sealed: no column of any row, and no
// byte of the SQLite file, holds a phone, email or address as written or
// as normalised.
func TestCustomerNoPlaintextAtRest(t *testing.T) {
	c := newCustEnv(t)
	var needles []string
	add := func(p custPerson) {
		needles = append(needles, p.phone, p.e164, p.national, p.email, p.emailNorm, strings.Split(p.emailNorm, "@")[0], p.address)
	}

	// Written through every path that writes contact details: create,
	// update, merge, and one left behind by an erasure.
	_, p1 := c.newCustomer(t, "Plain Text One", nil)
	add(p1)
	two, p2 := c.newCustomer(t, "Plain Text Two", nil)
	p2b := c.person()
	c.update(t, c.cashier, two.ID, map[string]any{"phone": p2b.phone, "email": p2b.email, "address": p2b.address})
	add(p2)
	add(p2b)
	survivor := c.create(t, c.owner, map[string]any{"name": "Plain Text Three"})
	dup, p3 := c.newCustomer(t, "Plain Text Four", nil)
	custPayload(t, c.call(t, c.owner.Token, custMerge, map[string]any{"survivorId": survivor.ID, "duplicateId": dup.ID}))
	add(p3)
	erased, p4 := c.newCustomer(t, "Plain Text Five", nil)
	custPayload(t, c.call(t, c.owner.Token, custErase, map[string]any{"customerId": erased.ID}))
	add(p4)
	us := c.create(t, c.owner, map[string]any{"name": "Plain Text Six", "phone": "+1 (415) 555-2671", "email": "Quartz.Heron@Example.COM", "address": "77 Sequoia Boulevard, Oakland"})
	needles = append(needles, "+1 (415) 555-2671", "(415) 555-2671", "+14155552671", "4155552671", "Quartz.Heron@Example.COM", "quartz.heron@example.com", "quartz.heron", "Sequoia Boulevard")
	requireFull(t, c.read(t, c.owner.Token, survivor.ID), p3)
	require.Equal(t, "+14155552671", custStr(c.read(t, c.owner.Token, us.ID).Phone))

	ctx := t.Context()
	t.Run("customers table", func(t *testing.T) {
		cols, rows := custScan(t, c.Env, "customers")
		require.Equal(t, 6, len(rows), "One to Six")
		for _, col := range []string{"name", "phone_enc", "phone_index", "email_enc", "email_index", "address_enc"} {
			require.Contains(t, cols, col)
		}
		sealed, names := 0, 0
		for _, row := range rows {
			for i, v := range row {
				for _, n := range needles {
					require.NotContains(t, v, n, "customers.%s holds %q in plain text", cols[i], n)
				}
				if cols[i] == "phone_enc" && v != "" {
					sealed++
				}
				if cols[i] == "name" && strings.HasPrefix(v, "Plain Text") {
					names++
				}
			}
		}
		require.Equal(t, 4, sealed, "the phones of One, Two, Three (taken from Four) and Six are there, sealed")
		require.Equal(t, 5, names, "the scan reads the stored values (Five was erased)")
	})

	t.Run("every table", func(t *testing.T) {
		tables := custTables(t, c.Env)
		require.Contains(t, tables, "customers")
		require.Contains(t, tables, "audit_entries")
		custRequireNowhere(t, c.Env, needles)
	})

	t.Run("SQLite file", func(t *testing.T) {
		if c.DB.Dialect != dialect.SQLite {
			t.Skip("PostgreSQL: the tables above are what it stores")
		}
		var path string
		dbs, err := c.DB.SQL.QueryContext(ctx, `PRAGMA database_list`)
		require.NoError(t, err)
		for dbs.Next() {
			var seq int
			var name, file string
			require.NoError(t, dbs.Scan(&seq, &name, &file))
			if name == "main" {
				path = file
			}
		}
		require.NoError(t, dbs.Err())
		dbs.Close()
		require.NotEmpty(t, path)

		var busy, logFrames, checkpointed int
		require.NoError(t, c.DB.SQL.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &checkpointed))
		require.Zero(t, busy, "the checkpoint completed")

		for _, file := range []string{path, path + "-wal", path + "-journal"} {
			raw, err := os.ReadFile(file)
			if os.IsNotExist(err) && file != path {
				continue
			}
			require.NoError(t, err)
			if file == path {
				require.True(t, bytes.Contains(raw, []byte("Plain Text Six")), "the file holds the customers")
			}
			for _, n := range needles {
				require.False(t, bytes.Contains(raw, []byte(n)), "%s holds %q in plain text", file, n)
			}
		}
	})
}

// A platform operator reading a merchant's customer sees contact details
// masked, as a cashier does.
func TestCustomerContactMaskedForOperators(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")
	op := env.Operator(t)
	var created struct {
		CreateCustomer struct{ Customer struct{ ID string } }
	}
	env.Exec(t, owner.Token, `mutation { createCustomer(input: {name: "Wang Fang", phone: "+8613812345678", email: "fang@example.com", address: "1 Nanjing Rd"}) { customer { id } } }`, nil).Decode(t, &created)
	var out struct {
		Node struct {
			Phone, Email  string
			Address       *string
			ContactMasked bool
		}
	}
	env.Exec(t, op.Token, `query($id: ID!) { node(id: $id) { ... on Customer { phone email address contactMasked } } }`,
		map[string]any{"id": created.CreateCustomer.Customer.ID}).Decode(t, &out)
	require.Equal(t, "138****5678", out.Node.Phone)
	require.NotContains(t, out.Node.Email, "fang@")
	require.Nil(t, out.Node.Address)
	require.True(t, out.Node.ContactMasked)
}

// custTables lists the tables of env's database.
func custTables(t *testing.T, env *tilltest.Env) []string {
	t.Helper()
	q := `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	if env.DB.Dialect == dialect.SQLite {
		q = `SELECT name FROM sqlite_master WHERE type = 'table'`
	}
	res, err := env.DB.SQL.QueryContext(t.Context(), q)
	require.NoError(t, err)
	defer res.Close()
	var tables []string
	for res.Next() {
		var name string
		require.NoError(t, res.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, res.Err())
	return tables
}

// custScan reads every row of table as text, column by column.
func custScan(t *testing.T, env *tilltest.Env, table string) (cols []string, rows [][]string) {
	t.Helper()
	res, err := env.DB.SQL.QueryContext(t.Context(), `SELECT * FROM "`+table+`"`)
	require.NoError(t, err)
	defer res.Close()
	cols, err = res.Columns()
	require.NoError(t, err)
	for res.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, res.Scan(ptrs...))
		row := make([]string, len(cols))
		for i, v := range vals {
			switch v := v.(type) {
			case nil:
			case []byte:
				row[i] = string(v)
			case string:
				row[i] = v
			case time.Time:
				row[i] = v.Format(time.RFC3339Nano)
			default:
				row[i] = fmt.Sprint(v)
			}
		}
		rows = append(rows, row)
	}
	require.NoError(t, res.Err())
	return cols, rows
}

// custRequireNowhere asserts that no column of any row of any table holds
// one of needles.
func custRequireNowhere(t *testing.T, env *tilltest.Env, needles []string) {
	t.Helper()
	for _, table := range custTables(t, env) {
		cols, rows := custScan(t, env, table)
		for _, row := range rows {
			for i, v := range row {
				for _, n := range needles {
					require.NotContains(t, v, n, "%s.%s holds %q", table, cols[i], n)
				}
			}
		}
	}
}
