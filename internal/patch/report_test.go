package patch

import (
	"strings"
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	d := func(y int, m time.Month) time.Time { return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		in         string
		key        string
		start, end time.Time
		quarter    bool
		label      string
	}{
		{"2026-10", "2026-10", d(2026, 10), d(2026, 11), false, "October 2026"},
		{"2026-12", "2026-12", d(2026, 12), d(2027, 1), false, "December 2026"},
		{" 2026-01 ", "2026-01", d(2026, 1), d(2026, 2), false, "January 2026"},
		{"2026-Q4", "2026-Q4", d(2026, 10), d(2027, 1), true, "Q4 2026"},
		{"2026-q1", "2026-Q1", d(2026, 1), d(2026, 4), true, "Q1 2026"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePeriod("period", tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if p.Key != tt.key || !p.Start.Equal(tt.start) || !p.End.Equal(tt.end) || p.Quarter() != tt.quarter || p.Label() != tt.label {
				t.Errorf("ParsePeriod(%q) = %+v (%s)", tt.in, p, p.Label())
			}
		})
	}
	for _, bad := range []string{"", "2026", "2026-13", "2026-00", "2026-1", "2026-Q5", "2026-Q0", "2026-Q12", "26-10", "1999-10", "2026-10-01", "abcd-10", "2026/10"} {
		if _, err := ParsePeriod("period", bad); ErrorField(err) != "period" {
			t.Errorf("ParsePeriod(%q) = %v, want an error on field period", bad, err)
		}
	}
}

func TestPeriodMonths(t *testing.T) {
	q, _ := ParsePeriod("p", "2026-Q4")
	ms := q.Months()
	if len(ms) != 3 || ms[0].Key != "2026-10" || ms[2].Key != "2026-12" {
		t.Errorf("months of Q4 = %+v", ms)
	}
	if got := QuarterPeriod(time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)); got.Key != "2026-Q4" {
		t.Errorf("QuarterPeriod = %+v", got)
	}
	if !q.Contains(q.Start) || q.Contains(q.End) {
		t.Error("a period is half-open")
	}
}

func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"2026-10", "2026-Q4", "2026-q2", "", "9999-12", "2026-Q", "-", "2026-10-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePeriod("period", s)
		if err != nil {
			if ErrorField(err) != "period" {
				t.Fatalf("error %v names no field", err)
			}
			return
		}
		if !p.Start.Before(p.End) || p.Start.Day() != 1 || p.Start.Location() != time.UTC {
			t.Fatalf("ParsePeriod(%q) = %+v", s, p)
		}
		// The key parses back to the same period.
		back, err := ParsePeriod("period", p.Key)
		if err != nil || back != p {
			t.Fatalf("key %q of %q does not round-trip: %+v, %v", p.Key, s, back, err)
		}
		if !strings.Contains(strings.ToUpper(s), p.Key[:4]) {
			t.Fatalf("the year of %q is not in its key %q", s, p.Key)
		}
	})
}

func TestReportKinds(t *testing.T) {
	for _, k := range ReportKinds {
		if err := ValidateReportKind("kind", k); err != nil {
			t.Errorf("%s: %v", k, err)
		}
		if k.Title() == string(k) {
			t.Errorf("%s has no title", k)
		}
	}
	if ValidateReportKind("kind", "nope") == nil {
		t.Error("unknown kind accepted")
	}
	if !ReportScorecard.Internal() || ReportPatchHealth.Internal() {
		t.Error("only the scorecard is internal")
	}
}
