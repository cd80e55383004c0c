package apttest

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func aptCache(t *testing.T, r *Repo, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(context.Background(), "apt-cache", slices.Concat(r.AptOptions(), args)...).CombinedOutput()
	if err != nil {
		t.Fatalf("apt-cache %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestRepo_Isolated checks that apt, given AptOptions, sees both versions of
// the repository's package and nothing from the machine's own sources.
func TestRepo_Isolated(t *testing.T) {
	r := NewRepo(t)
	r.Add(Package{Name: "patchring-demo-iso", Version: "1.0-1"})
	r.Add(Package{Name: "patchring-demo-iso", Version: "1:2.0~rc1-1", Arch: "all"})
	update := exec.CommandContext(context.Background(), "apt-get", append(r.AptOptions(), "-q", "update")...)
	if out, err := update.CombinedOutput(); err != nil {
		t.Fatalf("apt-get update: %v\n%s", err, out)
	}
	madison := aptCache(t, r, "madison", "patchring-demo-iso")
	for _, v := range []string{"1.0-1", "1:2.0~rc1-1"} {
		if !strings.Contains(madison, v) {
			t.Errorf("apt-cache madison lacks %s:\n%s", v, madison)
		}
	}
	if got := aptCache(t, r, "madison", "bash"); strings.TrimSpace(got) != "" {
		t.Errorf("apt sees the machine's sources through AptOptions:\n%s", got)
	}
	if got := r.InstalledVersion("patchring-demo-iso"); got != "" {
		t.Errorf("InstalledVersion before install = %q", got)
	}
	r.DpkgInstall("patchring-demo-iso", "1:2.0~rc1-1")
	if got := r.InstalledVersion("patchring-demo-iso"); got != "1:2.0~rc1-1" {
		t.Errorf("InstalledVersion = %q", got)
	}
	r.Purge("patchring-demo-iso")
	if got := r.InstalledVersion("patchring-demo-iso"); got != "" {
		t.Errorf("InstalledVersion after purge = %q", got)
	}
}
