// Package schema holds Till's hand-written ent schemas. Everything else
// under ent/ is generated from them by `go generate ./...`.
package schema
