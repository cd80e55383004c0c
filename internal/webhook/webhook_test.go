package webhook_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/patchring/patchring/internal/notify"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/webhook"
)

var loopback = webhook.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

func message(url, secret string) *notify.Message {
	at := time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)
	return &notify.Message{
		DeliveryID: "ndl_01TEST",
		Channel:    &patch.Channel{ID: "nch_1", Name: "PSA", Kind: patch.ChannelWebhook, Enabled: true, URL: url},
		Secret:     secret,
		Event: &patch.NotificationEvent{
			ID: "nev_1", Type: patch.EventTicketOpened, ClientID: "cli_1", ClientName: "Alpha Clinic", Source: "ticket", SourceID: "tkt_1",
			Kind: "cycle_halted", Severity: patch.AlertCritical, Summary: "Cycle halted in ring canary",
			Ticket:    &patch.Ticket{ID: "tkt_1", ClientID: "cli_1", Kind: patch.TicketCycleHalted, State: patch.TicketOpen, Title: "Cycle halted in ring canary", CreatedAt: at},
			CreatedAt: at,
		},
		Attempt: 1,
	}
}

// receiver is a real HTTP endpoint that verifies what it receives.
type receiver struct {
	t      *testing.T
	secret string
	now    time.Time
	mu     sync.Mutex
	bodies [][]byte
	hdrs   []http.Header
	// answer writes the response; 204 when nil.
	answer func(w http.ResponseWriter)
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rc.t.Errorf("read body: %v", err)
	}
	if err := webhook.Verify(rc.secret, r.Header, body, rc.now); err != nil {
		rc.t.Errorf("receiver: Verify = %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, body)
	rc.hdrs = append(rc.hdrs, r.Header.Clone())
	rc.mu.Unlock()
	if rc.answer != nil {
		rc.answer(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func TestSendSigned(t *testing.T) {
	secret := notify.NewSecret()
	now := time.Date(2026, 11, 10, 9, 0, 7, 0, time.UTC)
	rc := &receiver{t: t, secret: secret, now: now}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	s := webhook.New(webhook.Options{Guard: loopback, Now: func() time.Time { return now }})
	if err := s.Send(t.Context(), message(srv.URL+"/hooks/patchring?token=x", secret)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(rc.bodies) != 1 {
		t.Fatalf("receiver got %d requests", len(rc.bodies))
	}
	h := rc.hdrs[0]
	if h.Get("webhook-id") != "ndl_01TEST" || h.Get("webhook-timestamp") != strconv.FormatInt(now.Unix(), 10) || h.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", h)
	}
	// Any Standard Webhooks library verifies it: here the reference one.
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.VerifyIgnoringTimestamp(rc.bodies[0], h); err != nil {
		t.Errorf("reference library: %v", err)
	}
	var p notify.Payload
	if err := json.Unmarshal(rc.bodies[0], &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != patch.EventTicketOpened || p.Data.DeliveryID != "ndl_01TEST" || p.Data.Ticket == nil || p.Data.Ticket.ID != "tkt_1" ||
		p.Data.ClientName != "Alpha Clinic" || !p.Timestamp.Equal(time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("payload = %+v", p)
	}
	// Tampering with the body, the id or the timestamp breaks it.
	for name, mut := range map[string]func(h http.Header, b []byte) []byte{
		"Body": func(_ http.Header, b []byte) []byte { return []byte(strings.Replace(string(b), "canary", "pilot", 1)) },
		"ID":   func(h http.Header, b []byte) []byte { h.Set("webhook-id", "ndl_other"); return b },
		"Timestamp": func(h http.Header, b []byte) []byte {
			h.Set("webhook-timestamp", strconv.FormatInt(now.Unix()+1, 10))
			return b
		},
	} {
		h2 := h.Clone()
		b2 := mut(h2, append([]byte(nil), rc.bodies[0]...))
		if err := webhook.Verify(secret, h2, b2, now); !errors.Is(err, webhook.ErrBadSignature) {
			t.Errorf("tampered %s: Verify = %v, want ErrBadSignature", name, err)
		}
	}
	if err := webhook.Verify(notify.NewSecret(), h, rc.bodies[0], now); !errors.Is(err, webhook.ErrBadSignature) {
		t.Errorf("other secret: Verify = %v", err)
	}
	if err := webhook.Verify(secret, h, rc.bodies[0], now.Add(6*time.Minute)); !errors.Is(err, webhook.ErrTooOld) {
		t.Errorf("replayed 6 minutes later: Verify = %v, want ErrTooOld", err)
	}
	if err := webhook.Verify(secret, h, rc.bodies[0], now.Add(-6*time.Minute)); !errors.Is(err, webhook.ErrTooNew) {
		t.Errorf("from the future: Verify = %v, want ErrTooNew", err)
	}
}

func TestSendAnswers(t *testing.T) {
	secret := notify.NewSecret()
	now := time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name          string
		answer        func(w http.ResponseWriter)
		wantOK        bool
		wantStatus    int
		wantPermanent bool
		wantRetry     time.Duration
		wantErr       string
	}{
		{name: "200", answer: func(w http.ResponseWriter) { w.WriteHeader(200) }, wantOK: true},
		{name: "202", answer: func(w http.ResponseWriter) { w.WriteHeader(202) }, wantOK: true},
		{name: "500", answer: func(w http.ResponseWriter) { http.Error(w, "database down", 500) }, wantStatus: 500, wantErr: "database down"},
		{name: "401", answer: func(w http.ResponseWriter) { w.WriteHeader(401) }, wantStatus: 401},
		{name: "410", answer: func(w http.ResponseWriter) { w.WriteHeader(410) }, wantStatus: 410, wantPermanent: true},
		{name: "429RetryAfter", answer: func(w http.ResponseWriter) { w.Header().Set("Retry-After", "120"); w.WriteHeader(429) }, wantStatus: 429, wantRetry: 2 * time.Minute},
		{name: "503RetryAfterDate", answer: func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat))
			w.WriteHeader(503)
		}, wantStatus: 503, wantRetry: 90 * time.Second},
		{name: "RedirectNotFollowed", answer: func(w http.ResponseWriter) {
			w.Header().Set("Location", "http://169.254.169.254/latest/meta-data/")
			w.WriteHeader(302)
		}, wantStatus: 302, wantErr: "redirects are not followed"},
		{name: "HugeErrorBodyBounded", answer: func(w http.ResponseWriter) {
			w.WriteHeader(500)
			w.Write([]byte(strings.Repeat("x", 4<<20)))
		}, wantStatus: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &receiver{t: t, secret: secret, now: now, answer: tt.answer}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			s := webhook.New(webhook.Options{Guard: loopback, Now: func() time.Time { return now }})
			err := s.Send(t.Context(), message(srv.URL, secret))
			if tt.wantOK {
				if err != nil {
					t.Fatalf("Send = %v", err)
				}
				return
			}
			var se *notify.SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send = %v, want a *notify.SendError", err)
			}
			if se.Status != tt.wantStatus || se.Permanent != tt.wantPermanent || se.RetryAfter != tt.wantRetry {
				t.Errorf("Send = %v: status %d permanent %v retry-after %v; want %d %v %v", err, se.Status, se.Permanent, se.RetryAfter,
					tt.wantStatus, tt.wantPermanent, tt.wantRetry)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || len(err.Error()) > 600 {
				t.Errorf("error %q (%d bytes) should contain %q and stay short", err, len(err.Error()), tt.wantErr)
			}
		})
	}
}

func TestSendTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	s := webhook.New(webhook.Options{Guard: loopback, Timeout: 200 * time.Millisecond})
	err := s.Send(t.Context(), message(srv.URL, notify.NewSecret()))
	var se *notify.SendError
	if !errors.As(err, &se) || se.Permanent || se.Status != 0 {
		t.Errorf("Send to a receiver that never answers = %v, want a temporary failure without status", err)
	}
}

func TestSendRefusesNonPublic(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	s := webhook.New(webhook.Options{}) // default: deny everything non-public
	for _, u := range []string{srv.URL, strings.Replace(srv.URL, "http://", "https://", 1), "https://localhost:1/x", "https://[::1]:1/"} {
		err := s.Send(t.Context(), message(u, notify.NewSecret()))
		var se *notify.SendError
		if !errors.As(err, &se) || !se.Permanent {
			t.Errorf("Send(%s) = %v, want a permanent refusal", u, err)
		}
	}
	if hits != 0 {
		t.Errorf("the refused receiver was reached %d times", hits)
	}
}

func TestGuardAllowed(t *testing.T) {
	tests := []struct {
		ip    string
		guard webhook.Guard
		want  bool
	}{
		{"93.184.215.14", webhook.Guard{}, true},
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", webhook.Guard{}, true},
		{"127.0.0.1", webhook.Guard{}, false},
		{"127.0.0.1", loopback, true},
		{"::1", webhook.Guard{}, false},
		{"::ffff:127.0.0.1", webhook.Guard{}, false},
		{"::ffff:127.0.0.1", loopback, true},
		{"10.0.4.20", webhook.Guard{}, false},
		{"10.0.4.20", webhook.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.4.0/24")}}, true},
		{"10.0.5.20", webhook.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.4.0/24")}}, false},
		{"172.16.0.1", webhook.Guard{}, false},
		{"192.168.1.1", webhook.Guard{}, false},
		{"169.254.169.254", webhook.Guard{}, false}, // cloud metadata
		{"fe80::1", webhook.Guard{}, false},
		{"fd00::1", webhook.Guard{}, false},
		{"100.64.0.1", webhook.Guard{}, false},
		{"0.0.0.0", webhook.Guard{}, false},
		{"::", webhook.Guard{}, false},
		{"224.0.0.1", webhook.Guard{}, false},
		{"255.255.255.255", webhook.Guard{}, false},
		{"64:ff9b::a00:1", webhook.Guard{}, false},
		{"2002:a00:1::", webhook.Guard{}, false},
	}
	for _, tt := range tests {
		if got := tt.guard.Allowed(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("Guard%v.Allowed(%s) = %v, want %v", tt.guard.Allow, tt.ip, got, tt.want)
		}
	}
}

func TestGuardCheckURL(t *testing.T) {
	tests := []struct {
		url   string
		guard webhook.Guard
		ok    bool
	}{
		{"https://psa.example.com/hooks/patchring", webhook.Guard{}, true},
		{"https://psa.example.com:8443/h?token=abc", webhook.Guard{}, true},
		{"https://93.184.215.14/h", webhook.Guard{}, true},
		{"http://psa.example.com/h", webhook.Guard{}, false},
		{"http://93.184.215.14/h", webhook.Guard{}, false},
		{"http://127.0.0.1:8080/h", loopback, true},
		{"http://127.0.0.1:8080/h", webhook.Guard{}, false},
		{"https://127.0.0.1/h", webhook.Guard{}, false},
		{"https://[::1]/h", webhook.Guard{}, false},
		{"https://169.254.169.254/latest/meta-data", webhook.Guard{}, false},
		{"https://localhost/h", webhook.Guard{}, false},
		{"https://a.localhost/h", loopback, false},
		{"https://user:pw@psa.example.com/h", webhook.Guard{}, false},
		{"https://psa.example.com/h#frag", webhook.Guard{}, false},
		{"ftp://psa.example.com/h", webhook.Guard{}, false},
		{"psa.example.com/h", webhook.Guard{}, false},
		{"", webhook.Guard{}, false},
	}
	for _, tt := range tests {
		err := tt.guard.CheckURL(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("CheckURL(%q) with %v = %v, want ok %v", tt.url, tt.guard.Allow, err, tt.ok)
		}
		if err != nil && patch.ErrorField(err) != "url" {
			t.Errorf("CheckURL(%q) = %v: want an error on field url", tt.url, err)
		}
	}
}

func TestVerifyHeaders(t *testing.T) {
	secret := notify.NewSecret()
	now := time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)
	body := []byte(`{"type":"test"}`)
	sig, err := webhook.Sign(secret, "ndl_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	good := http.Header{"Webhook-Id": {"ndl_1"}, "Webhook-Timestamp": {strconv.FormatInt(now.Unix(), 10)}, "Webhook-Signature": {sig}}
	tests := []struct {
		name   string
		change func(h http.Header)
		secret string
		want   error
	}{
		{"OK", func(http.Header) {}, secret, nil},
		{"SeveralSignaturesOneGood", func(h http.Header) { h.Set("Webhook-Signature", "v1,AAAA "+sig+" v2,zzz") }, secret, nil},
		{"NoID", func(h http.Header) { h.Del("Webhook-Id") }, secret, webhook.ErrMissingHeaders},
		{"NoSignature", func(h http.Header) { h.Del("Webhook-Signature") }, secret, webhook.ErrMissingHeaders},
		{"BadTimestamp", func(h http.Header) { h.Set("Webhook-Timestamp", "2026-11-10") }, secret, webhook.ErrBadTimestamp},
		{"OtherVersionOnly", func(h http.Header) { h.Set("Webhook-Signature", strings.Replace(sig, "v1,", "v2,", 1)) }, secret, webhook.ErrBadSignature},
		{"SecretWithoutPrefix", func(http.Header) {}, strings.TrimPrefix(secret, "whsec_"), webhook.ErrBadSecret},
		{"SecretNotBase64", func(http.Header) {}, "whsec_***", webhook.ErrBadSecret},
		{"EmptySecret", func(http.Header) {}, "whsec_", webhook.ErrBadSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := good.Clone()
			tt.change(h)
			if err := webhook.Verify(tt.secret, h, body, now); !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzVerify checks that the receivers' helper never panics on hostile
// headers and bodies, and accepts only what Sign produced.
func FuzzVerify(f *testing.F) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"type":"alert.raised"}`)
	sig, _ := webhook.Sign(secret, "ndl_1", now, body)
	f.Add(secret, "ndl_1", "1800000000", sig, body)
	f.Add(secret, "ndl_1", "1800000000", "v1,"+strings.Repeat("A", 44), body)
	f.Add("whsec_", "", "-1", "v1,", []byte{})
	f.Add(secret, "a.b", "99999999999999999999", "v1 v1, ,,", []byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, secret, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set("Webhook-Id", id)
		h.Set("Webhook-Timestamp", ts)
		h.Set("Webhook-Signature", sig)
		if err := webhook.Verify(secret, h, body, now); err != nil {
			return
		}
		sec, err := strconv.ParseInt(h.Get("Webhook-Timestamp"), 10, 64)
		if err != nil {
			t.Fatalf("accepted an unparsable timestamp %q", ts)
		}
		want, err := webhook.Sign(secret, h.Get("Webhook-Id"), time.Unix(sec, 0), body)
		if err != nil {
			t.Fatalf("accepted with a secret Sign refuses: %v", err)
		}
		if !strings.Contains(" "+h.Get("Webhook-Signature")+" ", " "+want+" ") {
			t.Fatalf("accepted signature %q; the body's is %q", sig, want)
		}
	})
}
