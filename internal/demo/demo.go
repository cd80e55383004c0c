// Package demo seeds a realistic MSP for `patchring demo` and for tests
// that want a populated installation: three clients with different needs
// (a medical clinic with ePHI systems, a law firm across two continents, a
// manufacturer with do-not-disrupt line systems), their sites in different
// time zones, a few hundred assets across Windows, macOS and Linux, users of
// every role and an API token.
//
// Everything is derived from one seed, so two runs with the same seed and
// clock produce the same installation (IDs aside); the browser tests and
// screenshots rely on that.
package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// Options tune the demo.
type Options struct {
	// Seed makes the data reproducible.
	Seed uint64
	// Now anchors first/last-seen times.
	Now time.Time
	// Password is the console password of every demo user.
	Password string
}

// Result says how to log in to the demo.
type Result struct {
	Clients  []*patch.Client
	Assets   int
	Users    []*patch.User
	Password string
	Token    string
}

// Seed populates an empty installation. assets is used directly (rather
// than through the server's manual-registration use case) because the demo
// stands in for agents that have enrolled and reported.
func Seed(ctx context.Context, srv *server.Server, assets patch.AssetStore, opts Options) (*Result, error) {
	ctx = patch.NewContextWithActor(ctx, patch.SystemActor("demo"))
	rnd := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
	res := &Result{Password: opts.Password}
	if _, err := srv.SetMSPName(ctx, "Northstar Managed IT"); err != nil {
		return nil, err
	}
	for _, spec := range clients {
		c, err := srv.CreateClient(ctx, server.ClientInput{Name: spec.name, Notes: spec.notes, ContactName: spec.contact, ContactEmail: spec.email})
		if err != nil {
			return nil, fmt.Errorf("demo client %s: %w", spec.name, err)
		}
		res.Clients = append(res.Clients, c)
		sites := make([]*patch.Site, len(spec.sites))
		for i, ss := range spec.sites {
			s, err := srv.CreateSite(ctx, server.SiteInput{ClientID: c.ID, Name: ss.name, Location: ss.location, TimeZone: ss.tz, Subnets: []string{ss.subnet}})
			if err != nil {
				return nil, fmt.Errorf("demo site %s: %w", ss.name, err)
			}
			sites[i] = s
		}
		n, err := seedAssets(ctx, assets, rnd, opts.Now, c, sites, spec)
		if err != nil {
			return nil, err
		}
		res.Assets += n
		u, err := srv.CreateUser(ctx, server.UserInput{Email: spec.ownerEmail, Name: spec.contact, Role: patch.RoleClientOwner, ClientID: c.ID, Password: opts.Password})
		if err != nil {
			return nil, err
		}
		res.Users = append(res.Users, u)
	}
	for _, su := range staff {
		u, err := srv.CreateUser(ctx, server.UserInput{Email: su.email, Name: su.name, Role: su.role, Password: opts.Password})
		if err != nil {
			return nil, err
		}
		res.Users = append(res.Users, u)
	}
	tok, err := srv.CreateToken(ctx, server.TokenInput{Name: "demo admin token", Role: patch.RoleMSPAdmin})
	if err != nil {
		return nil, err
	}
	res.Token = tok.Secret
	if err := seedCompliance(ctx, srv, assets, rnd, opts.Now, res); err != nil {
		return nil, fmt.Errorf("demo patch history: %w", err)
	}
	if err := seedCycles(ctx, assets, opts.Now, res); err != nil {
		return nil, fmt.Errorf("demo patch cycles: %w", err)
	}
	return res, nil
}

var staff = []struct {
	email, name string
	role        patch.Role
}{
	{"admin@northstar.example", "Morgan Reyes", patch.RoleMSPAdmin},
	{"tech@northstar.example", "Sam Okafor", patch.RoleTechnician},
	{"auditor@northstar.example", "Priya Nair", patch.RoleAuditor},
}

// group is a kind of device a client has several of.
type group struct {
	prefix      string
	count       int
	os          []patch.OS
	role        patch.AssetRole
	class       string
	criticality patch.Criticality
	ephi        string // "yes", "no" or "" (untagged)
	dept        []string
	owners      bool // assign a person as owner
	site        int  // index into the client's sites; -1 spreads across all
	unmanaged   bool // discovered on the network, no agent
	stale       bool // some have not checked in for weeks
	extraTags   map[string]string
}

type siteSpec struct{ name, location, tz, subnet string }

type clientSpec struct {
	name, notes, contact, email, ownerEmail string
	sites                                   []siteSpec
	groups                                  []group
	people                                  []string
}

func seedAssets(ctx context.Context, st patch.AssetStore, rnd *rand.Rand, now time.Time, c *patch.Client, sites []*patch.Site, spec clientSpec) (int, error) {
	n := 0
	hostIndex := map[string]int{}
	for _, g := range spec.groups {
		for i := 0; i < g.count; i++ {
			hostIndex[g.prefix]++
			site := g.site
			if site < 0 {
				site = rnd.IntN(len(sites))
			}
			os := g.os[rnd.IntN(len(g.os))]
			a := &patch.Asset{
				ID:          patch.AssetID(patch.NewID(patch.PrefixAsset, now)),
				ClientID:    c.ID,
				SiteID:      sites[site].ID,
				Hostname:    fmt.Sprintf("%s-%02d", g.prefix, hostIndex[g.prefix]),
				OS:          os,
				Role:        g.role,
				Class:       g.class,
				Criticality: g.criticality,
				Location:    sites[site].Name,
				Tags:        map[string]string{},
				Managed:     !g.unmanaged,
				Source:      patch.SourceAgent,
			}
			if g.count == 1 {
				a.Hostname = g.prefix
			}
			a.FQDN = a.Hostname + "." + domainOf(spec.name)
			if g.unmanaged {
				a.Source = patch.SourceDiscovery
				a.FQDN = ""
			}
			if g.ephi != "" {
				a.Tags[patch.TagEPHI] = g.ephi
			}
			if len(g.dept) > 0 {
				a.Tags["dept"] = g.dept[rnd.IntN(len(g.dept))]
			}
			for k, v := range g.extraTags {
				a.Tags[k] = v
			}
			if g.owners && len(spec.people) > 0 {
				a.Owner = spec.people[rnd.IntN(len(spec.people))]
			}
			a.SerialNumber = serial(rnd, os.Family)
			a.IPAddresses = []string{hostIn(rnd, sites[site].Subnets[0])}
			a.MACAddresses = []string{mac(rnd)}
			a.FirstSeen = now.Add(-time.Duration(60+rnd.IntN(300)) * 24 * time.Hour)
			a.LastSeen = now.Add(-time.Duration(rnd.IntN(50)) * time.Minute)
			if g.stale && rnd.IntN(4) == 0 {
				a.LastSeen = now.Add(-time.Duration(8+rnd.IntN(30)) * 24 * time.Hour)
			}
			if g.unmanaged {
				a.LastSeen = now.Add(-time.Duration(rnd.IntN(72)) * time.Hour)
			}
			a.IdentityKey = ""
			if !g.unmanaged {
				a.IdentityKey = "demo:" + a.SerialNumber
			}
			if err := st.CreateAsset(ctx, a); err != nil {
				return n, fmt.Errorf("demo asset %s: %w", a.Hostname, err)
			}
			n++
		}
	}
	return n, nil
}

func domainOf(client string) string {
	switch client {
	case clinic:
		return "riverside.local"
	case lawFirm:
		return "hartwellshaw.local"
	}
	return "northfield.local"
}

func serial(rnd *rand.Rand, f patch.OSFamily) string {
	const alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
	n := 10
	prefix := "5CG"
	switch f {
	case patch.OSMacOS:
		prefix, n = "C02", 9
	case patch.OSLinux:
		prefix = "SRV"
	}
	b := []byte(prefix)
	for range n - len(prefix) {
		b = append(b, alnum[rnd.IntN(len(alnum))])
	}
	return string(b)
}

func hostIn(rnd *rand.Rand, cidr string) string {
	p := netip.MustParsePrefix(cidr)
	a := p.Addr().As4()
	size := 1 << (32 - p.Bits())
	off := 10 + rnd.IntN(size-20)
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(off)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

func mac(rnd *rand.Rand) string {
	b := make([]byte, 6)
	for i := range b {
		b[i] = byte(rnd.IntN(256))
	}
	b[0] = (b[0] | 0x02) &^ 0x01 // locally administered unicast
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5])
}
