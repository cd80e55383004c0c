// Package report holds the document models of Patchring's reports (Patch
// Health, Patch Detail, QBR executive summary, inventory export, internal
// scorecard) and renders each one as PDF, HTML, CSV and JSON. It does no
// I/O and reads no clock: the server fills a document from the compliance
// engine, the stores and the evidence chain, and stores what Render
// returns. docs/reports.md describes every report for its readers.
//
// Why one model rendered four ways: a client compares the PDF with the
// CSV, an auditor the PDF with the bundle's JSON. Filling one document and
// rendering every format from it means no format can show a number the
// others do not; the numbers themselves are the compliance engine's, never
// recomputed here.
//
// Why maroto and an embedded font: maroto lays out real PDF tables with
// automatic row heights and page breaks, and subsets an embedded TrueType
// font into each file. DejaVu Sans Condensed (fonts/, Bitstream Vera
// licence) covers Latin, Greek and Cyrillic, so client, site and owner
// names print as typed; the PDF core fonts stop at Latin-1.
//
// Why charts from go-analyze/charts: they are drawn in-process, without a
// browser or network, as PNG for the PDF and SVG for the HTML, from the
// same options.
package report
