package chart

import (
	"html/template"
	"math"
	"strings"
)

// Line is a line chart over labelled points, such as daily compliance for
// the last 30 days. A NaN value leaves a gap (a day without data).
type Line struct {
	Title string
	// Labels name the points along the x axis (dates); every series has
	// one value per label. Extra values are ignored, missing ones are gaps.
	Labels []string
	Series []Series
	// Min and Max bound the y axis. Max 0 fits the data (rounded up).
	Min, Max float64
	// Target draws a dashed reference line, such as the 95 % target.
	Target *float64
	// Unit follows values on labels ("%").
	Unit string
	// Format overrides how values are written.
	Format Format
	// Width and Height of the drawing; 640×240 when zero.
	Width, Height int
}

// SVG renders the chart.
func (l Line) SVG() template.HTML {
	w, h := l.Width, l.Height
	if w <= 0 {
		w = 640
	}
	if h <= 0 {
		h = 240
	}
	format := l.Format
	if format == nil {
		format = defaultFormat(l.Unit)
	}
	l.Target = finitePtr(l.Target)
	lo, hi := finiteOr(l.Min, 0), finiteOr(l.Max, 0)
	if hi <= lo {
		m := lo
		for _, s := range l.Series {
			for _, v := range s.Values {
				if finite(v) && v > m {
					m = v
				}
			}
		}
		if l.Target != nil && *l.Target > m {
			m = *l.Target
		}
		hi = lo + niceMax(m-lo)
	}
	var s svg
	s.open("line", l.Title, l.describe(format), w, h)
	const left, right, top, bottom = 44.0, 16.0, 30.0, 26.0
	pw, ph := float64(w)-left-right, float64(h)-top-bottom
	y := func(v float64) float64 {
		v = math.Max(lo, math.Min(hi, v))
		return top + ph - (v-lo)/(hi-lo)*ph
	}
	np := len(l.Labels)
	x := func(i int) float64 {
		if np <= 1 {
			return left + pw/2
		}
		return left + pw*float64(i)/float64(np-1)
	}
	if np == 0 || len(l.Series) == 0 {
		s.f(`<rect class="empty-box" x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#e2e8f0" stroke-dasharray="4 4"/>`, n(left), n(top), n(pw), n(ph))
		s.f(`<text class="empty" x="%s" y="%s" text-anchor="middle">No data yet</text>`, n(left+pw/2), n(top+ph/2))
		return s.close()
	}
	target := ""
	if l.Target != nil {
		target = "Target " + format(*l.Target)
	}
	// The legend gives each series' latest value: end-of-line labels of
	// close series would overlap.
	s.legend(l.Series, left, 14, func(i int) string {
		if last := lastFinite(l.Series[i].Values, np); last >= 0 {
			return " " + format(l.Series[i].Values[last])
		}
		return ""
	}, target)
	for _, t := range ticks(lo, hi) {
		s.f(`<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e2e8f0"/>`, n(left), n(y(t)), n(left+pw), n(y(t)))
		s.f(`<text class="axis" x="%s" y="%s" text-anchor="end">%s</text>`, n(left-6), n(y(t)+4), esc(format(t)))
	}
	// About six x labels, always the first and the last.
	step := max(1, (np+5)/6)
	for i, lab := range l.Labels {
		if i%step != 0 && i != np-1 {
			continue
		}
		if i != np-1 && np-1-i < step/2+1 && i != 0 {
			continue // too close to the last label
		}
		anchor := "middle"
		switch {
		case i == 0 && np > 1:
			anchor = "start"
		case i == np-1 && np > 1:
			anchor = "end"
		}
		s.f(`<text class="axis" x="%s" y="%s" text-anchor="%s">%s</text>`, n(x(i)), n(float64(h)-8), anchor, esc(lab))
	}
	if l.Target != nil {
		ty := y(*l.Target)
		s.f(`<line class="target" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#0f172a" stroke-dasharray="4 3"/>`, n(left), n(ty), n(left+pw), n(ty))
	}
	for si, se := range l.Series {
		cls := classOf(se, si)
		col := colourOf(cls)
		var d strings.Builder
		pen := false
		last := -1
		for i := 0; i < np && i < len(se.Values); i++ {
			v := se.Values[i]
			if !finite(v) {
				pen = false
				continue
			}
			if pen {
				d.WriteString(" L")
			} else {
				if d.Len() > 0 {
					d.WriteString(" ")
				}
				d.WriteString("M")
			}
			d.WriteString(n(x(i)) + " " + n(y(v)))
			pen = true
			last = i
		}
		if d.Len() > 0 {
			s.f(`<path class="line %s" d="%s" fill="none" stroke="%s" stroke-width="2"/>`, cls, d.String(), col)
		}
		for i := 0; i < np && i < len(se.Values); i++ {
			v := se.Values[i]
			if !finite(v) {
				continue
			}
			r := "2.5"
			if i == last {
				r = "4"
			}
			s.f(`<circle class="point %s" cx="%s" cy="%s" r="%s" fill="%s"><title>%s · %s: %s</title></circle>`,
				cls, n(x(i)), n(y(v)), r, col, esc(l.Labels[i]), esc(se.Name), esc(format(v)))
		}
	}
	return s.close()
}

// lastFinite returns the index of the last drawable value among the first
// n, or -1.
func lastFinite(vs []float64, n int) int {
	for i := min(n, len(vs)) - 1; i >= 0; i-- {
		if finite(vs[i]) {
			return i
		}
	}
	return -1
}

// describe is the text alternative: each series' first, last, lowest and
// highest value.
func (l Line) describe(format Format) string {
	if len(l.Labels) == 0 || len(l.Series) == 0 {
		return "No data yet."
	}
	var parts []string
	for _, se := range l.Series {
		first, last := -1, -1
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := 0; i < len(l.Labels) && i < len(se.Values); i++ {
			v := se.Values[i]
			if !finite(v) {
				continue
			}
			if first < 0 {
				first = i
			}
			last = i
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if first < 0 {
			parts = append(parts, se.Name+": no data")
			continue
		}
		parts = append(parts, se.Name+": "+format(se.Values[first])+" on "+l.Labels[first]+", "+format(se.Values[last])+" on "+l.Labels[last]+
			" (lowest "+format(lo)+", highest "+format(hi)+")")
	}
	d := strings.Join(parts, "; ") + "."
	if l.Target != nil {
		d += " Target " + format(*l.Target) + "."
	}
	return d
}
