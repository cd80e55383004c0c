package chart

import (
	"html/template"
	"math"
	"strings"
)

// Bars is a bar chart: one group of bars per category, side by side or
// stacked, vertical or horizontal. Use it for compliance by OS family or
// severity tier against a target (grouped, Max 100, Target 95) or for
// counts split by state (stacked).
type Bars struct {
	Title      string
	Categories []string
	// Series hold one value per category; missing or NaN values are 0.
	Series []Series
	// Stacked puts a category's series on top of each other.
	Stacked bool
	// TotalsOnly writes only each stacked bar's total, not the values of
	// its segments (for bars that are one value coloured by a status).
	TotalsOnly bool
	// Horizontal draws bars left to right, categories down the side; it
	// suits long category names.
	Horizontal bool
	// Max is the value axis maximum; 0 fits the data (rounded up).
	Max float64
	// Target draws a dashed reference line.
	Target *float64
	// Targets draws a dashed mark per category across its bars (a
	// class's own target: servers 95 %, workstations 92 %); NaN or a
	// missing value draws none. The legend names it "Target".
	Targets []float64
	Unit    string
	Format  Format
	// Width of the drawing (640 when zero). Height is derived from the
	// number of categories when zero.
	Width, Height int
}

func (b Bars) value(si, ci int) float64 {
	if si >= len(b.Series) || ci >= len(b.Series[si].Values) {
		return 0
	}
	v := b.Series[si].Values[ci]
	if !finite(v) || v < 0 {
		return 0
	}
	return v
}

func (b Bars) total(ci int) float64 {
	t := 0.0
	for si := range b.Series {
		t += b.value(si, ci)
	}
	return t
}

// SVG renders the chart.
func (b Bars) SVG() template.HTML {
	format := b.Format
	if format == nil {
		format = defaultFormat(b.Unit)
	}
	b.Target = finitePtr(b.Target)
	hi := finiteOr(b.Max, 0)
	if hi <= 0 {
		m := 0.0
		for ci := range b.Categories {
			if b.Stacked {
				m = math.Max(m, b.total(ci))
				continue
			}
			for si := range b.Series {
				m = math.Max(m, b.value(si, ci))
			}
		}
		if b.Target != nil {
			m = math.Max(m, *b.Target)
		}
		for ci := range b.Categories {
			if t, ok := b.categoryTarget(ci); ok {
				m = math.Max(m, t)
			}
		}
		hi = niceMax(m)
	}
	if b.Horizontal {
		return b.horizontal(format, hi)
	}
	return b.vertical(format, hi)
}

// slots is the number of bars per category.
func (b Bars) slots() int {
	if b.Stacked || len(b.Series) == 0 {
		return 1
	}
	return len(b.Series)
}

func (b Bars) horizontal(format Format, hi float64) template.HTML {
	w := b.Width
	if w <= 0 {
		w = 640
	}
	const barH, gap, top, bottom = 16.0, 12.0, 30.0, 22.0
	rowH := barH*float64(b.slots()) + gap
	h := b.Height
	if h <= 0 {
		h = int(top + rowH*float64(max(1, len(b.Categories))) + bottom)
	}
	labelW := 40.0
	for _, c := range b.Categories {
		labelW = math.Max(labelW, textWidth(c)*1.1+12)
	}
	labelW = math.Min(labelW, float64(w)/3)
	const valueW = 44.0
	left, pw := labelW, float64(w)-labelW-valueW
	x := func(v float64) float64 { return left + math.Max(0, math.Min(v, hi))/hi*pw }
	var s svg
	s.open("bars", b.Title, b.describe(format), w, h)
	s.legend(b.Series, 0, 14, nil, b.targetLabel(format))
	for _, t := range ticks(0, hi) {
		s.f(`<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e2e8f0"/>`, n(x(t)), n(top-6), n(x(t)), n(float64(h)-bottom))
		s.f(`<text class="axis" x="%s" y="%s" text-anchor="middle">%s</text>`, n(x(t)), n(float64(h)-6), esc(format(t)))
	}
	for ci, cat := range b.Categories {
		y0 := top + rowH*float64(ci)
		s.f(`<text class="category" x="%s" y="%s" text-anchor="end">%s</text>`, n(left-8), n(y0+barH*float64(b.slots())/2+4), esc(cat))
		acc := 0.0
		for si, se := range b.Series {
			v := b.value(si, ci)
			cls := classOf(se, si)
			var bx, by float64
			if b.Stacked {
				bx, by = x(acc), y0
				acc += v
			} else {
				bx, by = x(0), y0+barH*float64(si)
			}
			bw := x(v) - x(0)
			if b.Stacked {
				bw = x(acc) - bx
			}
			if bw > 0 {
				s.f(`<rect class="bar %s" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s · %s: %s</title></rect>`,
					cls, n(bx), n(by), n(bw), n(barH), colourOf(cls), esc(cat), esc(se.Name), esc(format(v)))
			}
			label := format(v)
			switch {
			case b.Stacked && !b.TotalsOnly && v > 0 && bw >= textWidth(label)+8:
				s.f(`<text class="inbar" x="%s" y="%s" text-anchor="middle">%s</text>`, n(bx+bw/2), n(by+barH/2+4), esc(label))
			case !b.Stacked:
				s.f(`<text class="value" x="%s" y="%s">%s</text>`, n(bx+math.Max(bw, 0)+4), n(by+barH/2+4), esc(label))
			}
		}
		if b.Stacked {
			s.f(`<text class="value total" x="%s" y="%s">%s</text>`, n(x(acc)+4), n(y0+barH/2+4), esc(format(acc)))
		}
		if t, ok := b.categoryTarget(ci); ok {
			tx := x(t)
			s.f(`<line class="target" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#0f172a" stroke-width="2" stroke-dasharray="3 2"><title>%s · target %s</title></line>`,
				n(tx), n(y0-3), n(tx), n(y0+barH*float64(b.slots())+3), esc(cat), esc(format(t)))
		}
	}
	if b.Target != nil {
		tx := x(*b.Target)
		s.f(`<line class="target" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#0f172a" stroke-dasharray="4 3"/>`, n(tx), n(top-6), n(tx), n(float64(h)-bottom))
	}
	if len(b.Categories) == 0 {
		s.f(`<text class="empty" x="%s" y="%s" text-anchor="middle">No data yet</text>`, n(left+pw/2), n(top+20))
	}
	return s.close()
}

func (b Bars) vertical(format Format, hi float64) template.HTML {
	w, h := b.Width, b.Height
	if w <= 0 {
		w = 640
	}
	if h <= 0 {
		h = 240
	}
	const left, right, top, bottom = 44.0, 12.0, 30.0, 28.0
	pw, ph := float64(w)-left-right, float64(h)-top-bottom
	y := func(v float64) float64 { return top + ph - math.Max(0, math.Min(v, hi))/hi*ph }
	nc := max(1, len(b.Categories))
	groupW := pw / float64(nc)
	barW := math.Min(40, groupW*0.7/float64(b.slots()))
	var s svg
	s.open("bars", b.Title, b.describe(format), w, h)
	s.legend(b.Series, left, 14, nil, b.targetLabel(format))
	for _, t := range ticks(0, hi) {
		s.f(`<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e2e8f0"/>`, n(left), n(y(t)), n(left+pw), n(y(t)))
		s.f(`<text class="axis" x="%s" y="%s" text-anchor="end">%s</text>`, n(left-6), n(y(t)+4), esc(format(t)))
	}
	for ci, cat := range b.Categories {
		cx := left + groupW*(float64(ci)+0.5)
		s.f(`<text class="category" x="%s" y="%s" text-anchor="middle">%s</text>`, n(cx), n(float64(h)-8), esc(cat))
		x0 := cx - barW*float64(b.slots())/2
		acc := 0.0
		for si, se := range b.Series {
			v := b.value(si, ci)
			cls := classOf(se, si)
			bx := x0 + barW*float64(si)
			base := 0.0
			if b.Stacked {
				bx, base = x0, acc
				acc += v
			}
			by, bh := y(base+v), y(base)-y(base+v)
			if bh > 0 {
				s.f(`<rect class="bar %s" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s · %s: %s</title></rect>`,
					cls, n(bx), n(by), n(barW-2), n(bh), colourOf(cls), esc(cat), esc(se.Name), esc(format(v)))
			}
			label := format(v)
			switch {
			case b.Stacked && !b.TotalsOnly && v > 0 && bh >= 14 && barW >= textWidth(label)+4:
				s.f(`<text class="inbar" x="%s" y="%s" text-anchor="middle">%s</text>`, n(bx+(barW-2)/2), n(by+bh/2+4), esc(label))
			case !b.Stacked:
				s.f(`<text class="value" x="%s" y="%s" text-anchor="middle">%s</text>`, n(bx+(barW-2)/2), n(by-4), esc(label))
			}
		}
		if b.Stacked {
			s.f(`<text class="value total" x="%s" y="%s" text-anchor="middle">%s</text>`, n(cx), n(y(acc)-4), esc(format(acc)))
		}
		if t, ok := b.categoryTarget(ci); ok {
			ty := y(t)
			s.f(`<line class="target" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#0f172a" stroke-width="2" stroke-dasharray="3 2"><title>%s · target %s</title></line>`,
				n(x0-3), n(ty), n(x0+barW*float64(b.slots())+1), n(ty), esc(cat), esc(format(t)))
		}
	}
	if b.Target != nil {
		ty := y(*b.Target)
		s.f(`<line class="target" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#0f172a" stroke-dasharray="4 3"/>`, n(left), n(ty), n(left+pw), n(ty))
	}
	if len(b.Categories) == 0 {
		s.f(`<text class="empty" x="%s" y="%s" text-anchor="middle">No data yet</text>`, n(left+pw/2), n(top+ph/2))
	}
	return s.close()
}

func (b Bars) targetLabel(format Format) string {
	if b.Target == nil {
		for ci := range b.Categories {
			if _, ok := b.categoryTarget(ci); ok {
				return "Target"
			}
		}
		return ""
	}
	return "Target " + format(*b.Target)
}

// categoryTarget returns the target of category ci, if it has one.
func (b Bars) categoryTarget(ci int) (float64, bool) {
	if ci >= len(b.Targets) || !finite(b.Targets[ci]) {
		return 0, false
	}
	return b.Targets[ci], true
}

// describe is the text alternative: every value by category.
func (b Bars) describe(format Format) string {
	if len(b.Categories) == 0 {
		return "No data yet."
	}
	var parts []string
	for ci, cat := range b.Categories {
		var vs []string
		for si, se := range b.Series {
			vs = append(vs, se.Name+" "+format(b.value(si, ci)))
		}
		if t, ok := b.categoryTarget(ci); ok {
			vs = append(vs, "target "+format(t))
		}
		parts = append(parts, cat+": "+strings.Join(vs, ", "))
	}
	d := strings.Join(parts, "; ") + "."
	if b.Target != nil {
		d += " Target " + format(*b.Target) + "."
	}
	return d
}
