package schedule

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestWindow_Validate(t *testing.T) {
	valid := func() Window { return weekly("Europe/Berlin", "22:00", "4h", Saturday) }
	tests := []struct {
		name string
		edit func(w *Window)
		want []string // "path: message" of each FieldError, in order
	}{
		{"OK", func(w *Window) {}, nil},
		{"OKEmptyZone", func(w *Window) { w.TimeZone = "" }, nil},
		{"EmptyName", func(w *Window) { w.Name = " " }, []string{"name: must not be empty"}},
		{"UnknownZone", func(w *Window) { w.TimeZone = "Mars/Base" }, []string{`time_zone: unknown time zone "Mars/Base"`}},
		{"LocalZone", func(w *Window) { w.TimeZone = "Local" }, []string{`time_zone: "Local" depends on the machine; use an IANA name such as "Europe/Berlin"`}},
		{"NoRecurrence", func(w *Window) { w.Weekly = nil }, []string{"one of weekly, monthly_weekday, monthly_day or rrule must be set"}},
		{"TwoRecurrences", func(w *Window) { w.RRule = "FREQ=DAILY;DTSTART=20260101T010000" }, []string{"rrule: only one recurrence may be set, but weekly and rrule are set"}},
		{"EmptyDays", func(w *Window) { w.Weekly.Days = nil }, []string{"weekly.days: must not be empty"}},
		{"BadDay", func(w *Window) { w.Weekly.Days = []Day{Monday, "Sat"} }, []string{`weekly.days[1]: unknown day "Sat" (want one of monday … sunday, lowercase)`}},
		{"DuplicateDay", func(w *Window) { w.Weekly.Days = []Day{Monday, Friday, Monday} }, []string{`weekly.days[2]: duplicate day "monday"`}},
		{"BadStart", func(w *Window) { w.Weekly.Start = "25:00" }, []string{`weekly.start: must be a time of day between 00:00 and 23:59, got "25:00"`}},
		{"StartFormat", func(w *Window) { w.Weekly.Start = "10pm" }, []string{`weekly.start: must be a time of day HH:MM (24-hour), got "10pm"`}},
		{"NoDuration", func(w *Window) { w.Duration = "" }, []string{`duration: must not be empty (for example "4h")`}},
		{"BadDuration", func(w *Window) { w.Duration = "4 hours" }, []string{`duration: must be a duration such as "4h" or "2h30m", got "4 hours"`}},
		{"ShortDuration", func(w *Window) { w.Duration = "10m" }, []string{"duration: must be between 15m and 7 days (168h), got 10m"}},
		{"LongDuration", func(w *Window) { w.Duration = "169h" }, []string{"duration: must be between 15m and 7 days (168h), got 169h"}},
		{"NegativeDuration", func(w *Window) { w.Duration = "-4h" }, []string{"duration: must be between 15m and 7 days (168h), got -4h"}},
		{"SecondsDuration", func(w *Window) { w.Duration = "1h30s" }, []string{"duration: must be a whole number of minutes, got 1h30s"}},
		{"MaxDuration", func(w *Window) { w.Duration = "168h" }, nil},
		{"Blackout", func(w *Window) {
			w.Blackouts = []Blackout{{From: "2026-12-20", To: "2027-01-05"}, {From: "2026-13-01", To: "2026-12-01"}, {From: "2026-06-02", To: "2026-06-01"}}
		}, []string{
			`blackouts[1].from: must be a date YYYY-MM-DD, got "2026-13-01"`,
			"blackouts[2].to: must not be before from (2026-06-02)",
		}},
		{"BlackoutYear", func(w *Window) { w.Blackouts = []Blackout{{From: "1900-01-01", To: "1900-01-02"}} }, []string{
			`blackouts[0].from: year must be between 1970 and 2999, got "1900-01-01"`,
			`blackouts[0].to: year must be between 1970 and 2999, got "1900-01-02"`,
		}},
		{"Effective", func(w *Window) { w.EffectiveFrom, w.EffectiveUntil = "2026-06-01", "2026-05-31" }, []string{"effective_until: must not be before effective_from (2026-06-01)"}},
		{"EffectiveFormat", func(w *Window) { w.EffectiveFrom = "2026-6-1" }, []string{`effective_from: must be a date YYYY-MM-DD, got "2026-6-1"`}},
		{"MonthlyWeekday", func(w *Window) {
			w.Weekly = nil
			w.MonthlyWeekday = &MonthlyWeekday{Week: 5, Day: "", OffsetDays: 30, Start: "1:00"}
		}, []string{
			"monthly_weekday.week: must be 1, 2, 3, 4 or -1 (last), got 5",
			"monthly_weekday.day: must not be empty",
			"monthly_weekday.offset_days: must be between -28 and 28, got 30",
			`monthly_weekday.start: must be a time of day HH:MM (24-hour), got "1:00"`,
		}},
		{"MonthlyDay", func(w *Window) { w.Weekly = nil; w.MonthlyDay = &MonthlyDay{Day: 32, Start: "01:00"} }, []string{"monthly_day.day: must be between 1 and 31, got 32"}},
		{"Many", func(w *Window) { w.Name = ""; w.Duration = "1m"; w.Weekly.Days = nil }, []string{
			"name: must not be empty", "weekly.days: must not be empty", "duration: must be between 15m and 7 days (168h), got 1m",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := valid()
			tt.edit(&w)
			err := w.Validate()
			var got []string
			if err != nil {
				fes, ok := err.(FieldErrors)
				if !ok {
					t.Fatalf("Validate() error type %T, want FieldErrors", err)
				}
				for _, fe := range fes {
					got = append(got, fe.Error())
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Validate() =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestWindow_Validate_RRule(t *testing.T) {
	tests := []struct {
		name string
		rule string
		want string // substring of the rrule field message; "" means valid
	}{
		{"TwoLines", "DTSTART:20260103T220000\nRRULE:FREQ=WEEKLY;BYDAY=SA", ""},
		{"CRLF", "DTSTART:20260103T220000\r\nRRULE:FREQ=WEEKLY;BYDAY=SA\r\n", ""},
		{"OneLine", "FREQ=MONTHLY;BYDAY=2TU;DTSTART=20260101T010000", ""},
		{"NoDTSTART", "FREQ=WEEKLY;BYDAY=SA", "DTSTART is required"},
		{"UTCDTSTART", "DTSTART:20260103T220000Z\nRRULE:FREQ=WEEKLY", "without \"Z\""},
		{"UTCDTSTARTInline", "FREQ=WEEKLY;DTSTART=20260103T220000Z", "without \"Z\""},
		{"TZID", "DTSTART;TZID=Europe/Berlin:20260103T220000\nRRULE:FREQ=WEEKLY", "must not carry parameters such as TZID"},
		{"TwoDTSTART", "DTSTART:20260103T220000\nRRULE:FREQ=WEEKLY;DTSTART=20260103T220000", "DTSTART given twice"},
		{"Hourly", "FREQ=HOURLY;DTSTART=20260103T220000", "FREQ=HOURLY is not supported"},
		{"Minutely", "FREQ=MINUTELY;DTSTART=20260103T220000", "FREQ=MINUTELY is not supported"},
		{"NoFreq", "BYDAY=SA;DTSTART=20260103T220000", "FREQ is required"},
		{"UnknownPart", "FREQ=WEEKLY;BYFOO=1;DTSTART=20260103T220000", "unknown RRULE property: BYFOO"},
		{"Exdate", "DTSTART:20260103T220000\nRRULE:FREQ=WEEKLY\nEXDATE:20260110T220000", "unsupported property EXDATE"},
		{"Easter", "FREQ=YEARLY;BYEASTER=0;DTSTART=20260103T220000", "BYEASTER"},
		{"SpaceSeparated", "DTSTART:20260103T220000 RRULE:FREQ=WEEKLY;BYDAY=SA", ""},
		{"February30", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;DTSTART=20260101T010000", "no month in BYMONTH=2 has day BYMONTHDAY=30"},
		{"April31Daily", "FREQ=DAILY;BYMONTH=4,6;BYMONTHDAY=31;DTSTART=20260101T010000", "no month in BYMONTH=4,6 has day BYMONTHDAY=31"},
		{"Never", "FREQ=MONTHLY;BYSETPOS=40;BYMONTHDAY=1;DTSTART=20260101T010000", "produces no occurrences"},
		{"UntilBeforeStart", "FREQ=DAILY;UNTIL=20251231T000000;DTSTART=20260101T010000", "produces no occurrences"},
		{"BadBound", "FREQ=MONTHLY;BYMONTHDAY=32;DTSTART=20260101T010000", "bymonthday must be between 1 and 31"},
		{"WeeknoMonthly", "FREQ=MONTHLY;BYWEEKNO=2;DTSTART=20260101T010000", "BYWEEKNO is only allowed with FREQ=YEARLY"},
		{"BigOrdinal", "FREQ=MONTHLY;BYDAY=53MO;DTSTART=20260101T010000", "ordinal must be between -5 and 5"},
		{"OrdinalWeekly", "FREQ=WEEKLY;BYDAY=2MO;DTSTART=20260101T010000", "ordinal is only allowed"},
		{"Interval", "FREQ=DAILY;INTERVAL=5000;DTSTART=20260101T010000", "INTERVAL must be between 1 and 1000"},
		{"OldDTSTART", "FREQ=DAILY;DTSTART=19000101T010000", "DTSTART year must be between 1970 and 2999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := Window{Name: "r", TimeZone: "Europe/Berlin", RRule: tt.rule, Duration: "4h"}
			err := w.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			fe, ok := errors.AsType[*FieldError](err)
			if !ok || fe.Path != "rrule" || !strings.Contains(fe.Message, tt.want) {
				t.Errorf("Validate() = %v, want an rrule error containing %q", err, tt.want)
			}
		})
	}
}

func TestFieldErrors_WithPrefix(t *testing.T) {
	es := FieldErrors{{Path: "duration", Message: "m"}, {Path: "", Message: "n"}, {Path: "[2].name", Message: "o"}}
	got := es.WithPrefix("windows[3]").Error()
	want := "windows[3].duration: m; windows[3]: n; windows[3][2].name: o"
	if got != want {
		t.Errorf("WithPrefix().Error() = %q, want %q", got, want)
	}
}

// The JSON form is a stored and exchanged format: its field names must not
// change.
func TestWindow_JSON(t *testing.T) {
	w := Window{
		Name:           "clinic weekend",
		TimeZone:       "Europe/Berlin",
		Weekly:         &Weekly{Days: []Day{Saturday, Sunday}, Start: "22:00"},
		Duration:       "4h",
		Blackouts:      []Blackout{{From: "2026-12-20", To: "2027-01-05", Reason: "year-end freeze"}},
		EffectiveFrom:  "2026-01-01",
		EffectiveUntil: "2027-12-31",
	}
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"clinic weekend","time_zone":"Europe/Berlin","weekly":{"days":["saturday","sunday"],"start":"22:00"},"duration":"4h","blackouts":[{"from":"2026-12-20","to":"2027-01-05","reason":"year-end freeze"}],"effective_from":"2026-01-01","effective_until":"2027-12-31"}`
	if string(b) != want {
		t.Errorf("json.Marshal() =\n%s\nwant\n%s", b, want)
	}
	m := Window{Name: "pt", MonthlyWeekday: &MonthlyWeekday{Week: 2, Day: Tuesday, OffsetDays: 5, Start: "01:00"}, Duration: "4h"}
	b, _ = json.Marshal(m)
	if want := `{"name":"pt","monthly_weekday":{"week":2,"day":"tuesday","offset_days":5,"start":"01:00"},"duration":"4h"}`; string(b) != want {
		t.Errorf("json.Marshal() =\n%s\nwant\n%s", b, want)
	}
	d := Window{Name: "md", MonthlyDay: &MonthlyDay{Day: 31, Start: "01:00"}, RRule: "", Duration: "2h"}
	b, _ = json.Marshal(d)
	if want := `{"name":"md","monthly_day":{"day":31,"start":"01:00"},"duration":"2h"}`; string(b) != want {
		t.Errorf("json.Marshal() =\n%s\nwant\n%s", b, want)
	}
}

func TestWindow_String(t *testing.T) {
	tests := []struct {
		w    Window
		want string
	}{
		{weekly("Europe/Berlin", "22:00", "4h", Saturday), "Every Saturday 22:00–02:00 (Europe/Berlin)"},
		{weekly("", "01:00", "2h30m", Sunday, Saturday), "Every Saturday and Sunday 01:00–03:30 (site time zone)"},
		{weekly("UTC", "01:00", "2h", Friday, Monday, Wednesday), "Every Monday, Wednesday and Friday 01:00–03:00 (UTC)"},
		{weekly("UTC", "01:00", "2h", Sunday, Monday, Tuesday, Wednesday, Thursday, Friday, Saturday), "Every day 01:00–03:00 (UTC)"},
		{weekly("UTC", "22:00", "30h", Saturday), "Every Saturday 22:00 for 30h (UTC)"},
		{Window{TimeZone: "America/Chicago", MonthlyWeekday: &MonthlyWeekday{Week: 2, Day: Tuesday, OffsetDays: 5, Start: "01:00"}, Duration: "4h"},
			"Second Tuesday + 5 days, 01:00 for 4h (America/Chicago)"},
		{Window{TimeZone: "America/Chicago", MonthlyWeekday: &MonthlyWeekday{Week: -1, Day: Friday, Start: "22:00"}, Duration: "6h"},
			"Last Friday, 22:00 for 6h (America/Chicago)"},
		{Window{TimeZone: "UTC", MonthlyWeekday: &MonthlyWeekday{Week: 2, Day: Tuesday, OffsetDays: -1, Start: "20:00"}, Duration: "90m"},
			"Second Tuesday − 1 day, 20:00 for 1h30m (UTC)"},
		{Window{TimeZone: "UTC", MonthlyDay: &MonthlyDay{Day: 31, Start: "01:00"}, Duration: "45m"}, "Day 31 of every month (or its last day), 01:00 for 45m (UTC)"},
		{Window{TimeZone: "UTC", MonthlyDay: &MonthlyDay{Day: 15, Start: "01:00"}, Duration: "2h"}, "Day 15 of every month, 01:00 for 2h (UTC)"},
		{Window{TimeZone: "Europe/Berlin", RRule: "DTSTART:20260103T220000\nRRULE:FREQ=WEEKLY;BYDAY=SA", Duration: "4h"},
			"Recurring DTSTART:20260103T220000 RRULE:FREQ=WEEKLY;BYDAY=SA, for 4h (Europe/Berlin)"},
		{Window{TimeZone: "UTC", Weekly: &Weekly{Days: []Day{Saturday}, Start: "22:00"}, Duration: "4h",
			Blackouts: []Blackout{{From: "2026-12-20", To: "2027-01-05"}, {From: "2026-07-04", To: "2026-07-04"}}, EffectiveFrom: "2026-01-01"},
			"Every Saturday 22:00–02:00 (UTC), from 2026-01-01, except 2026-12-20 to 2027-01-05 and 2026-07-04"},
		{Window{Weekly: &Weekly{Days: []Day{"caturday"}, Start: "x"}, Duration: "forever"}, "Every caturday x for forever (site time zone)"},
		{Window{Duration: "4h"}, "No recurrence, for 4h (site time zone)"},
	}
	for _, tt := range tests {
		if got := tt.w.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
