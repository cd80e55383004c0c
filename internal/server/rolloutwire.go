package server

import (
	"encoding/json"
	"fmt"

	"github.com/patchring/patchring/internal/agentapi"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/rollout"
)

// Conversions between the rollout engine's terms and the agent protocol:
// job requests become signed-job payloads, agents' results become
// outcomes. The engine is pure and does not know the wire.

// agentJob turns a job request into the agent job the store hands out.
func agentJob(c *patch.Cycle, r rollout.JobRequest) (patch.AgentJob, error) {
	var (
		kind    agentapi.JobKind
		payload any
	)
	switch {
	case r.Install != nil:
		kind = agentapi.JobInstall
		p := agentapi.InstallPayload{Source: string(r.Source), Deadline: r.Deadline.UTC()}
		for _, t := range r.Install {
			p.Targets = append(p.Targets, agentapi.Target{ID: t.ID, Package: t.Package, Version: t.Version})
		}
		payload = p
	case r.Rollback != nil:
		kind = agentapi.JobRollback
		p := agentapi.RollbackPayload{Source: string(r.Source)}
		for _, t := range r.Rollback {
			p.Targets = append(p.Targets, agentapi.Target{ID: t.ID, Package: t.Package, Version: t.Version})
		}
		payload = p
	case r.Hook != "":
		kind, payload = agentapi.JobHook, agentapi.HookPayload{Name: r.Hook}
	case r.Reboot != nil:
		kind, payload = agentapi.JobReboot, agentapi.RebootPayload{DelaySeconds: r.Reboot.DelaySeconds, Message: r.Reboot.Message}
	case r.Health != nil:
		kind = agentapi.JobHealth
		p := agentapi.HealthPayload{}
		for _, h := range r.Health {
			p.Checks = append(p.Checks, agentapi.HealthCheck{Name: h.Name, Kind: string(h.Kind), Host: h.Host, Port: h.Port, URL: h.URL,
				ExpectStatus: h.ExpectStatus, Service: h.Service, Path: h.Path, Hook: h.Hook, TimeoutSeconds: h.TimeoutSeconds})
		}
		payload = p
	case r.Scan:
		kind, payload = agentapi.JobScan, agentapi.ScanPayload{}
	default:
		return patch.AgentJob{}, fmt.Errorf("job request %s of step %s has no action", r.ID, r.Step)
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return patch.AgentJob{}, fmt.Errorf("encode %s payload: %w", kind, err)
	}
	j := patch.AgentJob{ID: patch.AgentJobID(r.ID), ClientID: c.ClientID, AssetID: r.AssetID, AgentID: r.AgentID, Kind: string(kind),
		Payload: raw, ExpiresAt: r.ExpiresAt, CreatedBy: schedulerName}
	// Check now what the agent will check: a job the protocol cannot
	// express must fail the scheduler's pass, not the agent's check-in.
	if _, err := agentapi.NewJob(r.ID, string(r.AgentID), kind, payload, r.ExpiresAt.Add(-1), r.ExpiresAt); err != nil {
		return patch.AgentJob{}, fmt.Errorf("job %s: %w", r.ID, err)
	}
	return j, nil
}

// outcome reads a rollout job's result document (an agent's result).
func outcome(j *patch.RolloutJob) *rollout.Outcome {
	if len(j.Result) == 0 || j.Webhook {
		return nil
	}
	var r agentapi.Result
	if err := json.Unmarshal(j.Result, &r); err != nil {
		return &rollout.Outcome{Status: string(agentapi.ResultFailed), Error: "the agent's result could not be read: " + err.Error(), FinishedAt: j.ResultAt}
	}
	o := &rollout.Outcome{Status: string(r.Status), Error: r.Error, FinishedAt: r.FinishedAt}
	install := r.Install
	if r.Rollback != nil {
		install = r.Rollback
	}
	if install != nil {
		o.RebootRequired, o.Output = install.RebootRequired, install.Output
		for _, it := range install.Items {
			o.Items = append(o.Items, rollout.Item{ID: it.ID, Package: it.Package, Status: it.Status, FromVersion: it.FromVersion, ToVersion: it.ToVersion, Detail: it.Detail})
		}
	}
	if r.Reboot != nil {
		o.RebootAt = r.Reboot.ScheduledAt
	}
	if r.Hook != nil {
		o.Output = r.Hook.Output
	}
	if r.Health != nil {
		for _, c := range r.Health.Checks {
			o.Checks = append(o.Checks, rollout.CheckResult{Name: c.Name, OK: c.OK, Detail: c.Detail})
		}
	}
	return o
}

// scanRebootRequired reads what a scan result said about a pending
// restart (nil when it could not tell).
func scanRebootRequired(doc json.RawMessage) *bool {
	var r agentapi.Result
	if json.Unmarshal(doc, &r) != nil || r.Scan == nil {
		return nil
	}
	return r.Scan.RebootRequired
}
