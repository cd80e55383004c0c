package web

import "github.com/patchring/patchring/internal/patch"

// NavItem is an entry of the main navigation. Show decides visibility from
// the actor only, to keep links the user could not follow out of sight;
// the server still authorises every request behind the link.
type NavItem struct {
	// Key matches Page.Section to highlight the current item.
	Key   string
	Label string
	// Icon names a symbol in the layout's icon sprite (see layout.tmpl).
	Icon string
	// Href returns the item's URL for the actor.
	Href func(a patch.Actor) string
	// Show reports whether the actor sees the item; nil shows it to all.
	Show func(a patch.Actor) bool
}

// NavLink is a NavItem resolved for one request.
type NavLink struct {
	Label, Href, Icon string
	Current           bool
}

// Navigation sections.
const (
	sectionOverview = "overview"
	sectionClient   = "client"
	sectionAssets   = "assets"
	sectionCycles   = "cycles"
	sectionExcept   = "exceptions"
	sectionReports  = "reports"
	sectionAudit    = "audit"
	sectionSettings = "settings"
	sectionAccount  = "account"
)

// navItems is the main navigation, in display order. Add a line here for
// a new top-level page (patch cycles, exceptions, reports …).
var navItems = []NavItem{
	{Key: sectionOverview, Label: "Overview", Icon: "grid", Href: fixed("/"), Show: mspStaff},
	{Key: sectionClient, Label: "My client", Icon: "building", Href: ownClient, Show: clientScoped},
	{Key: sectionAssets, Label: "Assets", Icon: "server", Href: fixed("/assets"), Show: mspStaff},
	{Key: sectionCycles, Label: "Patch cycles", Icon: "ring", Href: fixed("/cycles")},
	{Key: sectionExcept, Label: "Exceptions", Icon: "shield", Href: fixed("/exceptions")},
	{Key: sectionReports, Label: "Reports", Icon: "file", Href: fixed("/reports")},
	{Key: sectionAudit, Label: "Audit log", Icon: "list", Href: fixed("/audit"), Show: can(patch.PermReadAudit)},
	{Key: sectionSettings, Label: "Settings", Icon: "gear", Href: fixed("/settings")},
	{Key: sectionAccount, Label: "My account", Icon: "user", Href: fixed("/account")},
}

func fixed(p string) func(patch.Actor) string { return func(patch.Actor) string { return p } }

func ownClient(a patch.Actor) string { return "/clients/" + string(a.ClientID) }

// mspStaff reports whether the actor spans all clients.
func mspStaff(a patch.Actor) bool { return patch.ScopeOf(a).All }

func clientScoped(a patch.Actor) bool { return !mspStaff(a) }

func can(p patch.Permission) func(patch.Actor) bool {
	return func(a patch.Actor) bool { return a.Can(p) }
}

// nav resolves the navigation for an actor.
func (c *Console) nav(a patch.Actor, section string) []NavLink {
	out := make([]NavLink, 0, len(navItems))
	for _, it := range navItems {
		if it.Show != nil && !it.Show(a) {
			continue
		}
		out = append(out, NavLink{Label: it.Label, Href: it.Href(a), Icon: it.Icon, Current: it.Key == section})
	}
	return out
}
