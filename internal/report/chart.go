package report

import (
	"fmt"
	"math"
	"strconv"

	"github.com/go-analyze/charts"
)

// Charts are drawn with go-analyze/charts, offline: PNG for the PDF and
// SVG for the HTML, from the same options, so both show the same lines.

// trendOption builds the line chart of a trend: one line per series and
// a flat line per target.
func trendOption(t *Trend) (charts.LineChartOption, error) {
	var (
		values [][]float64
		names  []string
	)
	lo := 100.0
	for _, s := range t.Series {
		if len(s.Values) != len(t.Days) {
			return charts.LineChartOption{}, fmt.Errorf("series %q has %d values for %d days", s.Name, len(s.Values), len(t.Days))
		}
		row := make([]float64, len(s.Values))
		for i, v := range s.Values {
			row[i] = charts.GetNullValue()
			if v != nil {
				row[i] = *v
				lo = math.Min(lo, *v)
			}
		}
		values = append(values, row)
		names = append(names, s.Name)
	}
	for _, s := range t.Series {
		if s.Target == nil {
			continue
		}
		row := make([]float64, len(t.Days))
		for i := range row {
			row[i] = *s.Target
		}
		lo = math.Min(lo, *s.Target)
		values = append(values, row)
		names = append(names, s.Name+" target")
	}
	opt := charts.NewLineChartOptionWithData(values)
	labels := make([]string, len(t.Days))
	for i, d := range t.Days {
		labels[i] = string(d)[5:] // "10-31"
	}
	opt.XAxis.Labels = labels
	opt.XAxis.LabelCount = min(len(labels), 8)
	// Ratings live near the top of the scale; start the axis a little
	// below the lowest value so differences stay visible, never below 0.
	floor := math.Max(0, math.Floor((lo-5)/10)*10)
	unit := 10.0
	if 100-floor <= 30 {
		unit = 5
	}
	opt.YAxis = []charts.YAxisOption{{Min: charts.Ptr(floor), Max: charts.Ptr(100.0), Unit: unit, LabelCount: int((100-floor)/unit) + 1,
		ValueFormatter: func(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) + "%" }}}
	opt.Legend = charts.LegendOption{SeriesNames: names}
	opt.Symbol = charts.Symbol{Shape: charts.SymbolNone}
	opt.LineStrokeWidth = 2
	return opt, nil
}

// chartPNG renders a trend as a PNG image.
func chartPNG(t *Trend, width, height int) ([]byte, error) {
	return renderTrend(t, charts.ChartOutputPNG, width, height)
}

// chartSVG renders a trend as an SVG document.
func chartSVG(t *Trend, width, height int) (string, error) {
	b, err := renderTrend(t, charts.ChartOutputSVG, width, height)
	return string(b), err
}

func renderTrend(t *Trend, format string, width, height int) ([]byte, error) {
	opt, err := trendOption(t)
	if err != nil {
		return nil, err
	}
	p := charts.NewPainter(charts.PainterOptions{Width: width, Height: height, OutputFormat: format})
	if err := p.LineChart(opt); err != nil {
		return nil, fmt.Errorf("draw trend chart: %w", err)
	}
	b, err := p.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode trend chart: %w", err)
	}
	return b, nil
}
