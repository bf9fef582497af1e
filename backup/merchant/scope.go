package merchant

import (
	"fmt"
	"slices"

	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"

	entmerchant "github.com/tillpos/till/ent/merchant"
)

// ownerColumn is the column naming a row's merchant.
const ownerColumn = "merchant_id"

// global are the deployment's own tables: no merchant owns their rows, so
// an export leaves them out. A new table is either owned (it has a
// merchant_id column or references an owned table) or must be added here;
// classify refuses anything else.
var global = map[string]bool{
	"operators":              true,
	"releases":               true,
	"platform_audit_entries": true,
}

// deploymentBound are merchant tables an export leaves out because their
// rows only mean something on the deployment that wrote them.
var deploymentBound = map[string]bool{
	// Short-lived replay records of credentials just issued to a device;
	// a device that moves keeps its credential (the device row keeps its
	// digest), and retries belong to the old deployment.
	"credential_grants": true,
	// Unused pairing codes were given out for the old deployment's URL;
	// a device still to pair gets a new code from the new one.
	"pairing_codes": true,
	// The delivery queue: the source finishes its pending pushes, receipts
	// and campaign messages, so the target must not send them again.
	"outbox_events": true,
}

// scope is how one table takes part in an export.
type scope struct {
	// rows picks the merchant's rows.
	rows func(merchantID string) *entsql.Predicate
	// clear are foreign-key columns into global tables, emptied on export:
	// the operator a ticket was assigned to does not exist elsewhere.
	clear []string
	// via is, for a table without merchant_id, the foreign key through
	// which its rows belong to the merchant: column and owned table.
	via *schema.ForeignKey
}

// classify decides, for every table, whether and how its rows belong to
// one merchant. It fails on a table that is neither owned nor declared
// global, and on a required reference from an owned table into a global
// one, which an import elsewhere could not satisfy.
func classify(tables []*schema.Table) (map[string]*scope, error) {
	owned := func(t *schema.Table) bool {
		return slices.ContainsFunc(t.Columns, func(c *schema.Column) bool { return c.Name == ownerColumn })
	}
	out := make(map[string]*scope, len(tables))
	for _, t := range tables {
		if global[t.Name] || deploymentBound[t.Name] {
			continue
		}
		s := &scope{}
		switch {
		case t.Name == entmerchant.Table:
			s.rows = func(id string) *entsql.Predicate { return entsql.EQ(entmerchant.FieldID, id) }
		case owned(t):
			s.rows = func(id string) *entsql.Predicate { return entsql.EQ(ownerColumn, id) }
		default:
			// A join table (staff_stores): its rows belong through a
			// reference to an owned table.
			for _, fk := range t.ForeignKeys {
				if owned(fk.RefTable) && len(fk.Columns) == 1 && len(fk.RefColumns) == 1 {
					s.via = fk
					break
				}
			}
			if s.via == nil {
				return nil, fmt.Errorf("table %s has no merchant_id and no reference to a merchant's table: make it merchant-owned or declare it global", t.Name)
			}
			fk := s.via
			s.rows = func(id string) *entsql.Predicate {
				return entsql.In(fk.Columns[0].Name,
					entsql.Select(fk.RefColumns[0].Name).From(entsql.Table(fk.RefTable.Name)).Where(entsql.EQ(ownerColumn, id)))
			}
		}
		for _, fk := range t.ForeignKeys {
			if !global[fk.RefTable.Name] {
				continue
			}
			for _, c := range fk.Columns {
				if !c.Nullable {
					return nil, fmt.Errorf("table %s: column %s must reference the deployment's table %s, which a merchant export leaves out", t.Name, c.Name, fk.RefTable.Name)
				}
				s.clear = append(s.clear, c.Name)
			}
		}
		out[t.Name] = s
	}
	return out, nil
}
