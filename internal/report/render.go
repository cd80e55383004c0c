package report

import (
	"encoding/json"
	"fmt"

	"github.com/patchring/patchring/internal/patch"
)

// File is one rendered file of a report.
type File struct {
	Name   string
	Format patch.ReportFormat
	Data   []byte
}

// Render renders d in every format: PDF, HTML, CSV (the inventory adds a
// second CSV of installed software) and JSON.
func Render(d Document) ([]File, error) {
	m := d.Head()
	if m.Kind == "" || m.Period.Key == "" {
		return nil, fmt.Errorf("render report: kind and period are required")
	}
	base := m.FileBase()
	var out []File
	add := func(name string, f patch.ReportFormat, data []byte, err error) error {
		if err != nil {
			return fmt.Errorf("render %s %s: %w", m.Kind, f, err)
		}
		out = append(out, File{Name: name, Format: f, Data: data})
		return nil
	}
	pdf, err := renderPDF(d)
	if err := add(base+".pdf", patch.FormatPDF, pdf, err); err != nil {
		return nil, err
	}
	html, err := renderHTML(d)
	if err := add(base+".html", patch.FormatHTML, html, err); err != nil {
		return nil, err
	}
	var csvData []byte
	switch d := d.(type) {
	case *PatchHealth:
		csvData, err = patchHealthCSV(d)
	case *PatchDetail:
		csvData, err = patchDetailCSV(d)
	case *QBR:
		csvData, err = qbrCSV(d)
	case *Inventory:
		csvData, err = inventoryCSV(d)
		if err == nil {
			sw, swErr := softwareCSV(d)
			if err := add(base+"-software.csv", patch.FormatCSV, sw, swErr); err != nil {
				return nil, err
			}
		}
	case *Scorecard:
		csvData, err = scorecardCSV(d)
	default:
		err = fmt.Errorf("unknown document %T", d)
	}
	if err := add(base+".csv", patch.FormatCSV, csvData, err); err != nil {
		return nil, err
	}
	js, err := json.MarshalIndent(d, "", "  ")
	if err := add(base+".json", patch.FormatJSON, append(js, '\n'), err); err != nil {
		return nil, err
	}
	// The main CSV first: File(FormatCSV) finds it.
	for i, f := range out {
		if f.Name == base+".csv" && i > 0 && out[i-1].Format == patch.FormatCSV {
			out[i-1], out[i] = out[i], out[i-1]
		}
	}
	return out, nil
}
