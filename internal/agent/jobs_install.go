package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/patchring/patchring/internal/agentapi"
	"github.com/patchring/patchring/internal/pkgmgr"
)

// The runbook jobs of protocol 2: health checks after patching and
// rollback to the previous versions. Checks are typed: the server names a
// port, a URL, a service or a file, or a hook the machine's administrator
// configured in hooks.json — never a command line.

// DefaultCheckTimeout bounds a health check without a timeout of its own.
const DefaultCheckTimeout = 10 * time.Second

// runRunbookJob runs a health or rollback job; ok is false for other kinds.
func (a *Agent) runRunbookJob(ctx context.Context, j agentapi.Job) (agentapi.Result, bool) {
	switch j.Kind {
	case agentapi.JobHealth:
		var p agentapi.HealthPayload
		if err := j.DecodePayload(&p); err != nil {
			return a.refused(j, err.Error()), true
		}
		return a.health(ctx, j, p), true
	case agentapi.JobRollback:
		var p agentapi.RollbackPayload
		if err := j.DecodePayload(&p); err != nil {
			return a.refused(j, err.Error()), true
		}
		r := a.rollback(ctx, j, p)
		if err := a.queue(ctx, r); err != nil { // before the scan (see JobInstall)
			a.log.ErrorContext(ctx, "cannot queue rollback result", "job", j.ID, "err", err)
		}
		// A scan shows what the machine has now: the rolled-back update
		// is missing again.
		if err := a.queue(ctx, a.scan(ctx, nil, "")); err != nil {
			a.log.ErrorContext(ctx, "cannot queue the scan after a rollback", "err", err)
		}
		return r, true
	}
	return agentapi.Result{}, false
}

// health runs every check; the job fails when one does.
func (a *Agent) health(ctx context.Context, j agentapi.Job, p agentapi.HealthPayload) agentapi.Result {
	start := a.opts.Now().UTC()
	rep := &agentapi.HealthReport{Checks: []agentapi.CheckResult{}}
	failed := 0
	for _, c := range p.Checks {
		t0 := time.Now()
		detail, err := a.check(ctx, j, c)
		cr := agentapi.CheckResult{Name: c.Name, OK: err == nil, Detail: truncate(detail, 1000), DurationMS: time.Since(t0).Milliseconds()}
		if err != nil {
			cr.Detail = truncate(err.Error(), 1000)
			failed++
		}
		rep.Checks = append(rep.Checks, cr)
	}
	r := agentapi.Result{JobID: j.ID, Kind: agentapi.JobHealth, StartedAt: start, Health: rep, Status: agentapi.ResultSucceeded}
	if failed > 0 {
		r.Status, r.Error = agentapi.ResultFailed, fmt.Sprintf("%d of %d health checks failed", failed, len(p.Checks))
	}
	r.FinishedAt = a.opts.Now().UTC()
	r.ID = agentapi.NewID("res", r.FinishedAt)
	return r
}

// check runs one check, returning what it saw or why it failed.
func (a *Agent) check(ctx context.Context, j agentapi.Job, c agentapi.HealthCheck) (string, error) {
	timeout := time.Duration(c.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch c.Kind {
	case agentapi.CheckTCP:
		addr := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return "", fmt.Errorf("connect to %s: %w", addr, err)
		}
		conn.Close()
		return "connected to " + addr, nil
	case agentapi.CheckHTTP:
		want := c.ExpectStatus
		if want == 0 {
			want = http.StatusOK
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
		if err != nil {
			return "", fmt.Errorf("request %s: %w", c.URL, err)
		}
		req.Header.Set("User-Agent", "patchring-agent health check")
		// The status the URL itself answers: redirects are not followed.
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			return "", fmt.Errorf("GET %s: %w", c.URL, err)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode != want {
			return "", fmt.Errorf("GET %s answered %d, want %d", c.URL, resp.StatusCode, want)
		}
		return fmt.Sprintf("GET %s answered %d", c.URL, resp.StatusCode), nil
	case agentapi.CheckService:
		return serviceRunning(ctx, c.Service)
	case agentapi.CheckFile:
		f, err := os.Open(c.Path)
		if err != nil {
			return "", fmt.Errorf("open %s: %w", c.Path, err)
		}
		defer f.Close()
		n, err := f.Read(make([]byte, 4096))
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read %s: %w", c.Path, err)
		}
		return fmt.Sprintf("read %d bytes of %s", n, c.Path), nil
	case agentapi.CheckCommand:
		h, ok := a.opts.Hooks[c.Hook]
		if !ok {
			return "", fmt.Errorf("hook %q is not configured on this machine (%s)", c.Hook, hooksFile)
		}
		r := a.hook(ctx, j, c.Hook, h)
		if r.Status != agentapi.ResultSucceeded {
			return "", fmt.Errorf("hook %s exited %d: %s", c.Hook, r.Hook.ExitCode, truncate(r.Hook.Output, 500))
		}
		return truncate(r.Hook.Output, 500), nil
	}
	return "", fmt.Errorf("unknown check kind %q", c.Kind)
}

// rollback returns packages to earlier versions with the backend's
// Rollbacker.
func (a *Agent) rollback(ctx context.Context, j agentapi.Job, p agentapi.RollbackPayload) agentapi.Result {
	start := a.opts.Now().UTC()
	var m pkgmgr.Manager
	for _, b := range a.backends(ctx, nil) {
		if string(b.Source()) == p.Source {
			m = b
		}
	}
	if m == nil {
		return a.refused(j, fmt.Sprintf("no %s backend on this machine", p.Source))
	}
	rb, ok := m.(pkgmgr.Rollbacker)
	if !ok {
		return a.refused(j, fmt.Sprintf("the %s backend cannot roll back", p.Source))
	}
	rctx, cancel := context.WithDeadline(ctx, j.ExpiresAt.Add(-a.state.ClockOffset).Add(time.Hour))
	defer cancel()
	req := pkgmgr.RollbackRequest{}
	for _, t := range p.Targets {
		req.Targets = append(req.Targets, pkgmgr.Target{ID: t.ID, Package: t.Package, Version: t.Version})
	}
	res, err := rb.Rollback(rctx, req)
	rep := &agentapi.InstallReport{Source: p.Source, RebootRequired: res.RebootRequired, Output: truncate(res.Output, 16<<10), Items: []agentapi.ItemResult{}}
	failed := 0
	for _, it := range res.Items {
		rep.Items = append(rep.Items, agentapi.ItemResult{ID: it.ID, Package: it.Package, Status: string(it.Status),
			FromVersion: it.FromVersion, ToVersion: it.ToVersion, Detail: truncate(it.Detail, 2000)})
		if it.Status == pkgmgr.ItemFailed {
			failed++
		}
	}
	r := agentapi.Result{JobID: j.ID, Kind: agentapi.JobRollback, StartedAt: start, Rollback: rep}
	switch {
	case err != nil:
		r.Status, r.Error = agentapi.ResultFailed, truncate(err.Error(), 4000)
	case failed == len(res.Items) && failed > 0:
		r.Status, r.Error = agentapi.ResultFailed, "every target failed to roll back"
	case failed > 0:
		r.Status = agentapi.ResultPartial
	default:
		r.Status = agentapi.ResultSucceeded
	}
	r.FinishedAt = a.opts.Now().UTC()
	r.ID = agentapi.NewID("res", r.FinishedAt)
	return r
}
