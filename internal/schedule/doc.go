// Package schedule is the maintenance-window and schedule math of Patchring:
// when a client's recurring windows open and close, whether a job fits before
// a window closes, and when a weekly slot such as the reboot slot "Sunday
// 02:00" comes round. It is pure: no I/O, no wall clock; every function is
// given the instant it reasons about, so the rollout engine, the policy API
// and the agent can all run it on an injected clock.
//
// # Shape
//
// A [Window] is a declarative spec, stored and exchanged as JSON or YAML with
// stable snake_case names, and checked by [Window.Validate], which reports
// every problem as a [FieldError] carrying the field's path so that the
// policy API and "policy apply" can point at the offending line. Its
// recurrence is one of weekly days, the nth weekday of the month plus an
// offset ("second Tuesday + 5 days", "last Friday"), a day of the month, or
// an RFC 5545 RRULE (evaluated with github.com/teambition/rrule-go).
//
// Occurrence math is done by a [Calendar]: the windows of one asset compiled
// once. Occurrences that overlap or touch, of one window or several, are
// merged into one block, because what a job needs to know is how long the
// asset stays inside some window. Window's own methods (Next, Contains,
// Occurrences, Fits, NextFit) are conveniences that build a one-window
// Calendar per call. Times with no zone of their own take the site's zone,
// which is why every entry point takes a fallback *time.Location.
//
// Recurrences produce civil (wall-clock) date-times first, in UTC where
// calendar arithmetic is exact; only then is each converted to an instant in
// the window's zone. RRULEs run the same way (DTSTART is a local time in the
// window's zone), so all recurrence kinds share one set of DST rules.
//
// # Time zones and DST
//
// Windows live on the local wall clock, because what a window protects is
// local business hours. The rules, tested in zones east and west of UTC,
// north and south, and with 30-minute shifts (Australia/Lord_Howe):
//
//   - A start time that does not exist (the hour skipped when clocks spring
//     forward) opens the window at the end of the gap: "Sunday 02:00" in
//     America/New_York opens at 03:00 EDT on the spring-forward day. In
//     general a wall-clock time means the first instant at which the local
//     clock reads that time or later.
//   - A start time that happens twice (the hour repeated when clocks fall
//     back) opens the window at its first occurrence, in daylight time.
//   - Duration is wall-clock: a window from 22:00 for 4h closes at 02:00
//     local time every night, so it is an hour shorter on spring-forward
//     night and an hour longer on fall-back night. The end is resolved with
//     the same rule as the start (a repeated end time is its first
//     occurrence).
//   - If a gap swallows the whole window, or all but a few minutes of it (a
//     window of 02:00–02:45 on the night 02:00 becomes 03:00), the window
//     still opens at the end of the gap and stays open MinDuration (15
//     minutes), so no DST night ever silently drops a window.
//
// Go's time.Date is not used for these conversions: inside a gap or an
// overlap its choice depends on the zone's offset direction.
//
// # Calendar rules
//
// A day of the month that a month lacks falls on the month's last day (day
// 31 runs on April 30 and February 28, or 29 in leap years). RRULEs follow
// RFC 5545 instead, where BYMONTHDAY=31 skips short months. Blackout dates
// and effective dates are compared with the date on which an occurrence is
// scheduled to start, in the window's zone; a blackout stops occurrences
// from starting but does not cut one that started before it. All intervals
// are half-open: [Start, End).
package schedule
