//go:build windows

package agent

import (
	"fmt"

	"golang.org/x/sys/windows"
)

const isWindows = true

// stateDACL grants full control to SYSTEM and the Administrators group
// only, inherited by files and subdirectories, and protected from the
// parent's (ProgramData lets every user read).
const stateDACL = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"

// protectDir sets the state directory's ACL: Unix mode bits mean nothing
// on Windows, where the agent's key would otherwise be readable by Users.
func protectDir(dir string) error {
	sd, err := windows.SecurityDescriptorFromString(stateDACL)
	if err != nil {
		return fmt.Errorf("build state directory ACL: %w", err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("build state directory ACL: %w", err)
	}
	if err := windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil); err != nil {
		return fmt.Errorf("restrict %s to SYSTEM and Administrators: %w", dir, err)
	}
	return nil
}

// syncDir is not needed on Windows: MoveFileEx replaces atomically.
func syncDir(string) {}
