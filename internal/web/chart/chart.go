// Package chart draws the console's charts as SVG on the server: a line
// chart for trends (compliance over 30 days) and bar charts, grouped or
// stacked, vertical or horizontal (compliance by OS or tier, assets by
// OS). The output is deterministic text with no script, no style element
// and no style attribute, so pages keep a Content-Security-Policy without
// 'unsafe-inline', and nothing is fetched from the network.
//
// Colours come from CSS classes on the marks (s1…s6 for series, s-ok,
// s-warn, s-bad, s-info for statuses), styled by the console's stylesheet;
// each mark also carries the same colour as a presentation attribute, so a
// chart saved as a file looks right on its own. Charts do not depend on
// colour alone: every series is named in a legend in drawing order, values
// are written on or next to the marks where they fit, every mark has a
// tooltip, and the SVG has a title and a text description of its data for
// screen readers.
//
// Hand-written rather than github.com/go-analyze/charts: that library
// styles its output with style attributes (blocked by our CSP) and renders
// text with embedded fonts, and these two chart types fit in a few hundred
// lines.
package chart

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Series is one named row of values.
type Series struct {
	Name   string
	Values []float64
	// Class picks the colour: s1…s6, s-ok, s-warn, s-bad, s-info. Empty
	// takes s1, s2 … in order.
	Class string
}

// palette is the fallback fill of each class, matching console.css.
var palette = map[string]string{
	"s1": "#2563eb", "s2": "#7c3aed", "s3": "#0d9488", "s4": "#d97706", "s5": "#db2777", "s6": "#4b5563",
	"s-ok": "#15803d", "s-warn": "#b45309", "s-bad": "#b91c1c", "s-info": "#64748b",
}

func classOf(s Series, i int) string {
	if s.Class != "" {
		return s.Class
	}
	return "s" + strconv.Itoa(i%6+1)
}

func colourOf(class string) string {
	if c, ok := palette[class]; ok {
		return c
	}
	return palette["s6"]
}

// Format writes a value for labels; the default writes at most two
// decimals followed by the unit.
type Format func(float64) string

func defaultFormat(unit string) Format {
	return func(v float64) string {
		// At most two decimals, trailing zeros dropped: 95, 97.5, 0.25.
		return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) + unit
	}
}

// svg accumulates SVG markup.
type svg struct {
	b strings.Builder
}

func (s *svg) f(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

// esc escapes text for SVG content and attributes.
func esc(s string) string { return template.HTMLEscapeString(s) }

// n writes a coordinate with at most two decimals.
func n(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// open starts the SVG element with its accessible title and description.
func (s *svg) open(kind, title, desc string, w, h int) {
	sum := sha256.Sum256([]byte(kind + "\x00" + title + "\x00" + desc))
	id := "chart-" + hex.EncodeToString(sum[:4])
	s.f(`<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-%s" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="%s-t %s-d">`,
		kind, w, h, w, h, id, id)
	s.f(`<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, esc(title), id, esc(desc))
}

func (s *svg) close() template.HTML {
	s.b.WriteString(`</svg>`)
	return template.HTML(s.b.String()) //nolint:gosec // built from escaped parts only
}

// legend draws the series names left to right at y; suffix, when not
// nil, adds text after each name (the latest value of a trend). A target
// gets its own entry with a dashed swatch, so its label never collides
// with the marks.
func (s *svg) legend(series []Series, x0, y float64, suffix func(i int) string, target string) {
	x := x0
	for i, se := range series {
		cls := classOf(se, i)
		label := se.Name
		if suffix != nil {
			label += suffix(i)
		}
		s.f(`<rect class="swatch %s" x="%s" y="%s" width="10" height="10" rx="2" fill="%s"/>`, cls, n(x), n(y-9), colourOf(cls))
		s.f(`<text class="legend" x="%s" y="%s">%s</text>`, n(x+14), n(y), esc(label))
		x += 14 + textWidth(label) + 18
	}
	if target != "" {
		s.f(`<line class="target" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#0f172a" stroke-dasharray="4 3"/>`, n(x), n(y-4), n(x+16), n(y-4))
		s.f(`<text class="legend" x="%s" y="%s">%s</text>`, n(x+20), n(y), esc(target))
	}
}

// textWidth estimates the width of a label at the charts' 11px font.
func textWidth(s string) float64 { return float64(len([]rune(s))) * 7 }

// niceMax rounds a maximum up to 1, 2, 2.5 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// ticks returns 5 evenly spaced values from lo to hi.
func ticks(lo, hi float64) []float64 {
	out := make([]float64, 5)
	for i := range out {
		out[i] = lo + (hi-lo)*float64(i)/4
	}
	return out
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func finiteOr(v, or float64) float64 {
	if finite(v) {
		return v
	}
	return or
}

// finitePtr drops a reference value that cannot be drawn.
func finitePtr(v *float64) *float64 {
	if v == nil || !finite(*v) {
		return nil
	}
	return v
}
