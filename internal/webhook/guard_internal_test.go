package webhook

import (
	"errors"
	"net/netip"
	"testing"
)

// TestGuardControl checks the dial-time check, which sees the address a
// host name resolved to (so DNS rebinding cannot get past CheckURL).
func TestGuardControl(t *testing.T) {
	allowLoopback := Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	tests := []struct {
		guard   Guard
		address string
		ok      bool
	}{
		{Guard{}, "93.184.215.14:443", true},
		{Guard{}, "127.0.0.1:443", false},
		{Guard{}, "[::1]:443", false},
		{Guard{}, "169.254.169.254:80", false},
		{Guard{}, "[fe80::1%eth0]:443", false},
		{Guard{}, "10.1.2.3:443", false},
		{allowLoopback, "127.0.0.1:8080", true},
		{allowLoopback, "10.1.2.3:443", false},
		{Guard{}, "not-an-address", false},
	}
	for _, tt := range tests {
		err := tt.guard.control("tcp", tt.address, nil)
		if (err == nil) != tt.ok {
			t.Errorf("control(%s) with %v = %v, want ok %v", tt.address, tt.guard.Allow, err, tt.ok)
		}
		if err != nil && !errors.Is(err, errRefused) {
			t.Errorf("control(%s) = %v, want errRefused", tt.address, err)
		}
	}
}
