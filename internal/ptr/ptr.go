// Package ptr reads optional values: GraphQL and domain inputs carry
// optional fields as pointers.
package ptr

// Value is *p, or the zero value when p is nil.
func Value[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// To is a pointer to v.
func To[T any](v T) *T { return &v }

// NonZero is a pointer to v, or nil for the zero value (an id not set).
func NonZero[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}
