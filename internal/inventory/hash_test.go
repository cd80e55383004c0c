package inventory

import (
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/patchring/patchring/internal/pkgmgr"
)

func genHost() *rapid.Generator[Host] {
	return rapid.Custom(func(t *rapid.T) Host {
		word := rapid.StringMatching(`[a-z0-9.\- ]{1,12}`)
		h := Host{
			Hostname:     word.Draw(t, "hostname"),
			OS:           OS{Family: FamilyLinux, Name: word.Draw(t, "osname"), Version: word.Draw(t, "version")},
			IPAddresses:  rapid.SliceOfDistinct(rapid.StringMatching(`10\.0\.[0-9]{1,3}\.[0-9]{1,3}`), rapid.ID[string]).Draw(t, "ips"),
			MACAddresses: rapid.SliceOfDistinct(rapid.StringMatching(`02:00:00:00:[0-9a-f]{2}:[0-9a-f]{2}`), rapid.ID[string]).Draw(t, "macs"),
			MemoryBytes:  rapid.Uint64().Draw(t, "mem"),
			LastBoot:     time.Unix(rapid.Int64Range(1e9, 2e9).Draw(t, "boot"), 0),
			PrimaryUser:  word.Draw(t, "user"),
			Hardware:     Hardware{HardwareUUID: word.Draw(t, "uuid"), MachineID: word.Draw(t, "mid")},
		}
		for i, m := range rapid.SliceOfDistinct(rapid.StringMatching(`/[a-z]{1,6}`), rapid.ID[string]).Draw(t, "mounts") {
			h.Disks = append(h.Disks, Disk{Mount: m, FS: "ext4", SizeBytes: uint64(i+1) << 30, FreeBytes: rapid.Uint64().Draw(t, "free")})
		}
		names := rapid.SliceOfNDistinct(rapid.StringMatching(`[A-Z][a-z]{2,8}`), 1, 20, rapid.ID[string]).Draw(t, "software")
		for _, n := range names {
			h.Software = append(h.Software, pkgmgr.Software{Name: n, Version: rapid.StringMatching(`[0-9]{1,2}\.[0-9]{1,3}`).Draw(t, "v"), Source: "registry"})
		}
		return h
	})
}

// TestHost_Hash_Properties checks what the agent relies on to send
// inventory only when it changed.
func TestHost_Hash_Properties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := genHost().Draw(t, "host")
		base := h.Hash()

		// Order of lists does not matter, and Hash does not reorder the host.
		shuffled := h
		shuffled.Software = slices.Clone(h.Software)
		shuffled.IPAddresses = slices.Clone(h.IPAddresses)
		shuffled.Disks = slices.Clone(h.Disks)
		slices.Reverse(shuffled.Software)
		slices.Reverse(shuffled.IPAddresses)
		slices.Reverse(shuffled.Disks)
		softwareBefore := slices.Clone(shuffled.Software)
		if shuffled.Hash() != base {
			t.Fatalf("hash changed when lists were reordered")
		}
		if !slices.Equal(softwareBefore, shuffled.Software) {
			t.Fatalf("Hash reordered the caller's software slice")
		}

		// Volatile fields do not matter.
		volatile := h
		volatile.Disks = slices.Clone(h.Disks)
		for i := range volatile.Disks {
			volatile.Disks[i].FreeBytes++
		}
		volatile.PrimaryUser += "x"
		volatile.Users = append(volatile.Users, Session{User: "someone", Terminal: "pts/9"})
		volatile.Problems = []string{"who: timeout"}
		volatile.LastBoot = h.LastBoot.Add(300 * time.Millisecond).In(time.FixedZone("X", 3600))
		if volatile.Hash() != base {
			t.Fatalf("hash changed with volatile fields only")
		}

		// A software version change does matter.
		changed := h
		changed.Software = slices.Clone(h.Software)
		i := rapid.IntRange(0, len(changed.Software)-1).Draw(t, "which")
		changed.Software[i].Version += ".1"
		if changed.Hash() == base {
			t.Fatalf("hash unchanged after software %q changed version", changed.Software[i].Name)
		}

		// So does a reboot, a disk growing and a reboot-pending flag.
		rebooted := h
		rebooted.LastBoot = h.LastBoot.Add(time.Hour)
		grown := h
		grown.Disks = append(slices.Clone(h.Disks), Disk{Mount: "/new", SizeBytes: 1})
		pending := h
		pending.RebootPending = boolPtr(true)
		for name, other := range map[string]Host{"reboot": rebooted, "new disk": grown, "reboot pending": pending} {
			if other.Hash() == base {
				t.Fatalf("hash unchanged after %s", name)
			}
		}
	})
}

func TestHost_Hash_Golden(t *testing.T) {
	// A fixed host must keep its hash: a change here re-sends every agent's
	// inventory, so bump hashVersion deliberately when it happens.
	h := Host{
		Hostname: "web1",
		OS:       OS{Family: FamilyLinux, Name: "Debian GNU/Linux 12 (bookworm)", Version: "12", Arch: "amd64"},
		Disks:    []Disk{{Mount: "/", FS: "ext4", SizeBytes: 100, FreeBytes: 50}},
		LastBoot: time.Date(2024, 4, 15, 9, 0, 0, 0, time.UTC),
		Software: []pkgmgr.Software{{Name: "Firefox", Version: "124.0.2", Source: "app"}},
	}
	const want = "b20510a01e001208"
	got := h.Hash()
	if len(got) != 64 {
		t.Fatalf("Hash() = %q, want 64 hex digits", got)
	}
	if got[:16] != want {
		t.Errorf("Hash() = %s…, want %s… (bump hashVersion if the hashed fields changed on purpose)", got[:16], want)
	}
}
