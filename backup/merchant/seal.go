package merchant

import (
	"fmt"

	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/receiptdelivery"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/pii"
	"github.com/tillpos/till/receipts"
)

// Personal data is sealed with the deployment's PII keys and bound to its
// row; blind indexes are keyed by the deployment's index key. Neither
// opens or matches on another deployment, so an export carries the plain
// values (the file itself is encrypted) and an import seals them again
// under the target's active key and recomputes the indexes.

// sealedColumn is one column holding a sealed value.
type sealedColumn struct {
	column string
	// bind is what the value is sealed bound to, from its row's id.
	bind func(id pulid.ID) string
	// index is the column of the value's blind index, "" if none.
	index  string
	detail customers.Detail
}

// sealedTable lists a table's sealed columns and the column naming the
// key they are sealed with.
type sealedTable struct {
	keyID   string
	columns []sealedColumn
}

var sealedTables = map[string]sealedTable{
	customer.Table: {keyID: customer.FieldPiiKeyID, columns: []sealedColumn{
		{column: customer.FieldPhoneEnc, bind: customers.Phone.SealContext, index: customer.FieldPhoneIndex, detail: customers.Phone},
		{column: customer.FieldEmailEnc, bind: customers.Email.SealContext, index: customer.FieldEmailIndex, detail: customers.Email},
		{column: customer.FieldAddressEnc, bind: customers.Address.SealContext, detail: customers.Address},
	}},
	receiptdelivery.Table: {keyID: receiptdelivery.FieldPiiKeyID, columns: []sealedColumn{
		{column: receiptdelivery.FieldDestinationEnc, bind: receipts.SealContext},
	}},
}

// row is one row's values by column name.
type row struct {
	at     map[string]int
	values []any
}

func (r row) get(col string) any {
	if i, ok := r.at[col]; ok {
		return r.values[i]
	}
	return nil
}

func (r row) set(col string, v any) { r.values[r.at[col]] = v }
func (r row) id() pulid.ID          { s, _ := r.get("id").(string); return pulid.ID(s) }

// open replaces the row's sealed values with their plain text and clears
// what only this deployment's keys make sense of.
func (st sealedTable) open(box *pii.Box, r row) error {
	for _, c := range st.columns {
		sealed, ok := r.get(c.column).(string)
		if !ok {
			continue
		}
		plain, err := box.Open(sealed, c.bind(r.id()))
		if err != nil {
			return fmt.Errorf("opening %s of %s: %w", c.column, r.id(), err)
		}
		r.set(c.column, plain)
		if c.index != "" {
			r.set(c.index, nil)
		}
	}
	r.set(st.keyID, nil)
	return nil
}

// seal seals the row's plain values under box's active key and computes
// their blind indexes in merchantID.
func (st sealedTable) seal(box *pii.Box, merchantID pulid.ID, r row) {
	sealed := false
	for _, c := range st.columns {
		plain, ok := r.get(c.column).(string)
		if !ok {
			continue
		}
		r.set(c.column, box.Seal(plain, c.bind(r.id())))
		if c.index != "" {
			index, _ := c.detail.Index(box, merchantID, plain)
			r.set(c.index, index)
		}
		sealed = true
	}
	if sealed {
		r.set(st.keyID, box.ActiveKeyID())
	}
}
