// Package brew drives Homebrew on macOS: third-party command line tools
// (formulae) and applications (casks) that softwareupdate does not cover.
//
// Homebrew speaks JSON, so parsing is plain decoding of `brew outdated
// --json=v2` and `brew info --json=v2 --installed`, tested against output
// recorded on real machines (testdata/README.md). Two things shape the
// rest of the package.
//
// Homebrew refuses to run as root, and the agent runs as root. Every brew
// command therefore runs as the user who owns the Homebrew prefix
// (/opt/homebrew on Apple silicon, /usr/local/Homebrew on Intel), through
// `/usr/bin/sudo -u OWNER -H -- /usr/bin/env VAR=... BREW ARGS`: sudo
// drops to the owner without a password because the caller is root, -H
// gives brew the owner's home, and env carries the HOMEBREW_* settings
// past sudo's environment reset. New discovers the owner from the prefix
// directory's uid (Owner); Options.User overrides it, and an empty user
// runs brew directly (tests, or an agent already running as the owner).
// Casks whose installer needs administrator rights ask sudo for the
// owner's password and fail non-interactively; they are reported failed.
//
// Homebrew cannot install an arbitrary version: `brew upgrade NAME` always
// goes to the newest version its taps know. The backend refuses (skips) a
// target whose offered version changed since the server's scan, runs the
// upgrade, then reads the installed versions back; when the version the
// server approved is not installed afterwards the item is reported failed
// with both versions, never silently accepted.
package brew

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// Options configures New.
type Options struct {
	// Brew is the brew executable; empty means the first of
	// /opt/homebrew/bin/brew and /usr/local/bin/brew that exists.
	Brew string
	// User is the account brew runs as; empty means the owner of the
	// Homebrew prefix (see Owner). Set NoSudo to run brew directly.
	User   string
	NoSudo bool
}

// Manager is the Homebrew backend. Create it with New.
type Manager struct {
	runner pkgmgr.Runner
	brew   string
	user   string // empty: run brew directly
}

// env keeps brew quiet and non-interactive. Auto-update is off because
// Scan runs `brew update` itself, and an install must not move the
// candidate version the server approved.
var env = []string{
	"HOMEBREW_NO_AUTO_UPDATE=1",
	"HOMEBREW_NO_ANALYTICS=1",
	"HOMEBREW_NO_ENV_HINTS=1",
	"HOMEBREW_NO_INSTALLED_DEPENDENTS_CHECK=1",
	"HOMEBREW_NO_COLOR=1",
	"NONINTERACTIVE=1",
}

// New returns a Manager. It fails when no brew is found or the prefix
// owner cannot be determined, or is root (Homebrew would refuse).
func New(r pkgmgr.Runner, opts Options) (*Manager, error) {
	brew := opts.Brew
	if brew == "" {
		var err error
		if brew, err = findBrew(); err != nil {
			return nil, err
		}
	}
	m := &Manager{runner: r, brew: brew}
	if opts.NoSudo {
		return m, nil
	}
	m.user = opts.User
	if m.user == "" {
		var err error
		if m.user, err = Owner(prefixOf(brew)); err != nil {
			return nil, fmt.Errorf("homebrew owner: %w", err)
		}
	}
	if m.user == "root" {
		return nil, errors.New("homebrew prefix is owned by root; brew refuses to run as root")
	}
	if err := validateUser(m.user); err != nil {
		return nil, err
	}
	return m, nil
}

// prefixOf maps the brew executable to the directory whose owner runs
// brew: /opt/homebrew/bin/brew -> /opt/homebrew, /usr/local/bin/brew ->
// /usr/local/Homebrew (on Intel /usr/local itself belongs to root).
func prefixOf(brew string) string {
	switch {
	case strings.HasPrefix(brew, "/usr/local/"):
		return "/usr/local/Homebrew"
	case strings.HasSuffix(brew, "/bin/brew"):
		return strings.TrimSuffix(brew, "/bin/brew")
	}
	return brew
}

func validateUser(u string) error {
	if u == "" || strings.HasPrefix(u, "-") || strings.ContainsFunc(u, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-')
	}) {
		return fmt.Errorf("invalid user name %q for running brew", u)
	}
	return nil
}

// command builds the command line that runs brew with args as the owner.
func (m *Manager) command(args ...string) pkgmgr.Command {
	if m.user == "" {
		return pkgmgr.Command{Path: m.brew, Args: args, Env: env}
	}
	full := append([]string{"-u", m.user, "-H", "--", "/usr/bin/env"}, env...)
	full = append(full, m.brew)
	return pkgmgr.Command{Path: "/usr/bin/sudo", Args: append(full, args...)}
}

// Source implements pkgmgr.Manager.
func (m *Manager) Source() pkgmgr.Source { return pkgmgr.SourceBrew }

// outdatedJSON runs `brew outdated --json=v2`. Older brew exits 1 when
// something is outdated; the JSON is still on stdout.
func (m *Manager) outdatedJSON(ctx context.Context) ([]byte, error) {
	out, err := m.runner.Run(ctx, m.command("outdated", "--json=v2"))
	if err != nil {
		ee, ok := errors.AsType[*pkgmgr.ExitError](err)
		if !ok || ee.ExitCode != 1 || len(out) == 0 {
			return nil, fmt.Errorf("brew outdated: %w", err)
		}
	}
	return out, nil
}

func (m *Manager) outdated(ctx context.Context) ([]candidate, error) {
	out, err := m.outdatedJSON(ctx)
	if err != nil {
		return nil, err
	}
	return parseOutdatedCandidates(out)
}

// Scan implements pkgmgr.Manager: `brew update`, then `brew outdated
// --json=v2`. Casks that update themselves (auto_updates) are not listed,
// as brew leaves them to the application.
func (m *Manager) Scan(ctx context.Context) ([]pkgmgr.Update, error) {
	if _, err := m.runner.Run(ctx, m.command("update", "--quiet")); err != nil {
		return nil, fmt.Errorf("brew update: %w", err)
	}
	out, err := m.outdatedJSON(ctx)
	if err != nil {
		return nil, err
	}
	return parseOutdated(out)
}

// InstalledSoftware implements pkgmgr.SoftwareLister.
func (m *Manager) InstalledSoftware(ctx context.Context) ([]pkgmgr.Software, error) {
	out, err := m.runner.Run(ctx, m.command("info", "--json=v2", "--installed"))
	if err != nil {
		return nil, fmt.Errorf("brew info: %w", err)
	}
	return parseInfo(out)
}

// Install implements pkgmgr.Manager (see the package doc for how versions
// are checked). DownloadOnly runs `brew fetch` and reports items skipped
// with the detail "downloaded".
func (m *Manager) Install(ctx context.Context, req pkgmgr.InstallRequest) (pkgmgr.InstallResult, error) {
	res := pkgmgr.InstallResult{Items: []pkgmgr.ItemResult{}}
	cands, err := m.outdated(ctx)
	if err != nil {
		return res, err
	}
	var output strings.Builder
	for _, t := range req.Targets {
		item := pkgmgr.ItemResult{ID: t.ID, Package: t.Package, ToVersion: t.Version}
		c, found := pick(cands, t)
		switch {
		case validateName(t.Package) != nil:
			item.Status, item.Detail = pkgmgr.ItemFailed, validateName(t.Package).Error()
		case t.Version == "" || validateVersion(t.Version) != nil:
			item.Status, item.Detail = pkgmgr.ItemFailed, "an exact, valid version is required"
		case ctx.Err() != nil:
			item.Status, item.Detail = pkgmgr.ItemSkipped, "not started: "+ctx.Err().Error()
		case !found:
			item.Status, item.Detail = pkgmgr.ItemSkipped, "no longer outdated"
		case c.Pinned:
			item.Status, item.Detail = pkgmgr.ItemSkipped, "pinned on this machine"
		case c.Current != t.Version:
			item.Status, item.Detail = pkgmgr.ItemSkipped, fmt.Sprintf("Homebrew now offers %s, not the approved %s", c.Current, t.Version)
		default:
			item.FromVersion = c.Installed
			item.Status, item.Detail = m.upgrade(ctx, c, t.Version, req.DownloadOnly, &output)
		}
		res.Items = append(res.Items, item)
	}
	res.Output = pkgmgr.Tail(output.String(), pkgmgr.MaxOutput)
	return res, nil
}

// pick finds the candidate for t. A formula and a cask may share a name
// ("docker"); the one offering the approved version wins.
func pick(cands []candidate, t pkgmgr.Target) (candidate, bool) {
	var other candidate
	found := false
	for _, c := range cands {
		if c.Name != t.Package {
			continue
		}
		if c.Current == t.Version {
			return c, true
		}
		other, found = c, true
	}
	return other, found
}

func kindFlag(c candidate) []string {
	if c.Cask {
		return []string{"--cask"}
	}
	return []string{"--formula"}
}

func (m *Manager) upgrade(ctx context.Context, c candidate, want string, downloadOnly bool, output *strings.Builder) (pkgmgr.ItemStatus, string) {
	verb := "upgrade"
	if downloadOnly {
		verb = "fetch"
	}
	args := append(append([]string{verb}, kindFlag(c)...), c.Name)
	out, err := m.runner.Run(ctx, m.command(args...))
	output.Write(out)
	if err != nil {
		return pkgmgr.ItemFailed, err.Error()
	}
	if downloadOnly {
		return pkgmgr.ItemSkipped, "downloaded"
	}
	info, err := m.runner.Run(ctx, m.command(append(append([]string{"info", "--json=v2"}, kindFlag(c)...), c.Name)...))
	if err != nil {
		return pkgmgr.ItemFailed, fmt.Sprintf("upgrade ran but the installed version could not be read: %v", err)
	}
	have, err := installedVersions(info)
	if err != nil {
		return pkgmgr.ItemFailed, fmt.Sprintf("upgrade ran but the installed version could not be read: %v", err)
	}
	for _, v := range have {
		if v == want {
			return pkgmgr.ItemInstalled, ""
		}
	}
	return pkgmgr.ItemFailed, fmt.Sprintf("installed %s, not the approved %s (Homebrew cannot pin versions)", strings.Join(have, ", "), want)
}
