package report

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"

	"github.com/johnfercher/maroto/v2"
	"github.com/johnfercher/maroto/v2/pkg/components/col"
	"github.com/johnfercher/maroto/v2/pkg/components/image"
	"github.com/johnfercher/maroto/v2/pkg/components/line"
	"github.com/johnfercher/maroto/v2/pkg/components/page"
	"github.com/johnfercher/maroto/v2/pkg/components/row"
	"github.com/johnfercher/maroto/v2/pkg/components/text"
	"github.com/johnfercher/maroto/v2/pkg/config"
	"github.com/johnfercher/maroto/v2/pkg/consts/align"
	"github.com/johnfercher/maroto/v2/pkg/consts/border"
	"github.com/johnfercher/maroto/v2/pkg/consts/extension"
	"github.com/johnfercher/maroto/v2/pkg/consts/fontstyle"
	"github.com/johnfercher/maroto/v2/pkg/consts/orientation"
	"github.com/johnfercher/maroto/v2/pkg/consts/pagesize"
	"github.com/johnfercher/maroto/v2/pkg/core"
	"github.com/johnfercher/maroto/v2/pkg/core/entity"
	"github.com/johnfercher/maroto/v2/pkg/props"
	"github.com/patchring/patchring/internal/compliance"
)

// PDFs are laid out with maroto on a 100-column grid (column widths are
// percentages). Text is set in DejaVu Sans Condensed, embedded in the
// binary and subset into each PDF, so client, site and owner names in any
// Latin, Greek or Cyrillic script print correctly without fonts on the
// server; PDF core fonts cover Latin-1 only.

//go:embed fonts/DejaVuSansCondensed.ttf
var fontRegular []byte

//go:embed fonts/DejaVuSansCondensed-Bold.ttf
var fontBold []byte

const (
	fontFamily = "dejavu"
	grid       = 100
)

var (
	colorAccent = &props.Color{Red: 31, Green: 95, Blue: 139}
	colorMuted  = &props.Color{Red: 90, Green: 107, Blue: 123}
	colorHead   = &props.Color{Red: 230, Green: 238, Blue: 244}
	colorBorder = &props.Color{Red: 190, Green: 200, Blue: 210}
	colorBad    = &props.Color{Red: 179, Green: 38, Blue: 30}
	colorGood   = &props.Color{Red: 30, Green: 123, Blue: 52}
	colorNote   = &props.Color{Red: 255, Green: 248, Blue: 225}
)

// pdfDoc builds one PDF.
type pdfDoc struct {
	m core.Maroto
	// pageWidth is the usable width in millimetres.
	pageWidth float64
}

func newPDF(meta *Meta, landscape bool) (*pdfDoc, error) {
	b := config.NewBuilder().
		WithPageSize(pagesize.A4).
		WithMaxGridSize(grid).
		WithLeftMargin(14).WithRightMargin(14).WithTopMargin(12).WithBottomMargin(12).
		WithCustomFonts([]*entity.CustomFont{
			{Family: fontFamily, Style: fontstyle.Normal, Bytes: fontRegular},
			{Family: fontFamily, Style: fontstyle.Bold, Bytes: fontBold},
			{Family: fontFamily, Style: fontstyle.Italic, Bytes: fontRegular},
			{Family: fontFamily, Style: fontstyle.BoldItalic, Bytes: fontBold},
		}).
		WithDefaultFont(&props.Font{Family: fontFamily, Size: 9}).
		WithPageNumber(props.PageNumber{Pattern: "Page {current} of {total}", Place: props.RightBottom, Family: fontFamily, Size: 7, Color: colorMuted}).
		WithTitle(meta.Title+" — "+who(meta)+" — "+meta.Period.Label(), true).
		WithAuthor(meta.MSP, true).
		WithCreator(meta.Generator, true).
		WithSubject(string(meta.Kind)+" "+meta.Period.Key, true).
		WithCreationDate(meta.GeneratedAt).
		WithSequentialMode()
	if landscape {
		b = b.WithOrientation(orientation.Horizontal)
	}
	p := &pdfDoc{m: maroto.New(b.Build()), pageWidth: 210 - 28}
	if landscape {
		p.pageWidth = 297 - 28
	}
	if err := p.m.RegisterHeader(
		row.New(5).Add(
			text.NewCol(60, meta.MSP+" · "+meta.Title, props.Text{Size: 7, Color: colorMuted}),
			text.NewCol(40, who(meta)+" · "+meta.Period.Label(), props.Text{Size: 7, Color: colorMuted, Align: align.Right}),
		),
		line.NewRow(2, props.Line{Color: colorBorder, Thickness: 0.2, SizePercent: 100}),
	); err != nil {
		return nil, fmt.Errorf("pdf header: %w", err)
	}
	if err := p.m.RegisterFooter(
		text.NewRow(6, fmt.Sprintf("Report %s · generated %s by %s · %s", meta.ID, stamp(meta.GeneratedAt), meta.GeneratedBy, meta.Generator),
			props.Text{Size: 6.5, Color: colorMuted, Top: 2}),
	); err != nil {
		return nil, fmt.Errorf("pdf footer: %w", err)
	}
	return p, nil
}

func who(m *Meta) string {
	if m.Client != "" {
		return m.Client
	}
	return m.MSP + " (all clients)"
}

// cover writes the report's title block.
func (p *pdfDoc) cover(m *Meta) {
	p.m.AddAutoRow(text.NewCol(grid, m.MSP, props.Text{Size: 10, Style: fontstyle.Bold, Color: colorAccent, Top: 2}))
	p.m.AddAutoRow(text.NewCol(grid, m.Title, props.Text{Size: 18, Style: fontstyle.Bold, Top: 1}))
	sub := who(m) + " · " + m.Period.Label() + " (" + day(m.Period.Start) + " to " + day(m.Period.End.Add(-1)) + ", UTC)"
	p.m.AddAutoRow(text.NewCol(grid, sub, props.Text{Size: 11, Top: 1, Bottom: 2}))
	if m.Partial {
		p.note("The period is not over: figures are as of " + stamp(m.AsOf) + ".")
	}
	p.m.AddRows(line.NewRow(4, props.Line{Color: colorAccent, Thickness: 0.6, SizePercent: 100}))
}

// keep starts a new page unless need millimetres fit on this one, so a
// heading is never left alone at the foot of a page.
func (p *pdfDoc) keep(need float64) {
	if !p.m.FitlnCurrentPage(need) {
		p.m.AddPages(page.New())
	}
}

// heading starts a section.
func (p *pdfDoc) heading(s string) { p.headingKeep(s, 45) }

// headingKeep starts a section whose first need millimetres must follow
// the heading on the same page (a chart).
func (p *pdfDoc) headingKeep(s string, need float64) {
	p.keep(need)
	p.m.AddAutoRow(text.NewCol(grid, s, props.Text{Size: 12, Style: fontstyle.Bold, Color: colorAccent, Top: 5, Bottom: 1.5}))
}

// subheading starts a subsection.
func (p *pdfDoc) subheading(s string) {
	p.keep(30)
	p.m.AddAutoRow(text.NewCol(grid, s, props.Text{Size: 10, Style: fontstyle.Bold, Top: 3, Bottom: 1}))
}

// para writes a paragraph.
func (p *pdfDoc) para(s string) {
	p.m.AddAutoRow(text.NewCol(grid, s, props.Text{Size: 9, Bottom: 1.5}))
}

// bullets writes a bulleted list.
func (p *pdfDoc) bullets(items []string) {
	for _, s := range items {
		p.m.AddAutoRow(
			text.NewCol(3, "•", props.Text{Size: 9, Align: align.Right, Right: 1.5}),
			text.NewCol(97, s, props.Text{Size: 9, Bottom: 1}),
		)
	}
}

// note writes a highlighted remark.
func (p *pdfDoc) note(s string) {
	p.m.AddAutoRow(text.NewCol(grid, s, props.Text{Size: 8.5, Top: 1.5, Bottom: 1.5, Left: 2, Right: 2})).
		WithStyle(&props.Cell{BackgroundColor: colorNote})
	p.m.AddRows(row.New(2))
}

// cell is one table cell.
type cell struct {
	text  string
	bold  bool
	color *props.Color
	// span makes the cell, alone in its row, as wide as the table.
	span bool
}

func c(s string) cell { return cell{text: s} }

// metCell shows a target outcome in colour.
func metCell(m *bool) cell {
	switch {
	case m == nil:
		return cell{text: "n/a"}
	case *m:
		return cell{text: "met", color: colorGood, bold: true}
	}
	return cell{text: "NOT MET", color: colorBad, bold: true}
}

// column describes a table column.
type column struct {
	title string
	width int // percent of the page width
	right bool
}

// table writes a table with a header row; rows are cut to the columns.
func (p *pdfDoc) table(cols []column, rows [][]cell, empty string) {
	sum := 0
	for _, cl := range cols {
		sum += cl.width
	}
	if sum != grid {
		panic(fmt.Sprintf("report: table columns add up to %d, not %d", sum, grid))
	}
	style := &props.Cell{BorderType: border.Full, BorderColor: colorBorder, BorderThickness: 0.15}
	head := make([]core.Col, len(cols))
	for i, cl := range cols {
		a := align.Left
		if cl.right {
			a = align.Right
		}
		head[i] = col.New(cl.width).Add(text.New(cl.title, props.Text{Size: 7.5, Style: fontstyle.Bold, Top: 1, Bottom: 1, Left: 1, Right: 1, Align: a})).
			WithStyle(&props.Cell{BorderType: border.Full, BorderColor: colorBorder, BorderThickness: 0.15, BackgroundColor: colorHead})
	}
	p.m.AddAutoRow(head...)
	if len(rows) == 0 {
		p.m.AddAutoRow(col.New(grid).Add(text.New(empty, props.Text{Size: 8, Top: 1, Bottom: 1, Left: 1, Color: colorMuted})).WithStyle(style))
	}
	for _, r := range rows {
		if len(r) == 1 && r[0].span {
			p.m.AddAutoRow(col.New(grid).Add(text.New(p.fit(r[0].text, grid), props.Text{Size: 7, Top: 0.8, Bottom: 0.8, Left: 1, Right: 1, Color: colorMuted})).
				WithStyle(style))
			continue
		}
		cs := make([]core.Col, len(cols))
		for i, cl := range cols {
			v := cell{}
			if i < len(r) {
				v = r[i]
			}
			t := props.Text{Size: 7.5, Top: 1, Bottom: 1, Left: 1, Right: 1, Color: v.color}
			if cl.right {
				t.Align = align.Right
			}
			if v.bold {
				t.Style = fontstyle.Bold
			}
			cs[i] = col.New(cl.width).Add(text.New(p.fit(v.text, cl.width), t)).WithStyle(style)
		}
		p.m.AddAutoRow(cs...)
	}
	p.m.AddRows(row.New(3))
}

// fit prepares cell text for a column width percent wide: maroto wraps at
// spaces only and draws no line breaks, so line breaks become " · " and
// words too long for the column (IDs, long host names) get break points.
func (p *pdfDoc) fit(s string, width int) string {
	s = strings.ReplaceAll(s, "\n", " · ")
	capacity := int(p.pageWidth*float64(width)/grid/1.5) - 1
	if capacity < 4 {
		return s
	}
	words := strings.Split(s, " ")
	for i, w := range words {
		r := []rune(w)
		if len(r) <= capacity {
			continue
		}
		var b strings.Builder
		for j := 0; j < len(r); j += capacity {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(string(r[j:min(j+capacity, len(r))]))
		}
		words[i] = b.String()
	}
	return strings.Join(words, " ")
}

// chart draws a trend chart.
func (p *pdfDoc) chart(t *Trend, height float64) error {
	png, err := chartPNG(t, 1400, int(1400*height/180))
	if err != nil {
		return err
	}
	p.m.AddRows(image.NewFromBytesRow(height, png, extension.Png, props.Rect{Center: true, Percent: 100}))
	return nil
}

func (p *pdfDoc) bytes() ([]byte, error) {
	doc, err := p.m.Generate()
	if err != nil {
		return nil, fmt.Errorf("generate PDF: %w", err)
	}
	return doc.GetBytes(), nil
}

// ratingRows are the rows of a rating table.
func ratingRows(rs []Rating) [][]cell {
	out := make([][]cell, 0, len(rs))
	for _, r := range rs {
		assets := ""
		if r.Now != nil {
			assets = strconv.Itoa(r.Now.Assets)
		}
		out = append(out, []cell{{text: r.Label, bold: true}, c(pct(r.RatingPct)), c(pct(r.TargetPct)), metCell(r.Met), c(pct(r.StrictPct)),
			c(pct(r.MinPct)), c(strconv.Itoa(r.Days)), c(assets)})
	}
	return out
}

func ratingColumns(first string) []column {
	return []column{{first, 22, false}, {"Average", 12, true}, {"Target", 10, true}, {"Target met", 11, false},
		{"Strict", 11, true}, {"Lowest day", 12, true}, {"Days rated", 11, true}, {"Assets", 11, true}}
}

func (p *pdfDoc) exceptions(xs []Exception) {
	rows := make([][]cell, 0, len(xs))
	for _, x := range xs {
		signed := cell{text: "not signed off", color: colorBad}
		if x.SignedOffBy != "" {
			signed = c(x.SignedOffBy + "\n" + day(x.SignedOffAt))
		}
		scope := x.Scope
		if len(x.Assets) > 0 {
			scope += "\n" + strings.Join(x.Assets, ", ")
		}
		controls := strings.Join(x.Controls, "\n")
		if controls == "" {
			controls = "none documented"
		}
		left := c(strconv.Itoa(x.DaysToExpiry))
		if x.DaysToExpiry <= 14 {
			left = cell{text: left.text, color: colorBad, bold: true}
		}
		rows = append(rows, []cell{c("Ticket " + x.TicketRef + "\n" + string(x.Lane) + " · " + string(x.State)), c(scope),
			c(x.Reason), c(controls), signed, c(day(x.ExpiresAt)), left},
			[]cell{{text: "Exception " + string(x.ID) + " (compensating-controls.csv in the evidence bundle)", span: true}})
	}
	p.table([]column{{"Ticket", 13, false}, {"Scope", 17, false}, {"Reason", 20, false}, {"Compensating controls", 20, false},
		{"Signed off", 12, false}, {"Expires", 10, false}, {"Days left", 8, true}}, rows, "No active exceptions.")
}

func (p *pdfDoc) risks(rs []Risk) {
	rows := make([][]cell, 0, len(rs))
	for _, r := range rs {
		host := r.Hostname
		if r.EPHI {
			host += " (ePHI)"
		}
		tier := r.Tier
		if r.KnownExploited {
			tier += "\nknown exploited"
		}
		sla := ""
		if r.MetSLA != nil {
			sla = "late"
			if *r.MetSLA {
				sla = "on time"
			}
		}
		upd := r.Update
		if len(r.KBs) > 0 {
			upd += "\n" + strings.Join(r.KBs, " ")
		}
		rows = append(rows, []cell{c(strconv.Itoa(r.Rank)), c(upd), c(host), c(tier), c(strings.Join(r.CVEs, " ")), c(day(r.DetectedAt)),
			c(day(r.ResolvedAt)), c(sla)})
	}
	p.table([]column{{"#", 4, true}, {"Update", 26, false}, {"Asset", 15, false}, {"Tier", 10, false}, {"CVEs", 15, false},
		{"Detected", 11, false}, {"Fixed", 11, false}, {"SLA", 8, false}}, rows, "No updates were verified installed in this period.")
}

func (p *pdfDoc) sla(as []compliance.Attainment) {
	rows := make([][]cell, 0, len(as))
	for _, a := range as {
		rows = append(rows, []cell{c(tierLabel(a.Tier)), c(strconv.Itoa(a.Met)), c(strconv.Itoa(a.Missed)), {text: pct(a.AttainmentPct), bold: true},
			c(strconv.Itoa(a.Emergency)), c(strconv.Itoa(a.Excepted))})
	}
	p.table([]column{{"Tier", 20, false}, {"Fixed on time", 16, true}, {"Late or still open", 16, true}, {"Attainment", 16, true},
		{"Emergency (excluded)", 16, true}, {"Excepted (excluded)", 16, true}}, rows, "No deadlines fell in this period.")
}
