package inventory

import (
	"strings"
)

// Identity keys re-attach a re-enrolling machine to the asset it already
// is. How stable each source is:
//
//   - Hardware UUID (SMBIOS system UUID, IOPlatformUUID): survives OS
//     reinstalls and renames; changes when the motherboard is replaced or a
//     VM is recreated. Some firmware ships a fixed placeholder UUID on every
//     board (see bogusUUIDs) and some clone tools copy a VM's UUID, so the
//     server should still treat a key seen on two live hosts as a conflict.
//   - Serial number with model: survives reinstalls; usually survives a
//     board swap on branded hardware (the technician reprograms it); absent
//     or placeholder ("To Be Filled By O.E.M.") on white-box PCs.
//   - Machine ID (/etc/machine-id, Windows MachineGuid): an OS
//     installation identity. Changes on reinstall; duplicated on images
//     cloned without sysprep or machine-id reset. Weakest, last resort.
//   - Hostname, IP and MAC addresses are never identity: they are renamed,
//     reassigned, randomised and moved between machines by docks.
//
// The server should look up an enrolling host by each of IdentityKeys in
// order and attach it to the first asset that matches, then store all of
// the host's keys so that a later match on any one of them still works
// (for example once DMI becomes readable to an agent that gained root).

// IdentityKey returns the preferred stable identity of the machine: the
// first of IdentityKeys, or "" when the host reports nothing usable. Keys
// are prefixed by their kind ("uuid:", "serial:", "machine-id:") so keys of
// different kinds never collide, and are lower case.
func (h Host) IdentityKey() string {
	keys := h.IdentityKeys()
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}

// IdentityKeys returns every usable identity key of the machine, best
// first: hardware UUID, then serial with model, then machine ID. Placeholder
// values that firmware vendors ship on every unit are ignored.
func (h Host) IdentityKeys() []string {
	var keys []string
	if u := normaliseUUID(h.Hardware.HardwareUUID); u != "" {
		keys = append(keys, "uuid:"+u)
	}
	if s := cleanIdentityValue(h.Hardware.Serial); s != "" {
		keys = append(keys, "serial:"+cleanIdentityValue(h.Hardware.Model)+"/"+s)
	}
	if m := normaliseMachineID(h.Hardware.MachineID); m != "" {
		keys = append(keys, "machine-id:"+m)
	}
	return keys
}

// bogusUUIDs are placeholder SMBIOS UUIDs that firmware ships on many
// boards, in both the SMBIOS 2.6+ and the raw byte order (tools disagree
// on which they print).
var bogusUUIDs = map[string]bool{
	"03000200-0400-0500-0006-000700080009": true,
	"00020003-0004-0005-0006-000700080009": true,
	"12345678-1234-5678-90ab-cddeefaabbcc": true,
	"78563412-3412-7856-90ab-cddeefaabbcc": true,
}

// normaliseUUID returns u as a lower-case 8-4-4-4-12 UUID, or "" when u is
// not a UUID or is a known placeholder (all one digit, vendor defaults).
func normaliseUUID(u string) string {
	u = strings.TrimSpace(u)
	u = strings.TrimPrefix(strings.TrimSuffix(u, "}"), "{")
	hex := make([]byte, 0, 32)
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case c == '-':
			continue
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
			hex = append(hex, c)
		case c >= 'A' && c <= 'F':
			hex = append(hex, c+('a'-'A'))
		default:
			return ""
		}
	}
	if len(hex) != 32 || oneRepeatedChar(string(hex)) {
		return ""
	}
	s := string(hex[0:8]) + "-" + string(hex[8:12]) + "-" + string(hex[12:16]) + "-" + string(hex[16:20]) + "-" + string(hex[20:32])
	if bogusUUIDs[s] {
		return ""
	}
	return s
}

// normaliseMachineID returns a machine ID in lower case without braces, or
// "" for systemd's "uninitialized" marker and other placeholders.
func normaliseMachineID(id string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	id = strings.TrimPrefix(strings.TrimSuffix(id, "}"), "{")
	if id == "" || id == "uninitialized" || oneRepeatedChar(strings.ReplaceAll(id, "-", "")) {
		return ""
	}
	return id
}

// bogusValues are placeholder serials, models and vendors from firmware
// that was never customised (lower case, spaces collapsed).
var bogusValues = map[string]bool{
	"to be filled by o.e.m.":   true,
	"to be filled by oem":      true,
	"default string":           true,
	"system serial number":     true,
	"system product name":      true,
	"system manufacturer":      true,
	"system version":           true,
	"chassis serial number":    true,
	"base board serial number": true,
	"not specified":            true,
	"not applicable":           true,
	"not available":            true,
	"none":                     true,
	"n/a":                      true,
	"na":                       true,
	"null":                     true,
	"unknown":                  true,
	"invalid":                  true,
	"oem":                      true,
	"o.e.m.":                   true,
	"empty":                    true,
	"serial":                   true,
	"0123456789":               true,
	"123456789":                true,
	"1234567890":               true,
	"1234567":                  true,
	"12345678":                 true,
}

// cleanIdentityValue lower-cases and trims a serial or model and returns ""
// for placeholders: known filler strings, values of fewer than three
// characters, and values of one repeated character once separators are
// removed ("0000-0000", "XXXXXXXX", "........").
func cleanIdentityValue(s string) string {
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	if len(s) < 3 || bogusValues[s] {
		return ""
	}
	stripped := strings.Map(func(r rune) rune {
		switch r {
		case '-', ' ', '.', ':', '_', '/':
			return -1
		}
		return r
	}, s)
	if stripped == "" || oneRepeatedChar(stripped) {
		return ""
	}
	return s
}

// isBogus reports whether a hardware string is a firmware placeholder.
func isBogus(s string) bool { return cleanIdentityValue(s) == "" }

func oneRepeatedChar(s string) bool {
	if s == "" {
		return true
	}
	for i := 1; i < len(s); i++ {
		if s[i] != s[0] {
			return false
		}
	}
	return true
}
