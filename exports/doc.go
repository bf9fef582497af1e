// Package exports writes a merchant's sales (transactions, or e-receipt
// lines) to CSV or XLSX, streamed in keyset-paginated batches so that a
// year of sales never sits in memory.
//
// The phone asks for an export with exportSales; a background runner on
// any replica writes the file into the database in chunks (ExportChunk),
// and a signed, expiring link lets any replica serve it without an access
// token. `till export` writes the same file directly on the host.
package exports
