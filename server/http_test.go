package server_test

// HTTP-level tests: GraphQL over HTTP, the operation and request limits,
// request ids, health checks, the playground and introspection, the
// WebSocket transport, and what errors reveal.

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/auth/token"
	"github.com/tillpos/till/config"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/keyring"
	"github.com/tillpos/till/kv"
	"github.com/tillpos/till/kv/kvtest"
	"github.com/tillpos/till/server"
)

const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
	roleQuery            = `{ viewer { role } }`
)

// httpResponse is a raw HTTP answer.
type httpResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// mediaType is the response's Content-Type without parameters.
func (r httpResponse) mediaType(t *testing.T) string {
	t.Helper()
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	require.NoError(t, err, "Content-Type %q", r.Header.Get("Content-Type"))
	return mt
}

// graphQL decodes the body as a GraphQL response.
func (r httpResponse) graphQL(t *testing.T) *tilltest.Result {
	t.Helper()
	res := &tilltest.Result{Status: r.Status, Header: r.Header}
	require.NoError(t, json.Unmarshal(r.Body, res), "HTTP %d body %q", r.Status, r.Body)
	return res
}

// send makes one HTTP request with a bounded timeout and reads the answer.
func send(t *testing.T, method, target string, headers map[string]string, body string) httpResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return httpResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// postJSON posts a GraphQL request body as application/json.
func postJSON(t *testing.T, env *tilltest.Env, accessToken, accept string, body any) httpResponse {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	h := map[string]string{"Content-Type": mediaJSON}
	if accessToken != "" {
		h["Authorization"] = "Bearer " + accessToken
	}
	if accept != "" {
		h["Accept"] = accept
	}
	return send(t, http.MethodPost, env.URL+"/graphql", h, string(raw))
}

func requireNoData(t *testing.T, res *tilltest.Result) {
	t.Helper()
	require.True(t, len(res.Data) == 0 || string(res.Data) == "null", "want no data, got %s", res.Data)
}

func is4xx(status int) bool { return status >= 400 && status < 500 }

func TestHTTPContentNegotiation(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")
	for _, tc := range []struct {
		accept string
		want   []string
	}{
		{mediaGraphQLResponse, []string{mediaGraphQLResponse}},
		{mediaJSON, []string{mediaJSON}},
		{mediaGraphQLResponse + ", " + mediaJSON + ";q=0.9", []string{mediaGraphQLResponse}},
		// Without a preference the server may use either JSON type.
		{"", []string{mediaJSON, mediaGraphQLResponse}},
		{"*/*", []string{mediaJSON, mediaGraphQLResponse}},
	} {
		t.Run("Accept="+tc.accept, func(t *testing.T) {
			resp := postJSON(t, env, owner.Token, tc.accept, map[string]any{"query": roleQuery})
			require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
			require.Contains(t, tc.want, resp.mediaType(t))
			var out struct{ Viewer struct{ Role string } }
			resp.graphQL(t).Decode(t, &out)
			require.Equal(t, "OWNER", out.Viewer.Role)
		})
	}
}

func TestHTTPGet(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")
	auth := map[string]string{"Authorization": "Bearer " + owner.Token}
	get := func(t *testing.T, query string, headers map[string]string) httpResponse {
		t.Helper()
		return send(t, http.MethodGet, env.URL+"/graphql?query="+url.QueryEscape(query), headers, "")
	}

	t.Run("query", func(t *testing.T) {
		resp := get(t, roleQuery, auth)
		require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
		require.Equal(t, mediaJSON, resp.mediaType(t))
		var out struct{ Viewer struct{ Role string } }
		resp.graphQL(t).Decode(t, &out)
		require.Equal(t, "OWNER", out.Viewer.Role)
	})

	t.Run("query with variables and Accept", func(t *testing.T) {
		q := url.Values{
			"query":     {`query($n: Int) { stores(first: $n) { totalCount } }`},
			"variables": {`{"n": 1}`},
		}
		resp := send(t, http.MethodGet, env.URL+"/graphql?"+q.Encode(),
			map[string]string{"Authorization": auth["Authorization"], "Accept": mediaGraphQLResponse}, "")
		require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
		require.Equal(t, mediaGraphQLResponse, resp.mediaType(t))
		var out struct{ Stores struct{ TotalCount int } }
		resp.graphQL(t).Decode(t, &out)
		require.Equal(t, 1, out.Stores.TotalCount)
	})

	t.Run("mutation is refused and does not run", func(t *testing.T) {
		resp := get(t, `mutation { logOut { endedSessions } }`, auth)
		require.Equal(t, http.StatusMethodNotAllowed, resp.Status, "%s", resp.Body)
		require.Equal(t, "POST", resp.Header.Get("Allow"))
		res := resp.graphQL(t)
		require.NotEmpty(t, res.Errors)
		requireNoData(t, res)
		// The session is still alive: logOut never ran.
		var out struct{ Viewer struct{ Role string } }
		env.Exec(t, owner.Token, roleQuery, nil).Decode(t, &out)
		require.Equal(t, "OWNER", out.Viewer.Role)
	})

	t.Run("mutation picked by operationName", func(t *testing.T) {
		q := url.Values{
			"query":         {`query Q { viewer { role } } mutation M { logOut { endedSessions } }`},
			"operationName": {"M"},
		}
		resp := send(t, http.MethodGet, env.URL+"/graphql?"+q.Encode(), auth, "")
		require.Equal(t, http.StatusMethodNotAllowed, resp.Status, "%s", resp.Body)
		require.Equal(t, "POST", resp.Header.Get("Allow"))
		var out struct{ Viewer struct{ Role string } }
		env.Exec(t, owner.Token, roleQuery, nil).Decode(t, &out)
	})
}

func TestHTTPRequestErrors(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")
	for _, tc := range []struct {
		name        string
		method      string
		contentType string
		accept      string
		body        string
		wantStatus  int
		wantCode    string // extensions.code of the first error; "" to skip
		wantMessage string // a substring of the first error's message; "" to skip
		graphQLBody bool   // the body is a GraphQL response
	}{
		{
			name: "malformed JSON", method: http.MethodPost, contentType: mediaJSON, accept: mediaGraphQLResponse,
			body: `{"query": "{ viewer { role } }"`, wantStatus: http.StatusBadRequest, wantCode: "BAD_USER_INPUT", graphQLBody: true,
		},
		{
			name: "malformed JSON, Accept json", method: http.MethodPost, contentType: mediaJSON, accept: mediaJSON,
			body: `not json`, wantStatus: http.StatusBadRequest, wantCode: "BAD_USER_INPUT", graphQLBody: true,
		},
		{
			name: "no query", method: http.MethodPost, contentType: mediaJSON, accept: mediaGraphQLResponse,
			body: `{"variables": {}}`, wantStatus: http.StatusBadRequest, wantCode: "GRAPHQL_VALIDATION_FAILED",
			wantMessage: "no operation provided", graphQLBody: true,
		},
		{
			name: "no query, Accept json", method: http.MethodPost, contentType: mediaJSON, accept: mediaJSON,
			body: `{}`, wantStatus: http.StatusUnprocessableEntity, wantCode: "GRAPHQL_VALIDATION_FAILED", graphQLBody: true,
		},
		{
			name: "text/plain", method: http.MethodPost, contentType: "text/plain", accept: mediaGraphQLResponse,
			body: `{"query": "{ viewer { role } }"}`, wantStatus: http.StatusBadRequest,
			wantMessage: "transport not supported", graphQLBody: true,
		},
		{
			name: "no Content-Type", method: http.MethodPost, accept: mediaGraphQLResponse,
			body: `{"query": "{ viewer { role } }"}`, wantStatus: http.StatusBadRequest, graphQLBody: true,
		},
		{
			name: "syntax error", method: http.MethodPost, contentType: mediaJSON, accept: mediaGraphQLResponse,
			body: `{"query": "{ viewer { role "}`, wantStatus: http.StatusBadRequest, wantCode: "GRAPHQL_PARSE_FAILED", graphQLBody: true,
		},
		{
			// Legacy application/json answers protocol errors with 422.
			name: "syntax error, Accept json", method: http.MethodPost, contentType: mediaJSON, accept: mediaJSON,
			body: `{"query": "{ viewer { role "}`, wantStatus: http.StatusUnprocessableEntity, wantCode: "GRAPHQL_PARSE_FAILED", graphQLBody: true,
		},
		{
			name: "unknown field", method: http.MethodPost, contentType: mediaJSON, accept: mediaGraphQLResponse,
			body: `{"query": "{ viewer { nope } }"}`, wantStatus: http.StatusBadRequest, wantCode: "GRAPHQL_VALIDATION_FAILED",
			wantMessage: `Cannot query field "nope"`, graphQLBody: true,
		},
		{
			name: "unknown operationName", method: http.MethodPost, contentType: mediaJSON, accept: mediaGraphQLResponse,
			body: `{"query": "query A { viewer { role } }", "operationName": "B"}`, wantStatus: http.StatusBadRequest,
			wantCode: "GRAPHQL_VALIDATION_FAILED", graphQLBody: true,
		},
		{
			name: "variable of the wrong type", method: http.MethodPost, contentType: mediaJSON, accept: mediaGraphQLResponse,
			body:       `{"query": "query($n: Int) { stores(first: $n) { totalCount } }", "variables": {"n": "ten"}}`,
			wantStatus: http.StatusBadRequest, wantCode: "GRAPHQL_VALIDATION_FAILED", graphQLBody: true,
		},
		{
			name: "PUT", method: http.MethodPut, contentType: mediaJSON, accept: mediaGraphQLResponse,
			body: `{"query": "{ viewer { role } }"}`, wantStatus: http.StatusMethodNotAllowed,
		},
		{
			name: "DELETE", method: http.MethodDelete, wantStatus: http.StatusMethodNotAllowed,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"Authorization": "Bearer " + owner.Token}
			if tc.contentType != "" {
				h["Content-Type"] = tc.contentType
			}
			if tc.accept != "" {
				h["Accept"] = tc.accept
			}
			resp := send(t, tc.method, env.URL+"/graphql", h, tc.body)
			require.Equal(t, tc.wantStatus, resp.Status, "%s", resp.Body)
			if tc.wantStatus == http.StatusMethodNotAllowed {
				require.Contains(t, resp.Header.Get("Allow"), "POST")
				require.NotContains(t, resp.Header.Get("Allow"), tc.method)
			}
			if !tc.graphQLBody {
				return
			}
			res := resp.graphQL(t)
			require.NotEmpty(t, res.Errors)
			requireNoData(t, res)
			if tc.wantCode != "" {
				require.Equal(t, tc.wantCode, res.Code(), "%s", resp.Body)
			}
			if tc.wantMessage != "" {
				require.Contains(t, res.Errors[0].Message, tc.wantMessage)
			}
		})
	}
}

func TestLimitsBodySize(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")
	limit := int(config.Default().MaxBodyBytes)
	require.Equal(t, 1<<20, limit)
	// A valid request padded with JSON whitespace to exactly n bytes.
	body := func(n int) string {
		head, tail := `{"query": "{ viewer { role } }"`, `}`
		return head + strings.Repeat(" ", n-len(head)-len(tail)) + tail
	}
	post := func(t *testing.T, b string) httpResponse {
		t.Helper()
		return send(t, http.MethodPost, env.URL+"/graphql", map[string]string{
			"Authorization": "Bearer " + owner.Token, "Content-Type": mediaJSON, "Accept": mediaGraphQLResponse,
		}, b)
	}

	t.Run("at the limit", func(t *testing.T) {
		b := body(limit)
		require.Len(t, b, limit)
		resp := post(t, b)
		require.Equal(t, http.StatusOK, resp.Status, "%.300s", resp.Body)
		var out struct{ Viewer struct{ Role string } }
		resp.graphQL(t).Decode(t, &out)
		require.Equal(t, "OWNER", out.Viewer.Role)
	})

	t.Run("one byte over", func(t *testing.T) {
		b := body(limit + 1)
		require.Len(t, b, limit+1)
		resp := post(t, b)
		require.True(t, is4xx(resp.Status), "a body over the limit is refused with a 4xx (413 Content Too Large), got HTTP %d: %.300s", resp.Status, resp.Body)
		res := resp.graphQL(t)
		require.NotEmpty(t, res.Errors)
		requireNoData(t, res)
	})
}

// depthQuery nests Store.staff and Staff.stores so the deepest field is at
// exactly depth levels: stores(1) edges(2) node(3) staff(4) edges(5)
// node(6) stores(7) staff(8) edges(9) cursor(10), or node(10) id(11).
const (
	depth10Query = `{ stores { edges { node { staff { edges { node { stores { staff { edges { cursor } } } } } } } } } }`
	depth11Query = `{ stores { edges { node { staff { edges { node { stores { staff { edges { node { id } } } } } } } } } } }`
	// Introspection fields do not count: __typename sits at level 11.
	depth10TypenameQuery = `{ stores { edges { node { staff { edges { node { stores { staff { edges { node { __typename } } } } } } } } } } }`
)

func TestLimitsDepth(t *testing.T) {
	env := tilltest.New(t, nil)
	require.Equal(t, 10, config.Default().MaxDepth)
	owner := env.SignUp(t, "Lotus Tea")
	// A manager working at the store gives Store.staff an edge, so the
	// depth-10 query has data all the way down.
	env.AddStaff(t, owner, "MANAGER")

	var deep struct {
		Stores struct {
			Edges []struct {
				Node struct {
					Staff struct {
						Edges []struct {
							Node struct {
								Stores []struct {
									Staff struct {
										Edges []struct{ Cursor string }
									}
								}
							}
						}
					}
				}
			}
		}
	}
	res := env.Exec(t, owner.Token, depth10Query, nil)
	require.Empty(t, res.Errors)
	res.Decode(t, &deep)
	require.NotEmpty(t, deep.Stores.Edges)
	require.NotEmpty(t, deep.Stores.Edges[0].Node.Staff.Edges, "the manager works at the store")
	require.NotEmpty(t, deep.Stores.Edges[0].Node.Staff.Edges[0].Node.Stores)
	require.NotEmpty(t, deep.Stores.Edges[0].Node.Staff.Edges[0].Node.Stores[0].Staff.Edges[0].Cursor, "level 10 was resolved")

	res = env.Exec(t, owner.Token, depth10TypenameQuery, nil)
	require.Empty(t, res.Errors, "__typename does not count towards depth")

	for _, accept := range []string{mediaGraphQLResponse, mediaJSON} {
		resp := postJSON(t, env, owner.Token, accept, map[string]any{"query": depth11Query})
		res := resp.graphQL(t)
		require.Equal(t, "QUERY_TOO_COMPLEX", res.Code(), "%s", resp.Body)
		require.Equal(t, "operation is nested 11 levels deep; the limit is 10", res.Errors[0].Message)
		require.Len(t, res.Errors, 1)
		requireNoData(t, res)
		require.Equal(t, http.StatusOK, resp.Status, "Accept %s", accept)
	}

	// A mutation one level too deep never runs: the password stays as it was.
	const newPassword = "a brand new passphrase"
	changePassword := func(selection string) *tilltest.Result {
		return env.Exec(t, owner.Token, `mutation($i: ChangePasswordInput!) { changePassword(input: $i) { viewer { `+selection+` } } }`,
			map[string]any{"i": map[string]any{"currentPassword": tilltest.Password, "newPassword": newPassword}})
	}
	// changePassword(1) viewer(2) stores(3) staff(4) edges(5) node(6)
	// stores(7) staff(8) edges(9) node(10) id(11).
	res = changePassword(`stores { staff { edges { node { stores { staff { edges { node { id } } } } } } } }`)
	require.Equal(t, "QUERY_TOO_COMPLEX", res.Code())
	requireNoData(t, res)
	env.LogIn(t, owner.Email, tilltest.Password) // the refused mutation changed nothing
	res = changePassword(`stores { staff { edges { node { stores { staff { edges { cursor } } } } } } }`)
	require.Empty(t, res.Errors, "depth 10 runs")
	env.LogIn(t, owner.Email, newPassword)
}

// aliased is a query of n aliased copies of field, then extra.
func aliased(n int, field, extra string) string {
	var b strings.Builder
	b.WriteString("{ ")
	for i := range n {
		fmt.Fprintf(&b, "a%d: %s ", i, field)
	}
	b.WriteString(extra)
	b.WriteString("}")
	return b.String()
}

func TestLimitsComplexity(t *testing.T) {
	t.Run("default limit", func(t *testing.T) {
		env := tilltest.New(t, nil)
		require.Equal(t, 1000, config.Default().MaxComplexity)
		owner := env.SignUp(t, "Lotus Tea")

		// __typename costs 1 and reads nothing from the database.
		res := env.Exec(t, owner.Token, aliased(1000, "__typename", ""), nil)
		require.Empty(t, res.Errors, "complexity 1000 is at the limit")
		var out map[string]string
		res.Decode(t, &out)
		require.Len(t, out, 1000)
		require.Equal(t, "Query", out["a999"])

		res = env.Exec(t, owner.Token, aliased(1001, "__typename", ""), nil)
		require.Equal(t, "QUERY_TOO_COMPLEX", res.Code())
		require.Equal(t, "operation has complexity 1001; the limit is 1000", res.Errors[0].Message)
		requireNoData(t, res)
	})

	t.Run("configured limit", func(t *testing.T) {
		env := tilltest.New(t, func(c *config.Config) { c.MaxComplexity = 50 })
		owner := env.SignUp(t, "Lotus Tea")
		// viewer { role } costs 2: viewer 1 + role 1.
		res := env.Exec(t, owner.Token, aliased(25, "viewer { role }", ""), nil)
		require.Empty(t, res.Errors, "complexity 50 is at the limit")
		var out map[string]struct{ Role string }
		res.Decode(t, &out)
		require.Len(t, out, 25)
		require.Equal(t, "OWNER", out["a24"].Role)

		for _, q := range []string{
			aliased(25, "viewer { role }", "__typename "),
			aliased(24, "viewer { role }", "x: viewer { kind role } "),
		} {
			res = env.Exec(t, owner.Token, q, nil)
			require.Equal(t, "QUERY_TOO_COMPLEX", res.Code())
			require.Equal(t, "operation has complexity 51; the limit is 50", res.Errors[0].Message)
			requireNoData(t, res)
		}
	})
}

// The complexity limit bounds one operation's work, but gqlgen resolves
// root fields concurrently and every viewer field loads the profile, so an
// operation within the limit (500 aliased `viewer { role }`) opens as many
// database connections at once as the pool allows. Against PostgreSQL
// (max_connections 100) that request failed with "FATAL: sorry, too many
// clients already", as does every other request to the database at that
// moment. The pool must be bounded.
func TestLimitsDatabasePoolIsBounded(t *testing.T) {
	env := tilltest.New(t, nil)
	maxOpen := env.DB.SQL.Stats().MaxOpenConnections
	require.Positive(t, maxOpen, "the database pool has no MaxOpenConns: one allowed query can exhaust the database's connections")
}

func TestLimitsPageSize(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")
	for _, tc := range []struct {
		query     string
		wantField string // "" means accepted
	}{
		{`{ stores(first: 100) { totalCount } }`, ""},
		{`{ stores(last: 100) { totalCount } }`, ""},
		{`{ stores(first: 0) { totalCount } }`, ""},
		{`{ stores(first: 101) { totalCount } }`, "first"},
		{`{ stores(last: 101) { totalCount } }`, "last"},
		{`{ stores(first: -1) { totalCount } }`, "first"},
		{`{ staffMembers(first: 1000) { totalCount } }`, "first"},
		{`{ stores { edges { node { staff(first: 101) { totalCount } } } } }`, "first"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			res := env.Exec(t, owner.Token, tc.query, nil)
			if tc.wantField == "" {
				require.Empty(t, res.Errors)
				return
			}
			require.Equal(t, "BAD_USER_INPUT", res.Code())
			require.Equal(t, tc.wantField, res.Errors[0].Extensions["field"])
		})
	}
}

// hammer sends query until the API rate limit refuses it (at most max
// times) and returns how many were let through and the refusal.
func hammer(t *testing.T, env *tilltest.Env, accessToken string, max int) (allowed int, refused *httpResponse) {
	t.Helper()
	for range max {
		resp := postJSON(t, env, accessToken, "", map[string]any{"query": roleQuery})
		if resp.Status == http.StatusTooManyRequests {
			return allowed, &resp
		}
		require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
		allowed++
	}
	return allowed, nil
}

func requireRateLimited(t *testing.T, resp *httpResponse) {
	t.Helper()
	require.NotNil(t, resp, "the API rate limit never refused a request")
	retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After %q is whole seconds", resp.Header.Get("Retry-After"))
	require.GreaterOrEqual(t, retry, 1)
	require.NotEmpty(t, resp.Header.Get("X-Request-Id"))
	require.Equal(t, mediaJSON, resp.mediaType(t))
	res := resp.graphQL(t)
	require.Equal(t, "RATE_LIMITED", res.Code(), "%s", resp.Body)
	require.EqualValues(t, retry, res.Errors[0].Extensions["retryAfterSeconds"])
	requireNoData(t, res)
}

func TestLimitsAPIRatePerSession(t *testing.T) {
	const burst = 5
	env := tilltest.New(t, func(c *config.Config) { c.APIRatePerSecond = 2; c.APIBurst = burst })
	owner := env.SignUp(t, "Lotus Tea")
	other := env.LogIn(t, owner.Email, tilltest.Password)

	allowed, refused := hammer(t, env, owner.Token, 60)
	require.GreaterOrEqual(t, allowed, burst, "the whole burst is allowed")
	requireRateLimited(t, refused)

	// Another session of the same person has a budget of its own.
	var out struct{ Viewer struct{ Role string } }
	env.Exec(t, other.Token, roleQuery, nil).Decode(t, &out)
	require.Equal(t, "OWNER", out.Viewer.Role)
}

func TestLimitsAPIRatePerIP(t *testing.T) {
	const burst = 5
	env := tilltest.New(t, func(c *config.Config) { c.APIRatePerSecond = 2; c.APIBurst = burst })
	owner := env.SignUp(t, "Lotus Tea") // one anonymous request from this IP

	allowed, refused := hammer(t, env, "", 60)
	require.GreaterOrEqual(t, allowed, burst-1, "the rest of the burst is allowed")
	requireRateLimited(t, refused)

	// An authenticated session is limited on its own budget, not the IP's.
	var out struct{ Viewer struct{ Role string } }
	env.Exec(t, owner.Token, roleQuery, nil).Decode(t, &out)
	require.Equal(t, "OWNER", out.Viewer.Role)
}

var generatedRequestID = regexp.MustCompile(`^[0-9a-f]{24}$`)

func TestHTTPRequestID(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")
	post := func(t *testing.T, requestID string) string {
		t.Helper()
		h := map[string]string{"Authorization": "Bearer " + owner.Token, "Content-Type": mediaJSON}
		if requestID != "" {
			h["X-Request-Id"] = requestID
		}
		resp := send(t, http.MethodPost, env.URL+"/graphql", h, `{"query": "{ viewer { role } }"}`)
		require.Equal(t, http.StatusOK, resp.Status)
		require.Len(t, resp.Header.Values("X-Request-Id"), 1)
		return resp.Header.Get("X-Request-Id")
	}

	first, second := post(t, ""), post(t, "")
	require.Regexp(t, generatedRequestID, first)
	require.Regexp(t, generatedRequestID, second)
	require.NotEqual(t, first, second)

	for _, sane := range []string{"abc-123", "A.b_c-9", strings.Repeat("x", 64)} {
		require.Equal(t, sane, post(t, sane), "a sane id is echoed")
	}
	for _, insane := range []string{"abc 123", strings.Repeat("x", 65), strings.Repeat("a", 200), "abc<script>", "a/b", "ümlaut"} {
		got := post(t, insane)
		require.NotEqual(t, insane, got)
		require.Regexp(t, generatedRequestID, got, "an insane id %q is replaced", insane)
	}

	// Other routes get an id too.
	for _, path := range []string{"/healthz", "/readyz", "/nope"} {
		resp := send(t, http.MethodGet, env.URL+path, map[string]string{"X-Request-Id": "abc-123"}, "")
		require.Equal(t, "abc-123", resp.Header.Get("X-Request-Id"), path)
	}

	// The id is what the audit log records.
	resp := send(t, http.MethodPost, env.URL+"/graphql", map[string]string{
		"Authorization": "Bearer " + owner.Token, "Content-Type": mediaJSON, "X-Request-Id": "create-store-1",
	}, `{"query": "mutation { createStore(input: {name: \"Second\", timeZone: \"Asia/Shanghai\"}) { store { id } } }"}`)
	require.Equal(t, http.StatusOK, resp.Status)
	require.Empty(t, resp.graphQL(t).Errors)
	var audit struct {
		AuditEntries struct {
			Edges []struct {
				Node struct{ Action, RequestID string }
			}
		}
	}
	env.Exec(t, owner.Token, `{ auditEntries(first: 10, where: {requestID: "create-store-1"}) { edges { node { action requestID } } } }`, nil).Decode(t, &audit)
	require.Len(t, audit.AuditEntries.Edges, 1)
	require.Equal(t, "store.created", audit.AuditEntries.Edges[0].Node.Action)
}

func TestHealthz(t *testing.T) {
	env := tilltest.New(t, nil)
	resp := send(t, http.MethodGet, env.URL+"/healthz", nil, "")
	require.Equal(t, http.StatusOK, resp.Status)
	require.Equal(t, mediaJSON, resp.mediaType(t))
	require.JSONEq(t, `{"status": "ok"}`, string(resp.Body))

	resp = send(t, http.MethodGet, env.URL+"/readyz", nil, "")
	require.Equal(t, http.StatusOK, resp.Status)
	require.Equal(t, mediaJSON, resp.mediaType(t))
	require.JSONEq(t, `{"database": "ok", "redis": "ok"}`, string(resp.Body))

	require.Equal(t, http.StatusMethodNotAllowed, send(t, http.MethodPost, env.URL+"/healthz", nil, "{}").Status)
}

// openServer starts a server the test may break (closing its Redis or
// database), with a cleanup that tolerates that, unlike tilltest.New's.
func openServer(t *testing.T) *tilltest.Env {
	t.Helper()
	cfg := tilltest.Config(t)
	srv, err := server.Open(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		_ = srv.Close() // the test closed some of it already
		if cfg.RedisURL == "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		store, err := kv.Open(ctx, cfg.RedisURL)
		if err != nil {
			t.Errorf("reopening redis to delete test keys: %v", err)
			return
		}
		defer store.Close()
		if err := kvtest.DeleteKeys(ctx, store.Client(), "*"+cfg.RedisPrefix+"*"); err != nil {
			t.Errorf("deleting test keys: %v", err)
		}
	})
	return &tilltest.Env{Server: srv, URL: ts.URL}
}

func TestHealthReadyzWithoutRedis(t *testing.T) {
	env := openServer(t)
	owner := env.SignUp(t, "Lotus Tea")
	resp := send(t, http.MethodGet, env.URL+"/readyz", nil, "")
	require.Equal(t, http.StatusOK, resp.Status)

	require.NoError(t, env.KV.Close())

	resp = send(t, http.MethodGet, env.URL+"/readyz", nil, "")
	require.Equal(t, http.StatusServiceUnavailable, resp.Status)
	require.JSONEq(t, `{"database": "ok", "redis": "unavailable"}`, string(resp.Body))
	// Liveness does not depend on Redis.
	resp = send(t, http.MethodGet, env.URL+"/healthz", nil, "")
	require.Equal(t, http.StatusOK, resp.Status)

	// A token cannot be checked without Redis: the request is refused
	// without saying why.
	resp = postJSON(t, env, owner.Token, "", map[string]any{"query": roleQuery})
	require.Equal(t, http.StatusServiceUnavailable, resp.Status)
	res := resp.graphQL(t)
	require.Equal(t, "INTERNAL", res.Code())
	require.Equal(t, "internal error", res.Errors[0].Message)
	require.NotContains(t, strings.ToLower(string(resp.Body)), "redis")
	requireNoData(t, res)
}

// leakWords are fragments of Go, library and infrastructure error text
// that must never reach a client.
var leakWords = []string{"sql", "database", "redis", "ent:", "crypto", "ed25519", "jwt", "signature", "kid", "closed", "panic", "goroutine", ".go:"}

func requireNoLeak(t *testing.T, s string) {
	t.Helper()
	lower := strings.ToLower(s)
	for _, w := range leakWords {
		require.NotContains(t, lower, w, "internal error text reached the client: %s", s)
	}
}

func TestHTTPInternalErrorsDoNotLeak(t *testing.T) {
	env := openServer(t)
	owner := env.SignUp(t, "Lotus Tea")
	require.NoError(t, env.DB.Close())

	resp := send(t, http.MethodGet, env.URL+"/readyz", nil, "")
	require.Equal(t, http.StatusServiceUnavailable, resp.Status)
	require.JSONEq(t, `{"database": "unavailable", "redis": "ok"}`, string(resp.Body))

	t.Run("authenticated", func(t *testing.T) {
		// Authentication reads the merchant's status from the database.
		resp := postJSON(t, env, owner.Token, "", map[string]any{"query": roleQuery})
		require.Equal(t, http.StatusServiceUnavailable, resp.Status)
		res := resp.graphQL(t)
		require.Equal(t, "INTERNAL", res.Code())
		require.Equal(t, "internal error", res.Errors[0].Message)
		requireNoLeak(t, string(resp.Body))
	})

	// Public operations reach resolvers that fail on the database: the
	// client must get INTERNAL without the Go error text.
	for name, q := range map[string]string{
		"logIn": `mutation($i: LogInInput!) { logIn(input: $i) { accessToken } }`,
		"signUpMerchant": `mutation { signUpMerchant(input: {merchantName: "X", ownerName: "Y", email: "` +
			tilltest.UniqueEmail("leak") + `", password: "` + tilltest.Password + `", currency: "CNY", timeZone: "Asia/Shanghai"}) { accessToken } }`,
	} {
		t.Run(name, func(t *testing.T) {
			resp := postJSON(t, env, "", "", map[string]any{"query": q, "variables": map[string]any{
				"i": map[string]any{"email": owner.Email, "password": tilltest.Password},
			}})
			res := resp.graphQL(t)
			require.NotEmpty(t, res.Errors)
			require.Equal(t, "INTERNAL", res.Code(), "%s", resp.Body)
			require.Equal(t, "internal error", res.Errors[0].Message)
			requireNoLeak(t, string(resp.Body))
		})
	}
}

// forgedToken copies accessToken's claims and kid but signs them with a
// key the server does not have.
func forgedToken(t *testing.T, accessToken string) string {
	t.Helper()
	parts := strings.Split(accessToken, ".")
	require.Len(t, parts, 3)
	var header struct {
		Kid string `json:"kid"`
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &header))
	require.NotEmpty(t, header.Kid)
	var claims token.Claims
	raw, err = base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &claims))

	other, err := keyring.Generate()
	require.NoError(t, err)
	issuer, err := token.NewIssuer(keyring.SigningKeys{
		Active: header.Kid,
		Keys:   map[string]ed25519.PrivateKey{header.Kid: other.JWT.Keys[other.JWT.Active]},
	})
	require.NoError(t, err)
	forged, _, err := issuer.Issue(claims)
	require.NoError(t, err)
	return forged
}

// unsignedToken is accessToken's header and claims with alg "none".
func unsignedToken(t *testing.T, accessToken string) string {
	t.Helper()
	parts := strings.Split(accessToken, ".")
	require.Len(t, parts, 3)
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	require.NoError(t, err)
	var header map[string]any
	require.NoError(t, json.Unmarshal(raw, &header))
	header["alg"] = "none"
	raw, err = json.Marshal(header)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(raw) + "." + parts[1] + "."
}

func TestHTTPForeignTokensAreRefusedWithoutDetail(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")
	elsewhere := tilltest.New(t, nil).SignUp(t, "Other Till")

	for name, tok := range map[string]string{
		"signed by another server's key": elsewhere.Token,
		"same kid, different key":        forgedToken(t, owner.Token),
		"alg none":                       unsignedToken(t, owner.Token),
	} {
		t.Run(name, func(t *testing.T) {
			require.NotEqual(t, owner.Token, tok)
			for _, accept := range []string{mediaGraphQLResponse, mediaJSON} {
				resp := postJSON(t, env, tok, accept, map[string]any{"query": roleQuery})
				require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
				res := resp.graphQL(t)
				require.Equal(t, "UNAUTHENTICATED", res.Code())
				require.Equal(t, "invalid or expired access token", res.Errors[0].Message)
				require.Len(t, res.Errors, 1)
				requireNoLeak(t, string(resp.Body))
				require.NotContains(t, string(resp.Body), "OWNER")
			}
		})
	}
	// The genuine token works, so the refusals above are about the key.
	var out struct{ Viewer struct{ Role string } }
	env.Exec(t, owner.Token, roleQuery, nil).Decode(t, &out)
	require.Equal(t, "OWNER", out.Viewer.Role)
}

const introspectionQuery = `{ __schema { queryType { name } } }`

// deepIntrospectionQuery nests like the playground's introspection query,
// deeper than the depth limit.
const deepIntrospectionQuery = `{ __schema { types { name fields { name type { name ofType { name ofType { name ofType { name ofType { name ofType { name ofType { name ofType { name } } } } } } } } } } } }`

func TestHTTPPlaygroundAndIntrospectionInDevelopment(t *testing.T) {
	env := tilltest.New(t, nil)
	resp := send(t, http.MethodGet, env.URL+"/", nil, "")
	require.Equal(t, http.StatusOK, resp.Status)
	require.Equal(t, "text/html", resp.mediaType(t))
	require.Contains(t, string(resp.Body), "<title>Till</title>")
	require.Contains(t, string(resp.Body), "/graphql")
	// Only the root serves the playground.
	require.Equal(t, http.StatusNotFound, send(t, http.MethodGet, env.URL+"/playground", nil, "").Status)

	// Introspection needs no token and does not count towards the limits.
	for _, q := range []string{introspectionQuery, deepIntrospectionQuery} {
		res := postJSON(t, env, "", "", map[string]any{"query": q}).graphQL(t)
		require.Empty(t, res.Errors, q)
		var out struct {
			Schema struct {
				QueryType *struct{ Name string }
				Types     []struct{ Name string }
			} `json:"__schema"`
		}
		res.Decode(t, &out)
		if out.Schema.QueryType != nil {
			require.Equal(t, "Query", out.Schema.QueryType.Name)
		} else {
			require.NotEmpty(t, out.Schema.Types)
		}
	}
}

func TestProductionHidesPlaygroundAndIntrospection(t *testing.T) {
	keys, err := keyring.Generate()
	require.NoError(t, err)
	keysJSON, err := json.Marshal(keys)
	require.NoError(t, err)
	env := tilltest.New(t, func(c *config.Config) {
		c.Production = true
		c.KeysJSON = string(keysJSON)
	})
	owner := env.SignUp(t, "Lotus Tea")

	resp := send(t, http.MethodGet, env.URL+"/", nil, "")
	require.Equal(t, http.StatusNotFound, resp.Status)
	require.NotContains(t, string(resp.Body), "<html")

	for _, q := range []string{introspectionQuery, `{ __type(name: "Query") { name fields { name } } }`} {
		for _, tok := range []string{"", owner.Token} {
			resp := postJSON(t, env, tok, mediaGraphQLResponse, map[string]any{"query": q})
			res := resp.graphQL(t)
			require.NotEmpty(t, res.Errors, "%s", resp.Body)
			// A refusal of the client's request, not a server failure
			// (INTERNAL would also log it as one).
			require.Contains(t, []string{"BAD_USER_INPUT", "FORBIDDEN", "GRAPHQL_VALIDATION_FAILED"}, res.Code(), "%s", resp.Body)
			require.NotContains(t, string(resp.Body), `"Query"`, "no schema leaks")
			require.NotContains(t, string(resp.Body), "fields")
		}
	}

	// Ordinary operations (and __typename) still work.
	var out struct {
		Typename string `json:"__typename"`
		Viewer   struct{ Role string }
	}
	env.Exec(t, owner.Token, `{ __typename viewer { role } }`, nil).Decode(t, &out)
	require.Equal(t, "Query", out.Typename)
	require.Equal(t, "OWNER", out.Viewer.Role)
}

// wsMessage is a graphql-transport-ws message.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func wsURL(env *tilltest.Env) string {
	return "ws" + strings.TrimPrefix(env.URL, "http") + "/graphql"
}

// dialWS opens a graphql-transport-ws connection, closed when t ends.
func dialWS(t *testing.T, env *tilltest.Env, header http.Header) (context.Context, *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	conn, resp, err := websocket.Dial(ctx, wsURL(env), &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   header,
	})
	require.NoError(t, err)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	t.Cleanup(func() { conn.CloseNow() })
	require.Equal(t, "graphql-transport-ws", conn.Subprotocol())
	return ctx, conn
}

func writeWS(t *testing.T, ctx context.Context, conn *websocket.Conn, msg string) {
	t.Helper()
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte(msg)))
}

// readWS reads the next message, answering and skipping pings.
func readWS(t *testing.T, ctx context.Context, conn *websocket.Conn) wsMessage {
	t.Helper()
	for {
		typ, raw, err := conn.Read(ctx)
		require.NoError(t, err)
		require.Equal(t, websocket.MessageText, typ)
		var msg wsMessage
		require.NoError(t, json.Unmarshal(raw, &msg), "%s", raw)
		if msg.Type == "ping" {
			writeWS(t, ctx, conn, `{"type":"pong"}`)
			continue
		}
		return msg
	}
}

// initWS sends connection_init with payload and expects connection_ack.
func initWS(t *testing.T, ctx context.Context, conn *websocket.Conn, payload string) {
	t.Helper()
	writeWS(t, ctx, conn, `{"type":"connection_init","payload":`+payload+`}`)
	ack := readWS(t, ctx, conn)
	require.Equal(t, "connection_ack", ack.Type, "%+v", ack)
}

const wsViewerQuery = `{ viewer { role staff { id } } }`

// subscribeWS runs query as operation id and returns the result of its
// one "next", after checking the "complete" that follows.
func subscribeWS(t *testing.T, ctx context.Context, conn *websocket.Conn, id, query string) *tilltest.Result {
	t.Helper()
	sub, err := json.Marshal(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": query}})
	require.NoError(t, err)
	writeWS(t, ctx, conn, string(sub))
	next := readWS(t, ctx, conn)
	require.Equal(t, "next", next.Type, "%+v %s", next, next.Payload)
	require.Equal(t, id, next.ID)
	var res tilltest.Result
	require.NoError(t, json.Unmarshal(next.Payload, &res))
	done := readWS(t, ctx, conn)
	require.Equal(t, wsMessage{ID: id, Type: "complete"}, done)
	return &res
}

func TestWebSocketQueryWithToken(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")
	ctx, conn := dialWS(t, env, nil)
	initWS(t, ctx, conn, `{"Authorization":"Bearer `+owner.Token+`"}`)

	var out struct {
		Viewer struct {
			Role  string
			Staff struct{ ID string }
		}
	}
	subscribeWS(t, ctx, conn, "1", wsViewerQuery).Decode(t, &out)
	require.Equal(t, "OWNER", out.Viewer.Role)
	require.Equal(t, owner.ID, out.Viewer.Staff.ID)

	// The connection stays usable for further operations.
	subscribeWS(t, ctx, conn, "2", roleQuery).Decode(t, &out)
	require.Equal(t, "OWNER", out.Viewer.Role)
}

func TestWebSocketWithoutValidToken(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")
	for _, tc := range []struct {
		name, payload, wantMessage string
	}{
		{"garbage token", `{"Authorization":"Bearer garbage"}`, "invalid or expired access token"},
		{"forged token", `{"Authorization":"Bearer ` + forgedToken(t, owner.Token) + `"}`, "invalid or expired access token"},
		{"not bearer", `{"Authorization":"Basic abc"}`, `Authorization must be "Bearer <access token>"`},
		{"no token", `{}`, "authentication required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, conn := dialWS(t, env, nil)
			// A WebSocket is for subscriptions, which all need a viewer:
			// connection_init is refused with 4403 and the reason.
			writeWS(t, ctx, conn, `{"type":"connection_init","payload":`+tc.payload+`}`)
			_, _, err := conn.Read(ctx)
			var closed websocket.CloseError
			require.ErrorAs(t, err, &closed)
			require.Equal(t, websocket.StatusCode(4403), closed.Code)
			require.Equal(t, tc.wantMessage, closed.Reason)
		})
	}
}

func TestWebSocketOrigin(t *testing.T) {
	dial := func(t *testing.T, env *tilltest.Env, origin string) (int, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		conn, resp, err := websocket.Dial(ctx, wsURL(env), &websocket.DialOptions{
			Subprotocols: []string{"graphql-transport-ws"},
			HTTPHeader:   http.Header{"Origin": {origin}},
		})
		if err == nil {
			conn.CloseNow()
			return http.StatusSwitchingProtocols, nil
		}
		require.NotNil(t, resp, "dial error without a response: %v", err)
		resp.Body.Close()
		return resp.StatusCode, err
	}

	t.Run("default", func(t *testing.T) {
		env := tilltest.New(t, nil)
		status, err := dial(t, env, "https://evil.example")
		require.Error(t, err)
		require.Equal(t, http.StatusForbidden, status)
		// The server's own origin is fine.
		status, err = dial(t, env, env.URL)
		require.NoError(t, err)
		require.Equal(t, http.StatusSwitchingProtocols, status)
	})

	t.Run("allow-list", func(t *testing.T) {
		env := tilltest.New(t, func(c *config.Config) { c.CORSOrigins = []string{"https://admin.example"} })
		status, err := dial(t, env, "https://admin.example")
		require.NoError(t, err)
		require.Equal(t, http.StatusSwitchingProtocols, status)
		status, err = dial(t, env, "https://evil.example")
		require.Error(t, err)
		require.Equal(t, http.StatusForbidden, status)
	})
}

// Mutation payloads are read like any query: their objects' edges must
// resolve once the mutation's transaction has committed, and the objects a
// public mutation returns must resolve for the caller it has just logged in.
func TestHTTPMutationPayloadEdges(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")
	storeName := func(t *testing.T) string {
		var out struct {
			Stores struct {
				Edges []struct{ Node struct{ Name string } }
			}
		}
		env.Exec(t, owner.Token, `query($id: ID!) { stores(where: {id: $id}) { edges { node { name } } } }`,
			map[string]any{"id": owner.StoreID}).Decode(t, &out)
		require.Len(t, out.Stores.Edges, 1)
		return out.Stores.Edges[0].Node.Name
	}
	for _, tc := range []struct {
		name, token, query string
		vars               map[string]any
		effect             func(t *testing.T) // checks the mutation took effect
	}{
		{
			name: "createStore", token: owner.Token,
			query: `mutation($i: CreateStoreInput!) { createStore(input: $i) { store { id merchant { id } staff { totalCount } } } }`,
			vars:  map[string]any{"i": map[string]any{"name": "Second", "timeZone": "Asia/Shanghai"}},
		},
		{
			name: "updateStore", token: owner.Token,
			query: `mutation($i: UpdateStoreInput!) { updateStore(input: $i) { store { id merchant { id } staff { totalCount } } } }`,
			vars:  map[string]any{"i": map[string]any{"storeId": owner.StoreID, "name": "Renamed"}},
			effect: func(t *testing.T) {
				require.Equal(t, "Renamed", storeName(t), "the update was committed")
			},
		},
		{
			name: "createStaff", token: owner.Token,
			query: `mutation($i: CreateStaffInput!) { createStaff(input: $i) { staff { id merchant { id } stores { id } } } }`,
			vars:  map[string]any{"i": map[string]any{"name": "Cashier", "role": "CASHIER", "pin": "4821", "storeIds": []string{owner.StoreID}}},
		},
		{
			name:  "logIn",
			query: `mutation($i: LogInInput!) { logIn(input: $i) { accessToken viewer { stores { id staff { totalCount } } } } }`,
			vars:  map[string]any{"i": map[string]any{"email": owner.Email, "password": tilltest.Password}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := env.Exec(t, tc.token, tc.query, tc.vars)
			if tc.effect != nil {
				tc.effect(t)
			}
			require.Empty(t, res.Errors, "the mutation ran; its payload must resolve: %s", res.Data)
			require.NotEqual(t, "null", string(res.Data))
		})
	}
}

// node(id:) and nodes(ids:) find objects by their global ID, whether the
// ID comes inline or as a variable.
func TestHTTPNodeLookup(t *testing.T) {
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
	}{
		{"node inline", `{ node(id: "` + owner.StoreID + `") { id ... on Store { name } } }`, nil},
		{"node variable", `query($id: ID!) { node(id: $id) { id ... on Store { name } } }`, map[string]any{"id": owner.StoreID}},
		{"nodes, one id", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{owner.StoreID}}},
		{"nodes, two ids", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{owner.StoreID, owner.ID}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := env.Exec(t, owner.Token, tc.query, tc.vars)
			require.Empty(t, res.Errors)
			require.Contains(t, string(res.Data), owner.StoreID)
		})
	}
}
