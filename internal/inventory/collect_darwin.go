package inventory

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/patchring/patchring/internal/pkgmgr"
)

const (
	commandTimeout  = 15 * time.Second
	softwareTimeout = 3 * time.Minute // system_profiler walks every disk
)

func collect(ctx context.Context, opts Options) (Host, error) {
	run := opts.runner()
	command := func(timeout time.Duration, name string, args ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return run.Run(ctx, pkgmgr.Command{Path: name, Args: args, Env: []string{"LC_ALL=C"}})
	}
	var h Host
	var p problems

	if out, err := command(commandTimeout, "/usr/bin/sw_vers"); err != nil {
		p.add("sw_vers", err)
	} else {
		h.OS, err = macOSFromSwVers(out)
		p.add("sw_vers", err)
	}
	// sysctl prints the keys it knows and fails on the others
	// (sysctl.proc_translated exists only on Apple silicon): keep its
	// output either way.
	out, err := command(commandTimeout, "/usr/sbin/sysctl", macSysctlKeys...)
	if exit, ok := errors.AsType[*pkgmgr.ExitError](err); ok {
		out, err = exit.Stdout, nil
	}
	p.add("sysctl", err)
	p.add("sysctl", applySysctl(&h, out))

	name, err := os.Hostname()
	p.add("hostname", err)
	name = strings.TrimSuffix(name, ".local")
	h.Hostname, _, _ = strings.Cut(name, ".")
	h.FQDN = chooseFQDN(h.Hostname, name)
	if _, d, ok := strings.Cut(h.FQDN, "."); ok {
		h.Domain, h.DomainType = d, DomainDNS
	}
	if out, err := command(commandTimeout, "/usr/sbin/scutil", "--get", "ComputerName"); err != nil {
		p.add("scutil", err)
	} else {
		h.ComputerName = strings.TrimSpace(string(out))
	}

	if out, err := command(commandTimeout, "/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice"); err != nil {
		p.add("ioreg", err)
	} else {
		h.Hardware = parseIORegPlatform(out)
	}

	nics, err := systemInterfaces()
	p.add("network", err)
	h.IPAddresses, h.MACAddresses = addresses(nics)
	h.Disks, err = darwinDisks()
	p.add("disks", err)

	if out, err := command(commandTimeout, "/usr/bin/who"); err != nil {
		p.add("who", err)
	} else {
		h.Users = parseWho(out)
	}
	var console string
	if out, err := command(commandTimeout, "/usr/bin/stat", "-f", "%Su", "/dev/console"); err != nil {
		p.add("console user", err)
	} else {
		console = consoleUser(out)
	}
	h.PrimaryUser = primaryUser(console, h.Users)

	if !opts.SkipSoftware {
		if out, err := command(softwareTimeout, "/usr/sbin/system_profiler", "SPApplicationsDataType", "-json"); err != nil {
			p.add("system_profiler", err)
		} else {
			h.Software, err = parseApplications(out)
			p.add("system_profiler", err)
		}
	}
	// macOS keeps no reliable pending-reboot marker: staged updates are
	// applied during the restart itself. RebootPending stays nil (unknown).
	h.Problems = p
	return h, nil
}

func darwinDisks() ([]Disk, error) {
	n, err := unix.Getfsstat(nil, unix.MNT_NOWAIT)
	if err != nil {
		return nil, fmt.Errorf("getfsstat: %w", err)
	}
	buf := make([]unix.Statfs_t, n)
	n, err = unix.Getfsstat(buf, unix.MNT_NOWAIT)
	if err != nil {
		return nil, fmt.Errorf("getfsstat: %w", err)
	}
	var disks []Disk
	for _, st := range buf[:n] {
		mount := unix.ByteSliceToString(st.Mntonname[:])
		fstype := unix.ByteSliceToString(st.Fstypename[:])
		if !darwinMountWanted(mount, fstype, st.Flags&unix.MNT_LOCAL != 0) {
			continue
		}
		bs := uint64(st.Bsize)
		disks = append(disks, Disk{
			Mount:     mount,
			Device:    unix.ByteSliceToString(st.Mntfromname[:]),
			FS:        fstype,
			SizeBytes: st.Blocks * bs,
			FreeBytes: st.Bavail * bs,
		})
	}
	return disks, nil
}
