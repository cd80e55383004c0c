//go:build !linux && !windows && !darwin

package inventory

import (
	"context"
	"fmt"
	"runtime"
)

func collect(ctx context.Context, opts Options) (Host, error) {
	return Host{}, fmt.Errorf("collect inventory: %s is not supported: %w", runtime.GOOS, ErrNoOSIdentity)
}
