package schedule

import (
	"testing"
	"time"
)

func weekly(zone, start, dur string, ds ...Day) Window {
	return Window{Name: "w", TimeZone: zone, Weekly: &Weekly{Days: ds, Start: start}, Duration: dur}
}

func occ(tb testing.TB, start, end string) Occurrence {
	tb.Helper()
	return Occurrence{Start: mustTime(tb, start), End: mustTime(tb, end)}
}

func sameOcc(a, b Occurrence) bool { return a.Start.Equal(b.Start) && a.End.Equal(b.End) }

func fmtOcc(o Occurrence) string {
	return o.Start.Format(time.RFC3339) + " – " + o.End.Format(time.RFC3339)
}

func TestWindow_Next(t *testing.T) {
	berlinSat := weekly("Europe/Berlin", "22:00", "4h", Saturday)
	tests := []struct {
		name  string
		w     Window
		after string
		want  Occurrence
	}{
		{
			name:  "Berlin/OrdinaryWeek",
			w:     berlinSat,
			after: "2026-03-16T12:00:00Z",
			want:  occ(t, "2026-03-21T22:00:00+01:00", "2026-03-22T02:00:00+01:00"),
		},
		{
			// 02:00 does not exist on Mar 29; the window closes when the
			// clock first reads 02:00 or later, 03:00 CEST: 3h long.
			name:  "Berlin/SpringForwardEndInGap",
			w:     berlinSat,
			after: "2026-03-25T12:00:00Z",
			want:  occ(t, "2026-03-28T22:00:00+01:00", "2026-03-29T03:00:00+02:00"),
		},
		{
			// 02:00 happens twice on Oct 25; the first (CEST) closes it.
			name:  "Berlin/FallBackEndRepeated",
			w:     berlinSat,
			after: "2026-10-20T12:00:00Z",
			want:  occ(t, "2026-10-24T22:00:00+02:00", "2026-10-25T02:00:00+02:00"),
		},
		{
			// 23:00 for 5h ends 04:00 CET after the repeated hour: 6h long.
			name:  "Berlin/FallBackSpansRepeatedHour",
			w:     weekly("Europe/Berlin", "23:00", "5h", Saturday),
			after: "2026-10-20T12:00:00Z",
			want:  occ(t, "2026-10-24T23:00:00+02:00", "2026-10-25T04:00:00+01:00"),
		},
		{
			name:  "NewYork/RebootSlotStartInGap",
			w:     weekly("America/New_York", "02:00", "4h", Sunday),
			after: "2026-03-07T12:00:00Z",
			want:  occ(t, "2026-03-08T03:00:00-04:00", "2026-03-08T06:00:00-04:00"),
		},
		{
			name:  "NewYork/StartInRepeatedHour",
			w:     weekly("America/New_York", "01:30", "1h", Sunday),
			after: "2026-10-31T12:00:00Z",
			want:  occ(t, "2026-11-01T01:30:00-04:00", "2026-11-01T02:30:00-05:00"),
		},
		{
			// 02:00–02:30 lies wholly in the gap: it opens at 03:00 and
			// stays open MinDuration.
			name:  "NewYork/WholeWindowInGap",
			w:     weekly("America/New_York", "02:00", "30m", Sunday),
			after: "2026-03-07T12:00:00Z",
			want:  occ(t, "2026-03-08T03:00:00-04:00", "2026-03-08T03:15:00-04:00"),
		},
		{
			name:  "NewYork/WeekAfterGap",
			w:     weekly("America/New_York", "02:00", "30m", Sunday),
			after: "2026-03-08T08:00:00Z",
			want:  occ(t, "2026-03-15T02:00:00-04:00", "2026-03-15T02:30:00-04:00"),
		},
		{
			// Lord Howe skips only 02:00–02:30.
			name:  "LordHowe/HalfHourGap",
			w:     weekly("Australia/Lord_Howe", "02:00", "1h", Sunday),
			after: "2026-10-01T00:00:00Z",
			want:  occ(t, "2026-10-04T02:30:00+11:00", "2026-10-04T03:00:00+11:00"),
		},
		{
			// Lord Howe repeats 01:30–02:00: 01:00 for 1h lasts 1h30m.
			name:  "LordHowe/HalfHourOverlap",
			w:     weekly("Australia/Lord_Howe", "01:00", "1h", Sunday),
			after: "2026-04-01T00:00:00Z",
			want:  occ(t, "2026-04-05T01:00:00+11:00", "2026-04-05T02:00:00+10:30"),
		},
		{
			name:  "Kolkata/HalfHourOffsetAcrossMidnight",
			w:     weekly("Asia/Kolkata", "23:30", "2h", Friday),
			after: "2026-06-01T00:00:00Z",
			want:  occ(t, "2026-06-05T23:30:00+05:30", "2026-06-06T01:30:00+05:30"),
		},
		{
			name:  "Auckland/SpringGap",
			w:     weekly("Pacific/Auckland", "02:30", "2h", Sunday),
			after: "2026-09-25T00:00:00Z",
			want:  occ(t, "2026-09-27T03:00:00+13:00", "2026-09-27T04:30:00+13:00"),
		},
		{
			name:  "Auckland/AutumnOverlap",
			w:     weekly("Pacific/Auckland", "02:30", "1h", Sunday),
			after: "2026-04-01T00:00:00Z",
			want:  occ(t, "2026-04-05T02:30:00+13:00", "2026-04-05T03:30:00+12:00"),
		},
		{
			name:  "StJohns/Gap",
			w:     weekly("America/St_Johns", "02:30", "1h", Sunday),
			after: "2026-03-07T00:00:00Z",
			want:  occ(t, "2026-03-08T03:00:00-02:30", "2026-03-08T03:30:00-02:30"),
		},
		{
			// 2026-01-01T00:00Z is 20:30 on Wednesday Dec 31 in St. John's.
			name:  "StJohns/YearBoundary",
			w:     weekly("America/St_Johns", "22:00", "3h", Wednesday),
			after: "2026-01-01T00:00:00Z",
			want:  occ(t, "2025-12-31T22:00:00-03:30", "2026-01-01T01:00:00-03:30"),
		},
		{
			name:  "InProgressIsReturned",
			w:     weekly("UTC", "23:00", "3h", Thursday),
			after: "2026-12-31T23:30:00Z",
			want:  occ(t, "2026-12-31T23:00:00Z", "2027-01-01T02:00:00Z"),
		},
		{
			name:  "EndIsExclusive",
			w:     weekly("UTC", "23:00", "3h", Thursday),
			after: "2027-01-01T02:00:00Z",
			want:  occ(t, "2027-01-07T23:00:00Z", "2027-01-08T02:00:00Z"),
		},
		{
			name:  "EmptyZoneUsesFallback",
			w:     weekly("", "22:00", "4h", Saturday),
			after: "2026-03-16T12:00:00Z",
			want:  occ(t, "2026-03-21T22:00:00-05:00", "2026-03-22T02:00:00-05:00"), // fallback: Chicago, CDT
		},
		{
			name:  "MergesOverlapsOfOneWindow",
			w:     weekly("UTC", "22:00", "26h", Saturday, Sunday),
			after: "2026-03-17T00:00:00Z",
			want:  occ(t, "2026-03-21T22:00:00Z", "2026-03-24T00:00:00Z"), // Sat 22:00 + Sun 22:00 for 26h
		},
		{
			name:  "PatchTuesdayPlus5/Chicago",
			w:     Window{Name: "pt", TimeZone: "America/Chicago", MonthlyWeekday: &MonthlyWeekday{Week: 2, Day: Tuesday, OffsetDays: 5, Start: "01:00"}, Duration: "4h"},
			after: "2026-01-01T00:00:00Z",
			want:  occ(t, "2026-01-18T01:00:00-06:00", "2026-01-18T05:00:00-06:00"),
		},
		{
			// First Tuesday of March 2026 is the 3rd; +5 is DST day.
			name:  "FirstTuesdayPlus5/ChicagoSpringForward",
			w:     Window{Name: "pt", TimeZone: "America/Chicago", MonthlyWeekday: &MonthlyWeekday{Week: 1, Day: Tuesday, OffsetDays: 5, Start: "01:00"}, Duration: "4h"},
			after: "2026-03-01T00:00:00Z",
			want:  occ(t, "2026-03-08T01:00:00-06:00", "2026-03-08T05:00:00-05:00"),
		},
		{
			// Patch Tuesday Dec 2026 is the 8th; +28 lands in January 2027.
			name:  "OffsetCrossesYear",
			w:     Window{Name: "pt", TimeZone: "UTC", MonthlyWeekday: &MonthlyWeekday{Week: 2, Day: Tuesday, OffsetDays: 28, Start: "01:00"}, Duration: "4h"},
			after: "2026-12-31T00:00:00Z",
			want:  occ(t, "2027-01-05T01:00:00Z", "2027-01-05T05:00:00Z"),
		},
		{
			name:  "NegativeOffset",
			w:     Window{Name: "pt", TimeZone: "Europe/Berlin", MonthlyWeekday: &MonthlyWeekday{Week: 2, Day: Tuesday, OffsetDays: -4, Start: "20:00"}, Duration: "2h"},
			after: "2026-04-01T00:00:00Z",
			want:  occ(t, "2026-04-10T20:00:00+02:00", "2026-04-10T22:00:00+02:00"),
		},
		{
			// February 2026 ends on a Saturday.
			name:  "LastFriday",
			w:     Window{Name: "lf", TimeZone: "America/Chicago", MonthlyWeekday: &MonthlyWeekday{Week: -1, Day: Friday, Start: "22:00"}, Duration: "6h"},
			after: "2026-02-01T00:00:00Z",
			want:  occ(t, "2026-02-27T22:00:00-06:00", "2026-02-28T04:00:00-06:00"),
		},
		{
			name:  "MonthlyDay31/April",
			w:     Window{Name: "md", TimeZone: "UTC", MonthlyDay: &MonthlyDay{Day: 31, Start: "01:00"}, Duration: "2h"},
			after: "2026-04-01T00:00:00Z",
			want:  occ(t, "2026-04-30T01:00:00Z", "2026-04-30T03:00:00Z"),
		},
		{
			name:  "MonthlyDay30/LeapFebruary",
			w:     Window{Name: "md", TimeZone: "Asia/Kolkata", MonthlyDay: &MonthlyDay{Day: 30, Start: "01:00"}, Duration: "2h"},
			after: "2028-02-01T00:00:00Z",
			want:  occ(t, "2028-02-29T01:00:00+05:30", "2028-02-29T03:00:00+05:30"),
		},
		{
			name:  "MonthlyDay29/CommonFebruary",
			w:     Window{Name: "md", TimeZone: "Pacific/Auckland", MonthlyDay: &MonthlyDay{Day: 29, Start: "01:00"}, Duration: "2h"},
			after: "2027-02-01T00:00:00Z",
			want:  occ(t, "2027-02-28T01:00:00+13:00", "2027-02-28T03:00:00+13:00"),
		},
		{
			name:  "MonthlyDay31/December",
			w:     Window{Name: "md", TimeZone: "America/New_York", MonthlyDay: &MonthlyDay{Day: 31, Start: "23:00"}, Duration: "2h"},
			after: "2026-12-15T00:00:00Z",
			want:  occ(t, "2026-12-31T23:00:00-05:00", "2027-01-01T01:00:00-05:00"),
		},
		{
			// The freeze covers Dec 19, Dec 26 and Jan 2 (all Saturdays).
			name: "Blackout",
			w: Window{Name: "w", TimeZone: "Europe/Berlin", Weekly: &Weekly{Days: []Day{Saturday}, Start: "22:00"}, Duration: "4h",
				Blackouts: []Blackout{{From: "2026-12-19", To: "2027-01-03", Reason: "year-end freeze"}}},
			after: "2026-12-15T00:00:00Z",
			want:  occ(t, "2027-01-09T22:00:00+01:00", "2027-01-10T02:00:00+01:00"),
		},
		{
			// The Dec 12 window starts before the blackout and runs into it.
			name: "BlackoutDoesNotCutRunningWindow",
			w: Window{Name: "w", TimeZone: "UTC", Weekly: &Weekly{Days: []Day{Saturday}, Start: "22:00"}, Duration: "4h",
				Blackouts: []Blackout{{From: "2026-12-13", To: "2026-12-20"}}},
			after: "2026-12-13T00:30:00Z",
			want:  occ(t, "2026-12-12T22:00:00Z", "2026-12-13T02:00:00Z"),
		},
		{
			name:  "EffectiveFrom",
			w:     Window{Name: "w", TimeZone: "UTC", Weekly: &Weekly{Days: []Day{Saturday}, Start: "22:00"}, Duration: "4h", EffectiveFrom: "2026-06-01"},
			after: "2026-01-01T00:00:00Z",
			want:  occ(t, "2026-06-06T22:00:00Z", "2026-06-07T02:00:00Z"),
		},
		{
			name:  "RRule/WeeklyBerlinSpringForward",
			w:     Window{Name: "r", TimeZone: "Europe/Berlin", RRule: "DTSTART:20260103T220000\nRRULE:FREQ=WEEKLY;BYDAY=SA", Duration: "4h"},
			after: "2026-03-25T12:00:00Z",
			want:  occ(t, "2026-03-28T22:00:00+01:00", "2026-03-29T03:00:00+02:00"),
		},
		{
			name:  "RRule/SecondTuesdayNewYork",
			w:     Window{Name: "r", TimeZone: "America/New_York", RRule: "FREQ=MONTHLY;BYDAY=2TU;DTSTART=20260101T010000", Duration: "2h"},
			after: "2026-03-01T00:00:00Z",
			want:  occ(t, "2026-03-10T01:00:00-04:00", "2026-03-10T03:00:00-04:00"),
		},
		{
			name:  "RRule/StartInGap",
			w:     Window{Name: "r", TimeZone: "America/New_York", RRule: "DTSTART:20260301T023000\nRRULE:FREQ=DAILY", Duration: "1h"},
			after: "2026-03-08T00:00:00Z",
			want:  occ(t, "2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00"),
		},
		{
			name:  "RRule/StartInOverlapLordHowe",
			w:     Window{Name: "r", TimeZone: "Australia/Lord_Howe", RRule: "DTSTART:20260101T014500\nRRULE:FREQ=WEEKLY;BYDAY=SU", Duration: "30m"},
			after: "2026-04-04T00:00:00Z",
			want:  occ(t, "2026-04-05T01:45:00+11:00", "2026-04-05T02:15:00+10:30"),
		},
		{
			// RFC 5545: BYMONTHDAY=31 skips months without a 31st.
			name:  "RRule/MonthDay31Skips",
			w:     Window{Name: "r", TimeZone: "UTC", RRule: "FREQ=MONTHLY;BYMONTHDAY=31;DTSTART=20260131T010000", Duration: "2h"},
			after: "2026-02-01T00:00:00Z",
			want:  occ(t, "2026-03-31T01:00:00Z", "2026-03-31T03:00:00Z"),
		},
		{
			name:  "RRule/LeapDay",
			w:     Window{Name: "r", TimeZone: "UTC", RRule: "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;DTSTART=20240229T020000", Duration: "2h"},
			after: "2024-03-01T00:00:00Z",
			want:  occ(t, "2028-02-29T02:00:00Z", "2028-02-29T04:00:00Z"),
		},
		{
			name:  "RRule/KolkataLastSunday",
			w:     Window{Name: "r", TimeZone: "Asia/Kolkata", RRule: "DTSTART:20260101T030000\nRRULE:FREQ=MONTHLY;BYDAY=-1SU", Duration: "3h"},
			after: "2026-05-01T00:00:00Z",
			want:  occ(t, "2026-05-31T03:00:00+05:30", "2026-05-31T06:00:00+05:30"),
		},
	}
	chicago := mustZone(t, "America/Chicago")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.w.Validate(); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			after := mustTime(t, tt.after)
			got, ok := tt.w.Next(after, chicago)
			if !ok || !sameOcc(got, tt.want) {
				t.Errorf("Next(%s) = %s, %v; want %s", tt.after, fmtOcc(got), ok, fmtOcc(tt.want))
			}
			if _, off := got.Start.Zone(); ok {
				if _, wantOff := tt.want.Start.Zone(); off != wantOff {
					t.Errorf("Next(%s).Start offset = %d, want %d (times are in the window's zone)", tt.after, off, wantOff)
				}
			}
		})
	}
}

func TestWindow_Next_None(t *testing.T) {
	tests := []struct {
		name  string
		w     Window
		after string
	}{
		{"PastEffectiveUntil", Window{Name: "w", TimeZone: "UTC", Weekly: &Weekly{Days: []Day{Monday}, Start: "01:00"}, Duration: "1h", EffectiveUntil: "2026-01-31"}, "2026-02-01T00:00:00Z"},
		{"RRuleCountExhausted", Window{Name: "w", TimeZone: "UTC", RRule: "FREQ=WEEKLY;COUNT=2;DTSTART=20260105T010000", Duration: "1h"}, "2026-01-13T00:00:00Z"},
		{"RRuleUntilUTC", Window{Name: "w", TimeZone: "Europe/Berlin", RRule: "FREQ=DAILY;UNTIL=20260110T000000Z;DTSTART=20260105T010000", Duration: "1h"}, "2026-01-10T01:00:00Z"},
		{"Invalid", Window{Name: "w", TimeZone: "Mars/Base", Weekly: &Weekly{Days: []Day{Monday}, Start: "01:00"}, Duration: "1h"}, "2026-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := tt.w.Next(mustTime(t, tt.after), nil); ok {
				t.Errorf("Next(%s) = %s, want none", tt.after, fmtOcc(got))
			}
		})
	}
}

func TestWindow_Occurrences(t *testing.T) {
	w := Window{Name: "md", TimeZone: "Europe/Berlin", MonthlyDay: &MonthlyDay{Day: 31, Start: "01:00"}, Duration: "2h"}
	got := w.Occurrences(mustTime(t, "2026-01-01T00:00:00Z"), mustTime(t, "2026-07-01T00:00:00Z"), nil)
	want := []Occurrence{
		occ(t, "2026-01-31T01:00:00+01:00", "2026-01-31T03:00:00+01:00"),
		occ(t, "2026-02-28T01:00:00+01:00", "2026-02-28T03:00:00+01:00"),
		occ(t, "2026-03-31T01:00:00+02:00", "2026-03-31T03:00:00+02:00"),
		occ(t, "2026-04-30T01:00:00+02:00", "2026-04-30T03:00:00+02:00"),
		occ(t, "2026-05-31T01:00:00+02:00", "2026-05-31T03:00:00+02:00"),
		occ(t, "2026-06-30T01:00:00+02:00", "2026-06-30T03:00:00+02:00"),
	}
	if len(got) != len(want) {
		t.Fatalf("Occurrences() returned %d, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if !sameOcc(got[i], want[i]) {
			t.Errorf("Occurrences()[%d] = %s, want %s", i, fmtOcc(got[i]), fmtOcc(want[i]))
		}
	}

	// The range is half-open and an occurrence overlapping from is kept.
	w = weekly("UTC", "22:00", "4h", Saturday)
	got = w.Occurrences(mustTime(t, "2026-03-22T01:00:00Z"), mustTime(t, "2026-03-28T22:00:00Z"), nil)
	if len(got) != 1 || !sameOcc(got[0], occ(t, "2026-03-21T22:00:00Z", "2026-03-22T02:00:00Z")) {
		t.Errorf("Occurrences(overlapping from, to at a start) = %v, want only the Mar 21 window", got)
	}
}

func TestWindow_ContainsAndFits(t *testing.T) {
	w := weekly("America/New_York", "22:00", "4h", Saturday) // Sat 22:00 – Sun 02:00
	tests := []struct {
		name     string
		at       string
		need     time.Duration
		contains bool
		fits     bool
	}{
		{"BeforeStart", "2026-03-21T21:59:00-04:00", time.Hour, false, false},
		{"AtStart", "2026-03-21T22:00:00-04:00", 4 * time.Hour, true, true},
		{"JobEndsExactlyAtClose", "2026-03-22T00:00:00-04:00", 2 * time.Hour, true, true},
		{"JobOverrunsClose", "2026-03-22T00:00:00-04:00", 2*time.Hour + time.Minute, true, false},
		{"AtEnd", "2026-03-22T02:00:00-04:00", 0, false, false},
		// Mar 7–8 is spring-forward night: the window is 22:00 EST – 03:00 EDT
		// (02:00 does not exist), so at 01:30 EST half an hour is left.
		{"SpringForwardNight", "2026-03-08T01:30:00-05:00", 30 * time.Minute, true, true},
		{"SpringForwardNightTooLong", "2026-03-08T01:30:00-05:00", 31 * time.Minute, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := mustTime(t, tt.at)
			if got := w.Contains(at, nil); got != tt.contains {
				t.Errorf("Contains(%s) = %v, want %v", tt.at, got, tt.contains)
			}
			if got := w.Fits(at, tt.need, nil); got != tt.fits {
				t.Errorf("Fits(%s, %s) = %v, want %v", tt.at, tt.need, got, tt.fits)
			}
		})
	}
}

func TestWindow_NextFit(t *testing.T) {
	w := weekly("UTC", "22:00", "4h", Saturday)
	tests := []struct {
		name      string
		after     string
		need      time.Duration
		wantStart string
	}{
		{"Now", "2026-03-21T23:00:00Z", 3 * time.Hour, "2026-03-21T23:00:00Z"},
		{"NextWeek", "2026-03-21T23:30:00Z", 3 * time.Hour, "2026-03-28T22:00:00Z"},
		{"BeforeWindow", "2026-03-20T00:00:00Z", time.Hour, "2026-03-21T22:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, ok := w.NextFit(mustTime(t, tt.after), tt.need, nil)
			if !ok || !got.Equal(mustTime(t, tt.wantStart)) {
				t.Errorf("NextFit(%s, %s) = %s, %v; want %s", tt.after, tt.need, got, ok, tt.wantStart)
			}
		})
	}
	if got, _, ok := w.NextFit(mustTime(t, "2026-03-20T00:00:00Z"), 5*time.Hour, nil); ok {
		t.Errorf("NextFit(5h job, 4h window) = %s, want none", got)
	}
}

func TestNextAny(t *testing.T) {
	sat := weekly("UTC", "22:00", "4h", Saturday)   // Sat 22:00 – Sun 02:00
	sun := weekly("UTC", "01:00", "4h", Sunday)     // Sun 01:00 – 05:00
	early := weekly("UTC", "20:00", "2h", Saturday) // Sat 20:00 – 22:00, touches sat
	berlin := weekly("Europe/Berlin", "03:00", "2h", Monday)
	tests := []struct {
		name  string
		ws    []Window
		after string
		want  Occurrence
	}{
		{"Overlap", []Window{sat, sun}, "2026-03-16T00:00:00Z", occ(t, "2026-03-21T22:00:00Z", "2026-03-22T05:00:00Z")},
		{"Touching", []Window{sat, early}, "2026-03-16T00:00:00Z", occ(t, "2026-03-21T20:00:00Z", "2026-03-22T02:00:00Z")},
		{"InProgress", []Window{sat, sun}, "2026-03-22T03:00:00Z", occ(t, "2026-03-21T22:00:00Z", "2026-03-22T05:00:00Z")},
		{"Disjoint", []Window{sun, berlin}, "2026-03-22T06:00:00Z", occ(t, "2026-03-23T03:00:00+01:00", "2026-03-23T05:00:00+01:00")},
		{"InvalidIgnored", []Window{{Name: "bad"}, sun}, "2026-03-16T00:00:00Z", occ(t, "2026-03-22T01:00:00Z", "2026-03-22T05:00:00Z")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := NextAny(tt.ws, mustTime(t, tt.after), nil)
			if !ok || !sameOcc(got, tt.want) {
				t.Errorf("NextAny(%s) = %s, %v; want %s", tt.after, fmtOcc(got), ok, fmtOcc(tt.want))
			}
		})
	}
	if got, ok := NextAny(nil, mustTime(t, "2026-03-16T00:00:00Z"), nil); ok {
		t.Errorf("NextAny(no windows) = %s, want none", fmtOcc(got))
	}
}

func TestCalendar_Fits_AcrossMergedWindows(t *testing.T) {
	cal, err := NewCalendar(nil, weekly("UTC", "22:00", "4h", Saturday), weekly("UTC", "01:00", "4h", Sunday))
	if err != nil {
		t.Fatal(err)
	}
	// 6h from Sat 23:00 ends Sun 05:00: only possible across both windows.
	if !cal.Fits(mustTime(t, "2026-03-21T23:00:00Z"), 6*time.Hour) {
		t.Error("Fits(Sat 23:00, 6h) = false, want true across the merged block")
	}
	if cal.Fits(mustTime(t, "2026-03-21T23:00:00Z"), 6*time.Hour+time.Minute) {
		t.Error("Fits(Sat 23:00, 6h1m) = true, want false")
	}
}

func TestNewCalendar_Errors(t *testing.T) {
	_, err := NewCalendar(nil, weekly("UTC", "22:00", "4h", Saturday), weekly("Mars/Base", "22:00", "1m", Saturday))
	var fes FieldErrors
	if err == nil {
		t.Fatal("NewCalendar(invalid) = nil error")
	}
	fes, _ = err.(FieldErrors)
	want := []string{"[1].time_zone", "[1].duration"}
	if len(fes) != len(want) {
		t.Fatalf("NewCalendar errors = %v, want paths %v", err, want)
	}
	for i, p := range want {
		if fes[i].Path != p {
			t.Errorf("error %d path = %q, want %q", i, fes[i].Path, p)
		}
	}
}

func TestCalendar_AlwaysOpen(t *testing.T) {
	// One 7-day window a week: every moment is inside some occurrence.
	cal, err := NewCalendar(nil, weekly("Europe/Berlin", "00:00", "168h", Monday))
	if err != nil {
		t.Fatal(err)
	}
	at := mustTime(t, "2026-03-29T01:30:00Z") // just after Berlin springs forward
	for i := range 200 {
		ti := at.Add(time.Duration(i) * 37 * time.Hour)
		if !cal.Contains(ti) {
			t.Fatalf("Contains(%s) = false for an always-open calendar", ti)
		}
		if !cal.Fits(ti, 7*24*time.Hour) {
			t.Fatalf("Fits(%s, 7 days) = false for an always-open calendar", ti)
		}
	}
}

func TestCalendar_Concurrent(t *testing.T) {
	cal, err := NewCalendar(mustZone(t, "America/New_York"),
		weekly("", "22:00", "4h", Saturday),
		Window{Name: "r", RRule: "FREQ=MONTHLY;BYDAY=2TU;DTSTART=20200101T010000", Duration: "2h"})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := cal.Next(mustTime(t, "2026-03-01T00:00:00Z"))
	done := make(chan Occurrence)
	for range 8 {
		go func() {
			o, _ := cal.Next(mustTime(t, "2026-03-01T00:00:00Z"))
			cal.Occurrences(o.Start, o.Start.AddDate(0, 2, 0))
			done <- o
		}()
	}
	for range 8 {
		if got := <-done; !sameOcc(got, want) {
			t.Errorf("concurrent Next() = %s, want %s", fmtOcc(got), fmtOcc(want))
		}
	}
}
