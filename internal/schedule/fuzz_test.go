package schedule

import (
	"encoding/json"
	"testing"
	"time"
)

var fuzzAfter = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// checkWindow runs the occurrence math on a window that passed Validate and
// checks the invariants every caller relies on.
func checkWindow(t *testing.T, w Window, after time.Time) {
	t.Helper()
	_ = w.String()
	cal, err := NewCalendar(time.UTC, w)
	if err != nil {
		t.Fatalf("Validate() = nil but NewCalendar() = %v", err)
	}
	o, ok := cal.Next(after)
	if ok && (!o.End.After(after) || !o.End.After(o.Start)) {
		t.Fatalf("Next(%s) = %s", after, fmtOcc(o))
	}
	if cal.Contains(after) != (ok && o.Contains(after)) {
		t.Fatalf("Contains(%s) disagrees with Next = %s", after, fmtOcc(o))
	}
	os := cal.Occurrences(after, after.Add(40*24*time.Hour))
	for i, x := range os {
		if !x.End.After(x.Start) || i > 0 && x.Start.Before(os[i-1].End) {
			t.Fatalf("Occurrences()[%d] = %s after %v", i, fmtOcc(x), os[:i])
		}
	}
}

func FuzzWindowJSON(f *testing.F) {
	seeds := []string{
		`{"name":"weekend","time_zone":"Europe/Berlin","weekly":{"days":["saturday"],"start":"22:00"},"duration":"4h"}`,
		`{"name":"pt","time_zone":"America/Chicago","monthly_weekday":{"week":2,"day":"tuesday","offset_days":5,"start":"01:00"},"duration":"4h"}`,
		`{"name":"lf","monthly_weekday":{"week":-1,"day":"friday","start":"22:00"},"duration":"6h","blackouts":[{"from":"2026-12-20","to":"2027-01-05","reason":"freeze"}]}`,
		`{"name":"md","time_zone":"Australia/Lord_Howe","monthly_day":{"day":31,"start":"02:00"},"duration":"90m","effective_from":"2026-01-01","effective_until":"2026-12-31"}`,
		`{"name":"r","time_zone":"Pacific/Auckland","rrule":"DTSTART:20260103T023000\nRRULE:FREQ=WEEKLY;BYDAY=SU","duration":"2h"}`,
		`{"name":"x","weekly":{"days":["monday","monday"],"start":"24:00"},"rrule":"FREQ=DAILY","duration":"-1h"}`,
		`{"name":"y","time_zone":"Mars/Base","weekly":{"days":[]},"duration":"168h","blackouts":[{"from":"x","to":"2026-02-30"}]}`,
		`{"name":"z","weekly":{"days":["sunday","monday","tuesday","wednesday","thursday","friday","saturday"],"start":"00:00"},"duration":"168h"}`,
		`{}`,
		`[]`,
		`null`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), int64(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, offset int64) {
		var w Window
		if err := json.Unmarshal(data, &w); err != nil {
			return
		}
		err := w.Validate()
		_ = w.String()
		if err != nil {
			if _, ok := err.(FieldErrors); !ok {
				t.Fatalf("Validate() error type %T, want FieldErrors", err)
			}
			if _, ok := w.Next(fuzzAfter, nil); ok {
				t.Fatal("invalid window opens")
			}
			return
		}
		// A valid window survives a JSON round trip unchanged in meaning.
		b, err := json.Marshal(w)
		if err != nil {
			t.Fatalf("json.Marshal() = %v", err)
		}
		var back Window
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("json.Unmarshal(%s) = %v", b, err)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("round-tripped window is invalid: %v", err)
		}
		checkWindow(t, w, fuzzAfter.Add(time.Duration(offset%(3*365*24))*time.Hour))
	})
}

func FuzzRRule(f *testing.F) {
	seeds := []string{
		"DTSTART:20260103T220000\nRRULE:FREQ=WEEKLY;BYDAY=SA",
		"FREQ=MONTHLY;BYDAY=2TU;DTSTART=20260101T010000",
		"FREQ=MONTHLY;BYDAY=-1FR;DTSTART=20260101T220000;COUNT=5",
		"FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;DTSTART=20240229T020000",
		"FREQ=DAILY;BYHOUR=1,2,3;BYMINUTE=0,30;DTSTART=20260308T000000",
		"FREQ=YEARLY;BYWEEKNO=53;BYDAY=MO;DTSTART=20260101T010000",
		"FREQ=YEARLY;BYYEARDAY=-1,366;DTSTART=20260101T010000",
		"FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO,TU,WE,TH,FR;DTSTART=20260101T010000",
		"FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=TU,SU;UNTIL=20261231T235959Z;DTSTART=20260101T010000",
		"DTSTART;TZID=America/New_York:20260103T220000\nRRULE:FREQ=WEEKLY",
		"RRULE:FREQ=HOURLY;DTSTART=20260101T010000",
		"FREQ=MONTHLY;BYDAY=5MO;DTSTART=20260101T010000",
		"EXDATE:20260101T010000",
		"",
	}
	for i, s := range seeds {
		f.Add(s, uint8(i), int64(i*1000))
	}
	f.Fuzz(func(t *testing.T, rule string, zone uint8, offset int64) {
		w := Window{
			Name:     "fuzz",
			TimeZone: propertyZones[int(zone)%len(propertyZones)],
			RRule:    rule,
			Duration: "2h",
		}
		if w.RRule == "" {
			return
		}
		if err := w.Validate(); err != nil {
			return
		}
		checkWindow(t, w, fuzzAfter.Add(time.Duration(offset%(3*365*24))*time.Hour))
	})
}
