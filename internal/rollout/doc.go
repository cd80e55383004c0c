// Package rollout is the rollout engine: it takes a client's approved
// updates to its assets ring by ring (canary → pilot → production) and runs
// the patching runbook on each asset — snapshot, install, reboot, verify,
// health checks, rollback — with retries, halts and tickets.
//
// The package is pure: no I/O and no wall clock. [Advance] is given one
// cycle, its deployments, the outcome of the jobs each deployment's current
// step handed out, what the server knows about each asset (agent online,
// last scan, which of its findings are still open), the client's policy
// and runbook, and the instant it reasons about. It returns the cycle's new
// state, the deployments that changed, the agent jobs to hand out, the
// tickets to raise and the evidence to append. The server stores all of
// that in one transaction, fenced by its leader lease, so a scheduler that
// lost its lease (or a cycle a person changed meanwhile) writes nothing and
// the next pass recomputes from the stored state.
//
// # Why a state machine over stored state
//
// Every input can change between two passes (an agent's result arrives, a
// window opens, a person resumes a halted cycle, the server restarts), and
// jobs are delivered at least once. Recomputing each pass from what is
// stored, rather than keeping progress in memory, means a restart loses
// nothing, a second server taking over continues exactly where the first
// stopped, and an outcome seen twice changes nothing the second time:
// outcomes are read only for the deployment's current step (Deployment.Step),
// and a step moves on only once.
//
// # Rules
//
//   - A ring starts when the previous ring was promoted: all its deployments
//     finished, its soak period passed, its failure rate stayed at or under
//     the threshold with at least the minimum sample, and the approver the
//     policy names (automatic, the MSP, the client owner) approved.
//   - A breach — more than the threshold of a ring's results failed, with at
//     least the minimum sample — halts the cycle and raises a ticket. While
//     halted nothing new starts (no snapshot, no install); what is in flight
//     finishes its runbook (reboot, verify, health, rollback), because
//     stopping an asset halfway leaves it worse. A person resumes (the
//     failures so far are waived), skips the bad update, or aborts.
//   - An attempt starts only inside one of the asset's maintenance windows
//     (its SLA cell's, in the asset's time zone) that stays open for the
//     runbook's install budget, or at the SLA due time when the runbook
//     allows deploying at the deadline. Jobs expire at the latest start
//     time, so an agent that comes back too late refuses them; an agent
//     that was offline catches up in its next window until the catch-up
//     grace runs out.
//   - Deployed is not verified: an install the agent reports is "installed";
//     only a scan finished after the install (and after the reboot, when one
//     was needed) that no longer reports the update makes it "verified".
//   - A failed attempt is retried after a backoff that doubles; after the
//     runbook's maximum attempts the deployment fails and a ticket escalates
//     it. A failed health check rolls back (previous version, or snapshot);
//     a failed rollback escalates at once. Nothing fails silently: every
//     failure is an evidence event, a ticket, or both.
//
// docs/runbook.md describes the same rules for an MSP engineer.
package rollout
