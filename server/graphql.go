package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/graph"
)

// graphQLHandler builds the gqlgen server with explicit transports,
// limits, the error presenter and each operation's loaders.
func (s *Server) graphQLHandler(schema graphql.ExecutableSchema) http.Handler {
	cfg := s.cfg
	srv := handler.New(schema)
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 15 * time.Second,
		// Native apps send no Origin and are accepted; browsers must be on
		// the same origin or the CORS allow-list.
		Implementation: transport.CoderWebsocketImplementation{
			AcceptOptions: websocket.AcceptOptions{OriginPatterns: originHosts(cfg.CORSOrigins)},
		},
		// WebSockets carry subscriptions, which all need a viewer, so a
		// connection without a valid token is refused at connection_init:
		// closed with 4403 and the reason, as graphql-transport-ws has it.
		InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			ctx, err := s.viewerContext(ctx, payload.Authorization())
			if err != nil {
				s.log.ErrorContext(ctx, "authenticating a websocket", "err", err)
				return transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, int(websocket.StatusInternalError)), "internal error"), nil, err
			}
			if viewer.FromContext(ctx) == nil {
				refusal := authError(ctx)
				return transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, 4403), refusal.Message), nil, refusal
			}
			return graph.OverWebSocket(ctx), nil, nil
		},
	})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if !cfg.Production {
		srv.Use(extension.Introspection{})
	}
	srv.Use(operationLimits{maxDepth: cfg.MaxDepth, maxComplexity: cfg.MaxComplexity, schema: schema})
	srv.AroundOperations(graph.Loaders)
	srv.AroundRootFields(guardRootFields)
	srv.AroundFields(graph.ResolveAsNewSession)
	srv.SetErrorPresenter(graph.ErrorPresenter(s.log))
	srv.SetRecoverFunc(graph.RecoverFunc(s.log))
	return srv
}

// originHosts turns allowed origins ("https://admin.example.com") into the
// host patterns the WebSocket library matches.
func originHosts(origins []string) []string {
	var hosts []string
	for _, o := range origins {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			hosts = append(hosts, u.Host)
		}
	}
	return hosts
}

// guardRootFields refuses anonymous callers on every root field not marked
// @public, and staff of a suspended merchant on every field not marked
// @allowSuspended.
func guardRootFields(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	field := graphql.GetRootFieldContext(ctx).Field
	if strings.HasPrefix(field.Name, "__") || field.Definition.Directives.ForName("public") != nil {
		return next(ctx)
	}
	v := viewer.FromContext(ctx)
	var refusal *errs.Error
	switch {
	case v == nil:
		refusal = authError(ctx)
	case v.MerchantSuspended && field.Definition.Directives.ForName("allowSuspended") == nil:
		refusal = errs.Newf(errs.Forbidden, "merchant is suspended")
	default:
		return next(ctx)
	}
	graphql.AddError(ctx, &gqlerror.Error{Err: refusal, Message: refusal.Message, Path: ast.Path{ast.PathName(field.Alias)}})
	return graphql.Null
}

// operationLimits refuses operations nested deeper than maxDepth or
// costlier than maxComplexity with QUERY_TOO_COMPLEX, before any resolver
// runs. Introspection fields do not count towards depth (the playground's
// introspection query is deep, and introspection is off in production).
type operationLimits struct {
	maxDepth      int
	maxComplexity int
	schema        graphql.ExecutableSchema
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = operationLimits{}

// ExtensionName implements graphql.HandlerExtension.
func (operationLimits) ExtensionName() string { return "OperationLimits" }

// Validate implements graphql.HandlerExtension.
func (operationLimits) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (l operationLimits) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if err := pageConnections(oc); err != nil {
		return err
	}
	if depth := selectionDepth(oc.Operation.SelectionSet); l.maxDepth > 0 && depth > l.maxDepth {
		return tooComplex("operation is nested %d levels deep; the limit is %d", depth, l.maxDepth)
	}
	if cost := complexity.Calculate(ctx, l.schema, oc.Operation, oc.Variables); l.maxComplexity > 0 && cost > l.maxComplexity {
		return tooComplex("operation has complexity %d; the limit is %d", cost, l.maxComplexity)
	}
	return nil
}

func tooComplex(format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{
		Message:    fmt.Sprintf(format, args...),
		Extensions: map[string]any{"code": string(errs.QueryTooComplex)},
	}
}

// selectionDepth is the depth of the deepest field in set, following
// fragments (validation has already refused fragment cycles).
func selectionDepth(set ast.SelectionSet) int {
	deepest := 0
	for _, sel := range set {
		var d int
		switch sel := sel.(type) {
		case *ast.Field:
			if strings.HasPrefix(sel.Name, "__") {
				continue
			}
			d = 1 + selectionDepth(sel.SelectionSet)
		case *ast.InlineFragment:
			d = selectionDepth(sel.SelectionSet)
		case *ast.FragmentSpread:
			if sel.Definition != nil {
				d = selectionDepth(sel.Definition.SelectionSet)
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}
