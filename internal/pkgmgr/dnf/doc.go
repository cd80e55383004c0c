// Package dnf is the Red Hat family backend of the Patchring agent (RHEL,
// Rocky, AlmaLinux, Oracle Linux, CentOS Stream, Fedora): it finds missing
// updates and their advisories with dnf, installs and downgrades exact
// package versions, lists installed packages with rpm and asks
// needs-restarting whether the host must reboot.
//
// # Why it is shaped this way
//
// A scan joins three commands, because no single dnf4 command gives both the
// exact candidate versions and the advisory metadata:
//
//   - `dnf check-update` lists every package with a newer version (exit code
//     100 means "updates available", not failure). It is the list of updates:
//     one per name.arch, at the version `dnf upgrade` would install.
//   - `dnf updateinfo list --updates` maps advisories to the packages they
//     fix. An advisory often names an older build than the newest candidate
//     (a later bug-fix build supersedes the security build), so advisories
//     are joined to updates by name and architecture, never by version: the
//     newest candidate contains every fix of the older builds.
//   - `dnf updateinfo info --updates` gives each advisory's title, severity,
//     CVEs and date.
//
// When a package has several advisories (a kernel typically has one per
// build), the update carries the most important one (security over bug fix
// over enhancement, then higher severity, then newer) in Advisory,
// VendorSeverity and ReleaseDate, and the CVEs of all of them. A package no
// advisory mentions is ClassUnclassified: repositories without updateinfo
// (CentOS Stream, most third-party repositories) say nothing about why a
// package changed, and guessing would mislabel security fixes as routine.
//
// The parsers read both dnf4 output and dnf5's (Fedora 41 and later, where
// `updateinfo` is an alias of `advisory` and the list is a table with a
// header row); the same command lines work on both. The `--json` output of
// dnf5 was not used because the dnf4 that RHEL 8 and 9 ship has none, and one
// text path for both keeps the backend to a single set of commands.
//
// Update.Package is "name.arch" and Update.ID "name.arch=[epoch:]version-release",
// so that the two architectures of a multilib package are two updates.
// Install and Rollback turn a target into the NEVRA "name-[epoch:]version-release.arch"
// after a strict check of every part, and read rpm's database afterwards to
// report what is really installed. Rollback is `dnf downgrade` and needs the
// older build to still be in a repository.
//
// Recorded outputs from real systems (and from dnf's own test suite) are in
// testdata/, with their provenance in testdata/README.md; dnf cannot run on
// the Debian machines that build Patchring.
package dnf
