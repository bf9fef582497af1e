package merchant

import (
	"testing"

	"entgo.io/ent/dialect/sql/schema"
	"entgo.io/ent/schema/field"
	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/ent/migrate"
)

// Every table is the merchant's, deliberately global, or deliberately
// left out: a new table that is none of these fails here (and Export
// refuses to run) until someone decides.
func TestEveryTableIsClassified(t *testing.T) {
	scopes, err := classify(migrate.Tables)
	require.NoError(t, err)
	for _, tb := range migrate.Tables {
		_, owned := scopes[tb.Name]
		require.True(t, owned || global[tb.Name] || deploymentBound[tb.Name], "table %s", tb.Name)
		require.False(t, owned && (global[tb.Name] || deploymentBound[tb.Name]), "table %s", tb.Name)
	}
	require.NotNil(t, scopes["staff_stores"].via, "a join table belongs through its reference")
	require.Equal(t, []string{"assignee_id"}, scopes["tickets"].clear, "a ticket's operator stays behind")
	for name := range sealedTables {
		require.Contains(t, scopes, name)
	}
}

func TestClassifyRefusesUndecidedTables(t *testing.T) {
	merchants := &schema.Table{Name: "merchants", Columns: []*schema.Column{{Name: "id", Type: field.TypeString}}}
	loose := &schema.Table{Name: "gadgets", Columns: []*schema.Column{{Name: "id", Type: field.TypeString}}}
	_, err := classify([]*schema.Table{merchants, loose})
	require.ErrorContains(t, err, "table gadgets has no merchant_id")

	operators := &schema.Table{Name: "operators", Columns: []*schema.Column{{Name: "id", Type: field.TypeString}}}
	owner := &schema.Column{Name: "operator_id", Type: field.TypeString}
	bound := &schema.Table{Name: "gadgets", Columns: []*schema.Column{{Name: "id", Type: field.TypeString}, {Name: "merchant_id", Type: field.TypeString}, owner}}
	bound.ForeignKeys = []*schema.ForeignKey{{Columns: []*schema.Column{owner}, RefTable: operators, RefColumns: operators.Columns}}
	_, err = classify([]*schema.Table{merchants, operators, bound})
	require.ErrorContains(t, err, "must reference the deployment's table operators")
}
