package notify

import (
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/notify/i18n"
)

// texts are the catalog keys of each kind's title and body.
var texts = map[Kind]struct{ title, body string }{
	SaleCompleted: {i18n.TitleSale, i18n.SaleCompleted},
	SaleRefunded:  {i18n.TitleRefund, i18n.SaleRefunded},
	SaleVoided:    {i18n.TitleRefund, i18n.SaleVoided},
	RiskFlagged:   {i18n.TitleReview, i18n.RiskFlagged},
	DeviceOffline: {i18n.TitleDevice, i18n.DeviceOffline},
	DeviceFault:   {i18n.TitleDevice, i18n.DeviceFault},
	TicketUpdated: {i18n.TitleTicket, i18n.TicketUpdated},
	LowFeedback:   {i18n.TitleFeedback, i18n.FeedbackLow},
	DailySummary:  {i18n.TitleSummary, i18n.DailySummary},
}

// Render is note's title and body in locale, its amount in the locale's
// way of writing its currency.
func Render(locale string, note *ent.Notification) (title, body string) {
	args := make(map[string]any, len(note.Args))
	for k, v := range note.Args {
		// Numbers come back from JSON as float64; receipt numbers and
		// counts print as integers.
		if f, ok := v.(float64); ok {
			v = int64(f)
		}
		args[k] = v
	}
	if amount, ok := args["amount"].(int64); ok {
		currency, _ := args["currency"].(string)
		args["amount"] = i18n.Money(locale, currency, amount)
	}
	t := texts[Kind(note.TextKey)]
	return i18n.Text(locale, t.title, args), i18n.Text(locale, t.body, args)
}
