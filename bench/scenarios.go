package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
)

// scenarioNames are the scenarios in the order they run by default.
var scenarioNames = []string{"recordSale", "lookupCustomer", "salesPage", "heartbeat"}

// request sends one request of a scenario as client number worker.
type request func(ctx context.Context, worker int, rng *mrand.Rand) error

// scenarios build each scenario's request for a client and fixture. Each
// client sticks to one cashier session, as one terminal does.
var scenarios = map[string]func(c *client, f *fixture) request{
	// heartbeat is a paired terminal reporting its state, as each of a
	// fleet does every 30 seconds.
	"heartbeat": func(c *client, f *fixture) request {
		return func(ctx context.Context, worker int, rng *mrand.Rand) error {
			var out struct {
				DeviceHeartbeat struct{ NextHeartbeatInSeconds int }
			}
			err := c.do(ctx, "", `mutation($i: DeviceHeartbeatInput!) { deviceHeartbeat(input: $i) { nextHeartbeatInSeconds } }`,
				map[string]any{"i": map[string]any{
					"credential": f.devices[rng.IntN(len(f.devices))], "battery": 20 + rng.IntN(80), "charging": rng.IntN(2) == 0,
					"paperLow": rng.IntN(50) == 0, "network": "WIFI", "appVersion": "1.4.0", "freeStorage": 2048,
				}}, &out)
			if err == nil && out.DeviceHeartbeat.NextHeartbeatInSeconds == 0 {
				return errors.New("deviceHeartbeat gave no next time")
			}
			return err
		}
	},
	"recordSale": func(c *client, f *fixture) request {
		return func(ctx context.Context, worker int, rng *mrand.Rand) error {
			return recordSale(ctx, c, f.cashier(worker), f.sale(rng))
		}
	},
	// lookupCustomer recognises a seeded customer by the phone number
	// the cashier types.
	"lookupCustomer": func(c *client, f *fixture) request {
		return func(ctx context.Context, worker int, rng *mrand.Rand) error {
			cu := f.customers[rng.IntN(len(f.customers))]
			var out struct {
				LookupCustomer *struct{ ID string }
			}
			err := c.do(ctx, f.cashier(worker), `query($i: LookupCustomerInput!) {
				lookupCustomer(input: $i) { id name phone contactMasked segment visitsCount totalSpent lastVisitAt }
			}`, map[string]any{"i": map[string]any{"phone": cu.phone}}, &out)
			switch {
			case err != nil:
				return err
			case out.LookupCustomer == nil || out.LookupCustomer.ID != cu.id:
				return errors.New("lookupCustomer did not find the customer")
			}
			return nil
		}
	},
	// salesPage is the first page of the store's sales, newest first, as
	// the sales list on a tablet shows it.
	"salesPage": func(c *client, f *fixture) request {
		return func(ctx context.Context, worker int, rng *mrand.Rand) error {
			var out struct {
				Sales struct {
					Edges []struct{ Node struct{ ID string } }
				}
			}
			err := c.do(ctx, f.cashier(worker), `query($w: SaleWhereInput) {
				sales(first: 20, where: $w) {
					edges { node { id receiptNumber occurredAt status total customerID tenders { type amount } } }
					pageInfo { hasNextPage endCursor }
				}
			}`, map[string]any{"w": map[string]any{"storeID": f.store}}, &out)
			switch {
			case err != nil:
				return err
			case len(out.Sales.Edges) == 0:
				return errors.New("sales page is empty")
			}
			return nil
		}
	},
}

// cashier is the session client number worker uses.
func (f *fixture) cashier(worker int) string { return f.cashiers[worker%len(f.cashiers)] }

// sale builds a recordSale input: 1–5 lines (the merchant's products, or
// free-text items when there are none), paid in cash, by card or split
// between the two, for a known customer one time in three, under a fresh
// idempotency key.
func (f *fixture) sale(rng *mrand.Rand) map[string]any {
	var lines []any
	var total int64
	for range 1 + rng.IntN(5) {
		qty := 1 + rng.IntN(3)
		if len(f.products) > 0 {
			p := f.products[rng.IntN(len(f.products))]
			lines = append(lines, map[string]any{"productId": p.id, "quantity": qty})
			total += p.unitPrice * int64(qty)
		} else {
			price := 100 * int64(1+rng.IntN(60))
			lines = append(lines, map[string]any{"name": "Tea", "quantity": qty, "unitPrice": price, "taxRateBp": 600})
			total += price * int64(qty)
		}
	}
	// Prices include tax (the merchant default) and nothing is
	// discounted, so the total is the sum of the lines; expectedTotal has
	// the server check that.
	card := func(amount int64) map[string]any {
		// A reference of its own per sale: the velocity rule flags one
		// used on many sales.
		return map[string]any{"type": "CARD", "amount": amount, "cardType": "CREDIT", "cardBrand": "VISA",
			"cardLast4": fmt.Sprintf("%04d", rng.IntN(10000)), "reference": "bench-" + rand.Text()}
	}
	cash := func(amount int64) map[string]any {
		// Handed over in ¥10 notes, so there is change to give.
		return map[string]any{"type": "CASH", "amount": amount, "tendered": (amount + 999) / 1000 * 1000}
	}
	var tenders []any
	switch rng.IntN(3) {
	case 0:
		tenders = []any{cash(total)}
	case 1:
		tenders = []any{card(total)}
	default:
		onCard := total / 2
		tenders = []any{card(onCard), cash(total - onCard)}
	}
	in := map[string]any{
		"idempotencyKey": rand.Text(), "storeId": f.store, "lines": lines, "tenders": tenders, "expectedTotal": total,
	}
	if rng.IntN(3) == 0 {
		in["customerId"] = f.customers[rng.IntN(len(f.customers))].id
	}
	return in
}

// recordSale records in as the holder of token; a replay is an error,
// since every key is new.
func recordSale(ctx context.Context, c *client, token string, in map[string]any) error {
	var out struct{ RecordSale struct{ Replayed bool } }
	err := c.do(ctx, token, `mutation($i: RecordSaleInput!) {
		recordSale(input: $i) { replayed sale { id receiptNumber total changeDue } }
	}`, map[string]any{"i": in}, &out)
	if err == nil && out.RecordSale.Replayed {
		err = errors.New("recordSale replayed a new idempotency key")
	}
	return err
}
