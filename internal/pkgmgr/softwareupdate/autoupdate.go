package softwareupdate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// The preference domains Software Update reads. A configuration profile
// (MDM) writes the managed one, which takes precedence and which a local
// `defaults write` cannot override.
const (
	prefsDomain   = "/Library/Preferences/com.apple.SoftwareUpdate"
	managedDomain = "/Library/Managed Preferences/com.apple.SoftwareUpdate"
)

// autoUpdateKeys are the five switches behind System Settings > General >
// Software Update > Automatic Updates, in the order the settings pane shows
// them.
var autoUpdateKeys = []string{
	"AutomaticCheckEnabled",            // check for updates
	"AutomaticDownload",                // download new updates when available
	"AutomaticallyInstallMacOSUpdates", // install macOS updates
	"ConfigDataInstall",                // install system data files (XProtect, MRT)
	"CriticalUpdateInstall",            // install security responses and system files
}

// AutoUpdateSettings is the effective state of the automatic-update
// switches. A nil value means the key is set nowhere and macOS uses its
// built-in default.
type AutoUpdateSettings struct {
	AutomaticCheckEnabled            *bool `json:"automatic_check_enabled"`
	AutomaticDownload                *bool `json:"automatic_download"`
	AutomaticallyInstallMacOSUpdates *bool `json:"automatically_install_macos_updates"`
	ConfigDataInstall                *bool `json:"config_data_install"`
	CriticalUpdateInstall            *bool `json:"critical_update_install"`
	// Managed lists the keys a configuration profile sets; EnableAutoUpdates
	// cannot change those.
	Managed []string `json:"managed,omitempty"`
}

// Enabled reports whether every switch is explicitly on. An unset key does
// not count: its default differs between macOS releases, and the service
// promise is that automatic updates are enabled, not assumed.
func (s AutoUpdateSettings) Enabled() bool {
	for _, v := range s.values() {
		if v == nil || !*v {
			return false
		}
	}
	return true
}

func (s AutoUpdateSettings) values() []*bool {
	return []*bool{s.AutomaticCheckEnabled, s.AutomaticDownload, s.AutomaticallyInstallMacOSUpdates, s.ConfigDataInstall, s.CriticalUpdateInstall}
}

func (s *AutoUpdateSettings) set(key string, v bool) {
	p := &v
	switch key {
	case "AutomaticCheckEnabled":
		s.AutomaticCheckEnabled = p
	case "AutomaticDownload":
		s.AutomaticDownload = p
	case "AutomaticallyInstallMacOSUpdates":
		s.AutomaticallyInstallMacOSUpdates = p
	case "ConfigDataInstall":
		s.ConfigDataInstall = p
	case "CriticalUpdateInstall":
		s.CriticalUpdateInstall = p
	}
}

// settingsFrom combines the local and managed domains, managed winning.
func settingsFrom(local, managed map[string]string) AutoUpdateSettings {
	var s AutoUpdateSettings
	for _, k := range autoUpdateKeys {
		if v, ok := parseBool(local[k]); ok {
			s.set(k, v)
		}
	}
	for _, k := range autoUpdateKeys {
		if v, ok := parseBool(managed[k]); ok {
			s.set(k, v)
			s.Managed = append(s.Managed, k)
		}
	}
	return s
}

func parseBool(s string) (v, ok bool) {
	switch strings.ToLower(strings.Trim(s, `"`)) {
	case "1", "true", "yes":
		return true, true
	case "0", "false", "no":
		return false, true
	}
	return false, false
}

// parseDefaults reads the top-level scalar entries of `defaults read
// DOMAIN` output, which is an old-style (NeXTSTEP) property list:
//
//	{
//	    AutomaticCheckEnabled = 1;
//	    LastAttemptSystemVersion = "10.15.7 (19H2)";
//	    PrimaryLanguages =     (
//	        en
//	    );
//	}
//
// Nested arrays and dictionaries are skipped.
func parseDefaults(out []byte) (map[string]string, error) {
	m := map[string]string{}
	s := strings.TrimSpace(string(out))
	if s == "" {
		return m, nil
	}
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return nil, fmt.Errorf("defaults output is not a dictionary: %.40q", s)
	}
	depth := 0
	for n, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		opens, closes := structuralCount(t)
		if depth == 1 && strings.HasSuffix(t, ";") {
			key, val, ok := strings.Cut(strings.TrimSuffix(t, ";"), " = ")
			if !ok {
				return nil, fmt.Errorf("defaults output line %d: %q is not \"key = value;\"", n+1, t)
			}
			m[strings.Trim(strings.TrimSpace(key), `"`)] = strings.Trim(strings.TrimSpace(val), `"`)
		}
		depth += opens - closes
		if depth < 0 {
			return nil, fmt.Errorf("defaults output line %d: unbalanced brackets", n+1)
		}
	}
	return m, nil
}

// structuralCount counts opening and closing brackets outside quotes;
// quoted values such as "10.15.7 (19H2)" contain brackets that do not nest.
func structuralCount(t string) (opens, closes int) {
	inQuote, escaped := false, false
	for _, r := range t {
		switch {
		case escaped:
			escaped = false
		case r == '\\':
			escaped = true
		case r == '"':
			inQuote = !inQuote
		case inQuote:
		case r == '{' || r == '(':
			opens++
		case r == '}' || r == ')':
			closes++
		}
	}
	return opens, closes
}

func (m *Manager) readDomain(ctx context.Context, domain string) (map[string]string, error) {
	out, err := m.runner.Run(ctx, pkgmgr.Command{Path: m.defaults, Args: []string{"read", domain}})
	if ee, ok := errors.AsType[*pkgmgr.ExitError](err); ok && ee.ExitCode == 1 {
		// defaults exits 1 when the domain does not exist: nothing set.
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", domain, err)
	}
	vals, err := parseDefaults(out)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", domain, err)
	}
	return vals, nil
}

// AutoUpdateSettings reads the effective automatic-update settings.
func (m *Manager) AutoUpdateSettings(ctx context.Context) (AutoUpdateSettings, error) {
	local, err := m.readDomain(ctx, prefsDomain)
	if err != nil {
		return AutoUpdateSettings{}, err
	}
	managed, err := m.readDomain(ctx, managedDomain)
	if err != nil {
		return AutoUpdateSettings{}, err
	}
	return settingsFrom(local, managed), nil
}

// EnableAutoUpdates turns every automatic-update switch on in the local
// preference domain ("Enable automatic updates on Mac OS, once per
// machine"). It returns an error naming the switches a configuration
// profile keeps off, which only the MDM can change.
func (m *Manager) EnableAutoUpdates(ctx context.Context) error {
	for _, k := range autoUpdateKeys {
		cmd := pkgmgr.Command{Path: m.defaults, Args: []string{"write", prefsDomain, k, "-bool", "true"}}
		if _, err := m.runner.Run(ctx, cmd); err != nil {
			return fmt.Errorf("enable %s: %w", k, err)
		}
	}
	s, err := m.AutoUpdateSettings(ctx)
	if err != nil {
		return fmt.Errorf("verify automatic updates: %w", err)
	}
	if !s.Enabled() {
		return fmt.Errorf("automatic updates still off after enabling; managed by a configuration profile: %s", strings.Join(s.Managed, ", "))
	}
	return nil
}
