package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
)

// benchPassword is every bench account's password.
const benchPassword = "correct horse battery"

// product is a seeded product, with what the bench needs to price a line.
type product struct {
	id        string
	unitPrice int64
}

// customer is a seeded customer and the phone a cashier would type.
type customer struct {
	id    string
	phone string
}

// fixture is what the scenarios work on: a new merchant's one store.
type fixture struct {
	store string
	// owner is the owner's access token, for seeding.
	owner string
	// cashiers are access tokens of cashier sessions at the store.
	cashiers []string
	// products is empty when createProduct is not available: sales then
	// use free-text lines.
	products  []product
	customers []customer
	// devices are credentials of terminals paired to the store.
	devices []string
}

const authFields = `accessToken viewer { stores { id } }`

type authPayload struct {
	AccessToken string `json:"accessToken"`
	Viewer      struct {
		Stores []struct{ ID string } `json:"stores"`
	} `json:"viewer"`
}

// setUp signs up a merchant and seeds it: products, customers, cashier
// sessions and o.sales sales. Seeding runs o.clients requests at a time.
func setUp(ctx context.Context, c *client, o options, stderr io.Writer) (*fixture, error) {
	tag := strings.ToLower(rand.Text()[:8])
	var signUp struct{ SignUpMerchant authPayload }
	err := c.do(ctx, "", `mutation($i: SignUpMerchantInput!) { signUpMerchant(input: $i) { `+authFields+` } }`,
		map[string]any{"i": map[string]any{
			"merchantName": "Bench Tea " + tag, "ownerName": "Bench Owner", "email": "owner-" + tag + "@bench.example",
			"password": benchPassword, "currency": "CNY", "timeZone": "Asia/Shanghai",
			// The locale's region (CN) is how a phone without +86 is read.
			"locale": "zh-CN",
		}}, &signUp)
	if err != nil {
		return nil, fmt.Errorf("signing up: %w", err)
	}
	if len(signUp.SignUpMerchant.Viewer.Stores) == 0 {
		return nil, errors.New("signing up: the new merchant has no store")
	}
	f := &fixture{
		store: signUp.SignUpMerchant.Viewer.Stores[0].ID,
		owner: signUp.SignUpMerchant.AccessToken,
	}

	// A merchant with a loyalty program, as most are: a sale with a
	// customer earns points (and may move them up a tier) in its
	// transaction.
	err = c.do(ctx, f.owner, `mutation($i: UpdateLoyaltyProgramInput!) { updateLoyaltyProgram(input: $i) { version } }`,
		map[string]any{"i": map[string]any{"enabled": true, "expiryMonths": 12}}, &struct{}{})
	if err != nil {
		return nil, fmt.Errorf("setting up the loyalty program: %w", err)
	}

	for i := range o.cashiers {
		token, err := f.addCashier(ctx, c, fmt.Sprintf("cashier%d-%s@bench.example", i, tag))
		if err != nil {
			return nil, err
		}
		f.cashiers = append(f.cashiers, token)
	}

	if o.products > 0 {
		// createProduct may not be implemented yet on this server; try
		// one first and sell free-text items if it fails.
		p, err := f.createProduct(ctx, c, 0)
		if err != nil {
			fmt.Fprintf(stderr, "bench: createProduct failed (%v); sales use free-text lines\n", err)
		} else {
			f.products = make([]product, o.products)
			f.products[0] = p
			err = parallel(ctx, o.clients, o.products-1, func(i int) (err error) {
				f.products[i+1], err = f.createProduct(ctx, c, i+1)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("creating products: %w", err)
			}
		}
	}

	// Phones are unique within the merchant; a fresh merchant per run
	// makes a counter enough. 139 is a Chinese mobile prefix, typed
	// without +86 as a cashier would.
	f.customers = make([]customer, o.customers)
	err = parallel(ctx, o.clients, o.customers, func(i int) error {
		phone := fmt.Sprintf("139%08d", i)
		var out struct {
			CreateCustomer struct{ Customer struct{ ID string } }
		}
		err := c.do(ctx, f.owner, `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`,
			map[string]any{"i": map[string]any{"name": fmt.Sprintf("Customer %d", i), "phone": phone, "storeId": f.store}}, &out)
		f.customers[i] = customer{id: out.CreateCustomer.Customer.ID, phone: phone}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("creating customers: %w", err)
	}

	f.devices = make([]string, o.devices)
	err = parallel(ctx, o.clients, o.devices, func(i int) error {
		var code struct{ CreatePairingCode struct{ Code string } }
		err := c.do(ctx, f.owner, `mutation($i: CreatePairingCodeInput!) { createPairingCode(input: $i) { code } }`,
			map[string]any{"i": map[string]any{"storeId": f.store}}, &code)
		if err != nil {
			return err
		}
		var paired struct{ PairDevice struct{ Credential string } }
		err = c.do(ctx, "", `mutation($i: PairDeviceInput!) { pairDevice(input: $i) { credential } }`,
			map[string]any{"i": map[string]any{
				"idempotencyKey": fmt.Sprintf("bench-pair-%s-%05d", tag, i),
				"code":           code.CreatePairingCode.Code, "serialNumber": fmt.Sprintf("BENCH-%s-%05d", tag, i), "model": "P2 Pro", "appVersion": "1.4.0",
			}}, &paired)
		f.devices[i] = paired.PairDevice.Credential
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pairing devices: %w", err)
	}

	rng := mrand.New(mrand.NewPCG(1, 2))
	var mu sync.Mutex // guards rng
	err = parallel(ctx, o.clients, o.sales, func(i int) error {
		mu.Lock()
		in := f.sale(rng)
		mu.Unlock()
		return recordSale(ctx, c, f.cashiers[i%len(f.cashiers)], in)
	})
	if err != nil {
		return nil, fmt.Errorf("recording sales: %w", err)
	}
	return f, nil
}

// addCashier creates a cashier at the store and returns a session's token.
func (f *fixture) addCashier(ctx context.Context, c *client, email string) (string, error) {
	err := c.do(ctx, f.owner, `mutation($i: CreateStaffInput!) { createStaff(input: $i) { staff { id } } }`,
		map[string]any{"i": map[string]any{
			"name": "Bench Cashier", "email": email, "password": benchPassword, "role": "CASHIER", "storeIds": []string{f.store},
		}}, nil)
	if err != nil {
		return "", fmt.Errorf("creating a cashier: %w", err)
	}
	var out struct{ LogIn authPayload }
	err = c.do(ctx, "", `mutation($i: LogInInput!) { logIn(input: $i) { `+authFields+` } }`,
		map[string]any{"i": map[string]any{"email": email, "password": benchPassword}}, &out)
	if err != nil {
		return "", fmt.Errorf("logging in a cashier: %w", err)
	}
	return out.LogIn.AccessToken, nil
}

func (f *fixture) createProduct(ctx context.Context, c *client, i int) (product, error) {
	p := product{unitPrice: 100 * int64(1+i%60)} // ¥1 to ¥60
	var out struct {
		CreateProduct struct{ Product struct{ ID string } }
	}
	err := c.do(ctx, f.owner, `mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id } } }`,
		map[string]any{"i": map[string]any{
			"sku": fmt.Sprintf("B%05d", i), "name": fmt.Sprintf("Item %d", i), "unitPrice": p.unitPrice, "taxRateBp": 600,
		}}, &out)
	p.id = out.CreateProduct.Product.ID
	return p, err
}

// parallel runs fn(0) … fn(n-1) on up to workers goroutines and returns
// the first error; after one, the rest are skipped.
func parallel(ctx context.Context, workers, n int, fn func(i int) error) error {
	var (
		next     atomic.Int64
		firstErr error
		once     sync.Once
		failed   atomic.Bool
		wg       sync.WaitGroup
	)
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || failed.Load() || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { firstErr = err })
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}
