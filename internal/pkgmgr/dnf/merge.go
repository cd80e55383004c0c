package dnf

import (
	"cmp"
	"slices"
	"strings"

	"github.com/patchring/patchring/internal/pkgmgr"
)

// merge joins check-update rows with the advisories that name the same
// package (by name and architecture, at any version) and with the installed
// versions. See the package documentation for the rules.
func merge(avail []available, list []advisoryPackage, infos map[string]advisory, installed rpmState, product string) []pkgmgr.Update {
	byPkg := map[string][]advisory{}
	for _, ap := range list {
		a, ok := infos[ap.ID]
		if !ok {
			a = advisory{ID: ap.ID}
		}
		// The list row is authoritative for type and severity; info may be
		// missing (a failed or partial info call) or older.
		if ap.Type != "" {
			a.Type = ap.Type
		}
		if ap.Severity != "" {
			a.Severity = ap.Severity
		}
		k := ap.Package.key()
		if !slices.ContainsFunc(byPkg[k], func(x advisory) bool { return x.ID == a.ID }) {
			byPkg[k] = append(byPkg[k], a)
		}
	}

	updates := make([]pkgmgr.Update, 0, len(avail))
	for _, av := range avail {
		u := pkgmgr.Update{
			Source:           pkgmgr.SourceDnf,
			ID:               av.key() + "=" + av.EVR.String(),
			Package:          av.key(),
			Title:            av.key() + " " + av.EVR.String(),
			Product:          product,
			AvailableVersion: av.EVR.String(),
			Classification:   pkgmgr.ClassUnclassified,
			Origin:           av.Repo,
		}
		if cur, ok := installed.newest(av.key()); ok {
			u.InstalledVersion = cur.String()
		}
		advs := byPkg[av.key()]
		if len(advs) > 0 {
			best := slices.MaxFunc(advs, compareImportance)
			u.Advisory = best.ID
			if best.Title != "" {
				u.Title = best.Title
			}
			u.Classification = classify(best.Type)
			u.VendorClassification = best.Type
			u.VendorSeverity = best.Severity
			u.ReleaseDate = best.Issued
			for _, a := range advs {
				u.CVEs = append(u.CVEs, a.CVEs...)
			}
			slices.Sort(u.CVEs)
			u.CVEs = slices.Compact(u.CVEs)
		}
		updates = append(updates, u)
	}
	return updates
}

func classify(typ string) pkgmgr.Classification {
	switch typ {
	case "security":
		return pkgmgr.ClassSecurity
	case "bugfix":
		return pkgmgr.ClassBugfix
	case "enhancement":
		return pkgmgr.ClassEnhancement
	}
	return pkgmgr.ClassUnclassified
}

var typeRank = map[string]int{"security": 3, "bugfix": 2, "enhancement": 1}

var severityRank = map[string]int{"critical": 4, "important": 3, "moderate": 2, "low": 1}

// compareImportance orders advisories: type, then severity, then date, then
// ID (so that the choice is deterministic).
func compareImportance(a, b advisory) int {
	return cmp.Or(
		cmp.Compare(typeRank[a.Type], typeRank[b.Type]),
		cmp.Compare(severityRank[strings.ToLower(a.Severity)], severityRank[strings.ToLower(b.Severity)]),
		a.Issued.Compare(b.Issued),
		cmp.Compare(a.ID, b.ID),
	)
}
