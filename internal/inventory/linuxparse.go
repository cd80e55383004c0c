package inventory

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Pure parsers for Linux sources. They live outside collect_linux.go so that
// they are tested and fuzzed on every platform.

// parseOSRelease parses os-release(5): KEY=value lines, values optionally
// quoted with shell-style quotes and backslash escapes. Malformed lines are
// ignored, as the specification asks.
func parseOSRelease(b []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok || key == "" || strings.ContainsFunc(key, func(r rune) bool {
			return !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
		}) {
			continue
		}
		m[key] = unquoteShell(strings.TrimSpace(val))
	}
	return m
}

// unquoteShell removes one level of shell quoting as os-release uses it.
func unquoteShell(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		q := v[0]
		v = v[1 : len(v)-1]
		if q == '\'' {
			return v
		}
		var sb strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("\"\\`$", v[i+1]) >= 0 {
				i++
			}
			sb.WriteByte(v[i])
		}
		return sb.String()
	}
	return v
}

// linuxOS builds the OS from os-release fields. debianVersion is the
// content of /etc/debian_version ("12.5"), empty when absent.
func linuxOS(rel map[string]string, debianVersion string) OS {
	o := OS{
		Family:       FamilyLinux,
		Name:         rel["PRETTY_NAME"],
		Version:      rel["VERSION_ID"],
		Release:      rel["VERSION_CODENAME"],
		Distribution: rel["ID"],
		Edition:      rel["VARIANT"],
		Build:        rel["BUILD_ID"],
	}
	if o.Name == "" {
		o.Name = strings.TrimSpace(rel["NAME"] + " " + rel["VERSION"])
	}
	if o.Name == "" {
		o.Name = "Linux"
	}
	if o.Build == "" {
		dv := strings.TrimSpace(debianVersion)
		if o.Distribution == "debian" && isDottedNumber(dv) {
			o.Build = dv // point release: 12.5
		} else if v, _, _ := strings.Cut(rel["VERSION"], " "); isDottedNumber(v) && v != o.Version && strings.HasPrefix(v, o.Version) {
			o.Build = v // Ubuntu's 22.04.4 in VERSION="22.04.4 LTS (Jammy Jellyfish)"
		}
	}
	if o.Release == "" {
		o.Release = rel["UBUNTU_CODENAME"]
	}
	return o
}

func isDottedNumber(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

// parseMeminfo returns MemTotal from /proc/meminfo in bytes.
func parseMeminfo(b []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, fmt.Errorf("parse meminfo: MemTotal has no value")
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse meminfo MemTotal %q: %w", f[0], err)
		}
		if len(f) > 1 && strings.EqualFold(f[1], "kB") {
			if n > (1<<64-1)/1024 {
				return 0, fmt.Errorf("parse meminfo MemTotal %q: out of range", f[0])
			}
			n *= 1024
		}
		return n, nil
	}
	return 0, fmt.Errorf("parse meminfo: no MemTotal line")
}

// parseCPUInfo reads the processor model and counts from /proc/cpuinfo.
// Threads is the number of "processor" entries. Cores counts distinct
// (physical id, core id) pairs where the kernel reports them (x86), and
// falls back to the thread count. The model is "model name" (x86),
// "Processor" or "Hardware" (32-bit ARM), "cpu model" (MIPS) or "cpu"
// (POWER, SPARC); 64-bit ARM kernels report none.
func parseCPUInfo(b []byte) CPU {
	var c CPU
	type core struct{ phys, id string }
	cores := map[core]bool{}
	var phys, coreID string
	var hardware, processorField string
	flush := func() {
		if coreID != "" {
			cores[core{phys, coreID}] = true
		}
		phys, coreID = "", ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "processor":
			if allDigits(v) {
				c.Threads++
			} else if processorField == "" {
				processorField = v // ARM: "Processor : ARMv7 Processor rev 4 (v7l)"
			}
		case "model name", "cpu model":
			if c.Model == "" {
				c.Model = v
			}
		case "Processor":
			if processorField == "" {
				processorField = v
			}
		case "Hardware":
			hardware = v
		case "cpu":
			if c.Model == "" && v != "" && !allDigits(v) {
				c.Model = v
			}
		case "physical id":
			phys = v
		case "core id":
			coreID = v
		}
	}
	flush()
	if c.Model == "" {
		c.Model = processorField
	}
	if c.Model == "" {
		c.Model = hardware
	}
	c.Model = strings.Join(strings.Fields(c.Model), " ")
	c.Cores = len(cores)
	if c.Cores == 0 || c.Cores > c.Threads && c.Threads > 0 {
		c.Cores = c.Threads
	}
	return c
}

// mountEntry is one line of /proc/mounts.
type mountEntry struct {
	Device string
	Mount  string
	FS     string
}

// parseMounts parses /proc/mounts (fstab(5) format, with octal escapes for
// spaces and other special characters in paths).
func parseMounts(b []byte) []mountEntry {
	var ms []mountEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		ms = append(ms, mountEntry{Device: unescapeOctal(f[0]), Mount: unescapeOctal(f[1]), FS: f[2]})
	}
	return ms
}

// unescapeOctal decodes the \NNN escapes the kernel writes in mount paths.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && isOctal(s[i+1:i+4]) {
			n, _ := strconv.ParseUint(s[i+1:i+4], 8, 8)
			sb.WriteByte(byte(n))
			i += 3
			continue
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

func isOctal(s string) bool {
	if len(s) != 3 || s[0] > '3' {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < '0' || s[i] > '7' {
			return false
		}
	}
	return true
}

// pseudoFilesystems hold no user data; networkFilesystems are not this
// host's disks, and statfs on a dead server can hang.
var (
	pseudoFilesystems = map[string]bool{
		"proc": true, "sysfs": true, "devtmpfs": true, "devpts": true, "tmpfs": true, "ramfs": true,
		"cgroup": true, "cgroup2": true, "securityfs": true, "pstore": true, "bpf": true, "debugfs": true,
		"tracefs": true, "configfs": true, "fusectl": true, "mqueue": true, "hugetlbfs": true, "autofs": true,
		"binfmt_misc": true, "rpc_pipefs": true, "nsfs": true, "efivarfs": true, "selinuxfs": true,
		"squashfs": true, "iso9660": true, "udf": true, "overlay": true, "aufs": true, "shm": true,
		"devfs": true, "none": true, "rootfs": true, "nfsd": true, "ecryptfs": true,
	}
	networkFilesystems = map[string]bool{
		"nfs": true, "nfs4": true, "cifs": true, "smb3": true, "smbfs": true, "ncpfs": true, "9p": true,
		"afs": true, "ceph": true, "glusterfs": true, "lustre": true, "gpfs": true, "davfs": true, "sshfs": true,
	}
)

// localDisks keeps the mounts that are this host's own filesystems: no
// pseudo, network or FUSE filesystems (except fuseblk, e.g. NTFS), an
// overlay only when it is the root (containers), and each device once, at
// its first mount point (bind mounts and btrfs subvolumes repeat it).
func localDisks(ms []mountEntry) []mountEntry {
	var out []mountEntry
	seen := map[string]bool{}
	for _, m := range ms {
		fs := m.FS
		switch {
		case fs == "overlay" && m.Mount == "/":
		case pseudoFilesystems[fs], networkFilesystems[fs]:
			continue
		case strings.HasPrefix(fs, "fuse") && fs != "fuseblk":
			continue
		}
		if m.Mount == "" || m.Mount[0] != '/' {
			continue
		}
		if seen[m.Device] && strings.HasPrefix(m.Device, "/dev/") {
			continue
		}
		seen[m.Device] = true
		out = append(out, m)
	}
	return out
}

// parseBtime returns the boot time from /proc/stat's btime line (seconds
// since the epoch, fixed for the life of the boot).
func parseBtime(b []byte) (time.Time, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "btime ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
		if err != nil || n <= 0 {
			return time.Time{}, fmt.Errorf("parse /proc/stat btime %q: invalid", strings.TrimSpace(rest))
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("parse /proc/stat: no btime line")
}

// parseResolvConf returns the DNS domain from resolv.conf(5): the domain
// line or the first search domain, whichever comes last (they are mutually
// exclusive and the last one wins).
func parseResolvConf(b []byte) string {
	var domain string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0][0] == '#' || f[0][0] == ';' {
			continue
		}
		if f[0] == "domain" || f[0] == "search" {
			d := strings.TrimSuffix(f[1], ".")
			if d != "" && d != "." {
				domain = d
			}
		}
	}
	return domain
}

// parseRealmList returns the first configured domain from `realm list`
// (realmd): a block per realm, with "domain-name:" and "configured:"
// (a value other than "no" means this host is a member).
func parseRealmList(b []byte) string {
	var name string
	var configured bool
	result := ""
	flush := func() {
		if result == "" && configured && name != "" {
			result = name
		}
		name, configured = "", false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		if !unicode.IsSpace(rune(line[0])) {
			flush()
			name = strings.TrimSpace(line)
			continue
		}
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "domain-name":
			name = strings.TrimSpace(v)
		case "configured":
			configured = strings.TrimSpace(v) != "no" && strings.TrimSpace(v) != ""
		}
	}
	flush()
	return result
}

// newerKernel returns the newest of installed (module directory names under
// /lib/modules) when it is newer than running, by natural order of number
// and text runs.
func newerKernel(running string, installed []string) (string, bool) {
	best := ""
	for _, k := range installed {
		if compareNatural(k, running) > 0 && (best == "" || compareNatural(k, best) > 0) {
			best = k
		}
	}
	return best, best != ""
}

// compareNatural compares strings by runs: digit runs numerically, other
// runs lexically ("6.1.0-21" > "6.1.0-18", "5.14.0-427" > "5.14.0-70").
func compareNatural(a, b string) int {
	for a != "" && b != "" {
		ra, resta := leadingRun(a)
		rb, restb := leadingRun(b)
		da, db := ra[0] >= '0' && ra[0] <= '9', rb[0] >= '0' && rb[0] <= '9'
		switch {
		case da && db:
			ta, tb := strings.TrimLeft(ra, "0"), strings.TrimLeft(rb, "0")
			if len(ta) != len(tb) {
				if len(ta) < len(tb) {
					return -1
				}
				return 1
			}
			if c := strings.Compare(ta, tb); c != 0 {
				return c
			}
		default:
			if c := strings.Compare(ra, rb); c != 0 {
				return c
			}
		}
		a, b = resta, restb
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	default:
		return 1
	}
}

func leadingRun(s string) (run, rest string) {
	digit := s[0] >= '0' && s[0] <= '9'
	i := 1
	for i < len(s) && (s[i] >= '0' && s[i] <= '9') == digit {
		i++
	}
	return s[:i], s[i:]
}

// chooseFQDN returns the first candidate that is a fully qualified name for
// hostname (contains a dot and starts with the short name), or "".
func chooseFQDN(hostname string, candidates ...string) string {
	short, _, _ := strings.Cut(strings.ToLower(hostname), ".")
	for _, c := range candidates {
		c = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(c)), ".")
		if strings.Contains(c, ".") && !strings.ContainsAny(c, " \t/") &&
			(short == "" || strings.HasPrefix(c, short+".")) && !strings.HasSuffix(c, ".localdomain") {
			return c
		}
	}
	return ""
}
