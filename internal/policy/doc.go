// Package policy is the policy engine: it holds a client's findings to the
// client's patch policy. Given the policy, the catalog entry of an update,
// the asset, the client's decisions, tier overrides and exceptions, and the
// current time, it computes everything the product promises about a
// finding: its severity level and tier, whether it is an emergency, its
// approval, its SLA clock (due time and status), the exception covering it,
// the ring of its asset, the next maintenance window and, in plain words,
// why it is not patched yet.
//
// The package is pure: no I/O and no wall clock. Every function is given
// the instant it reasons about, so the server's evaluator, the API's
// read path and the tests all get the same answer for the same inputs, and
// property tests can drive it on an injected clock. Window and slot math is
// package schedule's; this package only decides which windows apply.
//
// Why the computation is redone rather than stored incrementally: every
// input (the policy, an approval, an override, an exception, the clock)
// can change the result of many findings at once, and a pure function of
// all inputs cannot drift. The server stores the results on the findings
// for filtering and reporting, and re-runs the engine after every change
// and periodically.
//
// The model, the severity mapping table, the emergency rule and the
// "why not patched" vocabulary are documented for users in docs/policy.md;
// keep the two in step.
package policy
