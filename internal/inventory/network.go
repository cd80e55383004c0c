package inventory

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// nic is one network interface as the collectors see it.
type nic struct {
	Name     string
	MAC      string // as net.HardwareAddr.String() prints it
	Up       bool
	Loopback bool
	// Virtual is set by the OS collector when it knows better than the
	// name (Linux: no /sys/class/net/NAME/device).
	Virtual bool
	Addrs   []netip.Addr
}

// systemInterfaces lists the interfaces with net.Interfaces.
func systemInterfaces() ([]nic, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	nics := make([]nic, 0, len(ifaces))
	for _, ifc := range ifaces {
		n := nic{
			Name:     ifc.Name,
			MAC:      ifc.HardwareAddr.String(),
			Up:       ifc.Flags&net.FlagUp != 0,
			Loopback: ifc.Flags&net.FlagLoopback != 0,
		}
		addrs, err := ifc.Addrs()
		if err == nil {
			for _, a := range addrs {
				if p, ok := a.(*net.IPNet); ok {
					if ip, ok := netip.AddrFromSlice(p.IP); ok {
						n.Addrs = append(n.Addrs, ip.Unmap())
					}
				}
			}
		}
		nics = append(nics, n)
	}
	return nics, nil
}

// containerInterfacePrefixes name interfaces whose addresses belong to
// containers or VMs on the host, not to the host itself (the same
// 172.17.0.1 is on every Docker host).
var containerInterfacePrefixes = []string{
	"docker", "veth", "br-", "virbr", "cni", "flannel", "cali", "kube", "lxc", "lxdbr",
	"podman", "cilium", "vxlan", "weave", "vnet", "ifb",
}

// virtualInterfacePrefixes name interfaces whose MAC addresses are made up
// by software (and often change at every start), across Linux, macOS and
// Windows friendly names. Lower case.
var virtualInterfacePrefixes = append([]string{
	"tun", "tap", "wg", "zt", "tailscale", "utun", "awdl", "llw", "bridge", "anpi", "gif", "stf", "ap1",
	"vethernet", "vmware network adapter", "virtualbox host-only", "npcap", "hyper-v virtual", "bond", "team",
}, containerInterfacePrefixes...)

func hasAnyPrefix(s string, prefixes []string) bool {
	s = strings.ToLower(s)
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// isContainerInterface reports whether an interface's addresses belong to
// containers. Hyper-V's "vEthernet (...)" switches carry the host's own
// address on a Hyper-V host and only share the "veth" prefix by accident.
func isContainerInterface(name string) bool {
	return hasAnyPrefix(name, containerInterfacePrefixes) && !hasAnyPrefix(name, []string{"vethernet"})
}

// addresses picks the host's IP and MAC addresses from its interfaces.
//
// IPs: interfaces that are up and not loopback, except container bridges;
// no loopback, link-local or unspecified addresses. MACs: 6-byte hardware
// addresses of interfaces that are not loopback and not virtual (by the
// collector's flag or by name), zero addresses excluded. Both lists are
// sorted and without duplicates.
func addresses(nics []nic) (ips, macs []string) {
	for _, n := range nics {
		if n.Loopback {
			continue
		}
		if n.Up && !isContainerInterface(n.Name) {
			for _, a := range n.Addrs {
				if a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() || a.IsMulticast() || !a.IsValid() {
					continue
				}
				ips = append(ips, a.WithZone("").String())
			}
		}
		if n.Virtual || hasAnyPrefix(n.Name, virtualInterfacePrefixes) {
			continue
		}
		hw, err := net.ParseMAC(n.MAC)
		if err != nil || len(hw) != 6 || oneRepeatedChar(string(hw)) {
			continue
		}
		macs = append(macs, hw.String())
	}
	slices.Sort(ips)
	slices.Sort(macs)
	return slices.Compact(ips), slices.Compact(macs)
}
