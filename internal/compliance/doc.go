// Package compliance computes the Patch Health Compliance rating, the
// operational metrics of the internal scorecard and the UPDATES monitors,
// from plain facts. It is pure: no I/O and no wall clock; every function
// is given the instant it reasons about. The server loads the facts
// (assets, findings with the SLA evaluator's fields, scan status,
// exceptions, install results) and stores what comes out (snapshots,
// monitor states, alerts).
//
// The rating is documented for users in docs/compliance.md with a worked
// example; keep the two in step. In short, at an instant T:
//
//   - A finding counts as installed when a scan verified it installed by
//     T, its due time (plus grace) is at or before T, and either its due
//     time or its installation falls in the window (30 days) before T.
//   - It counts as missing when it is approved, its due time (plus grace)
//     has passed, and it is not installed at T.
//   - Missing findings under an active exception (whatever their paused
//     due time), and past-due missing findings that are emergency updates
//     or not approved, are excluded from the rating and counted beside it;
//     the strict rating counts them as missing. An installed update always
//     counts: only failures can be excluded, so exclusions never create
//     credit, and the strict rating never exceeds the rating.
//   - An asset's rating is installed / (installed + missing), or 100 %
//     when it owes nothing. A group's rating is the mean of its rated
//     assets' ratings ("on average", as the service description says), and
//     its target is the mean of their class targets.
//   - Only managed assets with at least one successful scan are rated.
//     Every other asset, and every rated asset with a stale or failing
//     scan or an unsupported OS, is a coverage gap reported beside the
//     rating.
//
// Why ratings are fixed-point integers (Score): an Index keeps per-asset
// summaries and per-group sums so that a check-in updates one asset and
// the rollups in O(groups). Integer sums make such incremental updates
// exactly equal to a full recomputation, so the two can be compared in
// tests and never drift.
package compliance
