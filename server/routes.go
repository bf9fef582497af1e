package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql/playground"
)

func (s *Server) routes(gql http.Handler) http.Handler {
	mux := http.NewServeMux()
	api := s.authenticate(s.limitRequests(gql))
	mux.Handle("POST /graphql", limitBody(s.cfg.MaxBodyBytes, api))
	// GET serves queries (GraphQL over HTTP) and WebSocket upgrades.
	mux.Handle("GET /graphql", getMutationNotAllowed(api))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
	s.optOutRoutes(mux)
	// No access token: the signed link is the authority, so the phone can
	// hand it to a browser or share sheet.
	mux.HandleFunc("GET /exports/{id}", s.downloadExport)
	if !s.cfg.Production {
		mux.Handle("GET /{$}", playground.Handler("Till", "/graphql"))
	}
	return s.withRequestInfo(s.recoverPanics(s.logRequests(s.cors(mux))))
}

// ready reports whether the database and Redis answer; a load balancer
// takes a replica out of rotation while they do not. With backups
// scheduled it also says how the last one went, for a monitor: that never
// makes a replica unready.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]any{"database": "ok", "redis": "ok"}
	status := http.StatusOK
	if err := s.DB.Ping(ctx); err != nil {
		checks["database"], status = "unavailable", http.StatusServiceUnavailable
		s.log.WarnContext(ctx, "readiness: database", "err", err)
	} else if s.backups != nil {
		if b, err := s.backupStatus(ctx); err != nil {
			s.log.WarnContext(ctx, "readiness: backup status", "err", err)
		} else {
			checks["backup"] = b
		}
	}
	if err := s.KV.Ping(ctx); err != nil {
		checks["redis"], status = "unavailable", http.StatusServiceUnavailable
		s.log.WarnContext(ctx, "readiness: redis", "err", err)
	}
	writeJSON(w, status, checks)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// getMutationNotAllowed answers 405 where gqlgen's GET transport answers
// 406 to a mutation: GraphQL over HTTP requires 405 with Allow: POST.
func getMutationNotAllowed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&statusRewriter{ResponseWriter: w}, r)
	})
}

type statusRewriter struct {
	http.ResponseWriter
}

func (w *statusRewriter) WriteHeader(status int) {
	if status == http.StatusNotAcceptable {
		w.Header().Set("Allow", "POST")
		status = http.StatusMethodNotAllowed
	}
	w.ResponseWriter.WriteHeader(status)
}

// Hijack lets WebSocket upgrades through the wrapper.
func (w *statusRewriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}
