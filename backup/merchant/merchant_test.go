package merchant_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/backup"
	"github.com/tillpos/till/backup/merchant"
	"github.com/tillpos/till/config"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/keyring"
	"github.com/tillpos/till/pii"
)

// deployment is a running Till with its own database and PII keys.
type deployment struct {
	*tilltest.Env
	box *pii.Box
}

func newDeployment(t *testing.T) deployment {
	t.Helper()
	var keysFile string
	env := tilltest.New(t, func(c *config.Config) { keysFile = c.KeysFile })
	keys, err := keyring.Load(keysFile)
	require.NoError(t, err)
	box, err := pii.New(keys.PII, keys.BlindIndex)
	require.NoError(t, err)
	return deployment{Env: env, box: box}
}

// shop is a merchant with data made through the API.
type shop struct {
	owner, manager     *tilltest.Account
	name, customerName string
	phone, e164, email string
	customerID, saleID string
	total              int64
}

func newShop(t *testing.T, d deployment, name, customerName, phone, e164 string) shop {
	t.Helper()
	s := shop{name: name, customerName: customerName, phone: phone, e164: e164, email: strings.ToLower(strings.Fields(customerName)[0]) + "@" + strings.ToLower(strings.Fields(name)[0]) + ".example"}
	s.owner = d.SignUp(t, name)
	// A manager working at the first store: a staff_stores row.
	s.manager = d.AddStaff(t, s.owner, "MANAGER")
	var c struct {
		CreateCustomer struct{ Customer struct{ ID string } }
	}
	d.Exec(t, s.owner.Token, `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`,
		map[string]any{"i": map[string]any{"name": customerName, "phone": phone, "email": s.email, "address": "1 " + name + " Road"}}).Decode(t, &c)
	s.customerID = c.CreateCustomer.Customer.ID
	for _, price := range []int64{1200, 3450} {
		var out struct {
			RecordSale struct{ Sale struct{ ID string } }
		}
		d.Exec(t, s.manager.Token, `mutation($i: RecordSaleInput!) { recordSale(input: $i) { sale { id } } }`, map[string]any{"i": map[string]any{
			"idempotencyKey": string(pulid.New("test")), "storeId": s.owner.StoreID, "customerId": s.customerID,
			"lines":   []any{map[string]any{"name": name + " Tea", "quantity": 1, "unitPrice": price}},
			"tenders": []any{map[string]any{"type": "CASH", "amount": price}},
		}}).Decode(t, &out)
		s.saleID = out.RecordSale.Sale.ID
		s.total += price
	}
	d.Exec(t, s.manager.Token, `mutation($sale: ID!) { sendReceipt(saleId: $sale, channel: EMAIL) { id } }`,
		map[string]any{"sale": s.saleID}).Decode(t, &struct{}{})
	return s
}

func ageKeys(t *testing.T) backup.Keys {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "identity.txt")
	require.NoError(t, os.WriteFile(path, []byte(id.String()+"\n"), 0o600))
	k, err := backup.NewKeys(config.BackupKeys{Recipients: []string{id.Recipient().String()}, IdentityFile: path})
	require.NoError(t, err)
	return k
}

// A merchant moves to another deployment with other PII keys: its owner
// logs in there and finds the same customers (by phone too), sales and
// totals; the file holds nothing of the other merchant; importing twice,
// a tampered file, and mixing up full backups and merchant files are
// refused.
func TestMoveMerchant(t *testing.T) {
	src := newDeployment(t)
	a := newShop(t, src, "Lotus Tea", "Wang Fang", "+86 138 1234 5678", "+8613812345678")
	b := newShop(t, src, "Bamboo Noodles", "Zhou Jielun", "+86 139 8765 4321", "+8613987654321")
	keys := ageKeys(t)

	var file bytes.Buffer
	m, err := merchant.Export(t.Context(), src.DB, src.box, pulid.ID(a.owner.MerchantID), &file, keys, backup.Options{})
	require.NoError(t, err)
	require.Equal(t, a.owner.MerchantID, m.MerchantID)

	plain, err := backup.Decrypt(bytes.NewReader(file.Bytes()), keys)
	require.NoError(t, err)
	stream, err := io.ReadAll(plain)
	require.NoError(t, err)
	for _, s := range []string{b.owner.MerchantID, b.name, b.customerName, b.customerID, b.saleID, b.e164, b.email, b.manager.ID, b.owner.Email} {
		require.NotContains(t, string(stream), s, "merchant B's data is in A's export")
	}
	for _, s := range []string{a.owner.MerchantID, a.customerName, a.saleID, a.manager.ID, a.e164, a.email} {
		require.Contains(t, string(stream), s, "the export lacks A's data (personal data travels opened)")
	}
	for _, table := range []string{"operators", "releases", "platform_audit_entries", "credential_grants", "pairing_codes", "outbox_events"} {
		require.NotContains(t, string(stream), `{"table":"`+table+`"`)
	}

	dst := newDeployment(t)
	require.NotEqual(t, src.box.ActiveKeyID()+src.box.Index("x", "phone", "1"), dst.box.ActiveKeyID()+dst.box.Index("x", "phone", "1"))
	// Another merchant already lives there.
	other := newShop(t, dst, "Plum Bakery", "Li Na", "+86 137 1111 2222", "+8613711112222")
	got, err := merchant.Import(t.Context(), dst.DB, dst.box, bytes.NewReader(file.Bytes()), keys)
	require.NoError(t, err)
	require.Equal(t, m.Tables, got.Tables)

	owner := dst.LogIn(t, a.owner.Email, a.owner.Password)
	require.Equal(t, a.owner.MerchantID, owner.MerchantID)
	manager := dst.LogIn(t, a.manager.Email, a.manager.Password)
	var found struct {
		LookupCustomer *struct{ ID, Name, Phone, Email string }
	}
	dst.Exec(t, owner.Token, `query($i: LookupCustomerInput!) { lookupCustomer(input: $i) { id name phone email } }`,
		map[string]any{"i": map[string]any{"phone": a.phone}}).Decode(t, &found)
	require.NotNil(t, found.LookupCustomer, "phone lookup finds the customer: the blind index was recomputed")
	require.Equal(t, a.customerID, found.LookupCustomer.ID)
	require.Equal(t, a.e164, found.LookupCustomer.Phone)
	require.Equal(t, a.email, found.LookupCustomer.Email)
	var sales struct {
		Sales struct {
			TotalCount int
			Edges      []struct{ Node struct{ Total int64 } }
		}
	}
	dst.Exec(t, manager.Token, `{ sales(first: 100) { totalCount edges { node { total } } } }`, nil).Decode(t, &sales)
	require.Equal(t, 2, sales.Sales.TotalCount)
	var total int64
	for _, e := range sales.Sales.Edges {
		total += e.Node.Total
	}
	require.Equal(t, a.total, total)
	// The merchant already there is untouched and sees none of A.
	dst.Exec(t, other.owner.Token, `{ sales(first: 100) { totalCount edges { node { total } } } }`, nil).Decode(t, &sales)
	require.Equal(t, 2, sales.Sales.TotalCount)
	dst.Exec(t, other.owner.Token, `query($i: LookupCustomerInput!) { lookupCustomer(input: $i) { id name phone email } }`,
		map[string]any{"i": map[string]any{"phone": a.phone}}).Decode(t, &found)
	require.Nil(t, found.LookupCustomer)

	_, err = merchant.Import(t.Context(), dst.DB, dst.box, bytes.NewReader(file.Bytes()), keys)
	require.ErrorIs(t, err, merchant.ErrExists, "a second import is refused")

	t.Run("tampered", func(t *testing.T) {
		target := newDeployment(t)
		bad := bytes.Clone(file.Bytes())
		bad[len(bad)/2] ^= 1
		_, err := merchant.Import(t.Context(), target.DB, target.box, bytes.NewReader(bad), keys)
		require.ErrorIs(t, err, backup.ErrDamaged)
		var n int
		require.NoError(t, target.DB.SQL.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM staffs").Scan(&n))
		require.Zero(t, n, "nothing of a refused import is written")
	})

	t.Run("full backups and merchant files are not mixed up", func(t *testing.T) {
		empty := tilltest.OpenDB(t)
		_, err := backup.Restore(t.Context(), empty, bytes.NewReader(file.Bytes()), keys, backup.RestoreOptions{})
		require.ErrorIs(t, err, backup.ErrMerchantFile)

		var full bytes.Buffer
		_, err = backup.Create(t.Context(), src.DB, &full, keys, backup.Options{})
		require.NoError(t, err)
		target := newDeployment(t)
		_, err = merchant.Import(t.Context(), target.DB, target.box, &full, keys)
		require.ErrorIs(t, err, merchant.ErrNotMerchantFile)
	})

	t.Run("unknown merchant", func(t *testing.T) {
		_, err := merchant.Export(t.Context(), src.DB, src.box, pulid.New("MC"), io.Discard, keys, backup.Options{})
		require.ErrorIs(t, err, merchant.ErrNoMerchant)
	})
}
