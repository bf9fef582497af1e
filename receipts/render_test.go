package receipts

import (
	"strings"
	"testing"
	"time"

	"github.com/tillpos/till/sales"
)

func TestRenderEmail(t *testing.T) {
	addr := "1 Harbour Rd"
	r := &sales.Receipt{
		StoreName: "Tea & <Cake>", StoreAddress: &addr, Number: "000042", Currency: "USD",
		OccurredAt: time.Date(2026, 12, 1, 23, 30, 0, 0, time.UTC), TimeZone: "Asia/Shanghai",
		Lines: []sales.ReceiptLine{{Name: "<b>Scone</b>", Quantity: 1, Total: 450}},
		Total: 450, RefundedTotal: 150,
		Tenders: []sales.ReceiptTender{{Label: "VISA credit •••• 4242", Amount: 450}},
	}
	m := renderEmail("en-US", r)
	for _, want := range []string{
		"Tea & <Cake>\n1 Harbour Rd\nReceipt 000042 · 2026-12-02 07:30\n\n",
		"1 × <b>Scone</b>  $4.50\n\nTotal: $4.50\nPaid (VISA credit •••• 4242): $4.50\nRefunded: $1.50\n\nThank you for shopping at Tea & <Cake>!\n",
	} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text %q lacks %q", m.Text, want)
		}
	}
	if strings.Contains(m.Text, "Change") {
		t.Errorf("text shows change where none was given: %q", m.Text)
	}
	// Names merchants type are escaped in the HTML part.
	if strings.Contains(m.HTML, "<b>Scone</b>") || !strings.Contains(m.HTML, "&lt;b&gt;Scone&lt;/b&gt;") || !strings.Contains(m.HTML, "Tea &amp; &lt;Cake&gt;") {
		t.Errorf("html not escaped: %s", m.HTML)
	}
	if m.Subject != "Your receipt from Tea & <Cake>" {
		t.Errorf("subject = %q", m.Subject)
	}
	if got := renderSMS("zh", r); got != "Tea & <Cake>：收据 000042，合计 US$4.50。" {
		t.Errorf("sms = %q", got)
	}
}
