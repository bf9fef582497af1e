package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/cors"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/ratelimit"
	"github.com/tillpos/till/reqinfo"
)

// validRequestID accepts a caller's X-Request-Id only when it is short and
// plain, so it is safe to log and echo.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// withRequestInfo gives each request an id (the caller's X-Request-Id or a
// new one), finds the client IP and puts both in the context.
func (s *Server) withRequestInfo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID.MatchString(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		info := reqinfo.Info{RequestID: id, IP: clientIP(r, s.cfg.TrustedProxies), UserAgent: r.UserAgent()}
		next.ServeHTTP(w, r.WithContext(reqinfo.NewContext(r.Context(), info)))
	})
}

// clientIP is the peer address, or, when the peer is a trusted proxy, the
// right-most X-Forwarded-For address that is not itself a trusted proxy
// (left-most entries are whatever the client chose to send).
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	ip := peer.Addr().Unmap()
	isTrusted := func(a netip.Addr) bool {
		return slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(a) })
	}
	if !isTrusted(ip) {
		return ip.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if hop = hop.Unmap(); !isTrusted(hop) {
			return hop.String()
		}
	}
	return ip.String()
}

// logRequests writes one structured log line per request.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		info := reqinfo.FromContext(r.Context())
		s.log.InfoContext(r.Context(), "request",
			"method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration_ms", time.Since(start).Milliseconds(), "bytes", rec.bytes,
			"request_id", info.RequestID, "ip", info.IP)
	})
}

// recoverPanics turns a panic outside the GraphQL executor (which has its
// own recover) into a 500 without internals.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()),
					"request_id", reqinfo.FromContext(r.Context()).RequestID)
				writeGraphQLError(w, http.StatusInternalServerError, errs.Newf(errs.Internal, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// authenticate puts the viewer of a valid bearer token in the context.
// A request with a bad token goes on anonymous, carrying the reason: public
// operations (logIn, refreshSession) still work for an app holding a stale
// token, and every other field answers UNAUTHENTICATED with that reason.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, err := s.viewerContext(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			s.log.ErrorContext(r.Context(), "authenticating", "err", err, "request_id", reqinfo.FromContext(r.Context()).RequestID)
			writeGraphQLError(w, http.StatusServiceUnavailable, errs.Newf(errs.Internal, "internal error"))
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// viewerContext authenticates an Authorization value ("Bearer <token>").
// It returns an error only when authentication could not be attempted
// (Redis or the database is down).
func (s *Server) viewerContext(ctx context.Context, authorization string) (context.Context, error) {
	if authorization == "" {
		return ctx, nil
	}
	scheme, tok, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return withAuthError(ctx, errs.Newf(errs.Unauthenticated, `Authorization must be "Bearer <access token>"`)), nil
	}
	v, err := s.Auth.Authenticate(ctx, tok)
	if e, ok := errs.As(err); ok && e.Code == errs.Unauthenticated {
		return withAuthError(ctx, e), nil
	}
	if err != nil {
		return ctx, err
	}
	return viewer.NewContext(ctx, v), nil
}

type authErrorKey struct{}

func withAuthError(ctx context.Context, e *errs.Error) context.Context {
	return context.WithValue(ctx, authErrorKey{}, e)
}

// authError is why the request's token was refused, or a generic
// UNAUTHENTICATED when it had none.
func authError(ctx context.Context) *errs.Error {
	if e, ok := ctx.Value(authErrorKey{}).(*errs.Error); ok {
		return e
	}
	return errs.Newf(errs.Unauthenticated, "authentication required")
}

// limitRequests applies the API rate limit: per session when
// authenticated, per client IP otherwise.
func (s *Server) limitRequests(next http.Handler) http.Handler {
	limit := ratelimit.Limit{}
	if s.cfg.APIRatePerSecond > 0 {
		limit = ratelimit.PerSecond(s.cfg.APIRatePerSecond)
		limit.Burst = max(s.cfg.APIBurst, s.cfg.APIRatePerSecond)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, key := "api-ip", reqinfo.FromContext(r.Context()).IP
		if v := viewer.FromContext(r.Context()); v != nil {
			name, key = "api-session", v.SessionID
		}
		err := s.Auth.Limiter().Allow(r.Context(), name, key, limit)
		var limited *ratelimit.LimitedError
		switch {
		case errors.As(err, &limited):
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(limited.RetryAfter.Seconds()))))
			writeGraphQLError(w, http.StatusTooManyRequests, errs.Limited(limited.RetryAfter))
		case err != nil:
			s.log.ErrorContext(r.Context(), "rate limiting", "err", err)
			writeGraphQLError(w, http.StatusServiceUnavailable, errs.Newf(errs.Internal, "internal error"))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// cors lets the configured browser origins call the API; native apps do
// not need it, so by default no origin is allowed.
func (s *Server) cors(next http.Handler) http.Handler {
	if len(s.cfg.CORSOrigins) == 0 {
		return next
	}
	return cors.New(cors.Options{
		AllowedOrigins: s.cfg.CORSOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Authorization", "Content-Type", "X-Request-Id"},
		MaxAge:         600,
	}).Handler(next)
}

// writeGraphQLError answers a request refused before GraphQL execution
// with a GraphQL-shaped body, so clients handle every error one way.
// limitBody refuses a request body over max with 413, whether it declares
// its length or is chunked, before anything parses it.
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tooLarge := errs.Newf(errs.BadUserInput, "request body is larger than %d bytes", max)
		if r.ContentLength > max {
			writeGraphQLError(w, http.StatusRequestEntityTooLarge, tooLarge)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
		if _, over := errors.AsType[*http.MaxBytesError](err); over {
			writeGraphQLError(w, http.StatusRequestEntityTooLarge, tooLarge)
			return
		}
		if err != nil {
			writeGraphQLError(w, http.StatusBadRequest, errs.Newf(errs.BadUserInput, "could not read the request body"))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func writeGraphQLError(w http.ResponseWriter, status int, e *errs.Error) {
	ext := map[string]any{"code": e.Code}
	if e.RetryAfter > 0 {
		ext["retryAfterSeconds"] = int(math.Ceil(e.RetryAfter.Seconds()))
	}
	writeJSON(w, status, map[string]any{
		"errors": []map[string]any{{"message": e.Message, "extensions": ext}},
	})
}

// statusRecorder remembers the status and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	bytes       int
	wroteHeader bool
}

// WriteHeader drops a second call: the WebSocket library answers a refused
// upgrade itself and gqlgen then writes its own status.
func (r *statusRecorder) WriteHeader(status int) {
	if r.wroteHeader {
		return
	}
	r.status, r.wroteHeader = status, true
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// Hijack lets WebSocket upgrades through the wrapper.
func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	r.status = http.StatusSwitchingProtocols
	return http.NewResponseController(r.ResponseWriter).Hijack()
}

// Flush lets streaming responses through the wrapper.
func (r *statusRecorder) Flush() { _ = http.NewResponseController(r.ResponseWriter).Flush() }
