package report

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"strings"
	"sync"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

//go:embed templates/*.html
var templateFS embed.FS

// eventText says what a chain event means, for people.
func eventText(e string) string {
	switch e {
	case patch.EventInstallFailed:
		return "Install failed"
	case patch.EventRolledBack:
		return "Rolled back"
	case patch.EventRollbackFailed:
		return "Rollback failed"
	case patch.EventHealthCheckFailed:
		return "Health check failed after patching"
	case patch.EventVerifyFailed:
		return "Install not confirmed by the next scan"
	case patch.EventSnapshotFailed:
		return "Pre-patch snapshot failed"
	}
	return strings.ReplaceAll(e, "_", " ")
}

type ratingTableData struct {
	Title string
	Rows  []Rating
}

var funcs = template.FuncMap{
	"pct":         pct,
	"numv":        num,
	"hours":       hoursText,
	"met":         met,
	"day":         day,
	"stamp":       stamp,
	"yesno":       yesNo,
	"tier":        tierLabel,
	"excluded":    excludedText,
	"event":       eventText,
	"failureRate": failureRateText,
	"join":        strings.Join,
	"add":         func(a, b int) int { return a + b },
	"deref":       func(b *bool) bool { return b != nil && *b },
	"dayBefore":   func(t time.Time) string { return day(t.Add(-time.Millisecond)) },
	"metClass": func(m *bool) string {
		if m != nil && !*m {
			return "notmet"
		}
		return "met"
	},
	"ratingTable": func(title string, rows []Rating) ratingTableData { return ratingTableData{title, rows} },
	"overdue": func(fs []FindingLine) int {
		n := 0
		for _, f := range fs {
			if f.SLAStatus == patch.SLABreached {
				n++
			}
		}
		return n
	},
	// chart is replaced per render (it needs no state, but keeping it a
	// closure leaves room for sizes per kind).
	"chart": func(t Trend) (template.HTML, error) {
		svg, err := chartSVG(&t, 900, 320)
		if err != nil {
			return "", err
		}
		// The SVG is drawn by the chart library from numbers and day
		// labels only; no report text reaches it.
		return template.HTML(svg), nil
	},
}

var (
	templatesOnce sync.Once
	templates     map[patch.ReportKind]*template.Template
	templatesErr  error
)

func loadTemplates() (map[patch.ReportKind]*template.Template, error) {
	templatesOnce.Do(func() {
		templates = map[patch.ReportKind]*template.Template{}
		for _, k := range patch.ReportKinds {
			t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+string(k)+".html")
			if err != nil {
				templatesErr = fmt.Errorf("parse %s templates: %w", k, err)
				return
			}
			templates[k] = t
		}
	})
	return templates, templatesErr
}

// renderHTML renders a self-contained HTML document (styles and charts
// inline, nothing fetched).
func renderHTML(d Document) ([]byte, error) {
	ts, err := loadTemplates()
	if err != nil {
		return nil, err
	}
	t := ts[d.Head().Kind]
	if t == nil {
		return nil, fmt.Errorf("no template for %q", d.Head().Kind)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
