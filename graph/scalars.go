package graph

import (
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// MarshalTime writes the Time scalar in RFC 3339 UTC, whatever zone the
// database driver or the host put the value in.
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.MarshalTime(t.UTC())
}

// UnmarshalTime reads the Time scalar (RFC 3339, any offset) as UTC.
func UnmarshalTime(v any) (time.Time, error) {
	t, err := graphql.UnmarshalTime(v)
	return t.UTC(), err
}
