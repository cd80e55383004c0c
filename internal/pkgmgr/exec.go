package pkgmgr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// MaxOutput bounds how much command output a backend keeps in memory and
// in results. Package tools can be chatty; evidence needs the tail.
const MaxOutput = 64 << 10

// Runner runs one command and returns its standard output. Backends take a
// Runner so that tests can replay recorded output without the real tool.
type Runner interface {
	Run(ctx context.Context, cmd Command) (stdout []byte, err error)
}

// Command is a command line built by a backend, never by the server.
type Command struct {
	Path string
	Args []string
	// Env is appended to the agent's environment (e.g. DEBIAN_FRONTEND=noninteractive).
	Env []string
	// Dir is the working directory; empty means the agent's.
	Dir string
}

func (c Command) String() string {
	return strings.Join(append([]string{c.Path}, c.Args...), " ")
}

// ExitError reports a command that ran and exited unsuccessfully. Stderr holds
// the tail of its standard error for the evidence log.
type ExitError struct {
	Command  string
	ExitCode int
	Stdout   []byte
	Stderr   string
}

func (e *ExitError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = strings.TrimSpace(tail(string(e.Stdout), 2048))
	}
	return fmt.Sprintf("%s: exit status %d: %s", e.Command, e.ExitCode, msg)
}

// ExecRunner runs commands with os/exec.
type ExecRunner struct{}

// Run runs cmd, killing it when ctx is done. A non-zero exit gives an
// *ExitError carrying the bounded stdout and stderr.
func (ExecRunner) Run(ctx context.Context, c Command) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Dir = c.Dir
	if len(c.Env) > 0 {
		cmd.Env = append(cmd.Environ(), c.Env...)
	}
	var stdout, stderr boundedBuffer
	stdout.limit, stderr.limit = 32<<20, MaxOutput
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctxErr := ctx.Err(); ctxErr != nil && err != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %w", c, ctxErr)
	}
	if exitErr, ok := errors.AsType[*exec.ExitError](err); ok {
		return stdout.Bytes(), &ExitError{Command: c.String(), ExitCode: exitErr.ExitCode(), Stdout: stdout.Bytes(), Stderr: tail(stderr.String(), MaxOutput)}
	}
	if err != nil {
		return stdout.Bytes(), fmt.Errorf("run %s: %w", c, err)
	}
	return stdout.Bytes(), nil
}

// Tail returns at most the last n bytes of s, cut at a line start where one
// is near, for keeping bounded command output as evidence.
func Tail(s string, n int) string { return tail(s, n) }

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < 200 {
		s = s[i+1:]
	}
	return s
}

// boundedBuffer keeps the first limit bytes written and discards the rest
// (for stdout, where parsers need the head) — see tail for stderr.
type boundedBuffer struct {
	bytes.Buffer
	limit     int
	truncated bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.Len(); room < len(p) {
		b.truncated = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
