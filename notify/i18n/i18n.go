// Package i18n holds the localised texts of notifications and receipts and
// formats money for a locale.
//
// Messages use named placeholders, "{store}", filled from the args map.
// Locales are BCP 47 tags matched with golang.org/x/text/language, so "zh",
// "zh-Hans-CN" and "zh-CN" all read the zh-CN catalog; anything unmatched
// reads English.
package i18n

import (
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"
)

// Keys of the catalog. Every locale has every key, with the same
// placeholders (catalog_test.go checks it).
const (
	// SaleCompleted is the push for a new sale: {amount}, {store}.
	SaleCompleted = "sale.completed"
	// SaleRefunded is the push for a refund: {amount}, {store}, {number}.
	SaleRefunded = "sale.refunded"
	// SaleVoided is the push for a voided sale: {number}, {store}.
	SaleVoided = "sale.voided"
	// DeviceOffline is the push for a terminal gone quiet: {device}, {store}.
	DeviceOffline = "device.offline"
	// DeviceFault is the push for a fault a terminal reported: {device},
	// {store}, {fault}.
	DeviceFault = "device.fault"
	// RiskFlagged is the push for a sale held for review: {number}, {store}.
	RiskFlagged = "risk.flagged"
	// TicketUpdated is the push for a support ticket change: {subject},
	// {status}.
	TicketUpdated = "ticket.updated"
	// DailySummary is the end-of-day push: {store}, {count}, {amount}.
	DailySummary = "summary.daily"
	// ReceiptEmailSubject is the subject of a receipt email: {store}.
	ReceiptEmailSubject = "receipt.email.subject"
	// ReceiptHeading heads a receipt: {number}.
	ReceiptHeading = "receipt.heading"
	// ReceiptLine is one item of a receipt: {quantity}, {name}, {amount}.
	ReceiptLine = "receipt.line"
	// ReceiptTotal is a receipt's total line: {amount}.
	ReceiptTotal = "receipt.total"
	// ReceiptPaid is one payment of a receipt: {tender}, {amount}.
	ReceiptPaid = "receipt.paid"
	// ReceiptChange is the change given: {amount}.
	ReceiptChange = "receipt.change"
	// ReceiptRefunded is what was refunded of the sale so far: {amount}.
	ReceiptRefunded = "receipt.refunded"
	// ReceiptThanks closes a receipt: {store}.
	ReceiptThanks = "receipt.thanks"
	// ReceiptSMS is a receipt by text message: {store}, {number}, {amount},
	// {link} (may be empty).
	ReceiptSMS = "receipt.sms"
	// OptOutSMS ends a campaign text message.
	OptOutSMS = "optout.sms"
	// OptOutEmail labels a campaign email's unsubscribe link.
	OptOutEmail = "optout.email"
	// FeedbackLow is the push for a customer's low rating: {store}.
	FeedbackLow = "feedback.low"
	// Titles of pushes, by what they are about.
	TitleSale     = "title.sale"
	TitleRefund   = "title.refund"
	TitleReview   = "title.review"
	TitleDevice   = "title.device"
	TitleTicket   = "title.ticket"
	TitleFeedback = "title.feedback"
	TitleSummary  = "title.summary"
)

var catalogs = map[string]map[string]string{
	"en": {
		SaleCompleted:       "New sale {amount} at {store}",
		SaleRefunded:        "Refund {amount} on sale {number} at {store}",
		SaleVoided:          "Sale {number} voided at {store}",
		DeviceOffline:       "{device} at {store} is offline",
		DeviceFault:         "{device} at {store} reported a fault: {fault}",
		RiskFlagged:         "Sale {number} at {store} is held for review",
		TicketUpdated:       "Ticket “{subject}” is now {status}",
		DailySummary:        "{store}: {count} sales, {amount} today",
		ReceiptEmailSubject: "Your receipt from {store}",
		ReceiptHeading:      "Receipt {number}",
		ReceiptLine:         "{quantity} × {name}  {amount}",
		ReceiptTotal:        "Total: {amount}",
		ReceiptPaid:         "Paid ({tender}): {amount}",
		ReceiptChange:       "Change: {amount}",
		ReceiptRefunded:     "Refunded: {amount}",
		ReceiptThanks:       "Thank you for shopping at {store}!",
		ReceiptSMS:          "{store}: receipt {number}, total {amount}. {link}",
		OptOutSMS:           "Reply STOP to opt out",
		OptOutEmail:         "Unsubscribe",
		FeedbackLow:         "A customer at {store} left a low rating",
		TitleSale:           "New sale",
		TitleRefund:         "Refund",
		TitleReview:         "Sale held for review",
		TitleDevice:         "Device",
		TitleTicket:         "Service ticket",
		TitleFeedback:       "Customer feedback",
		TitleSummary:        "Today's sales",
	},
	"zh-CN": {
		SaleCompleted:       "{store} 新销售 {amount}",
		SaleRefunded:        "{store} 销售 {number} 退款 {amount}",
		SaleVoided:          "{store} 销售 {number} 已作废",
		DeviceOffline:       "{store} 的 {device} 已离线",
		DeviceFault:         "{store} 的 {device} 报告故障：{fault}",
		RiskFlagged:         "{store} 的销售 {number} 已暂停，等待审核",
		TicketUpdated:       "工单“{subject}”状态：{status}",
		DailySummary:        "{store}：今日 {count} 笔销售，共 {amount}",
		ReceiptEmailSubject: "您在 {store} 的收据",
		ReceiptHeading:      "收据 {number}",
		ReceiptLine:         "{quantity} × {name}  {amount}",
		ReceiptTotal:        "合计：{amount}",
		ReceiptPaid:         "已付（{tender}）：{amount}",
		ReceiptChange:       "找零：{amount}",
		ReceiptRefunded:     "已退款：{amount}",
		ReceiptThanks:       "感谢您光临 {store}！",
		ReceiptSMS:          "{store}：收据 {number}，合计 {amount}。{link}",
		OptOutSMS:           "回复 TD 退订",
		OptOutEmail:         "退订",
		FeedbackLow:         "{store} 有顾客给出了低分评价",
		TitleSale:           "新销售",
		TitleRefund:         "退款",
		TitleReview:         "销售待审核",
		TitleDevice:         "设备",
		TitleTicket:         "服务工单",
		TitleFeedback:       "顾客评价",
		TitleSummary:        "今日销售",
	},
}

// supported lists the catalogs' tags, English first so it is the fallback.
var supported = []language.Tag{language.English, language.MustParse("zh-CN")}

var (
	matcher = language.NewMatcher(supported)
	names   = []string{"en", "zh-CN"}
)

// Match returns the catalog locale ("en" or "zh-CN") that best serves
// locale; an unknown or malformed locale gets "en".
func Match(locale string) string {
	tag, err := language.Parse(locale)
	if err != nil {
		return names[0]
	}
	_, i, conf := matcher.Match(tag)
	if conf == language.No {
		return names[0]
	}
	return names[i]
}

// Locales lists the catalog locales.
func Locales() []string { return append([]string(nil), names...) }

var placeholder = regexp.MustCompile(`\{([a-zA-Z]+)\}`)

// Text returns the message key in the best match for locale, filling named
// args (formatted with fmt.Sprint). An unknown key returns the key itself so
// a missing text shows up in the message instead of an empty one; a
// placeholder without an arg is left as written.
func Text(locale, key string, args map[string]any) string {
	msg, ok := catalogs[Match(locale)][key]
	if !ok {
		return key
	}
	out := placeholder.ReplaceAllStringFunc(msg, func(p string) string {
		v, ok := args[p[1:len(p)-1]]
		if !ok {
			return p
		}
		return fmt.Sprint(v)
	})
	// An empty trailing arg (a receipt SMS without a link) leaves no
	// dangling space.
	return strings.TrimSpace(out)
}

// Money formats minor units of an ISO 4217 currency in locale: the
// currency's symbol, its minor-unit scale (JPY none, USD two) and the
// locale's digit grouping, e.g. en USD 123456 → "$1,234.56", zh-CN CNY
// 123456 → "¥1,234.56", en USD -500 → "-$5.00". An unknown currency code is
// written after the number.
func Money(locale, code string, minor int64) string {
	loc := Match(locale)
	tag := language.MustParse(loc)
	p := message.NewPrinter(tag)
	unit, err := currency.ParseISO(code)
	scale := 2
	if err == nil {
		scale, _ = currency.Standard.Rounding(unit)
	}
	sign := ""
	if minor < 0 {
		sign = "-"
	}
	// Integer arithmetic keeps amounts exact; only the whole part goes
	// through the locale's grouping. Negating math.MinInt64 overflows, so
	// the absolute value is taken per part.
	pow := int64(1)
	for range scale {
		pow *= 10
	}
	whole, frac := minor/pow, minor%pow
	if whole < 0 {
		whole = -whole
	}
	if frac < 0 {
		frac = -frac
	}
	digits := p.Sprint(number.Decimal(whole))
	if scale > 0 {
		digits += decimalSeparator(p) + fmt.Sprintf("%0*d", scale, frac)
	}
	if err != nil {
		return sign + digits + " " + strings.ToUpper(code)
	}
	return sign + symbol(p, tag, unit) + digits
}

// symbol is the narrow symbol ("¥", "$") for the locale region's own
// currency and the standard one otherwise, so an en reader sees "CN¥" for
// yuan and a zh-CN reader "US$" for dollars, never an ambiguous "$".
func symbol(p *message.Printer, tag language.Tag, u currency.Unit) string {
	if region, conf := tag.Region(); conf != language.No {
		if home, ok := currency.FromRegion(region); ok && home == u {
			return p.Sprint(currency.NarrowSymbol(u))
		}
	}
	return p.Sprint(currency.Symbol(u))
}

// decimalSeparator reads the locale's decimal mark off a formatted 0.5.
func decimalSeparator(p *message.Printer) string {
	return strings.Trim(p.Sprint(number.Decimal(0.5, number.Scale(1))), "05")
}
