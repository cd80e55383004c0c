package email_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/patchring/patchring/internal/email"
	"github.com/patchring/patchring/internal/email/emailtest"
	"github.com/patchring/patchring/internal/notify"
	"github.com/patchring/patchring/internal/patch"
)

func message(recipients ...string) *notify.Message {
	at := time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)
	return &notify.Message{
		DeliveryID: "ndl_01TEST",
		Channel:    &patch.Channel{ID: "nch_1", Name: "Owner mail", Kind: patch.ChannelEmail, Enabled: true, Recipients: recipients},
		Event: &patch.NotificationEvent{
			ID: "nev_1", Type: patch.EventAlertRaised, ClientID: "cli_1", ClientName: "Alpha Clinic", Source: "alert", SourceID: "alr_1",
			Kind: "updates_failed", Severity: patch.AlertCritical, Summary: "ws-1: 3 failed installs",
			Alert: &patch.Alert{ID: "alr_1", ClientID: "cli_1", Kind: "updates_failed", Severity: patch.AlertCritical, SubjectType: "asset",
				SubjectID: "ast_1", Message: "ws-1: 3 failed installs", Details: map[string]string{"hostname": "ws-1"}, RaisedAt: at},
			CreatedAt: at,
		},
		Attempt: 1,
	}
}

func TestSend(t *testing.T) {
	r := emailtest.Start(t, emailtest.Options{User: "patchring", Password: "relay-password"})
	now := time.Date(2026, 11, 10, 9, 0, 5, 0, time.UTC)
	s, err := email.New(email.Config{Host: "127.0.0.1", Port: r.Port, TLS: email.TLSNone, Username: "patchring", Password: "relay-password",
		From: "Patchring <patchring@msp.example>", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), message("owner@alpha.example", "it@alpha.example")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := r.Messages()
	if len(got) != 1 {
		t.Fatalf("relay received %d messages, want 1", len(got))
	}
	m := got[0]
	if m.From != "patchring@msp.example" || strings.Join(m.To, ",") != "owner@alpha.example,it@alpha.example" || !m.Authenticated {
		t.Errorf("envelope from %q to %v authenticated %v", m.From, m.To, m.Authenticated)
	}
	msg, err := m.Parse()
	if err != nil {
		t.Fatalf("parse received message: %v\n%s", err, m.Data)
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "[Patchring] CRITICAL Alert: Alpha Clinic – ws-1: 3 failed installs"; subject != want {
		t.Errorf("Subject = %q, want %q", subject, want)
	}
	if got := msg.Header.Get("Message-Id"); got != "<ndl_01TEST@msp.example>" {
		t.Errorf("Message-ID = %q: want the delivery id, the same on every attempt", got)
	}
	if d, err := msg.Header.Date(); err != nil || !d.Equal(now) {
		t.Errorf("Date = %v (%v), want %v", d, err, now)
	}
	if msg.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", msg.Header.Get("Auto-Submitted"))
	}
	body, _ := io.ReadAll(msg.Body)
	for _, want := range []string{"ws-1: 3 failed installs", "Alpha Clinic", "hostname: ws-1", "ndl_01TEST"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}

func TestSendStartTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	r := emailtest.Start(t, emailtest.Options{User: "patchring", Password: "relay-password", Certificate: &cert})
	s, err := email.New(email.Config{Host: "127.0.0.1", Port: r.Port, Username: "patchring", Password: "relay-password", From: "patchring@msp.example",
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), message("owner@alpha.example")); err != nil {
		t.Fatalf("Send over STARTTLS: %v", err)
	}
	if n := len(r.Messages()); n != 1 {
		t.Fatalf("relay received %d messages", n)
	}
	// Without trusting the relay's certificate nothing is sent.
	s, _ = email.New(email.Config{Host: "127.0.0.1", Port: r.Port, Username: "patchring", Password: "relay-password", From: "patchring@msp.example"})
	if err := s.Send(t.Context(), message("owner@alpha.example")); err == nil {
		t.Error("Send to an untrusted relay succeeded")
	}
	if n := len(r.Messages()); n != 1 {
		t.Errorf("relay received %d messages, want still 1", n)
	}
}

func TestSendFailures(t *testing.T) {
	tests := []struct {
		name          string
		opts          emailtest.Options
		reject        *smtp.SMTPError
		user          string
		wantPermanent bool
		wantStatus    int
	}{
		{name: "RejectedRecipient", reject: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
			wantPermanent: true, wantStatus: 550},
		{name: "TemporaryFailure", reject: &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"},
			wantStatus: 451},
		{name: "WrongPassword", opts: emailtest.Options{User: "patchring", Password: "right"}, user: "patchring"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := emailtest.Start(t, tt.opts)
			r.RejectRecipients(tt.reject)
			s, err := email.New(email.Config{Host: "127.0.0.1", Port: r.Port, TLS: email.TLSNone, Username: tt.user, Password: "wrong",
				From: "patchring@msp.example"})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(t.Context(), message("owner@alpha.example"))
			var se *notify.SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send = %v, want a *notify.SendError", err)
			}
			if se.Permanent != tt.wantPermanent || (tt.wantStatus != 0 && se.Status != tt.wantStatus) {
				t.Errorf("Send = %v (status %d, permanent %v); want status %d, permanent %v", err, se.Status, se.Permanent, tt.wantStatus, tt.wantPermanent)
			}
			if n := len(r.Messages()); n != 0 {
				t.Errorf("relay stored %d messages", n)
			}
		})
	}
	t.Run("NoRelay", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().(*net.TCPAddr)
		ln.Close()
		s, _ := email.New(email.Config{Host: "127.0.0.1", Port: addr.Port, TLS: email.TLSNone, From: "patchring@msp.example", Timeout: 2 * time.Second})
		err := s.Send(t.Context(), message("owner@alpha.example"))
		var se *notify.SendError
		if !errors.As(err, &se) || se.Permanent {
			t.Errorf("Send to a closed port = %v, want a temporary failure", err)
		}
	})
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  email.Config
		ok   bool
	}{
		{"OK", email.Config{Host: "smtp.example", From: "p@msp.example"}, true},
		{"NoHost", email.Config{From: "p@msp.example"}, false},
		{"BadFrom", email.Config{Host: "smtp.example", From: "not an address"}, false},
		{"BadTLS", email.Config{Host: "smtp.example", From: "p@msp.example", TLS: "ssl3"}, false},
		{"BadPort", email.Config{Host: "smtp.example", From: "p@msp.example", Port: 70000}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := email.New(tt.cfg)
			if (err == nil) != tt.ok {
				t.Errorf("New(%+v) = %v, want ok %v", tt.cfg, err, tt.ok)
			}
		})
	}
}

// selfSigned makes a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}
