package brew

import (
	"errors"
	"os"
)

// brewPaths are Homebrew's default locations: Apple silicon, then Intel.
var brewPaths = []string{"/opt/homebrew/bin/brew", "/usr/local/bin/brew"}

func findBrew() (string, error) {
	for _, p := range brewPaths {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("homebrew not found in /opt/homebrew or /usr/local")
}
