package inventory

import (
	"slices"
	"testing"
)

// TestMacSysctlKeysCoverParser checks that the darwin collector asks sysctl
// for every key applySysctl reads: a key missing from the request would
// silently leave its fact empty on every Mac.
func TestMacSysctlKeysCoverParser(t *testing.T) {
	for _, k := range []string{"kern.boottime", "hw.memsize", "hw.ncpu", "machdep.cpu.brand_string", "sysctl.proc_translated"} {
		if !slices.Contains(macSysctlKeys, k) {
			t.Errorf("macSysctlKeys lacks %q", k)
		}
	}
}
