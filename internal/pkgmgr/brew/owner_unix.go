//go:build unix

package brew

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// Owner returns the name of the user who owns dir, the account brew must
// run as.
func Owner(dir string) (string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("owner of %s: %w", dir, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", fmt.Errorf("owner of %s: no unix file owner", dir)
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(st.Uid), 10))
	if err != nil {
		return "", fmt.Errorf("owner of %s: %w", dir, err)
	}
	return u.Username, nil
}
