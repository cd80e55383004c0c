package web

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// assetQuery is the filter, sort and page of an asset list, as it appears
// in the URL. Links build on it so that every number on a page can point
// at exactly the rows behind it (?os=linux&class=server&stale=1).
type assetQuery struct {
	Client  string
	Q       string
	OS      string
	Class   string
	Site    string
	Tag     string
	Managed string // "yes", "no" or ""
	Stale   bool
	Sort    string
	Desc    bool
	Page    int
}

// assetPageSize is the number of rows per page.
const assetPageSize = 50

func parseAssetQuery(v url.Values) assetQuery {
	q := assetQuery{
		Client:  strings.TrimSpace(v.Get("client")),
		Q:       strings.TrimSpace(v.Get("q")),
		OS:      v.Get("os"),
		Class:   v.Get("class"),
		Site:    v.Get("site"),
		Tag:     strings.TrimSpace(v.Get("tag")),
		Managed: v.Get("managed"),
		Stale:   v.Get("stale") == "1",
		Sort:    v.Get("sort"),
		Desc:    v.Get("dir") == "desc",
		Page:    1,
	}
	if n, err := strconv.Atoi(v.Get("page")); err == nil && n > 1 {
		q.Page = n
	}
	return q
}

// filter turns the query into a store filter. Invalid values are reported
// per input and left out of the filter.
func (q assetQuery) filter(now time.Time, staleAfter time.Duration) (patch.AssetFilter, map[string]string) {
	errs := map[string]string{}
	f := patch.AssetFilter{Limit: assetPageSize, Offset: (q.Page - 1) * assetPageSize, Desc: q.Desc}
	if q.Client != "" {
		id := patch.ClientID(q.Client)
		f.ClientID = &id
	}
	if q.Q != "" {
		if len(q.Q) > 200 {
			errs["q"] = "must be at most 200 characters"
		} else {
			s := q.Q
			f.Query = &s
		}
	}
	if q.OS != "" {
		fam := patch.OSFamily(q.OS)
		if slices.Contains(patch.OSFamilies, fam) {
			f.OSFamily = &fam
		} else {
			errs["os"] = "must be one of windows, macos, linux, other"
		}
	}
	if q.Class != "" {
		s := q.Class
		f.Class = &s
	}
	if q.Site != "" {
		id := patch.SiteID(q.Site)
		f.SiteID = &id
	}
	if q.Tag != "" {
		k, v, _ := strings.Cut(q.Tag, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" || len(k) > 40 || len(v) > 200 {
			errs["tag"] = "must be key or key=value, such as ephi=yes"
		} else {
			f.Tags = []patch.TagMatch{{Key: k, Value: v}}
		}
	}
	switch q.Managed {
	case "":
	case "yes", "no":
		b := q.Managed == "yes"
		f.Managed = &b
	default:
		errs["managed"] = "must be yes or no"
	}
	if q.Stale {
		before := now.Add(-staleAfter)
		f.LastSeenBefore = &before
		b := true
		f.Managed = &b
	}
	if q.Sort != "" {
		if slices.Contains(patch.AssetSorts, patch.AssetSort(q.Sort)) {
			f.Sort = patch.AssetSort(q.Sort)
		} else {
			errs["sort"] = "must be one of hostname, last_seen, os, class, created"
		}
	}
	return f, errs
}

// values encodes the query; base and zero values are left out so URLs
// stay short.
func (q assetQuery) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("client", q.Client)
	set("q", q.Q)
	set("os", q.OS)
	set("class", q.Class)
	set("site", q.Site)
	set("tag", q.Tag)
	set("managed", q.Managed)
	if q.Stale {
		v.Set("stale", "1")
	}
	set("sort", q.Sort)
	if q.Desc {
		v.Set("dir", "desc")
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	return v
}

// url returns base with the query.
func (q assetQuery) url(base string) string {
	if e := q.values().Encode(); e != "" {
		return base + "?" + e
	}
	return base
}

// assetsURL links to an asset list: the client's page when the query names
// one client, else the all-clients list.
func assetsURL(client patch.ClientID, q assetQuery) string {
	if client != "" {
		q.Client = ""
		return q.url("/clients/" + string(client))
	}
	return q.url("/assets")
}
