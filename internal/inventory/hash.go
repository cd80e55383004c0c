package inventory

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// hashVersion is mixed into every hash. Bump it when the set of hashed
// fields changes, so that every agent re-sends its inventory once.
const hashVersion = "patchring-inventory-hash-v1\n"

// Hash returns a hex SHA-256 over a canonical encoding of the inventory.
// The agent sends the full inventory only when the hash differs from the
// one the server acknowledged last.
//
// The canonical form sorts every list (so enumeration order does not
// matter) and leaves out fields that change without anything the server
// acts on having changed:
//
//   - Disk.FreeBytes (changes every minute),
//   - Users and PrimaryUser (every login and logout, every SSH session),
//   - Problems (transient failures; the fields they blank change the hash
//     anyway).
//
// LastBoot is kept, at second precision: collectors read it from a value
// fixed for the life of a boot (btime, kern.boottime, LastBootUpTime), so
// it changes on reboot, which the server wants to see, and not with
// uptime. Addresses are kept: a roaming laptop's new IP is a real change
// for the asset list. The server still receives the excluded fields with
// every full inventory it asks for.
func (h Host) Hash() string {
	b, err := json.Marshal(h.canonical())
	if err != nil {
		// Host holds only strings, numbers, bools and times.
		panic("inventory: marshal canonical host: " + err.Error())
	}
	sum := sha256.Sum256(append([]byte(hashVersion), b...))
	return hex.EncodeToString(sum[:])
}

func (h Host) canonical() Host {
	c := h
	c.Users = nil
	c.PrimaryUser = ""
	c.Problems = nil
	if !c.LastBoot.IsZero() {
		c.LastBoot = c.LastBoot.UTC().Truncate(time.Second)
	}
	c.IPAddresses = sortedCopy(h.IPAddresses)
	c.MACAddresses = sortedCopy(h.MACAddresses)
	c.RebootReasons = sortedCopy(h.RebootReasons)
	if h.RebootPending != nil {
		c.RebootPending = boolPtr(*h.RebootPending)
	}
	if h.Licensing != nil {
		l := *h.Licensing
		c.Licensing = &l
	}
	c.Disks = slices.Clone(h.Disks)
	for i := range c.Disks {
		c.Disks[i].FreeBytes = 0
	}
	slices.SortFunc(c.Disks, func(a, b Disk) int {
		return cmp.Or(cmp.Compare(a.Mount, b.Mount), cmp.Compare(a.Device, b.Device), cmp.Compare(a.FS, b.FS), cmp.Compare(a.SizeBytes, b.SizeBytes))
	})
	c.Software = slices.Clone(h.Software)
	for i := range c.Software {
		if !c.Software[i].InstallDate.IsZero() {
			c.Software[i].InstallDate = c.Software[i].InstallDate.UTC()
		}
	}
	slices.SortFunc(c.Software, compareSoftware)
	return c
}

func compareSoftware(a, b pkgmgr.Software) int {
	return cmp.Or(
		cmp.Compare(a.Source, b.Source),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Version, b.Version),
		cmp.Compare(a.Arch, b.Arch),
		cmp.Compare(a.Vendor, b.Vendor),
		a.InstallDate.Compare(b.InstallDate),
	)
}

func sortedCopy[S ~[]E, E cmp.Ordered](s S) S {
	if s == nil {
		return nil
	}
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
