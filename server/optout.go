package server

import (
	"encoding/json"
	"html/template"
	"io"
	"net/http"

	"github.com/tillpos/till/campaigns"
)

// optOutRoutes serves what customers use to opt out of campaigns: the
// unsubscribe link in an email and the SMS provider's webhook for replies.
// Neither is authenticated as staff: the link carries a signed token, the
// webhook a signature over its body.
func (s *Server) optOutRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /unsubscribe", s.unsubscribePage)
	mux.Handle("POST /unsubscribe", limitBody(4<<10, http.HandlerFunc(s.unsubscribe)))
	mux.Handle("POST /sms/inbound", limitBody(64<<10, http.HandlerFunc(s.smsInbound)))
}

var unsubscribeHTML = template.Must(template.New("unsubscribe").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Unsubscribe</title></head><body>
{{if .Done}}<p>You are unsubscribed. You will get no more of these emails.</p>
{{else if .Invalid}}<p>This unsubscribe link is not valid.</p>
{{else}}<form method="post" action="/unsubscribe"><input type="hidden" name="t" value="{{.Token}}">
<p>Stop getting these emails?</p><button type="submit">Unsubscribe</button></form>
{{end}}</body></html>
`))

type unsubscribeView struct {
	Token         string
	Done, Invalid bool
}

func writeUnsubscribe(w http.ResponseWriter, status int, v unsubscribeView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = unsubscribeHTML.Execute(w, v)
}

// unsubscribePage asks before it acts: mail scanners open links, and must
// not unsubscribe anyone by doing so.
func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("t")
	if s.Campaigns.CheckUnsubscribe(token) != nil {
		writeUnsubscribe(w, http.StatusBadRequest, unsubscribeView{Invalid: true})
		return
	}
	writeUnsubscribe(w, http.StatusOK, unsubscribeView{Token: token})
}

// unsubscribe acts on the page's form and on mail apps' one-click POST
// (RFC 8058) to the List-Unsubscribe link, whose token is in the query.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("t")
	if token == "" {
		token = r.PostFormValue("t")
	}
	if s.Campaigns.CheckUnsubscribe(token) != nil {
		writeUnsubscribe(w, http.StatusBadRequest, unsubscribeView{Invalid: true})
		return
	}
	if err := s.Campaigns.Unsubscribe(r.Context(), token); err != nil {
		s.log.ErrorContext(r.Context(), "unsubscribe", "err", err)
		http.Error(w, "try again later", http.StatusInternalServerError)
		return
	}
	writeUnsubscribe(w, http.StatusOK, unsubscribeView{Done: true})
}

// smsInbound takes the SMS provider's inbound messages, signed with the
// deployment's secret; a STOP opts the sender out. A failure answers 500
// so that the provider retries.
func (s *Server) smsInbound(w http.ResponseWriter, r *http.Request) {
	if s.cfg.SMSInboundSecret == "" {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body too large"})
		return
	}
	if !campaigns.VerifyInbound([]byte(s.cfg.SMSInboundSecret), r.Header.Get("X-Till-Timestamp"),
		r.Header.Get("X-Till-Signature"), body, s.Campaigns.Now()) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "bad signature"})
		return
	}
	var in struct{ From, Body string }
	if err := json.Unmarshal(body, &in); err != nil || in.From == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"from","body"}`})
		return
	}
	n, err := s.Campaigns.InboundSMS(r.Context(), in.From, in.Body)
	if err != nil {
		s.log.ErrorContext(r.Context(), "sms inbound", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "try again later"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"optedOut": n})
}
