package schedule

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestGolden decodes the sample windows in testdata/windows.json, the way
// an MSP would configure them, and records their description, validation
// result and occurrences across 2026's DST changes in windows.golden. The
// hand-checked expectations live in the table tests; this file shows the
// whole picture for review and catches unintended changes.
func TestGolden(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "windows.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ws []Window
	if err := json.Unmarshal(data, &ws); err != nil {
		t.Fatalf("decode windows.json: %v", err)
	}
	site := mustZone(t, "Europe/London")
	probes := []time.Time{
		time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 9, 20, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC),
	}
	var b strings.Builder
	for _, w := range ws {
		fmt.Fprintf(&b, "== %s\n%s\n", w.Name, w)
		if err := w.Validate(); err != nil {
			for _, fe := range err.(FieldErrors) {
				fmt.Fprintf(&b, "  invalid: %s\n", fe)
			}
			b.WriteString("\n")
			continue
		}
		for _, p := range probes {
			fmt.Fprintf(&b, "  after %s:\n", p.Format(time.RFC3339))
			next := p
			for range 3 {
				o, ok := w.Next(next, site)
				if !ok {
					b.WriteString("    none\n")
					break
				}
				fmt.Fprintf(&b, "    %s – %s  (%s)\n", o.Start.Format(time.RFC3339), o.End.Format(time.RFC3339), o.Duration())
				next = o.End
			}
		}
		b.WriteString("\n")
	}
	golden := filepath.Join("testdata", "windows.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("output differs from %s (run go test -update and review the diff):\n%s", golden, got)
	}
}
