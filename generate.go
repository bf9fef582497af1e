// Package till is the root of the Till module. It holds no code of its own:
// only the single go:generate chain, so `go generate ./...` regenerates ent
// (which writes schema/ent.graphql) before gqlgen reads the schema.
package till

//go:generate go run -mod=readonly ./ent/entc.go
//go:generate go run -mod=readonly github.com/99designs/gqlgen generate
