package inventory

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// commandTimeout bounds each helper command (hostname -f can wait on DNS).
const commandTimeout = 15 * time.Second

// linuxSource is where the Linux collector reads from. Production uses the
// real root, syscalls and commands; tests can replace any of them.
type linuxSource struct {
	root     fs.FS // the filesystem root, without the leading slash
	run      pkgmgr.Runner
	hostname func() (string, error)
	uname    func() (release, machine string, err error)
	statfs   func(path string) (size, free uint64, err error)
	nics     func() ([]nic, error)
	lookup   func(ctx context.Context, host string) (string, error)
}

func collect(ctx context.Context, opts Options) (Host, error) {
	src := linuxSource{
		root:     os.DirFS("/"),
		run:      opts.runner(),
		hostname: os.Hostname,
		uname:    unameLinux,
		statfs:   statfsLinux,
		nics:     systemInterfaces,
		lookup:   net.DefaultResolver.LookupCNAME,
	}
	return src.collect(ctx), nil
}

func unameLinux() (string, string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", "", fmt.Errorf("uname: %w", err)
	}
	return unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Machine[:]), nil
}

func statfsLinux(p string) (uint64, uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", p, err)
	}
	bs := uint64(st.Frsize)
	if bs == 0 {
		bs = uint64(st.Bsize)
	}
	return st.Blocks * bs, st.Bavail * bs, nil
}

func (s linuxSource) read(name string) ([]byte, error) {
	return fs.ReadFile(s.root, strings.TrimPrefix(name, "/"))
}

func (s linuxSource) exists(name string) bool {
	_, err := fs.Stat(s.root, strings.TrimPrefix(name, "/"))
	return err == nil
}

func (s linuxSource) command(ctx context.Context, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	return s.run.Run(ctx, pkgmgr.Command{Path: name, Args: args, Env: []string{"LC_ALL=C"}})
}

func (s linuxSource) collect(ctx context.Context) Host {
	var h Host
	var p problems

	// Operating system.
	rel, err := s.read("/etc/os-release")
	if err != nil {
		rel, err = s.read("/usr/lib/os-release")
	}
	p.add("read os-release", err)
	debianVersion, _ := s.read("/etc/debian_version")
	h.OS = linuxOS(parseOSRelease(rel), string(debianVersion))
	release, machine, err := s.uname()
	p.add("uname", err)
	h.OS.Kernel, h.OS.Arch = release, normaliseArch(machine)

	// Names.
	s.names(ctx, &h, &p)

	// Hardware and resources.
	if b, err := s.read("/proc/meminfo"); err != nil {
		p.add("read meminfo", err)
	} else {
		h.MemoryBytes, err = parseMeminfo(b)
		p.add("meminfo", err)
	}
	if b, err := s.read("/proc/cpuinfo"); err != nil {
		p.add("read cpuinfo", err)
	} else {
		h.CPU = parseCPUInfo(b)
	}
	if b, err := s.read("/proc/stat"); err != nil {
		p.add("read /proc/stat", err)
	} else {
		h.LastBoot, err = parseBtime(b)
		p.add("boot time", err)
	}
	s.disks(&h, &p)
	s.network(&h, &p)
	h.Hardware = s.hardware()

	// Users.
	if out, err := s.command(ctx, "who"); err != nil {
		p.add("who", err)
	} else {
		h.Users = parseWho(out)
	}
	h.PrimaryUser = primaryUser("", h.Users)

	s.reboot(ctx, &h, &p)
	h.Problems = p
	return h
}

func (s linuxSource) names(ctx context.Context, h *Host, p *problems) {
	name, err := s.hostname()
	p.add("hostname", err)
	short, _, _ := strings.Cut(name, ".")
	h.Hostname = short
	candidates := []string{name}
	if out, err := s.command(ctx, "hostname", "-f"); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	h.FQDN = chooseFQDN(short, candidates...)
	if h.FQDN == "" && short != "" {
		lctx, cancel := context.WithTimeout(ctx, commandTimeout)
		cname, err := s.lookup(lctx, short)
		cancel()
		if err == nil {
			h.FQDN = chooseFQDN(short, cname)
		}
	}

	// Domain: a joined realm beats the DNS domain.
	if s.exists("/usr/sbin/realm") {
		if out, err := s.command(ctx, "/usr/sbin/realm", "list"); err != nil {
			p.add("realm list", err)
		} else if d := parseRealmList(out); d != "" {
			h.Domain, h.DomainType = strings.ToLower(d), DomainJoined
			return
		}
	}
	if _, d, ok := strings.Cut(h.FQDN, "."); ok {
		h.Domain, h.DomainType = d, DomainDNS
		return
	}
	if b, err := s.read("/etc/resolv.conf"); err == nil {
		if d := parseResolvConf(b); d != "" {
			h.Domain, h.DomainType = strings.ToLower(d), DomainDNS
		}
	}
}

func (s linuxSource) disks(h *Host, p *problems) {
	b, err := s.read("/proc/self/mounts")
	if err != nil {
		b, err = s.read("/proc/mounts")
	}
	if err != nil {
		p.add("read mounts", err)
		return
	}
	for _, m := range localDisks(parseMounts(b)) {
		size, free, err := s.statfs(m.Mount)
		if err != nil {
			p.add("disk", err)
			continue
		}
		if size == 0 {
			continue
		}
		h.Disks = append(h.Disks, Disk{Mount: m.Mount, Device: m.Device, FS: m.FS, SizeBytes: size, FreeBytes: free})
	}
}

func (s linuxSource) network(h *Host, p *problems) {
	nics, err := s.nics()
	if err != nil {
		p.add("network", err)
		return
	}
	for i := range nics {
		// Virtual interfaces (bridges, veth, bonds, tunnels, ifb) have no
		// backing device in sysfs; virtio and real NICs do.
		nics[i].Virtual = !s.exists(path.Join("/sys/class/net", nics[i].Name, "device"))
	}
	h.IPAddresses, h.MACAddresses = addresses(nics)
}

func (s linuxSource) hardware() Hardware {
	get := func(names ...string) string {
		for _, n := range names {
			if b, err := s.read(n); err == nil {
				if v := dmiString(b); v != "" && !isBogus(v) {
					return v
				}
			}
		}
		return ""
	}
	const dmi = "/sys/class/dmi/id/"
	const dt = "/sys/firmware/devicetree/base/"
	hw := Hardware{
		MachineID:    get("/etc/machine-id", "/var/lib/dbus/machine-id"),
		HardwareUUID: get(dmi + "product_uuid"),
		Serial:       get(dmi+"product_serial", dmi+"chassis_serial", dt+"serial-number"),
		Manufacturer: get(dmi+"sys_vendor", dmi+"board_vendor"),
		Model:        get(dmi+"product_name", dmi+"board_name", dt+"model"),
	}
	return hw
}

func (s linuxSource) reboot(ctx context.Context, h *Host, p *problems) {
	var reasons []RebootReason
	known := true
	if s.exists("/run/reboot-required") || s.exists("/var/run/reboot-required") {
		reasons = append(reasons, RebootRequiredFile)
	}
	for _, nr := range []string{"/usr/bin/needs-restarting", "/bin/needs-restarting"} {
		if !s.exists(nr) {
			continue
		}
		_, err := s.command(ctx, nr, "-r")
		exit, isExit := errors.AsType[*pkgmgr.ExitError](err)
		switch {
		case err == nil:
		case isExit && exit.ExitCode == 1:
			reasons = append(reasons, RebootNeedsRestarting)
		default:
			p.add("needs-restarting", err)
			known = false
		}
		break
	}
	if entries, err := fs.ReadDir(s.root, "lib/modules"); err == nil && h.OS.Kernel != "" {
		var installed []string
		for _, e := range entries {
			if e.IsDir() {
				installed = append(installed, e.Name())
			}
		}
		if _, ok := newerKernel(h.OS.Kernel, installed); ok {
			reasons = append(reasons, RebootNewerKernel)
		}
	}
	h.RebootReasons = reasons
	if known || len(reasons) > 0 {
		h.RebootPending = boolPtr(len(reasons) > 0)
	}
}

// dmiString cleans a sysfs or device-tree string (trailing newline or NUL).
func dmiString(b []byte) string {
	return strings.TrimSpace(strings.TrimRight(string(b), "\x00\n"))
}
