// Package errs defines Till's error codes: the small fixed set the API
// reports as extensions.code, and the typed errors domain code returns.
//
// Domain packages return *Error values (or wrap them); the GraphQL error
// presenter in graph/ turns them into responses. Anything that is not an
// *Error is an internal failure: it is logged and reported as INTERNAL
// without its message.
package errs

import (
	"errors"
	"fmt"
	"time"
)

// Code is a stable, machine-readable error code.
type Code string

// The codes the API reports (ARCHITECTURE.md §4).
const (
	Unauthenticated     Code = "UNAUTHENTICATED"
	Forbidden           Code = "FORBIDDEN"
	NotFound            Code = "NOT_FOUND"
	BadUserInput        Code = "BAD_USER_INPUT"
	Conflict            Code = "CONFLICT"
	IdempotencyConflict Code = "IDEMPOTENCY_CONFLICT"
	RateLimited         Code = "RATE_LIMITED"
	RiskDeclined        Code = "RISK_DECLINED"
	Internal            Code = "INTERNAL"
	QueryTooComplex     Code = "QUERY_TOO_COMPLEX"
)

// Error is an error with a code and a message safe to show a client.
type Error struct {
	Code    Code
	Message string
	// Field names the input field at fault, for BAD_USER_INPUT.
	Field string
	// RetryAfter says when to try again, for RATE_LIMITED.
	RetryAfter time.Duration
	// Rule names the risk rule that declined, for RISK_DECLINED.
	Rule string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, errs.E(errs.NotFound)) style checks work.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == ""
}

// E returns a bare error with code c, for comparisons with errors.Is.
func E(c Code) *Error { return &Error{Code: c} }

// Newf returns an error with code c and a formatted client-safe message.
func Newf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports bad input in field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: BadUserInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Limited reports a refused request that may be retried after d.
func Limited(d time.Duration) *Error {
	return &Error{Code: RateLimited, Message: "too many requests, retry later", RetryAfter: d}
}

// Declined reports a sale refused by the risk rule named rule.
func Declined(rule, format string, args ...any) *Error {
	return &Error{Code: RiskDeclined, Rule: rule, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
