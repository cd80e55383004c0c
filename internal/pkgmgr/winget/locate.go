package winget

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Locate finds winget.exe for a service running as SYSTEM, which has no
// per-user App Execution Alias on its PATH: the newest
// Microsoft.DesktopAppInstaller_<version>_<arch>__8wekyb3d8bbwe directory
// under programFiles\WindowsApps that contains winget.exe. programFiles is
// normally os.Getenv("ProgramFiles").
func Locate(programFiles string) (string, error) {
	if programFiles == "" {
		return "", errors.New("locate winget: empty Program Files directory")
	}
	pattern := filepath.Join(programFiles, "WindowsApps", "Microsoft.DesktopAppInstaller_*_8wekyb3d8bbwe", "winget.exe")
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return "", fmt.Errorf("locate winget: %w", err)
	}
	if len(matches) == 0 {
		return "", fmt.Errorf("locate winget: no App Installer with winget.exe under %s", filepath.Join(programFiles, "WindowsApps"))
	}
	slices.SortFunc(matches, func(a, b string) int {
		return compareVersions(appInstallerVersion(a), appInstallerVersion(b))
	})
	return matches[len(matches)-1], nil
}

// appInstallerVersion extracts "1.22.11261.0" from
// ...\Microsoft.DesktopAppInstaller_1.22.11261.0_x64__8wekyb3d8bbwe\winget.exe.
func appInstallerVersion(path string) []int {
	dir := filepath.Base(filepath.Dir(path))
	parts := strings.Split(dir, "_")
	if len(parts) < 2 {
		return nil
	}
	var v []int
	for _, f := range strings.Split(parts[1], ".") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil
		}
		v = append(v, n)
	}
	return v
}

func compareVersions(a, b []int) int {
	return slices.Compare(a, b)
}
