// Package fcmtest stands in for Google in tests of push senders: one HTTP
// server plays both the OAuth token endpoint, which the real Firebase SDK
// asks for an access token with a fake service-account key, and the FCM v1
// endpoint, which records each message and answers as scripted per token.
package fcmtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/api/option"
)

// projectID is the Firebase project of the server's credentials.
const projectID = "till-test"

// FCM error codes (the errorCode of a google.firebase.fcm.v1.FcmError) a
// Reply can answer with.
const (
	Unregistered        = "UNREGISTERED"
	InvalidArgument     = "INVALID_ARGUMENT"
	QuotaExceeded       = "QUOTA_EXCEEDED"
	Unavailable         = "UNAVAILABLE"
	Internal            = "INTERNAL"
	SenderIDMismatch    = "SENDER_ID_MISMATCH"
	ThirdPartyAuthError = "THIRD_PARTY_AUTH_ERROR"
)

// statuses are the HTTP status and canonical status FCM sends with each code.
var statuses = map[string]struct {
	code   int
	status string
}{
	Unregistered:        {http.StatusNotFound, "NOT_FOUND"},
	InvalidArgument:     {http.StatusBadRequest, "INVALID_ARGUMENT"},
	QuotaExceeded:       {http.StatusTooManyRequests, "RESOURCE_EXHAUSTED"},
	Unavailable:         {http.StatusServiceUnavailable, "UNAVAILABLE"},
	Internal:            {http.StatusInternalServerError, "INTERNAL"},
	SenderIDMismatch:    {http.StatusForbidden, "PERMISSION_DENIED"},
	ThirdPartyAuthError: {http.StatusUnauthorized, "UNAUTHENTICATED"},
}

const (
	clientEmail     = "till-push@" + projectID + ".iam.gserviceaccount.com"
	messagingScope  = "https://www.googleapis.com/auth/firebase.messaging"
	platformScope   = "https://www.googleapis.com/auth/cloud-platform"
	jwtBearerGrant  = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	fcmErrorType    = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
	badRequestType  = "type.googleapis.com/google.rpc.BadRequest"
	accessTokenLife = 3600
)

// Reply is one scripted answer to a message for a token.
type Reply struct {
	// ErrorCode is one of the codes above; "" answers success.
	ErrorCode string
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Field, when set, adds a google.rpc.BadRequest naming it, as FCM does
	// when the message rather than the token is invalid.
	Field string
}

// Request is one message the FCM endpoint received.
type Request struct {
	At    time.Time      // when it arrived
	Token string         // message.token
	Body  map[string]any // the JSON body, decoded
	Raw   []byte
}

// Server is the stand-in. Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's base URL.
	URL string

	srv                  *httptest.Server
	credentials, revoked string
	accessToken          string

	mu        sync.Mutex
	replies   map[string][]Reply
	requests  []Request
	grants    int
	onMessage func(Request)
}

// keys are generated once per test binary: RSA generation is slow.
var keys = sync.OnceValues(func() ([2]*rsa.PrivateKey, error) {
	var k [2]*rsa.PrivateKey
	for i := range k {
		var err error
		if k[i], err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return k, err
		}
	}
	return k, nil
})

// NewServer starts a stand-in that lives until the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	k, err := keys()
	if err != nil {
		t.Fatalf("generating service account keys: %v", err)
	}
	trusted, untrusted := k[0], k[1]
	s := &Server{accessToken: "ya29.test-" + rand.Text(), replies: map[string][]Reply{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) { s.token(w, r, &trusted.PublicKey) })
	mux.HandleFunc("POST /v1/projects/{project}/messages:send", s.send)
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	s.URL = s.srv.URL

	dir := t.TempDir()
	s.credentials = writeCredentials(t, filepath.Join(dir, "service-account.json"), s.tokenURI(), trusted)
	s.revoked = writeCredentials(t, filepath.Join(dir, "revoked-service-account.json"), s.tokenURI(), untrusted)
	return s
}

// CredentialsFile is a service-account key file the server accepts, with
// its token_uri pointing at the server.
func (s *Server) CredentialsFile() string { return s.credentials }

// RevokedCredentialsFile is the same account's file with a key the server
// does not know: the token endpoint answers 400 invalid_grant, as Google
// does for a deleted key.
func (s *Server) RevokedCredentialsFile() string { return s.revoked }

// ClientOptions point the Firebase SDK's FCM client at the server.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(s.URL + "/v1")}
}

// Close stops the server before the test ends, to make Google unreachable.
func (s *Server) Close() { s.srv.Close() }

// Respond scripts the answers to messages for token, in order; the last
// one repeats. Tokens never scripted are accepted.
func (s *Server) Respond(token string, replies ...Reply) {
	for _, r := range replies {
		if _, ok := statuses[r.ErrorCode]; r.ErrorCode != "" && !ok {
			panic("fcmtest: unknown error code " + r.ErrorCode)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies[token] = replies
}

// OnMessage calls fn with each message as it arrives, before answering it.
func (s *Server) OnMessage(fn func(Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onMessage = fn
}

// Requests returns the messages received so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// RequestsFor returns the messages received for token.
func (s *Server) RequestsFor(token string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Token == token {
			out = append(out, r)
		}
	}
	return out
}

// TokenRequests counts the access-token requests, granted or not.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.grants
}

func (s *Server) tokenURI() string { return s.URL + "/token" }

// token checks the signed JWT assertion the way Google's endpoint does.
func (s *Server) token(w http.ResponseWriter, r *http.Request, key *rsa.PublicKey) {
	s.mu.Lock()
	s.grants++
	s.mu.Unlock()
	if r.PostFormValue("grant_type") != jwtBearerGrant {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "want "+jwtBearerGrant)
		return
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(r.PostFormValue("assertion"), claims,
		func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(s.tokenURI()),
		jwt.WithIssuer(clientEmail), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	scopes, _ := claims["scope"].(string)
	if f := strings.Fields(scopes); !slices.Contains(f, messagingScope) && !slices.Contains(f, platformScope) {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "scope does not allow FCM: "+scopes)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": s.accessToken, "token_type": "Bearer", "expires_in": accessTokenLife,
	}, "")
}

func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		fcmError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "", "", "")
		return
	}
	msg, _ := body["message"].(map[string]any)
	token, _ := msg["token"].(string)
	req := Request{At: at, Token: token, Body: body, Raw: raw}

	s.mu.Lock()
	s.requests = append(s.requests, req)
	onMessage := s.onMessage
	s.mu.Unlock()
	if onMessage != nil {
		onMessage(req)
	}

	switch {
	case r.Header.Get("Authorization") != "Bearer "+s.accessToken:
		fcmError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "", "", "")
	case r.PathValue("project") != projectID:
		fcmError(w, http.StatusNotFound, "NOT_FOUND", "", "", "")
	case token == "":
		fcmError(w, http.StatusBadRequest, "INVALID_ARGUMENT", InvalidArgument, "", "message.token")
	default:
		reply := s.next(token)
		if reply.ErrorCode == "" {
			writeJSON(w, http.StatusOK, map[string]string{
				"name": fmt.Sprintf("projects/%s/messages/%d", projectID, at.UnixNano()),
			}, "")
			return
		}
		st := statuses[reply.ErrorCode]
		fcmError(w, st.code, st.status, reply.ErrorCode, reply.RetryAfter, reply.Field)
	}
}

// next pops the scripted reply for token, keeping the last one.
func (s *Server) next(token string) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.replies[token]
	if len(q) == 0 {
		return Reply{}
	}
	if len(q) > 1 {
		s.replies[token] = q[1:]
	}
	return q[0]
}

// fcmError writes the error body FCM sends: a google.rpc.Status with an
// FcmError detail when errorCode is set.
func fcmError(w http.ResponseWriter, code int, status, errorCode, retryAfter, field string) {
	var details []any
	if errorCode != "" {
		details = append(details, map[string]string{"@type": fcmErrorType, "errorCode": errorCode})
	}
	if field != "" {
		details = append(details, map[string]any{
			"@type":           badRequestType,
			"fieldViolations": []map[string]string{{"field": field, "description": "Invalid value"}},
		})
	}
	writeJSON(w, code, map[string]any{"error": map[string]any{
		"code": code, "message": "fcmtest: " + strings.ToLower(status), "status": status, "details": details,
	}}, retryAfter)
}

func oauthError(w http.ResponseWriter, code int, kind, description string) {
	writeJSON(w, code, map[string]string{"error": kind, "error_description": description}, "")
}

func writeJSON(w http.ResponseWriter, code int, v any, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeCredentials(t testing.TB, path, tokenURI string, key *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("encoding service account key: %v", err)
	}
	b, err := json.MarshalIndent(map[string]string{
		"type":           "service_account",
		"project_id":     projectID,
		"private_key_id": "fcmtest-key",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   clientEmail,
		"client_id":      "100000000000000000000",
		"token_uri":      tokenURI,
	}, "", "  ")
	if err != nil {
		t.Fatalf("encoding service account file: %v", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("writing service account file: %v", err)
	}
	return path
}
