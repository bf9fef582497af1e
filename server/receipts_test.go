package server_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/config"
	"github.com/tillpos/till/ent/outboxevent"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/notify/email/emailtest"
	"github.com/tillpos/till/notify/sms"
	"github.com/tillpos/till/receipts"
)

// Receipts sent to customers: sendReceipt queues a delivery and an outbox
// event; Deliver (the outbox handler) sends it through a real SMTP server
// and a signed SMS webhook, as a customer would receive it.

const (
	receiptDeliveryFields = `id saleID channel destinationMasked status attempts lastError sentAt requestedByID`
	receiptSend           = `mutation($sale: ID!, $channel: ReceiptChannel!, $to: String, $key: String) {
		sendReceipt(saleId: $sale, channel: $channel, to: $to, idempotencyKey: $key) { ` + receiptDeliveryFields + ` } }`
)

type receiptDelivery struct {
	ID                string
	SaleID            string
	Channel           string
	DestinationMasked string
	Status            string
	Attempts          int
	LastError         *string
	SentAt            *time.Time
	RequestedByID     string
}

// smsInbox is an SMS provider's webhook that checks Till's signature.
type smsInbox struct {
	mu   sync.Mutex
	msgs []struct{ To, Body string }
	bad  int
}

func startSMSInbox(t *testing.T, secret string) (*smsInbox, string) {
	t.Helper()
	in := &smsInbox{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		in.mu.Lock()
		defer in.mu.Unlock()
		if err := sms.Verify(secret, r.Header.Get(sms.HeaderTimestamp), body, r.Header.Get(sms.HeaderSignature), time.Now()); err != nil {
			in.bad++
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var m struct{ To, Body string }
		if err := json.Unmarshal(body, &m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		in.msgs = append(in.msgs, m)
	}))
	t.Cleanup(srv.Close)
	return in, srv.URL
}

func (in *smsInbox) messages() []struct{ To, Body string } {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]struct{ To, Body string }(nil), in.msgs...)
}

type receiptEnv struct {
	*saleEnv
	mail  *emailtest.Server
	texts *smsInbox
}

func newReceiptEnv(t *testing.T) *receiptEnv {
	t.Helper()
	mail := emailtest.Start(t, nil)
	texts, url := startSMSInbox(t, "whsec")
	env := tilltest.New(t, func(c *config.Config) {
		c.SMTPHost, c.SMTPPort, c.SMTPFrom, c.SMTPTLS = mail.Host, mail.Port, "Lotus Tea <receipts@till.test>", "none"
		c.SMSWebhookURL, c.SMSWebhookSecret = url, "whsec"
	})
	owner := env.SignUp(t, "Lotus Tea")
	return &receiptEnv{
		saleEnv: &saleEnv{Env: env, owner: owner, manager: env.AddStaff(t, owner, "MANAGER"), cashier: env.AddStaff(t, owner, "CASHIER")},
		mail:    mail, texts: texts,
	}
}

// customerWith registers a customer with contact details.
func (e *receiptEnv) customerWith(t *testing.T, in map[string]any) string {
	t.Helper()
	var out struct {
		CreateCustomer struct{ Customer struct{ ID string } }
	}
	e.Exec(t, e.owner.Token, `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`,
		map[string]any{"i": in}).Decode(t, &out)
	return out.CreateCustomer.Customer.ID
}

func (e *receiptEnv) send(t *testing.T, token string, vars map[string]any) receiptDelivery {
	t.Helper()
	var out struct{ SendReceipt receiptDelivery }
	e.Exec(t, token, receiptSend, vars).Decode(t, &out)
	return out.SendReceipt
}

// deliver runs the outbox handler on the delivery's event, read back from
// the database as the worker would claim it.
func (e *receiptEnv) deliver(t *testing.T, deliveryID string) error {
	t.Helper()
	ctx := viewer.NewSystemContext(t.Context(), "test")
	ev, err := e.DB.Client.OutboxEvent.Query().
		Where(outboxevent.Topic(receipts.TopicRequested), outboxevent.SubjectID(deliveryID)).Only(ctx)
	require.NoError(t, err)
	require.Equal(t, deliveryID, ev.Payload["deliveryId"])
	return e.Receipts.Deliver(ctx, ev)
}

func (e *receiptEnv) deliveries(t *testing.T, token, saleID string) []receiptDelivery {
	t.Helper()
	var out struct {
		Node struct{ ReceiptDeliveries []receiptDelivery }
	}
	e.Exec(t, token, `query($id: ID!) { node(id: $id) { ... on Sale { receiptDeliveries { `+receiptDeliveryFields+` } } } }`,
		map[string]any{"id": saleID}).Decode(t, &out)
	return out.Node.ReceiptDeliveries
}

func (e *receiptEnv) storeName(t *testing.T, saleID string) (name, number string) {
	t.Helper()
	var out struct {
		Node struct {
			Receipt struct{ StoreName, Number string }
		}
	}
	e.Exec(t, e.owner.Token, `query($id: ID!) { node(id: $id) { ... on Sale { receipt { storeName number } } } }`,
		map[string]any{"id": saleID}).Decode(t, &out)
	return out.Node.Receipt.StoreName, out.Node.Receipt.Number
}

func TestReceiptEmailToTheSalesCustomer(t *testing.T) {
	t.Parallel()
	e := newReceiptEnv(t)
	cust := e.customerWith(t, map[string]any{"name": "Jane Doe", "email": "Jane@Example.com"})
	in := saleOf(e.owner.StoreID, []any{saleItem("Oolong", 2, 1250, 0)}, map[string]any{"type": "CASH", "amount": 2500, "tendered": 3000})
	in["customerId"] = cust
	sl := e.record(t, e.cashier.Token, in)
	store, number := e.storeName(t, sl.ID)

	d := e.send(t, e.cashier.Token, map[string]any{"sale": sl.ID, "channel": "EMAIL"})
	require.Equal(t, "QUEUED", d.Status)
	require.Equal(t, "EMAIL", d.Channel)
	require.Equal(t, "j***@example.com", d.DestinationMasked)
	require.Equal(t, e.cashier.ID, d.RequestedByID)
	require.Empty(t, e.mail.Messages(), "nothing is sent before the outbox delivers")

	// The address is kept sealed, never in clear.
	var stored string
	require.NoError(t, e.DB.SQL.QueryRowContext(t.Context(), `SELECT destination_enc FROM receipt_deliveries WHERE id = $1`, d.ID).Scan(&stored))
	require.NotContains(t, strings.ToLower(stored), "jane")

	require.NoError(t, e.deliver(t, d.ID))
	msgs := e.mail.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, []string{"jane@example.com"}, msgs[0].To)
	require.Equal(t, "receipts@till.test", msgs[0].From)
	p := emailtest.Parse(t, msgs[0].Data)
	require.Equal(t, "Your receipt from "+store, p.Subject)
	require.Contains(t, p.Text, "Receipt "+number)
	require.Contains(t, p.Text, "2 × Oolong  CN¥25.00")
	require.Contains(t, p.Text, "Total: CN¥25.00")
	require.Contains(t, p.Text, "Paid (Cash): CN¥25.00")
	require.Contains(t, p.Text, "Change: CN¥5.00")
	require.Contains(t, p.Text, "Thank you for shopping at "+store+"!")
	require.Contains(t, p.HTML, "<strong>Total: CN¥25.00</strong>")
	require.Contains(t, p.HTML, `lang="en"`)

	// The outbox delivers at least once: a repeat sends nothing more.
	require.NoError(t, e.deliver(t, d.ID))
	require.Len(t, e.mail.Messages(), 1)

	got := e.deliveries(t, e.cashier.Token, sl.ID)
	require.Len(t, got, 1)
	require.Equal(t, "SENT", got[0].Status)
	require.Equal(t, 1, got[0].Attempts)
	require.NotNil(t, got[0].SentAt)
	require.Nil(t, got[0].LastError)
	require.Contains(t, e.outbox(t), receipts.TopicRequested+" "+d.ID)
}

func TestReceiptInTheMerchantsLocale(t *testing.T) {
	t.Parallel()
	e := newReceiptEnv(t)
	e.Exec(t, e.owner.Token, `mutation { updateMerchant(input: {locale: "zh-CN"}) { merchant { id } } }`, nil).Decode(t, &struct{}{})
	sl := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 123456))
	store, number := e.storeName(t, sl.ID)

	d := e.send(t, e.cashier.Token, map[string]any{"sale": sl.ID, "channel": "EMAIL", "to": "mei@lotus.example"})
	require.Equal(t, "m**@lotus.example", d.DestinationMasked)
	require.NoError(t, e.deliver(t, d.ID))
	msgs := e.mail.Messages()
	require.Len(t, msgs, 1)
	p := emailtest.Parse(t, msgs[0].Data)
	require.Equal(t, "您在 "+store+" 的收据", p.Subject)
	require.Contains(t, p.Text, "收据 "+number)
	require.Contains(t, p.Text, "合计：¥1,234.56")
	require.Contains(t, p.Text, "感谢您光临 "+store+"！")
	require.Contains(t, p.HTML, `lang="zh-CN"`)

	// A phone number without a country code is the merchant's country's.
	d = e.send(t, e.cashier.Token, map[string]any{"sale": sl.ID, "channel": "SMS", "to": "138 1234 5678"})
	require.Equal(t, "SMS", d.Channel)
	require.Equal(t, "138****5678", d.DestinationMasked)
	require.NoError(t, e.deliver(t, d.ID))
	texts := e.texts.messages()
	require.Len(t, texts, 1)
	require.Equal(t, "+8613812345678", texts[0].To)
	require.Equal(t, store+"：收据 "+number+"，合计 ¥1,234.56。", texts[0].Body)
}

func TestReceiptSMSToTheSalesCustomerFromATerminal(t *testing.T) {
	t.Parallel()
	e := newReceiptEnv(t)
	cust := e.customerWith(t, map[string]any{"name": "Li Wei", "phone": "+8613900001111"})
	_, terminal := e.terminal(t, "SN-RCPT-1", "Front")
	in := saleCash(e.owner.StoreID, 880)
	in["customerId"] = cust
	sl := e.record(t, terminal, in)
	store, number := e.storeName(t, sl.ID)

	d := e.send(t, terminal, map[string]any{"sale": sl.ID, "channel": "SMS"})
	require.Equal(t, "139****1111", d.DestinationMasked)
	require.NoError(t, e.deliver(t, d.ID))
	texts := e.texts.messages()
	require.Len(t, texts, 1)
	require.Equal(t, "+8613900001111", texts[0].To)
	require.Equal(t, store+": receipt "+number+", total CN¥8.80.", texts[0].Body)
	require.Zero(t, e.texts.bad, "every request was signed")
	require.Equal(t, "SENT", e.deliveries(t, e.owner.Token, sl.ID)[0].Status)
}

func TestReceiptRejectedAddressFails(t *testing.T) {
	t.Parallel()
	e := newReceiptEnv(t)
	e.mail.Reject("gone@example.com", 550, "mailbox gone@example.com does not exist")
	e.mail.Reject("busy@example.com", 451, "try again later")
	sl := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 500))

	gone := e.send(t, e.cashier.Token, map[string]any{"sale": sl.ID, "channel": "EMAIL", "to": "gone@example.com"})
	err := e.deliver(t, gone.ID)
	var perm interface{ Permanent() bool }
	require.True(t, errors.As(err, &perm) && perm.Permanent(), "550 is permanent: %v", err)
	require.NotContains(t, err.Error(), "gone@example.com", "the outbox keeps errors: no address in them")

	busy := e.send(t, e.cashier.Token, map[string]any{"sale": sl.ID, "channel": "EMAIL", "to": "busy@example.com"})
	err = e.deliver(t, busy.ID)
	require.Error(t, err)
	require.False(t, errors.As(err, &perm) && perm.Permanent(), "451 is retried: %v", err)

	byID := map[string]receiptDelivery{}
	for _, d := range e.deliveries(t, e.owner.Token, sl.ID) {
		byID[d.ID] = d
	}
	require.Equal(t, "FAILED", byID[gone.ID].Status)
	require.Equal(t, 1, byID[gone.ID].Attempts)
	require.NotNil(t, byID[gone.ID].LastError)
	require.Contains(t, *byID[gone.ID].LastError, "550")
	require.NotContains(t, *byID[gone.ID].LastError, "gone@example.com")
	require.Contains(t, *byID[gone.ID].LastError, "g***@example.com")
	require.Equal(t, "QUEUED", byID[busy.ID].Status, "a retryable failure waits for the outbox's retry")
	require.Equal(t, 1, byID[busy.ID].Attempts)

	// A FAILED delivery is final: the outbox's repeat sends nothing.
	require.NoError(t, e.deliver(t, gone.ID))
	require.Empty(t, e.mail.Messages())
}

func TestReceiptBadInput(t *testing.T) {
	t.Parallel()
	e := newReceiptEnv(t)
	sl := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 500))
	noContact := e.customerWith(t, map[string]any{"name": "Nobody"})
	in := saleCash(e.owner.StoreID, 500)
	in["customerId"] = noContact
	withCustomer := e.record(t, e.cashier.Token, in)

	for name, tc := range map[string]struct {
		vars        map[string]any
		code, field string
	}{
		"no customer, no address":   {map[string]any{"sale": sl.ID, "channel": "EMAIL"}, "BAD_USER_INPUT", "to"},
		"customer without an email": {map[string]any{"sale": withCustomer.ID, "channel": "EMAIL"}, "BAD_USER_INPUT", "to"},
		"customer without a phone":  {map[string]any{"sale": withCustomer.ID, "channel": "SMS"}, "BAD_USER_INPUT", "to"},
		"not an email":              {map[string]any{"sale": sl.ID, "channel": "EMAIL", "to": "jane at example"}, "BAD_USER_INPUT", "to"},
		"not a phone":               {map[string]any{"sale": sl.ID, "channel": "SMS", "to": "12"}, "BAD_USER_INPUT", "to"},
		"blank idempotency key":     {map[string]any{"sale": sl.ID, "channel": "EMAIL", "to": "a@example.com", "key": " "}, "BAD_USER_INPUT", "idempotencyKey"},
		"no such sale":              {map[string]any{"sale": "sal_01JAAAAAAAAAAAAAAAAAAAAAAA", "channel": "EMAIL", "to": "a@example.com"}, "NOT_FOUND", ""},
	} {
		t.Run(name, func(t *testing.T) {
			saleWantErr(t, e.Exec(t, e.cashier.Token, receiptSend, tc.vars), tc.code, tc.field)
		})
	}
	saleWantErr(t, e.Exec(t, e.cashier.Token, `mutation { sendReceipt(saleId: "x", channel: FAX) { id } }`, nil), "GRAPHQL_VALIDATION_FAILED", "")
	require.Empty(t, e.deliveries(t, e.owner.Token, sl.ID), "nothing was queued")
	require.NotContains(t, strings.Join(e.outbox(t), "\n"), receipts.TopicRequested)
}

func TestReceiptTenancyAndStores(t *testing.T) {
	t.Parallel()
	e := newReceiptEnv(t)
	sl := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 500))
	other := e.SignUp(t, "Other Tea")
	res := e.Exec(t, other.Token, receiptSend, map[string]any{"sale": sl.ID, "channel": "EMAIL", "to": "a@example.com"})
	saleWantErr(t, res, "NOT_FOUND", "saleId")

	// A delivery of one merchant is not another's, by node or by sale.
	d := e.send(t, e.cashier.Token, map[string]any{"sale": sl.ID, "channel": "EMAIL", "to": "a@example.com"})
	saleWantErr(t, e.Exec(t, other.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": d.ID}), "NOT_FOUND", "")
	saleWantErr(t, e.Exec(t, other.Token, `query($id: ID!) { node(id: $id) { ... on Sale { receiptDeliveries { id } } } }`, map[string]any{"id": sl.ID}), "NOT_FOUND", "")
	var own struct {
		Node *struct{ ID, DestinationMasked string }
	}
	e.Exec(t, e.owner.Token, `query($id: ID!) { node(id: $id) { id ... on ReceiptDelivery { destinationMasked } } }`, map[string]any{"id": d.ID}).Decode(t, &own)
	require.Equal(t, "a**@example.com", own.Node.DestinationMasked)

	// The cashier works at the first store only, and does not see the
	// second store's sales at all.
	second := e.store(t, e.owner.Token, "Harbour")
	elsewhere := e.record(t, e.owner.Token, saleCash(second, 700))
	res = e.Exec(t, e.cashier.Token, receiptSend, map[string]any{"sale": elsewhere.ID, "channel": "EMAIL", "to": "a@example.com"})
	saleWantErr(t, res, "NOT_FOUND", "saleId")
	there := e.send(t, e.owner.Token, map[string]any{"sale": elsewhere.ID, "channel": "EMAIL", "to": "b@example.com"})
	// Nor that store's deliveries, by node.
	saleWantErr(t, e.Exec(t, e.cashier.Token, `query($id: ID!) { node(id: $id) { id ... on ReceiptDelivery { destinationMasked } } }`,
		map[string]any{"id": there.ID}), "NOT_FOUND", "")
	e.Exec(t, e.cashier.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": d.ID}).Decode(t, &own)
	require.Equal(t, d.ID, own.Node.ID, "their own store's they do")
}

func TestReceiptIdempotencyAndLimit(t *testing.T) {
	t.Parallel()
	e := newReceiptEnv(t)
	sl := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 500))
	vars := map[string]any{"sale": sl.ID, "channel": "EMAIL", "to": "a@example.com", "key": "rcpt-1"}
	first := e.send(t, e.cashier.Token, vars)
	again := e.send(t, e.cashier.Token, vars)
	require.Equal(t, first.ID, again.ID, "the same key replays the delivery")
	saleWantErr(t, e.Exec(t, e.cashier.Token, receiptSend, saleWith(vars, map[string]any{"to": "b@example.com"})), "IDEMPOTENCY_CONFLICT", "")

	for range receipts.MaxPerSale - 1 {
		e.send(t, e.cashier.Token, map[string]any{"sale": sl.ID, "channel": "SMS", "to": "+8613812345678"})
	}
	res := e.Exec(t, e.cashier.Token, receiptSend, map[string]any{"sale": sl.ID, "channel": "EMAIL", "to": "c@example.com"})
	saleWantErr(t, res, "RATE_LIMITED", "")
	require.Len(t, e.deliveries(t, e.owner.Token, sl.ID), receipts.MaxPerSale)
	// A replay of a keyed request is not another send.
	require.Equal(t, first.ID, e.send(t, e.cashier.Token, vars).ID)
	// Another sale has its own allowance.
	e.send(t, e.cashier.Token, map[string]any{"sale": e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 600)).ID, "channel": "EMAIL", "to": "c@example.com"})
}
