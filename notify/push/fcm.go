package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/option"
)

const (
	// messagingScope is all the FCM v1 API needs; the SDK's default scopes
	// would also grant Firestore, Storage and Auth.
	messagingScope = "https://www.googleapis.com/auth/firebase.messaging"
	// multicastLimit is the most tokens one FCM multicast takes.
	multicastLimit = 500
	// tokenFetchTimeout bounds an OAuth token request, which no caller's
	// deadline covers: the token source outlives NewFCM's context.
	tokenFetchTimeout = 30 * time.Second
	// FCM's payload limits; a payload over them is refused for every token.
	maxPayload     = 4096
	maxCollapseKey = 64 // apns-collapse-id
)

// FCM sends through Firebase Cloud Messaging as a service account.
type FCM struct {
	client *messaging.Client
	tokens oauth2.TokenSource // the one the SDK uses, so a fetched token is shared
}

var _ Sender = (*FCM)(nil)

// NewFCM returns a sender authenticated by the service-account key in
// credentialsFile, for the Firebase project named in it. opts go to the
// SDK after the credentials (tests point option.WithEndpoint at a stand-in).
// No request is made until the first Send.
func NewFCM(ctx context.Context, credentialsFile string, opts ...option.ClientOption) (*FCM, error) {
	key, err := os.ReadFile(credentialsFile)
	if err != nil {
		return nil, fmt.Errorf("reading firebase credentials: %w", err)
	}
	var account struct {
		ProjectID string `json:"project_id"`
	}
	if err := json.Unmarshal(key, &account); err != nil {
		return nil, fmt.Errorf("parsing firebase credentials %s: %w", credentialsFile, err)
	}
	if account.ProjectID == "" {
		return nil, fmt.Errorf("firebase credentials %s: no project_id", credentialsFile)
	}
	// JWTConfigFromJSON accepts only a service-account key, where the
	// generic loaders would also run commands or call URLs a file names.
	conf, err := google.JWTConfigFromJSON(key, messagingScope)
	if err != nil {
		return nil, fmt.Errorf("firebase credentials %s: %w", credentialsFile, err)
	}
	tctx := context.WithoutCancel(ctx)
	if tctx.Value(oauth2.HTTPClient) == nil {
		tctx = context.WithValue(tctx, oauth2.HTTPClient, &http.Client{Timeout: tokenFetchTimeout})
	}
	tokens := conf.TokenSource(tctx)
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: account.ProjectID},
		append([]option.ClientOption{option.WithTokenSource(tokens)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating firebase app: %w", err)
	}
	client, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating firebase messaging client: %w", err)
	}
	return &FCM{client: client, tokens: tokens}, nil
}

// Send implements Sender. FCM's v1 API takes one token per request, so
// Send makes one per distinct token (50 at a time, by the SDK); the SDK
// retries a 503 itself, honouring Retry-After up to two minutes, so ctx
// should carry a deadline.
func (f *FCM) Send(ctx context.Context, m Message) (Result, error) {
	if err := check(m); err != nil {
		return Result{}, &sendError{err: fmt.Errorf("sending push: %w", err), permanent: true}
	}
	tokens := distinct(m.Targets)
	if len(tokens) == 0 {
		return Result{}, nil
	}
	// Fetch the access token once up front: when it fails, every message
	// would fail on its own, each after the SDK's retries.
	if _, err := f.tokens.Token(); err != nil {
		return Result{}, &sendError{err: fmt.Errorf("getting an FCM access token: %w", err), permanent: clientFault(retrieveStatus(err))}
	}

	var res Result
	var unanswered []string // tokens FCM gave no verdict on
	var refusal, unreached error
	mm := multicast(m)
	for chunk := range slices.Chunk(tokens, multicastLimit) {
		mm.Tokens = chunk
		br, err := f.client.SendEachForMulticast(ctx, mm)
		if err != nil { // only the SDK's own validation fails a whole batch
			return Result{}, &sendError{err: fmt.Errorf("sending push: %w", err), permanent: true}
		}
		for i, r := range br.Responses {
			token := chunk[i]
			switch {
			case r.Success:
				res.Sent = append(res.Sent, token)
			case errorutils.HTTPResponse(r.Error) == nil: // no HTTP answer: network, deadline
				unanswered = append(unanswered, token)
				if unreached == nil {
					unreached = r.Error
				}
			case messaging.IsUnregistered(r.Error),
				messaging.IsInvalidArgument(r.Error) && !payloadFault(r.Error):
				res.Invalid = append(res.Invalid, token)
			case messaging.IsQuotaExceeded(r.Error), messaging.IsUnavailable(r.Error), messaging.IsInternal(r.Error),
				errorutils.IsResourceExhausted(r.Error), errorutils.IsUnavailable(r.Error), errorutils.IsInternal(r.Error):
				res.Retry = append(res.Retry, token)
				res.RetryAfter = max(res.RetryAfter, retryAfter(r.Error))
			default: // FCM refused the sender, not the token: credentials, permission, payload
				unanswered = append(unanswered, token)
				if refusal == nil {
					refusal = r.Error
				}
			}
		}
	}
	if len(unanswered) == 0 {
		return res, nil
	}
	if len(res.Sent)+len(res.Invalid)+len(res.Retry) == 0 {
		if refusal != nil {
			return Result{}, &sendError{err: fmt.Errorf("sending push: %w", refusal), permanent: clientFault(errorutils.HTTPResponse(refusal).StatusCode)}
		}
		return Result{}, &sendError{err: fmt.Errorf("sending push: %w", unreached)}
	}
	// Others got through, so the request as a whole works: what failed here
	// is one platform's setup (an expired APNs key) or a network blip.
	res.Retry = append(res.Retry, unanswered...)
	return res, nil
}

// multicast builds the message for every platform at once: FCM applies the
// block for the token's platform and ignores the others.
func multicast(m Message) *messaging.MulticastMessage {
	sound := m.Sound
	if sound == "" {
		sound = "default"
	}
	// Priority 10 shows the alert now instead of when the phone next wakes.
	apnsHeaders := map[string]string{"apns-priority": "10"}
	var web *messaging.WebpushNotification
	if m.CollapseKey != "" {
		apnsHeaders["apns-collapse-id"] = m.CollapseKey
		web = &messaging.WebpushNotification{Tag: m.CollapseKey}
	}
	return &messaging.MulticastMessage{
		Data:         m.Data,
		Notification: &messaging.Notification{Title: m.Title, Body: m.Body},
		Android: &messaging.AndroidConfig{
			// High priority wakes a dozing phone; normal may wait for minutes.
			Priority: "high",
			// collapse_key replaces a message still queued at FCM; the tag
			// replaces the notification already on screen.
			CollapseKey:  m.CollapseKey,
			Notification: &messaging.AndroidNotification{ChannelID: m.ChannelID, Tag: m.CollapseKey},
		},
		APNS: &messaging.APNSConfig{
			Headers: apnsHeaders,
			Payload: &messaging.APNSPayload{Aps: &messaging.Aps{Sound: sound, ThreadID: m.ChannelID}},
		},
		Webpush: &messaging.WebpushConfig{
			Headers:      map[string]string{"Urgency": "high"},
			Notification: web,
		},
	}
}

// check refuses what FCM would answer with INVALID_ARGUMENT for every
// token, which Send could not tell from every token being stale.
func check(m Message) error {
	if len(m.CollapseKey) > maxCollapseKey {
		return fmt.Errorf("collapse key is %d bytes, APNs allows %d", len(m.CollapseKey), maxCollapseKey)
	}
	size := len(m.Title) + len(m.Body)
	for k, v := range m.Data {
		if k == "from" || k == "message_type" || strings.HasPrefix(k, "google") || strings.HasPrefix(k, "gcm") {
			return fmt.Errorf("data key %q is reserved by FCM", k)
		}
		size += len(k) + len(v)
	}
	if size > maxPayload {
		return fmt.Errorf("payload is %d bytes, FCM allows %d", size, maxPayload)
	}
	return nil
}

// payloadFault reports whether an INVALID_ARGUMENT names a field of the
// message other than the token: then the message is at fault, not the token.
func payloadFault(err error) bool {
	resp := errorutils.HTTPResponse(err)
	body, rerr := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(body)) // leave it readable for whoever logs err
	if rerr != nil {
		return false
	}
	var e struct {
		Error struct {
			Details []struct {
				Type       string `json:"@type"`
				Violations []struct {
					Field string `json:"field"`
				} `json:"fieldViolations"`
			} `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return false
	}
	for _, d := range e.Error.Details {
		if d.Type != "type.googleapis.com/google.rpc.BadRequest" {
			continue
		}
		for _, v := range d.Violations {
			if v.Field != "message.token" {
				return true
			}
		}
	}
	return false
}

// retryAfter is the delay err's response asked for, in seconds or as a date.
func retryAfter(err error) time.Duration {
	v := errorutils.HTTPResponse(err).Header.Get("Retry-After")
	if s, perr := strconv.Atoi(v); perr == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, perr := http.ParseTime(v); perr == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// retrieveStatus is the HTTP status of a failed OAuth token request, 0 if
// the token endpoint gave no answer.
func retrieveStatus(err error) int {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode
	}
	return 0
}

// clientFault reports whether status says the request itself is wrong
// (a revoked key answers 400 invalid_grant, a missing role 403), so
// sending it again gets the same answer.
func clientFault(status int) bool {
	return status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests
}

// distinct returns the targets' tokens once each, in order, so a token
// registered twice does not buzz the phone twice.
func distinct(targets []Target) []string {
	seen := make(map[string]bool, len(targets))
	tokens := make([]string, 0, len(targets))
	for _, t := range targets {
		if t.Token != "" && !seen[t.Token] {
			seen[t.Token] = true
			tokens = append(tokens, t.Token)
		}
	}
	return tokens
}

// sendError is a whole-request failure, as the outbox worker reads it.
type sendError struct {
	err       error
	permanent bool
}

func (e *sendError) Error() string   { return e.err.Error() }
func (e *sendError) Unwrap() error   { return e.err }
func (e *sendError) Permanent() bool { return e.permanent }
