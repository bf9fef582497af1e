package i18n

import (
	"slices"
	"testing"
)

// Every key exists in every locale with the same placeholders, so a
// notification never shows a raw key or loses an amount in one language.
func TestCatalogComplete(t *testing.T) {
	en := catalogs["en"]
	for _, loc := range Locales() {
		cat, ok := catalogs[loc]
		if !ok {
			t.Fatalf("no catalog for %s", loc)
		}
		for key, msg := range en {
			other, ok := cat[key]
			if !ok {
				t.Errorf("%s: missing %q", loc, key)
				continue
			}
			if got, want := placeholders(other), placeholders(msg); !slices.Equal(got, want) {
				t.Errorf("%s %q: placeholders %v, en has %v", loc, key, got, want)
			}
		}
		for key := range cat {
			if _, ok := en[key]; !ok {
				t.Errorf("%s: %q is not in en", loc, key)
			}
		}
	}
	if len(catalogs) != len(Locales()) {
		t.Errorf("catalogs %d, locales %d", len(catalogs), len(Locales()))
	}
}

func placeholders(msg string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(msg, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return out
}

func TestMatch(t *testing.T) {
	for in, want := range map[string]string{
		"en": "en", "en-GB": "en", "zh": "zh-CN", "zh-CN": "zh-CN", "zh-Hans-CN": "zh-CN",
		"zh-Hans": "zh-CN", "fr": "en", "": "en", "not a tag!": "en",
	} {
		if got := Match(in); got != want {
			t.Errorf("Match(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestText(t *testing.T) {
	args := map[string]any{"store": "Main St", "amount": "$12.00"}
	for _, tc := range []struct{ locale, key, want string }{
		{"en", SaleCompleted, "New sale $12.00 at Main St"},
		{"zh-Hans-CN", SaleCompleted, "Main St 新销售 $12.00"},
		{"fr", SaleCompleted, "New sale $12.00 at Main St"},
		{"en", DailySummary, "Main St: {count} sales, $12.00 today"},
		{"en", "no.such.key", "no.such.key"},
		{"zh", OptOutSMS, "回复 TD 退订"},
	} {
		if got := Text(tc.locale, tc.key, args); got != tc.want {
			t.Errorf("Text(%q, %q) = %q, want %q", tc.locale, tc.key, got, tc.want)
		}
	}
	got := Text("en", ReceiptSMS, map[string]any{"store": "Main St", "number": "000042", "amount": "$1.00", "link": ""})
	if want := "Main St: receipt 000042, total $1.00."; got != want {
		t.Errorf("receipt SMS without a link = %q, want %q", got, want)
	}
}

func TestMoney(t *testing.T) {
	for _, tc := range []struct {
		locale, currency string
		minor            int64
		want             string
	}{
		{"en", "USD", 123456, "$1,234.56"},
		{"en-US", "USD", 5, "$0.05"},
		{"en", "USD", -123456, "-$1,234.56"},
		{"en", "USD", -5, "-$0.05"},
		{"zh-CN", "CNY", 123456, "¥1,234.56"},
		{"zh", "CNY", 0, "¥0.00"},
		{"en", "CNY", 123456, "CN¥1,234.56"},
		{"zh-CN", "USD", 100, "US$1.00"},
		{"en", "JPY", 123456, "¥123,456"},
		{"zh-CN", "JPY", -1500, "-JP¥1,500"},
		{"en", "EUR", 99, "€0.99"},
		{"fr", "USD", 1234567890, "$12,345,678.90"},
		{"en", "usd", 100, "$1.00"},
		{"en", "XYZ", 100, "1.00 XYZ"},
	} {
		if got := Money(tc.locale, tc.currency, tc.minor); got != tc.want {
			t.Errorf("Money(%q, %q, %d) = %q, want %q", tc.locale, tc.currency, tc.minor, got, tc.want)
		}
	}
}
