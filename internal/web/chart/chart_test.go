package chart

import (
	"encoding/xml"
	"flag"
	"html/template"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func ptr(v float64) *float64 { return &v }

func days(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "Nov " + itoa(i+1)
	}
	return out
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func trend(n int, start, step float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Min(100, start+step*float64(i))
	}
	return out
}

var goldenCharts = map[string]template.HTML{
	"line_compliance": Line{
		Title:  "Patch Health Compliance, last 30 days",
		Labels: days(30),
		Series: []Series{
			{Name: "Servers", Values: trend(30, 88, 0.3)},
			{Name: "Workstations", Values: trend(30, 80, 0.5)},
		},
		Min: 0, Max: 100, Target: ptr(95), Unit: "%",
	}.SVG(),
	"line_gap": Line{
		Title:  "With a missing day",
		Labels: days(5),
		Series: []Series{{Name: "Windows", Values: []float64{90, math.NaN(), 92, 93, 94}, Class: "s-ok"}},
		Unit:   "%",
	}.SVG(),
	"line_empty": Line{Title: "Nothing yet"}.SVG(),
	"bars_stacked_horizontal": Bars{
		Title:      "Assets by operating system",
		Categories: []string{"Windows", "macOS", "Linux", "Other"},
		Series: []Series{
			{Name: "Managed", Values: []float64{120, 14, 9, 0}, Class: "s-ok"},
			{Name: "Discovered", Values: []float64{3, 0, 1, 7}, Class: "s-info"},
		},
		Stacked: true, Horizontal: true, Width: 420,
	}.SVG(),
	"bars_class_targets": Bars{
		Title:      "Compliance by asset class",
		Categories: []string{"Core servers", "Workstations", "Kiosks"},
		Series: []Series{
			{Name: "Met target", Values: []float64{97.5, 0, math.NaN()}, Class: "s-ok"},
			{Name: "Below target", Values: []float64{0, 88.25, 0}, Class: "s-bad"},
		},
		Stacked: true, TotalsOnly: true, Horizontal: true, Max: 100, Unit: "%",
		Targets: []float64{95, 92, math.NaN()},
	}.SVG(),
	"bars_grouped_vertical": Bars{
		Title:      "Compliance by severity tier",
		Categories: []string{"Critical", "High", "Routine"},
		Series: []Series{
			{Name: "Servers", Values: []float64{97.5, 93, 99}},
			{Name: "Workstations", Values: []float64{91, 88.2, 95}},
		},
		Max: 100, Target: ptr(95), Unit: "%",
	}.SVG(),
}

func TestGolden(t *testing.T) {
	for name, got := range goldenCharts {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name+".svg")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs from %s (run go test -update after checking the change)", name, path)
			}
		})
	}
}

// wellFormed parses s as XML and returns its element names.
func wellFormed(t *testing.T, s template.HTML) []string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(s)))
	var names []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, s)
		}
		if se, ok := tok.(xml.StartElement); ok {
			names = append(names, se.Name.Local)
			for _, a := range se.Attr {
				if a.Name.Local == "style" {
					t.Errorf("element %s has a style attribute, which the CSP blocks", se.Name.Local)
				}
			}
		}
	}
}

// TestRandomInputs draws charts from random data, including hostile
// labels, NaN, infinities and negative values, and checks that the output
// is well-formed XML without style or script, with all text escaped.
func TestRandomInputs(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	hostile := []string{"<script>alert(1)</script>", `"quoted" & 'single'`, "Ünïcødé ✓", "", "a]]>b"}
	val := func() float64 {
		switch rnd.IntN(8) {
		case 0:
			return math.NaN()
		case 1:
			return math.Inf(1)
		case 2:
			return -rnd.Float64() * 50
		}
		return rnd.Float64() * 150
	}
	for i := range 300 {
		nc, ns := rnd.IntN(8), rnd.IntN(4)
		labels := make([]string, nc)
		for j := range labels {
			labels[j] = hostile[rnd.IntN(len(hostile))]
		}
		series := make([]Series, ns)
		for j := range series {
			vals := make([]float64, rnd.IntN(nc+2))
			for k := range vals {
				vals[k] = val()
			}
			series[j] = Series{Name: hostile[rnd.IntN(len(hostile))], Values: vals}
		}
		var target *float64
		if rnd.IntN(2) == 0 {
			target = ptr(val())
		}
		targets := make([]float64, rnd.IntN(nc+2))
		for k := range targets {
			targets[k] = val()
		}
		for _, out := range []template.HTML{
			Line{Title: hostile[i%len(hostile)], Labels: labels, Series: series, Target: target, Max: float64(rnd.IntN(2)) * 100}.SVG(),
			Bars{Title: "b", Categories: labels, Series: series, Stacked: i%2 == 0, Horizontal: i%3 == 0, Target: target, Targets: targets}.SVG(),
		} {
			names := wellFormed(t, out)
			for _, n := range names {
				if n == "script" || n == "style" || n == "foreignObject" {
					t.Fatalf("chart contains <%s>", n)
				}
			}
			if strings.Contains(string(out), "NaN") || strings.Contains(string(out), "Inf") {
				t.Fatalf("chart writes NaN or Inf into coordinates:\n%s", out)
			}
		}
	}
}

func TestAccessibleText(t *testing.T) {
	out := string(goldenCharts["bars_stacked_horizontal"])
	for _, want := range []string{
		`role="img"`,
		"<title id=",
		"Windows: Managed 120, Discovered 3",
		">Managed</text>",
		">Discovered</text>",
		"<title>Windows · Managed: 120</title>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stacked bars lack %q", want)
		}
	}
	line := string(goldenCharts["line_compliance"])
	for _, want := range []string{"Target 95%", "Servers: 88% on Nov 1", "(lowest 80%, highest 94.5%)"} {
		if !strings.Contains(line, want) {
			t.Errorf("line chart lacks %q", want)
		}
	}
}

func TestNiceMax(t *testing.T) {
	for _, tc := range []struct{ in, want float64 }{
		{0, 1}, {-3, 1}, {math.NaN(), 1}, {1, 1}, {7, 10}, {11, 20}, {23, 25}, {120, 200}, {3, 5}, {95, 100}, {250, 250},
	} {
		if got := niceMax(tc.in); got != tc.want {
			t.Errorf("niceMax(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
