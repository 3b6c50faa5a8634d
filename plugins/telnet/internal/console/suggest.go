package console

import (
	"slices"
	"strings"

	"github.com/mtnode/mtnode/sdk/suggest"
)

// maxSuggestions bounds the names offered after "did you mean".
const maxSuggestions = 3

// suggestions returns the candidates closest to name: those it is a prefix of,
// and those within a small edit distance, best first.
func suggestions(name string, cands []string) []string {
	type scored struct {
		name string
		dist int
	}
	limit := max(1, min(3, len(name)/3))
	var best []scored
	for _, c := range cands {
		d := suggest.Distance(strings.ToLower(name), strings.ToLower(c))
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
