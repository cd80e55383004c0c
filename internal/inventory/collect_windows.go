package inventory

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	"github.com/patchring/patchring/internal/pkgmgr"
)

const (
	commandTimeout    = 15 * time.Second
	powershellTimeout = 2 * time.Minute // SoftwareLicensingProduct is slow
)

const uninstallPath = `SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall`

func collect(ctx context.Context, opts Options) (Host, error) {
	run := opts.runner()
	var h Host
	var p problems

	v, err := readWindowsVersion()
	p.add("registry CurrentVersion", err)
	h.OS = windowsOS(v)
	h.OS.Arch = nativeArch()
	h.Hardware.MachineID = regString(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Cryptography`, "MachineGuid")

	name, err := os.Hostname()
	p.add("hostname", err)
	h.Hostname, _, _ = strings.Cut(strings.ToLower(name), ".")
	if fqdn, err := computerNameEx(windows.ComputerNameDnsFullyQualified); err == nil {
		h.FQDN = chooseFQDN(h.Hostname, fqdn)
	}

	pctx, cancel := context.WithTimeout(ctx, powershellTimeout)
	out, err := run.Run(pctx, pkgmgr.Command{
		Path: "powershell.exe",
		Args: []string{"-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand", encodePowerShell(windowsInventoryScript)},
	})
	cancel()
	if err != nil {
		p.add("powershell inventory", err)
	} else if rep, err := parseCIMReport(out); err != nil {
		p.add("powershell inventory", err)
	} else {
		applyCIM(&h, rep)
	}
	if h.Domain == "" {
		if _, d, ok := strings.Cut(h.FQDN, "."); ok {
			h.Domain, h.DomainType = d, DomainDNS
		}
	}

	nics, err := systemInterfaces()
	p.add("network", err)
	h.IPAddresses, h.MACAddresses = addresses(nics)

	qctx, cancel := context.WithTimeout(ctx, commandTimeout)
	out, err = run.Run(qctx, pkgmgr.Command{Path: "query.exe", Args: []string{"user"}})
	cancel()
	if exit, ok := errors.AsType[*pkgmgr.ExitError](err); ok && exit.ExitCode == 1 {
		err = nil // "No User exists for *"
	}
	if err != nil {
		// query.exe is missing on Home editions; the console user from
		// Win32_ComputerSystem still stands.
		p.add("query user", err)
	} else {
		h.Users = parseQueryUser(out)
	}
	h.PrimaryUser = primaryUser(h.PrimaryUser, h.Users)

	h.RebootReasons = windowsRebootReasons(
		regKeyExists(`SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending`),
		regKeyExists(`SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired`),
		regStrings(registry.LOCAL_MACHINE, `SYSTEM\CurrentControlSet\Control\Session Manager`, "PendingFileRenameOperations"),
	)
	h.RebootPending = boolPtr(len(h.RebootReasons) > 0)

	if !opts.SkipSoftware {
		h.Software = installedSoftware(&p)
	}
	h.Problems = p
	return h, nil
}

func readWindowsVersion() (windowsVersion, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Windows NT\CurrentVersion`, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return windowsVersion{}, fmt.Errorf("open CurrentVersion: %w", err)
	}
	defer k.Close()
	str := func(name string) string {
		s, _, _ := k.GetStringValue(name)
		return strings.TrimSpace(s)
	}
	v := windowsVersion{
		ProductName:      str("ProductName"),
		EditionID:        str("EditionID"),
		DisplayVersion:   str("DisplayVersion"),
		ReleaseID:        str("ReleaseId"),
		CurrentVersion:   str("CurrentVersion"),
		CurrentBuild:     str("CurrentBuild"),
		InstallationType: str("InstallationType"),
		CSDVersion:       str("CSDVersion"),
	}
	if v.CurrentBuild == "" {
		v.CurrentBuild = str("CurrentBuildNumber")
	}
	if n, _, err := k.GetIntegerValue("CurrentMajorVersionNumber"); err == nil {
		v.Major, v.HasMajor = n, true
		v.Minor, _, _ = k.GetIntegerValue("CurrentMinorVersionNumber")
	}
	if n, _, err := k.GetIntegerValue("UBR"); err == nil {
		v.UBR, v.HasUBR = n, true
	}
	return v, nil
}

func nativeArch() string {
	a := regString(registry.LOCAL_MACHINE, `SYSTEM\CurrentControlSet\Control\Session Manager\Environment`, "PROCESSOR_ARCHITECTURE")
	if a == "" {
		a = os.Getenv("PROCESSOR_ARCHITEW6432")
	}
	if a == "" {
		a = os.Getenv("PROCESSOR_ARCHITECTURE")
	}
	return normaliseArch(a)
}

func computerNameEx(format uint32) (string, error) {
	n := uint32(256)
	for {
		buf := make([]uint16, n)
		err := windows.GetComputerNameEx(format, &buf[0], &n)
		if err == nil {
			return windows.UTF16ToString(buf[:n]), nil
		}
		if !errors.Is(err, windows.ERROR_MORE_DATA) || n <= uint32(len(buf)) {
			return "", fmt.Errorf("GetComputerNameEx: %w", err)
		}
	}
}

func regString(root registry.Key, path, name string) string {
	k, err := registry.OpenKey(root, path, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return ""
	}
	defer k.Close()
	s, _, _ := k.GetStringValue(name)
	return strings.TrimSpace(s)
}

func regStrings(root registry.Key, path, name string) []string {
	k, err := registry.OpenKey(root, path, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return nil
	}
	defer k.Close()
	s, _, _ := k.GetStringsValue(name)
	return s
}

func regKeyExists(path string) bool {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, path, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return false
	}
	k.Close()
	return true
}

// installedSoftware reads the machine-wide Uninstall keys in both registry
// views and the per-user keys of every loaded user hive.
func installedSoftware(p *problems) []pkgmgr.Software {
	var all []pkgmgr.Software
	native := nativeArch()
	views := []struct {
		access uint32
		arch   string
	}{{registry.WOW64_64KEY, native}}
	if native == "amd64" || native == "arm64" {
		views = append(views, struct {
			access uint32
			arch   string
		}{registry.WOW64_32KEY, "386"})
	}
	for _, v := range views {
		entries, err := readUninstall(registry.LOCAL_MACHINE, uninstallPath, v.access)
		if !errors.Is(err, registry.ErrNotExist) {
			p.add("registry uninstall", err)
		}
		all = append(all, softwareFromUninstall(entries, v.arch)...)
	}
	users, err := registry.USERS.ReadSubKeyNames(-1)
	p.add("registry users", err)
	for _, sid := range users {
		if !strings.HasPrefix(sid, "S-1-5-21-") && !strings.HasPrefix(sid, "S-1-12-1-") || strings.HasSuffix(sid, "_Classes") {
			continue
		}
		entries, err := readUninstall(registry.USERS, sid+`\`+uninstallPath, 0)
		if errors.Is(err, registry.ErrNotExist) {
			continue
		}
		p.add("registry user uninstall", err)
		all = append(all, softwareFromUninstall(entries, "")...)
	}
	return dedupeSoftware(all)
}

func readUninstall(root registry.Key, path string, access uint32) ([]uninstallEntry, error) {
	k, err := registry.OpenKey(root, path, registry.ENUMERATE_SUB_KEYS|registry.QUERY_VALUE|access)
	if err != nil {
		if errors.Is(err, registry.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer k.Close()
	names, err := k.ReadSubKeyNames(-1)
	if err != nil {
		return nil, fmt.Errorf("enumerate %s: %w", path, err)
	}
	entries := make([]uninstallEntry, 0, len(names))
	for _, n := range names {
		sk, err := registry.OpenKey(k, n, registry.QUERY_VALUE|access)
		if err != nil {
			continue
		}
		str := func(name string) string { s, _, _ := sk.GetStringValue(name); return s }
		num := func(name string) uint64 { v, _, _ := sk.GetIntegerValue(name); return v }
		entries = append(entries, uninstallEntry{
			KeyName:          n,
			DisplayName:      str("DisplayName"),
			DisplayVersion:   str("DisplayVersion"),
			Publisher:        str("Publisher"),
			InstallDate:      str("InstallDate"),
			ParentKeyName:    str("ParentKeyName"),
			ReleaseType:      str("ReleaseType"),
			SystemComponent:  num("SystemComponent"),
			WindowsInstaller: num("WindowsInstaller"),
		})
		sk.Close()
	}
	return entries, nil
}
