package schedule

import (
	"testing"
	"time"
)

func mustZone(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatalf("load zone %s: %v", name, err)
	}
	return loc
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatalf("parse %q: %v", s, err)
	}
	return t
}

// civilAt builds a civil (wall-clock) time.
func civilAt(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, time.UTC)
}

func TestResolve(t *testing.T) {
	// Transition facts (2026), from the tz database:
	//   America/New_York     Mar 8 02:00 EST→03:00 EDT; Nov 1 02:00 EDT→01:00 EST
	//   Europe/Berlin        Mar 29 02:00 CET→03:00 CEST; Oct 25 03:00 CEST→02:00 CET
	//   Australia/Lord_Howe  Apr 5 02:00 +11→01:30 +10:30; Oct 4 02:00 +10:30→02:30 +11
	//   Pacific/Auckland     Apr 5 03:00 NZDT→02:00 NZST; Sep 27 02:00 NZST→03:00 NZDT
	//   America/St_Johns     Mar 8 02:00 NST→03:00 NDT; Nov 1 02:00 NDT→01:00 NST
	//   Asia/Kolkata         +05:30 all year
	tests := []struct {
		name  string
		zone  string
		civil time.Time
		want  string // RFC 3339 instant
	}{
		{"NewYork/BeforeGap", "America/New_York", civilAt(2026, 3, 8, 1, 30), "2026-03-08T06:30:00Z"},
		{"NewYork/GapStart", "America/New_York", civilAt(2026, 3, 8, 2, 0), "2026-03-08T07:00:00Z"},
		{"NewYork/InGap", "America/New_York", civilAt(2026, 3, 8, 2, 30), "2026-03-08T07:00:00Z"},
		{"NewYork/GapEnd", "America/New_York", civilAt(2026, 3, 8, 3, 0), "2026-03-08T07:00:00Z"},
		{"NewYork/AfterGap", "America/New_York", civilAt(2026, 3, 8, 3, 30), "2026-03-08T07:30:00Z"},
		{"NewYork/BeforeOverlap", "America/New_York", civilAt(2026, 11, 1, 0, 59), "2026-11-01T04:59:00Z"},
		{"NewYork/OverlapStartFirst", "America/New_York", civilAt(2026, 11, 1, 1, 0), "2026-11-01T05:00:00Z"},
		{"NewYork/OverlapFirst", "America/New_York", civilAt(2026, 11, 1, 1, 30), "2026-11-01T05:30:00Z"},
		{"NewYork/AfterOverlap", "America/New_York", civilAt(2026, 11, 1, 2, 0), "2026-11-01T07:00:00Z"},
		{"Berlin/InGap", "Europe/Berlin", civilAt(2026, 3, 29, 2, 30), "2026-03-29T01:00:00Z"},
		{"Berlin/BeforeGap", "Europe/Berlin", civilAt(2026, 3, 29, 1, 59), "2026-03-29T00:59:00Z"},
		// time.Date picks the second 02:30 (CET) here; the first is CEST.
		{"Berlin/OverlapFirst", "Europe/Berlin", civilAt(2026, 10, 25, 2, 30), "2026-10-25T00:30:00Z"},
		{"Berlin/AfterOverlap", "Europe/Berlin", civilAt(2026, 10, 25, 3, 0), "2026-10-25T02:00:00Z"},
		{"LordHowe/InHalfHourGap", "Australia/Lord_Howe", civilAt(2026, 10, 4, 2, 15), "2026-10-03T15:30:00Z"},
		{"LordHowe/GapEnd", "Australia/Lord_Howe", civilAt(2026, 10, 4, 2, 30), "2026-10-03T15:30:00Z"},
		{"LordHowe/BeforeGap", "Australia/Lord_Howe", civilAt(2026, 10, 4, 1, 59), "2026-10-03T15:29:00Z"},
		{"LordHowe/HalfHourOverlapFirst", "Australia/Lord_Howe", civilAt(2026, 4, 5, 1, 45), "2026-04-04T14:45:00Z"},
		{"LordHowe/AfterOverlap", "Australia/Lord_Howe", civilAt(2026, 4, 5, 2, 0), "2026-04-04T15:30:00Z"},
		{"Kolkata/NoDST", "Asia/Kolkata", civilAt(2026, 3, 8, 2, 30), "2026-03-07T21:00:00Z"},
		{"Auckland/SpringGap", "Pacific/Auckland", civilAt(2026, 9, 27, 2, 30), "2026-09-26T14:00:00Z"},
		{"Auckland/AutumnOverlapFirst", "Pacific/Auckland", civilAt(2026, 4, 5, 2, 30), "2026-04-04T13:30:00Z"},
		{"Auckland/AfterOverlap", "Pacific/Auckland", civilAt(2026, 4, 5, 3, 30), "2026-04-04T15:30:00Z"},
		{"StJohns/Gap", "America/St_Johns", civilAt(2026, 3, 8, 2, 30), "2026-03-08T05:30:00Z"},
		{"StJohns/OverlapFirst", "America/St_Johns", civilAt(2026, 11, 1, 1, 30), "2026-11-01T04:00:00Z"},
		{"UTC", "UTC", civilAt(2028, 2, 29, 23, 59), "2028-02-29T23:59:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := mustZone(t, tt.zone)
			got := resolve(tt.civil, loc)
			if want := mustTime(t, tt.want); !got.Equal(want) {
				t.Errorf("resolve(%s, %s) = %s, want %s", tt.civil.Format(time.DateTime), tt.zone, got.UTC().Format(time.RFC3339), tt.want)
			}
			if got.Location() != loc {
				t.Errorf("resolve(%s, %s) location = %s, want %s", tt.civil.Format(time.DateTime), tt.zone, got.Location(), loc)
			}
		})
	}
}

func TestParseClock(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"00:00", 0, true},
		{"02:00", 2 * time.Hour, true},
		{"23:59", 23*time.Hour + 59*time.Minute, true},
		{"24:00", 0, false},
		{"12:60", 0, false},
		{"2:00", 0, false},
		{"02:00:00", 0, false},
		{"0a:00", 0, false},
		{"", 0, false},
		{"+1:00", 0, false},
	}
	for _, tt := range tests {
		got, err := parseClock(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseClock(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestPatchTuesday(t *testing.T) {
	tests := []struct {
		year  int
		month time.Month
		zone  string
		want  string
	}{
		{2026, time.January, "America/Chicago", "2026-01-13T00:00:00-06:00"},
		{2026, time.February, "UTC", "2026-02-10T00:00:00Z"},
		{2026, time.March, "America/New_York", "2026-03-10T00:00:00-04:00"},
		{2026, time.April, "Europe/Berlin", "2026-04-14T00:00:00+02:00"},
		{2026, time.September, "Pacific/Auckland", "2026-09-08T00:00:00+12:00"}, // the 1st is a Tuesday
		{2026, time.December, "Asia/Kolkata", "2026-12-08T00:00:00+05:30"},
		{2024, time.October, "Australia/Lord_Howe", "2024-10-08T00:00:00+11:00"},
	}
	for _, tt := range tests {
		loc := mustZone(t, tt.zone)
		got := PatchTuesday(tt.year, tt.month, loc)
		if want := mustTime(t, tt.want); !got.Equal(want) || got.Location() != loc {
			t.Errorf("PatchTuesday(%d, %s, %s) = %s, want %s", tt.year, tt.month, tt.zone, got.Format(time.RFC3339), tt.want)
		}
	}
	if got := PatchTuesday(2026, time.May, nil); !got.Equal(mustTime(t, "2026-05-12T00:00:00Z")) {
		t.Errorf("PatchTuesday(2026, May, nil) = %s, want 2026-05-12T00:00:00Z", got)
	}
}
