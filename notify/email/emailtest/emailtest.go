// Package emailtest runs a real SMTP server (github.com/emersion/go-smtp)
// on 127.0.0.1 for tests, recording what it accepts and rejecting on cue.
package emailtest

import (
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Envelope is one accepted message.
type Envelope struct {
	// User is who authenticated, "" if nobody did.
	User string
	From string
	To   []string
	Data []byte
}

// Server is a running SMTP server.
type Server struct {
	Host string
	Port int

	mu       sync.Mutex
	users    map[string]string
	accepted []Envelope
	reject   map[string]*smtp.SMTPError
}

// Start serves SMTP on 127.0.0.1:0 until the test ends. With users
// (username → password) set, AUTH PLAIN is required before MAIL.
func Start(t testing.TB, users map[string]string) *Server {
	t.Helper()
	s := &Server{users: users, reject: map[string]*smtp.SMTPError{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{srv: s}, nil
	}))
	srv.Domain = "localhost"
	// Tests talk plain TCP to 127.0.0.1; there is nothing to eavesdrop.
	srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l) //nolint:errcheck // returns when closed
	t.Cleanup(func() { srv.Close() })
	addr := l.Addr().(*net.TCPAddr)
	s.Host, s.Port = addr.IP.String(), addr.Port
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Reject makes RCPT TO rcpt fail with the SMTP reply code and message.
func (s *Server) Reject(rcpt string, code int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject[rcpt] = &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: msg}
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Envelope(nil), s.accepted...)
}

type session struct {
	srv  *Server
	user string
	env  Envelope
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if want, ok := s.srv.users[user]; !ok || want != pass {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if len(s.srv.users) > 0 && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.env = Envelope{User: s.user, From: from}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.srv.mu.Lock()
	rej := s.srv.reject[to]
	s.srv.mu.Unlock()
	if rej != nil {
		return rej
	}
	s.env.To = append(s.env.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(s.env.To) == 0 {
		return errors.New("no recipients")
	}
	s.env.Data = b
	s.srv.mu.Lock()
	s.srv.accepted = append(s.srv.accepted, s.env)
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.env = Envelope{User: s.user} }
func (s *session) Logout() error { return nil }
