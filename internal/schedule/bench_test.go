package schedule

import (
	"testing"
	"time"
)

func BenchmarkCalendar_Next(b *testing.B) {
	after := time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		w    Window
	}{
		{"Weekly", weekly("America/New_York", "22:00", "4h", Saturday)},
		{"PatchTuesdayPlus5", Window{Name: "pt", TimeZone: "America/Chicago", MonthlyWeekday: &MonthlyWeekday{Week: 2, Day: Tuesday, OffsetDays: 5, Start: "01:00"}, Duration: "4h"}},
		{"RRuleDailySince1970", Window{Name: "r", TimeZone: "Europe/Berlin", RRule: "FREQ=DAILY;DTSTART=19700101T020000", Duration: "1h"}},
		{"AlwaysOpen", weekly("UTC", "00:00", "168h", Sunday)},
	}
	for _, c := range cases {
		cal, err := NewCalendar(nil, c.w)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				cal.Next(after)
			}
		})
	}
}
