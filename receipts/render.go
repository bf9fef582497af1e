package receipts

import (
	"bytes"
	"html/template"
	"strings"
	"time"

	"github.com/tillpos/till/notify/email"
	"github.com/tillpos/till/notify/i18n"
	"github.com/tillpos/till/sales"
)

// rendered is a receipt's lines in one locale, shared by the text and
// HTML forms of an email.
type rendered struct {
	Lang    string
	Subject string
	Heading string
	Store   string
	Address string
	When    string
	Items   []string
	Summary []string
	Thanks  string
}

func render(locale string, r *sales.Receipt) rendered {
	money := func(minor int64) string { return i18n.Money(locale, r.Currency, minor) }
	text := func(key string, args map[string]any) string { return i18n.Text(locale, key, args) }
	out := rendered{
		Lang:    i18n.Match(locale),
		Subject: text(i18n.ReceiptEmailSubject, map[string]any{"store": r.StoreName}),
		Heading: text(i18n.ReceiptHeading, map[string]any{"number": r.Number}),
		Store:   r.StoreName,
		When:    localTime(r.OccurredAt, r.TimeZone),
		Thanks:  text(i18n.ReceiptThanks, map[string]any{"store": r.StoreName}),
	}
	if r.StoreAddress != nil {
		out.Address = *r.StoreAddress
	}
	for _, l := range r.Lines {
		out.Items = append(out.Items, text(i18n.ReceiptLine, map[string]any{"quantity": l.Quantity, "name": l.Name, "amount": money(l.Total)}))
	}
	out.Summary = append(out.Summary, text(i18n.ReceiptTotal, map[string]any{"amount": money(r.Total)}))
	for _, t := range r.Tenders {
		out.Summary = append(out.Summary, text(i18n.ReceiptPaid, map[string]any{"tender": t.Label, "amount": money(t.Amount)}))
	}
	if r.ChangeDue > 0 {
		out.Summary = append(out.Summary, text(i18n.ReceiptChange, map[string]any{"amount": money(r.ChangeDue)}))
	}
	if r.RefundedTotal > 0 {
		out.Summary = append(out.Summary, text(i18n.ReceiptRefunded, map[string]any{"amount": money(r.RefundedTotal)}))
	}
	return out
}

// localTime is when the sale happened on the store's clock.
func localTime(t time.Time, zone string) string {
	if loc, err := time.LoadLocation(zone); err == nil {
		t = t.In(loc)
	}
	return t.Format("2006-01-02 15:04")
}

// html/template escapes item and store names, which merchants type.
var page = template.Must(template.New("receipt").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family:sans-serif;max-width:480px;margin:auto">
<h1 style="font-size:20px">{{.Store}}</h1>
{{if .Address}}<p>{{.Address}}</p>{{end}}
<p>{{.Heading}} · {{.When}}</p>
<ul style="list-style:none;padding:0">{{range .Items}}
<li>{{.}}</li>{{end}}
</ul>
{{range $i, $s := .Summary}}<p>{{if eq $i 0}}<strong>{{$s}}</strong>{{else}}{{$s}}{{end}}</p>
{{end}}<p>{{.Thanks}}</p>
</body></html>
`))

// renderEmail is the receipt as an email (without its recipient).
func renderEmail(locale string, r *sales.Receipt) email.Message {
	v := render(locale, r)
	head := []string{v.Store}
	if v.Address != "" {
		head = append(head, v.Address)
	}
	head = append(head, v.Heading+" · "+v.When)
	var blocks []string
	for _, b := range [][]string{head, v.Items, v.Summary, {v.Thanks}} {
		blocks = append(blocks, strings.Join(b, "\n"))
	}
	text := strings.Join(blocks, "\n\n") + "\n"
	var html bytes.Buffer
	// The template is fixed and its data plain strings: it cannot fail.
	_ = page.Execute(&html, v)
	return email.Message{Subject: v.Subject, Text: text, HTML: html.String()}
}

// renderSMS is the receipt as one short text message.
func renderSMS(locale string, r *sales.Receipt) string {
	return i18n.Text(locale, i18n.ReceiptSMS, map[string]any{
		"store": r.StoreName, "number": r.Number, "amount": i18n.Money(locale, r.Currency, r.Total), "link": "",
	})
}
