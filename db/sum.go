package db

import "database/sql"

// Sum reads a SUM aggregate scanned into rows, which is NULL over no rows.
func Sum(rows []struct{ Sum sql.NullInt64 }) int64 {
	if len(rows) == 0 {
		return 0
	}
	return rows[0].Sum.Int64
}
