// Package webhook delivers notifications as signed HTTP POSTs following
// the Standard Webhooks specification (https://www.standardwebhooks.com):
// headers webhook-id (the delivery's idempotency key), webhook-timestamp
// (Unix seconds of this attempt) and webhook-signature ("v1,"
// base64(HMAC-SHA256(secret, id.timestamp.body))). Signing and the
// signature check are the reference Go library's, so a receiver using any
// Standard Webhooks library in any language verifies our requests.
//
// A webhook URL is chosen by users, so the sender is a server-side request
// forgery risk: it could be pointed at the cloud metadata service, the
// database or an admin page on the MSP's own network. The Guard refuses
// loopback, private, link-local, shared (CGNAT), multicast and unspecified
// addresses unless they are explicitly allowed, and it checks the address
// actually dialled (after DNS resolution, at connect time), so DNS
// rebinding does not get around it. Redirects are not followed, proxies
// from the environment are not used, every attempt has a timeout and only
// a bounded part of the response is read.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/patchring/patchring/internal/notify"
	"github.com/patchring/patchring/internal/patch"
)

// Standard Webhooks header names.
const (
	HeaderID        = standardwebhooks.HeaderWebhookID
	HeaderTimestamp = standardwebhooks.HeaderWebhookTimestamp
	HeaderSignature = standardwebhooks.HeaderWebhookSignature
)

// Tolerance is how far a webhook-timestamp may be from the receiver's
// clock before Verify refuses it (replay protection).
const Tolerance = 5 * time.Minute

// Sign returns the webhook-signature header value for a body.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return wh.Sign(id, ts, body)
}

// Verification errors.
var (
	ErrMissingHeaders = errors.New("webhook-id, webhook-timestamp and webhook-signature headers are required")
	ErrBadTimestamp   = errors.New("webhook-timestamp is not Unix seconds")
	ErrTooOld         = errors.New("webhook-timestamp is too old (replayed?)")
	ErrTooNew         = errors.New("webhook-timestamp is too far in the future")
	ErrBadSignature   = errors.New("no webhook-signature matches the body")
	ErrBadSecret      = errors.New("the signing secret must be whsec_ followed by base64")
)

// Verify checks a received webhook, for receivers written in Go: the
// three headers are present, the timestamp is within Tolerance of now,
// and one of the signatures is the body's under secret. now is the
// receiver's clock (time.Now()). Receivers must verify the raw body bytes
// before decoding them, and should drop repeats by the webhook-id header.
func Verify(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, sig := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sig == "" {
		return ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(ts) > 12 {
		return ErrBadTimestamp
	}
	switch at := time.Unix(sec, 0); {
	case now.Sub(at) > Tolerance:
		return ErrTooOld
	case at.Sub(now) > Tolerance:
		return ErrTooNew
	}
	if !strings.HasPrefix(secret, notify.SecretPrefix) {
		return ErrBadSecret
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil || len(secret) == len(notify.SecretPrefix) {
		return ErrBadSecret
	}
	// The library checks the timestamp against its own clock; ours was
	// checked above against the receiver's.
	if err := wh.VerifyIgnoringTimestamp(body, h); err != nil {
		return ErrBadSignature
	}
	return nil
}

// Guard decides which addresses webhooks may reach. The zero Guard
// allows only public unicast addresses.
type Guard struct {
	// Allow lists networks allowed even though they are not public (an
	// on-premises PSA at 10.0.4.20, or 127.0.0.0/8 in tests).
	Allow []netip.Prefix
}

// nonPublic are ranges that are not the public internet beyond what
// netip's predicates cover.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network"
	netip.MustParsePrefix("100.64.0.0/10"), // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),  // NAT64: may reach IPv4 private space
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"), // 6to4: embeds any IPv4 address
}

// Allowed reports whether a webhook may connect to ip.
func (g Guard) Allowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range g.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || ip.Zone() != "" {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// errRefused marks a destination the guard refused.
var errRefused = errors.New("destination refused")

// control is the dialer's check of the address actually dialled.
func (g Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse %q", errRefused, address)
	}
	if !g.Allowed(ap.Addr()) {
		return fmt.Errorf("%w: %s is a loopback, private, link-local or otherwise non-public address (allow it with --notify-allow-network)", errRefused, ap.Addr())
	}
	return nil
}

// CheckURL checks a webhook URL against the guard before it is stored:
// its shape; plain http only to an IP address the guard allows
// explicitly; and an IP-literal host must be allowed. Host names are
// checked when dialled (their addresses may change).
func (g Guard) CheckURL(raw string) error {
	if err := patch.ValidateWebhookURL("url", raw); err != nil {
		return err
	}
	u, _ := url.Parse(raw)
	host := u.Hostname()
	ip, err := netip.ParseAddr(host)
	isIP := err == nil
	if isIP && !g.Allowed(ip) {
		return patch.FieldError("url", "points at %s, a loopback, private, link-local or otherwise non-public address; the server refuses those unless allowed with --notify-allow-network", ip)
	}
	if u.Scheme == "http" {
		explicit := false
		for _, p := range g.Allow {
			explicit = explicit || (isIP && p.Contains(ip.Unmap()))
		}
		if !explicit {
			return patch.FieldError("url", "must use https:// (plain http is accepted only for an IP address in an allowed network)")
		}
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return patch.FieldError("url", "must not point at localhost")
	}
	return nil
}

// Options configure a Sender.
type Options struct {
	Guard Guard
	// Timeout bounds one attempt (connect, TLS, request, response);
	// 10 seconds when zero.
	Timeout time.Duration
	// MaxResponse bounds how much of a response is read; 64 KiB when zero.
	MaxResponse int64
	// Now is the clock for webhook-timestamp; time.Now when nil.
	Now       func() time.Time
	UserAgent string
}

// Sender posts webhooks. It implements notify.Sender and
// notify.ChannelValidator.
type Sender struct {
	guard   Guard
	client  *http.Client
	timeout time.Duration
	max     int64
	now     func() time.Time
	ua      string
}

var (
	_ notify.Sender           = (*Sender)(nil)
	_ notify.ChannelValidator = (*Sender)(nil)
)

// New returns a Sender.
func New(opts Options) *Sender {
	s := &Sender{guard: opts.Guard, timeout: opts.Timeout, max: opts.MaxResponse, now: opts.Now, ua: opts.UserAgent}
	if s.timeout <= 0 {
		s.timeout = 10 * time.Second
	}
	if s.max <= 0 {
		s.max = 64 << 10
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ua == "" {
		s.ua = "Patchring-Webhooks/1"
	}
	dialer := &net.Dialer{Timeout: s.timeout, Control: s.guard.control}
	tr := &http.Transport{
		Proxy:                  nil, // never an environment proxy: the guard must see the real destination
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    s.timeout,
		ResponseHeaderTimeout:  s.timeout,
		MaxIdleConns:           20,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 16 << 10,
	}
	s.client = &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect could lead past the guard
		},
	}
	return s
}

// ValidateChannel checks a webhook channel's URL against the guard.
func (s *Sender) ValidateChannel(ch *patch.Channel) error {
	return s.guard.CheckURL(ch.URL)
}

// Send posts one attempt. 2xx is success; other statuses and network
// errors are retried, except a refused destination and 410 Gone.
func (s *Sender) Send(ctx context.Context, m *notify.Message) error {
	if err := s.guard.CheckURL(m.Channel.URL); err != nil {
		return notify.Permanent(err)
	}
	body, err := notify.Body(m)
	if err != nil {
		return notify.Permanent(err)
	}
	id := string(m.DeliveryID)
	ts := s.now()
	sig, err := Sign(m.Secret, id, ts, body)
	if err != nil {
		return notify.Permanent(err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Channel.URL, bytes.NewReader(body))
	if err != nil {
		return notify.Permanent(fmt.Errorf("build request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.ua)
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, errRefused) {
			return notify.Permanent(errors.Unwrap(err))
		}
		return &notify.SendError{Err: fmt.Errorf("POST %s: %w", redact(m.Channel.URL), errors.Unwrap(err))}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, s.max))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	se := &notify.SendError{Status: resp.StatusCode, Err: fmt.Errorf("the receiver answered %s%s", resp.Status, excerpt(snippet))}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		se.Err = fmt.Errorf("the receiver redirected to %q; redirects are not followed, configure the final URL", resp.Header.Get("Location"))
	case resp.StatusCode == http.StatusGone:
		se.Permanent = true
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		se.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), s.now())
	}
	return se
}

// excerpt is the start of a response body for the delivery's last error.
func excerpt(b []byte) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	if s == "" {
		return ""
	}
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return ": " + s
}

// redact drops the query of a URL (it may carry a receiver's token).
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the webhook URL"
	}
	u.RawQuery = ""
	return u.String()
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(min(n, 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}
