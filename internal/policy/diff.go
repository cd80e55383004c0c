package policy

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/patchring/patchring/internal/patch"
)

// Change is one difference between two policies. Path is a JSON path in
// which list items with an identity are named by it rather than by index
// (sla.matrix[core-server/critical].deadline, windows[nightly].duration,
// rings[pilot].percent), so a diff reads the same however items were
// reordered.
type Change struct {
	Path string `json:"path"`
	// Op is "add", "remove" or "change".
	Op  string `json:"op"`
	Old any    `json:"old,omitempty"`
	New any    `json:"new,omitempty"`
}

// String renders the change as one diff line.
func (c Change) String() string {
	switch c.Op {
	case "add":
		return "+ " + c.Path + ": " + render(c.New)
	case "remove":
		return "- " + c.Path + ": " + render(c.Old)
	}
	return "~ " + c.Path + ": " + render(c.Old) + " → " + render(c.New)
}

func render(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// bookkeeping fields are not part of what a policy says.
var bookkeeping = []string{"version", "updated_at", "updated_by", "client_id"}

// Diff lists the changes from old to new, with object keys in
// alphabetical order and list items in their order. Bookkeeping
// fields (version, updated_at, updated_by, client_id) are ignored.
func Diff(old, new *patch.Policy) []Change {
	a, b := generic(old), generic(new)
	for _, k := range bookkeeping {
		delete(a, k)
		delete(b, k)
	}
	var out []Change
	diffValue("", a, b, &out)
	return out
}

func generic(p *patch.Policy) map[string]any {
	m := map[string]any{}
	if p == nil {
		return m
	}
	raw, err := json.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("policy: marshal policy: %v", err)) // plain data: cannot fail
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(fmt.Sprintf("policy: unmarshal policy: %v", err))
	}
	return m
}

// keyFields name list items by identity; the first field present wins.
var keyFields = [][]string{{"class", "tier"}, {"key"}, {"name"}}

func itemKey(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	for _, fs := range keyFields {
		parts := make([]string, 0, len(fs))
		for _, f := range fs {
			s, ok := m[f].(string)
			if !ok {
				break
			}
			parts = append(parts, s)
		}
		if len(parts) == len(fs) {
			return strings.Join(parts, "/"), true
		}
	}
	return "", false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func diffValue(path string, a, b any, out *[]Change) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			break
		}
		// Keys in alphabetical order, for a stable diff.
		keys := slices.Sorted(maps.Keys(av))
		for k := range bv {
			if _, ok := av[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		keys = slices.Compact(keys)
		for _, k := range keys {
			x, inA := av[k]
			y, inB := bv[k]
			switch {
			case !inA:
				*out = append(*out, Change{Path: join(path, k), Op: "add", New: y})
			case !inB:
				*out = append(*out, Change{Path: join(path, k), Op: "remove", Old: x})
			default:
				diffValue(join(path, k), x, y, out)
			}
		}
		return
	case []any:
		bv, ok := b.([]any)
		if !ok {
			break
		}
		if diffKeyed(path, av, bv, out) {
			return
		}
		if len(av) == len(bv) {
			same := true
			for i := range av {
				if !equalJSON(av[i], bv[i]) {
					same = false
				}
			}
			if same {
				return
			}
		}
		*out = append(*out, Change{Path: path, Op: "change", Old: a, New: b})
		return
	}
	if !equalJSON(a, b) {
		*out = append(*out, Change{Path: path, Op: "change", Old: a, New: b})
	}
}

// diffKeyed diffs lists whose items all have distinct identities; it
// reports false for other lists.
func diffKeyed(path string, a, b []any, out *[]Change) bool {
	index := func(xs []any) ([]string, map[string]any, bool) {
		var order []string
		m := map[string]any{}
		for _, x := range xs {
			k, ok := itemKey(x)
			if !ok {
				return nil, nil, false
			}
			if _, dup := m[k]; dup {
				return nil, nil, false
			}
			m[k] = x
			order = append(order, k)
		}
		return order, m, true
	}
	ao, am, ok1 := index(a)
	bo, bm, ok2 := index(b)
	if !ok1 || !ok2 || (len(a) == 0 && len(b) == 0) {
		return ok1 && ok2
	}
	for _, k := range ao {
		p := path + "[" + k + "]"
		if y, ok := bm[k]; ok {
			diffValue(p, am[k], y, out)
		} else {
			*out = append(*out, Change{Path: p, Op: "remove", Old: am[k]})
		}
	}
	for _, k := range bo {
		if _, ok := am[k]; !ok {
			*out = append(*out, Change{Path: path + "[" + k + "]", Op: "add", New: bm[k]})
		}
	}
	// Reordering matters for tiers and rings (their order is meaningful).
	if (strings.HasSuffix(path, "tiers") || strings.HasSuffix(path, "rings")) && len(ao) == len(bo) && !slices.Equal(ao, bo) {
		*out = append(*out, Change{Path: path + " (order)", Op: "change", Old: ao, New: bo})
	}
	return true
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
