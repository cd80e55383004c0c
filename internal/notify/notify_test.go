package notify_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/notify"
	"github.com/patchring/patchring/internal/patch"
)

func TestMatches(t *testing.T) {
	alert := &patch.NotificationEvent{Type: patch.EventAlertRaised, ClientID: "cli_a", Kind: "updates_failed", Severity: patch.AlertWarning}
	ticket := &patch.NotificationEvent{Type: patch.EventTicketOpened, ClientID: "cli_b", Kind: "cycle_halted", Severity: patch.AlertCritical}
	test := &patch.NotificationEvent{Type: patch.EventTest, Severity: patch.AlertInfo}
	ch := func(client patch.ClientID, enabled bool, f patch.EventFilter) *patch.Channel {
		return &patch.Channel{ID: "nch", ClientID: client, Enabled: enabled, Filter: f}
	}
	tests := []struct {
		name string
		ch   *patch.Channel
		ev   *patch.NotificationEvent
		want bool
	}{
		{"MSPNoFilter", ch("", true, patch.EventFilter{}), alert, true},
		{"Disabled", ch("", false, patch.EventFilter{}), alert, false},
		{"TestNeverRouted", ch("", true, patch.EventFilter{}), test, false},
		{"OwnClient", ch("cli_a", true, patch.EventFilter{}), alert, true},
		{"OtherClient", ch("cli_a", true, patch.EventFilter{}), ticket, false},
		{"ClientFilterIn", ch("", true, patch.EventFilter{ClientIDs: []patch.ClientID{"cli_x", "cli_b"}}), ticket, true},
		{"ClientFilterOut", ch("", true, patch.EventFilter{ClientIDs: []patch.ClientID{"cli_x"}}), ticket, false},
		{"EventIn", ch("", true, patch.EventFilter{Events: []patch.EventType{patch.EventTicketOpened}}), ticket, true},
		{"EventOut", ch("", true, patch.EventFilter{Events: []patch.EventType{patch.EventTicketOpened}}), alert, false},
		{"KindIn", ch("", true, patch.EventFilter{Kinds: []string{"agent_offline", "updates_failed"}}), alert, true},
		{"KindOut", ch("", true, patch.EventFilter{Kinds: []string{"agent_offline"}}), alert, false},
		{"SeverityAtMinimum", ch("", true, patch.EventFilter{MinSeverity: patch.AlertWarning}), alert, true},
		{"SeverityBelowMinimum", ch("", true, patch.EventFilter{MinSeverity: patch.AlertCritical}), alert, false},
		{"SeverityAbove", ch("", true, patch.EventFilter{MinSeverity: patch.AlertInfo}), ticket, true},
		{"AllFilters", ch("", true, patch.EventFilter{Events: []patch.EventType{patch.EventTicketOpened}, Kinds: []string{"cycle_halted"},
			MinSeverity: patch.AlertCritical, ClientIDs: []patch.ClientID{"cli_b"}}), ticket, true},
	}
	for _, tt := range tests {
		if got := notify.Matches(tt.ch, tt.ev); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}
	chs := []*patch.Channel{ch("", true, patch.EventFilter{}), ch("cli_b", true, patch.EventFilter{}), ch("cli_a", true, patch.EventFilter{})}
	if got := notify.Match(alert, chs); len(got) != 2 || got[0] != chs[0] || got[1] != chs[2] {
		t.Errorf("Match = %v", got)
	}
}

func TestRetryDelay(t *testing.T) {
	r := notify.Retry{Base: 30 * time.Second, Max: time.Hour, Attempts: 12}
	tests := []struct {
		attempt int
		nominal time.Duration
	}{
		{1, 30 * time.Second}, {2, time.Minute}, {3, 2 * time.Minute}, {4, 4 * time.Minute}, {7, 32 * time.Minute}, {8, time.Hour}, {11, time.Hour}, {40, time.Hour},
	}
	for _, tt := range tests {
		for _, key := range []string{"ndl_a", "ndl_b", "ndl_c"} {
			got := r.Delay(tt.attempt, key)
			lo, hi := tt.nominal*8/10, tt.nominal*12/10
			if got < lo || got > hi {
				t.Errorf("Delay(%d, %s) = %v, want within [%v, %v]", tt.attempt, key, got, lo, hi)
			}
			if again := r.Delay(tt.attempt, key); again != got {
				t.Errorf("Delay(%d, %s) is not deterministic: %v then %v", tt.attempt, key, got, again)
			}
		}
	}
	if r.Delay(1, "ndl_a") == r.Delay(1, "ndl_b") && r.Delay(1, "ndl_b") == r.Delay(1, "ndl_c") {
		t.Error("Delay spreads nothing between deliveries")
	}
}

func TestRetryOutcome(t *testing.T) {
	r := notify.Retry{Base: time.Minute, Max: time.Hour, Attempts: 3}
	temp := &notify.SendError{Status: 500, Err: errors.New("the receiver answered 500")}
	tests := []struct {
		name       string
		attempt    int
		err        error
		wantState  patch.DeliveryState
		wantStatus int
		wantRetry  bool
	}{
		{"Delivered", 1, nil, patch.DeliveryDelivered, 0, false},
		{"FirstFailureRetries", 1, temp, patch.DeliveryPending, 500, true},
		{"NetworkErrorRetries", 2, errors.New("connection refused"), patch.DeliveryPending, 0, true},
		{"LastAttemptGivesUp", 3, temp, patch.DeliveryFailed, 500, false},
		{"PermanentGivesUpAtOnce", 1, notify.Permanent(errors.New("destination refused")), patch.DeliveryFailed, 0, false},
		{"RetryAfterLonger", 1, &notify.SendError{Status: 429, RetryAfter: 10 * time.Minute, Err: errors.New("slow down")}, patch.DeliveryPending, 429, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := r.Outcome(tt.attempt, "ndl_x", tt.err)
			if o.State != tt.wantState || o.LastStatus != tt.wantStatus || (o.RetryIn > 0) != tt.wantRetry {
				t.Errorf("Outcome = %+v, want state %s status %d retry %v", o, tt.wantState, tt.wantStatus, tt.wantRetry)
			}
			if tt.err != nil && o.LastError == "" {
				t.Error("Outcome lost the error")
			}
		})
	}
	if o := r.Outcome(1, "ndl_x", &notify.SendError{Status: 429, RetryAfter: 10 * time.Minute, Err: errors.New("x")}); o.RetryIn != 10*time.Minute {
		t.Errorf("Retry-After 10m: RetryIn = %v", o.RetryIn)
	}
	if o := r.Outcome(1, "ndl_x", &notify.SendError{Status: 429, RetryAfter: 48 * time.Hour, Err: errors.New("x")}); o.RetryIn != time.Hour {
		t.Errorf("Retry-After 48h: RetryIn = %v, want capped at Max", o.RetryIn)
	}
	if o := r.Outcome(3, "ndl_x", temp); !strings.Contains(o.LastError, "gave up after 3 attempts") {
		t.Errorf("give-up error = %q", o.LastError)
	}
}

func TestSealer(t *testing.T) {
	k1 := notify.Key{ID: "k1", Secret: []byte(strings.Repeat("a", 32))}
	k2 := notify.ExternalKey([]byte(strings.Repeat("b", 32)))
	old, err := notify.NewSealer(k1)
	if err != nil {
		t.Fatal(err)
	}
	secret := notify.NewSecret()
	sealed, err := old.Seal("nch_1", secret)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, secret) || strings.Contains(sealed, strings.TrimPrefix(secret, "whsec_")[:10]) {
		t.Fatalf("sealed value %q shows the secret", sealed)
	}
	if got, err := old.Open("nch_1", sealed); err != nil || got != secret {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := old.Open("nch_2", sealed); !errors.Is(err, notify.ErrSealed) {
		t.Errorf("Open for another channel = %v, want ErrSealed", err)
	}
	// A new current key still opens what the old one sealed.
	rotated, err := notify.NewSealer(k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.Open("nch_1", sealed); err != nil || got != secret {
		t.Errorf("Open after rotation = %q, %v", got, err)
	}
	fresh, _ := rotated.Seal("nch_1", secret)
	if !strings.HasPrefix(fresh, "v1:"+k2.ID+":") {
		t.Errorf("sealed under %q, want the current key %s", fresh, k2.ID)
	}
	if _, err := old.Open("nch_1", fresh); !errors.Is(err, notify.ErrSealed) {
		t.Errorf("Open without the key = %v, want ErrSealed", err)
	}
	for _, bad := range []string{"", "v1", "v2:k1:AAAA", "v1:k1:!!!", "v1:k1:AAAA", sealed[:len(sealed)-2] + "AA"} {
		if _, err := old.Open("nch_1", bad); !errors.Is(err, notify.ErrSealed) {
			t.Errorf("Open(%q) = %v, want ErrSealed", bad, err)
		}
	}
	for _, k := range []notify.Key{{ID: "", Secret: k1.Secret}, {ID: "a:b", Secret: k1.Secret}, {ID: "short", Secret: []byte("x")}} {
		if _, err := notify.NewSealer(k); err == nil {
			t.Errorf("NewSealer(%q, %d bytes) accepted", k.ID, len(k.Secret))
		}
	}
}

func FuzzSealerOpen(f *testing.F) {
	s, _ := notify.NewSealer(notify.Key{ID: "k1", Secret: []byte(strings.Repeat("a", 32))})
	good, _ := s.Seal("nch_1", "whsec_x")
	f.Add("nch_1", good)
	f.Add("nch_1", "v1:k1:")
	f.Add("", "v1::::")
	f.Fuzz(func(t *testing.T, channel, sealed string) {
		got, err := s.Open(channel, sealed)
		if err == nil && (channel != "nch_1" || got != "whsec_x") {
			t.Fatalf("Open(%q, %q) = %q: only the sealed secret of nch_1 may open", channel, sealed, got)
		}
	})
}

func TestText(t *testing.T) {
	at := time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)
	m := &notify.Message{DeliveryID: "ndl_1", Event: &patch.NotificationEvent{
		ID: "nev_1", Type: patch.EventAlertResolved, ClientName: "Alpha\r\nBcc: evil@example.com", Severity: patch.AlertCritical,
		Summary: strings.Repeat("long ", 100), CreatedAt: at,
	}}
	subject, body := notify.Text(m)
	if strings.ContainsAny(subject, "\r\n") || len([]rune(subject)) > 200 {
		t.Errorf("subject %q must be one line of at most 200 characters", subject)
	}
	if !strings.HasPrefix(subject, "[Patchring] Resolved: Alpha Bcc:") {
		t.Errorf("subject = %q", subject)
	}
	if !strings.Contains(body, "ndl_1") || !strings.Contains(body, "alert.resolved") {
		t.Errorf("body = %q", body)
	}
}

func TestSecret(t *testing.T) {
	a, b := notify.NewSecret(), notify.NewSecret()
	if a == b || !strings.HasPrefix(a, "whsec_") || len(a) != len("whsec_")+44 {
		t.Errorf("NewSecret = %q, %q", a, b)
	}
	if h := notify.SecretHint(a); h != a[:12] {
		t.Errorf("SecretHint = %q", h)
	}
}
