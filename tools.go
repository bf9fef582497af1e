//go:build tools

// This file pins the code generators' versions in go.mod, so
// `go generate` runs the same ones everywhere.
package till

import (
	_ "entgo.io/ent/cmd/ent"
	_ "github.com/99designs/gqlgen"
)
