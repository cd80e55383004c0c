//go:build !unix

package brew

import "errors"

// Owner returns the name of the user who owns dir. Homebrew runs only on
// macOS and Linux; elsewhere this always fails.
func Owner(dir string) (string, error) {
	return "", errors.New("homebrew is not supported on this operating system")
}
