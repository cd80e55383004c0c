package brew

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// outdatedJSON is `brew outdated --json=v2`.
type outdatedJSON struct {
	Formulae []outdatedEntry `json:"formulae"`
	Casks    []outdatedEntry `json:"casks"`
}

type outdatedEntry struct {
	Name              string   `json:"name"`
	InstalledVersions versions `json:"installed_versions"`
	CurrentVersion    string   `json:"current_version"`
	Pinned            bool     `json:"pinned"`
	PinnedVersion     *string  `json:"pinned_version"`
}

// versions accepts both a list and, for casks before Homebrew 4.1 (2023),
// a single string.
type versions []string

func (v *versions) UnmarshalJSON(b []byte) error {
	var list []string
	if err := json.Unmarshal(b, &list); err == nil {
		*v = list
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("installed_versions is neither a list nor a string: %w", err)
	}
	*v = versions{s}
	return nil
}

// A candidate is one outdated formula or cask.
type candidate struct {
	Name      string
	Cask      bool
	Installed string
	Current   string
	Pinned    bool
}

func parseOutdatedCandidates(out []byte) ([]candidate, error) {
	var o outdatedJSON
	if err := json.Unmarshal(out, &o); err != nil {
		return nil, fmt.Errorf("parse brew outdated json: %w", err)
	}
	var cs []candidate
	add := func(e outdatedEntry, cask bool) error {
		if validateName(e.Name) != nil || validateVersion(e.CurrentVersion) != nil {
			return fmt.Errorf("parse brew outdated json: entry %q version %q fails validation", e.Name, e.CurrentVersion)
		}
		c := candidate{Name: e.Name, Cask: cask, Current: e.CurrentVersion, Pinned: e.Pinned}
		if n := len(e.InstalledVersions); n > 0 {
			c.Installed = e.InstalledVersions[n-1]
		}
		cs = append(cs, c)
		return nil
	}
	for _, e := range o.Formulae {
		if err := add(e, false); err != nil {
			return nil, err
		}
	}
	for _, e := range o.Casks {
		if err := add(e, true); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// parseOutdated turns `brew outdated --json=v2` into updates. Pinned
// formulae are left out: `brew upgrade` refuses them, and a pin is the
// machine owner's decision to hold a version.
func parseOutdated(out []byte) ([]pkgmgr.Update, error) {
	cs, err := parseOutdatedCandidates(out)
	if err != nil {
		return nil, err
	}
	ups := []pkgmgr.Update{}
	for _, c := range cs {
		if c.Pinned {
			continue
		}
		origin := "formula"
		if c.Cask {
			origin = "cask"
		}
		ups = append(ups, pkgmgr.Update{
			Source:           pkgmgr.SourceBrew,
			ID:               c.Name + "=" + c.Current,
			Package:          c.Name,
			Title:            c.Name,
			Product:          c.Name,
			InstalledVersion: c.Installed,
			AvailableVersion: c.Current,
			Classification:   pkgmgr.ClassBugfix,
			Origin:           origin,
		})
	}
	return ups, nil
}

// infoJSON is the part of `brew info --json=v2 --installed` we read.
type infoJSON struct {
	Formulae []struct {
		Name      string `json:"name"`
		FullName  string `json:"full_name"`
		Tap       string `json:"tap"`
		LinkedKeg string `json:"linked_keg"`
		Installed []struct {
			Version string `json:"version"`
			Time    int64  `json:"time"`
		} `json:"installed"`
	} `json:"formulae"`
	Casks []struct {
		Token         string   `json:"token"`
		FullToken     string   `json:"full_token"`
		Tap           string   `json:"tap"`
		Installed     versions `json:"installed"`
		InstalledTime int64    `json:"installed_time"`
	} `json:"casks"`
}

// parseInfo turns `brew info --json=v2 --installed` into software records,
// one per installed formula keg and per cask.
func parseInfo(out []byte) ([]pkgmgr.Software, error) {
	var info infoJSON
	if err := json.Unmarshal(out, &info); err != nil {
		return nil, fmt.Errorf("parse brew info json: %w", err)
	}
	sw := []pkgmgr.Software{}
	for _, f := range info.Formulae {
		name := f.FullName
		if name == "" {
			name = f.Name
		}
		for _, k := range f.Installed {
			s := pkgmgr.Software{Name: name, Version: k.Version, Vendor: f.Tap, Source: string(pkgmgr.SourceBrew)}
			if k.Time > 0 {
				s.InstallDate = time.Unix(k.Time, 0).UTC()
			}
			sw = append(sw, s)
		}
	}
	for _, c := range info.Casks {
		if len(c.Installed) == 0 {
			continue
		}
		name := c.FullToken
		if name == "" {
			name = c.Token
		}
		s := pkgmgr.Software{Name: name, Version: c.Installed[len(c.Installed)-1], Vendor: c.Tap, Source: string(pkgmgr.SourceBrew)}
		if c.InstalledTime > 0 {
			s.InstallDate = time.Unix(c.InstalledTime, 0).UTC()
		}
		sw = append(sw, s)
	}
	return sw, nil
}

// installedVersion reads `brew info --json=v2 [--cask] NAME` and returns
// the versions now installed for name.
func installedVersions(out []byte) ([]string, error) {
	var info infoJSON
	if err := json.Unmarshal(out, &info); err != nil {
		return nil, fmt.Errorf("parse brew info json: %w", err)
	}
	var vs []string
	for _, f := range info.Formulae {
		for _, k := range f.Installed {
			vs = append(vs, k.Version)
		}
	}
	for _, c := range info.Casks {
		vs = append(vs, c.Installed...)
	}
	return vs, nil
}
