// Package email delivers notifications as plain-text e-mail through the
// MSP's SMTP relay, with github.com/wneessen/go-mail.
//
// The relay is configured once for the server (Config), not per channel:
// an MSP has one outbound relay, and its credentials are operator
// configuration rather than data a client owner could read back. Each
// delivery is one message to all of the channel's recipients; its
// Message-ID is derived from the delivery ID, so a message sent twice
// (at-least-once delivery) carries the same Message-ID and mail systems
// can recognise the repeat.
package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/patchring/patchring/internal/notify"
	"github.com/patchring/patchring/internal/patch"
)

// TLS modes.
const (
	TLSStartTLS = "starttls" // STARTTLS required (submission port 587)
	TLSImplicit = "tls"      // TLS from the first byte (port 465)
	TLSNone     = "none"     // no encryption: only for a relay on the same host or network
)

// Config is the SMTP relay.
type Config struct {
	Host string
	// Port is 587 when zero (465 with TLSImplicit).
	Port     int
	Username string
	Password string
	// From is the sender address ("Patchring <patchring@msp.example>").
	From string
	// TLS is starttls (default), tls or none.
	TLS string
	// TLSConfig, when set, verifies the relay (a private CA's RootCAs);
	// the system roots and Host as the server name otherwise.
	TLSConfig *tls.Config
	// Timeout bounds connecting and each SMTP command; 15 s when zero.
	Timeout time.Duration
	// Now dates messages; time.Now when nil.
	Now func() time.Time
}

// Sender sends notification e-mail. It implements notify.Sender and
// notify.ChannelValidator.
type Sender struct {
	cfg    Config
	domain string
}

var (
	_ notify.Sender           = (*Sender)(nil)
	_ notify.ChannelValidator = (*Sender)(nil)
)

// New checks cfg and returns a Sender.
func New(cfg Config) (*Sender, error) {
	if cfg.Host == "" {
		return nil, errors.New("smtp host is required")
	}
	switch cfg.TLS {
	case "":
		cfg.TLS = TLSStartTLS
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return nil, fmt.Errorf("smtp tls mode must be starttls, tls or none (got %q)", cfg.TLS)
	}
	if cfg.Port == 0 {
		cfg.Port = 587
		if cfg.TLS == TLSImplicit {
			cfg.Port = 465
		}
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("smtp port %d is out of range", cfg.Port)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtp from address %q: %w", cfg.From, err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	domain := "patchring.invalid"
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 && i < len(from.Address)-1 {
		domain = from.Address[i+1:]
	}
	return &Sender{cfg: cfg, domain: domain}, nil
}

// ValidateChannel accepts every e-mail channel: the relay is configured.
func (s *Sender) ValidateChannel(*patch.Channel) error { return nil }

// Message builds the e-mail of a notification.
func (s *Sender) Message(m *notify.Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return nil, notify.Permanent(fmt.Errorf("sender address: %w", err))
	}
	if err := msg.To(m.Channel.Recipients...); err != nil {
		return nil, notify.Permanent(fmt.Errorf("recipients: %w", err))
	}
	subject, body := notify.Text(m)
	msg.Subject(subject)
	msg.SetMessageIDWithValue(string(m.DeliveryID) + "@" + s.domain)
	msg.SetDateWithValue(s.cfg.Now())
	msg.SetGenHeader(gomail.HeaderXMailer, "Patchring")
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBulk()
	msg.SetBodyString(gomail.TypeTextPlain, body)
	return msg, nil
}

// Send sends one attempt. SMTP's own classification decides retries:
// 4xx replies and connection failures are retried, 5xx replies (a
// rejected recipient or sender) are given up.
func (s *Sender) Send(ctx context.Context, m *notify.Message) error {
	msg, err := s.Message(m)
	if err != nil {
		return err
	}
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(s.cfg.Timeout)}
	switch s.cfg.TLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.cfg.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(s.cfg.TLSConfig))
	}
	if s.cfg.Username != "" {
		auth := gomail.SMTPAuthPlain
		if s.cfg.TLS == TLSNone {
			auth = gomail.SMTPAuthPlainNoEnc // the operator chose an unencrypted relay
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	c, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return notify.Permanent(fmt.Errorf("smtp client: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, 2*s.cfg.Timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		se := &notify.SendError{Err: fmt.Errorf("smtp %s:%d: %w", s.cfg.Host, s.cfg.Port, err)}
		var sendErr *gomail.SendError
		if errors.As(err, &sendErr) {
			se.Status = sendErr.ErrorCode()
			se.Permanent = se.Status >= 500 && !sendErr.IsTemp()
		}
		return se
	}
	return nil
}
