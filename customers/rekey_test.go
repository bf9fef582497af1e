package customers_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/keyring"
	"github.com/tillpos/till/pii"
)

// rotate returns a Box whose active key is new but which still holds the
// env's keys, and a Box holding only the new key (to prove nothing needs
// the old one any more).
func (e *env) rotate(t *testing.T) (rotated, newOnly *pii.Box) {
	t.Helper()
	fresh, err := keyring.Generate()
	require.NoError(t, err)
	kid, key := fresh.PII.Active, fresh.PII.Keys[fresh.PII.Active]
	require.NotContains(t, e.keys.Keys, kid)
	keys := keyring.AEADKeys{Active: kid, Keys: map[string][]byte{kid: key}}
	for k, v := range e.keys.Keys {
		keys.Keys[k] = v
	}
	rotated, err = pii.New(keys, e.indexKey)
	require.NoError(t, err)
	newOnly, err = pii.New(keyring.AEADKeys{Active: kid, Keys: map[string][]byte{kid: key}}, e.indexKey)
	require.NoError(t, err)
	return rotated, newOnly
}

// contact is what a customer's sealed fields open to under box.
type contact struct{ phone, email, address string }

func openAll(t *testing.T, box *pii.Box, c *ent.Customer) contact {
	t.Helper()
	var out contact
	for _, f := range []struct {
		sealed *string
		field  string
		dst    *string
	}{{c.PhoneEnc, "phone", &out.phone}, {c.EmailEnc, "email", &out.email}, {c.AddressEnc, "address", &out.address}} {
		if f.sealed == nil {
			continue
		}
		require.Equal(t, box.ActiveKeyID(), pii.KeyID(*f.sealed), "%s of %s", f.field, c.ID)
		*f.dst = open(t, box, f.sealed, c.ID, f.field)
	}
	return out
}

func TestRekey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := e.newShop(t, "zh-CN")

	// Customers sealed under the first key, at two merchants.
	want := map[pulid.ID]contact{}
	var ids []pulid.ID
	for i := range 5 {
		phone, email := fmt.Sprintf("+86138000000%02d", i), fmt.Sprintf("c%d@lotus.example", i)
		c := e.create(t, as(t, e.cashier), customers.Profile{
			Name: ptr(fmt.Sprint("Customer ", i)), Phone: ptr(phone), Email: ptr(email), Address: ptr(fmt.Sprint(i, " Tea Road")),
		})
		want[c.ID] = contact{phone, email, fmt.Sprint(i, " Tea Road")}
		ids = append(ids, c.ID)
	}
	onlyAddress := e.create(t, as(t, other.cashier), customers.Profile{Name: ptr("Elsewhere"), Address: ptr("9 Far Road")})
	want[onlyAddress.ID] = contact{address: "9 Far Road"}
	ids = append(ids, onlyAddress.ID)
	nothing := e.create(t, as(t, e.cashier), customers.Profile{Name: ptr("No contact")})
	oldKID := e.box.ActiveKeyID()
	before := map[pulid.ID]*ent.Customer{}
	for _, id := range ids {
		before[id] = e.reload(t, id)
		require.Equal(t, oldKID, before[id].PiiKeyID)
	}

	rotated, newOnly := e.rotate(t)
	svc := e.service(rotated)
	n, err := svc.Rekey(t.Context(), 2) // batches smaller than the work
	require.NoError(t, err)
	require.Equal(t, len(ids), n, "every customer with sealed data, and only them")

	for _, id := range ids {
		c := e.reload(t, id)
		require.Equal(t, rotated.ActiveKeyID(), c.PiiKeyID, id)
		require.Equal(t, want[id], openAll(t, newOnly, c), "opens without the old key")
		require.Equal(t, before[id].PhoneIndex, c.PhoneIndex, "blind indexes do not change")
		require.Equal(t, before[id].EmailIndex, c.EmailIndex)
	}
	require.Empty(t, e.reload(t, nothing.ID).PiiKeyID, "nothing sealed, nothing to rekey")

	// Done: running again finds nothing.
	n, err = svc.Rekey(t.Context(), 2)
	require.NoError(t, err)
	require.Zero(t, n)

	// The service under the new key reads and finds them as before.
	found, err := svc.Lookup(as(t, e.cashier), customers.LookupKey{Phone: ptr("138 0000 0003")})
	require.NoError(t, err)
	require.NotNil(t, found)
	require.Equal(t, ids[3], found.ID)
	view, err := e.service(newOnly).ContactView(as(t, e.owner), found)
	require.NoError(t, err)
	require.Equal(t, want[ids[3]].email, *view.Email)

	// Merged and erased customers (whose data is gone) are no trouble.
	_, err = svc.Merge(as(t, e.owner), ids[0], ids[1])
	require.NoError(t, err)
	_, err = svc.Erase(as(t, e.owner), ids[2])
	require.NoError(t, err)
	n, err = svc.Rekey(t.Context(), 100)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestRekeyStopsAtAValueItCannotOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(t, as(t, e.cashier), customers.Profile{Name: ptr("Mei"), Phone: ptr(meiPhone)})
	// A service whose keyring lost the old key cannot reseal, and says so
	// rather than writing the customer off.
	_, newOnly := e.rotate(t)
	n, err := e.service(newOnly).Rekey(t.Context(), 10)
	require.Error(t, err)
	require.ErrorIs(t, err, pii.ErrUnknownKey)
	require.Zero(t, n)
	got := e.reload(t, c.ID)
	require.Equal(t, e.box.ActiveKeyID(), got.PiiKeyID)
	require.Equal(t, meiPhone, open(t, e.box, got.PhoneEnc, c.ID, "phone"))
}

// TestUpdateResealsLazily: editing a customer seals all their data under
// the active key, whatever the edit touches.
func TestUpdateResealsLazily(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.cashier)
	mk := func(name, phone, email string) *ent.Customer {
		return e.create(t, ctx, customers.Profile{Name: ptr(name), Phone: ptr(phone), Email: ptr(email), Address: ptr(name + "'s address")})
	}
	a := mk("A", "+8613800000001", "a@lotus.example")
	b := mk("B", "+8613800000002", "b@lotus.example")
	c := mk("C", "+8613800000003", "c@lotus.example")
	untouched := mk("D", "+8613800000004", "d@lotus.example")

	rotated, newOnly := e.rotate(t)
	svc := e.service(rotated)
	tests := []struct {
		name string
		id   pulid.ID
		p    customers.Profile
		want contact
	}{
		{"a name change", a.ID, customers.Profile{Name: ptr("A2")}, contact{"+8613800000001", "a@lotus.example", "A's address"}},
		{"a new phone", b.ID, customers.Profile{Phone: ptr("13900000002")}, contact{"+8613900000002", "b@lotus.example", "B's address"}},
		{"clearing the email", c.ID, customers.Profile{Email: ptr("")}, contact{"+8613800000003", "", "C's address"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.Update(ctx, tt.id, tt.p)
			require.NoError(t, err)
			got := e.reload(t, tt.id)
			require.Equal(t, rotated.ActiveKeyID(), got.PiiKeyID)
			require.Equal(t, tt.want, openAll(t, newOnly, got))
		})
	}
	require.Equal(t, e.box.ActiveKeyID(), e.reload(t, untouched.ID).PiiKeyID, "only edited customers are resealed")

	n, err := svc.Rekey(t.Context(), 10)
	require.NoError(t, err)
	require.Equal(t, 1, n, "only the customer nobody edited was left")
	require.Equal(t, contact{"+8613800000004", "d@lotus.example", "D's address"}, openAll(t, newOnly, e.reload(t, untouched.ID)))
}

// TestMergeResealsTheSurvivor: a merge under a new key leaves the survivor
// wholly on it, the duplicate's details included.
func TestMergeResealsTheSurvivor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.cashier)
	survivor := e.create(t, ctx, customers.Profile{Name: ptr("Mei"), Phone: ptr(meiPhone)})
	dup := e.create(t, ctx, customers.Profile{Name: ptr("Mei"), Email: ptr(meiEmail), Address: ptr("1 Nanjing Road")})

	rotated, newOnly := e.rotate(t)
	_, err := e.service(rotated).Merge(as(t, e.manager), survivor.ID, dup.ID)
	require.NoError(t, err)
	got := e.reload(t, survivor.ID)
	require.Equal(t, rotated.ActiveKeyID(), got.PiiKeyID)
	require.Equal(t, contact{meiPhone, meiEmail, "1 Nanjing Road"}, openAll(t, newOnly, got))
}

// A customer edited while rekey runs keeps the edit: rekey writes a
// customer back only if their sealed data is still what it read, and
// reads the edited customer again. Here the edit comes from a replica
// still sealing under the old key, between rekey's read and its write.
func TestRekeyKeepsAnEditMadeMeanwhile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(t, as(t, e.cashier), customers.Profile{
		Name: ptr("Mei"), Phone: ptr("+8613800000001"), Email: ptr("mei@lotus.example"), Address: ptr("1 Tea Road"),
	})
	rotated, newOnly := e.rotate(t)
	svc := e.service(rotated)

	var armed atomic.Bool
	e.client.Customer.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
		return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
			v, err := next.Query(ctx, q)
			if err == nil && armed.CompareAndSwap(true, false) {
				_, err = e.svc.Update(as(t, e.owner), c.ID, customers.Profile{Phone: ptr("+8613800000002"), Address: ptr("2 Tea Road")})
			}
			return v, err
		})
	}))
	armed.Store(true)
	n, err := svc.Rekey(t.Context(), 10)
	require.NoError(t, err)
	require.False(t, armed.Load(), "the edit ran during rekey")
	require.Equal(t, 1, n, "one customer resealed, once")

	got := e.reload(t, c.ID)
	require.Equal(t, rotated.ActiveKeyID(), got.PiiKeyID)
	require.Equal(t, contact{"+8613800000002", "mei@lotus.example", "2 Tea Road"}, openAll(t, newOnly, got),
		"the edit stands, sealed under the new key")
	found, err := svc.Lookup(as(t, e.cashier), customers.LookupKey{Phone: ptr("+8613800000002")})
	require.NoError(t, err)
	require.NotNil(t, found)
	require.Equal(t, c.ID, found.ID)
	view, err := e.service(newOnly).ContactView(as(t, e.owner), found)
	require.NoError(t, err)
	require.Equal(t, "+8613800000002", *view.Phone, "the phone shown is the one its index finds")
}
