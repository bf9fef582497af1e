package errs_test

import (
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/errs"
)

func TestConstructors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       *errs.Error
		wantCode  errs.Code
		wantField string
		wantMsg   string
		wantText  string // Error()
		wantRetry time.Duration
	}{
		{
			name:     "E is bare",
			err:      errs.E(errs.NotFound),
			wantCode: errs.NotFound,
		},
		{
			name:     "Newf formats",
			err:      errs.Newf(errs.Forbidden, "you cannot add a staff member with role %s", "OWNER"),
			wantCode: errs.Forbidden, wantMsg: "you cannot add a staff member with role OWNER",
			wantText: "you cannot add a staff member with role OWNER",
		},
		{
			name:     "Newf without args",
			err:      errs.Newf(errs.Conflict, "a merchant must keep at least one active owner"),
			wantCode: errs.Conflict, wantMsg: "a merchant must keep at least one active owner",
			wantText: "a merchant must keep at least one active owner",
		},
		{
			name:     "Invalid names the field",
			err:      errs.Invalid("timeZone", "must be an IANA time zone such as %s", "Asia/Shanghai"),
			wantCode: errs.BadUserInput, wantField: "timeZone",
			wantMsg:  "must be an IANA time zone such as Asia/Shanghai",
			wantText: "timeZone: must be an IANA time zone such as Asia/Shanghai",
		},
		{
			// Callers pass messages from elsewhere through "%s" so that a
			// '%' in them is not read as a verb.
			name:     "Invalid with a percent in a passed-through message",
			err:      errs.Invalid("password", "%s", "100% wrong"),
			wantCode: errs.BadUserInput, wantField: "password", wantMsg: "100% wrong",
			wantText: "password: 100% wrong",
		},
		{
			name:     "Limited carries RetryAfter",
			err:      errs.Limited(90 * time.Second),
			wantCode: errs.RateLimited, wantMsg: "too many requests, retry later",
			wantText: "too many requests, retry later", wantRetry: 90 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.wantCode, tt.err.Code)
			require.Equal(t, tt.wantField, tt.err.Field)
			require.Equal(t, tt.wantMsg, tt.err.Message)
			require.Equal(t, tt.wantText, tt.err.Error())
			require.Equal(t, tt.wantRetry, tt.err.RetryAfter)
		})
	}
}

func TestCodesAreStable(t *testing.T) {
	t.Parallel()
	// Clients switch on these strings (extensions.code); renaming one is a
	// breaking API change.
	want := map[errs.Code]string{
		errs.Unauthenticated:     "UNAUTHENTICATED",
		errs.Forbidden:           "FORBIDDEN",
		errs.NotFound:            "NOT_FOUND",
		errs.BadUserInput:        "BAD_USER_INPUT",
		errs.Conflict:            "CONFLICT",
		errs.IdempotencyConflict: "IDEMPOTENCY_CONFLICT",
		errs.RateLimited:         "RATE_LIMITED",
		errs.RiskDeclined:        "RISK_DECLINED",
		errs.Internal:            "INTERNAL",
		errs.QueryTooComplex:     "QUERY_TOO_COMPLEX",
	}
	require.Len(t, want, 10, "every code is distinct")
	for code, s := range want {
		require.Equal(t, s, string(code))
	}
}

func TestErrorWithoutFieldIsJustTheMessage(t *testing.T) {
	t.Parallel()
	e := &errs.Error{Code: errs.BadUserInput, Message: "name and timeZone are required"}
	require.Equal(t, "name and timeZone are required", e.Error())
}

func TestIs(t *testing.T) {
	t.Parallel()
	notFound := errs.Newf(errs.NotFound, "staff member not found")
	wrapped := fmt.Errorf("loading staff: %w", notFound)
	twice := fmt.Errorf("resolver: %w", wrapped)
	invalid := errs.Invalid("email", "must be a valid email address")
	joined := errors.Join(io.EOF, invalid)

	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{name: "same code", err: notFound, target: errs.E(errs.NotFound), want: true},
		{name: "wrapped", err: wrapped, target: errs.E(errs.NotFound), want: true},
		{name: "wrapped twice", err: twice, target: errs.E(errs.NotFound), want: true},
		{name: "in a join", err: joined, target: errs.E(errs.BadUserInput), want: true},
		{name: "field is not compared", err: invalid, target: errs.E(errs.BadUserInput), want: true},
		{name: "other code", err: notFound, target: errs.E(errs.Forbidden)},
		{name: "wrapped, other code", err: wrapped, target: errs.E(errs.Conflict)},
		// A target with a message is a specific error, not a code: only
		// the very same value matches it.
		{name: "target with a message", err: notFound, target: errs.Newf(errs.NotFound, "staff member not found")},
		{name: "itself", err: notFound, target: notFound, want: true},
		{name: "not ours", err: io.EOF, target: errs.E(errs.Internal)},
		{name: "ours is not a plain error", err: notFound, target: io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, errors.Is(tt.err, tt.target))
		})
	}
}

func TestAsAndCodeOf(t *testing.T) {
	t.Parallel()
	limited := errs.Limited(time.Minute)
	conflict := &errs.Error{Code: errs.Conflict, Field: "email", Message: "email is already registered"}

	tests := []struct {
		name     string
		err      error
		want     *errs.Error // nil: As finds none
		wantCode errs.Code
	}{
		{name: "direct", err: conflict, want: conflict, wantCode: errs.Conflict},
		{name: "wrapped", err: fmt.Errorf("signing up: %w", conflict), want: conflict, wantCode: errs.Conflict},
		{name: "wrapped with %v loses it", err: fmt.Errorf("signing up: %v", conflict), wantCode: errs.Internal},
		{name: "first of a chain wins", err: fmt.Errorf("outer: %w", fmt.Errorf("%w", limited)), want: limited, wantCode: errs.RateLimited},
		{name: "joined", err: errors.Join(io.ErrUnexpectedEOF, limited), want: limited, wantCode: errs.RateLimited},
		{name: "foreign error is internal", err: io.EOF, wantCode: errs.Internal},
		{name: "foreign error wrapped is internal", err: fmt.Errorf("x: %w", io.EOF), wantCode: errs.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.wantCode, errs.CodeOf(tt.err))
			got, ok := errs.As(tt.err)
			if tt.want == nil {
				require.False(t, ok)
				require.Nil(t, got)
				return
			}
			require.True(t, ok)
			require.Same(t, tt.want, got, "As returns the error itself, not a copy")
			var std *errs.Error
			require.ErrorAs(t, tt.err, &std)
			require.Same(t, tt.want, std)
		})
	}
}

func TestAsKeepsFieldAndRetryAfter(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("creating staff: %w", errs.Invalid("storeIds", "unknown store"))
	e, ok := errs.As(err)
	require.True(t, ok)
	require.Equal(t, "storeIds", e.Field)
	require.Equal(t, "unknown store", e.Message)
	require.Equal(t, "creating staff: storeIds: unknown store", err.Error())

	e, ok = errs.As(fmt.Errorf("login: %w", errs.Limited(1500*time.Millisecond)))
	require.True(t, ok)
	require.Equal(t, 1500*time.Millisecond, e.RetryAfter)
}
