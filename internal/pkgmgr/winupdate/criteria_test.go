package winupdate

import "testing"

// TestSearchCriteria pins the Windows Update search to what Windows Update
// itself offers: missing, software (not drivers), not hidden by an admin.
func TestSearchCriteria(t *testing.T) {
	if want := "IsInstalled=0 and Type='Software' and IsHidden=0"; searchCriteria != want {
		t.Errorf("searchCriteria = %q, want %q", searchCriteria, want)
	}
}
