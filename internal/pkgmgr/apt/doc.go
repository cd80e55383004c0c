// Package apt is the Debian and Ubuntu backend of the Patchring agent: it
// finds missing updates with apt-get, installs and rolls back exact package
// versions, lists installed packages with dpkg-query and reports a pending
// reboot.
//
// # Why it is shaped this way
//
// Scanning uses `apt-get -s dist-upgrade` rather than `apt list
// --upgradable` or `apt-get -s upgrade`. The "Inst" lines of a simulation
// are apt's stable machine-readable format (apt(8) warns that its own output
// is not), they carry the installed version, the candidate version, every
// archive that offers it and the architecture, and dist-upgrade includes
// updates that need new dependencies (kernel meta-packages, library
// transitions) which plain upgrade holds back and would hide from a
// compliance report. Nothing is removed or installed by a scan: the
// simulation runs with Debug::NoLocking so that it never waits for, or
// blocks, unattended-upgrades.
//
// An update is a security update when any archive that offers the candidate
// is a security archive: Debian's "Debian-Security" label or any suite ending
// in "-security" (Ubuntu publishes security fixes to -updates and -security
// at once, so the first origin is not enough). Everything else is a bug-fix
// update. VendorSeverity stays empty: apt has no severity, and guessing one
// from changelog urgency would be invented data.
//
// Update.ID is "package=version", exactly the argument apt-get install takes.
// For a package of a foreign architecture (multiarch) the package carries
// apt's ":arch" qualifier ("libldap-2.4-2:i386"), so the two architectures of
// one library are two updates; native packages have no qualifier. New
// packages a dist-upgrade would pull in as dependencies are not reported:
// installing the update that needs them brings them in.
//
// Installing takes only the pinned versions the server asked for, after each
// name and version passed a strict check (debversion.Parse and Debian policy
// for names), with "--" before them, DEBIAN_FRONTEND=noninteractive, the
// existing configuration files kept, no recommends and no removals. What
// happened is read back from dpkg's database afterwards rather than from
// apt's output: a target is installed when dpkg says that exact version is
// configured. Rollback is the same operation with --allow-downgrades; it
// needs the older version to still be available from an apt source.
//
// The deadline of the context bounds the work: no apt-get starts after it,
// and apt-get waits for the dpkg lock at most until it. A run cut short by
// the deadline is killed by the Runner; dpkg's own state is then what the
// results report.
package apt
