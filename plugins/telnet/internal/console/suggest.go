package console

import (
	"slices"
	"strings"
)

// maxSuggestions bounds the names offered after "did you mean".
const maxSuggestions = 3

// suggest returns the candidates closest to name: those it is a prefix of,
// and those within a small edit distance, best first.
func suggest(name string, cands []string) []string {
	type scored struct {
		name string
		dist int
	}
	limit := max(1, min(3, len(name)/3))
	var best []scored
	for _, c := range cands {
		d := distance(strings.ToLower(name), strings.ToLower(c))
		if strings.HasPrefix(c, name) && name != "" {
			d = 0
		}
		if d <= limit {
			best = append(best, scored{c, d})
		}
	}
	slices.SortStableFunc(best, func(a, b scored) int { return a.dist - b.dist })
	var out []string
	for _, s := range best[:min(len(best), maxSuggestions)] {
		out = append(out, s.name)
	}
	return out
}

// distance is the edit distance between a and b counting insertions,
// deletions, substitutions and swaps of neighbours (optimal string
// alignment), in bytes: names are short ASCII words.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	// Three rows: two back, one back, current.
	pp := make([]int, len(b)+1)
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
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], pp[j-2]+1)
			}
		}
		pp, prev, cur = prev, cur, pp
	}
	return prev[len(b)]
}
