package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/privacy"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/reqinfo"
)

// ErrorPresenter turns every error a resolver returns into a GraphQL error
// with an extensions.code from the errs set. Errors that are not Till's
// own are logged and reported as INTERNAL, without their message.
func ErrorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		if e, ok := errs.As(err); ok {
			return withCode(gerr, e)
		}
		var notFound *ent.NotFoundError
		var validation *ent.ValidationError
		switch {
		// Another merchant's object is denied by privacy rules; say it is
		// not there rather than that it exists.
		case errors.As(err, &notFound), errors.Is(err, privacy.Deny):
			return withCode(gerr, errs.Newf(errs.NotFound, "not found"))
		case errors.As(err, &validation):
			return withCode(gerr, errs.Invalid(validation.Name, "is invalid"))
		case ent.IsConstraintError(err):
			return withCode(gerr, errs.Newf(errs.Conflict, "conflicts with existing data"))
		}
		if _, ok := gerr.Extensions["code"]; ok {
			// Set by gqlgen (parse, validation) or entgql (node not found).
			return gerr
		}
		switch fc := graphql.GetFieldContext(ctx); {
		case fc == nil:
			// Request-level failures gqlgen makes itself (operation name,
			// variables) are about the request; anything wrapped is not.
			if gerr.Unwrap() == nil {
				return withCode(gerr, &errs.Error{Code: errs.BadUserInput, Message: gerr.Message})
			}
		case fc.Field.Field != nil && (fc.Field.Name == "__schema" || fc.Field.Name == "__type"):
			return withCode(gerr, errs.Newf(errs.Forbidden, "introspection is disabled"))
		case isArgumentPath(gerr.Path, fc.Path()):
			// A value that failed to coerce: an ID, a cursor, a time.
			return withCode(gerr, &errs.Error{Code: errs.BadUserInput, Message: gerr.Message})
		}
		log.ErrorContext(ctx, "internal error", "err", err, "path", gerr.Path.String(), "request_id", reqinfo.FromContext(ctx).RequestID)
		return withCode(gerr, errs.Newf(errs.Internal, "internal error"))
	}
}

// isArgumentPath reports whether path runs past field into one of its
// arguments (a name), rather than into one of its list results (an index).
func isArgumentPath(path, field ast.Path) bool {
	if len(path) <= len(field) {
		return false
	}
	_, named := path[len(field)].(ast.PathName)
	return named
}

func withCode(gerr *gqlerror.Error, e *errs.Error) *gqlerror.Error {
	gerr.Message = e.Message
	if gerr.Extensions == nil {
		gerr.Extensions = map[string]any{}
	}
	gerr.Extensions["code"] = string(e.Code)
	if e.Field != "" {
		gerr.Extensions["field"] = e.Field
	}
	if e.RetryAfter > 0 {
		gerr.Extensions["retryAfterSeconds"] = int(math.Ceil(e.RetryAfter.Seconds()))
	}
	if e.Rule != "" {
		gerr.Extensions["rule"] = e.Rule
	}
	return gerr
}

// RecoverFunc turns a panic in a resolver into INTERNAL, logging the stack.
func RecoverFunc(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, v any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(v), "stack", string(debug.Stack()),
			"request_id", reqinfo.FromContext(ctx).RequestID)
		return errs.Newf(errs.Internal, "internal error")
	}
}
