package inventory

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHost_IdentityKeys(t *testing.T) {
	tests := []struct {
		name string
		hw   Hardware
		want []string
	}{
		{
			name: "AllThreeUpperCaseUUIDWithBraces",
			hw:   Hardware{HardwareUUID: "{4C4C4544-0042-3510-8052-B4C04F4E4B33}", Serial: "B5RNKS3", Model: "Latitude 5420", MachineID: "3D1219C7C4C5404AAA1F6D2A48ADFDA4"},
			want: []string{"uuid:4c4c4544-0042-3510-8052-b4c04f4e4b33", "serial:latitude 5420/b5rnks3", "machine-id:3d1219c7c4c5404aaa1f6d2a48adfda4"},
		},
		{
			name: "UUIDWithoutDashes",
			hw:   Hardware{HardwareUUID: "15A89B8F8BE94E84B425A8D35D6A3D7B"},
			want: []string{"uuid:15a89b8f-8be9-4e84-b425-a8d35d6a3d7b"},
		},
		{
			name: "AllZeroUUIDFallsBackToSerial",
			hw:   Hardware{HardwareUUID: "00000000-0000-0000-0000-000000000000", Serial: "2971-0318-3146-0972-0612-5474-46", Model: "Virtual Machine"},
			want: []string{"serial:virtual machine/2971-0318-3146-0972-0612-5474-46"},
		},
		{
			name: "AllFUUID",
			hw:   Hardware{HardwareUUID: "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", MachineID: "abc123abc123"},
			want: []string{"machine-id:abc123abc123"},
		},
		{
			name: "PlaceholderAMIUUIDAndOEMSerial",
			hw:   Hardware{HardwareUUID: "03000200-0400-0500-0006-000700080009", Serial: "To Be Filled By O.E.M.", Model: "To Be Filled By O.E.M.", MachineID: "0f5b2c4e9a1d4c3b8e7f6a5b4c3d2e1f"},
			want: []string{"machine-id:0f5b2c4e9a1d4c3b8e7f6a5b4c3d2e1f"},
		},
		{
			name: "PlaceholderUUIDOtherByteOrder",
			hw:   Hardware{HardwareUUID: "00020003-0004-0005-0006-000700080009"},
			want: nil,
		},
		{
			name: "DefaultStringAndZeroSerials",
			hw:   Hardware{Serial: "Default string", MachineID: "uninitialized"},
			want: nil,
		},
		{
			name: "HyperVZeroSerial",
			hw:   Hardware{Serial: "0000-0000-0000-0000-0000-0000-00"},
			want: nil,
		},
		{
			name: "SerialWithoutModel",
			hw:   Hardware{Serial: " C02XK1ABJGH5 ", Model: "System Product Name"},
			want: []string{"serial:/c02xk1abjgh5"},
		},
		{
			name: "NotAUUID",
			hw:   Hardware{HardwareUUID: "not-a-uuid", Serial: "XXXXXXXX"},
			want: nil,
		},
		{
			name: "WindowsMachineGuid",
			hw:   Hardware{MachineID: "{6F1A2B3C-4D5E-4F60-8172-93A4B5C6D7E8}"},
			want: []string{"machine-id:6f1a2b3c-4d5e-4f60-8172-93a4b5c6d7e8"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Host{Hardware: tt.hw}
			got := h.IdentityKeys()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("IdentityKeys() mismatch (-want +got):\n%s", diff)
			}
			wantKey := ""
			if len(tt.want) > 0 {
				wantKey = tt.want[0]
			}
			if k := h.IdentityKey(); k != wantKey {
				t.Errorf("IdentityKey() = %q, want %q", k, wantKey)
			}
		})
	}
}

// TestHost_IdentityKey_StableAcrossCase checks that the same machine reported
// by two tools that disagree on case and braces gets the same key.
func TestHost_IdentityKey_StableAcrossCase(t *testing.T) {
	a := Host{Hardware: Hardware{HardwareUUID: "421A2B3C-4D5E-6F70-8192-A3B4C5D6E7F8"}}
	b := Host{Hardware: Hardware{HardwareUUID: "{421a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8}\n"}}
	if a.IdentityKey() != b.IdentityKey() {
		t.Errorf("IdentityKey differs: %q vs %q", a.IdentityKey(), b.IdentityKey())
	}
}

func TestGolden_IdentityOfRecordedHosts(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"testdata/windows/cim.win11-workgroup.json", "uuid:5b1f6c2a-2d3e-11b2-a85c-c3a1e2f4d0b7"},
		{"testdata/windows/cim.server2012r2-domain.json", "uuid:421a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8"},
		{"testdata/windows/cim.dc2022-licensing-error.json", "serial:virtual machine/2971-0318-3146-0972-0612-5474-46"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			r, err := parseCIMReport(b)
			if err != nil {
				t.Fatal(err)
			}
			var h Host
			applyCIM(&h, r)
			if got := h.IdentityKey(); got != tt.want {
				t.Errorf("IdentityKey() = %q, want %q", got, tt.want)
			}
		})
	}
	for _, f := range []string{"testdata/darwin/ioreg.macbook2-1", "testdata/darwin/ioreg.macbookpro16-1"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		h := Host{Hardware: parseIORegPlatform(b)}
		if k := h.IdentityKey(); len(k) != len("uuid:")+36 {
			t.Errorf("%s: IdentityKey() = %q, want a uuid key", f, k)
		}
	}
}
