package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/patchring/patchring/internal/agentapi"
	"github.com/patchring/patchring/internal/pkgmgr"
)

// hooksFile holds the hooks the server may run, by name.
const hooksFile = "hooks.json"

// LoadHooks reads hooks.json from the state directory; a missing file
// means no hooks. The file belongs to the machine's administrator: the
// server can only name a hook, never define one.
func LoadHooks(dir string) (map[string]Hook, error) {
	b, err := os.ReadFile(filepath.Join(dir, hooksFile))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]Hook{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read hooks: %w", err)
	}
	var hooks map[string]Hook
	if err := json.Unmarshal(b, &hooks); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, hooksFile), err)
	}
	for name, h := range hooks {
		if !agentapi.ValidHookName(name) {
			return nil, fmt.Errorf("%s: hook name %q must be a-z, 0-9, '-' and '_'", hooksFile, name)
		}
		if len(h.Command) == 0 || !filepath.IsAbs(h.Command[0]) {
			return nil, fmt.Errorf("%s: hook %q needs a command whose program is an absolute path", hooksFile, name)
		}
	}
	return hooks, nil
}

// runJobs verifies and runs the jobs of a check-in answer, queueing a
// result for each.
func (a *Agent) runJobs(ctx context.Context, jobs []agentapi.SignedJob) {
	for _, sj := range jobs {
		j, err := agentapi.VerifyJob(sj, a.state.pinned(), a.state.AgentID, a.serverNow())
		if err != nil {
			a.state.RefusedJobs++
			a.log.WarnContext(ctx, "refusing job", "job", agentapi.PeekJobID(sj), "err", err)
			// A job whose signature verified can be answered by its id;
			// a forged one cannot, and is only counted.
			if errors.Is(err, agentapi.ErrExpired) || errors.Is(err, agentapi.ErrJobInvalid) {
				if j.ID != "" && !a.state.executed(j.ID) {
					a.finish(ctx, j, a.refused(j, err.Error()))
				}
			}
			continue
		}
		if a.state.executed(j.ID) {
			continue // handed out again because its result is still on its way
		}
		a.log.InfoContext(ctx, "running job", "job", j.ID, "kind", j.Kind)
		a.finish(ctx, j, a.runJob(ctx, j))
	}
}

// finish queues a job's result and remembers the job as run.
func (a *Agent) finish(ctx context.Context, j agentapi.Job, r agentapi.Result) {
	if err := a.queue(ctx, r); err != nil {
		a.log.ErrorContext(ctx, "cannot queue job result", "job", j.ID, "err", err)
	}
	a.state.remember(j.ID, r.ID, a.opts.Now())
	if err := SaveState(a.opts.StateDir, a.state); err != nil {
		a.log.ErrorContext(ctx, "cannot save state", "err", err)
	}
}

func (a *Agent) refused(j agentapi.Job, why string) agentapi.Result {
	now := a.opts.Now().UTC()
	kind := j.Kind
	if kind == "" {
		kind = agentapi.JobScan
	}
	return agentapi.Result{ID: agentapi.NewID("res", now), JobID: j.ID, Kind: kind, Status: agentapi.ResultRefused,
		StartedAt: now, FinishedAt: now, Error: truncate(why, 2000)}
}

func (a *Agent) runJob(ctx context.Context, j agentapi.Job) agentapi.Result {
	switch j.Kind {
	case agentapi.JobScan:
		var p agentapi.ScanPayload
		if err := j.DecodePayload(&p); err != nil {
			return a.refused(j, err.Error())
		}
		return a.scan(ctx, p.Sources, j.ID)
	case agentapi.JobInstall:
		var p agentapi.InstallPayload
		if err := j.DecodePayload(&p); err != nil {
			return a.refused(j, err.Error())
		}
		r := a.install(ctx, j, p)
		// The result goes first (finish adds it again, a no-op), so that
		// the server records the install before the scan verifying it.
		if err := a.queue(ctx, r); err != nil {
			a.log.ErrorContext(ctx, "cannot queue install result", "job", j.ID, "err", err)
		}
		// Verify at once: the next scan is what turns "installed" into
		// a verified finding.
		if err := a.queue(ctx, a.scan(ctx, nil, "")); err != nil {
			a.log.ErrorContext(ctx, "cannot queue verification scan", "err", err)
		}
		return r
	case agentapi.JobReboot:
		var p agentapi.RebootPayload
		if err := j.DecodePayload(&p); err != nil {
			return a.refused(j, err.Error())
		}
		return a.reboot(ctx, j, p)
	case agentapi.JobHook:
		var p agentapi.HookPayload
		if err := j.DecodePayload(&p); err != nil {
			return a.refused(j, err.Error())
		}
		h, ok := a.opts.Hooks[p.Name]
		if !ok {
			return a.refused(j, fmt.Sprintf("hook %q is not configured on this machine (%s)", p.Name, hooksFile))
		}
		return a.hook(ctx, j, p.Name, h)
	}
	if r, ok := a.runRunbookJob(ctx, j); ok {
		return r
	}
	return a.refused(j, fmt.Sprintf("unknown job kind %q", j.Kind))
}

// install runs an install job with one backend, bounded by the job's
// deadline (the end of its maintenance window).
func (a *Agent) install(ctx context.Context, j agentapi.Job, p agentapi.InstallPayload) agentapi.Result {
	start := a.opts.Now().UTC()
	r := agentapi.Result{ID: "", JobID: j.ID, Kind: agentapi.JobInstall, StartedAt: start}
	var m pkgmgr.Manager
	for _, b := range a.backends(ctx, nil) {
		if string(b.Source()) == p.Source {
			m = b
		}
	}
	if m == nil {
		return a.refused(j, fmt.Sprintf("no %s backend on this machine", p.Source))
	}
	deadline := p.Deadline
	if deadline.IsZero() || deadline.After(j.ExpiresAt) {
		deadline = j.ExpiresAt
	}
	// The deadline is in server time; the machine's clock may be off.
	ictx, cancel := context.WithDeadline(ctx, deadline.Add(-a.state.ClockOffset))
	defer cancel()
	req := pkgmgr.InstallRequest{DownloadOnly: p.DownloadOnly}
	for _, t := range p.Targets {
		req.Targets = append(req.Targets, pkgmgr.Target{ID: t.ID, Package: t.Package, Version: t.Version})
	}
	res, err := m.Install(ictx, req)
	rep := &agentapi.InstallReport{Source: p.Source, RebootRequired: res.RebootRequired, Output: truncate(res.Output, 16<<10), Items: []agentapi.ItemResult{}}
	failed := 0
	for _, it := range res.Items {
		rep.Items = append(rep.Items, agentapi.ItemResult{ID: it.ID, Package: it.Package, Status: string(it.Status),
			FromVersion: it.FromVersion, ToVersion: it.ToVersion, Detail: truncate(it.Detail, 2000)})
		if it.Status == pkgmgr.ItemFailed {
			failed++
		}
	}
	r.Install = rep
	switch {
	case err != nil:
		r.Status, r.Error = agentapi.ResultFailed, truncate(err.Error(), 4000)
	case failed == len(res.Items) && failed > 0:
		r.Status = agentapi.ResultFailed
	case failed > 0:
		r.Status = agentapi.ResultPartial
	default:
		r.Status = agentapi.ResultSucceeded
	}
	r.FinishedAt = a.opts.Now().UTC()
	r.ID = agentapi.NewID("res", r.FinishedAt)
	return r
}

// reboot asks the OS to restart, after at least MinRebootDelay so that the
// result reaches the server first.
func (a *Agent) reboot(ctx context.Context, j agentapi.Job, p agentapi.RebootPayload) agentapi.Result {
	now := a.opts.Now().UTC()
	delay := max(time.Duration(p.DelaySeconds)*time.Second, MinRebootDelay)
	r := agentapi.Result{ID: agentapi.NewID("res", now), JobID: j.ID, Kind: agentapi.JobReboot, StartedAt: now}
	if err := a.opts.Reboot(ctx, delay, p.Message); err != nil {
		r.Status, r.Error = agentapi.ResultFailed, truncate(err.Error(), 4000)
	} else {
		r.Status, r.Reboot = agentapi.ResultSucceeded, &agentapi.RebootReport{ScheduledAt: now.Add(delay)}
	}
	r.FinishedAt = a.opts.Now().UTC()
	return r
}

// hookOutput bounds how much of a hook's output is kept.
const hookOutput = 8 << 10

// hook runs a configured hook; no shell is involved.
func (a *Agent) hook(ctx context.Context, j agentapi.Job, name string, h Hook) agentapi.Result {
	start := a.opts.Now().UTC()
	timeout := time.Duration(h.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(hctx, h.Command[0], h.Command[1:]...)
	cmd.Env = append(os.Environ(), "PATCHRING_JOB_ID="+j.ID, "PATCHRING_HOOK="+name, "PATCHRING_AGENT_ID="+a.state.AgentID)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	rep := &agentapi.HookReport{Name: name, ExitCode: cmd.ProcessState.ExitCode()}
	if b := out.Bytes(); len(b) > hookOutput {
		rep.Output = truncate(string(b[len(b)-hookOutput:]), hookOutput)
	} else {
		rep.Output = string(b)
	}
	r := agentapi.Result{JobID: j.ID, Kind: agentapi.JobHook, StartedAt: start, Hook: rep, Status: agentapi.ResultSucceeded}
	if err != nil {
		r.Status, r.Error = agentapi.ResultFailed, fmt.Sprintf("hook %s: %v", name, err)
	}
	r.FinishedAt = a.opts.Now().UTC()
	r.ID = agentapi.NewID("res", r.FinishedAt)
	return r
}
