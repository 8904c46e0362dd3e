package dbsync

import (
	"slices"
	"strings"
)

// nearest is the candidate closest to name by edit distance (case
// ignored), the first of equals in candidates' order; "" when there is
// none. Messages name it so a typo points at the key meant. A name that
// is a candidate cut at an underscore (falback for fallback_enabled) is
// as near as its distance to that part, plus one: plain edit distance
// would prefer any short key (timeout).
func nearest(name string, candidates []string) string {
	best, bestD := "", -1
	name = strings.ToLower(name)
	for _, c := range candidates {
		lc := strings.ToLower(c)
		d := editDistance(name, lc)
		for i := range len(lc) {
			if lc[i] == '_' {
				d = min(d, editDistance(name, lc[:i])+1)
			}
		}
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes (config
// names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// sectionNames is every fixed section, in config.ini.example's order.
func sectionNames() []string {
	var names []string
	for _, k := range configKeys {
		if !slices.Contains(names, k.section) {
			names = append(names, k.section)
		}
	}
	return names
}

// keysOf is the keys of a fixed section.
func keysOf(section string) []string {
	var keys []string
	for _, k := range configKeys {
		if k.section == section {
			keys = append(keys, k.key)
		}
	}
	return keys
}

// unknownKeyHint says which key an unknown key in section was probably
// meant to be: the sections that do have a key of that name, else the
// nearest key of the section (of any section for a key outside one), and
// the section's keys.
func unknownKeyHint(section, key string) string {
	var have []string
	for _, s := range sectionNames() {
		if s != section && slices.Contains(keysOf(s), strings.ToLower(key)) {
			have = append(have, "["+s+"]")
		}
	}
	if len(have) > 0 {
		return "it is a key of " + strings.Join(have, " and ") + ": move it there"
	}
	if section == "" {
		keys := make([]string, len(configKeys))
		for i, k := range configKeys {
			keys[i] = k.key
		}
		n := nearest(key, keys)
		return "the nearest known key is " + iniKey(configKeys[slices.Index(keys, n)].name())
	}
	keys := keysOf(section)
	return "the nearest known key is " + iniKey(section+"."+nearest(key, keys)) + " (the keys of [" + section + "]: " + strings.Join(keys, ", ") + ")"
}
