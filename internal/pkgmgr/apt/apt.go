package apt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/pkgmgr"
	"github.com/patchring/patchring/internal/pkgmgr/debversion"
)

// DefaultRebootRequiredFile is where Debian and Ubuntu packages (through
// update-notifier-common or the package's own postinst) flag a pending reboot.
const DefaultRebootRequiredFile = "/var/run/reboot-required"

// Options configure a Manager. The zero value drives the host's real apt.
type Options struct {
	// Runner runs commands; nil means pkgmgr.ExecRunner{}.
	Runner pkgmgr.Runner
	// AptGet, DpkgQuery and Dpkg are the programs run; empty means the
	// name, looked up in PATH.
	AptGet, DpkgQuery, Dpkg string
	// AptOptions are passed to every apt-get call before the subcommand,
	// e.g. {"-o", "Dir::Etc::sourcelist=/path/sources.list"}. They come
	// from the agent's configuration, never from the server.
	AptOptions []string
	// SkipRefresh skips `apt-get update` before a scan.
	SkipRefresh bool
	// Product is copied into every Update ("Debian 12", "Ubuntu 22.04").
	Product string
	// RebootRequiredFile is the reboot flag file; empty means
	// DefaultRebootRequiredFile.
	RebootRequiredFile string
	// Arch is the native dpkg architecture; empty means asking
	// `dpkg --print-architecture` once.
	Arch string
	// LockTimeout is how long apt-get waits for the dpkg lock held by
	// another package manager, capped by the context deadline; zero means
	// five minutes.
	LockTimeout time.Duration
	// Now returns the current time; nil means time.Now. Used only to turn
	// the context deadline into a lock timeout.
	Now func() time.Time
}

// Manager drives apt-get and dpkg-query. It is not safe for concurrent use;
// the agent runs one operation at a time.
type Manager struct {
	opts Options
	arch string // cached native architecture
}

var (
	_ pkgmgr.Manager        = (*Manager)(nil)
	_ pkgmgr.Rollbacker     = (*Manager)(nil)
	_ pkgmgr.RebootReporter = (*Manager)(nil)
	_ pkgmgr.SoftwareLister = (*Manager)(nil)
)

// New returns a Manager for opts.
func New(opts Options) *Manager {
	if opts.Runner == nil {
		opts.Runner = pkgmgr.ExecRunner{}
	}
	if opts.AptGet == "" {
		opts.AptGet = "apt-get"
	}
	if opts.DpkgQuery == "" {
		opts.DpkgQuery = "dpkg-query"
	}
	if opts.Dpkg == "" {
		opts.Dpkg = "dpkg"
	}
	if opts.RebootRequiredFile == "" {
		opts.RebootRequiredFile = DefaultRebootRequiredFile
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Manager{opts: opts, arch: opts.Arch}
}

// Source returns pkgmgr.SourceApt.
func (m *Manager) Source() pkgmgr.Source { return pkgmgr.SourceApt }

// scanEnv keeps apt's messages untranslated, for parsing and evidence.
var scanEnv = []string{"LC_ALL=C"}

// installEnv also stops debconf, apt-listchanges and friends from asking.
var installEnv = []string{"LC_ALL=C", "DEBIAN_FRONTEND=noninteractive", "APT_LISTCHANGES_FRONTEND=none"}

// Scan refreshes the package lists (unless SkipRefresh) and returns the
// upgrades a dist-upgrade would install. A failed refresh fails the scan:
// reporting from stale lists would understate what is missing.
func (m *Manager) Scan(ctx context.Context) ([]pkgmgr.Update, error) {
	if !m.opts.SkipRefresh {
		args := append(m.aptOptions(), "-q", "update")
		if _, err := m.opts.Runner.Run(ctx, pkgmgr.Command{Path: m.opts.AptGet, Args: args, Env: scanEnv}); err != nil {
			return nil, fmt.Errorf("refresh apt package lists: %w", err)
		}
	}
	args := append(m.aptOptions(), "-s", "-o", "Debug::NoLocking=1", "-o", "APT::Get::Show-User-Simulation-Note=false", "dist-upgrade")
	out, err := m.opts.Runner.Run(ctx, pkgmgr.Command{Path: m.opts.AptGet, Args: args, Env: scanEnv})
	if err != nil {
		return nil, fmt.Errorf("simulate apt dist-upgrade: %w", err)
	}
	updates, err := parseSimulate(out)
	if err != nil {
		return nil, err
	}
	for i := range updates {
		updates[i].Product = m.opts.Product
	}
	return updates, nil
}

// InstalledSoftware lists the packages dpkg knows as present on disk.
func (m *Manager) InstalledSoftware(ctx context.Context) ([]pkgmgr.Software, error) {
	entries, err := m.dpkgEntries(ctx)
	if err != nil {
		return nil, err
	}
	return software(entries), nil
}

// RebootRequired reports whether the reboot flag file exists.
func (m *Manager) RebootRequired(ctx context.Context) (bool, error) {
	_, err := os.Stat(m.opts.RebootRequiredFile)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("check reboot flag: %w", err)
	}
}

// Install installs exactly the requested versions. Targets that are not
// installed at all, already at the version, or at a newer version are
// skipped; invalid targets fail without reaching apt-get.
func (m *Manager) Install(ctx context.Context, req pkgmgr.InstallRequest) (pkgmgr.InstallResult, error) {
	return m.apply(ctx, req.Targets, false, req.DownloadOnly)
}

// Rollback installs the older versions named by the targets with
// --allow-downgrades. A target newer than what is installed fails: a
// rollback never upgrades.
func (m *Manager) Rollback(ctx context.Context, req pkgmgr.RollbackRequest) (pkgmgr.InstallResult, error) {
	return m.apply(ctx, req.Targets, true, false)
}

// pending is a target that goes to apt-get.
type pending struct {
	target pkgmgr.Target
	from   string
	arg    string
}

func (m *Manager) apply(ctx context.Context, targets []pkgmgr.Target, downgrade, downloadOnly bool) (pkgmgr.InstallResult, error) {
	op := "install"
	if downgrade {
		op = "rollback"
	}
	if err := ctx.Err(); err != nil {
		return pkgmgr.InstallResult{}, fmt.Errorf("apt %s: %w", op, err)
	}
	arch, err := m.nativeArch(ctx)
	if err != nil {
		return pkgmgr.InstallResult{}, err
	}
	entries, err := m.dpkgEntries(ctx)
	if err != nil {
		return pkgmgr.InstallResult{}, err
	}
	before := newDpkgState(entries)

	var res pkgmgr.InstallResult
	var queue []pending
	idx := map[int]int{} // queue position -> result position
	for _, t := range targets {
		item := pkgmgr.ItemResult{ID: t.ID, Package: t.Package, ToVersion: t.Version}
		if err := validateTarget(t); err != nil {
			item.Status, item.Detail = pkgmgr.ItemFailed, err.Error()
			res.Items = append(res.Items, item)
			continue
		}
		cur, ok := before.lookup(t.Package, arch)
		if !ok || !cur.present() {
			item.Status, item.Detail = pkgmgr.ItemSkipped, "not installed"
			res.Items = append(res.Items, item)
			continue
		}
		item.FromVersion = cur.Version
		if skip, fail := decide(cur, t.Version, downgrade); skip != "" || fail != "" {
			item.Status, item.Detail = pkgmgr.ItemSkipped, skip
			if fail != "" {
				item.Status, item.Detail = pkgmgr.ItemFailed, fail
			}
			res.Items = append(res.Items, item)
			continue
		}
		idx[len(queue)] = len(res.Items)
		queue = append(queue, pending{target: t, from: cur.Version, arg: t.Package + "=" + t.Version})
		res.Items = append(res.Items, item)
	}
	if len(queue) == 0 {
		return res, nil
	}

	args := append(m.aptOptions(), "-q", "-y", "--no-install-recommends", "--no-remove",
		"-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold",
		"-o", "DPkg::Lock::Timeout="+strconv.Itoa(m.lockTimeoutSeconds(ctx)))
	if downgrade {
		args = append(args, "--allow-downgrades")
	}
	if downloadOnly {
		args = append(args, "--download-only")
	}
	args = append(args, "install", "--")
	for _, p := range queue {
		args = append(args, p.arg)
	}
	out, runErr := m.opts.Runner.Run(ctx, pkgmgr.Command{Path: m.opts.AptGet, Args: args, Env: installEnv})
	res.Output = evidence(out, runErr)
	if _, exited := errors.AsType[*pkgmgr.ExitError](runErr); runErr != nil && !exited && ctx.Err() == nil {
		for _, i := range idx {
			res.Items[i].Status, res.Items[i].Detail = pkgmgr.ItemFailed, "apt-get could not be started"
		}
		return res, fmt.Errorf("apt %s: %w", op, runErr)
	}
	failure := ""
	if runErr != nil {
		failure = "apt-get failed: " + lastError(runErr)
	}

	// Read dpkg's state even when the deadline passed during the run: the
	// results must say what is on disk now.
	readCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	var after dpkgState
	if !downloadOnly {
		entries, err := m.dpkgEntries(readCtx)
		if err != nil {
			return res, err
		}
		after = newDpkgState(entries)
	}
	for qi, p := range queue {
		item := &res.Items[idx[qi]]
		if downloadOnly {
			if runErr != nil {
				item.Status, item.Detail = pkgmgr.ItemFailed, failure
			} else {
				item.Status, item.Detail = pkgmgr.ItemSkipped, "downloaded, not installed"
			}
			continue
		}
		now, ok := after.lookup(p.target.Package, arch)
		switch {
		case ok && now.Version == p.target.Version && now.configured():
			item.Status = pkgmgr.ItemInstalled
		case failure != "":
			item.Status, item.Detail = pkgmgr.ItemFailed, failure
		case !ok || !now.present():
			item.Status, item.Detail = pkgmgr.ItemFailed, "apt-get succeeded but the package is no longer installed"
		default:
			item.Status, item.Detail = pkgmgr.ItemFailed, fmt.Sprintf("apt-get succeeded but dpkg shows version %s with status %q", now.Version, now.status())
		}
	}
	if !downloadOnly {
		reboot, err := m.RebootRequired(readCtx)
		if err != nil {
			return res, err
		}
		res.RebootRequired = reboot
	}
	return res, nil
}

// decide returns a skip or failure reason for a valid target against the
// installed entry, or two empty strings when apt-get should run.
func decide(cur dpkgEntry, want string, downgrade bool) (skip, fail string) {
	if cur.Version == want {
		if cur.configured() {
			return "already at version " + want, ""
		}
		return "", "" // same version but half-installed: let apt-get repair it
	}
	c, err := debversion.CompareStrings(cur.Version, want)
	if err != nil {
		return "", fmt.Sprintf("cannot compare installed version %q: %v", cur.Version, err)
	}
	switch {
	case !downgrade && c > 0:
		return fmt.Sprintf("newer version %s is installed", cur.Version), ""
	case downgrade && c < 0:
		return "", fmt.Sprintf("installed version %s is older than %s; a rollback never upgrades", cur.Version, want)
	}
	return "", ""
}

// lockTimeoutSeconds is LockTimeout, cut to the time left before the
// context deadline, and at least one second.
func (m *Manager) lockTimeoutSeconds(ctx context.Context) int {
	d := m.opts.LockTimeout
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, dl.Sub(m.opts.Now()))
	}
	return max(int(d/time.Second), 1)
}

func (m *Manager) aptOptions() []string {
	return append([]string(nil), m.opts.AptOptions...)
}

func (m *Manager) dpkgEntries(ctx context.Context) ([]dpkgEntry, error) {
	out, err := m.opts.Runner.Run(ctx, pkgmgr.Command{Path: m.opts.DpkgQuery, Args: []string{"-W", "-f=" + dpkgQueryFormat}, Env: scanEnv})
	if err != nil {
		return nil, fmt.Errorf("list dpkg packages: %w", err)
	}
	return parseDpkgQuery(out)
}

func (m *Manager) nativeArch(ctx context.Context) (string, error) {
	if m.arch != "" {
		return m.arch, nil
	}
	out, err := m.opts.Runner.Run(ctx, pkgmgr.Command{Path: m.opts.Dpkg, Args: []string{"--print-architecture"}, Env: scanEnv})
	if err != nil {
		return "", fmt.Errorf("get dpkg architecture: %w", err)
	}
	arch := strings.TrimSpace(string(out))
	if arch == "" || strings.ContainsAny(arch, " \t\n:") {
		return "", fmt.Errorf("get dpkg architecture: unexpected output %q", arch)
	}
	m.arch = arch
	return arch, nil
}

// evidence is the bounded tail of a command's stdout and, when it failed,
// its stderr.
func evidence(stdout []byte, err error) string {
	s := string(stdout)
	if exitErr, ok := errors.AsType[*pkgmgr.ExitError](err); ok && exitErr.Stderr != "" {
		s += "\n" + exitErr.Stderr
	} else if err != nil {
		s += "\n" + err.Error()
	}
	return pkgmgr.Tail(s, pkgmgr.MaxOutput)
}

// lastError is the last "E:" line apt-get printed, or the error itself; one
// line for ItemResult.Detail.
func lastError(err error) string {
	if exitErr, ok := errors.AsType[*pkgmgr.ExitError](err); ok {
		lines := strings.Split(strings.TrimSpace(exitErr.Stderr), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			if l := strings.TrimSpace(lines[i]); strings.HasPrefix(l, "E: ") {
				return strings.TrimPrefix(l, "E: ")
			}
		}
		return fmt.Sprintf("exit status %d", exitErr.ExitCode)
	}
	return err.Error()
}
