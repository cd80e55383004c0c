package dnf

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// Options configure a Manager. The zero value drives the host's real dnf.
type Options struct {
	// Runner runs commands; nil means pkgmgr.ExecRunner{}.
	Runner pkgmgr.Runner
	// Dnf and RPM are the programs run; empty means "dnf" and "rpm" from
	// PATH. Dnf may be "yum" on hosts where yum is dnf.
	Dnf, RPM string
	// DnfOptions are passed to every dnf call before the subcommand, e.g.
	// {"--installroot=/mnt/sysimage"} or {"--setopt=reposdir=/etc/patchring/repos"}.
	// They come from the agent's configuration, never from the server.
	DnfOptions []string
	// SkipRefresh stops Scan from forcing a metadata refresh (--refresh);
	// dnf still refreshes metadata that has expired.
	SkipRefresh bool
	// Product is copied into every Update ("Rocky Linux 9").
	Product string
}

// Manager drives dnf and rpm. It is not safe for concurrent use; the agent
// runs one operation at a time.
type Manager struct {
	opts Options
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
	if opts.Dnf == "" {
		opts.Dnf = "dnf"
	}
	if opts.RPM == "" {
		opts.RPM = "rpm"
	}
	return &Manager{opts: opts}
}

// Source returns pkgmgr.SourceDnf.
func (m *Manager) Source() pkgmgr.Source { return pkgmgr.SourceDnf }

var env = []string{"LC_ALL=C"}

func (m *Manager) dnf(ctx context.Context, args ...string) ([]byte, error) {
	full := append(append([]string(nil), m.opts.DnfOptions...), args...)
	return m.opts.Runner.Run(ctx, pkgmgr.Command{Path: m.opts.Dnf, Args: full, Env: env})
}

// Scan lists the packages with newer versions and attaches their
// advisories. check-update exits 100 when updates exist; that is success.
func (m *Manager) Scan(ctx context.Context) ([]pkgmgr.Update, error) {
	args := []string{"-q", "check-update"}
	if !m.opts.SkipRefresh {
		args = []string{"-q", "--refresh", "check-update"}
	}
	out, err := m.dnf(ctx, args...)
	if exitErr, ok := errors.AsType[*pkgmgr.ExitError](err); ok && exitErr.ExitCode == 100 {
		out, err = exitErr.Stdout, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dnf check-update: %w", err)
	}
	avail, err := parseCheckUpdate(out)
	if err != nil {
		return nil, err
	}
	if len(avail) == 0 {
		return []pkgmgr.Update{}, nil
	}
	out, err = m.dnf(ctx, "-q", "updateinfo", "list", "--updates")
	if err != nil {
		return nil, fmt.Errorf("dnf updateinfo list: %w", err)
	}
	list, err := parseUpdateinfoList(out)
	if err != nil {
		return nil, err
	}
	infos := map[string]advisory{}
	if len(list) > 0 {
		out, err = m.dnf(ctx, "-q", "updateinfo", "info", "--updates")
		if err != nil {
			return nil, fmt.Errorf("dnf updateinfo info: %w", err)
		}
		if infos, err = parseUpdateinfoInfo(out); err != nil {
			return nil, err
		}
	}
	entries, err := m.rpmEntries(ctx)
	if err != nil {
		return nil, err
	}
	return merge(avail, list, infos, newRPMState(entries), m.opts.Product), nil
}

// InstalledSoftware lists the installed rpm packages.
func (m *Manager) InstalledSoftware(ctx context.Context) ([]pkgmgr.Software, error) {
	entries, err := m.rpmEntries(ctx)
	if err != nil {
		return nil, err
	}
	return rpmSoftware(entries), nil
}

// RebootRequired runs `dnf needs-restarting -r`, which exits 1 and explains
// itself on standard output when a reboot is needed, and exits 0 when not.
// An exit 1 with nothing on standard output is dnf failing (the plugin is
// missing, say), reported as an error rather than as a reboot.
func (m *Manager) RebootRequired(ctx context.Context) (bool, error) {
	_, err := m.dnf(ctx, "-q", "needs-restarting", "-r")
	if err == nil {
		return false, nil
	}
	if exitErr, ok := errors.AsType[*pkgmgr.ExitError](err); ok && exitErr.ExitCode == 1 && len(exitErr.Stdout) > 0 {
		return true, nil
	}
	return false, fmt.Errorf("dnf needs-restarting: %w", err)
}

// Install installs exactly the requested builds with `dnf install`.
func (m *Manager) Install(ctx context.Context, req pkgmgr.InstallRequest) (pkgmgr.InstallResult, error) {
	return m.apply(ctx, req.Targets, false, req.DownloadOnly)
}

// Rollback returns packages to older builds with `dnf downgrade`. A target
// newer than what is installed fails: a rollback never upgrades.
func (m *Manager) Rollback(ctx context.Context, req pkgmgr.RollbackRequest) (pkgmgr.InstallResult, error) {
	return m.apply(ctx, req.Targets, true, false)
}

func (m *Manager) apply(ctx context.Context, targets []pkgmgr.Target, downgrade, downloadOnly bool) (pkgmgr.InstallResult, error) {
	op := "install"
	if downgrade {
		op = "downgrade"
	}
	if err := ctx.Err(); err != nil {
		return pkgmgr.InstallResult{}, fmt.Errorf("dnf %s: %w", op, err)
	}
	entries, err := m.rpmEntries(ctx)
	if err != nil {
		return pkgmgr.InstallResult{}, err
	}
	before := newRPMState(entries)

	var res pkgmgr.InstallResult
	type queued struct {
		item int
		want nevra
	}
	var queue []queued
	for _, t := range targets {
		item := pkgmgr.ItemResult{ID: t.ID, Package: t.Package, ToVersion: t.Version}
		want, err := parseTarget(t)
		if err != nil {
			item.Status, item.Detail = pkgmgr.ItemFailed, err.Error()
			res.Items = append(res.Items, item)
			continue
		}
		cur, ok := before.newest(want.key())
		if !ok {
			item.Status, item.Detail = pkgmgr.ItemSkipped, "not installed"
			res.Items = append(res.Items, item)
			continue
		}
		item.FromVersion = cur.String()
		c := cur.compare(want.EVR)
		switch {
		case cur.equal(want.EVR) || (!downgrade && before.has(want.key(), want.EVR)):
			item.Status, item.Detail = pkgmgr.ItemSkipped, "already at version "+want.EVR.String()
		case !downgrade && c > 0:
			item.Status, item.Detail = pkgmgr.ItemSkipped, "newer version "+cur.String()+" is installed"
		case downgrade && c < 0:
			item.Status, item.Detail = pkgmgr.ItemFailed, fmt.Sprintf("installed version %s is older than %s; a rollback never upgrades", cur, want.EVR)
		default:
			queue = append(queue, queued{item: len(res.Items), want: want})
		}
		res.Items = append(res.Items, item)
	}
	if len(queue) == 0 {
		return res, nil
	}

	args := []string{"-y", op}
	if downloadOnly {
		args = append(args, "--downloadonly")
	}
	// No "--" before the specs: dnf5's parser is not known to accept it.
	// parseTarget is the guard: no part of a spec can start with '-'.
	for _, q := range queue {
		args = append(args, q.want.spec())
	}
	out, runErr := m.dnf(ctx, args...)
	res.Output = evidence(out, runErr)
	if _, exited := errors.AsType[*pkgmgr.ExitError](runErr); runErr != nil && !exited && ctx.Err() == nil {
		for _, q := range queue {
			res.Items[q.item].Status, res.Items[q.item].Detail = pkgmgr.ItemFailed, "dnf could not be started"
		}
		return res, fmt.Errorf("dnf %s: %w", op, runErr)
	}

	readCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	var after rpmState
	if !downloadOnly {
		entries, err := m.rpmEntries(readCtx)
		if err != nil {
			return res, err
		}
		after = newRPMState(entries)
	}
	for _, q := range queue {
		item := &res.Items[q.item]
		switch {
		case downloadOnly && runErr == nil:
			item.Status, item.Detail = pkgmgr.ItemSkipped, "downloaded, not installed"
		case !downloadOnly && after.has(q.want.key(), q.want.EVR):
			item.Status = pkgmgr.ItemInstalled
		case runErr != nil:
			item.Status, item.Detail = pkgmgr.ItemFailed, "dnf failed: "+lastLine(runErr)
		default:
			now, _ := after.newest(q.want.key())
			item.Status, item.Detail = pkgmgr.ItemFailed, fmt.Sprintf("dnf succeeded but rpm shows version %s", now)
		}
	}
	if !downloadOnly {
		reboot, err := m.RebootRequired(readCtx)
		if err != nil {
			// A host without needs-restarting still installed the
			// packages; say so in the evidence rather than failing.
			res.Output = pkgmgr.Tail(res.Output+"\nreboot check: "+err.Error(), pkgmgr.MaxOutput)
		}
		res.RebootRequired = reboot
	}
	return res, nil
}

// parseTarget validates a target: Package "name.arch", Version
// "[epoch:]version-release".
func parseTarget(t pkgmgr.Target) (nevra, error) {
	name, arch, err := splitNameArch(t.Package)
	if err != nil {
		return nevra{}, fmt.Errorf("invalid package: %w", err)
	}
	if t.Version == "" {
		return nevra{}, fmt.Errorf("no version for %s: dnf installs only exact pinned versions", t.Package)
	}
	e, err := parseEVR(t.Version)
	if err != nil {
		return nevra{}, fmt.Errorf("version for %s: %w", t.Package, err)
	}
	return nevra{Name: name, Arch: arch, EVR: e}, nil
}

func (m *Manager) rpmEntries(ctx context.Context) ([]rpmEntry, error) {
	out, err := m.opts.Runner.Run(ctx, pkgmgr.Command{Path: m.opts.RPM, Args: []string{"-qa", "--queryformat", rpmQueryFormat}, Env: env})
	if err != nil {
		return nil, fmt.Errorf("list rpm packages: %w", err)
	}
	return parseRPMQuery(out)
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

// lastLine is the last non-empty line of a failed command's standard error,
// or the error itself; one line for ItemResult.Detail.
func lastLine(err error) string {
	if exitErr, ok := errors.AsType[*pkgmgr.ExitError](err); ok {
		lines := strings.Split(strings.TrimSpace(exitErr.Stderr), "\n")
		if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
			return l
		}
		return fmt.Sprintf("exit status %d", exitErr.ExitCode)
	}
	return err.Error()
}
