// Package reporttest checks generated reports the way a reader would:
// PDFs through poppler's pdftotext (text) and pdftoppm (a rendered page).
// The tools come from Debian's poppler-utils; tests fail, rather than
// skip, when they are missing, so CI cannot pass without checking PDFs.
package reporttest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// PDFText returns the text of a PDF as pdftotext extracts it, in reading
// order, with every run of white space (including line breaks inside
// wrapped table cells) collapsed to one space. It fails the test if the
// file is not a PDF poppler can read.
func PDFText(tb testing.TB, pdf []byte) string {
	tb.Helper()
	bin := tool(tb, "pdftotext")
	path := filepath.Join(tb.TempDir(), "report.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		tb.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, "-enc", "UTF-8", path, "-")
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		tb.Fatalf("pdftotext: %v: %s", err, errb.String())
	}
	if errb.Len() > 0 {
		tb.Fatalf("pdftotext complained about the PDF: %s", errb.String())
	}
	return strings.Join(strings.Fields(out.String()), " ")
}

// PDFPages returns the number of pages pdfinfo reports.
func PDFPages(tb testing.TB, pdf []byte) int {
	tb.Helper()
	bin := tool(tb, "pdfinfo")
	path := filepath.Join(tb.TempDir(), "report.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		tb.Fatal(err)
	}
	out, err := exec.Command(bin, path).CombinedOutput()
	if err != nil {
		tb.Fatalf("pdfinfo: %v: %s", err, out)
	}
	var pages int
	for _, line := range bytes.Split(out, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("Pages:")); ok {
			n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				tb.Fatalf("pdfinfo pages %q: %v", v, err)
			}
			pages = n
		}
	}
	return pages
}

// RenderPage renders page n (from 1) of a PDF to a PNG file in dir at
// dpi and returns its path, for a person (or a test) to look at.
func RenderPage(tb testing.TB, pdf []byte, n, dpi int, dir string) string {
	tb.Helper()
	bin := tool(tb, "pdftoppm")
	in := filepath.Join(tb.TempDir(), "report.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		tb.Fatal(err)
	}
	prefix := filepath.Join(dir, "page")
	num := strconv.Itoa(n)
	out, err := exec.Command(bin, "-png", "-r", strconv.Itoa(dpi), "-f", num, "-l", num, "-singlefile", in, prefix).CombinedOutput()
	if err != nil {
		tb.Fatalf("pdftoppm: %v: %s", err, out)
	}
	return prefix + ".png"
}

func tool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("%s not found: install poppler-utils (apt-get install poppler-utils) to check generated PDFs", name)
	}
	return p
}
