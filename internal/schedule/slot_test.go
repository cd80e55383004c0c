package schedule

import (
	"testing"
	"time"
)

func TestSlot_Next(t *testing.T) {
	tests := []struct {
		name  string
		slot  Slot
		after string
		want  string
	}{
		{"NewYork/Ordinary", Slot{Day: Sunday, At: "02:00", TimeZone: "America/New_York"}, "2026-02-25T12:00:00Z", "2026-03-01T02:00:00-05:00"},
		{"NewYork/SpringForward", Slot{Day: Sunday, At: "02:00", TimeZone: "America/New_York"}, "2026-03-07T12:00:00Z", "2026-03-08T03:00:00-04:00"},
		{"NewYork/FallBack", Slot{Day: Sunday, At: "01:30", TimeZone: "America/New_York"}, "2026-10-31T12:00:00Z", "2026-11-01T01:30:00-04:00"},
		{"NewYork/FallBackSecondPassIsNotAgain", Slot{Day: Sunday, At: "01:30", TimeZone: "America/New_York"}, "2026-11-01T05:30:00Z", "2026-11-08T01:30:00-05:00"},
		{"Berlin/FallBackFirst", Slot{Day: Sunday, At: "02:00", TimeZone: "Europe/Berlin"}, "2026-10-24T12:00:00Z", "2026-10-25T02:00:00+02:00"},
		{"Berlin/SpringForward", Slot{Day: Sunday, At: "02:00", TimeZone: "Europe/Berlin"}, "2026-03-28T12:00:00Z", "2026-03-29T03:00:00+02:00"},
		{"StrictlyAfter", Slot{Day: Sunday, At: "02:00", TimeZone: "Europe/Berlin"}, "2026-03-01T01:00:00Z", "2026-03-08T02:00:00+01:00"},
		{"JustBefore", Slot{Day: Sunday, At: "02:00", TimeZone: "Europe/Berlin"}, "2026-03-01T00:59:59Z", "2026-03-01T02:00:00+01:00"},
		{"LordHowe", Slot{Day: Sunday, At: "02:00", TimeZone: "Australia/Lord_Howe"}, "2026-10-01T00:00:00Z", "2026-10-04T02:30:00+11:00"},
		{"Auckland", Slot{Day: Sunday, At: "02:00", TimeZone: "Pacific/Auckland"}, "2026-09-25T00:00:00Z", "2026-09-27T03:00:00+13:00"},
		{"Kolkata", Slot{Day: Saturday, At: "23:30", TimeZone: "Asia/Kolkata"}, "2026-12-31T00:00:00Z", "2027-01-02T23:30:00+05:30"},
		{"StJohns", Slot{Day: Sunday, At: "02:00", TimeZone: "America/St_Johns"}, "2026-03-07T00:00:00Z", "2026-03-08T03:00:00-02:30"},
		{"Fallback", Slot{Day: Sunday, At: "02:00"}, "2026-03-28T12:00:00Z", "2026-03-29T03:00:00+02:00"},
	}
	berlin := mustZone(t, "Europe/Berlin")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.slot.Next(mustTime(t, tt.after), berlin)
			if want := mustTime(t, tt.want); !ok || !got.Equal(want) {
				t.Errorf("%v.Next(%s) = %s, %v; want %s", tt.slot, tt.after, got.Format(time.RFC3339), ok, tt.want)
			}
		})
	}
	if got, ok := (Slot{Day: "someday", At: "02:00"}).Next(mustTime(t, "2026-01-01T00:00:00Z"), nil); ok {
		t.Errorf("invalid slot Next() = %s, want none", got)
	}
}

func TestParseSlot(t *testing.T) {
	tests := []struct {
		in      string
		want    Slot
		wantErr string
	}{
		{in: "Sunday 02:00", want: Slot{Day: Sunday, At: "02:00"}},
		{in: "  saturday   23:30  Asia/Kolkata ", want: Slot{Day: Saturday, At: "23:30", TimeZone: "Asia/Kolkata"}},
		{in: "Sun 02:00", wantErr: `parse slot "Sun 02:00": day: unknown day "sun" (want one of monday … sunday, lowercase)`},
		{in: "Sunday 2am", wantErr: `parse slot "Sunday 2am": at: must be a time of day HH:MM (24-hour), got "2am"`},
		{in: "Sunday 02:00 Mars/Base", wantErr: `parse slot "Sunday 02:00 Mars/Base": time_zone: unknown time zone "Mars/Base"`},
		{in: "Sunday", wantErr: `parse slot "Sunday": want "<day> HH:MM [time zone]", such as "Sunday 02:00"`},
	}
	for _, tt := range tests {
		got, err := ParseSlot(tt.in)
		switch {
		case tt.wantErr != "":
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseSlot(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("ParseSlot(%q) = %v", tt.in, err)
		case got != tt.want:
			t.Errorf("ParseSlot(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	if got, want := (Slot{Day: Sunday, At: "02:00", TimeZone: "Europe/Berlin"}).String(), "Sunday 02:00 (Europe/Berlin)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
