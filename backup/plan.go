package backup

import (
	"fmt"
	"slices"

	"entgo.io/ent/dialect/sql/schema"
	"entgo.io/ent/schema/field"

	"github.com/tillpos/till/ent/migrate"
)

// table is one table as a backup reads and writes it.
type table struct {
	*schema.Table
	columns []column
	// key indexes columns by the primary key, the order rows are read in.
	key []int
	// deferred are foreign-key columns pointing at this table or one
	// loaded later (a cycle): restore inserts them NULL and sets them
	// once every row is in.
	deferred []int
	// autoIncrement is the integer key a database sequence feeds.
	autoIncrement bool
	// referenced is whether a foreign key points at this table.
	referenced bool
}

type column struct {
	Name string `json:"name"`
	Kind kind   `json:"type"`
	// Nullable only matters to planning; a backup's header leaves it out.
	Nullable bool `json:"-"`
}

// kind is how a column's values are read, encoded and written back: the
// same on SQLite and PostgreSQL, so a backup moves between them.
type kind string

const (
	kindBool   kind = "bool"
	kindInt    kind = "int"
	kindString kind = "string"
	kindBytes  kind = "bytes"
	kindTime   kind = "time"
	kindJSON   kind = "json"
)

func kindOf(t field.Type) (kind, error) {
	switch t {
	case field.TypeBool:
		return kindBool, nil
	case field.TypeInt, field.TypeInt8, field.TypeInt16, field.TypeInt32, field.TypeInt64,
		field.TypeUint, field.TypeUint8, field.TypeUint16, field.TypeUint32, field.TypeUint64:
		return kindInt, nil
	case field.TypeString, field.TypeEnum, field.TypeUUID:
		return kindString, nil
	case field.TypeBytes:
		return kindBytes, nil
	case field.TypeTime:
		return kindTime, nil
	case field.TypeJSON:
		return kindJSON, nil
	}
	return "", fmt.Errorf("column type %s has no backup encoding", t)
}

// plan orders the schema's tables so that every table comes after the
// tables it references, and marks the references that cannot be honoured
// by order alone (self references and cycles) as deferred.
func plan(tables []*schema.Table) ([]*table, error) {
	byName := make(map[string]*schema.Table, len(tables))
	for _, t := range tables {
		byName[t.Name] = t
	}
	// Kahn's algorithm in name order, so the plan (and so a backup's
	// layout) is the same on every run.
	names := make([]string, 0, len(tables))
	for _, t := range tables {
		names = append(names, t.Name)
	}
	slices.Sort(names)
	placed := make(map[string]int, len(tables))
	var ordered []*schema.Table
	for len(ordered) < len(tables) {
		progressed := false
		for _, n := range names {
			if _, ok := placed[n]; ok {
				continue
			}
			ready := true
			for _, fk := range byName[n].ForeignKeys {
				if _, ok := placed[fk.RefTable.Name]; !ok && fk.RefTable.Name != n {
					ready = false
					break
				}
			}
			if ready {
				placed[n] = len(ordered)
				ordered = append(ordered, byName[n])
				progressed = true
			}
		}
		if !progressed {
			// A cycle between tables: place the first remaining table; its
			// references into the cycle are deferred below.
			for _, n := range names {
				if _, ok := placed[n]; !ok {
					placed[n] = len(ordered)
					ordered = append(ordered, byName[n])
					break
				}
			}
		}
	}
	referenced := make(map[string]bool, len(tables))
	for _, t := range tables {
		for _, fk := range t.ForeignKeys {
			referenced[fk.RefTable.Name] = true
		}
	}
	out := make([]*table, 0, len(ordered))
	for _, st := range ordered {
		t, err := newTable(st, placed)
		if err != nil {
			return nil, err
		}
		t.referenced = referenced[st.Name]
		out = append(out, t)
	}
	return out, nil
}

func newTable(st *schema.Table, placed map[string]int) (*table, error) {
	t := &table{Table: st}
	index := make(map[string]int, len(st.Columns))
	for i, c := range st.Columns {
		k, err := kindOf(c.Type)
		if err != nil {
			return nil, fmt.Errorf("table %s column %s: %w", st.Name, c.Name, err)
		}
		t.columns = append(t.columns, column{Name: c.Name, Kind: k, Nullable: c.Nullable})
		index[c.Name] = i
	}
	for _, c := range st.PrimaryKey {
		t.key = append(t.key, index[c.Name])
	}
	t.autoIncrement = len(st.PrimaryKey) == 1 && st.PrimaryKey[0].Increment
	for _, fk := range st.ForeignKeys {
		if placed[fk.RefTable.Name] < placed[st.Name] {
			continue
		}
		for _, c := range fk.Columns {
			i := index[c.Name]
			if !t.columns[i].Nullable {
				return nil, fmt.Errorf("table %s: column %s references %s, which loads later, and cannot be NULL meanwhile", st.Name, c.Name, fk.RefTable.Name)
			}
			t.deferred = append(t.deferred, i)
		}
	}
	return t, nil
}

// schemaPlan is the plan for the schema this binary knows.
func schemaPlan() ([]*table, error) { return plan(migrate.Tables) }
