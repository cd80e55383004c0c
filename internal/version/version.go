// Package version reports build metadata from the binary itself
// (runtime/debug.ReadBuildInfo), so the version printed by the CLI, served
// by the API and sent by agents is always the one that was built.
package version

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// Version is set at link time for releases (-ldflags "-X
// github.com/patchring/patchring/internal/version.Version=v1.2.3"); builds
// from a checkout report the module version or "devel".
var Version = ""

// Info describes the running binary.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
}

var get = sync.OnceValue(func() Info {
	i := Info{Version: Version, GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				i.Commit = s.Value
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
	}
	if i.Version == "" {
		i.Version = "devel"
	}
	return i
})

// Get returns the build information.
func Get() Info { return get() }

// String returns "v1.2.3" or "devel+abc1234".
func String() string {
	i := Get()
	s := i.Version
	if i.Commit != "" && s == "devel" {
		c := i.Commit
		if len(c) > 7 {
			c = c[:7]
		}
		s += "+" + c
	}
	return s
}
