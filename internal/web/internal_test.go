package web

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "/",
		"/":                    "/",
		"/settings":            "/settings",
		"/assets?os=linux":     "/assets?os=linux",
		"//evil.example":       "/",
		"/\\evil.example":      "/",
		"https://evil.example": "/",
		"evil.example":         "/",
		"javascript:alert(1)":  "/",
		"/a\nb":                "/",
		"/%2F%2Fevil.example":  "/%2F%2Fevil.example", // a path on this server
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAssetQuery(t *testing.T) {
	now := time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		query string
		errs  []string
		check func(t *testing.T, q assetQuery)
	}{
		{"Empty", "", nil, func(t *testing.T, q assetQuery) {
			if q.Page != 1 || q.url("/assets") != "/assets" {
				t.Errorf("empty query = %+v → %s", q, q.url("/assets"))
			}
		}},
		{"All", "q=srv&os=linux&class=server&site=sit_1&tag=ephi%3Dyes&managed=yes&sort=last_seen&dir=desc&page=3", nil, func(t *testing.T, q assetQuery) {
			f, _ := q.filter(now, 7*24*time.Hour)
			if *f.Query != "srv" || *f.OSFamily != "linux" || *f.Class != "server" || *f.SiteID != "sit_1" || !*f.Managed || f.Sort != "last_seen" || !f.Desc || f.Offset != 100 || f.Limit != assetPageSize {
				t.Errorf("filter = %+v", f)
			}
			if len(f.Tags) != 1 || f.Tags[0].Key != "ephi" || f.Tags[0].Value != "yes" {
				t.Errorf("tags = %+v", f.Tags)
			}
		}},
		{"Stale", "stale=1", nil, func(t *testing.T, q assetQuery) {
			f, _ := q.filter(now, 7*24*time.Hour)
			if f.LastSeenBefore == nil || !f.LastSeenBefore.Equal(now.Add(-7*24*time.Hour)) || f.Managed == nil || !*f.Managed {
				t.Errorf("stale filter = %+v", f)
			}
		}},
		{"TagKeyOnly", "tag=dept", nil, func(t *testing.T, q assetQuery) {
			f, _ := q.filter(now, time.Hour)
			if len(f.Tags) != 1 || f.Tags[0].Key != "dept" || f.Tags[0].Value != "" {
				t.Errorf("tags = %+v", f.Tags)
			}
		}},
		{"Invalid", "os=beos&managed=maybe&sort=size&tag=%3Dx", []string{"os", "managed", "sort", "tag"}, func(t *testing.T, q assetQuery) {
			f, _ := q.filter(now, time.Hour)
			if f.OSFamily != nil || f.Managed != nil || f.Sort != "" || f.Tags != nil {
				t.Errorf("invalid values reached the filter: %+v", f)
			}
		}},
		{"NegativePage", "page=-4", nil, func(t *testing.T, q assetQuery) {
			if q.Page != 1 {
				t.Errorf("page = %d", q.Page)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := url.ParseQuery(tc.query)
			q := parseAssetQuery(v)
			_, errs := q.filter(now, time.Hour)
			for _, k := range tc.errs {
				if errs[k] == "" {
					t.Errorf("no error for %s", k)
				}
			}
			if len(errs) != len(tc.errs) {
				t.Errorf("errors = %v, want errors for %v", errs, tc.errs)
			}
			tc.check(t, q)
		})
	}
}

// FuzzAssetQuery checks that any query string parses without panicking and
// that the canonical URL of a parsed query parses back to the same query,
// so links built from it always point at the same rows.
func FuzzAssetQuery(f *testing.F) {
	for _, s := range []string{"", "q=srv&os=linux", "stale=1&sort=last_seen&dir=desc&page=2", "tag=a%3Db%3Dc", "client=cli_1&site=%00", "page=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q := parseAssetQuery(v)
		q.filter(time.Now(), time.Hour)
		u := q.url("/assets")
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatalf("url %q does not parse: %v", u, err)
		}
		if back := parseAssetQuery(parsed.Query()); !reflect.DeepEqual(back, q) {
			t.Fatalf("round trip of %q: %+v → %s → %+v", raw, q, u, back)
		}
	})
}

func TestDiffJSON(t *testing.T) {
	before := json.RawMessage(`{"name":"A","role":"auditor","updated_at":"x","tags":{"a":"1"},"gone":true}`)
	after := json.RawMessage(`{"name":"B","role":"auditor","updated_at":"y","tags":{"a":"2"},"new":""}`)
	got := diffJSON(before, after)
	want := []Change{
		{Field: "gone", Before: "true", After: "—"},
		{Field: "name", Before: "A", After: "B"},
		{Field: "new", Before: "—", After: "(empty)"},
		{Field: "tags", Before: `{"a":"1"}`, After: `{"a":"2"}`},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("diffJSON = %+v\nwant %+v", got, want)
	}
	if d := diffJSON(nil, json.RawMessage(`{"a":1}`)); len(d) != 1 || d[0].Before != "—" {
		t.Errorf("create diff = %+v", d)
	}
	long := json.RawMessage(`"` + strings.Repeat("é", 200) + `"`)
	if s := showJSON(long); !strings.HasSuffix(s, "…") || !json.Valid([]byte(`"`+strings.TrimSuffix(s, "…")+`"`)) {
		t.Errorf("showJSON cut a rune in half: %q", s)
	}
}

func TestFormatting(t *testing.T) {
	now := time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ got, want string }{
		{formatInt(0), "0"}, {formatInt(999), "999"}, {formatInt(1000), "1,000"}, {formatInt(1234567), "1,234,567"}, {formatInt(-10000), "-10,000"},
		{plural(1, "asset"), "1 asset"}, {plural(2, "asset"), "2 assets"}, {plural(10000, "class"), "10,000 classes"},
		{ago(now, time.Time{}), "never"}, {ago(now, now.Add(-30*time.Second)), "just now"}, {ago(now, now.Add(-5*time.Minute)), "5 minutes ago"},
		{ago(now, now.Add(-1*time.Hour)), "1 hour ago"}, {ago(now, now.Add(-72*time.Hour)), "3 days ago"}, {ago(now, now.Add(2*time.Hour)), "in 2 hours"},
		{durationWords(7 * 24 * time.Hour), "7 days"}, {durationWords(30 * time.Minute), "30 minutes"}, {durationWords(12 * time.Hour), "12 hours"},
		{fileName("Hartwell & Shaw LLP-assets"), "hartwell-shaw-llp-assets"}, {fileName("../../etc/passwd"), "..-..-etc-passwd"}, {fileName("«»"), "export"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestLoginLimiter(t *testing.T) {
	now := time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)
	l := newLoginLimiter(LoginLimits{
		PerPair:    Limit{Burst: 2, Every: time.Minute},
		PerIP:      Limit{Burst: 3, Every: time.Minute},
		PerAccount: Limit{Burst: 4, Every: time.Minute},
		MaxEntries: 100,
	})
	fail := func(ip, acct string) {
		if !l.allow(now, ip, acct) {
			t.Fatalf("attempt %s/%s refused early", ip, acct)
		}
		l.failed(now, ip, acct)
	}
	// Per pair: two failures, then that pair waits.
	fail("ip1", "a")
	fail("ip1", "a")
	if l.allow(now, "ip1", "a") {
		t.Error("pair limit not applied")
	}
	// Per IP: a third account from ip1 takes its last token.
	fail("ip1", "b")
	if l.allow(now, "ip1", "c") {
		t.Error("IP limit not applied")
	}
	// Per account: "a" has 2 failures from ip1; two more from elsewhere
	// exhaust it for everyone.
	fail("ip2", "a")
	fail("ip3", "a")
	if l.allow(now, "ip4", "a") {
		t.Error("account limit not applied")
	}
	if !l.allow(now, "ip4", "z") {
		t.Error("an unrelated IP and account are limited")
	}
	// Tokens come back with time.
	if !l.allow(now.Add(time.Minute), "ip4", "a") {
		t.Error("account limit does not recover")
	}
	// The tables stay bounded.
	for i := range 1000 {
		l.failed(now, "flood"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+time.Duration(i).String(), "acct")
	}
	if len(l.byIP) > 100 || len(l.pair) > 100 {
		t.Errorf("limiter tables grew to %d and %d entries", len(l.byIP), len(l.pair))
	}
}
