// Package reqinfo carries facts about the HTTP request (client IP, request
// id, user agent) to the code that rate-limits and audits it.
package reqinfo

import "context"

// Info describes the request being served.
type Info struct {
	IP        string
	RequestID string
	UserAgent string
}

type ctxKey struct{}

// NewContext returns a copy of ctx carrying info.
func NewContext(ctx context.Context, info Info) context.Context {
	return context.WithValue(ctx, ctxKey{}, info)
}

// FromContext returns the request info in ctx; the zero Info outside a
// request (command-line jobs).
func FromContext(ctx context.Context) Info {
	info, _ := ctx.Value(ctxKey{}).(Info)
	return info
}
