package web_test

import (
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var (
	formStart  = regexp.MustCompile(`(?s)<form[^>]*data-testid="([^"]+)"[^>]*>`)
	inputTag   = regexp.MustCompile(`(?s)<input\b([^>]*)>`)
	selectTag  = regexp.MustCompile(`(?s)<select\b([^>]*)>(.*?)</select>`)
	optionTag  = regexp.MustCompile(`(?s)<option\b([^>]*)>`)
	textareaRe = regexp.MustCompile(`(?s)<textarea\b([^>]*)>(.*?)</textarea>`)
	attrRe     = regexp.MustCompile(`([a-z-]+)(?:="([^"]*)")?`)
)

func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRe.FindAllStringSubmatch(s, -1) {
		m[a[1]] = html.UnescapeString(a[2])
	}
	return m
}

// formValues returns what a browser would submit from the form with
// data-testid id on page: its inputs (checked boxes and radios only),
// selected options and text areas. Enough for the console's own forms.
func formValues(t testing.TB, page, id string) url.Values {
	t.Helper()
	var body string
	for _, m := range formStart.FindAllStringSubmatchIndex(page, -1) {
		if page[m[2]:m[3]] != id {
			continue
		}
		rest := page[m[1]:]
		body = rest[:strings.Index(rest, "</form>")]
	}
	if body == "" {
		t.Fatalf("no form %q on the page", id)
	}
	v := url.Values{}
	for _, m := range inputTag.FindAllStringSubmatch(body, -1) {
		a := attrs(m[1])
		name := a["name"]
		if name == "" {
			continue
		}
		switch a["type"] {
		case "checkbox", "radio":
			if _, on := a["checked"]; !on {
				continue
			}
			if val, ok := a["value"]; ok && val != "" {
				v.Add(name, val)
			} else {
				v.Add(name, "on")
			}
		case "submit", "button":
		default:
			v.Add(name, a["value"])
		}
	}
	for _, m := range selectTag.FindAllStringSubmatch(body, -1) {
		name := attrs(m[1])["name"]
		first, chosen := "", ""
		for i, o := range optionTag.FindAllStringSubmatch(m[2], -1) {
			a := attrs(o[1])
			if i == 0 {
				first = a["value"]
			}
			if _, sel := a["selected"]; sel {
				chosen = a["value"]
			}
		}
		if chosen == "" {
			chosen = first
		}
		v.Set(name, chosen)
	}
	for _, m := range textareaRe.FindAllStringSubmatch(body, -1) {
		v.Set(attrs(m[1])["name"], html.UnescapeString(m[2]))
	}
	return v
}
