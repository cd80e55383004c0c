// Package emailtest runs a real SMTP server (github.com/emersion/go-smtp)
// inside a test process, so e-mail delivery is tested against the SMTP
// protocol rather than a fake: envelope, authentication, STARTTLS and
// the server's replies.
package emailtest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/mail"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Relay is an SMTP server on 127.0.0.1 that keeps what it receives.
type Relay struct {
	// Addr is host:port; Port the port.
	Addr string
	Port int

	mu       sync.Mutex
	messages []Message
	rcptErr  *smtp.SMTPError
	user     string
	pass     string
}

// Message is one message the relay accepted.
type Message struct {
	From string
	To   []string
	Data []byte
	// Authenticated is true when the client had logged in.
	Authenticated bool
}

// Parse parses the message's data.
func (m Message) Parse() (*mail.Message, error) { return mail.ReadMessage(bytes.NewReader(m.Data)) }

// Options configure a Relay.
type Options struct {
	// User and Password, when set, are required (AUTH PLAIN).
	User, Password string
	// Certificate, when set, is offered with STARTTLS; without it the
	// relay allows authentication in the clear.
	Certificate *tls.Certificate
}

// Start starts a relay that stops when the test ends.
func Start(t testing.TB, opts Options) *Relay {
	t.Helper()
	r := &Relay{user: opts.User, pass: opts.Password}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{r: r}, nil }))
	srv.Domain = "relay.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.AllowInsecureAuth = opts.Certificate == nil
	if opts.Certificate != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*opts.Certificate}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.Addr = ln.Addr().String()
	r.Port = ln.Addr().(*net.TCPAddr).Port
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

// RejectRecipients makes the relay answer RCPT TO with err (nil: accept).
func (r *Relay) RejectRecipients(err *smtp.SMTPError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rcptErr = err
}

// Messages returns what the relay accepted so far.
func (r *Relay) Messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.messages...)
}

type session struct {
	r     *Relay
	cur   Message
	authd bool
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.r.user || pass != s.r.pass {
			return errors.New("invalid credentials")
		}
		s.authd = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.r.user != "" && !s.authd {
		return smtp.ErrAuthRequired
	}
	s.cur = Message{From: from, Authenticated: s.authd}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.r.mu.Lock()
	rerr := s.r.rcptErr
	s.r.mu.Unlock()
	if rerr != nil {
		return rerr
	}
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *session) Data(rd io.Reader) error {
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	s.cur.Data = b
	s.r.mu.Lock()
	s.r.messages = append(s.r.messages, s.cur)
	s.r.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = Message{} }
func (s *session) Logout() error { return nil }
